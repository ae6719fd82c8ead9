"""Visible checks and hidden grading functions used by the notebooks' test cells.

One module per notebook topic (``breaker`` for notebook 01, ``diagram`` for 07);
``_pristine`` loads a pristine copy of the reference and refuses submissions
that subclass, wrap or borrow it. Test cells import what they use directly::

    from course_lib.checks.breaker import check_window, grade_window
"""

__all__: list[str] = []
