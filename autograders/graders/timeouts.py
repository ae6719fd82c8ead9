"""Hidden grading for notebook 04, "Timeouts and deadlines" (instructor side, not in the wheel).

The student's answers are plain logic: settings returned as plain values, a
body reader driven through callables, a percentile, budget arithmetic, header
encoding and one coroutine. Each grader runs the exercise's problem function
from :mod:`course_lib.checks.timeouts` on many seeded, generated scenarios
(:func:`~course_lib.checks.kit.find_divergence`, the shortest failing one is
reported), then puts the student's code to work against **real loopback
servers** (:mod:`course_lib.loopback`) started here, in the trusted grading
process. (The sandbox has its own network namespace: a server the grader
starts is not reachable from the student's code, so the sockets stay on this
side and the student's functions are called across the proxy.) Every server is
stopped before the grader returns, and every wait is bounded.

1. :func:`grade_settings`: generated limits; then httpx with the student's
   settings gets a ``ConnectTimeout`` from a listener that never accepts and a
   ``ReadTimeout`` from an endpoint that never answers.
2. :func:`grade_read_body`: generated drips on a fake clock; then the real
   drip, one byte every 50 ms, read through a socket with a per-read timeout.
3. :func:`grade_choose_timeout`: generated latency samples and rates, and the
   rates whose product with the count falls a hair short of a whole number.
4. :func:`grade_budget_left` and 5. :func:`grade_forward_headers`: generated
   headers and times; then the chain A -> B -> C of three real services that
   carry the budget in the ``x-deadline-ms`` header, each one stopping work
   once its budget is spent. Each grader uses the student's piece with the
   course's other piece, so one bug costs one exercise.
6. :func:`grade_fetch_within`: the coroutine, run on an event loop inside the
   student's own process (:func:`course_lib.checks.timeouts.run_fetch`; a quick
   request, a timed-out one, one cancelled by its caller); the connection pool
   stays here, counts, and looks at the first pause after ``acquire()`` (the
   request's ``await``) that the connection is still taken.
"""

from __future__ import annotations

import math
import random
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import httpx

from autograders.graders._pristine import refuse_reference
from course_lib.checks.kit import CheckFailed, call, fail, find_divergence, plain, require
from course_lib.checks.timeouts import (
    ASYNC_CASES,
    BAD_LIMITS,
    DEADLINE_HEADER,
    budget_problem,
    choose_error_problem,
    choose_problem,
    fetch_problem,
    forward_problem,
    read_body_problem,
    run_fetch,
    settings_error_problem,
    settings_problem,
)
from course_lib.errors import DeadlineExceeded
from course_lib.loopback import LoopbackServer, run_chain

__all__ = [
    "grade_budget_left",
    "grade_choose_timeout",
    "grade_fetch_within",
    "grade_forward_headers",
    "grade_read_body",
    "grade_settings",
]

SHORT = 0.1
"""Seconds: the timeout under test on real sockets."""
LONG = 3.0
"""Seconds: a limit that must not be the one that fires."""


def _client() -> httpx.Client:
    # trust_env=False: a proxy from the environment must not intercept loopback calls.
    return httpx.Client(trust_env=False)


# --- exercise 1 ---------------------------------------------------------------------------


def grade_settings(timeout_settings: Any, *, scenarios: int = 60, seed: int = 1441) -> None:
    """Hidden grading for exercise 1: generated limits, bad limits, then real sockets."""
    refuse_reference(timeout_settings, "timeout_settings")
    limits = (0.05, 0.1, 0.25, 0.5, 1, 1.0, 1.5, 2.0, 3, 5.0, 10.0, 30.0)

    def generate(rng: random.Random) -> tuple[float, float]:
        return rng.choice(limits), rng.choice(limits)

    require(
        find_divergence(
            lambda s: settings_problem(timeout_settings, *s),
            generate,
            scenarios=scenarios,
            seed=seed,
        )
    )
    for bad in (*BAD_LIMITS, -0.5):
        require(settings_error_problem(timeout_settings, bad, 5.0))
        require(settings_error_problem(timeout_settings, 1.0, bad))
    # Real sockets: the student's settings, given to httpx, must cut each phase.
    settings = call(
        f"timeout_settings(connect={SHORT}, read={LONG})",
        timeout_settings,
        connect=SHORT,
        read=LONG,
    )
    connect_first = httpx.Timeout(**{k: plain(v, k, "number") for k, v in settings.items()})
    settings = call(
        f"timeout_settings(connect={LONG}, read={SHORT})",
        timeout_settings,
        connect=LONG,
        read=SHORT,
    )
    read_first = httpx.Timeout(**{k: plain(v, k, "number") for k, v in settings.items()})
    with LoopbackServer("grader-04") as server, _client() as client:
        for url, timeout, want, phase in (
            (server.blackhole_url, connect_first, httpx.ConnectTimeout, "connect"),
            (server.url + "/hang", read_first, httpx.ReadTimeout, "read"),
        ):
            try:
                client.get(url, timeout=timeout)
                got = "an answer"
            except httpx.TimeoutException as error:
                got = type(error).__name__
            if got != want.__name__:
                fail(
                    f"httpx with your settings against a server whose {phase} never completes "
                    f"raised {got}, expected {want.__name__}"
                )
        answer = client.get(server.url + "/fast", timeout=connect_first)
        if answer.text != "ok":  # pragma: no cover - the server's own fault
            fail(f"the loopback server answered {answer.text!r}")


# --- exercise 2 ---------------------------------------------------------------------------


def _random_drip(rng: random.Random) -> tuple[list[int], int, int]:
    """Gaps (ms), read timeout and total (ms), never on a boundary (no float ties)."""
    read_timeout = rng.choice([100, 200, 500, 1000])
    total = rng.choice([300, 1000, 2000, 5000])
    kind = rng.random()
    count = rng.randint(0, 12)
    if kind < 0.35:  # quick
        gaps = [rng.randint(1, read_timeout // 10) for _ in range(count)]
    elif kind < 0.7:  # a drip: each gap below the read timeout
        gaps = [rng.randint(read_timeout // 2, read_timeout - 7) for _ in range(count + 4)]
    else:  # one silence
        gaps = [rng.randint(1, read_timeout - 7) for _ in range(count)]
        gaps.insert(rng.randint(0, len(gaps)), read_timeout + rng.randint(7, 300))
    return _off_boundary(gaps, read_timeout, total), read_timeout, total


def _off_boundary(gaps: list[int], read_timeout: int, total: int) -> list[int]:
    """Move an arrival that falls within 3 ms of the total deadline a little earlier."""
    out, arrival = [], 0
    for gap in gaps:
        if abs(arrival + gap - total) <= 3 and gap > 7:
            gap -= 7
        if abs(gap - read_timeout) <= 3:
            gap -= 7
        out.append(max(gap, 1))
        arrival += out[-1]
    return out


def _smaller_drips(scenario: tuple[list[int], int, int]) -> Iterator[tuple[list[int], int, int]]:
    gaps, read_timeout, total = scenario
    for start in range(len(gaps)):
        shorter = gaps[:start] + gaps[start + 1 :]
        yield _off_boundary(shorter, read_timeout, total), read_timeout, total


class _SocketBody:
    """A real HTTP response body read one ``recv`` at a time, each with its own timeout."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split("/")[0].split(":")
        path = "/" + url.removeprefix("http://").split("/", 1)[1]
        self.sock = socket.create_connection((host, int(port)), timeout=LONG)
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            head += chunk
        head, _, self.early = head.partition(b"\r\n\r\n")
        length = [
            line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        ]
        self.left = int(length[0].split(b":")[1]) - len(self.early) if length else 0

    def read_chunk(self, timeout: Any) -> str:
        timeout = plain(timeout, "the timeout read_body passed to read_chunk", "number")
        if timeout <= 0:
            raise CheckFailed(f"read_body called read_chunk({timeout!r}): a wait must be > 0")
        if self.early:
            data, self.early = self.early, b""
            return data.decode()
        if self.left <= 0:
            return ""
        self.sock.settimeout(min(timeout, LONG))
        try:
            data = self.sock.recv(min(self.left, 4096))
        except TimeoutError:
            raise TimeoutError(f"no byte within {timeout:g} s") from None
        self.left -= len(data)
        return data.decode()

    def close(self) -> None:
        self.sock.close()


def _real_drip(read_body: Any, url: str, read_timeout: float, total: float) -> str | BaseException:
    body = _SocketBody(url)
    try:
        return call("read_body", read_body, body.read_chunk, time.monotonic, read_timeout, total)  # type: ignore[no-any-return]
    except CheckFailed as error:
        if "raised TimeoutError" in str(error) or "raised DeadlineExceeded" in str(error):
            return TimeoutError()
        raise
    finally:
        body.close()


def grade_read_body(read_body: Any, *, scenarios: int = 120, seed: int = 1442) -> None:
    """Hidden grading for exercise 2: generated drips, then the real one on a socket."""
    refuse_reference(read_body, "read_body")
    require(
        find_divergence(
            lambda s: read_body_problem(read_body, *s),
            _random_drip,
            scenarios=scenarios,
            seed=seed,
            smaller=_smaller_drips,
        )
    )
    with LoopbackServer("grader-04") as server:
        quick = _real_drip(read_body, server.url + "/drip?bytes=3&interval=0.01", LONG, LONG)
        if quick != "...":
            fail(f"read_body on a real 3-byte body (one byte every 10 ms) gave {quick!r}")
        drip = _real_drip(read_body, server.url + "/drip?bytes=60&interval=0.05", 1.0, 0.3)
        if not isinstance(drip, TimeoutError):
            fail(
                "read_body(read_chunk, clock, read_timeout=1, total=0.3) on a real server "
                "sending one byte every 50 ms (3 s in all) returned instead of raising "
                "TimeoutError at 0.3 s"
            )


# --- exercise 3 ---------------------------------------------------------------------------

_RATES = (0.5, 0.25, 0.125, 0.1, 0.05, 0.01, 0.001, 0.29, 0.57, 0.58, 0.07)
"""Rates from the exercise, and decimals whose product with a count can come out a hair
below a whole number (``0.29 * 100`` is 28.999...): the rule is ``slower / n <= rate``."""

_FLOAT_TRAPS = ((0.57, 100), (0.58, 50), (0.29, 200))
"""(rate, n) where ``rate * n`` is just below the whole number ``k`` with ``k / n == rate``."""


def _random_latencies(rng: random.Random) -> tuple[list[float], float]:
    rate = rng.choice(_RATES)
    n = rng.choice([rng.randint(1, 12), rng.randint(20, 400), 50, 100, 200])
    shape = rng.random()
    latencies = []
    for _ in range(n):
        ms = rng.lognormvariate(math.log(40), 0.6) if shape < 0.7 else rng.choice([20, 30, 2000])
        latencies.append(round(ms) / 1000)
    return latencies, rate


def _fewer_samples(scenario: tuple[list[float], float]) -> Iterator[tuple[list[float], float]]:
    latencies, rate = scenario
    for size in (len(latencies) // 2, len(latencies) - 1):
        if size >= 1:
            yield latencies[:size], rate


def grade_choose_timeout(choose_timeout: Any, *, scenarios: int = 150, seed: int = 1443) -> None:
    """Hidden grading for exercise 3: generated latency samples and false-timeout rates."""
    refuse_reference(choose_timeout, "choose_timeout")
    require(choose_error_problem(choose_timeout, [], 0.01, "latencies"))
    for bad in (0, 0.0, 1, 1.0, -0.01, 2.0):
        require(choose_error_problem(choose_timeout, [0.1, 0.2], bad, "false_timeout_rate"))
    for rate, n in _FLOAT_TRAPS:  # distinct latencies, so the k / n == rate boundary matters
        require(choose_problem(choose_timeout, [(i + 1) / 1000 for i in range(n)], rate))
    require(
        find_divergence(
            lambda s: choose_problem(choose_timeout, *s),
            _random_latencies,
            scenarios=scenarios,
            seed=seed,
            smaller=_fewer_samples,
        )
    )


# --- exercises 4 and 5: the budget and the header, on a real chain ---------------------------


def _course_budget_left(
    headers: Mapping[str, str], received_at: float, now: float, default: float
) -> float:
    value = headers.get(DEADLINE_HEADER)
    budget = int(value) / 1000 if value is not None else default
    return max(0.0, budget - (now - received_at))


def _course_forward_headers(left: float) -> dict[str, str]:
    ms = math.floor(left * 1000)
    if ms <= 0:
        raise DeadlineExceeded("no time left for the next call")
    return {DEADLINE_HEADER: str(ms)}


_CHAIN_WORK = (0.05, 0.05, 0.08)
_WORK_TEXT = " + ".join(f"{w * 1000:g}" for w in _CHAIN_WORK) + " ms of work"


def _check_chain(
    budget_left: Callable[..., Any], forward_headers: Callable[..., Any], blame: str
) -> None:
    """The chain A -> B -> C on real services: a short budget stops it, a long one does not."""
    for budget_ms, want in ((150, 504), (3000, 200)):
        run = run_chain(budget_left, forward_headers, budget_ms, _CHAIN_WORK)
        if run.error is not None:
            fail(f"On three real services A -> B -> C, {run.error} ({blame})")
        if run.status != want:
            why = (
                ": some service kept working after the caller's deadline had passed"
                if want == 504
                else ""
            )
            fail(
                f"On three real services A -> B -> C, a request with a {budget_ms} ms budget "
                f"and {_WORK_TEXT} got {run.status} {run.body!r}, expected "
                f"{want}{why} ({blame})"
            )


def grade_budget_left(budget_left: Any, *, scenarios: int = 150, seed: int = 1444) -> None:
    """Hidden grading for exercise 4: generated headers and times, then the real chain."""
    refuse_reference(budget_left, "budget_left")

    def generate(rng: random.Random) -> tuple[dict[str, str], int, int, float]:
        headers: dict[str, str] = {}
        if rng.random() < 0.2:
            headers["accept"] = "*/*"
        if rng.random() < 0.75:
            headers[DEADLINE_HEADER] = str(rng.randint(1, 60000))
        received = rng.randint(0, 100000)
        spent = rng.choice([0, rng.randint(1, 500), rng.randint(1, 70000)])
        return headers, received, received + spent, rng.choice([0.5, 1.0, 2.0, 10.0, 30.0])

    require(
        find_divergence(
            lambda s: budget_problem(budget_left, *s), generate, scenarios=scenarios, seed=seed
        )
    )
    _check_chain(budget_left, _course_forward_headers, "your budget_left decides how much is left")


def grade_forward_headers(forward_headers: Any, *, scenarios: int = 150, seed: int = 1445) -> None:
    """Hidden grading for exercise 5: generated times left, then the real chain."""
    refuse_reference(forward_headers, "forward_headers")

    def generate(rng: random.Random) -> float:
        kind = rng.random()
        if kind < 0.5:
            return rng.randint(1, 60000) / 1000
        if kind < 0.8:
            return round(rng.uniform(0.0005, 60.0), rng.randint(3, 7))
        return rng.choice([0.0, -0.001, -2.5, 0.0004, 0.00099])

    require(
        find_divergence(
            lambda s: forward_problem(forward_headers, s), generate, scenarios=scenarios, seed=seed
        )
    )
    _check_chain(
        _course_budget_left, forward_headers, "your forward_headers passes the deadline on"
    )


# --- exercise 6 ---------------------------------------------------------------------------


def grade_fetch_within(fetch_within: Any) -> None:
    """Hidden grading for exercise 6: quick, timed out, cancelled by the caller, twice each."""
    refuse_reference(fetch_within, "fetch_within")
    cases = [*ASYNC_CASES, (0.0, 0.05, None, "ok"), (5.0, 0.05, 0.01, "cancelled")]
    for delay, seconds, cancel_after, want in cases:
        outcome = run_fetch(fetch_within, delay, seconds, cancel_after)
        require(fetch_problem(outcome, delay, seconds, cancel_after, want))
