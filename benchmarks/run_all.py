"""Run the library benchmarks one after another and report which targets were met.

    python benchmarks/run_all.py            # breaker, retry, retry storm (about a minute)
    python benchmarks/bench_grading.py      # grading throughput (many minutes; run it alone)

Each benchmark compares, in one process, our pattern with the library a user would
otherwise pick, and prints ratios; none of them is a test (timings on a shared
machine are not assertions). Exit status 1 if any target was missed.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_breaker  # noqa: E402
import bench_retry  # noqa: E402
import bench_storm  # noqa: E402


def main() -> int:
    """Run each benchmark's ``main()``; return 1 if any of them missed a target."""
    failed = []
    for module in (bench_breaker, bench_retry, bench_storm):
        name = module.__name__
        print(f"\n=== {name} ===", flush=True)
        if module.main([]) != 0:
            failed.append(name)
    print("\n=== summary ===")
    print("all targets met" if not failed else f"targets missed in: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
