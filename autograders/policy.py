"""The anti-cheat policy, in one place: which ``course_lib`` modules a submission may use.

``course_lib`` ships to students with the course's own implementation of every
pattern. A submission that calls that implementation instead of its own code
would match it without implementing anything, so the graders split its modules
in two, by ONE list (kept in :mod:`course_lib.checks.kit`, see below):

* :data:`INFRASTRUCTURE_MODULES`, free to use: errors, clocks, events, the
  replay helpers, the breaker's vocabulary and the settings validators implement
  no pattern (the notebooks' own skeletons use ``course_lib.errors`` and
  ``course_lib.replay``).
* every other module is *the reference* (:func:`is_reference`): the patterns
  themselves (``breaker``, ``fast_breaker``, ``bulkhead``, ``retry``, ...) and what
  is built on them (the simulation, the widgets, the diagram parser, the checks).
  The sandbox replaces each of them with a stub that raises ``ImportError``
  (:class:`autograders.sandbox.Runtime`), and the borrowing guard
  (:mod:`autograders.graders._pristine`) refuses a class, object or function that
  subclasses, holds or calls anything from them. A module added to ``course_lib``
  is therefore reference until it is listed here as free.

Module names are short (``"breaker"`` for ``course_lib.breaker``); a package
counts with everything under it (``"sim"`` covers ``course_lib.sim.engine``).
"""

from __future__ import annotations

from typing import Final

from course_lib.checks.kit import FREE_MODULES

__all__ = ["INFRASTRUCTURE_MODULES", "is_free", "is_reference"]

INFRASTRUCTURE_MODULES: Final[tuple[str, ...]] = FREE_MODULES
"""``course_lib`` modules a submission may use freely: they implement no pattern.

The list itself lives in :data:`course_lib.checks.kit.FREE_MODULES`, so that the
visible checks (which ship to students without ``autograders``) can warn about an
answer that imports anything else (:func:`course_lib.checks.kit.require_no_course_lib`).
"""


def _short(module: str) -> str | None:
    """``"course_lib.sim.engine"`` -> ``"sim"``; ``"course_lib"`` -> ``""``; other -> None."""
    if module == "course_lib":
        return ""
    if not module.startswith("course_lib."):
        return None
    return module.split(".")[1]


def is_free(module: str) -> bool:
    """True if a submission may use things from the module ``module`` (a full dotted name).

    The ``course_lib`` package itself is free (importing it gives nothing by
    itself); modules outside ``course_lib`` are free too.
    """
    short = _short(module)
    return short is None or short == "" or short in INFRASTRUCTURE_MODULES


def is_reference(module: str) -> bool:
    """True if things from ``module`` (a full dotted name) must not be borrowed.

    That is every ``course_lib`` module except the free infrastructure.
    """
    return not is_free(module)
