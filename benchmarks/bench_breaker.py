"""Guarded-call overhead of the course's circuit breakers vs pybreaker and circuitbreaker.

Every call through a CLOSED breaker pays the breaker's bookkeeping, so that
cost is what a breaker costs in production. All variants run side by side in
one process on the same trivial function, in both forms::

    bare                 f()
    simple.call          CircuitBreaker().call(f)         (count window of 100, defaults)
    simple.decorator     @CircuitBreaker()
    fast.call            FastCircuitBreaker().call(f)     (the same, with the lock-free path)
    fast.decorator       @FastCircuitBreaker()
    pybreaker.call       pybreaker.CircuitBreaker(fail_max=5, reset_timeout=30).call(f)
    pybreaker.decorator  @pybreaker.CircuitBreaker(fail_max=5, reset_timeout=30)
    circuitbreaker.call  circuitbreaker.CircuitBreaker().call(f)
    circuitbreaker.decorator  @circuitbreaker.circuit

The timings are interleaved (one run of every variant per round, ``repeat``
rounds) and the best run of each counts, so background load hits every
variant alike. By default a run is timed in CPU seconds of the benchmark's
thread (``time.thread_time``): on a shared machine the time the OS gives to
other processes is not counted (``--timer wall`` uses ``time.perf_counter``,
timeit's default). ``overhead = ns/call - bare ns/call``. Each form is compared with
the same form of the other libraries. Targets (overheads):

* simple (the lesson's :class:`~course_lib.breaker.CircuitBreaker`: one lock,
  taken twice per call) <= 0.5 x pybreaker
* fast (:class:`~course_lib.fast_breaker.FastCircuitBreaker`) <= 0.3 x pybreaker
  and <= 0.7 x circuitbreaker

Note: ``circuitbreaker.CircuitBreaker.call`` does not check whether the
breaker is open (only its decorator does), so ``circuitbreaker.call`` is the
cheapest and least guarded baseline of all.

Run (from the repository root)::

    python benchmarks/bench_breaker.py            # PASS/FAIL lines, exit 1 on a miss

or call :func:`measure` for the numbers. A benchmark, not a test: timings
depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import sys
import time
import timeit
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    from course_lib.breaker import CircuitBreaker
except ImportError:  # run as a script from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from course_lib.breaker import CircuitBreaker
from course_lib.fast_breaker import FastCircuitBreaker

__all__ = ["FORMS", "TARGETS", "Result", "main", "measure"]

TARGETS: dict[tuple[str, str], float] = {
    ("simple", "pybreaker"): 0.5,
    ("fast", "pybreaker"): 0.3,
    ("fast", "circuitbreaker"): 0.7,
}
"""``(our breaker, library) -> ``our overhead must be at most this multiple of the library's."""

FORMS = ("call", "decorator")


def _f() -> int:
    return 1


@dataclass(frozen=True)
class Result:
    """Best ns/call of every variant, keyed ``"<library>.<form>"`` (plus ``"bare"``)."""

    ns: dict[str, float]
    targets: dict[tuple[str, str], float] = field(default_factory=lambda: dict(TARGETS))

    def overhead(self, variant: str) -> float:
        """``ns[variant] - ns["bare"]`` (never below 0)."""
        return max(0.0, self.ns[variant] - self.ns["bare"])

    def ratio(self, ours: str, library: str, form: str) -> float:
        """``our overhead / library overhead`` for one form (``ours``: simple or fast)."""
        return self.overhead(f"{ours}.{form}") / self.overhead(f"{library}.{form}")

    def verdicts(self) -> list[tuple[str, str, str, float, float, bool]]:
        """``(ours, library, form, ratio, target, passed)`` for every comparison."""
        rows = []
        for (ours, library), target in self.targets.items():
            for form in FORMS:
                ratio = self.ratio(ours, library, form)
                rows.append((ours, library, form, ratio, target, ratio <= target))
        return rows

    @property
    def passed(self) -> bool:
        """Every target met."""
        return all(row[-1] for row in self.verdicts())

    def as_dict(self) -> dict[str, Any]:
        """Every number, for a table or JSON."""
        return {
            "ns_per_call": dict(self.ns),
            "overhead_ns": {k: self.overhead(k) for k in self.ns if k != "bare"},
            "ratios": {
                f"{ours}.{form}/{lib}.{form}": ratio
                for ours, lib, form, ratio, _, _ in self.verdicts()
            },
            "passed": self.passed,
        }


def _statements() -> tuple[dict[str, str], dict[str, Any]]:
    """The timed statements (no lambda layer in between) and their globals."""
    import circuitbreaker
    import pybreaker

    simple = CircuitBreaker()
    fast = FastCircuitBreaker()
    pyb = pybreaker.CircuitBreaker(fail_max=5, reset_timeout=30)
    fab = circuitbreaker.CircuitBreaker()
    env: dict[str, Any] = {
        "f": _f,
        "simple": simple,
        "simple_f": simple(_f),
        "fast": fast,
        "fast_f": fast(_f),
        "pyb": pyb,
        "pyb_f": pyb(_f),
        "fab": fab,
        "fab_f": circuitbreaker.circuit(_f),
    }
    statements = {
        "bare": "f()",
        "simple.call": "simple.call(f)",
        "simple.decorator": "simple_f()",
        "fast.call": "fast.call(f)",
        "fast.decorator": "fast_f()",
        "pybreaker.call": "pyb.call(f)",
        "pybreaker.decorator": "pyb_f()",
        "circuitbreaker.call": "fab.call(f)",
        "circuitbreaker.decorator": "fab_f()",
    }
    return statements, env


TIMERS: dict[str, Callable[[], float]] = {"cpu": time.thread_time, "wall": time.perf_counter}
"""``--timer`` choices: CPU seconds of this thread, or wall-clock seconds."""


def measure(number: int = 100_000, repeat: int = 7, timer: str = "cpu") -> Result:
    """Time every variant, interleaved; the best of ``repeat`` runs counts.

    Args:
        number: calls per timing run (pybreaker gets a quarter: it is slow).
        repeat: rounds; each round times every variant once.
        timer: ``"cpu"`` (this thread's CPU time) or ``"wall"`` (see :data:`TIMERS`).

    Returns:
        A :class:`Result` with ns/call for each variant.
    """
    statements, env = _statements()
    clock = TIMERS[timer]
    timers = {
        name: timeit.Timer(stmt, globals=env, timer=clock) for name, stmt in statements.items()
    }
    counts = {name: max(1, number // 4) if "pybreaker" in name else number for name in timers}
    for name, runner in timers.items():  # warm up
        runner.timeit(max(1, counts[name] // 10))
    best = {name: float("inf") for name in timers}
    for _ in range(repeat):
        for name, runner in timers.items():
            ns = runner.timeit(counts[name]) / counts[name] * 1e9
            best[name] = min(best[name], ns)
    for ours in (env["simple"], env["fast"]):
        assert ours.state == "closed" and ours.stats.failed == 0  # nothing tripped meanwhile
    return Result(best)


def report(result: Result) -> str:
    """The table and the PASS/FAIL lines, as text."""
    lines = [f"{'variant':<26} {'ns/call':>9} {'overhead ns':>12}"]
    for name, ns in result.ns.items():
        overhead = "" if name == "bare" else f"{result.overhead(name):12.1f}"
        lines.append(f"{name:<26} {ns:9.1f} {overhead:>12}")
    for ours, library, form, ratio, target, ok in result.verdicts():
        lines.append(
            f"{'PASS' if ok else 'FAIL'}: {ours}.{form} overhead "
            f"{result.overhead(f'{ours}.{form}'):.0f} ns = {ratio:.2f} x {library}.{form}'s "
            f"{result.overhead(f'{library}.{form}'):.0f} ns (target <= {target:g} x)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Print ns/call, overheads, ratios and PASS/FAIL per target; return 1 on a miss."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--number", type=int, default=100_000, help="calls per timing run")
    parser.add_argument("--repeat", type=int, default=7, help="interleaved rounds (best counts)")
    parser.add_argument(
        "--timer", choices=sorted(TIMERS), default="cpu", help="thread CPU time or wall time"
    )
    args = parser.parse_args(argv)
    result = measure(args.number, args.repeat, args.timer)
    print(report(result))
    return 0 if result.passed else 1


if __name__ == "__main__":
    sys.exit(main())
