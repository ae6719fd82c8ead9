"""The grading kit every notebook's checks share: failing plainly, plain values, divergences.

A check compares what a student's code does with what it should do. Three things
are the same in every notebook, so they live here once:

* **Failing with a message, not a traceback.** :class:`CheckFailed` is the
  ``AssertionError`` a check raises. In Jupyter it shows as one red ``✗`` line
  and the plain-words message, without frames through the course's code; the
  cell still ends in an error, so nbgrader still gives it 0 points.
  :func:`fail` raises one, :func:`require` raises one when a problem was found.
* **Comparing plain values only.** Every value a check compares goes through
  :func:`plain` first. An object whose ``__eq__`` always answers ``True``, a
  subclass of ``int`` with its own ``__eq__``, or a ``NaN`` (never equal, never
  greater) would otherwise pass comparisons it should fail.
* **Many generated scenarios, one short message.** :func:`find_divergence`
  tries seeded, generated scenarios and, for the first one a student's code
  gets wrong, *shrinks* it to the shortest scenario that still goes wrong, and
  returns that scenario's message. The hidden graders of every notebook use it.

A *problem* function, the part each notebook writes, takes one scenario, runs
the student's code on it and returns ``None`` if all went as it should, or a
sentence saying what went wrong (it may also raise :class:`CheckFailed`, e.g.
through :func:`plain` or :func:`call`)::

    def window_problem(scenario):
        size, outcomes = scenario
        ...
        return None  # or "after recording failure, success in a RollingWindow(3), ..."

    require(window_problem((3, [True, False])))  # a visible check: one fixed scenario
    require(find_divergence(window_problem, random_window, scenarios=150, seed=1401))

``NotImplementedError`` always passes through untouched, so a blank notebook's
cell shows the "Not written yet" line the student expects.
"""

from __future__ import annotations

import dis
import math
import random
import sys
import types
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Final, NoReturn, TypeVar

__all__ = [
    "FREE_MODULES",
    "KINDS",
    "CheckFailed",
    "call",
    "fail",
    "find_divergence",
    "plain",
    "require",
    "require_no_course_lib",
    "shorter_sequences",
    "shrink",
]

S = TypeVar("S")
T = TypeVar("T")

_RED: Final = "\x1b[31m"
_RESET: Final = "\x1b[0m"


class CheckFailed(AssertionError):
    """A check found a mistake; the message says which, in plain words.

    IPython calls :meth:`_render_traceback_` instead of printing a traceback, so
    the student sees only the message. The cell's output is still an error
    (``ename`` ``CheckFailed``), so nbgrader gives the cell no points.
    """

    def _render_traceback_(self) -> list[str]:
        """The lines Jupyter shows for this error: a red ``✗`` and the message."""
        first, *rest = str(self).split("\n")
        return [f"{_RED}✗ {first}{_RESET}", *rest]


def _sentence(message: str) -> str:
    """Start ``message`` with a capital, unless its first word is code (``should_trip(...)``)."""
    first = message.split(" ", 1)[0]
    if first.isalpha() and first.islower():
        return message[:1].upper() + message[1:]
    return message


def fail(message: str) -> NoReturn:
    """Raise :class:`CheckFailed` with ``message`` (its first word capitalised unless it is code).

    Raises:
        CheckFailed: always.
    """
    raise CheckFailed(_sentence(message)) from None


def require(problem: str | None) -> None:
    """Raise :class:`CheckFailed` if a problem was found (``problem`` is not ``None``).

    Raises:
        CheckFailed: with ``problem`` as the message.
    """
    if problem is not None:
        fail(problem)


def call(what: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Call a student's function; turn an exception it raises into a plain message.

    Args:
        what: The call as the message should show it, e.g. ``"should_trip(0, 0, 0.5, 1)"``.
        function: The student's function, class or method.
        *args: Its positional arguments.
        **kwargs: Its keyword arguments.

    Returns:
        What ``function`` returned.

    Raises:
        CheckFailed: ``function`` raised (``"<what> raised ValueError: ..."``).
        NotImplementedError: passed through (an exercise not written yet).
    """
    try:
        return function(*args, **kwargs)
    except (NotImplementedError, CheckFailed):
        raise
    except Exception as error:  # noqa: BLE001 - reported to the student
        detail = f": {error}" if str(error) else ""
        fail(f"{what} raised {type(error).__name__}{detail}")


# --- plain values -------------------------------------------------------------------------

#: The kinds :func:`plain` knows: how a message names them -> the exact types allowed.
KINDS: Final[dict[str, tuple[type, ...]]] = {
    "whole number": (int,),
    "number": (int, float),
    "True or False": (bool,),
    "text": (str,),
    "plain value": (int, float, bool, str),
}
_SCALARS: Final = (int, float, bool, str)


def _plain_or_why(value: Any, allowed: tuple[type, ...], *, nested: bool, finite: bool) -> str:
    """``""`` if ``value`` is plain, else what it is instead (e.g. "an object of type Weird")."""
    kind = type(value)
    if kind in allowed:
        if kind is float and finite and not math.isfinite(value):
            return f"{value!r} (not a finite number)"
        return ""
    if nested and kind in (tuple, list):
        for item in value:
            why = _plain_or_why(item, _SCALARS + (type(None),), nested=True, finite=finite)
            if why:
                return f"{why} inside a {kind.__name__}"
        return ""
    if kind in _SCALARS or value is None:
        return repr(value)
    return f"an object of type {kind.__name__}"


def plain(
    value: Any, what: str, kind: str = "plain value", *, none: bool = False, finite: bool = True
) -> Any:
    """Return ``value`` if it is plain data of the given kind; otherwise fail, naming ``what``.

    Plain means the type is *exactly* ``int``, ``float``, ``bool`` or ``str``
    (subclasses are refused: they can redefine ``==``), and a ``float`` is
    finite (``NaN`` is equal to nothing, not even itself). The kind
    ``"plain value"`` also accepts tuples and lists of plain values (and
    ``None`` inside them), nested to any depth.

    Args:
        value: What the student's code returned.
        what: How to name it, e.g. ``"RollingWindow.calls"``.
        kind: One of ``"whole number"``, ``"number"``, ``"True or False"``,
            ``"text"``, ``"plain value"`` (see :data:`KINDS`).
        none: Also accept ``None``.
        finite: Refuse ``NaN`` and infinities (the default).

    Returns:
        ``value``, unchanged.

    Raises:
        CheckFailed: e.g. ``"RollingWindow.calls should be a whole number, got an
            object of type Weird"``.
        ValueError: ``kind`` is not one of :data:`KINDS`.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    if value is None and none:
        return value
    why = _plain_or_why(value, KINDS[kind], nested=kind == "plain value", finite=finite)
    if why:
        shape = kind if kind == "True or False" else f"a {kind}"
        fail(f"{what} should be {shape}{' or None' if none else ''}, got {why}")
    return value


# --- generated scenarios, shrunk ----------------------------------------------------------


def shorter_sequences(items: Sequence[T]) -> Iterator[list[T]]:
    """Shorter versions of ``items``: without its first/second half, then quarters, ..., items.

    The candidates :func:`shrink` tries for a scenario that is a sequence
    (order kept; big cuts first, so a long scenario shrinks in few steps).
    """
    chunk = len(items) // 2 or 1
    while chunk >= 1 and items:
        for start in range(0, len(items), chunk):
            yield [*items[:start], *items[start + chunk :]]
        if chunk == 1:
            return
        chunk //= 2


def shrink(
    scenario: S,
    still_fails: Callable[[S], bool],
    candidates: Callable[[S], Iterable[S]],
    *,
    budget: int = 500,
) -> S:
    """Make a failing scenario smaller while it keeps failing (greedy, as QuickCheck does).

    Repeatedly takes the first candidate (a smaller version of the current
    scenario) that still fails, until no candidate fails or ``budget`` candidates
    were tried. With :func:`shorter_sequences` the result is a sequence from
    which no single item can be removed.

    Args:
        scenario: A scenario for which ``still_fails`` is true.
        still_fails: The property to keep.
        candidates: Smaller versions of a scenario, most promising first.
        budget: The most calls to ``still_fails``.

    Returns:
        The smallest failing scenario found (``scenario`` itself if none is smaller).
    """
    current = scenario
    while budget > 0:
        for candidate in candidates(current):
            budget -= 1
            if still_fails(candidate):
                current = candidate
                break
            if budget <= 0:
                return current
        else:
            return current
    return current


def _message(problem: Callable[[S], str | None], scenario: S) -> str | None:
    """The problem with ``scenario``; a :class:`CheckFailed` raised on the way counts as one."""
    try:
        return problem(scenario)
    except CheckFailed as error:
        return str(error)


def find_divergence(
    problem: Callable[[S], str | None],
    generate: Callable[[random.Random], S],
    *,
    scenarios: int,
    seed: int,
    smaller: Callable[[S], Iterable[S]] | None = None,
) -> str | None:
    """Try generated scenarios; describe the shortest failing one, or return ``None``.

    Args:
        problem: Runs the student's code on one scenario; ``None`` if it behaved,
            else a sentence saying how it did not.
        generate: Makes one scenario from a seeded random generator.
        scenarios: How many scenarios to generate.
        seed: Seeds the generator, so every student gets the same scenarios.
        smaller: Smaller versions of a failing scenario (see :func:`shrink`);
            by default :func:`shorter_sequences` if scenarios are lists, else no
            shrinking.

    Returns:
        The message for the smallest failing scenario, or ``None`` if every
        scenario passed.
    """
    rng = random.Random(seed)
    for _ in range(scenarios):
        scenario = generate(rng)
        if _message(problem, scenario) is None:
            continue
        if smaller is None and isinstance(scenario, list):
            smaller = shorter_sequences  # type: ignore[assignment]
        if smaller is not None:
            scenario = shrink(scenario, lambda s: _message(problem, s) is not None, smaller)
        return _message(problem, scenario)
    return None


# --- answers that lean on course_lib ------------------------------------------------------

FREE_MODULES: Final[tuple[str, ...]] = (
    "errors",
    "clock",
    "events",
    "replay",
    "breaker_vocabulary",
    "_validate",
)
"""The ``course_lib`` modules an answer cell may import: they implement no pattern.

THE list: ``autograders.policy.INFRASTRUCTURE_MODULES`` is this tuple. When a
notebook is graded, every other ``course_lib`` module is missing from the sandbox
that runs the answer cells, so an answer importing one fails there.
"""


def _non_free(module: str) -> bool:
    """True for ``course_lib.<m>...`` where ``<m>`` is not in :data:`FREE_MODULES`."""
    parts = module.split(".")
    return parts[0] == "course_lib" and len(parts) > 1 and parts[1] not in FREE_MODULES


def _loaded_non_free() -> list[types.ModuleType]:
    return [
        module
        for name, module in list(sys.modules.items())
        if _non_free(name) and isinstance(module, types.ModuleType)
    ]


def _origin(value: Any) -> str | None:
    """The non-free ``course_lib`` module ``value`` comes from, if any.

    A module, function or class says where it is from (``__name__`` /
    ``__module__``); other values (a tuple of sentences, a dict) are recognised
    as the very object a loaded non-free module holds. Plain scalars are never
    traced: equal small numbers and strings can be the same object by chance.
    """
    if isinstance(value, types.ModuleType):
        return value.__name__ if _non_free(value.__name__) else None
    if isinstance(value, type | types.FunctionType | types.BuiltinFunctionType):
        origin = str(getattr(value, "__module__", "") or "")
        return origin if _non_free(origin) else None
    if value is None or type(value) in (int, float, bool, str, bytes):
        return None
    if type(value) in (tuple, frozenset) and not value:  # one shared empty object
        return None
    for module in _loaded_non_free():
        if any(held is value for held in vars(module).values()):
            return module.__name__
    return None


def _functions_of(obj: Any) -> Iterator[types.FunctionType]:
    """The plain functions behind ``obj``: itself, or a class's methods and properties."""
    if isinstance(obj, types.MethodType):
        obj = obj.__func__
    if type(obj) is types.FunctionType:
        yield obj
        return
    if not isinstance(obj, type):
        return
    for klass in obj.__mro__:
        if klass is object or klass.__module__ == "builtins":
            continue
        for value in vars(klass).values():
            if isinstance(value, staticmethod | classmethod):
                value = value.__func__
            parts: tuple[Any, ...] = (value,)
            if isinstance(value, property):
                parts = (value.fget, value.fset, value.fdel)
            yield from (part for part in parts if type(part) is types.FunctionType)


def _code_uses(code: types.CodeType) -> Iterator[tuple[str, str]]:
    """``("global", name)`` for each global a code object loads, ``("import", module)``
    for each module it imports (nested functions included)."""
    for instruction in dis.get_instructions(code):
        if not isinstance(instruction.argval, str):
            continue
        if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME"):
            yield "global", instruction.argval
        elif instruction.opname == "IMPORT_NAME":
            yield "import", instruction.argval
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_uses(const)


def _course_lib_use(obj: Any) -> str | None:
    """How ``obj`` (a function or class) relies on a non-free ``course_lib`` module, if it does."""
    if isinstance(obj, type):
        for base in obj.__mro__[1:]:
            found = _origin(base)
            if found:
                return f"is built on {base.__qualname__} from {found}"
    found = _origin(obj)
    if found:
        return f"is {found}'s own"
    for func in _functions_of(obj):
        for kind, name in set(_code_uses(func.__code__)):
            if kind == "import" and _non_free(name):
                return f"imports {name}"
            if kind == "global" and name in func.__globals__:
                found = _origin(func.__globals__[name])
                if found:
                    return f"uses {name!r} from {found}"
        for cell in func.__closure__ or ():
            try:
                found = _origin(cell.cell_contents)
            except ValueError:  # an empty cell
                continue
            if found:
                return f"uses a captured value from {found}"
    return None


def require_no_course_lib(obj: Any, what: str) -> None:
    """Fail if an answer relies on a ``course_lib`` module that is absent when it is graded.

    Answer cells are graded in a sandbox where only :data:`FREE_MODULES` of
    ``course_lib`` exist, so an answer that imports or uses anything else works in
    the notebook and fails (``ModuleNotFoundError``) when graded. This finds it
    first: ``obj`` (a function or class; a class's methods too) is refused if it
    is from such a module, subclasses something from one, imports one, or uses a
    global or captured value that one holds (e.g. a tuple imported from it).
    Anything else (e.g. the grader's proxy of an object kept in the sandbox) passes.

    Args:
        obj: The student's function or class.
        what: How to name it in the message, e.g. ``"layer_owners"``.

    Raises:
        CheckFailed: e.g. ``"layer_owners uses 'CONCERNS' from course_lib.checks.mesh: ..."``.
    """
    kind = type(obj)  # not isinstance(): a proxy must not be asked for its __class__
    if kind not in (types.FunctionType, types.MethodType) and not issubclass(kind, type):
        return
    found = _course_lib_use(obj)
    if found:
        fail(
            f"{what} {found}: answer cells must not use course_lib (except "
            f"{', '.join(f'course_lib.{m}' for m in FREE_MODULES)}); it is not there when "
            "your notebook is graded. Write the values into your answer instead."
        )
