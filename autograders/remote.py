"""Parent-side proxies: student objects seen from trusted test code.

A :class:`Session` wraps one :class:`~autograders.sandbox.Sandbox`. Test code
receives :class:`RemoteObject` proxies for the names the student's answer cells
define; attribute access, calls, ``str``/``repr``, ``[]`` and iteration on a
proxy become requests to the sandbox (:mod:`autograders.rpc`). Results come back
as plain data (exact int, bool, str, float, None and containers of them) or as
new proxies. Comparing, testing or computing with a proxy is refused
(:class:`PlainValueError`): a check's verdict never depends on a student's
``__eq__``, ``__bool__`` or ``__lt__``. Callables the test passes in (the
protected function, a fallback) stay in the parent: the sandbox gets a callback
number and invokes them by sending a request back, synchronously, possibly
nested.

Exceptions raised by student code come back as the nearest class the parent
knows (a builtin exception or a ``course_lib.errors`` class, found along the
exception's MRO), carrying the student's message; anything else becomes
:class:`StudentCodeError` naming the student's class. ``MemoryError`` becomes a
memory-limit :class:`~autograders.sandbox.SandboxFailure` (the sandbox is
then restarted: its state can't be trusted).
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Callable
from typing import Any

from autograders import rpc
from autograders.graders._pristine import trust_type
from autograders.sandbox import Sandbox, SandboxFailure

__all__ = [
    "PlainValueError",
    "RemoteObject",
    "Session",
    "StudentCodeError",
    "exception_from_info",
]


class StudentCodeError(Exception):
    """Student code raised an exception the grader has no class for.

    Attributes:
        type_name: the student's exception class (``module.qualname``).
    """

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name


def _known_class(name: str) -> type[BaseException] | None:
    module, _, qualname = name.rpartition(".")
    cls: Any = None
    if module == "builtins":
        cls = getattr(builtins, qualname, None)
    elif module == "course_lib.errors":
        from course_lib import errors

        cls = getattr(errors, qualname, None) if qualname in errors.__all__ else None
    if isinstance(cls, type) and issubclass(cls, Exception):
        return cls
    return None


def exception_from_info(info: Any) -> BaseException:
    """Rebuild an exception from its wire record (see :func:`autograders.rpc.exception_info`).

    Never fails: a malformed record gives a StudentCodeError.
    """
    if not isinstance(info, dict):
        return StudentCodeError("an unknown error", "")
    message = info.get("message")
    message = message if isinstance(message, str) else ""
    mro = info.get("mro")
    names = [n for n in mro if isinstance(n, str)] if isinstance(mro, list) else []
    if names and names[0] == "builtins.MemoryError":
        return MemoryError(message)
    for name in names:
        cls = _known_class(name)
        if cls is None or cls in (Exception, BaseException):
            continue
        exc = cls.__new__(cls)
        Exception.__init__(exc, message)
        attrs = info.get("attrs")
        if isinstance(attrs, dict):
            for key, value in attrs.items():
                if isinstance(key, str) and key.isidentifier() and not key.startswith("_"):
                    with contextlib.suppress(AttributeError, TypeError):
                        setattr(exc, key, value)
        return exc
    return StudentCodeError(names[0] if names else "an unknown error", message)


class Session:
    """Requests to one sandbox, with the callback table and proxy construction.

    Args:
        sandbox: the running sandbox.
    """

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._callbacks: list[Callable[..., Any]] = []

    # -- values -------------------------------------------------------------
    def _to_ref(self, value: Any) -> dict[str, Any]:
        if isinstance(value, RemoteObject):
            if object.__getattribute__(value, "_session") is not self:
                raise TypeError("a student object from an earlier sandbox cannot be used")
            return {"$h": object.__getattribute__(value, "_handle")}
        if callable(value):
            self._callbacks.append(value)
            return {"$cb": len(self._callbacks) - 1}
        raise TypeError(
            "only plain data and functions can be passed to student code, "
            f"not {type(value).__name__}"
        )

    def _from_ref(self, tag: str, number: int) -> Any:
        if tag == "$h":
            return RemoteObject(self, number)
        if number < len(self._callbacks):
            return self._callbacks[number]
        raise rpc.ProtocolError(f"unknown callback {number}")

    def encode(self, value: Any) -> Any:
        """Encode a value the test passes to student code."""
        return rpc.encode(value, self._to_ref)

    def decode(self, value: Any) -> Any:
        """Decode (and validate) a value from the sandbox."""
        try:
            return rpc.decode(value, self._from_ref)
        except rpc.ProtocolError as exc:
            self.sandbox.kill()
            raise SandboxFailure("error", f"sent a garbled reply to the grader ({exc})") from None

    # -- requests -----------------------------------------------------------
    def _on_callback(self, message: dict[str, Any]) -> dict[str, Any]:
        number = message.get("cb")
        if type(number) is not int or not 0 <= number < len(self._callbacks):
            self.sandbox.kill()
            raise SandboxFailure("error", "sent a garbled callback request to the grader")
        args = self.decode(message.get("args", []))
        kwargs = self.decode(message.get("kwargs", {"$d": {}}))
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            self.sandbox.kill()
            raise SandboxFailure("error", "sent a garbled callback request to the grader")
        try:
            result = self._callbacks[number](*args, **kwargs)
            return {"return": self.encode(result)}
        except Exception as exc:  # the test's function raised: pass it on to student code
            return {"raise": rpc.exception_info(exc)}

    def request(self, message: dict[str, Any], originals: dict[str, Any] | None = None) -> Any:
        """Send a request; return the decoded result or raise the student's exception.

        ``originals`` (for calls) maps argument positions/names to the objects the
        test passed: list and dict arguments are updated in place with the
        contents the student's code left in them (the reply's ``"after"``).
        """
        try:
            reply = self.sandbox.request(message, self._on_callback)
        except rpc.ProtocolError as exc:  # our own message could not be encoded
            raise TypeError(f"cannot send this value to student code: {exc}") from None
        if "raise" in reply:
            error = exception_from_info(reply["raise"])
            if isinstance(error, MemoryError):
                self.sandbox.kill()
                raise SandboxFailure(
                    "limit", f"used more than {self.sandbox.limits.memory_mb} MB of memory"
                )
            raise error
        result = self.decode(reply.get("return"))
        after = reply.get("after")
        if originals and isinstance(after, dict):
            for key, encoded in after.items():
                original = originals.get(key) if isinstance(key, str) else None
                if type(original) not in (list, dict):
                    continue
                value = self.decode(encoded)
                if type(value) is list and type(original) is list:
                    original[:] = value
                elif type(value) is dict and type(original) is dict:
                    original.clear()
                    original.update(value)
        return result

    def exec_cell(self, cell_id: str, source: str) -> BaseException | None:
        """Run one cell in the sandbox; return the exception it raised, if any."""
        try:
            self.request({"op": "exec", "cell": cell_id, "source": source})
        except SandboxFailure:
            raise
        except Exception as exc:
            return exc
        return None

    def lookup(self, name: str) -> Any:
        """The value of a global the cells defined (NameError if they did not)."""
        value = self.request({"op": "global", "name": name})
        if isinstance(value, RemoteObject):
            object.__setattr__(value, "_origin", (None, name))
        return value


class PlainValueError(AssertionError, TypeError):
    """A check compared, tested or computed with a student object instead of a plain value.

    An ``AssertionError`` so the check fails with this message; also a
    ``TypeError`` so that ``list(proxy)`` (which asks for a length hint first)
    still iterates.
    """


_NUMBER_OPS = (
    "add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "divmod",
    "lshift", "rshift", "and", "or", "xor", "matmul",
)  # fmt: skip


class RemoteObject:
    """A student object living in the sandbox.

    Forwarded to it: attribute access, calls, ``str``/``repr``, ``[]`` and
    iteration (materialised as a list). Refused (:class:`PlainValueError`), never
    forwarded to the student's own methods: comparisons, ``bool``, ``hash``,
    ``len``, ``in``, ``int``/``float``/``index``/``round`` and arithmetic, so an
    object "equal to everything" cannot answer a check. Only values of the exact
    types int, bool, str, float, None (and list/tuple/dict of them) cross the
    boundary by value (:func:`autograders.rpc.encode` runs in the sandbox), so a
    subclass of int stays a proxy here. Setting attributes and dunder attribute
    access are refused too.
    """

    __slots__ = ("_session", "_handle", "_origin")

    def __init__(
        self, session: Session, handle: int, origin: tuple[RemoteObject | None, str] = (None, "")
    ) -> None:
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_handle", handle)
        object.__setattr__(self, "_origin", origin)

    def _request(self, op: str, **fields: Any) -> Any:
        session: Session = object.__getattribute__(self, "_session")
        handle = object.__getattribute__(self, "_handle")
        return session.request({"op": op, "obj": {"$h": handle}, **fields})

    def _dunder(self, name: str, *args: Any) -> Any:
        session: Session = object.__getattribute__(self, "_session")
        return self._request("dunder", name=name, args=session.encode(list(args)))

    def _typename(self) -> str:
        try:
            name = self._request("typename")
        except (Exception, SandboxFailure):  # noqa: BLE001 - only for a message
            return "unknown"
        return name if type(name) is str else "unknown"

    def _refuse(self, what: str, expected: str = "a plain value") -> PlainValueError:
        owner, label = object.__getattribute__(self, "_origin")
        if isinstance(owner, RemoteObject):
            label = f"{owner._typename()}.{label}"
        where = f" for {label}" if label else ""
        return PlainValueError(
            f"expected {expected}{where}, got an object of type {self._typename()} "
            f"({what} is not done on objects from your code: return plain "
            "numbers, strings, True/False or None)"
        )

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        value = self._request("getattr", name=name)
        if isinstance(value, RemoteObject):
            object.__setattr__(value, "_origin", (self, name))
        return value

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("test code may not set attributes on student objects")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        session: Session = object.__getattribute__(self, "_session")
        handle = object.__getattribute__(self, "_handle")
        message = {
            "op": "call",
            "obj": {"$h": handle},
            "args": session.encode(list(args)),
            "kwargs": session.encode(kwargs),
        }
        originals = {str(i): a for i, a in enumerate(args)}
        originals.update(kwargs)
        value = session.request(message, originals)
        if isinstance(value, RemoteObject):
            owner, label = object.__getattribute__(self, "_origin")
            name = label or "a function"
            if isinstance(owner, RemoteObject):
                name = f"{owner._typename()}.{name}"
            object.__setattr__(value, "_origin", (None, f"what {name}(...) returned"))
        return value

    def __str__(self) -> str:
        text = self._dunder("__str__")
        return text if type(text) is str else f"<object of type {self._typename()}>"

    def __repr__(self) -> str:
        text = self._dunder("__repr__")
        return text if type(text) is str else f"<object of type {self._typename()}>"

    def __iter__(self) -> Any:
        items = self._request("list")
        return iter(items if isinstance(items, list) else [])

    def __getitem__(self, key: Any) -> Any:
        return self._dunder("__getitem__", key)

    # -- refused: a check must see plain values -------------------------------
    def __eq__(self, other: object) -> bool:
        raise self._refuse("comparing with ==")

    def __ne__(self, other: object) -> bool:
        raise self._refuse("comparing with !=")

    def __lt__(self, other: Any) -> bool:
        raise self._refuse("comparing with <", "a plain number")

    def __le__(self, other: Any) -> bool:
        raise self._refuse("comparing with <=", "a plain number")

    def __gt__(self, other: Any) -> bool:
        raise self._refuse("comparing with >", "a plain number")

    def __ge__(self, other: Any) -> bool:
        raise self._refuse("comparing with >=", "a plain number")

    def __bool__(self) -> bool:
        raise self._refuse("testing for truth", "True or False")

    def __hash__(self) -> int:
        raise self._refuse("hashing")

    def __len__(self) -> int:
        raise self._refuse("len()", "a plain list or string")

    def __contains__(self, item: Any) -> bool:
        raise self._refuse("testing with in", "a plain list, tuple, dict or string")

    def __int__(self) -> int:
        raise self._refuse("int()", "a plain number")

    def __float__(self) -> float:
        raise self._refuse("float()", "a plain number")

    def __index__(self) -> int:
        raise self._refuse("using it as an index", "a plain int")

    def __complex__(self) -> complex:
        raise self._refuse("complex()", "a plain number")

    def __round__(self, ndigits: Any = None) -> Any:
        raise self._refuse("round()", "a plain number")

    def __trunc__(self) -> Any:
        raise self._refuse("math.trunc()", "a plain number")

    def __floor__(self) -> Any:
        raise self._refuse("math.floor()", "a plain number")

    def __ceil__(self) -> Any:
        raise self._refuse("math.ceil()", "a plain number")

    def __neg__(self) -> Any:
        raise self._refuse("arithmetic", "a plain number")

    def __pos__(self) -> Any:
        raise self._refuse("arithmetic", "a plain number")

    def __abs__(self) -> Any:
        raise self._refuse("abs()", "a plain number")

    def __invert__(self) -> Any:
        raise self._refuse("arithmetic", "a plain number")


def _refuse_arithmetic(name: str) -> Any:
    def refuse(self: RemoteObject, *other: Any) -> Any:
        raise self._refuse("arithmetic", "a plain number")

    refuse.__name__ = name
    return refuse


for _op in _NUMBER_OPS:
    for _name in (f"__{_op}__", f"__r{_op}__"):
        setattr(RemoteObject, _name, _refuse_arithmetic(_name))


# A proxy's object lives in the sandbox, where the reference cannot be imported:
# the borrowing checks have nothing to look at on this side of the wire.
trust_type(RemoteObject)
