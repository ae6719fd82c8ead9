"""The loopback servers of notebook 04: each endpoint misbehaves as documented, and stops clean.

Real sockets on 127.0.0.1 with small timeouts (0.2 s); nothing asserts on elapsed time.
After every test no server, thread or socket of theirs is left (the notebook's promise).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from course_lib import loopback
from course_lib.errors import DeadlineExceeded
from course_lib.loopback import LoopbackServer, LoopbackService, run_chain

ROOT = Path(__file__).resolve().parent.parent
SHORT = 0.2


def _sockets() -> set[str]:
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:"):
                found.add(target)
    return found


@pytest.fixture(autouse=True)
def nothing_left_behind() -> Iterator[None]:
    threads, sockets = set(threading.enumerate()), _sockets()
    yield
    assert loopback.running() == []
    assert [t.name for t in set(threading.enumerate()) - threads if t.is_alive()] == []
    assert _sockets() - sockets == set()


@pytest.fixture
def lab() -> Iterator[LoopbackServer]:
    with LoopbackServer("test") as server:
        yield server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False) as c:
        yield c


def test_fast_and_slow_answer(lab: LoopbackServer, client: httpx.Client) -> None:
    assert client.get(lab.url + "/fast", timeout=5.0).text == "ok"
    assert client.get(lab.url + "/slow?seconds=0.05", timeout=5.0).text == "ok"
    assert client.get(lab.url + "/latency?ms=5", timeout=5.0).text == "ok"
    assert client.get(lab.url + "/nowhere", timeout=5.0).status_code == 404
    assert lab.url.startswith("http://127.0.0.1:") and lab.port > 0


def test_blackhole_gives_a_connect_timeout(lab: LoopbackServer, client: httpx.Client) -> None:
    with pytest.raises(httpx.ConnectTimeout):
        client.get(lab.blackhole_url, timeout=httpx.Timeout(5.0, connect=SHORT))


def test_hang_gives_a_read_timeout(lab: LoopbackServer, client: httpx.Client) -> None:
    with pytest.raises(httpx.ReadTimeout):
        client.get(lab.url + "/hang", timeout=httpx.Timeout(5.0, read=SHORT))


def test_drip_never_trips_a_longer_read_timeout(lab: LoopbackServer, client: httpx.Client) -> None:
    answer = client.get(lab.url + "/drip?bytes=4&interval=0.02", timeout=httpx.Timeout(5.0))
    assert answer.text == "...."
    with pytest.raises(httpx.ReadTimeout):  # a gap longer than the read timeout does
        client.get(lab.url + "/drip?bytes=2&interval=1", timeout=httpx.Timeout(5.0, read=SHORT))


def test_stop_cuts_a_hanging_request_and_is_idempotent() -> None:
    server = LoopbackServer("cut")
    errors: list[BaseException] = []

    def hang() -> None:
        try:
            httpx.get(server.url + "/hang", timeout=30.0)
        except httpx.HTTPError as error:
            errors.append(error)

    thread = threading.Thread(target=hang)
    thread.start()
    with httpx.Client(trust_env=False) as c:  # the server has the request once /fast answers
        c.get(server.url + "/fast", timeout=5.0)
    server.stop()
    server.stop()
    thread.join(30.0)
    assert not thread.is_alive() and len(errors) == 1
    assert not server.alive and "stopped" in repr(server)
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/fast", timeout=SHORT)


def test_a_forgotten_server_stops_at_interpreter_exit() -> None:
    script = textwrap.dedent(
        """
        import socket, threading
        from course_lib.loopback import LoopbackServer
        server = LoopbackServer()
        sent = threading.Event()

        def hang():  # a client waiting on /hang: as little Python as can run at exit
            with socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1]))) as s:
                s.sendall(b"GET /hang HTTP/1.1\\r\\nHost: loopback\\r\\n\\r\\n")
                sent.set()
                s.recv(1)

        threading.Thread(target=hang, daemon=True).start()
        sent.wait(10)
        print(server.url, flush=True)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    url = done.stdout.strip()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/fast", timeout=SHORT)


def test_a_service_runs_its_handler_and_reports_errors(client: httpx.Client) -> None:
    def handler(path: str, headers: object) -> tuple[int, dict[str, str], str]:
        if path == "/boom":
            raise KeyError("boom")
        return 201, {"x-echo": path}, "made"

    with LoopbackService("svc", handler) as service:
        answer = client.get(service.url + "/thing", timeout=5.0)
        assert (answer.status_code, answer.headers["x-echo"], answer.text) == (
            201,
            "/thing",
            "made",
        )
        broken = client.get(service.url + "/boom", timeout=5.0)
        assert broken.status_code == 500 and "KeyError" in broken.text


def _budget_left(headers: dict[str, str], received_at: float, now: float, default: float) -> float:
    value = headers.get(loopback.DEADLINE_HEADER)
    budget = int(value) / 1000 if value is not None else default
    return max(0.0, budget - (now - received_at))


def _forward(left: float) -> dict[str, str]:
    ms = int(left * 1000)
    if ms <= 0:
        raise DeadlineExceeded("no time left")
    return {loopback.DEADLINE_HEADER: str(ms)}


def test_chain_stops_when_the_budget_is_spent_and_finishes_when_it_fits() -> None:
    short = run_chain(_budget_left, _forward, 300, (0.1, 0.1, 0.15))
    assert short.status == 504 and short.error is None
    assert [hop.name for hop in short.hops] == ["A", "B", "C"]
    assert short.hops[0].forwarded is not None and int(short.hops[0].forwarded) < 300
    assert any(hop.outcome in ("stopped", "no time to call") for hop in short.hops)
    assert "gave up waiting" not in {hop.outcome for hop in short.hops}
    long = run_chain(_budget_left, _forward, 3000, (0.02, 0.02, 0.02))
    assert (long.status, [hop.outcome for hop in long.hops]) == (200, ["called on"] * 2 + ["done"])
    budgets = [hop.budget_ms for hop in long.hops]
    assert all(b is not None for b in budgets)
    assert budgets == sorted(budgets, reverse=True), "the budget only shrinks along the chain"


def test_chain_reports_a_student_function_that_raises() -> None:
    def not_written(*args: object) -> float:
        raise NotImplementedError("Not written yet")

    run = run_chain(not_written, _forward, 300, (0.01, 0.01))
    assert run.status == 500 and run.error is not None
    assert run.error.startswith("NotImplementedError")
