"""``grade --cluster``: grading on a Dask distributed cluster.

A real ``LocalCluster`` of two separate worker processes on 127.0.0.1 grades 20
submissions of the fixture assignment; one worker is killed (SIGKILL) while it is
grading. Every submission must come back exactly once, with the scores a local
``--jobs 1`` run gives: the killed worker's tasks are retried elsewhere, never lost or
recorded twice. Plus the plain-words errors: no workers able to grade, an unreachable
scheduler, ``--cluster`` with ``--jobs``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import require_program

from autograders.cluster import ClusterError, check_workers, grade_on_cluster
from autograders.grading import Graded, Submission, grade_batch
from autograders.release import release, temp_course
from autograders.submissions import solution_notebook

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"
A = "99-fixture"
SOURCE = FIXTURES / A / f"{A}.ipynb"


def _submissions(folder: Path, count: int) -> list[Submission]:
    release(folder / "release", notebooks=FIXTURES)
    blank = nbformat.read(folder / "release" / A / f"{A}.ipynb", as_version=4)
    solution = solution_notebook(nbformat.read(SOURCE, as_version=4), blank)
    for i in range(count):
        target = folder / "submitted" / f"student{i:02d}" / A
        target.mkdir(parents=True)
        nbformat.write(solution if i % 3 else blank, target / f"{A}.ipynb")
    return [
        Submission(p.parent.parent.name, A, A, p)
        for p in sorted((folder / "submitted").glob(f"*/{A}/{A}.ipynb"))
    ]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    require_program("bwrap", path="/usr/bin/bwrap", install_hint="apt-get install bubblewrap")
    from distributed import LocalCluster

    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
    )
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as local:
        yield local


@pytest.mark.slow
def test_a_worker_killed_mid_batch_costs_a_retry_not_a_grade(cluster: Any, tmp_path: Path) -> None:
    subs = _submissions(tmp_path, 20)
    taken: list[str] = []
    killed: list[int] = []

    def kill_a_busy_worker(item: Any) -> None:
        """After the 3rd result: SIGKILL the process of a worker that is grading now."""
        taken.append(item.submission.student)
        if len(taken) != 3 or killed:
            return
        scheduler = cluster.scheduler  # in this process: a LocalCluster's scheduler
        busy = {addr for addr, ws in scheduler.workers.items() if ws.processing}
        for nanny in cluster.workers.values():
            if nanny.worker_address in busy and nanny.process is not None:
                pid = nanny.process.process.pid
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return

    with temp_course(FIXTURES, [A]) as course:
        sources = {A: course.source(A)}
        on_cluster = grade_batch(
            subs,
            sources,
            cluster=cluster.scheduler_address,
            progress=False,
            on_result=kill_a_busy_worker,
        )
        local = grade_batch(subs, sources, jobs=1, progress=False)
    assert killed, "no worker was busy to kill"
    assert not on_cluster.failures, [f.reason for f in on_cluster.failures]
    assert Counter(taken) == Counter(s.student for s in subs), "a grade was lost or taken twice"
    assert len(on_cluster.graded) == 20

    def scores(graded: list[Graded]) -> dict[str, float]:
        return {g.submission.student: g.result.score for g in graded}

    assert scores(on_cluster.graded) == scores(local.graded)
    assert len(set(scores(local.graded).values())) == 2  # solved and blank, both in the batch


class _FakeClient:
    def __init__(self, facts: dict[str, dict[str, Any]]) -> None:
        self.facts = facts

    def run(self, fn: Any) -> dict[str, dict[str, Any]]:
        return self.facts


def test_workers_without_bwrap_or_the_course_are_named() -> None:
    client = _FakeClient(
        {
            "tcp://10.0.0.2:4000": {"autograders": True, "bwrap": None},
            "tcp://10.0.0.3:4000": {"autograders": False, "bwrap": "/usr/bin/bwrap"},
            "tcp://10.0.0.4:4000": {"autograders": True, "bwrap": "/usr/bin/bwrap"},
        }
    )
    with pytest.raises(ClusterError) as caught:
        check_workers(client, sandbox=True)
    message = str(caught.value)
    assert "tcp://10.0.0.2:4000: bubblewrap (bwrap) is missing" in message
    assert "tcp://10.0.0.3:4000: cannot import autograders" in message
    assert "10.0.0.4" not in message
    assert check_workers(_FakeClient({"w": {"autograders": True, "bwrap": None}}), sandbox=False)
    with pytest.raises(ClusterError, match="no workers"):
        check_workers(_FakeClient({}), sandbox=True)


def _grade_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "autograders", "--notebooks", str(FIXTURES), "grade", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


@pytest.mark.slow
def test_cluster_with_jobs_is_refused(tmp_path: Path) -> None:
    mixed = _grade_cli(str(tmp_path), "--cluster", "tcp://127.0.0.1:1", "-j", "2")
    assert mixed.returncode == 2
    assert "--cluster and --jobs do not mix" in mixed.stderr


def test_an_unreachable_scheduler_is_named(tmp_path: Path) -> None:
    sub = Submission("alice", A, A, tmp_path / "missing.ipynb")
    with pytest.raises(
        ClusterError, match=r"cannot reach the Dask scheduler at tcp://127\.0\.0\.1:1"
    ):
        grade_on_cluster(
            [sub],
            {A: SOURCE},
            address="tcp://127.0.0.1:1",
            sandbox=True,
            limits=None,
            take=lambda sub, outcome: None,
            connect_timeout=1,
        )
