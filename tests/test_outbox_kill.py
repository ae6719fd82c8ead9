"""A real process, a real SQLite file, a real SIGKILL in the middle of a drain.

The outbox's promise (notebook 06): every checkout is charged, and charged once,
whatever moment the draining process dies. Here the drain runs in a child
process that is SIGKILLed at the worst moments: right after the payment partner
charged a checkout (before the outbox marked it delivered), and right before a
charge was sent. A fresh process ("the restart") then drains again. The partner
is a second SQLite file that charges an idempotency key once, as Stripe does.

The kill is not timed: the child tells the parent through a pipe that it reached
the moment, then blocks; the parent kills it there. So the test is deterministic.

The same test runs on the reference (:class:`course_lib.outbox.Outbox`), on the
notebook's solution (its answer cells, executed from the notebook's text), and on
known-buggy submissions: a key made up at drain time must double-charge, a mark
before the charge must lose a checkout, and one commit of the marks at the end of
the drain must send every charge of a killed drain again.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import sqlite3
import tomllib
from pathlib import Path
from typing import Any

import pytest

from course_lib.outbox import Outbox

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "06-ha-dr-runbook" / "06-ha-dr-runbook.md"
BUGGY = ROOT / "autograders" / "submissions" / "06-ha-dr-runbook"
CHECKOUTS = [(f"checkout-{i}", 100 * i + 99) for i in range(1, 13)]
SAFETY_TIMEOUT = 60.0  # s: only if the child never reaches the moment (then the test fails)

_CELL = re.compile(r"```\{code-cell\}\n---\n(.*?)\n---\n(.*?)```", re.S)


def _answer_cells(replace: dict[str, str] | None = None) -> dict[str, str]:
    """The notebook's answer cells by grade_id, solutions unwrapped (marker lines dropped)."""
    cells = {}
    for meta, source in _CELL.findall(NOTEBOOK.read_text(encoding="utf-8")):
        found = re.search(r"grade_id: (\S+)", meta)
        if found and "solution: true" in meta:
            lines = [line for line in source.splitlines() if "### " not in line]
            cells[found.group(1)] = "\n".join(lines)
    cells.update(replace or {})
    return cells


def _notebook_outbox(replace: dict[str, str] | None = None) -> Any:
    cells = _answer_cells(replace)
    namespace: dict[str, Any] = {"__name__": "notebook_06"}
    exec(compile(cells["outbox-answer"], "outbox-answer", "exec"), namespace)  # noqa: S102
    exec(compile(cells["drain-answer"], "drain-answer", "exec"), namespace)  # noqa: S102
    return namespace["Outbox"]


def _buggy(name: str) -> Any:
    data = tomllib.loads((BUGGY / f"{name}.toml").read_text(encoding="utf-8"))
    return _notebook_outbox(data["replace"])


class Partner:
    """The payment partner: a SQLite ledger that charges an idempotency key once."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("CREATE TABLE IF NOT EXISTS attempts (key TEXT, checkout_id TEXT)")
        self.db.execute("CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY)")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS charges (key TEXT, checkout_id TEXT, amount INTEGER)"
        )

    def charge(self, key: Any, checkout_id: str, amount_cents: int) -> None:
        self.db.execute("INSERT INTO attempts VALUES (?, ?)", (key, checkout_id))
        if isinstance(key, str) and key:
            fresh = self.db.execute("INSERT OR IGNORE INTO seen VALUES (?)", (key,)).rowcount
            if not fresh:
                return  # a repeat: answered with the first result, not charged again
        self.db.execute("INSERT INTO charges VALUES (?, ?, ?)", (key, checkout_id, amount_cents))


def _drain_until_killed(
    outbox_cls: Any, box_path: str, ledger: str, stop_at: int, after: bool, signal_fd: int
) -> None:
    """The child: drain; at charge ``stop_at`` tell the parent (before or after it charged)
    and wait to be killed."""
    partner = Partner(Path(ledger))
    calls = 0

    def charge(key: Any, checkout_id: str, amount_cents: int) -> None:
        nonlocal calls
        calls += 1
        if calls == stop_at and not after:
            os.write(signal_fd, b"x")
            signal.pause()
        partner.charge(key, checkout_id, amount_cents)
        if calls == stop_at:
            os.write(signal_fd, b"x")
            signal.pause()

    outbox_cls(box_path).drain(charge)
    os._exit(3)  # drained everything without reaching stop_at: the test fails on the exit code


def _drain_all(outbox_cls: Any, box_path: str, ledger: str) -> None:
    partner = Partner(Path(ledger))
    outbox_cls(box_path).drain(partner.charge)
    os._exit(0)


def _kill_mid_drain(outbox_cls: Any, box: Path, ledger: Path, stop_at: int, after: bool) -> None:
    ctx = multiprocessing.get_context("fork")
    read_fd, write_fd = os.pipe()
    child = ctx.Process(
        target=_drain_until_killed,
        args=(outbox_cls, str(box), str(ledger), stop_at, after, write_fd),
    )
    child.start()
    os.close(write_fd)
    try:
        import select

        ready, _, _ = select.select([read_fd], [], [], SAFETY_TIMEOUT)
        assert ready, "the draining child never reached the charge it should be killed at"
        assert os.read(read_fd, 1) == b"x", "the draining child ended before being killed"
        os.kill(child.pid or 0, signal.SIGKILL)
    finally:
        os.close(read_fd)
        child.join(SAFETY_TIMEOUT)
    assert child.exitcode == -signal.SIGKILL, f"the child was not killed: {child.exitcode}"


def _restart_and_drain(outbox_cls: Any, box: Path, ledger: Path) -> None:
    child = multiprocessing.get_context("fork").Process(
        target=_drain_all, args=(outbox_cls, str(box), str(ledger))
    )
    child.start()
    child.join(SAFETY_TIMEOUT)
    assert child.exitcode == 0, f"the restarted drain failed: exit code {child.exitcode}"


def _outcome(outbox_cls: Any, tmp_path: Path) -> tuple[dict[str, int], int, int]:
    """Put the checkouts, kill two drains (after, then before a charge), restart, drain."""
    box, ledger = tmp_path / "outbox.sqlite3", tmp_path / "partner.sqlite3"
    writer = outbox_cls(str(box))
    for checkout_id, amount in CHECKOUTS:
        writer.put(checkout_id, amount)
    Partner(ledger)
    _kill_mid_drain(outbox_cls, box, ledger, stop_at=4, after=True)
    _kill_mid_drain(outbox_cls, box, ledger, stop_at=3, after=False)
    _restart_and_drain(outbox_cls, box, ledger)
    db = sqlite3.connect(ledger)
    charged: dict[str, int] = {}
    for (checkout_id,) in db.execute("SELECT checkout_id FROM charges"):
        charged[checkout_id] = charged.get(checkout_id, 0) + 1
    (attempts,) = db.execute("SELECT COUNT(*) FROM attempts").fetchone()
    db.close()
    return charged, attempts, outbox_cls(str(box)).size()


@pytest.mark.parametrize("source", ["reference", "notebook solution"])
def test_sigkill_mid_drain_delivers_every_checkout_once(source: str, tmp_path: Path) -> None:
    outbox_cls = Outbox if source == "reference" else _notebook_outbox()
    charged, attempts, left = _outcome(outbox_cls, tmp_path)
    assert charged == {checkout_id: 1 for checkout_id, _ in CHECKOUTS}
    # at least once: the checkout charged just before the first kill was sent again
    assert attempts == len(CHECKOUTS) + 1
    assert left == 0


def test_sigkill_mid_drain_without_idempotency_key_double_charges(tmp_path: Path) -> None:
    charged, _, left = _outcome(_buggy("drain-without-idempotency-key"), tmp_path)
    assert set(charged) == {checkout_id for checkout_id, _ in CHECKOUTS}
    assert charged["checkout-4"] == 2  # the one charged right before the first kill
    assert left == 0


def test_sigkill_mid_drain_marking_before_charging_loses_a_checkout(tmp_path: Path) -> None:
    charged, _, left = _outcome(_buggy("drain-marks-before-charge"), tmp_path)
    # killed before its charge was sent, already marked delivered: never charged
    missing = {checkout_id for checkout_id, _ in CHECKOUTS} - set(charged)
    assert missing == {"checkout-7"}  # the third of the second drain (4 was marked already)
    assert left == 0


@pytest.mark.parametrize("name", ["drain-commits-once-at-end", "drain-commits-at-end-finally"])
def test_sigkill_mid_drain_with_one_commit_at_the_end_charges_the_drain_again(
    name: str, tmp_path: Path
) -> None:
    charged, attempts, left = _outcome(_buggy(name), tmp_path)
    # the keys keep every checkout charged once, but a kill loses every mark of its drain
    assert charged == {checkout_id: 1 for checkout_id, _ in CHECKOUTS}
    # first drain: 4 charges, killed, no mark kept; second: 1 and 2 again, killed before 3;
    # the restart: all 12 (a mark committed per charge repeats only checkout-4: 13 attempts)
    assert attempts == 4 + 2 + len(CHECKOUTS)
    assert left == 0
