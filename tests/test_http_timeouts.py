"""Real HTTP timeouts on loopback: ``Timeouts(...).to_httpx()`` against misbehaving servers.

* Read timeout: a server accepts the connection, reads the request and never answers.
* Connect timeout: a listening socket with backlog 0 that never calls ``accept()``. Once
  its accept queue is full (we fill it with a few client sockets first), the kernel drops
  further SYNs, so a new connect hangs until the client's connect timeout fires.

Everything binds 127.0.0.1 only, runs on daemon threads, stops by itself (an Event, and
a socket timeout as a backstop) and loops a bounded number of times. The timeouts are
small (0.2 s) so the tests are quick; nothing asserts on elapsed time.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from course_lib.clock import ManualClock
from course_lib.timeouts import Deadline, Timeouts

SHORT = 0.2  # seconds: the timeout under test
BACKSTOP = 10.0  # seconds: no server thread outlives this, whatever happens


def _client() -> httpx.Client:
    # trust_env=False: a proxy from the environment must not intercept loopback calls.
    return httpx.Client(trust_env=False)


@contextlib.contextmanager
def _server(answer: bool) -> Iterator[str]:
    """Serve one connection at a time; reply 200 if ``answer``, else read and stay silent."""
    stop = threading.Event()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(0.05)
    host, port = listener.getsockname()

    def serve() -> None:
        with listener:
            for _ in range(int(BACKSTOP / 0.05)):  # bounded: ends by itself
                if stop.is_set():
                    return
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                with conn:
                    conn.settimeout(BACKSTOP)
                    request = b""
                    while b"\r\n\r\n" not in request and len(request) < 65536:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        request += chunk
                    if answer:
                        conn.sendall(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                        )
                    else:
                        stop.wait(BACKSTOP)  # never answer; hold the connection open

    thread = threading.Thread(target=serve, name="silent-http-server", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{port}/"
    finally:
        stop.set()
        thread.join(BACKSTOP)


@contextlib.contextmanager
def _full_backlog() -> Iterator[str]:
    """A listening socket whose accept queue is full, so new connects hang."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)  # never accept()
    host, port = listener.getsockname()
    fillers: list[socket.socket] = []
    try:
        for _ in range(8):  # bounded: Linux queues backlog + 1 connections
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex((host, port))
            fillers.append(filler)
            _, writable, _ = select.select([], [filler], [], 0.2)
            if not writable:  # this handshake did not complete: the queue is full
                break
        else:
            pytest.fail("could not fill the listen backlog with 8 connections")
        yield f"http://{host}:{port}/"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def test_answering_server_works_with_the_same_timeouts() -> None:
    with _server(answer=True) as url, _client() as client:
        response = client.get(url, timeout=Timeouts(connect=SHORT, read=BACKSTOP).to_httpx())
    assert (response.status_code, response.text) == (200, "ok")


def test_silent_server_gives_a_read_timeout() -> None:
    with _server(answer=False) as url, _client() as client, pytest.raises(httpx.ReadTimeout):
        client.get(url, timeout=Timeouts(connect=BACKSTOP, read=SHORT).to_httpx())


def test_full_backlog_gives_a_connect_timeout() -> None:
    with _full_backlog() as url, _client() as client, pytest.raises(httpx.ConnectTimeout):
        client.get(url, timeout=Timeouts(connect=SHORT, read=BACKSTOP).to_httpx())


def test_deadline_caps_the_read_timeout_of_a_real_call() -> None:
    clock = ManualClock()
    deadline = Deadline(budget=30.0, clock=clock)
    clock.advance(30.0 - SHORT)  # almost all the budget is spent upstream
    timeouts = deadline.timeouts(connect=1.0, read=5.0)
    assert timeouts.read == pytest.approx(SHORT)
    with _server(answer=False) as url, _client() as client, pytest.raises(httpx.ReadTimeout):
        client.get(url, timeout=timeouts.to_httpx())
