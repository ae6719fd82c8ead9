"""A throw-away PostgreSQL server on 127.0.0.1 for the tests (Debian's ``postgresql``).

:func:`running_postgres` runs ``initdb`` into a temporary folder (trust authentication,
so no password), starts ``postgres`` listening on 127.0.0.1 at a free port with its
socket in that folder, yields the server's SQLAlchemy URL base, and stops it. Run as
root (CI), the server runs as the ``postgres`` user, which Debian's package creates:
PostgreSQL refuses to run as root. A watchdog stops the server if the test process dies
without stopping it, so no server outlives the test run.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from servers import free_port, watchdog

__all__ = ["postgres_bindir", "running_postgres"]


def postgres_bindir() -> Path | None:
    """The folder holding ``initdb``/``pg_ctl`` (Debian keeps them out of PATH), or None."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True):
        return Path(candidate).parent
    return None


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


@contextlib.contextmanager
def running_postgres(bindir: Path) -> Iterator[str]:
    """Start a PostgreSQL server; yield ``postgresql+psycopg://postgres@127.0.0.1:PORT``."""
    with tempfile.TemporaryDirectory(prefix="m14-pg-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        if os.geteuid() == 0:
            shutil.chown(tmp, "postgres")
            shutil.chown(data, "postgres")
        subprocess.run(
            _as_server_user(
                [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        port = free_port()
        server = subprocess.Popen(
            _as_server_user(
                [
                    str(bindir / "postgres"),
                    "-D", str(data),
                    "-h", "127.0.0.1",
                    "-p", str(port),
                    "-k", tmp,
                    "-c", "max_connections=60",
                    "-c", "fsync=off",
                ]
            ),
            stdout=subprocess.DEVNULL,
            stderr=open(Path(tmp) / "server.log", "wb"),  # noqa: SIM115 (closed with the dir)
            start_new_session=True,
        )  # fmt: skip
        # no server outlives the run, even if this process dies without stopping it
        with watchdog(server.pid, signal.SIGQUIT):
            try:
                deadline = time.monotonic() + 60
                while True:
                    ready = subprocess.run(
                        [str(bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                        capture_output=True,
                    )
                    if ready.returncode == 0:
                        break
                    if server.poll() is not None or time.monotonic() > deadline:
                        log = (Path(tmp) / "server.log").read_text(errors="replace")
                        raise RuntimeError(f"PostgreSQL did not start on port {port}:\n{log}")
                    time.sleep(0.2)
                yield f"postgresql+psycopg://postgres@127.0.0.1:{port}"
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(server.pid, 2)  # SIGINT: "fast" shutdown
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(server.pid, 9)
                    server.wait()


def create_database(base_url: str, name: str) -> str:
    """Create database ``name`` on the server; return its URL."""
    from sqlalchemy import create_engine, text

    engine = create_engine(f"{base_url}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return f"{base_url}/{name}"
