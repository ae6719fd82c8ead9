"""The transactional outbox on a real SQLite file: nothing lost, nothing charged twice.

While the payment breaker is open, a checkout cannot be charged, so it is written
to an *outbox* table instead and charged later, when the breaker closes. Three
promises, each kept by one rule:

* **Nothing lost.** :meth:`Outbox.put` commits the row before it returns: once
  the customer was told "your order is queued", a crash (even ``SIGKILL``) does
  not take the checkout with it. The table lives in a file, not in memory.
* **Delivered at least once.** :meth:`Outbox.drain` charges a row first and marks
  it delivered (and commits) only afterwards. A crash in between leaves the row
  pending, so the next drain charges it again.
* **Charged at most once.** Each row gets its *idempotency key* when it is
  written, and every attempt passes that same key: the payment partner charges
  a key once and answers a repeat with the first result (Stripe's
  ``Idempotency-Key``). At-least-once delivery plus idempotent charging is
  exactly-once *effect*.

>>> box = Outbox("/tmp/outbox.sqlite3")                     # doctest: +SKIP
>>> box.put("checkout-1", 4999)                             # doctest: +SKIP
'3f2c...'
>>> box.drain(lambda key, checkout_id, amount_cents: ...)   # doctest: +SKIP
1
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from os import PathLike
from typing import Any

__all__ = ["SCHEMA", "Outbox"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    checkout_id TEXT NOT NULL,
    amount_cents INTEGER NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0
)
"""
"""The outbox table: one row per checkout, in the order they were written."""

Charge = Callable[[str, str, int], Any]


class Outbox:
    """Checkouts waiting to be charged, in a SQLite file.

    Args:
        path: The database file (created if missing). ``":memory:"`` is refused:
            an outbox that dies with its process loses what it promised to keep.
        timeout: Seconds to wait for another connection's lock.
        synchronous: SQLite's ``PRAGMA synchronous``: ``"FULL"`` (the default)
            waits for the disk on every commit; ``"OFF"`` hands the commit to the
            operating system and goes on. A killed *process* loses nothing either
            way (the data is in the OS's cache); a power cut can lose the last
            commits with ``"OFF"``. The notebook's simulation uses ``"OFF"``.

    Raises:
        ValueError: ``path`` is not a file path, or ``synchronous`` is not one of
            ``"OFF"``, ``"NORMAL"``, ``"FULL"``, ``"EXTRA"``.
    """

    def __init__(
        self, path: str | PathLike[str], *, timeout: float = 5.0, synchronous: str = "FULL"
    ) -> None:
        if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(
                f"synchronous must be 'OFF', 'NORMAL', 'FULL' or 'EXTRA', got {synchronous!r}"
            )
        if not isinstance(path, str | PathLike):
            raise ValueError(f"path must be a file path, got {path!r}")
        name = str(path)
        if not name or name == ":memory:" or name.startswith("file::memory:"):
            raise ValueError(f"path must be a file, not {name!r}: an outbox in memory dies with it")
        self.path = name
        self._db = sqlite3.connect(name, timeout=timeout, isolation_level=None)
        self._db.execute(f"PRAGMA synchronous = {synchronous}")
        self._db.execute(SCHEMA)

    def put(self, checkout_id: str, amount_cents: int, key: str | None = None) -> str:
        """Write one checkout, committed before returning; its idempotency key.

        Args:
            checkout_id: The checkout's id.
            amount_cents: What to charge (a whole number of cents, >= 0).
            key: The idempotency key; a fresh UUID by default.

        Raises:
            ValueError: a bad checkout_id, amount or key.
        """
        if not isinstance(checkout_id, str) or not checkout_id:
            raise ValueError(f"checkout_id must be a non-empty string, got {checkout_id!r}")
        if isinstance(amount_cents, bool) or not isinstance(amount_cents, int) or amount_cents < 0:
            raise ValueError(f"amount_cents must be a whole number >= 0, got {amount_cents!r}")
        key = uuid.uuid4().hex if key is None else key
        if not isinstance(key, str) or not key:
            raise ValueError(f"key must be a non-empty string, got {key!r}")
        # isolation_level=None: this INSERT is its own transaction, committed when it returns
        self._db.execute(
            "INSERT INTO outbox (idempotency_key, checkout_id, amount_cents) VALUES (?, ?, ?)",
            (key, checkout_id, amount_cents),
        )
        return key

    def size(self) -> int:
        """How many checkouts wait (written, not yet delivered)."""
        (count,) = self._db.execute("SELECT COUNT(*) FROM outbox WHERE delivered = 0").fetchone()
        return int(count)

    def pending(self) -> list[tuple[str, str, int]]:
        """The waiting checkouts, oldest first: ``(key, checkout_id, amount_cents)``."""
        rows = self._db.execute(
            "SELECT idempotency_key, checkout_id, amount_cents FROM outbox "
            "WHERE delivered = 0 ORDER BY seq"
        ).fetchall()
        return [(str(k), str(c), int(a)) for k, c, a in rows]

    def drain(self, charge: Charge, *, limit: int | None = None) -> int:
        """Charge waiting checkouts, oldest first; how many were delivered.

        For each row: ``charge(key, checkout_id, amount_cents)``, then mark it
        delivered, committed at once. If ``charge`` raises, the drain stops and
        the error propagates; that row stays pending (it may have been charged:
        the key makes charging it again harmless).

        Args:
            charge: Called once per row with its stored idempotency key.
            limit: Deliver at most this many (``None``: all).
        """
        delivered = 0
        for key, checkout_id, amount in self.pending():
            if limit is not None and delivered >= limit:
                break
            charge(key, checkout_id, amount)
            self._db.execute("UPDATE outbox SET delivered = 1 WHERE idempotency_key = ?", (key,))
            delivered += 1
        return delivered

    def close(self) -> None:
        """Close the connection (every row was already committed)."""
        self._db.close()
