"""Success-path overhead of ``@course_lib.retry.retry()`` vs tenacity and stamina.

Most calls succeed the first time, so what a retry decorator costs when nothing
goes wrong is what it costs in production. All four variants run side by side in
one process on the same trivial function::

    bare      f()
    course    @retry()                                     (3 attempts, full jitter)
    tenacity  @tenacity.retry(stop=stop_after_attempt(3),
                              wait=wait_random_exponential(multiplier=0.1, max=3.0))
    stamina   @stamina.retry(on=Exception, attempts=3)     (active: the real decorator)

For each, the best of ``repeat`` timing runs gives ns/call; the *overhead* is that
minus the bare call. The target: course overhead <= 0.05 x tenacity overhead.

Run (from the repository root)::

    python benchmarks/bench_retry.py            # PASS/FAIL lines, exit 1 on a miss

or use :func:`measure` to get the numbers. This is a benchmark, not a test:
timings depend on the machine and its load, so it is not part of the test suite.
"""

from __future__ import annotations

import argparse
import sys
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    from course_lib.retry import retry
except ImportError:  # run as a script from a checkout without installing the package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from course_lib.retry import retry

__all__ = ["TARGET_RATIO", "Result", "main", "measure"]

TARGET_RATIO = 0.05
"""Our success-path overhead must be at most this fraction of tenacity's."""


@dataclass(frozen=True)
class Result:
    """Timings in nanoseconds per call (best of the repeats)."""

    bare_ns: float
    course_ns: float
    tenacity_ns: float
    stamina_ns: float | None  # None when stamina is not installed

    @property
    def course_overhead_ns(self) -> float:
        """``course_ns - bare_ns``."""
        return max(0.0, self.course_ns - self.bare_ns)

    @property
    def tenacity_overhead_ns(self) -> float:
        """``tenacity_ns - bare_ns``."""
        return max(0.0, self.tenacity_ns - self.bare_ns)

    @property
    def stamina_overhead_ns(self) -> float | None:
        """``stamina_ns - bare_ns``, or ``None``."""
        return None if self.stamina_ns is None else max(0.0, self.stamina_ns - self.bare_ns)

    @property
    def ratio_to_tenacity(self) -> float:
        """``course overhead / tenacity overhead`` (the number the target is about)."""
        return self.course_overhead_ns / self.tenacity_overhead_ns

    def as_dict(self) -> dict[str, float | None]:
        """Every number, for a notebook table or JSON."""
        return {
            "bare_ns": self.bare_ns,
            "course_ns": self.course_ns,
            "tenacity_ns": self.tenacity_ns,
            "stamina_ns": self.stamina_ns,
            "course_overhead_ns": self.course_overhead_ns,
            "tenacity_overhead_ns": self.tenacity_overhead_ns,
            "stamina_overhead_ns": self.stamina_overhead_ns,
            "ratio_to_tenacity": self.ratio_to_tenacity,
        }


def _succeed(x: int = 1) -> int:
    return x


def _best_ns(fn: Callable[[], Any], number: int, repeat: int) -> float:
    """Best-of-``repeat`` time of ``number`` calls, in ns per call."""
    runs = timeit.Timer(fn).repeat(repeat=repeat, number=number)
    return min(runs) / number * 1e9


def _variants() -> dict[str, Callable[[], Any]]:
    import tenacity

    variants: dict[str, Callable[[], Any]] = {
        "bare": _succeed,
        "course": retry()(_succeed),
        "tenacity": tenacity.retry(
            stop=tenacity.stop_after_attempt(3),
            wait=tenacity.wait_random_exponential(multiplier=0.1, max=3.0),
        )(_succeed),
    }
    try:
        import stamina
    except ImportError:  # pragma: no cover - stamina is in the test extra
        return variants
    variants["stamina"] = stamina.retry(on=Exception, attempts=3)(_succeed)
    return variants


def measure(number: int = 200_000, repeat: int = 5) -> Result:
    """Time the success path of each decorator; the slow ones get ``number // 20`` calls.

    Args:
        number: Calls per timing run for the fast variants (bare, course).
        repeat: Timing runs per variant; the best one counts (least disturbed by load).

    Returns:
        A :class:`Result` with ns/call for each variant.
    """
    variants = _variants()
    for fn in variants.values():  # warm up: first-call caches, lazy imports
        fn()
    slow_number = max(1, number // 20)
    times = {
        name: _best_ns(fn, number if name in ("bare", "course") else slow_number, repeat)
        for name, fn in variants.items()
    }
    return Result(times["bare"], times["course"], times["tenacity"], times.get("stamina"))


def main(argv: list[str] | None = None) -> int:
    """Print ns/call, overheads and ratios, then PASS/FAIL; return 1 on a miss."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=200_000, help="calls per timing run")
    parser.add_argument("--repeat", type=int, default=5, help="timing runs (best one counts)")
    parser.add_argument(
        "--target",
        type=float,
        default=TARGET_RATIO,
        help="max course overhead as a fraction of tenacity's",
    )
    args = parser.parse_args(argv)

    result = measure(args.number, args.repeat)
    print(f"{'variant':<10} {'ns/call':>10} {'overhead ns':>12} {'x bare':>8}")
    rows = [
        ("bare", result.bare_ns, 0.0),
        ("course", result.course_ns, result.course_overhead_ns),
        ("tenacity", result.tenacity_ns, result.tenacity_overhead_ns),
    ]
    if result.stamina_ns is not None and result.stamina_overhead_ns is not None:
        rows.append(("stamina", result.stamina_ns, result.stamina_overhead_ns))
    for name, ns, overhead in rows:
        print(f"{name:<10} {ns:>10.1f} {overhead:>12.1f} {ns / result.bare_ns:>8.1f}")
    print(f"course overhead / tenacity overhead = {result.ratio_to_tenacity:.4f}")
    if result.stamina_overhead_ns:
        print(
            "course overhead / stamina overhead  = "
            f"{result.course_overhead_ns / result.stamina_overhead_ns:.4f}"
        )

    ok = result.ratio_to_tenacity <= args.target
    verdict = "PASS" if ok else "FAIL"
    print(
        f"{verdict}: success-path overhead {result.course_overhead_ns:.0f} ns = "
        f"{result.ratio_to_tenacity:.3f} x tenacity's {result.tenacity_overhead_ns:.0f} ns "
        f"(target <= {args.target:g} x)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
