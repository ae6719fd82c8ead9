"""The wire protocol between the trusted grader and the sandboxed student code.

Both ends speak it: the trusted parent (``autograders.engine``) and the program
that runs inside the sandbox (``autograders.sandbox_runner``, which gets a copy
of this file). It therefore imports only the standard library.

Framing: every message is one *frame*, a 4-byte big-endian unsigned length
followed by that many bytes of UTF-8 JSON (never pickle: decoding a frame can
only ever produce plain data). A frame longer than :data:`MAX_FRAME` bytes is
refused.

Messages are JSON objects. A *request* carries ``"op"`` and an ``"id"``; a
*reply* carries ``"return"`` (an encoded value) or ``"raise"`` (an
:func:`exception_info` record) and ``"re"``, the id of the request it answers.
Requests may nest: while the parent waits for the reply to a ``call``, the
sandbox may send a ``callback`` request (the student code invoking a function
the test passed in), which the parent answers before the original reply
arrives. The parent accepts a reply only for the request in progress and a
callback only with a fresh, increasing id (``autograders.sandbox.Sandbox.request``,
the one bounded exchange); anything else ends the sandbox.

Values are encoded as JSON with single-key tagged objects for what JSON lacks:

============================  =====================================
Python value                  encoded as
============================  =====================================
None, bool, int, str          itself
float                         itself; NaN/inf as ``{"$f": "nan"}``
list                          a JSON array of encoded items
tuple                         ``{"$t": [items]}``
dict with str keys            ``{"$d": {key: encoded value}}``
object living in the sandbox  ``{"$h": handle number}``
callable living in parent     ``{"$cb": callback number}``
============================  =====================================

Every decoded value is validated (types, nesting depth, container sizes): a
malformed value raises :class:`ProtocolError`, never anything else.
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Callable
from typing import Any

__all__ = [
    "MAX_DEPTH",
    "MAX_FRAME",
    "MAX_ITEMS",
    "ProtocolError",
    "decode",
    "encode",
    "exception_info",
    "pack_frame",
    "read_frame",
    "unpack_message",
    "write_frame",
]

MAX_FRAME = 8 * 1024 * 1024
"""Largest frame accepted, in bytes (8 MiB)."""

MAX_DEPTH = 40
"""Deepest nesting of containers accepted in a value."""

MAX_ITEMS = 200_000
"""Most items (list/tuple/dict entries, summed over a whole value) accepted."""

_HEADER = struct.Struct(">I")
_FLOAT_TAGS = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


class ProtocolError(Exception):
    """A frame or value broke the protocol (garbled, too big, too deep, wrong type)."""


def pack_frame(message: dict[str, Any]) -> bytes:
    """Serialise one message to a length-prefixed frame.

    Raises:
        ProtocolError: the message is not JSON-serialisable or exceeds MAX_FRAME.
    """
    try:
        body = json.dumps(message, allow_nan=False, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"cannot encode message: {exc}") from None
    if len(body) > MAX_FRAME:
        raise ProtocolError(f"message of {len(body)} bytes exceeds the {MAX_FRAME}-byte limit")
    return _HEADER.pack(len(body)) + body


def write_frame(fd: int, message: dict[str, Any]) -> None:
    """Write one framed message to a file descriptor (blocking, complete).

    Used inside the sandbox only; the parent writes with a deadline
    (``autograders.sandbox.Sandbox.request``).
    """
    data = memoryview(pack_frame(message))
    while data:
        written = os.write(fd, data)
        data = data[written:]


def _read_exactly(fd: int, count: int, wait: Callable[[], None] | None) -> bytes:
    chunks: list[bytes] = []
    remaining = count
    while remaining:
        if wait is not None:
            wait()
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise EOFError("the other end closed the channel")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, wait: Callable[[], None] | None = None) -> dict[str, Any]:
    """Read one framed message.

    Args:
        fd: the file descriptor to read.
        wait: called before every ``os.read``; the parent passes a function that
            blocks until the descriptor is readable or raises on timeout.

    Raises:
        EOFError: the channel closed (the other process ended).
        ProtocolError: the frame is oversized or not a JSON object.
    """
    (length,) = _HEADER.unpack(_read_exactly(fd, _HEADER.size, wait))
    if length > MAX_FRAME:
        raise ProtocolError(f"a frame of {length} bytes exceeds the {MAX_FRAME}-byte limit")
    return unpack_message(_read_exactly(fd, length, wait))


def unpack_message(body: bytes) -> dict[str, Any]:
    """Parse a frame body into a message object.

    Raises:
        ProtocolError: not UTF-8 JSON, or not a JSON object.
    """
    try:
        message = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ProtocolError(f"garbled message: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message must be a JSON object")
    return message


def _reject_constant(name: str) -> Any:
    raise ValueError(f"bare {name} is not allowed")


def encode(value: Any, to_ref: Callable[[Any], dict[str, Any]], _depth: int = 0) -> Any:
    """Encode a value for the wire.

    Plain data (None/bool/int/float/str, and list/tuple/str-keyed dict of plain
    data) is encoded structurally; anything else is handed to ``to_ref``, which
    returns its reference tag (``{"$h": n}`` or ``{"$cb": n}``).

    Raises:
        ProtocolError: nesting deeper than MAX_DEPTH (e.g. a self-containing list).
    """
    if _depth > MAX_DEPTH:
        raise ProtocolError(f"value nested deeper than {MAX_DEPTH} levels")
    kind = type(value)
    if value is None or kind is bool or kind is int or kind is str:
        return value
    if kind is float:
        if math.isnan(value):
            return {"$f": "nan"}
        if math.isinf(value):
            return {"$f": "inf" if value > 0 else "-inf"}
        return value
    if kind is list:
        return [encode(item, to_ref, _depth + 1) for item in value]
    if kind is tuple:
        return {"$t": [encode(item, to_ref, _depth + 1) for item in value]}
    if kind is dict and all(type(key) is str for key in value):
        return {"$d": {key: encode(item, to_ref, _depth + 1) for key, item in value.items()}}
    return to_ref(value)


def decode(
    value: Any,
    from_ref: Callable[[str, int], Any],
    _depth: int = 0,
    _budget: list[int] | None = None,
) -> Any:
    """Decode and validate a wire value.

    Args:
        value: the JSON-decoded value.
        from_ref: builds the local object for a reference: ``from_ref("$h", n)``
            or ``from_ref("$cb", n)``; it raises ProtocolError for a tag it
            does not accept.

    Raises:
        ProtocolError: unknown tag, wrong type, too deep or too many items.
    """
    budget = [MAX_ITEMS] if _budget is None else _budget
    if _depth > MAX_DEPTH:
        raise ProtocolError(f"value nested deeper than {MAX_DEPTH} levels")
    kind = type(value)
    if value is None or kind in (bool, int, float, str):
        return value
    if kind is list:
        budget[0] -= len(value)
        if budget[0] < 0:
            raise ProtocolError(f"value holds more than {MAX_ITEMS} items")
        return [decode(item, from_ref, _depth + 1, budget) for item in value]
    if kind is not dict or len(value) != 1:
        raise ProtocolError(f"malformed value of type {kind.__name__}")
    ((tag, inner),) = value.items()
    if tag == "$f" and inner in _FLOAT_TAGS:
        return _FLOAT_TAGS[inner]
    if tag == "$t" and type(inner) is list:
        return tuple(decode(inner, from_ref, _depth, budget))
    if tag == "$d" and type(inner) is dict:
        budget[0] -= len(inner)
        if budget[0] < 0:
            raise ProtocolError(f"value holds more than {MAX_ITEMS} items")
        return {key: decode(item, from_ref, _depth + 1, budget) for key, item in inner.items()}
    if tag in ("$h", "$cb") and type(inner) is int and inner >= 0:
        return from_ref(tag, inner)
    raise ProtocolError(f"malformed value with tag {tag!r}")


def exception_info(exc: BaseException) -> dict[str, Any]:
    """Describe an exception for the wire: its class MRO names and message.

    ``mro`` lists ``module.qualname`` of every class in the exception's MRO, so
    the receiver can re-raise the nearest class it knows (a student subclass of
    ``ValueError`` arrives as ``ValueError``). ``attrs`` keeps the exception's
    plain-data attributes (e.g. ``RetryError.attempts``).
    """
    mro: list[str] = []
    for cls in type(exc).__mro__:
        try:
            mro.append(f"{cls.__module__}.{cls.__qualname__}"[:200])
        except Exception:  # a hostile metaclass: keep what we have
            break
    try:
        message = str(exc)[:4000]
    except BaseException:  # noqa: BLE001 - a hostile __str__ must not break the reply
        message = "<the exception's message could not be read>"
    attrs: dict[str, Any] = {}
    try:
        for key, item in list(vars(exc).items())[:20]:
            if type(key) is not str:
                continue
            if type(item) in (type(None), bool, int, str) or (
                type(item) is float and math.isfinite(item)
            ):
                attrs[key] = item if type(item) is not str else item[:1000]
    except Exception:  # noqa: BLE001
        attrs = {}
    return {"mro": mro[:40], "message": message, "attrs": attrs}
