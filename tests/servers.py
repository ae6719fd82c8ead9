"""What every test that starts a server on 127.0.0.1 needs: a free port, and a watchdog.

:func:`free_port` asks the kernel for a port nobody listens on. :func:`watchdog` stops a
server's process group if the test process dies (killed, a crash) without stopping it, so
no server outlives the test run: PostgreSQL (``pg_server``), JupyterHub
(``test_jupyterhub``) and JupyterLab (``browser_lab``) run under one.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator

__all__ = ["free_port", "watchdog"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


_WATCHDOG = """\
import os, sys, time
parent, group, signal_number = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
while True:
    try:
        os.kill(parent, 0)
    except OSError:
        break
    time.sleep(1)
try:
    os.killpg(group, signal_number)
except OSError:
    pass
"""


@contextlib.contextmanager
def watchdog(group: int, sig: signal.Signals = signal.SIGTERM) -> Iterator[None]:
    """While the block runs, a process that sends ``sig`` to process group ``group`` if
    this (the test) process dies first; stopped when the block ends.

    The server must run in its own session (``start_new_session=True``): its pid is then
    its process group, and the signal reaches what it started (kernels, workers) too.
    """
    guard = subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(group), str(int(sig))],
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        yield
    finally:
        guard.kill()
        guard.wait()
