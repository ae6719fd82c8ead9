"""Misbehaving HTTP servers on 127.0.0.1, to watch timeouts happen on real sockets.

:class:`LoopbackServer` serves, on a free port of ``127.0.0.1`` only:

* ``/fast``: answers ``ok`` at once;
* ``/slow?seconds=S``: answers ``ok`` after ``S`` seconds;
* ``/hang``: reads the request and never answers (a read timeout's victim);
* ``/drip?bytes=N&interval=I``: sends its headers at once, then one byte of
  body every ``I`` seconds (default 1 s): every single read is quick, so a
  per-read timeout never fires, but the whole answer takes ``N * I`` seconds;
* ``/latency?ms=M``: answers after ``M`` milliseconds (a latency sample).

:attr:`LoopbackServer.blackhole_url` is a listener that never accepts a
connection: its accept queue is filled first, so the kernel drops further
connection attempts and a connect hangs until the client's connect timeout.

:class:`LoopbackService` runs one handler function as a tiny HTTP service (the
deadline-propagation chain A -> B -> C is three of them).

Nothing outlives its owner: :meth:`~LoopbackServer.stop` ends every thread and
closes every socket (hanging and dripping requests are woken up and cut), a
server is stopped when it is garbage-collected and at interpreter exit, and
every wait is bounded by :data:`BACKSTOP` seconds anyway. :func:`running` lists
what is still up (a notebook's last cell checks it is empty).
"""

from __future__ import annotations

import atexit
import contextlib
import select
import socket
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "BACKSTOP",
    "DEADLINE_HEADER",
    "ChainRun",
    "Hop",
    "LoopbackServer",
    "LoopbackService",
    "Reply",
    "run_chain",
    "running",
    "stop_all",
]

BACKSTOP = 30.0
"""Seconds: the longest any server thread waits for anything, whatever happens."""

HOST = "127.0.0.1"

GRACE = 0.25
"""Seconds a chain service waits for the next one beyond its own time left, so that a
callee that stops at its deadline answers (504) before its caller gives up on it."""

DEADLINE_HEADER = "x-deadline-ms"
"""The header that carries the remaining budget between services, in whole milliseconds."""

Reply = tuple[int, Mapping[str, str], str]
"""What a :class:`LoopbackService` handler returns: ``(status, headers, body)``."""

Handler = Callable[[str, Mapping[str, str]], Reply]
"""``handler(path, request_headers) -> (status, headers, body)``; header names lower-case."""

_LIVE: weakref.WeakSet[_Base] = weakref.WeakSet()


class _Stoppable:
    """The state one server shares with its threads: the stop event and open sockets."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []  # the server's own
        self.requests: list[threading.Thread] = []  # one per request (reaped when done)
        self.fillers: list[socket.socket] = []  # the never-accepting listener and its queue

    def close(self) -> None:
        self.stop.set()
        with self.lock:
            sockets, self.sockets = list(self.sockets), set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


class _HTTPServer(ThreadingHTTPServer):
    """Each request on a daemon thread, listed in ``state.requests`` so that stopping joins it.

    (``ThreadingMixIn``'s ``server_close`` joins only non-daemon request threads.)
    """

    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, state: _Stoppable, handler: type[BaseHTTPRequestHandler]) -> None:
        self.state = state
        self.app: Handler | None = None
        super().__init__((HOST, 0), handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that hung up early (a timeout did its job) is no error to print."""

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread, args=(request, client_address), daemon=True
        )
        with self.state.lock:
            self.state.sockets.add(request)
            self.state.requests[:] = [t for t in self.state.requests if t.is_alive()]
            self.state.requests.append(thread)
        thread.start()

    def shutdown_request(self, request: Any) -> None:
        with self.state.lock:
            self.state.sockets.discard(request)
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    timeout = BACKSTOP

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Quiet: nothing on stderr (a notebook cell would show it)."""

    def _send(self, status: int, body: str, headers: Mapping[str, str] | None = None) -> None:
        data = body.encode()
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def _number(self, query: dict[str, list[str]], name: str, default: float) -> float:
        try:
            value = float(query.get(name, [default])[0])
        except ValueError:
            return default
        return min(max(value, 0.0), BACKSTOP)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        stop = self.server.state.stop
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        app = self.server.app
        if app is not None:
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                status, reply_headers, body = app(url.path, headers)
            except Exception as exc:  # noqa: BLE001 - a broken handler answers 500
                status, reply_headers, body = 500, {}, f"{type(exc).__name__}: {exc}"
            if not stop.is_set():
                self._send(status, body, reply_headers)
            return
        if url.path == "/fast":
            self._send(200, "ok")
        elif url.path == "/slow":
            if not stop.wait(self._number(query, "seconds", 2.0)):
                self._send(200, "ok")
        elif url.path == "/latency":
            if not stop.wait(self._number(query, "ms", 10.0) / 1000):
                self._send(200, "ok")
        elif url.path == "/hang":
            stop.wait(BACKSTOP)
        elif url.path == "/drip":
            size = int(self._number(query, "bytes", 10))
            interval = self._number(query, "interval", 1.0)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(size))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.flush()
            for _ in range(size):
                if stop.wait(interval):
                    return
                self.wfile.write(b".")
                self.wfile.flush()
            self.close_connection = True
        else:
            self._send(404, f"no endpoint {url.path}")


class _Base:
    """A running HTTP server on 127.0.0.1 with a stop that leaves nothing behind."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._state = _Stoppable()
        self._http = _HTTPServer(self._state, _Handler)
        self.url = f"http://{HOST}:{self.port}"
        thread = threading.Thread(
            target=self._http.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"loopback:{name}",
            daemon=True,
        )
        self._state.threads.append(thread)
        self._finalizer = weakref.finalize(self, _shutdown, self._http, self._state)
        thread.start()
        _LIVE.add(self)

    @property
    def port(self) -> int:
        """The TCP port it listens on (127.0.0.1)."""
        return int(self._http.server_address[1])

    @property
    def alive(self) -> bool:
        """``True`` until :meth:`stop`."""
        return self._finalizer.alive

    def stop(self) -> None:
        """Stop serving, cut every open request, close every socket, join every thread.

        Safe to call twice.
        """
        self._finalizer()
        with self._state.lock:
            requests = list(self._state.requests)
        for thread in requests:  # cut by the shutdown: they end at once
            thread.join(BACKSTOP)
        _LIVE.discard(self)

    def __enter__(self) -> Any:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.alive else "stopped"
        return f"<{type(self).__name__} {self.name} {self.url} {state}>"


def _shutdown(http: _HTTPServer, state: _Stoppable) -> None:
    """Stop ``http``: no new connection, wake and cut the open ones, join the server's thread.

    The request threads are joined by :meth:`_Base.stop`, not here: this also runs at
    interpreter exit, where waiting for them would let their clients (daemon threads too)
    run on while the interpreter is being torn down.
    """
    state.stop.set()
    http.shutdown()  # serve_forever returns (it polls every 0.05 s)
    state.close()  # open requests are cut: blocked reads and writes return
    http.server_close()
    for thread in state.threads:
        thread.join(BACKSTOP)
    for sock in state.fillers:
        with contextlib.suppress(OSError):
            sock.close()


class LoopbackServer(_Base):
    """The misbehaving endpoints (see the module's docstring) plus a listener that never accepts.

    Example:
        >>> import httpx
        >>> with LoopbackServer() as server, httpx.Client(trust_env=False) as client:
        ...     client.get(server.url + "/fast", timeout=1.0).text
        'ok'
    """

    def __init__(self, name: str = "timeouts-lab") -> None:
        super().__init__(name)
        try:
            self.blackhole_url = self._open_blackhole()
        except BaseException:
            self.stop()
            raise

    def _open_blackhole(self) -> str:
        """A listener with a full accept queue; its sockets close with the server."""
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        fillers = self._state.fillers
        fillers.append(listener)
        listener.bind((HOST, 0))
        listener.listen(0)  # and never accept()
        address = listener.getsockname()
        for _ in range(16):  # bounded: Linux queues backlog + 1 connections
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            fillers.append(filler)
            filler.setblocking(False)
            filler.connect_ex(address)
            _, writable, _ = select.select([], [filler], [], 0.2)
            if not writable:  # this handshake did not complete: the queue is full
                return f"http://{address[0]}:{address[1]}"
        raise RuntimeError("could not fill the listen backlog of the never-accepting listener")


class LoopbackService(_Base):
    """One handler function served over HTTP on 127.0.0.1 (a service of a call chain).

    Args:
        name: What to call it (``"B"``).
        handler: ``handler(path, headers) -> (status, headers, body)``; runs on a
            request thread; an exception becomes a 500 naming it.
    """

    def __init__(self, name: str, handler: Handler) -> None:
        super().__init__(name)
        self._http.app = handler


def running() -> list[_Base]:
    """Servers and services started and not stopped yet (should be ``[]`` at the end)."""
    return [server for server in list(_LIVE) if server.alive]


def stop_all() -> None:
    """Stop every server and service still running."""
    for server in running():
        server.stop()


def _stop_all_at_exit() -> None:
    """At interpreter exit: stop serving and cut every request (see :func:`_shutdown`)."""
    for server in running():
        server._finalizer()


atexit.register(_stop_all_at_exit)


# --- a chain of services that carry a deadline -------------------------------------------------


@dataclass
class Hop:
    """What one service of a :func:`run_chain` did (milliseconds, measured)."""

    name: str
    budget_ms: float | None = None
    """The budget it saw on arrival (``budget_left`` at once)."""
    worked_ms: float = 0.0
    """How long it worked before answering or calling on."""
    forwarded: str | None = None
    """The ``x-deadline-ms`` it sent to the next service (None: it did not call on)."""
    outcome: str = ""
    """``"done"``, ``"stopped"`` (budget spent), ``"no time to call"``, ``"gave up waiting"``,
    or ``"error"``."""
    error: str | None = None
    """What a student function raised here (one line), if anything."""


@dataclass
class ChainRun:
    """The answer the first service gave, and each service's :class:`Hop`."""

    status: int
    body: str
    hops: list[Hop] = field(default_factory=list)

    @property
    def error(self) -> str | None:
        """The first error a student function raised along the chain, or None."""
        return next((hop.error for hop in self.hops if hop.error), None)


def run_chain(
    budget_left: Callable[..., object],
    forward_headers: Callable[..., object],
    budget_ms: int,
    work: Sequence[float] = (0.05, 0.05, 0.08),
    *,
    names: str = "ABC",
    default: float = 10.0,
    step: float = 0.01,
) -> ChainRun:
    """A request with ``budget_ms`` through real loopback services A -> B -> C.

    Each service, on a request: reads its budget with
    ``budget_left(headers, received_at, now, default)``; works for its share
    of ``work`` (seconds) in ``step``-second slices, and stops with 504 as
    soon as ``budget_left`` says nothing is left; the last service then
    answers 200. The others call the next one with the headers
    ``forward_headers(left)`` returns (``DeadlineExceeded``: 504 without
    calling) and an HTTP timeout of the time left plus :data:`GRACE` (the
    callee stops at the same deadline and answers first). The services are
    stopped before this returns.

    The student's functions are never called from two threads at once (each
    service waits for the next one before it goes on).

    Returns:
        The first service's answer and what each service did.
    """
    import httpx

    from course_lib.errors import DeadlineExceeded

    lock = threading.Lock()
    hops = [Hop(name) for name in names[: len(work)]]
    services: list[LoopbackService] = []

    def left_now(headers: Mapping[str, str], received: float) -> float:
        with lock:
            value = budget_left(dict(headers), received, time.monotonic(), default)
        if type(value) not in (int, float):
            raise TypeError(f"budget_left returned {value!r}, not a number of seconds")
        return float(value)  # type: ignore[arg-type]

    def make(index: int, seconds: float) -> Handler:
        hop = hops[index]

        def handle(path: str, headers: Mapping[str, str]) -> Reply:
            received = time.monotonic()
            try:
                hop.budget_ms = left_now(headers, received) * 1000
                done = 0.0
                while done < seconds - 1e-9:
                    if left_now(headers, received) <= 0:
                        hop.outcome = "stopped"
                        return 504, {}, f"{hop.name} stopped: its budget was spent"
                    time.sleep(step)
                    done += step
                hop.worked_ms = (time.monotonic() - received) * 1000
                if index + 1 == len(hops):
                    hop.outcome = "done"
                    return 200, {}, f"{hop.name} done"
                left = left_now(headers, received)
                try:
                    with lock:
                        out = forward_headers(left)
                except DeadlineExceeded:
                    hop.outcome = "no time to call"
                    return 504, {}, f"{hop.name} had no time left to call {hops[index + 1].name}"
                if not isinstance(out, dict):
                    raise TypeError(f"forward_headers returned {out!r}, not a dict of headers")
                sent = {str(k): str(v) for k, v in out.items()}
                hop.forwarded = sent.get(DEADLINE_HEADER)
            except Exception as exc:  # noqa: BLE001 - a student function raised: shown, not raised
                hop.outcome = "error"
                hop.error = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
                return 500, {}, hop.error
            finally:
                if not hop.worked_ms:
                    hop.worked_ms = (time.monotonic() - received) * 1000
            try:
                with httpx.Client(trust_env=False) as client:
                    answer = client.get(
                        services[index + 1].url + "/work",
                        headers=sent,
                        timeout=min(left + GRACE, BACKSTOP),
                    )
            except httpx.TimeoutException:
                hop.outcome = "gave up waiting"
                return 504, {}, f"{hop.name} gave up waiting for {hops[index + 1].name}"
            hop.outcome = "called on"
            return answer.status_code, {}, answer.text

        return handle

    try:
        for index, seconds in enumerate(work):
            services.append(LoopbackService(hops[index].name, make(index, seconds)))
        with httpx.Client(trust_env=False) as client:
            answer = client.get(
                services[0].url + "/work",
                headers={DEADLINE_HEADER: str(budget_ms)},
                timeout=BACKSTOP,
            )
        return ChainRun(answer.status_code, answer.text, hops)
    finally:
        for service in services:
            service.stop()
