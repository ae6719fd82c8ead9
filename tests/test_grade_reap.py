"""Killing a sandbox leaves no process behind, not even a ``<defunct>`` one.

bwrap's ``--unshare-pid`` runs a second bwrap (the pid namespace's init) under the one the
grader started. When the sandbox is killed that inner bwrap is orphaned; a container's PID 1
that does not reap left it ``<defunct>`` after every sandbox (``selfcheck`` showed them). The
grading process is now the subreaper of its sandboxes and collects them.
"""

from __future__ import annotations

from pathlib import Path

from conftest import require_program

from autograders.sandbox import Limits, Runtime, Sandbox


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        text = (task / "children").read_text() if (task / "children").exists() else ""
        found += [int(p) for p in text.split()]
    return found


def test_a_killed_sandbox_leaves_no_process(tmp_path: Path) -> None:
    require_program("bwrap", path="/usr/bin/bwrap", install_hint="apt-get install bubblewrap")
    with Runtime() as runtime:
        for _ in range(3):
            box = Sandbox(runtime, Limits())
            outer = box.process.pid
            inner = _children(outer)
            assert inner, "bwrap --unshare-pid runs a second bwrap under the first"
            box.kill()
            for pid in [outer, *inner]:
                assert not Path(f"/proc/{pid}").exists(), f"process {pid} is still there: " + (
                    Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}").exists() else ""
                )
