"""``python -m autograders new NN-name``: the skeleton of a new assignment.

It writes ``notebooks/NN-name/NN-name.md`` (the notebook as MyST text: a title, one exercise
with an answer cell and its test cell, a recap, and presenter notes: a plan and a note after
the exercise), the ``.ipynb`` made from it, and
``autograders/submissions/NN-name/`` with one known-buggy submission. The result passes the
structure tests and ``selfcheck`` as it is; CONTRIBUTING.md says what to do next.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autograders.assignments import NAME_PATTERN, NOTEBOOKS, SUBMISSIONS, discover
from autograders.notebook_text import notebook_from_text, notebook_to_text, write_notebook

__all__ = ["ScaffoldError", "Scaffold", "new_assignment"]


class ScaffoldError(Exception):
    """The assignment cannot be created (bad or taken name); the message says why."""


@dataclass(frozen=True)
class Scaffold:
    """What :func:`new_assignment` wrote.

    Attributes:
        name: the assignment, e.g. ``08-bulkhead``.
        files: every file written, in the order written.
    """

    name: str
    files: tuple[Path, ...]


_HEADER = """\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3 (ipykernel)
  language: python
  name: python3
---
"""

_NOTEBOOK = '''\
{header}
# {number} · {title}

*Module 14 - Fault Tolerance & Self-Healing Infrastructure*

**What you will build:** one sentence on what the student builds, and why a service needs it.
Link it to the module's notes (the section it comes from).

+++ {{"slideshow": {{"slide_type": "notes"}}}}

**Presenter notes (10-minute walkthrough).** Plan: title 0:30 · the idea 3:00 · exercise 1
with one live reveal 4:00 · recap 2:30. Replace it with the plan of this notebook (timings
adding up to about ten minutes; which slides to skip in a short session). Presenter notes
never reach a student: the release and the feedback drop them.

`python -m autograders present {name}` opens this notebook in deck mode; `present` writes
these notes to `presenting/{name}/NOTES.md`.

+++

## Exercise 1 · The failure rate (2 points)

Write `failure_rate(outcomes)`: the fraction of failed calls in `outcomes` (a list where
`True` means the call failed), and `0.0` for an empty list.

```{{code-cell}}
---
nbgrader:
  grade: false
  grade_id: rate-answer
  locked: false
  schema_version: 3
  solution: true
  task: false
---
def failure_rate(outcomes):
    """The fraction of failed calls (``True`` means failed); 0.0 when there were none."""
    ### BEGIN SOLUTION
    if not outcomes:
        return 0.0
    return sum(1 for failed in outcomes if failed) / len(outcomes)
    ### END SOLUTION
```

```{{code-cell}}
---
nbgrader:
  grade: true
  grade_id: rate-tests
  locked: true
  points: 2
  schema_version: 3
  solution: false
  task: false
---
# The visible check (move it to course_lib/checks/<topic>.py, built with checks/kit.py)
assert failure_rate([True, False]) == 0.5, "one failure in two calls is a rate of 0.5"
print("✓ failure_rate([True, False]) == 0.5")
### BEGIN HIDDEN TESTS
# The hidden grader (move it to autograders/graders/<topic>.py and import it from there)
assert failure_rate([]) == 0.0, "no calls yet: the failure rate is 0.0, not an error"
assert failure_rate([False, False, False, True]) == 0.25, "one failure in four calls is 0.25"
### END HIDDEN TESTS
```

+++ {{"slideshow": {{"slide_type": "notes"}}}}

**Notes: exercise 1 (4 min).** Ask: "what is the failure rate of no calls at all?" 0.0: no
calls, no evidence of failure (and no `ZeroDivisionError`). Mistake met in grading: an empty
list divides by zero. Replace this note: after each exercise's test cell, its time, one
question to ask (with its answer) and the mistakes of its known submissions.

+++

## Recap

- The failure rate is the share of failed calls in the window; with no calls it is 0.
- Replace this recap with what the student should remember, in three or four lines.
'''

_KNOWN_BUGGY = """\
description = "an empty list divides by zero instead of returning 0.0"
base = "solution"
expect_failed = ["rate-tests"]

[replace]
rate-answer = '''
def failure_rate(outcomes):
    return sum(1 for failed in outcomes if failed) / len(outcomes)
'''
"""


def new_assignment(
    name: str, *, notebooks: Path = NOTEBOOKS, submissions: Path = SUBMISSIONS
) -> Scaffold:
    """Create the skeleton of assignment ``name``.

    Args:
        name: ``NN-name``: two digits and lower-case words joined by dashes, e.g.
            ``08-bulkhead``.
        notebooks: the folder of source assignments (default ``notebooks/``).
        submissions: the folder of known submissions (default
            ``autograders/submissions/``).

    Returns:
        The files written.

    Raises:
        ScaffoldError: the name is malformed, or its folder or its number is taken.
    """
    if not NAME_PATTERN.match(name):
        raise ScaffoldError(
            f"bad assignment name {name!r}: want two digits, a dash and lower-case words "
            "joined by dashes, e.g. 08-bulkhead"
        )
    number = name[:2]
    for folder in (notebooks / name, submissions / name):
        if folder.exists():
            raise ScaffoldError(f"{folder} already exists: pick another name")
    taken = (
        [a.name for a in discover(notebooks) if a.name[:2] == number] if notebooks.is_dir() else []
    )
    if taken:
        raise ScaffoldError(f"number {number} is taken by {', '.join(taken)}")
    title = " ".join(name[3:].split("-")).capitalize()
    text = _NOTEBOOK.format(header=_HEADER, number=number, title=title, name=name)
    nb = notebook_from_text(text)
    folder = notebooks / name
    folder.mkdir(parents=True)
    written = [folder / f"{name}.md", folder / f"{name}.ipynb"]
    written[0].write_text(notebook_to_text(nb), encoding="utf-8")  # as `sync` writes it
    written[1].write_text(write_notebook(nb), encoding="utf-8")
    known = submissions / name
    known.mkdir(parents=True)
    written.append(known / "empty-divides-by-zero.toml")
    written[2].write_text(_KNOWN_BUGGY, encoding="utf-8")
    return Scaffold(name=name, files=tuple(written))
