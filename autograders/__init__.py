"""The instructor side of the course: nbgrader set-up and ``python -m autograders``.

Commands (see ``python -m autograders --help`` and ``autograders/README.md``):
``release`` (student versions), ``open`` (the student's front door), ``grade`` (a batch
of submissions -> gradebook, ``grades.csv``, feedback) and ``selfcheck`` (the solution
scores full marks, the blank scores zero, known submissions lose exactly what they should).
"""

__all__: list[str] = []
