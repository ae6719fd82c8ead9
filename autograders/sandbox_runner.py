"""The program that runs INSIDE the sandbox: it executes student code and serves requests.

Started by :mod:`autograders.sandbox` as
``python -I -B <lib>/autograders/sandbox_runner.py '<json settings>'`` where
``<lib>`` holds this file, a copy of :mod:`autograders.rpc` and the sanitised
``course_lib``. Before any student code runs it:

1. applies the resource limits (``resource.setrlimit``: CPU seconds, address
   space, processes, file size, no core dumps), with hard limits the student
   cannot raise again;
2. drops root: ``setgroups([])``, ``setgid``/``setuid`` to the unprivileged uid
   the parent chose for this sandbox (a uid no other process uses, so
   ``RLIMIT_NPROC``, which the kernel counts per uid and ignores for root,
   bounds exactly this sandbox's processes);
3. moves to its private working directory.

Then it answers requests from the parent (see :mod:`autograders.rpc`):

``exec``     run one cell's source in the student namespace.
``global``   the value of a name the cells defined (plain data or a handle).
``getattr``  ``getattr(obj, name)``.
``call``     ``obj(*args, **kwargs)``; args may hold callbacks into the parent.
             The reply also carries the final contents of list/dict arguments
             (``"after"``), so in-place changes are visible to the test.
``dunder``   ``str``, ``repr`` or ``[]``.
``typename`` ``type(obj).__qualname__`` (for the parent's error messages).
``list``     ``list(obj)`` (iteration), capped at 100 000 items.

Every request carries an ``"id"``; the reply echoes it as ``"re"``. A callback
request carries an ``"id"`` of its own (increasing), which the parent's answer
echoes.

Nothing here is trusted by the parent: the student can patch this module, the
JSON encoder, or write frames of their own. Whatever they do, only data reaches
the parent, and the parent validates it.
"""

from __future__ import annotations

import builtins
import json
import os
import resource
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autograders import rpc  # noqa: E402

__all__ = ["main"]

_DUNDERS: dict[str, Callable[..., Any]] = {
    "__str__": str,
    "__repr__": repr,
    "__getitem__": lambda a, b: a[b],
}
"""The operators the parent forwards. Comparisons, truth, hashing and arithmetic are
never forwarded: the parent refuses them on a proxy (see ``autograders.remote``)."""
_MAX_LIST = 100_000


def _apply_limits(limits: dict[str, int]) -> None:
    """Set the rlimits: soft = the limit, hard = the limit (CPU: +1 s, so SIGXCPU comes first)."""
    table = {
        "cpu_seconds": resource.RLIMIT_CPU,
        "memory_bytes": resource.RLIMIT_AS,
        "processes": resource.RLIMIT_NPROC,
        "file_bytes": resource.RLIMIT_FSIZE,
    }
    for key, which in table.items():
        if key in limits:
            soft = int(limits[key])
            hard = soft + 1 if key == "cpu_seconds" else soft
            resource.setrlimit(which, (soft, hard))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    if os.getuid() != uid or os.geteuid() != uid:
        raise SystemExit("could not drop privileges")


class _Server:
    """Executes cells and serves the parent's requests over two pipes."""

    def __init__(self, req_fd: int, resp_fd: int) -> None:
        self.req_fd = req_fd
        self.resp_fd = resp_fd
        self.namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
        self.handles: dict[int, Any] = {}
        self.handle_of: dict[int, int] = {}
        self.callbacks_made = 0

    # -- values -------------------------------------------------------------
    def to_ref(self, value: Any) -> dict[str, Any]:
        if isinstance(value, _Callback):
            return {"$cb": value.number}
        key = id(value)
        number = self.handle_of.get(key)
        if number is None:
            number = len(self.handles)
            self.handles[number] = value
            self.handle_of[key] = number
        return {"$h": number}

    def from_ref(self, tag: str, number: int) -> Any:
        if tag == "$cb":
            return _Callback(self, number)
        if number not in self.handles:
            raise rpc.ProtocolError(f"unknown handle {number}")
        return self.handles[number]

    def enc(self, value: Any) -> Any:
        return rpc.encode(value, self.to_ref)

    def dec(self, value: Any) -> Any:
        return rpc.decode(value, self.from_ref)

    # -- requests -----------------------------------------------------------
    def handle(self, message: dict[str, Any]) -> dict[str, Any]:
        op = message.get("op")
        try:
            if op == "exec":
                source = _strip_magics(str(message["source"]))
                code = compile(source, f"<cell {message.get('cell', '?')}>", "exec")
                exec(code, self.namespace)
                return {"return": None}
            if op == "global":
                name = str(message["name"])
                if name not in self.namespace:
                    raise NameError(f"name {name!r} is not defined")
                return {"return": self.enc(self.namespace[name])}
            if op == "ping":
                return {"return": "pong"}
            target = self.dec(message["obj"])
            if op == "getattr":
                return {"return": self.enc(getattr(target, str(message["name"])))}
            if op == "call":
                args = self.dec(message.get("args", []))
                kwargs = self.dec(message.get("kwargs", {"$d": {}}))
                result = {"return": self.enc(target(*args, **kwargs))}
                # containers the test passed in: send back their final contents
                # (the parent updates its originals in place, like a shared object)
                after = {str(i): self.enc(a) for i, a in enumerate(args) if type(a) in (list, dict)}
                after.update({k: self.enc(a) for k, a in kwargs.items() if type(a) in (list, dict)})
                if after:
                    result["after"] = after
                return result
            if op == "dunder":
                function = _DUNDERS[str(message["name"])]
                args = self.dec(message.get("args", []))
                return {"return": self.enc(function(target, *args))}
            if op == "typename":
                return {"return": type(target).__qualname__[:100]}
            if op == "list":
                items = []
                for item in target:
                    items.append(item)
                    if len(items) > _MAX_LIST:
                        raise ValueError(f"more than {_MAX_LIST} items")
                return {"return": self.enc(items)}
            raise rpc.ProtocolError(f"unknown request {op!r}")
        except BaseException as exc:  # noqa: BLE001 - everything the student raises is data
            if isinstance(exc, MemoryError):
                return {"raise": {"mro": ["builtins.MemoryError"], "message": "", "attrs": {}}}
            return {"raise": rpc.exception_info(exc)}

    def reply(self, message: dict[str, Any]) -> None:
        try:
            rpc.write_frame(self.resp_fd, message)
        except rpc.ProtocolError as exc:
            rpc.write_frame(
                self.resp_fd,
                {
                    "raise": {"mro": ["builtins.ValueError"], "message": str(exc), "attrs": {}},
                    "re": message.get("re"),
                },
            )

    def serve(self, until_reply: int | None = None) -> dict[str, Any]:
        """Answer requests; return the reply to callback ``until_reply`` when it comes."""
        while True:
            message = rpc.read_frame(self.req_fd)
            if "op" in message:
                answer = self.handle(message)
                answer["re"] = message.get("id")
                self.reply(answer)
            elif until_reply is not None and message.get("re") == until_reply:
                return message
            else:
                raise SystemExit("the grader sent a reply to nothing")


class _Callback:
    """A function living in the parent (the test's protected call, a fallback...)."""

    def __init__(self, server: _Server, number: int) -> None:
        self.server = server
        self.number = number

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        server = self.server
        server.callbacks_made += 1
        ident = server.callbacks_made
        rpc.write_frame(
            server.resp_fd,
            {
                "op": "callback",
                "id": ident,
                "cb": self.number,
                "args": server.enc(list(args)),
                "kwargs": server.enc(kwargs),
            },
        )
        answer = server.serve(until_reply=ident)
        if "raise" in answer:
            info = answer["raise"] if isinstance(answer["raise"], dict) else {}
            raise _exception_from(info)
        return server.dec(answer.get("return"))

    def __repr__(self) -> str:
        return f"<function from the test #{self.number}>"


def _exception_from(info: dict[str, Any]) -> BaseException:
    """Rebuild an exception the parent raised: the nearest builtin or course_lib.errors class."""
    message = str(info.get("message", ""))
    raw = info.get("mro")
    mro: list[Any] = raw if isinstance(raw, list) else []
    for name in mro:
        module, _, qualname = str(name).rpartition(".")
        cls: Any = None
        if module == "builtins":
            cls = getattr(builtins, qualname, None)
        elif module == "course_lib.errors":
            try:
                from course_lib import errors

                cls = getattr(errors, qualname, None)
            except ImportError:
                cls = None
        if isinstance(cls, type) and issubclass(cls, Exception):
            rebuilt: BaseException = cls.__new__(cls)
            Exception.__init__(rebuilt, message)
            return rebuilt
    simple = str(mro[0]).rpartition(".")[2] if mro else "Exception"
    unknown: type[Exception] = type(simple or "Exception", (Exception,), {})
    return unknown(message)


def _strip_magics(source: str) -> str:
    """Comment out IPython magics and shell escapes (there is no IPython in the sandbox)."""
    lines = source.splitlines()
    return "\n".join(
        "# " + line if line.lstrip().startswith(("%", "!")) else line for line in lines
    )


def main(argv: list[str]) -> int:
    """Apply limits, drop privileges, then serve until the parent closes the channel."""
    settings = json.loads(argv[1])
    _apply_limits(settings.get("limits", {}))
    if settings.get("uid") is not None:
        _drop_privileges(int(settings["uid"]))
    workdir = settings.get("workdir")
    if workdir:
        os.chdir(workdir)
    server = _Server(int(settings["req_fd"]), int(settings["resp_fd"]))
    sys.argv = ["student"]
    try:
        server.serve()
    except EOFError:
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
