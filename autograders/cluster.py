"""Grading on a Dask distributed cluster: ``python -m autograders grade --cluster ADDRESS``.

For a class too big for one machine. The trusted client (the machine running ``grade``)
finds the submissions, sends each one to the cluster as a task, and takes the results as
they finish, exactly as it takes them from its own worker processes with ``--jobs``: it
alone writes the gradebook, ``grades.csv`` and the feedback pages, so the progress bar,
the score table and the files are the same as for a local run.

A task carries the bytes of the submission and of the assignment's source notebook (a
worker need not see the client's disk) and grades them with the same engine and the same
bubblewrap sandbox as a local run (:func:`autograders.grading.grade_one`). So every
worker needs this package (``pip install module14-fault-tolerance[class]`` from the same
checkout) and ``bwrap``; :func:`check_workers` asks every worker before the batch starts
and names the ones that lack either.

A worker lost mid-batch (killed, out of memory, its machine gone) costs only a retry: the
Dask scheduler runs the tasks it held again on another worker (up to its
``distributed.scheduler.allowed-failures``, 3 by default); the client receives each
task's result once and writes it once, so no grade is lost or written twice. A task that
fails on every try is recorded as not graded, with the reason, like any ungradable
submission.

Set up a cluster (documented in ``deploy/README.md``)::

    dask scheduler --host 10.0.0.1                     # one machine
    dask worker tcp://10.0.0.1:8786 --nworkers 2 --nthreads 1   # on each grading machine
    python -m autograders grade submitted/ --cluster tcp://10.0.0.1:8786
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["ClusterError", "check_workers", "grade_on_cluster", "grade_task"]


class ClusterError(Exception):
    """The cluster cannot grade: unreachable, no workers, or workers missing what they need."""


def _worker_facts() -> dict[str, Any]:
    """Run on every worker: can it grade? (package importable, bwrap present)."""
    import importlib.util
    import shutil

    return {
        "autograders": importlib.util.find_spec("autograders.engine") is not None,
        "bwrap": shutil.which("bwrap") or (Path("/usr/bin/bwrap").exists() and "/usr/bin/bwrap"),
    }


def check_workers(client: Any, *, sandbox: bool) -> int:
    """Ask every worker whether it can grade; return how many there are.

    Raises:
        ClusterError: no workers, or some lack the package or (with ``sandbox``) ``bwrap``.
    """
    facts: dict[str, dict[str, Any]] = client.run(_worker_facts)
    if not facts:
        raise ClusterError("the cluster has no workers: start some with `dask worker ADDRESS`")
    problems = []
    for worker, found in sorted(facts.items()):
        if not found.get("autograders"):
            problems.append(f"{worker}: cannot import autograders (install the course there)")
        if sandbox and not found.get("bwrap"):
            problems.append(
                f"{worker}: bubblewrap (bwrap) is missing: every worker runs student code in "
                "the sandbox (apt-get install bubblewrap)"
            )
    if problems:
        raise ClusterError("workers that cannot grade:\n  " + "\n  ".join(problems))
    return len(facts)


def grade_task(
    source_name: str,
    source: bytes,
    submission_name: str,
    submission: bytes,
    student: str,
    assignment: str,
    sandbox: bool,
    limits: Any,
) -> tuple[str, Any]:
    """Run on a worker: grade one submission from its bytes; never raises.

    Returns:
        ``("ok", NotebookResult)`` or ``("failed", reason)``, as
        :func:`autograders.grading.grade_one`.
    """
    from autograders.grading import Submission, grade_one

    with tempfile.TemporaryDirectory(prefix="m14-task-") as tmp:
        folder = Path(tmp)
        (folder / "source").mkdir()
        source_path = folder / "source" / source_name
        source_path.write_bytes(source)
        submitted = folder / "submitted" / student / assignment
        submitted.mkdir(parents=True)
        path = submitted / submission_name
        path.write_bytes(submission)
        sub = Submission(student, assignment, Path(submission_name).stem, path)
        return grade_one(source_path, sub, sandbox, limits)


def grade_on_cluster(
    subs: Sequence[Any],
    sources: Mapping[str, Path],
    *,
    address: str,
    sandbox: bool,
    limits: Any,
    take: Callable[[Any, tuple[str, Any]], None],
    connect_timeout: float = 30.0,
) -> None:
    """Grade ``subs`` on the cluster at ``address``, calling ``take`` as each finishes.

    Raises:
        ClusterError: the scheduler cannot be reached, or its workers cannot grade.
    """
    try:
        import distributed
    except ImportError as exc:  # pragma: no cover - the [class] extra is not installed
        raise ClusterError(
            "grading on a cluster needs Dask: pip install 'module14-fault-tolerance[class]'"
        ) from exc
    try:
        client: Any = distributed.Client(address, timeout=connect_timeout)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
    try:
        check_workers(client, sandbox=sandbox)
        batch = uuid.uuid4().hex[:8]
        source_bytes = {name: path.read_bytes() for name, path in sources.items()}
        futures = {}
        for i, sub in enumerate(subs):
            future = client.submit(
                grade_task,
                sources[sub.assignment].name,
                source_bytes[sub.assignment],
                sub.path.name,
                sub.path.read_bytes(),
                sub.student,
                sub.assignment,
                sandbox,
                limits,
                key=f"grade-{batch}-{i}-{sub.student}-{sub.assignment}",
                pure=False,
            )
            futures[future] = sub
        finished: Any = distributed.as_completed(list(futures))  # type: ignore[no-untyped-call]
        for future in finished:
            sub = futures[future]
            try:
                outcome = future.result()
            except Exception as exc:  # every try failed (e.g. workers died each time)
                reason = f"the cluster could not grade it ({type(exc).__name__}: {exc})"
                outcome = ("failed", reason)
            take(sub, outcome)
    finally:
        client.close()
