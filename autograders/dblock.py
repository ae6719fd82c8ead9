"""One writer at a time per gradebook, across processes and machines.

nbgrader's :class:`~nbgrader.api.Gradebook` finds-or-creates its rows (students,
submissions, the assignment's cells) in separate statements, so two graders writing
the same gradebook at once can both decide a row is missing and both add it: one then
fails on a unique constraint, or, where there is none, the row is there twice. Several
``python -m autograders grade`` processes may share one gradebook (a class split
between graders, or a grader and Formgrader), so every write goes through
:func:`gradebook_lock`, which serialises writers by the gradebook's own means:

* PostgreSQL (``postgresql://``, ``postgresql+psycopg://`` ...): a session-level
  advisory lock (``pg_advisory_lock``) held on a connection of its own; every grader
  on every machine that reaches the server waits for it. Released when the block ends,
  and by the server if the grader dies.
* SQLite (``sqlite:///PATH``): an exclusive ``flock`` on ``PATH.lock`` next to the
  database file (writers on one machine; SQLite files are not for sharing across
  machines anyway). Released by the kernel if the grader dies.
* anything else (MySQL ...): no lock; one grader at a time is the user's job, and
  :func:`gradebook_lock` says so once on stderr.

The lock is held for one short write (a submission's rows), never while a notebook
is graded, so graders run in parallel and only take turns to write.
"""

from __future__ import annotations

import contextlib
import fcntl
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["ADVISORY_KEY", "gradebook_lock"]

ADVISORY_KEY = 0x4D3134_4742  # "M14GB": the advisory-lock key every grader of the course uses
"""The key of the PostgreSQL advisory lock (one per database, shared by every grader)."""

_warned: set[str] = set()
_held: dict[str, int] = {}  # gradebook URL -> how deep this process holds its lock
_engines: dict[str, Any] = {}


def _engine(db_url: str) -> Any:
    """One engine per gradebook per process: its pooled connection holds the lock."""
    if db_url not in _engines:
        from sqlalchemy import create_engine

        _engines[db_url] = create_engine(db_url, pool_size=1, max_overflow=0)
    return _engines[db_url]


def _sqlite_path(url: str) -> Path | None:
    """``sqlite:///a/b.db`` -> ``/a/b.db``; None for in-memory databases."""
    rest = url.split(":///", 1)[1] if ":///" in url else ""
    rest = rest.split("?", 1)[0]
    if not rest or rest == ":memory:":
        return None
    return Path(rest)


@contextlib.contextmanager
def gradebook_lock(db_url: str) -> Iterator[None]:
    """Hold the gradebook's writer lock for the duration of the block.

    Reentrant within a process (a write inside a write does not wait for itself). Meant
    for the one thread of a grader that writes the gradebook.

    Args:
        db_url: the SQLAlchemy URL of the gradebook (as given to ``--db``).

    Raises:
        sqlalchemy.exc.OperationalError: PostgreSQL could not be reached (its message
            names the server).
    """
    if _held.get(db_url):  # this process holds it already: the lock is reentrant
        _held[db_url] += 1
        try:
            yield
        finally:
            _held[db_url] -= 1
        return
    _held[db_url] = 1
    try:
        with _locked(db_url):
            yield
    finally:
        del _held[db_url]


@contextlib.contextmanager
def _locked(db_url: str) -> Iterator[None]:
    """Take the lock (see :func:`gradebook_lock`); not reentrant."""
    scheme = db_url.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme == "sqlite":
        path = _sqlite_path(db_url)
        if path is None:
            yield
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(f"{path}.lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return
    if scheme in ("postgresql", "postgres"):
        from sqlalchemy import text

        with _engine(db_url).connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_KEY})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
                connection.commit()
        return
    if scheme not in _warned:
        _warned.add(scheme)
        print(
            f"note: no writer lock for {scheme!r} gradebooks: run one grader at a time",
            file=sys.stderr,
        )
    yield
