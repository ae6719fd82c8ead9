"""Visible checks used by the notebooks' test cells, and the grading kit they share.

One module per notebook topic (``breaker`` for notebook 01, ``diagram`` for 07);
:mod:`course_lib.checks.kit` holds what every check needs (a failure shown as a
plain message, plain-value comparisons, seeded scenarios shrunk to the shortest
failing one). Test cells import what they use directly::

    from course_lib.checks.breaker import check_window

The hidden graders are not here: they live on the instructor side
(``autograders.graders``) and are not shipped to students.
"""

__all__: list[str] = []
