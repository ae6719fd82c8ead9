"""A pristine copy of the reference, and a guard against submissions that borrow it.

The hidden tests compare a student's code with the reference implementation. Two
ways to cheat that comparison are closed here:

* **Changing the reference.** A notebook cell can monkeypatch
  ``course_lib.breaker.CircuitBreaker.allow``. :func:`load_reference` never uses
  the imported module: it executes the reference's *source file* again, with
  fresh copies of every ``course_lib`` module it imports, and keeps the result
  under a private name outside ``sys.modules``. Patches made to the imported
  modules, before or after, do not reach it.
* **Borrowing the reference.** A "solution" that subclasses the reference, holds
  a reference object and delegates to it, or copies its methods, would match
  the reference without implementing anything. :func:`refuse_reference` finds
  such borrowing in a class (its MRO and attributes), in an instance (its
  attributes, one container deep) and in the globals and closures of its
  methods, and fails with a plain message.

Which modules count as the reference is :mod:`autograders.policy`'s decision.
Only plain-Python borrowing is detected; the hardened grader additionally runs
student code in a sandbox where the reference cannot be imported at all.

This module is instructor-side: it is not in the student wheel.
"""

from __future__ import annotations

import contextlib
import dis
import importlib.util
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from autograders.policy import is_reference
from course_lib.checks.kit import fail

__all__ = [
    "is_reference_object",
    "load_reference",
    "refuse_reference",
    "trust_type",
]

#: The package directory of ``course_lib``, found from this file (the repository's
#: ``course_lib`` next to ``autograders``), not from the importable ``course_lib``
#: module, whose ``__file__`` a notebook could change.
_PACKAGE_DIR = Path(__file__).resolve().parent.parent.parent / "course_lib"

_cache: dict[str, types.ModuleType] = {}

#: Types whose instances stand for student objects kept elsewhere (see :func:`trust_type`).
_TRUSTED_TYPES: set[type] = set()


def trust_type(cls: type) -> None:
    """Skip the borrowing checks for instances of ``cls``.

    The hardened grader's proxies (``autograders.remote.RemoteObject``) stand for
    objects inside its sandbox, where the reference cannot even be imported, so
    there is nothing to look for on them; walking the proxy class instead would
    only cost time on every check.
    """
    _TRUSTED_TYPES.add(cls)


def _module_file(name: str) -> Path:
    if not name.isidentifier():
        raise ValueError(f"name must be a course_lib module name such as 'breaker', got {name!r}")
    path = _PACKAGE_DIR / f"{name}.py"
    if not path.is_file():
        raise ModuleNotFoundError(
            f"the reference module course_lib/{name}.py is missing, so this check cannot run"
        )
    return path


def load_reference(name: str) -> types.ModuleType:
    """Return a pristine copy of ``course_lib.<name>``, executed from its source file.

    The copy is made once per process and cached. While it is executed, every
    ``course_lib`` entry is taken out of ``sys.modules`` so the reference's own
    imports (``from course_lib.errors import ...``) load fresh copies too; the
    original entries are put back afterwards, untouched.

    Args:
        name: The submodule, e.g. ``"breaker"``.

    Returns:
        A module object named ``_course_lib_pristine.<name>`` that is not in
        ``sys.modules``.

    Raises:
        ValueError: ``name`` is not a module name.
        ModuleNotFoundError: ``course_lib/<name>.py`` does not exist.
    """
    cached = _cache.get(name)
    if cached is not None:
        return cached
    path = _module_file(name)
    saved = {
        key: mod
        for key, mod in sys.modules.items()
        if key == "course_lib" or key.startswith("course_lib.")
    }
    for key in saved:
        del sys.modules[key]
    try:
        # A fresh package object whose lazy __getattr__ loads fresh submodules.
        package_spec = importlib.util.spec_from_file_location(
            "course_lib",
            _PACKAGE_DIR / "__init__.py",
            submodule_search_locations=[str(_PACKAGE_DIR)],
        )
        assert package_spec is not None and package_spec.loader is not None
        package = importlib.util.module_from_spec(package_spec)
        sys.modules["course_lib"] = package
        package_spec.loader.exec_module(package)
        spec = importlib.util.spec_from_file_location(f"course_lib.{name}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[f"course_lib.{name}"] = module  # dataclasses and typing look the module up
        spec.loader.exec_module(module)
    finally:
        for key in [k for k in sys.modules if k == "course_lib" or k.startswith("course_lib.")]:
            del sys.modules[key]
        sys.modules.update(saved)
    module.__name__ = f"_course_lib_pristine.{name}"
    _cache[name] = module
    return module


def _module_of(value: Any) -> str:
    if isinstance(value, types.ModuleType):
        return value.__name__
    if isinstance(value, types.MethodType):
        value = value.__func__
    if isinstance(value, type | types.FunctionType | types.BuiltinFunctionType):
        return str(getattr(value, "__module__", "") or "")
    return str(getattr(type(value), "__module__", "") or "")


def is_reference_object(value: Any) -> bool:
    """True if ``value`` is, or is an instance of, something a submission must not borrow.

    That is anything from a ``course_lib`` module :func:`autograders.policy.is_reference`
    names (every module but the free infrastructure: errors, clocks, events,
    replay, the vocabulary), from the graders, or from a pristine copy made by
    :func:`load_reference`.
    """
    module = _module_of(value)
    if module.startswith(("_course_lib_pristine", "autograders")):
        return True
    return is_reference(module)


def _code_names(code: types.CodeType) -> Iterator[str]:
    """Global names a code object (and the functions nested in it) loads.

    Only ``LOAD_GLOBAL`` / ``LOAD_NAME``: attribute names such as ``self.call`` are
    not globals, even when a global of that name exists.
    """
    for instruction in dis.get_instructions(code):
        if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME") and isinstance(
            instruction.argval, str
        ):
            yield instruction.argval
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_names(const)


def _function_borrows(func: Any) -> str | None:
    """Name a reference object a function reaches through its globals or closure, if any."""
    if isinstance(func, staticmethod | classmethod):
        func = func.__func__
    if isinstance(func, property):
        for part in (func.fget, func.fset, func.fdel):
            found = _function_borrows(part) if part is not None else None
            if found:
                return found
        return None
    if not isinstance(func, types.FunctionType):
        return None
    if is_reference_object(func):
        return f"{func.__qualname__} from {func.__module__}"
    for name in set(_code_names(func.__code__)):
        if name in func.__globals__ and is_reference_object(func.__globals__[name]):
            return f"the name {name!r} ({_module_of(func.__globals__[name])})"
    for value in (*(func.__defaults__ or ()), *(func.__kwdefaults__ or {}).values()):
        if is_reference_object(value):
            return f"a default argument {type(value).__name__} ({_module_of(value)})"
    for cell in func.__closure__ or ():
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if is_reference_object(value):
            return f"a captured {type(value).__name__} ({_module_of(value)})"
    return None


def _held_values(obj: Any) -> Iterator[tuple[str, Any]]:
    attrs: dict[str, Any] = {}
    with contextlib.suppress(TypeError):
        attrs.update(vars(obj))
    for klass in type(obj).__mro__:
        for slot in getattr(klass, "__slots__", ()):
            if isinstance(slot, str) and hasattr(obj, slot):
                attrs[slot] = getattr(obj, slot)
    for name, value in attrs.items():
        yield name, value
        if isinstance(value, list | tuple | set | frozenset):
            for item in value:
                yield name, item
        elif isinstance(value, dict):
            for item in value.values():
                yield name, item


def refuse_reference(subject: Any, what: str) -> None:
    """Fail if ``subject`` (a class, an instance or a function) borrows the reference.

    Args:
        subject: The student's class, one of its instances, or a function.
        what: How to name it in the message, e.g. ``"MyBreaker"``.

    Raises:
        CheckFailed: With a plain message saying what was borrowed.
    """
    hint = (
        " Write it yourself: the point of the exercise is to build it, not to reuse course_lib's."
    )
    if type(subject) in _TRUSTED_TYPES:
        return
    if isinstance(subject, type):
        for klass in subject.__mro__[1:]:
            if is_reference_object(klass):
                fail(
                    f"{what} is built on {klass.__qualname__} from {_module_of(klass)} (it "
                    f"subclasses it).{hint}"
                )
        for klass in subject.__mro__:
            if klass is object:
                continue
            for attr, value in vars(klass).items():
                if is_reference_object(value) and not isinstance(value, str | int | float | bool):
                    fail(f"{what}.{attr} is taken from {_module_of(value)}.{hint}")
                found = _function_borrows(value)
                if found:
                    fail(f"{what}.{attr} uses {found}.{hint}")
        return
    if isinstance(subject, types.FunctionType):
        found = _function_borrows(subject)
        if found:
            fail(f"{what} uses {found}.{hint}")
        return
    refuse_reference(type(subject), what)
    for attr, value in _held_values(subject):
        if is_reference_object(value):
            fail(
                f"{what} holds a {type(value).__name__} from {_module_of(value)} in .{attr} "
                f"and could delegate to it.{hint}"
            )
        found = _function_borrows(value)
        if found:
            fail(f"{what}.{attr} uses {found}.{hint}")
