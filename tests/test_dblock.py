"""``autograders.dblock.gradebook_lock``: one writer at a time, across processes.

Three processes each add 1 to a counter 50 times, as read-then-write in separate
statements (the way nbgrader's find-or-create works), each increment inside
``gradebook_lock``. With the lock the counter ends at exactly 150: no update is lost. The
same runs on SQLite (a file lock) and on a real PostgreSQL server (an advisory lock).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import require_program
from pg_server import create_database, postgres_bindir, running_postgres

from autograders.dblock import gradebook_lock

ROOT = Path(__file__).resolve().parent.parent
WRITERS = 3
INCREMENTS = 50


#: One writer: waits for the start file, then does its increments, each under the lock.
WRITER = """
import sys, time
from pathlib import Path
from sqlalchemy import create_engine, text
from autograders.dblock import gradebook_lock

url, times, start = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
engine = create_engine(url)
while not start.exists():  # every writer starts together
    time.sleep(0.01)
for _ in range(times):
    with gradebook_lock(url), engine.connect() as c:
        value = c.execute(text("SELECT value FROM counter")).scalar_one()
        c.execute(text("UPDATE counter SET value = :v"), {"v": value + 1})
        c.commit()
engine.dispose()
"""


def _count_with_writers(url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as c:
            c.execute(text("CREATE TABLE counter (value INTEGER NOT NULL)"))
            c.execute(text("INSERT INTO counter VALUES (0)"))
            c.commit()
        with tempfile.TemporaryDirectory() as tmp:
            start = Path(tmp) / "start"
            writers = [
                subprocess.Popen(
                    [sys.executable, "-c", WRITER, url, str(INCREMENTS), str(start)],
                    env={**os.environ, "PYTHONPATH": str(ROOT)},
                )
                for _ in range(WRITERS)
            ]
            start.touch()
            for w in writers:
                assert w.wait(timeout=300) == 0
        with engine.connect() as c:
            value: int = c.execute(text("SELECT value FROM counter")).scalar_one()
            return value
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def postgres() -> Iterator[str]:
    bindir = postgres_bindir()
    if bindir is None:
        require_program("initdb", install_hint="apt-get install postgresql")
    assert bindir is not None
    with running_postgres(bindir) as url:
        yield url


@pytest.mark.slow
def test_postgres_writers_take_turns(postgres: str) -> None:
    url = create_database(postgres, "locktest")
    assert _count_with_writers(url) == WRITERS * INCREMENTS


@pytest.mark.slow
def test_sqlite_writers_take_turns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    assert _count_with_writers(url) == WRITERS * INCREMENTS


def test_other_databases_get_a_note_and_no_lock(capsys: pytest.CaptureFixture[str]) -> None:
    with gradebook_lock("mysql://grader@127.0.0.1/gradebook"):
        pass
    assert "no writer lock for 'mysql'" in capsys.readouterr().err
