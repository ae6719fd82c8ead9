"""Visible checks for notebook 04, "Timeouts and deadlines".

One check per exercise (the student's piece -> its check):

1. ``timeout_settings`` (every phase of an HTTP call bounded) -> :func:`check_settings`
2. ``read_body`` (a total deadline against the drip) -> :func:`check_read_body`
3. ``choose_timeout`` (a percentile of the latencies) -> :func:`check_choose_timeout`
4. ``budget_left`` (the budget a request brings, minus the time spent) -> :func:`check_budget_left`
5. ``forward_headers`` (the deadline travels to the next hop) -> :func:`check_forward_headers`
6. ``fetch_within`` (asyncio timeout; the cleanup runs when cancelled) -> :func:`check_fetch_within`

Each exercise's *problem* function runs the student's code on one scenario and
returns what went wrong, or ``None``; the visible checks run fixed scenarios,
the hidden graders (instructor side) the same problem functions on reproducible,
generated ones and on the real loopback servers of :mod:`course_lib.loopback`.

Student code is only called, never trusted: it gets plain data and callables
made here, and every value compared goes through
:func:`~course_lib.checks.kit.plain`. Scenarios 2, 4 and 5 run on a fake clock
(whole milliseconds, so the arithmetic has no float surprises); 6 runs the
student's coroutine on an event loop of its own, in real time, with margins of
seconds (a 50 ms timeout against a 5 s request).
"""

from __future__ import annotations

import asyncio
import inspect
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from course_lib.checks.kit import CheckFailed, call, fail, plain, require
from course_lib.errors import DeadlineExceeded

__all__ = [
    "DEADLINE_HEADER",
    "PHASES",
    "AsyncOutcome",
    "Drip",
    "allowed_slower",
    "budget_problem",
    "check_budget_left",
    "check_choose_timeout",
    "check_fetch_within",
    "check_forward_headers",
    "check_read_body",
    "check_settings",
    "choose_problem",
    "expected_choice",
    "fetch_problem",
    "forward_problem",
    "settings_error_problem",
    "read_body_problem",
    "run_fetch",
    "settings_problem",
]

PHASES = ("connect", "read", "write", "pool")
"""The four phases of an HTTP call that httpx bounds, in ``httpx.Timeout``'s order."""

DEADLINE_HEADER = "x-deadline-ms"
"""The header that carries the remaining budget, in whole milliseconds."""


def _fmt(seconds: float) -> str:
    return f"{seconds:g} s"


# --- exercise 1: every phase bounded -------------------------------------------------------


def expected_settings(connect: float, read: float) -> dict[str, float]:
    """The exercise's rule: connect and read as given, write like read, pool like connect."""
    return {"connect": connect, "read": read, "write": read, "pool": connect}


def settings_problem(timeout_settings: Any, connect: float, read: float) -> str | None:
    """Ask ``timeout_settings(connect=..., read=...)``; what is wrong with its answer, or None."""
    what = f"timeout_settings(connect={connect!r}, read={read!r})"
    got = call(what, timeout_settings, connect=connect, read=read)
    if not isinstance(got, dict):
        return f"{what} should return a dict with the keys {', '.join(PHASES)}, got {got!r}"
    keys = sorted(plain(key, f"a key of {what}", "text") for key in got)
    if keys != sorted(PHASES):
        return f"{what} should have exactly the keys {', '.join(PHASES)}, it has {keys}"
    want = expected_settings(connect, read)
    for phase in PHASES:
        value = plain(got[phase], f"{what}[{phase!r}]", "number", none=True)
        if value is None:
            return (
                f"{what}[{phase!r}] is None: httpx then waits forever in that phase. "
                f"Every phase needs a limit ({phase} should be {want[phase]!r})"
            )
        if value != want[phase]:
            hint = ""
            if phase == "connect" and value == read:
                hint = " (that is the read timeout: connecting gets its own, shorter limit)"
            return f"{what}[{phase!r}] should be {want[phase]!r}, got {value!r}{hint}"
    return None


def settings_error_problem(timeout_settings: Any, connect: Any, read: Any) -> str | None:
    """A bad limit must be a ValueError whose message names the bad parameter."""
    bad = "connect" if not _is_limit(connect) else "read"
    what = f"timeout_settings(connect={connect!r}, read={read!r})"
    try:
        got = timeout_settings(connect=connect, read=read)
    except NotImplementedError:
        raise
    except ValueError as error:
        if bad not in str(error):
            return f"{what} raised ValueError({str(error)!r}), but the message should name {bad}"
        return None
    except Exception as error:  # noqa: BLE001 - reported to the student
        return f"{what} should raise ValueError naming {bad}, it raised {type(error).__name__}"
    return f"{what} should raise ValueError naming {bad} (no limit is no timeout), got {got!r}"


def _is_limit(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value) and value > 0


BAD_LIMITS: tuple[Any, ...] = (None, 0, -1.0, float("inf"), float("nan"))
"""Values that are no limit: each must be refused with a ValueError."""


def check_settings(timeout_settings: Any) -> None:
    """Visible check for exercise 1: the module's typical values, and bad limits refused."""
    for connect, read in ((1.0, 5.0), (2.0, 3.0), (0.5, 0.25)):
        require(settings_problem(timeout_settings, connect, read))
    for bad in (None, 0, float("inf")):
        require(settings_error_problem(timeout_settings, bad, 5.0))
        require(settings_error_problem(timeout_settings, 1.0, bad))
    print(
        "✓ timeout_settings bounds every phase (write like read, pool like connect) and "
        "refuses a limit that is None, 0 or infinite with a ValueError naming it"
    )


# --- exercise 2: the drip ------------------------------------------------------------------


@dataclass
class Drip:
    """A response body arriving in chunks on a fake clock (milliseconds, exact).

    ``gaps_ms[i]`` is the silence before chunk ``i``; after the last chunk the
    end of the body comes at once. ``read_chunk(timeout)`` waits at most
    ``timeout`` seconds: it moves the clock by the gap and returns the chunk, or
    by ``timeout`` and raises ``TimeoutError``.
    """

    gaps_ms: list[int]
    now_ms: int = 0
    given: int = 0
    waits: list[float] | None = None

    def clock(self) -> float:
        """Seconds, now."""
        return self.now_ms / 1000

    def read_chunk(self, timeout: Any) -> str:
        """The next chunk (``""`` at the end), waiting at most ``timeout`` seconds."""
        timeout = plain(timeout, "the timeout read_body passed to read_chunk", "number")
        if self.waits is None:
            self.waits = []
        self.waits.append(timeout)
        if timeout <= 0:
            raise CheckFailed(f"read_body called read_chunk({timeout!r}): a wait must be > 0")
        if self.given >= len(self.gaps_ms):
            return ""
        gap = self.gaps_ms[self.given]
        limit_ms = timeout * 1000
        if gap > limit_ms:
            self.now_ms += math.ceil(limit_ms - 1e-6)
            raise TimeoutError(f"no byte within {_fmt(timeout)}")
        self.now_ms += gap
        self.given += 1
        return "x"


def _describe_drip(gaps_ms: Sequence[int]) -> str:
    if not gaps_ms:
        return "an empty body"
    shown = ", ".join(str(g) for g in gaps_ms[:8]) + (", ..." if len(gaps_ms) > 8 else "")
    return f"{len(gaps_ms)} chunk(s) arriving after gaps of [{shown}] ms"


def read_body_problem(
    read_body: Any, gaps_ms: Sequence[int], read_timeout_ms: int, total_ms: int
) -> str | None:
    """Run ``read_body`` on one drip; what is wrong, or None.

    The expected outcome: the body (one ``"x"`` per chunk) if no gap exceeds the
    per-read timeout and the whole body arrives within ``total``; otherwise a
    ``TimeoutError`` raised no later than the total deadline, and no read asked
    to wait past it.
    """
    drip = Drip(list(gaps_ms))
    read_timeout, total = read_timeout_ms / 1000, total_ms / 1000
    what = (
        f"read_body(read_chunk, clock, read_timeout={read_timeout:g}, total={total:g}) "
        f"on {_describe_drip(gaps_ms)}"
    )
    arrival, in_time = 0, True
    for gap in gaps_ms:
        if gap > read_timeout_ms or arrival + gap > total_ms:
            in_time = False
            break
        arrival += gap
    try:
        got = read_body(drip.read_chunk, drip.clock, read_timeout, total)
    except NotImplementedError:
        raise
    except CheckFailed:
        raise
    except TimeoutError:
        got = TimeoutError
    except Exception as error:  # noqa: BLE001 - reported to the student
        return f"{what} raised {type(error).__name__}: {error}"
    if in_time:
        if got is TimeoutError:
            return f"{what} raised TimeoutError, but the body was complete at {arrival} ms"
        got = plain(got, f"what {what} returned", "text")
        if got != "x" * len(gaps_ms):
            return f"{what} should return the {len(gaps_ms)} chunk(s) joined, got {got!r}"
        return None
    if got is not TimeoutError:
        return (
            f"{what} returned after {drip.now_ms} ms: it should raise TimeoutError by "
            f"{total_ms} ms. Each read was quick, so only a total deadline stops a drip"
        )
    if drip.now_ms > total_ms:
        return (
            f"{what} raised TimeoutError only at {drip.now_ms} ms, past its total deadline "
            f"of {total_ms} ms: each read may wait at most the time left"
        )
    return None


def check_read_body(read_body: Any) -> None:
    """Visible check for exercise 2: a quick body, a silence, and the drip."""
    require(read_body_problem(read_body, [10, 10, 10], 500, 1000))
    require(read_body_problem(read_body, [], 500, 1000))
    require(read_body_problem(read_body, [10, 900], 500, 1000))  # a silence: a read timeout
    require(read_body_problem(read_body, [400] * 10, 500, 1000))  # the drip
    require(read_body_problem(read_body, [400, 400, 150, 400], 500, 1000))
    print(
        "✓ read_body returns a quick body, stops at a silence longer than the read timeout, "
        "and stops a drip at its total deadline"
    )


# --- exercise 3: a timeout from the latencies ---------------------------------------------


def allowed_slower(n: int, rate: float) -> int:
    """The most samples out of ``n`` that may be slower: the largest k with ``k / n <= rate``.

    This is the exercise's rule, ``slower / len(latencies) <= false_timeout_rate``
    (the quotient ``k / n`` rounds to the same float as the rate when they are the
    same decimal, which ``rate * n`` does not: ``0.29 * 100`` is 28.999...).
    """
    return max(k for k in range(n + 1) if k / n <= rate)


def expected_choice(latencies: Sequence[float], rate: float) -> float:
    """The smallest sample with ``slower / n <= rate`` (``slower``: samples strictly slower)."""
    ordered = sorted(latencies)
    n = len(ordered)
    for value in ordered:
        slower = sum(1 for x in ordered if x > value)
        if slower / n <= rate:
            return value
    raise AssertionError("unreachable: the largest sample has none slower")  # pragma: no cover


def choose_problem(choose_timeout: Any, latencies: Sequence[float], rate: float) -> str | None:
    """Ask ``choose_timeout(latencies, rate)``; what is wrong with the answer, or None."""
    n = len(latencies)
    what = f"choose_timeout(<{n} latencies>, false_timeout_rate={rate!r})"
    got = plain(
        call(what, choose_timeout, list(latencies), rate), f"what {what} returned", "number"
    )
    want = expected_choice(latencies, rate)
    if got == want:
        return None
    slower = sum(1 for x in latencies if x > got)
    shown = sorted(latencies)
    tail = ", ".join(f"{x:g}" for x in shown[-6:])
    return (
        f"{what} should be {want:g} (slower / {n} <= {rate:g}: at most "
        f"{allowed_slower(n, rate)} samples slower), got {got:g}, which {slower} sample(s) "
        f"exceed (the slowest: {tail})"
    )


def choose_error_problem(choose_timeout: Any, latencies: Any, rate: Any, name: str) -> str | None:
    """Bad input must be a ValueError naming ``name``."""
    what = f"choose_timeout({latencies!r}, false_timeout_rate={rate!r})"
    try:
        got = choose_timeout(latencies, rate)
    except NotImplementedError:
        raise
    except ValueError as error:
        if name not in str(error):
            return f"{what} raised ValueError({str(error)!r}), but the message should name {name}"
        return None
    except Exception as error:  # noqa: BLE001 - reported to the student
        return f"{what} should raise ValueError naming {name}, it raised {type(error).__name__}"
    return f"{what} should raise ValueError naming {name}, got {got!r}"


def check_choose_timeout(choose_timeout: Any) -> None:
    """Visible check for exercise 3: the exercise's example, ties, bad input."""
    example = [0.01 * (i + 1) for i in range(8)]  # 10 ms ... 80 ms
    for rate in (0.25, 0.125, 0.5):
        require(choose_problem(choose_timeout, example, rate))
    require(choose_problem(choose_timeout, [0.2, 0.1, 0.1, 0.1], 0.5))
    require(choose_problem(choose_timeout, [0.3], 0.25))
    one_to_hundred = [(i + 1) / 1000 for i in range(100)]  # 1 ms ... 100 ms
    require(choose_problem(choose_timeout, one_to_hundred, 0.29))  # 0.29 * 100 < 29
    require(choose_error_problem(choose_timeout, [], 0.25, "latencies"))
    for bad in (0, 1, -0.5, 1.5):
        require(choose_error_problem(choose_timeout, example, bad, "false_timeout_rate"))
    print(
        "✓ choose_timeout picks the smallest latency that at most that share of the samples "
        "exceed, and refuses an empty list or a rate outside (0, 1)"
    )


# --- exercise 4: the budget left ------------------------------------------------------------


def expected_budget(
    headers: dict[str, str], received_ms: int, now_ms: int, default: float
) -> float:
    """Seconds left (exact for whole milliseconds), never below 0."""
    if DEADLINE_HEADER in headers:
        budget = Fraction(int(headers[DEADLINE_HEADER]), 1000)
    else:
        budget = Fraction(default)
    left = budget - Fraction(now_ms - received_ms, 1000)
    return float(max(left, Fraction(0)))


def budget_problem(
    budget_left: Any, headers: dict[str, str], received_ms: int, now_ms: int, default: float
) -> str | None:
    """Ask ``budget_left``; what is wrong with its answer, or None."""
    received, now = received_ms / 1000, now_ms / 1000
    what = f"budget_left({headers!r}, received_at={received:g}, now={now:g}, default={default:g})"
    got = plain(
        call(what, budget_left, dict(headers), received, now, default),
        f"what {what} returned",
        "number",
    )
    want = expected_budget(headers, received_ms, now_ms, default)
    if math.isclose(got, want, rel_tol=0, abs_tol=1e-9):
        return None
    spent = now - received
    budget = int(headers[DEADLINE_HEADER]) / 1000 if DEADLINE_HEADER in headers else default
    hint = ""
    if math.isclose(got, budget, abs_tol=1e-9) and spent > 0:
        hint = f": the {spent:g} s this service has spent since the request came are not subtracted"
    elif got < 0:
        hint = ": no time left is 0, never negative"
    return f"{what} should be {want:g} s, got {got:g}{hint}"


def check_budget_left(budget_left: Any) -> None:
    """Visible check for exercise 4: Google SRE's chain, no header, a spent budget."""
    require(budget_problem(budget_left, {DEADLINE_HEADER: "30000"}, 0, 0, 10.0))
    require(budget_problem(budget_left, {DEADLINE_HEADER: "30000"}, 1000, 8000, 10.0))
    require(budget_problem(budget_left, {DEADLINE_HEADER: "23000"}, 500, 4500, 10.0))
    require(budget_problem(budget_left, {}, 2000, 2250, 1.5))
    require(budget_problem(budget_left, {"accept": "text/plain"}, 0, 0, 2.0))
    require(budget_problem(budget_left, {DEADLINE_HEADER: "300"}, 0, 450, 10.0))
    print(
        "✓ budget_left reads the budget in milliseconds from the header (or takes the default), "
        "subtracts the time already spent here, and stops at 0"
    )


# --- exercise 5: pass the deadline on ------------------------------------------------------


def forward_problem(forward_headers: Any, left: float) -> str | None:
    """Ask ``forward_headers(left)``; what is wrong, or None.

    At least 1 ms left: a dict whose ``x-deadline-ms`` is the whole milliseconds
    left, as text, rounded down (the next hop must not get more time than there
    is; ``math.floor(left * 1000)`` in floats or exactly, either is accepted).
    Less than 1 ms left: ``DeadlineExceeded`` (do not call the next hop at all).
    """
    what = f"forward_headers({left!r})"
    accepted = {math.floor(left * 1000), math.floor(Fraction(left) * 1000)}
    if max(accepted) <= 0:
        try:
            got = forward_headers(left)
        except NotImplementedError:
            raise
        except DeadlineExceeded:
            return None
        except Exception as error:  # noqa: BLE001 - reported to the student
            return (
                f"{what} should raise DeadlineExceeded (less than 1 ms left: do not call the "
                f"next service), it raised {type(error).__name__}: {error}"
            )
        return (
            f"{what} should raise DeadlineExceeded (less than 1 ms left: do not call the next "
            f"service), got {got!r}"
        )
    got = call(what, forward_headers, left)
    if not isinstance(got, dict) or DEADLINE_HEADER not in got:
        return (
            f"{what} should return headers with {DEADLINE_HEADER!r}: without it the next "
            f"service does not know the deadline and may work long after the caller gave up "
            f"(got {got!r})"
        )
    value = plain(got[DEADLINE_HEADER], f"{what}[{DEADLINE_HEADER!r}]", "text")
    if value not in {str(ms) for ms in accepted}:
        want = str(min(accepted))
        return (
            f"{what}[{DEADLINE_HEADER!r}] should be {want!r} (whole milliseconds, rounded down: "
            f"never promise the next hop more time than there is), got {value!r}"
        )
    return None


def check_forward_headers(forward_headers: Any) -> None:
    """Visible check for exercise 5: whole milliseconds, rounding down, no time left."""
    for left in (23.0, 19.0, 0.001, 0.25, 0.2509, 0.0, -0.005, 0.0004):
        require(forward_problem(forward_headers, left))
    print(
        f"✓ forward_headers puts the time left into {DEADLINE_HEADER} (whole ms, rounded "
        "down) and raises DeadlineExceeded when less than 1 ms is left"
    )


# --- exercise 6: asyncio, cancellation and cleanup ------------------------------------------


@dataclass
class AsyncOutcome:
    """What one run of ``fetch_within`` did, as plain data."""

    result: str  # "ok", "timeout", "cancelled", or "raised <Type>: <message>"
    acquired: list[int]
    released: list[int]
    # what had been given back when the coroutine first paused after acquire() (the
    # request's await), or None if it never paused on a running event loop after it
    released_when_waiting: list[int] | None = None


class _Pool:
    """A connection pool that counts: ``acquire()`` hands out numbers, ``release(n)`` takes them.

    ``acquire()`` also asks the running event loop (``aio``'s, the asyncio module
    of the process the coroutine runs in) to look at the pool at its next turn:
    the first time the coroutine pauses after taking its connection, which is the
    request's ``await``. A connection given back before that was not held while
    the request ran. Nothing is timed: it is the loop's order of work.
    """

    def __init__(self) -> None:
        self.acquired: list[int] = []
        self.released: list[int] = []
        self.released_when_waiting: list[int] | None = None
        self.aio: Any = asyncio

    def acquire(self) -> int:
        self.acquired.append(len(self.acquired) + 1)
        if len(self.acquired) == 1:
            try:
                loop = self.aio.get_running_loop()
            except RuntimeError:  # called outside the coroutine: nothing to look at
                pass
            else:
                loop.call_soon(self._look)
        return self.acquired[-1]

    def _look(self) -> None:
        self.released_when_waiting = list(self.released)

    def release(self, connection: Any) -> None:
        self.released.append(plain(connection, "the connection given to release", "whole number"))


def _drive(aio: Any, coroutine: Any, cancel_after: float | None) -> str:
    """Run ``coroutine`` to its end with the asyncio module ``aio``; what happened, as text.

    With ``cancel_after``, the caller gives up after that many seconds
    (``asyncio.wait_for``): it cancels the coroutine, which must let the
    cancellation through (``wait_for`` then raises ``TimeoutError``: "cancelled").
    """
    try:
        if cancel_after is None:
            result = aio.run(coroutine)
        else:
            result = aio.run(aio.wait_for(coroutine, cancel_after))
    except TimeoutError:
        if cancel_after is not None:
            return "cancelled"
        return "raised TimeoutError (asyncio.timeout's TimeoutError should become 'timeout')"
    except (NotImplementedError, CheckFailed):
        raise
    except Exception as error:  # noqa: BLE001 - reported to the student
        return f"raised {type(error).__name__}: {error}"
    return result if type(result) is str else repr(result)


def _run_here(coroutine: Any, cancel_after: float | None, limit: float) -> str:
    """On an event loop of its own, in a short-lived thread (a kernel already runs one)."""
    box: list[Any] = []

    def work() -> None:
        try:
            box.append(_drive(asyncio, coroutine, cancel_after))
        except BaseException as error:  # noqa: BLE001 - re-raised below
            box.append(error)

    thread = threading.Thread(target=work, name="check-fetch-within", daemon=True)
    thread.start()
    thread.join(limit)
    if not box:
        fail("fetch_within did not finish: does it wait for the whole request?")
    if isinstance(box[0], BaseException):
        raise box[0]
    return str(box[0])


def run_fetch(
    fetch_within: Any, delay: float, seconds: float, cancel_after: float | None
) -> AsyncOutcome:
    """Run the student's ``fetch_within`` once with a counting pool; what happened.

    A coroutine made here runs on an event loop of its own thread. A stand-in
    for a coroutine that lives in another Python process (the grader's sandbox
    runs student code apart) runs there, with that process's own ``asyncio``,
    reached through the coroutine's frame (``cr_frame.f_builtins``).
    """
    pool = _Pool()
    what = f"fetch_within(acquire, release, delay={delay:g}, seconds={seconds:g})"
    coroutine = call(what, fetch_within, pool.acquire, pool.release, delay, seconds)
    if inspect.iscoroutine(coroutine):
        result = _run_here(coroutine, cancel_after, delay + 10.0)
    else:
        try:
            aio = coroutine.cr_frame.f_builtins["__import__"]("asyncio")
        except Exception:  # noqa: BLE001 - not a coroutine at all
            fail(f"{what} should give a coroutine (write it with async def), got {coroutine!r}")
        pool.aio = aio
        result = _drive(aio, coroutine, cancel_after)
    result = plain(result, f"what {what} returned", "text")
    return AsyncOutcome(result, pool.acquired, pool.released, pool.released_when_waiting)


ASYNC_CASES: tuple[tuple[float, float, float | None, str], ...] = (
    (0.0, 5.0, None, "ok"),
    (5.0, 0.05, None, "timeout"),
    (5.0, 5.0, 0.05, "cancelled"),
)
"""``(delay, seconds, cancel_after, expected)``: quick, timed out, cancelled by its caller."""


def fetch_problem(
    outcome: AsyncOutcome, delay: float, seconds: float, cancel_after: float | None, want: str
) -> str | None:
    """What is wrong with one run (see :data:`ASYNC_CASES`), or None."""
    what = f"fetch_within(acquire, release, delay={delay:g}, seconds={seconds:g})"
    if cancel_after is not None:
        what += f", cancelled by its caller after {cancel_after:g} s,"
    if outcome.result != want:
        extra = ""
        if want == "cancelled":
            extra = " (a cancellation must reach the caller: clean up, then let it go on)"
        return f"{what} should end with {want!r}, got {outcome.result!r}{extra}"
    if len(outcome.acquired) != 1:
        return f"{what} should acquire one connection, it acquired {len(outcome.acquired)}"
    if outcome.released_when_waiting:
        return (
            f"{what} gave its connection back before the request ran: release("
            f"{outcome.released_when_waiting[0]}) came before await asyncio.sleep({delay:g}). "
            "Keep the connection until the request is over (finished, timed out or "
            "cancelled): given back early, the pool hands it to another caller while this "
            "request still uses it"
        )
    if outcome.released != outcome.acquired:
        how = "was cancelled" if want != "ok" else "finished"
        return (
            f"{what} {how} but gave back {outcome.released} instead of the connection "
            f"{outcome.acquired}: a connection not released on every path leaks"
        )
    return None


def check_fetch_within(fetch_within: Any) -> None:
    """Visible check for exercise 6: a quick request, a timed-out one, a cancelled one."""
    for delay, seconds, cancel_after, want in ASYNC_CASES:
        outcome = run_fetch(fetch_within, delay, seconds, cancel_after)
        require(fetch_problem(outcome, delay, seconds, cancel_after, want))
    print(
        "✓ fetch_within answers 'ok' or 'timeout', lets its caller's cancellation through, and "
        "keeps its connection while the request runs, then gives it back every time"
    )
