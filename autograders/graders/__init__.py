"""Hidden graders: the instructor side of every notebook's tests (not in the student wheel).

One module per notebook topic (``breaker`` for notebook 01). A notebook's test
cell calls its visible check from ``course_lib.checks`` and, between
``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS`` (removed from the student
version), its grader from here::

    from autograders.graders.breaker import grade_window

    grade_window(RollingWindow)

``_pristine`` loads a pristine copy of the reference and refuses submissions that
subclass, wrap or borrow it, by the policy of :mod:`autograders.policy`.
"""

__all__: list[str] = []
