"""Notebook 04 in a real kernel: nothing it starts outlives it.

The solution notebook runs in a fresh kernel (nbclient); a cell added before the first
records the kernel's threads and sockets, a cell added after the last checks that the
notebook's last cell left no server, no thread and no socket of its own behind.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbclient
import nbformat
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "04-timeouts" / "04-timeouts.ipynb"

BEFORE = """
import os, threading
def _a04_sockets():
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            found.add(target)
    return found
_a04_threads = {t.ident for t in threading.enumerate()}
_a04_before = _a04_sockets()
"""

AFTER = """
import gc, time
from course_lib import loopback
gc.collect()
assert loopback.running() == [], loopback.running()
_left = [t.name for t in threading.enumerate() if t.ident not in _a04_threads and t.is_alive()]
assert _left == [], _left
_new = _a04_sockets() - _a04_before
assert _new == set(), f"sockets left open: {_new}"
print("nothing left")
"""


def test_the_notebook_leaves_no_server_thread_or_socket() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(BEFORE))
    nb.cells.append(nbformat.v4.new_code_cell(AFTER))
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env_path]))
    try:
        nbclient.NotebookClient(
            nb,
            timeout=120,
            kernel_name="python3",
            resources={"metadata": {"path": str(NOTEBOOK.parent)}},
        ).execute()
    finally:
        os.environ["PYTHONPATH"] = env_path
    outputs = nb.cells[-1].outputs
    assert [o.get("text") for o in outputs if o.output_type == "stream"] == ["nothing left\n"]
