"""Checks for notebook 02, "Bulkheads": one fixed scenario per exercise, plain-words messages.

Each exercise has a *problem* function (one scenario in, ``None`` or a sentence
out) and a visible ``check_*`` built on it. The hidden graders
(``autograders/graders/bulkhead.py``, instructor side) run the same problem
functions over many seeded scenarios, with the course's reference
:class:`course_lib.bulkhead.SemaphoreBulkhead` as the model.

The model a problem function compares with is passed in (``model``: anything
with ``try_acquire()``, ``release()`` and ``in_use``), so a visible check can
use a plain slot counter and a hidden grader the pristine reference.

Thread safety is checked **deterministically**: the student's bulkhead is given
a :class:`SteppedLock`-like lock (the notebook defines it) that calls back
*before* it is taken. At that moment the check runs a second caller's
``try_acquire()`` to the end, exactly as a thread switch there would, so a
bulkhead that checks for a free slot *outside* its lock and takes it inside is
caught every time, not one run in a thousand.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from course_lib.checks.kit import CheckFailed, call, fail, plain, require
from course_lib.clock import ManualClock
from course_lib.errors import BulkheadFullError

__all__ = [
    "SlotCounter",
    "check_call",
    "check_isolation",
    "check_littles_law",
    "check_pool",
    "check_semaphore",
    "check_thread_safety",
    "check_wait",
    "call_problem",
    "isolation_problem",
    "littles_law_problem",
    "pool_problem",
    "race_problem",
    "semaphore_problem",
    "wait_problem",
    "free_slot_problem",
]

#: Seconds: how far a time read on the manual clock may be from the expected one.
EPS = 1e-9


class SlotCounter:
    """The rule of a semaphore bulkhead, as a model: ``in_use < capacity`` admits one more."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.in_use = 0

    def try_acquire(self) -> bool:
        """Take a slot if one is free."""
        if self.in_use < self.capacity:
            self.in_use += 1
            return True
        return False

    def release(self) -> None:
        """Give a slot back (more releases than acquisitions: ``RuntimeError``)."""
        if self.in_use == 0:
            raise RuntimeError("release() without a slot")
        self.in_use -= 1


def _new(cls: Any, what: str, **kwargs: Any) -> Any:
    shown = ", ".join(f"{k}={v!r}" for k, v in kwargs.items() if not callable(v))
    return call(f"{what}({shown})", cls, **kwargs)


def _read(obj: Any, name: str, owner: str) -> int:
    try:
        value = getattr(obj, name)
    except AttributeError:
        raise CheckFailed(f"{owner} has no attribute {name!r}; the exercise asks for one") from None
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - reported to the student
        fail(f"reading {name} of {owner} raised {type(error).__name__}: {error}")
    return int(plain(value, f"{owner}.{name}", "whole number"))


def _after(done: Sequence[str], shown: str) -> str:
    """``"after try_acquire(), release() on a X"``, or ``"on a new X"`` when nothing was done."""
    return f"after {', '.join(done)} on a {shown}" if done else f"on a new {shown}"


def _model_step(model: Any, op: str) -> Any:
    """Run ``op`` on the model; ``True``/``False`` for try_acquire, ``"ok"``/``"error"`` release."""
    if op == "try_acquire":
        return bool(model.try_acquire())
    try:
        model.release()
    except RuntimeError:
        return "error"
    return "ok"


def _student_step(bulkhead: Any, op: str, history: str) -> Any:
    if op == "try_acquire":
        got = call(f"{history}, try_acquire()", bulkhead.try_acquire)
        return plain(got, f"{history}, try_acquire()'s answer", "True or False")
    try:
        bulkhead.release()
    except RuntimeError:
        return "error"
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - reported to the student
        fail(f"{history}, release() raised {type(error).__name__}: {error}")
    return "ok"


def _all_slots(capacity: int) -> str:
    """``"its only slot is"`` or ``"all 3 slots are"``."""
    return "its only slot is" if capacity == 1 else f"all {capacity} slots are"


def _calls(n: int) -> str:
    """``"1 call"`` or ``"3 calls"``."""
    return "1 call" if n == 1 else f"{n} calls"


def _possessive(name: str) -> str:
    """``"A's"``, but ``"payments'"``."""
    return f"{name}'" if name.endswith("s") else f"{name}'s"


def _explain(op: str, got: Any, expected: Any, in_use: int, capacity: int) -> str:
    if op == "try_acquire":
        if expected:
            return f"try_acquire() returned {got!r}; expected True ({in_use} of {capacity} in use)"
        return (
            f"try_acquire() returned {got!r}; expected False: {_all_slots(capacity)} in use, "
            "so a full bulkhead rejects at once"
        )
    if expected == "error":
        return "release() did not raise RuntimeError, although no slot was held"
    return f"release() raised RuntimeError, although {in_use} slot(s) were held"


# --- exercise 1: try_acquire / release ---------------------------------------------------


def semaphore_problem(
    bulkhead_cls: Any, capacity: int, ops: Sequence[str], model: Any
) -> str | None:
    """Run ``ops`` on ``bulkhead_cls(max_concurrent=capacity)`` and ``model``; first difference."""
    bulkhead = _new(bulkhead_cls, "SemaphoreBulkhead", max_concurrent=capacity)
    owner = f"your SemaphoreBulkhead(max_concurrent={capacity})"
    for count in range(len(ops) + 1):
        done = ops[:count]
        shown = f"SemaphoreBulkhead(max_concurrent={capacity})"
        history = _after([f"{op}()" for op in done], shown)
        if count:
            op = ops[count - 1]
            before = int(model.in_use)
            expected = _model_step(model, op)
            where = _after([f"{op}()" for op in done[:-1]], shown)
            got = _student_step(bulkhead, op, where)
            if got != expected:
                return f"{where}, {_explain(op, got, expected, before, capacity)}"
        in_use = _read(bulkhead, "in_use", owner)
        available = _read(bulkhead, "available", owner)
        if in_use != model.in_use:
            return f"{history}, in_use is {in_use}; expected {model.in_use}"
        if available != capacity - model.in_use:
            return (
                f"{history}, available is {available}; expected {capacity - model.in_use} "
                f"(max_concurrent - in_use)"
            )
    return None


def check_semaphore(bulkhead_cls: Any) -> None:
    """Visible check for exercise 1: fill two slots, get rejected, release, release too often."""
    ops = ["try_acquire", "try_acquire", "try_acquire", "release", "try_acquire"]
    require(semaphore_problem(bulkhead_cls, 2, ops, SlotCounter(2)))
    require(semaphore_problem(bulkhead_cls, 1, ["release"], SlotCounter(1)))
    for bad in (0, -1):
        try:
            bulkhead_cls(max_concurrent=bad)
        except ValueError as error:
            if "max_concurrent" not in str(error):
                fail(
                    f"SemaphoreBulkhead(max_concurrent={bad})'s ValueError should name "
                    "max_concurrent"
                )
        except NotImplementedError:
            raise
        except Exception as error:  # noqa: BLE001 - reported to the student
            fail(
                f"SemaphoreBulkhead(max_concurrent={bad}) raised {type(error).__name__}, "
                "not ValueError"
            )
        else:
            fail(f"SemaphoreBulkhead(max_concurrent={bad}) should raise ValueError")
    print(
        "✓ SemaphoreBulkhead admits max_concurrent calls, rejects the next one at once, "
        "frees a slot on release() and refuses a release() with nothing held"
    )


# --- exercise 2: thread safety, interleavings driven by the check ------------------------


def race_problem(
    bulkhead_cls: Any,
    lock_cls: Any,
    capacity: int,
    steps: Sequence[tuple[str, bool]],
    model: Any,
) -> str | None:
    """Run ``steps`` with a second caller cutting in at chosen moments; first difference.

    Each step is ``(op, cut_in)``: the first caller runs ``op``; when ``cut_in``
    is true, a second caller runs ``try_acquire()`` at the moment the first
    one is about to take the lock (the lock's ``before_acquire`` hook). A
    correct bulkhead behaves as if the second caller came first.
    """
    pending: list[bool] = []
    entries = [0]
    nested: list[Any] = []

    def before_acquire() -> None:
        entries[0] += 1
        if pending:
            pending.pop()
            try:
                got = bulkhead.try_acquire()
            except NotImplementedError:
                raise
            except Exception as error:  # noqa: BLE001 - reported below
                nested.append(error)
                return
            nested.append(got)

    lock = call("SteppedLock(before_acquire)", lock_cls, before_acquire)
    bulkhead = _new(bulkhead_cls, "SemaphoreBulkhead", max_concurrent=capacity, lock=lock)
    owner = f"your SemaphoreBulkhead(max_concurrent={capacity})"
    story: list[str] = []
    shown = f"SemaphoreBulkhead(max_concurrent={capacity})"
    for op, cut_in in steps:
        where = _after(story, shown)
        before = int(model.in_use)
        if cut_in:
            pending.append(True)
        nested.clear()
        entered = entries[0]
        got = _student_step(bulkhead, op, where)
        took_lock = entries[0] > entered
        if op == "try_acquire" and got is True and not took_lock:
            return (
                f"{where}, try_acquire() took a slot without taking self._lock: two threads "
                "could both see the last free slot. Check and take the slot inside "
                "`with self._lock:`"
            )
        if op == "release" and got == "ok" and not took_lock:
            return f"{where}, release() gave a slot back without taking self._lock"
        if cut_in and nested:
            second = nested[0]
            if isinstance(second, BaseException):
                return (
                    f"{where}, a second caller's try_acquire() (run just before the first "
                    f"caller took the lock) raised {type(second).__name__}: {second}"
                )
            second = plain(second, "try_acquire()'s answer", "True or False")
            expected_second = _model_step(model, "try_acquire")
            expected = _model_step(model, op)
            in_use = _read(bulkhead, "in_use", owner)
            if (second, got) != (expected_second, expected) or in_use != model.in_use:
                first = f"{op}()" if op == "release" else "try_acquire()"
                outcome = (
                    f"got {second!r} and {got!r}" if op == "try_acquire" else f"got {second!r}"
                )
                extra = (
                    f", so {in_use} calls were inside a bulkhead of {capacity}"
                    if in_use > capacity
                    else f"; in_use is now {in_use}, expected {model.in_use}"
                )
                return (
                    f"{where} ({before} of {capacity} slots in use), a first caller called "
                    f"{first} and, just before it took self._lock, a second caller called "
                    f"try_acquire(): they {outcome}{extra}. With threads this happens "
                    "whenever the scheduler switches there: check for a free slot and take "
                    "it inside one `with self._lock:` block"
                )
            story.append(f"{op}() with another caller's try_acquire() cutting in")
            continue
        if cut_in:
            pending.clear()
        expected = _model_step(model, op)
        if got != expected:
            return f"{where}, {_explain(op, got, expected, before, capacity)}"
        in_use = _read(bulkhead, "in_use", owner)
        if in_use != model.in_use:
            return f"{where}, then {op}(): in_use is {in_use}; expected {model.in_use}"
        story.append(f"{op}()")
    return None


def check_thread_safety(bulkhead_cls: Any, lock_cls: Any) -> None:
    """Visible check for exercise 2: a second caller cuts in for the last free slot."""
    steps = [("try_acquire", False), ("try_acquire", True), ("release", False)]
    require(race_problem(bulkhead_cls, lock_cls, 2, steps, SlotCounter(2)))
    print(
        "✓ two callers racing for the last slot: exactly one gets it (your check and your "
        "take happen under one lock)"
    )


# --- exercise 3: call(fn) ----------------------------------------------------------------


def call_problem(bulkhead_cls: Any, capacity: int, held: int, outcome: str) -> str | None:
    """``call(fn)`` with ``held`` of ``capacity`` slots taken; ``fn`` returns or raises.

    ``outcome`` is ``"return"`` or the name of a builtin exception ``fn`` raises.
    """
    bulkhead = _new(bulkhead_cls, "SemaphoreBulkhead", max_concurrent=capacity)
    for _ in range(held):
        call("try_acquire()", bulkhead.try_acquire)
    seen: list[int] = []
    owner = f"your SemaphoreBulkhead(max_concurrent={capacity})"

    def fn(x: int) -> int:
        seen.append(x)
        if outcome != "return":
            raise _builtin_error(outcome)
        return x * 2

    where = f"with {held} of {capacity} slots in use, call(fn, 21)"
    full = held >= capacity
    try:
        got = bulkhead.call(fn, 21)
    except BulkheadFullError:
        if not full:
            return f"{where} raised BulkheadFullError although a slot was free"
        if seen:
            return f"{where} called fn although the bulkhead was full"
        in_use = _read(bulkhead, "in_use", owner)
        if in_use != held:
            return f"{where} was rejected, but in_use is now {in_use}; expected {held}"
        return None
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - compared below
        if full:
            return (
                f"{where} raised {type(error).__name__}: {error}; expected BulkheadFullError "
                "(it is full)"
            )
        if outcome == "return" or type(error).__name__ != outcome:
            return f"{where} raised {type(error).__name__}: {error}; expected fn's own result"
        in_use = _read(bulkhead, "in_use", owner)
        if in_use != held:
            return (
                f"{where}: fn raised {outcome}, and afterwards in_use is {in_use}; expected "
                f"{held}. The slot must be given back even when fn raises (try/finally)"
            )
        return None
    if full:
        return f"{where} returned {got!r}; expected BulkheadFullError at once (it is full)"
    if outcome != "return":
        return f"{where} returned {got!r}, but fn raised {outcome}: let the error through"
    if plain(got, "call(fn, 21)'s answer", none=True) != 42:
        return f"{where} returned {got!r}; expected fn's result, 42"
    in_use = _read(bulkhead, "in_use", owner)
    if in_use != held:
        return f"{where} returned, but in_use is now {in_use}; expected {held} (release the slot)"
    return None


def _builtin_error(name: str) -> Exception:
    errors: dict[str, type[Exception]] = {
        "ValueError": ValueError,
        "TimeoutError": TimeoutError,
        "ConnectionError": ConnectionError,
        "KeyError": KeyError,
        "RuntimeError": RuntimeError,
    }
    return errors[name]("the dependency failed")


def check_call(bulkhead_cls: Any) -> None:
    """Visible check for exercise 3: a result, a full bulkhead, an error that must free the slot."""
    for capacity, held, outcome in [(2, 0, "return"), (1, 1, "return"), (2, 1, "TimeoutError")]:
        require(call_problem(bulkhead_cls, capacity, held, outcome))
    print(
        "✓ call(fn) returns fn's result, rejects at once when full without calling fn, and "
        "gives the slot back when fn raises"
    )


# --- exercise 4: a bounded wait on the injected clock ------------------------------------


def wait_problem(
    bulkhead_cls: Any, max_wait: float, poll: float, free_at: float | None
) -> str | None:
    """``acquire()`` on a full bulkhead of 1 slot; another caller frees it at ``free_at`` or never.

    The bulkhead runs on a :class:`~course_lib.clock.ManualClock`: its ``sleep``
    advances the clock, and releases the held slot once the clock reaches
    ``free_at``. Every sleep must be positive, at most ``poll`` seconds and
    end by the deadline (``max_wait`` after the call).
    """
    clock = ManualClock()
    problems: list[str] = []
    released = [False]
    calls = [0]
    setting = f"max_wait={max_wait:g}, poll_interval={poll:g}"
    if free_at is None:
        story = f"with its one slot held for good ({setting})"
    else:
        story = f"with its one slot held until t={free_at:g} s ({setting})"

    def sleep(seconds: Any) -> None:
        calls[0] += 1
        seconds = plain(seconds, "the seconds passed to sleep()", "number")
        now = clock.now()
        if max_wait <= 0:
            problems.append(
                f"with max_wait=0, acquire() must give up at once without calling sleep(); "
                f"it called sleep({seconds!r})"
            )
        elif seconds <= 0:
            problems.append(
                f"acquire() called sleep({seconds!r}) at t={now:g} s: sleep a positive time"
            )
        elif seconds > poll + EPS:
            problems.append(
                f"acquire() called sleep({seconds:g}) at t={now:g} s, longer than poll_interval "
                f"({poll:g} s): a slot freed meanwhile would wait for it"
            )
        elif now >= max_wait - EPS:
            problems.append(
                f"acquire() was still waiting at t={now:g} s, although max_wait is "
                f"{max_wait:g} s: give up with BulkheadFullError once max_wait has passed "
                "on self.now()"
            )
        elif now + seconds > max_wait + EPS:
            problems.append(
                f"acquire() called sleep({seconds:g}) at t={now:g} s, past its deadline "
                f"(max_wait={max_wait:g} s): sleep at most the time left"
            )
        elif calls[0] > 10_000:
            problems.append("acquire() called sleep() more than 10,000 times")
        if problems:
            raise TimeoutError("the check stopped this wait")
        clock.advance(seconds)
        if free_at is not None and not released[0] and clock.now() >= free_at - EPS:
            released[0] = True
            bulkhead.release()

    bulkhead = _new(
        bulkhead_cls,
        "SemaphoreBulkhead",
        max_concurrent=1,
        max_wait=max_wait,
        now=clock.now,
        sleep=sleep,
        poll_interval=poll,
    )
    if not plain(
        call("try_acquire()", bulkhead.try_acquire), "try_acquire()'s answer", "True or False"
    ):
        return "a new SemaphoreBulkhead(max_concurrent=1) refused its first try_acquire()"
    owner = "your SemaphoreBulkhead"
    returned: Any = None
    try:
        returned = bulkhead.acquire()
    except BulkheadFullError:
        outcome = "rejected"
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - reported to the student
        if problems:
            return f"on a bulkhead {story}, {problems[0]}"
        return f"on a bulkhead {story}, acquire() raised {type(error).__name__}: {error}"
    else:
        outcome = "admitted"
    if problems:
        return f"on a bulkhead {story}, {problems[0]}"
    now = clock.now()
    in_use = _read(bulkhead, "in_use", owner)
    frees_in_time = free_at is not None and free_at <= max_wait + EPS
    if frees_in_time:
        assert free_at is not None
        if outcome == "rejected":
            if abs(now - max_wait) <= EPS and abs(free_at - max_wait) <= EPS:
                return (
                    f"on a bulkhead {story}, acquire() gave up at the deadline (t={now:g} s) "
                    "without looking once more; the slot was free then: call try_acquire() "
                    "one last time before raising"
                )
            return (
                f"on a bulkhead {story}, acquire() gave up at t={now:g} s, although the slot "
                f"was free again at t={free_at:g} s, within max_wait"
            )
        if now > free_at + poll + EPS:
            return (
                f"on a bulkhead {story}, acquire() got the slot only at t={now:g} s: look "
                f"again at least every poll_interval seconds"
            )
        if in_use != 1:
            return f"on a bulkhead {story}, acquire() returned but in_use is {in_use}; expected 1"
        return _returned_problem(returned, f"on a bulkhead {story}")
    if outcome == "admitted":
        answer = "" if returned is None else f" {_shown(returned, 'acquire()')}"
        return (
            f"on a bulkhead {story}, acquire() returned{answer} although no slot was ever "
            "free: once max_wait has passed, raise BulkheadFullError (a caller that gets an "
            "answer back runs as if it held a slot)"
        )
    if abs(now - max_wait) > EPS:
        if now < max_wait:
            return (
                f"on a bulkhead {story}, acquire() gave up at t={now:g} s, before max_wait "
                f"({max_wait:g} s) had passed on the clock it was given"
            )
        return f"on a bulkhead {story}, acquire() gave up only at t={now:g} s"
    if in_use != 1:
        return f"on a bulkhead {story}, acquire() was rejected but in_use is {in_use}; expected 1"
    return None


def _shown(value: Any, what: str) -> str:
    """A student's return value as a message shows it: its repr if plain, else its type."""
    plain(value, f"what {what} returned", "plain value", none=True)
    return repr(value)


def _returned_problem(returned: Any, where: str) -> str | None:
    """``acquire()`` returns nothing (``None``) once it holds a slot; anything else, a message."""
    if returned is None:
        return None
    return (
        f"{where}, acquire() got the slot and returned {_shown(returned, 'acquire()')}; it "
        "should return None: the caller knows it holds a slot because no BulkheadFullError "
        "was raised (answering True or False is try_acquire()'s job)"
    )


def free_slot_problem(bulkhead_cls: Any, max_wait: float, poll: float) -> str | None:
    """``acquire()`` on a new bulkhead of 1 slot: take the free slot at once, no sleep, None."""
    clock = ManualClock()
    slept: list[Any] = []
    shown = (
        f"a new SemaphoreBulkhead(max_concurrent=1, max_wait={max_wait:g}, "
        f"poll_interval={poll:g}), its slot free"
    )
    bulkhead = _new(
        bulkhead_cls,
        "SemaphoreBulkhead",
        max_concurrent=1,
        max_wait=max_wait,
        now=clock.now,
        sleep=lambda seconds: slept.append(seconds),
        poll_interval=poll,
    )
    try:
        returned = bulkhead.acquire()
    except BulkheadFullError:
        return f"on {shown}, acquire() raised BulkheadFullError; the free slot should be taken"
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - reported to the student
        return f"on {shown}, acquire() raised {type(error).__name__}: {error}"
    if slept:
        return f"on {shown}, acquire() called sleep(); take a free slot at once"
    in_use = _read(bulkhead, "in_use", "your SemaphoreBulkhead")
    if in_use != 1:
        return f"on {shown}, acquire() returned but in_use is {in_use}; expected 1"
    return _returned_problem(returned, f"on {shown}")


def check_wait(bulkhead_cls: Any) -> None:
    """Visible check for exercise 4: reject at once; a slot freed during the wait, or just at
    its deadline; no slot at all; a deadline between two looks (the last sleep is shorter)."""
    require(free_slot_problem(bulkhead_cls, 1.0, 0.25))
    cases = [
        (0.0, 0.25, None),
        (1.0, 0.25, 0.5),
        (1.0, 0.25, 1.0),
        (1.0, 0.25, None),
        (0.125, 0.5, None),
    ]
    for max_wait, poll, free_at in cases:
        require(wait_problem(bulkhead_cls, max_wait, poll, free_at))
    print(
        "✓ acquire() takes a free slot at once and returns None, rejects at once with "
        "max_wait=0, gets a slot freed during its wait, and gives up after exactly max_wait "
        "seconds on the clock it was given"
    )


# --- exercise 5: a thread-pool bulkhead ---------------------------------------------------


def pool_problem(
    pool_cls: Any,
    workers: int,
    queue: int,
    ops: Sequence[str],
    expected: Sequence[tuple[str, list[int], int, int]],
) -> str | None:
    """Run ``ops`` (``"submit"``/``"finish"``) on a pool; compare with ``expected``.

    ``expected[i]`` is ``(answer, started, active, queued)`` after ``ops[i]``:
    ``answer`` is ``"running"``, ``"queued"`` or ``"full"`` for a submit (``""``
    for a finish), ``started`` the tasks started by the step, in order.
    """
    started: list[int] = []
    numbers: dict[int, int] = {}

    def start(task: Any) -> None:
        number = numbers.get(id(task))
        started.append(-1 if number is None else number)

    tasks: list[Callable[[], None]] = []
    pool = _new(
        pool_cls, "ThreadPoolBulkhead", max_workers=workers, queue_capacity=queue, start=start
    )
    owner = "your ThreadPoolBulkhead"
    done: list[str] = []
    shown = f"ThreadPoolBulkhead(max_workers={workers}, queue_capacity={queue})"
    for op, (answer, should_start, active, queued) in zip(ops, expected, strict=True):
        where = _after(done, shown)
        started.clear()
        if op == "submit":
            k = len(tasks) + 1

            def task() -> None:
                return None

            tasks.append(task)
            numbers[id(task)] = k
            label = f"submit(task{k})"
            try:
                got = plain(pool.submit(task), f"{label}'s answer", "text")
            except BulkheadFullError:
                got = "full"
            except NotImplementedError:
                raise
            except CheckFailed:
                raise
            except Exception as error:  # noqa: BLE001 - reported to the student
                return f"{where}, {label} raised {type(error).__name__}: {error}"
            if got != answer:
                want = "BulkheadFullError" if answer == "full" else repr(answer)
                have = "BulkheadFullError" if got == "full" else repr(got)
                why = {
                    "running": "a worker is free",
                    "queued": "every worker is busy and the queue has room",
                    "full": f"all {workers} workers are busy and the queue holds {queue}: "
                    "the queue is bounded",
                }[answer]
                return f"{where}, {label} gave {have}; expected {want} ({why})"
        else:
            label = "finished()"
            call(f"{where}, finished()", pool.finished)
        if started != should_start:
            named = ", ".join(f"task{k}" if k > 0 else "something else" for k in started)
            want = ", ".join(f"task{k}" for k in should_start)
            return (
                f"{where}, {label} started [{named}] on a worker; expected "
                f"[{want}] (start(task) once, when the task gets a worker, oldest queued first)"
            )
        got_active = _read(pool, "active", owner)
        got_queued = _read(pool, "queued", owner)
        if (got_active, got_queued) != (active, queued):
            return (
                f"{where}, then {label}: active={got_active}, queued={got_queued}; expected "
                f"active={active}, queued={queued}"
            )
        done.append(label)
    return None


def check_pool(pool_cls: Any) -> None:
    """Visible check for exercise 5: 2 workers, a queue of 2, one too many, then finishes."""
    ops = ["submit"] * 5 + ["finish"] * 4
    expected = [
        ("running", [1], 1, 0),
        ("running", [2], 2, 0),
        ("queued", [], 2, 1),
        ("queued", [], 2, 2),
        ("full", [], 2, 2),
        ("", [3], 2, 1),
        ("", [4], 2, 0),
        ("", [], 1, 0),
        ("", [], 0, 0),
    ]
    require(pool_problem(pool_cls, 2, 2, ops, expected))
    print(
        "✓ ThreadPoolBulkhead runs up to max_workers tasks, queues up to queue_capacity more, "
        "rejects the next one at once and starts the oldest queued task when a worker finishes"
    )


# --- exercise 6: one bulkhead per dependency ----------------------------------------------


def _made(shown: str, make_bulkheads: Any, limits: dict[str, int]) -> dict[str, Any] | str:
    """``make_bulkheads(limits)``'s bulkhead for every dependency, or what is missing."""
    made = call(shown, make_bulkheads, dict(limits))
    bulkheads = {}
    for name in limits:
        try:
            bulkheads[name] = made[name]
        except NotImplementedError:
            raise
        except Exception:  # noqa: BLE001 - reported to the student
            return f"{shown} has no bulkhead for {name!r}"
    return bulkheads


def _steps_problem(
    shown: str,
    bulkheads: dict[str, Any],
    limits: dict[str, int],
    ops: Sequence[tuple[str, str]],
    models: dict[str, Any],
) -> str | None:
    """``(dependency, op)`` steps on ``bulkheads`` vs one model per dependency; first difference.

    A try_acquire() answered wrongly while the other dependencies hold nothing is
    a wrong size; with slots held elsewhere, or a count that moves in another
    dependency's bulkhead, the bulkheads are not each their own.
    """
    done: list[str] = []
    for name, op in ops:
        where = f"With {shown}, after {', '.join(done)}" if done else f"With a new {shown}"
        model = models[name]
        before = int(model.in_use)
        expected = _model_step(model, op)
        got = _student_step(bulkheads[name], op, where)
        if got != expected:
            others_idle = all(int(m.in_use) == 0 for other, m in models.items() if other != name)
            if op == "try_acquire" and others_idle:
                admitted = before + (1 if got else 0)
                only = "only " if admitted < limits[name] else ""
                return (
                    f"{shown} gave {name} a bulkhead that admitted {only}{_calls(admitted)}; "
                    f"each bulkhead's max_concurrent must be limits[name] (here {limits[name]})"
                )
            why = _explain(op, got, expected, before, limits[name])
            busy = [f"{other}: {int(m.in_use)}" for other, m in models.items() if other != name]
            return (
                f"{where}, {_possessive(name)} {why}. Slots held by the other dependencies "
                f"({', '.join(busy)}) must not count: each dependency gets its own bulkhead"
            )
        done.append(f"{name}.{op}()")
        for other, bulkhead in bulkheads.items():
            in_use = _read(bulkhead, "in_use", f"{_possessive(other)} bulkhead")
            if in_use != models[other].in_use:
                after = f"only {done[0]}" if len(done) == 1 else ", ".join(done)
                return (
                    f"With {shown}, after {after}, {_possessive(other)} bulkhead has "
                    f"in_use={in_use}; expected {models[other].in_use} (each dependency its "
                    "own bulkhead)"
                )
    return None


def isolation_problem(
    make_bulkheads: Any,
    limits: dict[str, int],
    ops: Sequence[tuple[str, str]],
    models: dict[str, Any],
) -> str | None:
    """Each bulkhead filled alone, then ``(dependency, op)`` steps vs one model per dependency.

    First, for every dependency, a new ``make_bulkheads(limits)`` whose bulkhead
    for it is asked for ``limits[name] + 1`` slots (its size, and nothing
    counted elsewhere); then ``ops`` on one more new set, against ``models``.
    """
    shown = f"make_bulkheads({limits!r})"
    for name, limit in limits.items():
        bulkheads = _made(shown, make_bulkheads, limits)
        if isinstance(bulkheads, str):
            return bulkheads
        fill = [(name, "try_acquire")] * (limit + 1)
        counters = {other: SlotCounter(n) for other, n in limits.items()}
        problem = _steps_problem(shown, bulkheads, limits, fill, counters)
        if problem:
            return problem
    bulkheads = _made(shown, make_bulkheads, limits)
    if isinstance(bulkheads, str):
        return bulkheads
    return _steps_problem(shown, bulkheads, limits, ops, models)


def check_isolation(make_bulkheads: Any) -> None:
    """Visible check for exercise 6: sizes 1 and 3; B fills its 3 slots, A still gets its own."""
    limits = {"A": 1, "B": 3}
    ops = [("B", "try_acquire")] * 4 + [("A", "try_acquire")] * 2
    models = {name: SlotCounter(n) for name, n in limits.items()}
    require(isolation_problem(make_bulkheads, limits, ops, models))
    print(
        "✓ each bulkhead has its own size; B's fills up and rejects, A's is untouched and "
        "serves its own slot"
    )


# --- exercise 7: Little's law -------------------------------------------------------------


def littles_law_problem(
    concurrency_needed: Any, bulkhead_size: Any, rate: float, latency_ms: float, headroom: float
) -> str | None:
    """Both functions on one case; ``None`` or what is wrong.

    A product ``in flight x headroom`` that is a whole number is checked only when
    every usual order of the float arithmetic gives exactly that number (as
    ``20 x 0.5 x 1.5 = 15`` does); when the orders disagree by a rounding error,
    the case is skipped, as either size could be honest.
    """
    exact = rate * latency_ms / 1000
    shown = f"concurrency_needed({rate:g}, {latency_ms:g})"
    got = plain(call(shown, concurrency_needed, rate, latency_ms), f"{shown}'s answer", "number")
    if abs(got - exact) > 1e-9 * max(1.0, exact):
        hint = ""
        if exact and abs(got / exact - 1000) < 1e-6:
            hint = ": 1000 times too many (latency_ms is in milliseconds, the rate per second)"
        elif exact and abs(got * 1000 / exact - 1) < 1e-6:
            hint = ": 1000 times too few"
        return (
            f"{shown} returned {got:g}; expected {exact:g} = {rate:g} calls/s x "
            f"{latency_ms / 1000:g} s{hint}"
        )
    shown = f"bulkhead_size({rate:g}, {latency_ms:g}, headroom={headroom:g})"
    needed = exact * headroom
    if abs(needed - round(needed)) < 1e-6 and not _exactly_whole(rate, latency_ms, headroom):
        return None  # a whole number of slots up to float rounding, which could go either way
    expected = max(1, math.ceil(needed))
    got_size = plain(
        call(shown, bulkhead_size, rate, latency_ms, headroom=headroom),
        f"{shown}'s answer",
        "whole number",
    )
    if got_size != expected:
        rounded = "a whole number already" if float(needed).is_integer() else "rounded up"
        return (
            f"{shown} returned {got_size}; expected {expected} (in flight {exact:g} x "
            f"headroom {headroom:g} = {needed:g}, {rounded}; at least 1)"
        )
    return None


def _exactly_whole(rate: float, latency_ms: float, headroom: float) -> bool:
    """Every usual order of ``rate x latency_ms / 1000 x headroom`` gives one whole number."""
    seconds = latency_ms / 1000
    orders = {
        rate * latency_ms / 1000 * headroom,
        rate * seconds * headroom,
        seconds * rate * headroom,
        rate * latency_ms * headroom / 1000,
        rate / 1000 * latency_ms * headroom,
        headroom * (rate * seconds),
    }
    return len(orders) == 1 and float(next(iter(orders))).is_integer()


def check_littles_law(concurrency_needed: Any, bulkhead_size: Any) -> None:
    """Visible check for exercise 7: the module's example (a whole 15 slots), two sizings, and
    a load under one call in flight (the headroom first, then at least 1)."""
    cases = [(20.0, 500.0, 1.5), (100.0, 45.0, 1.2), (2.0, 30.0, 1.0), (10.0, 50.0, 1.5)]
    for rate, latency_ms, headroom in cases:
        require(littles_law_problem(concurrency_needed, bulkhead_size, rate, latency_ms, headroom))
    print(
        "✓ in flight = calls per second x latency in seconds, and the bulkhead size rounds "
        "that times the headroom up (at least 1 slot)"
    )
