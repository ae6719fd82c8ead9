"""The reference of notebook 06 (course_lib.runbook, course_lib.outbox), its checks and widget.

No test sleeps or reads a clock: timelines and metric streams are plain data.
"""

from __future__ import annotations

import contextlib
import json
import random
from pathlib import Path
from typing import Any

import pytest

from course_lib import runbook
from course_lib.checks import runbook as checks
from course_lib.checks.kit import CheckFailed
from course_lib.outbox import Outbox

PAYMENT, DATABASE, REDIS = runbook.TRIAGE_RULES


# --- recovery objectives ------------------------------------------------------------------


def test_default_failover_meets_both_targets() -> None:
    timeline = runbook.incident_timeline(crash_at=600.0)
    assert timeline == {
        "crash_at": 600.0,
        "last_replicated_at": 595.0,
        "detected_at": 630.0,  # third failed check: 610, 620, 630
        "decided_at": 635.0,
        "promoted_at": 665.0,
        "rerouted_at": 725.0,
    }
    objectives = runbook.recovery_objectives(timeline)
    assert objectives == {"rto": 125.0, "rpo": 5.0}
    assert objectives["rto"] < runbook.TARGET_RTO and objectives["rpo"] < runbook.TARGET_RPO


def test_rpo_is_measured_from_the_last_replicated_write_not_the_detection() -> None:
    slow = runbook.incident_timeline(check_interval=60.0, checks_to_fail=5)
    fast = runbook.incident_timeline(check_interval=10.0, checks_to_fail=1)
    assert runbook.recovery_objectives(slow)["rpo"] == runbook.recovery_objectives(fast)["rpo"]
    assert runbook.recovery_objectives(slow)["rto"] > runbook.recovery_objectives(fast)["rto"]


def test_a_person_deciding_misses_nothing_but_costs_ten_minutes() -> None:
    manual = runbook.recovery_objectives(runbook.incident_timeline(automated=False))
    auto = runbook.recovery_objectives(runbook.incident_timeline(automated=True))
    assert manual["rto"] - auto["rto"] == 595.0
    assert manual["rpo"] == auto["rpo"]


def test_sync_replication_loses_nothing() -> None:
    timeline = runbook.incident_timeline(replication="sync", replication_lag=30.0)
    assert runbook.recovery_objectives(timeline)["rpo"] == 0.0


def test_knob_effects_are_found_by_experiment() -> None:
    assert runbook.knob_effects() == {
        "check_interval": "rto",
        "replication": "rpo",
        "automated": "rto",
    }


@pytest.mark.parametrize(
    ("knobs", "named"),
    [
        ({"check_interval": 0}, "check_interval"),
        ({"checks_to_fail": 0}, "checks_to_fail"),
        ({"replication": "semi"}, "replication"),
        ({"automated": "yes"}, "automated"),
        ({"promote_seconds": -1}, "promote_seconds"),
        ({"crash_at": float("nan")}, "crash_at"),
    ],
)
def test_bad_knobs_are_named(knobs: dict[str, Any], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        runbook.incident_timeline(**knobs)


def test_malformed_timelines_are_named() -> None:
    good = runbook.incident_timeline()
    with pytest.raises(ValueError, match="rerouted_at"):
        runbook.recovery_objectives({k: v for k, v in good.items() if k != "rerouted_at"})
    with pytest.raises(ValueError, match="last_replicated_at comes after crash_at"):
        runbook.recovery_objectives({**good, "last_replicated_at": good["crash_at"] + 1})
    with pytest.raises(ValueError, match="promoted_at comes before decided_at"):
        runbook.recovery_objectives({**good, "promoted_at": good["decided_at"] - 1})


def test_random_timelines_are_valid() -> None:
    rng = random.Random(1)
    for _ in range(200):
        runbook.check_timeline(runbook.random_timeline(rng))


# --- rules --------------------------------------------------------------------------------


def test_one_spike_does_not_fire_a_sustained_breach_does() -> None:
    assert not runbook.should_fire([0.0] * 6 + [0.5], PAYMENT)
    assert runbook.should_fire([0.0] + [0.06] * 6, PAYMENT)
    assert not runbook.should_fire([0.06] * 5, PAYMENT)  # a window needs six samples
    assert not runbook.should_fire([0.05] * 6, PAYMENT)  # strictly above


def test_hysteresis_keeps_a_hovering_metric_from_flapping() -> None:
    hovering = [0.08] * 6 + [0.04, 0.06] * 10
    samples = [
        {"t": 10.0 * (i + 1), "checkout_504_ratio": v, "db_health_failed": 0.0, "redis_cpu": 0.4}
        for i, v in enumerate(hovering + [0.01] * 6)
    ]
    events = runbook.run_rules([PAYMENT], samples)
    assert events == [
        ("fire", 60.0, "payment-api-timeout", "P2", "open-payment-breaker"),
        ("resolve", 320.0, "payment-api-timeout"),
    ]
    flappy = {**PAYMENT, "clear_below": 0.05, "for_seconds": 10.0}
    assert len(runbook.run_rules([flappy], samples)) > 10


def test_rules_that_would_flap_by_design_are_refused() -> None:
    with pytest.raises(ValueError, match="clear_below"):
        runbook.check_rule({**PAYMENT, "clear_below": 0.1})
    with pytest.raises(ValueError, match="'severity'"):
        runbook.check_rule({k: v for k, v in PAYMENT.items() if k != "severity"})
    with pytest.raises(ValueError, match="no 'redis_cpu'"):
        runbook.run_rules([REDIS], [{"t": 10.0, "checkout_504_ratio": 0.0}])


def test_outbox_status_words() -> None:
    assert runbook.outbox_status([(0, "open")]) == "empty"
    assert runbook.outbox_status([(3, "half_open")]) == "queueing"
    assert runbook.outbox_status([(3, "open"), (2, "closed")]) == "draining"
    assert runbook.outbox_status([(3, "closed")] * 4) == "stuck"
    assert runbook.outbox_status([(3, "open")] + [(3, "closed")] * 3) == "draining"
    with pytest.raises(ValueError, match="empty"):
        runbook.outbox_status([])


# --- the outbox (single process; tests/test_outbox_kill.py kills processes) ---------------


def test_outbox_survives_a_reopen_and_drains_oldest_first(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    first = Outbox(path)
    keys = [first.put(f"checkout-{i}", 100 * i) for i in range(1, 4)]
    assert len(set(keys)) == 3
    second = Outbox(path)
    assert second.size() == 3
    seen: list[tuple[str, str, int]] = []
    assert second.drain(lambda *args: seen.append(args), limit=2) == 2
    assert seen == [(keys[0], "checkout-1", 100), (keys[1], "checkout-2", 200)]
    assert Outbox(path).size() == 1


def test_a_failing_charge_leaves_its_row_waiting(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "outbox.sqlite3")
    box.put("checkout-1", 100)
    box.put("checkout-2", 200)

    def charge(key: str, checkout_id: str, amount: int) -> None:
        if checkout_id == "checkout-2":
            raise ConnectionError("partner down")

    with pytest.raises(ConnectionError):
        box.drain(charge)
    assert [row[1] for row in box.pending()] == ["checkout-2"]


@pytest.mark.parametrize(
    ("args", "named"),
    [(("", 1), "checkout_id"), (("c", -1), "amount_cents"), (("c", 1.5), "amount_cents")],
)
def test_outbox_refuses_bad_checkouts(tmp_path: Path, args: tuple[Any, ...], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        Outbox(tmp_path / "o.sqlite3").put(*args)


def test_outbox_refuses_memory_and_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="memory"):
        Outbox(":memory:")
    with pytest.raises(ValueError, match="synchronous"):
        Outbox(tmp_path / "o.sqlite3", synchronous="SOMETIMES")


# --- the incident simulation and the widget -----------------------------------------------


def test_the_simulated_incident_charges_every_checkout_once() -> None:
    run = runbook.simulate_incident(6)
    assert run.charged == run.written == 1800
    assert max(run.outbox) > 100 and run.outbox[-1] == 0
    fired = [e[2] for e in run.events if e[0] == "fire"]
    assert fired == ["payment-api-timeout", "primary-db-crash", "redis-cpu-saturation"]
    assert "open" in run.breaker and run.breaker[-1] == "closed"
    assert "queueing" in run.status and "draining" in run.status
    assert runbook.simulate_incident(6) == run  # seeded


def test_widget_draws_the_incident_and_a_stub_in_one_line() -> None:
    from course_lib.widgets.runbook_widget import show_incident

    widget = show_incident()
    assert widget.frames == 180 and widget.student == {}
    assert len(json.dumps(widget.incident)) < 1_000_000
    widget.go_to(1000)
    assert widget.frame == 179 and widget.shown()["outbox"] == 0

    def stub(rules: Any, samples: Any) -> Any:
        raise NotImplementedError("Not written yet: run_rules")

    error = show_incident(run_rules=stub).student["error"]
    assert error.startswith("Your run_rules raised NotImplementedError") and "\n" not in error
    same = show_incident(rules=runbook.TRIAGE_RULES, run_rules=runbook.run_rules)
    assert same.student["divergence"].startswith("Your rules and the reference's")


# --- the checks ---------------------------------------------------------------------------


def test_checks_pass_the_reference() -> None:
    checks.check_objectives(runbook.recovery_objectives)
    checks.check_knobs(runbook.knob_effects())
    checks.check_rules([dict(rule) for rule in runbook.TRIAGE_RULES])
    checks.check_should_fire(runbook.should_fire)
    checks.check_run_rules(runbook.run_rules)
    checks.check_outbox(Outbox)
    checks.check_drain(Outbox)
    checks.check_outbox_status(runbook.outbox_status)


def test_drain_check_catches_a_key_made_up_per_attempt() -> None:
    attempts = iter(range(1000))

    class NewKeyEachTime(Outbox):
        def drain(self, charge: Any, *, limit: int | None = None) -> int:
            return super().drain(lambda k, c, a: charge(f"attempt-{next(attempts)}", c, a))

    problem = checks.drain_problem(NewKeyEachTime, 2, [(1, True)])
    assert problem is not None and "charged 2 times" in problem


def test_drain_check_says_marks_committed_at_the_end_are_charged_again() -> None:
    class CommitsAtTheEnd(Outbox):
        def drain(self, charge: Any, *, limit: int | None = None) -> int:
            self._db.execute("BEGIN")
            try:
                return super().drain(charge, limit=limit)
            finally:  # a real kill runs no finally: the check must not be fooled by it
                self._db.execute("COMMIT")

    problem = checks.drain_problem(CommitsAtTheEnd, 3, [])
    assert problem == (
        "3 checkouts put, then a drain: when drain called charge for checkout-2, checkout-1 "
        "had been charged but its delivered mark was not committed yet (a new Outbox on the "
        "same file still counted 3 waiting, not 2). A process killed at that moment would "
        "charge checkout-1 again after the restart. Commit each row's delivered mark right "
        "after its charge returns, before the next charge"
    )
    killed = checks.drain_problem(CommitsAtTheEnd, 3, [(1, True)])
    assert killed is not None and killed.startswith(
        "3 checkouts put, then a drain killed at its charge 1 (after the partner charged), "
        "then a drain: when drain called charge for checkout-2"
    )
    refused = checks.refused_problem(CommitsAtTheEnd, 3, 2)
    assert refused is not None and "checkout-1 had been charged but its delivered" in refused


def test_knob_check_refuses_non_plain_answers() -> None:
    class Word(str):
        def __eq__(self, other: object) -> bool:
            return True

        __hash__ = str.__hash__

    with pytest.raises(CheckFailed, match="text"):
        checks.knobs_problem(
            {"check_interval": Word("x"), "replication": "rpo", "automated": "rto"}
        )


def test_run_rules_check_names_events_grouped_by_rule() -> None:
    def rules_outside(rules: Any, samples: Any) -> list[tuple[Any, ...]]:
        return [event for rule in rules for event in runbook.run_rules([rule], samples)]

    with pytest.raises(CheckFailed, match="loop over the samples outside and over the rules"):
        checks.check_run_rules(rules_outside)


def test_run_rules_check_names_a_resolve_without_hysteresis() -> None:
    def no_hysteresis(rules: Any, samples: Any) -> list[tuple[Any, ...]]:
        flat = [{**rule, "clear_below": rule["above"]} for rule in rules]
        return runbook.run_rules(flat, samples)

    with pytest.raises(CheckFailed, match="not on a single sample below it"):
        checks.check_run_rules(no_hysteresis)


def test_outbox_check_refuses_a_key_made_from_the_checkout_id() -> None:
    class KeyIsCheckoutId(Outbox):
        def put(self, checkout_id: str, amount_cents: int, key: str | None = None) -> str:
            return super().put(checkout_id, amount_cents, key=checkout_id)

    with pytest.raises(CheckFailed, match="another outbox file already gave its checkout-1"):
        checks.check_outbox(KeyIsCheckoutId)


def test_drain_check_wants_a_refused_charge_to_come_out() -> None:
    class Swallows(Outbox):
        def drain(self, charge: Any, *, limit: int | None = None) -> int:
            def quiet(key: str, checkout_id: str, amount_cents: int) -> None:
                with contextlib.suppress(checks.PaymentRefused):
                    charge(key, checkout_id, amount_cents)

            return super().drain(quiet)

    with pytest.raises(CheckFailed, match="stop and let the error propagate"):
        checks.check_drain(Swallows)
    assert checks.refused_problem(Outbox, 4, 3) is None


def test_status_check_says_which_word_wins() -> None:
    def stuck_first(history: Any) -> str:
        recent = history[-4:]
        closed = len(recent) == 4 and all(s == "closed" for _, s in recent)
        if closed and recent[-1][0] >= recent[0][0]:
            return "stuck"
        return runbook.outbox_status(history)

    def against_the_one_before(history: Any) -> str:
        word = runbook.outbox_status(history)
        if word in ("stuck", "draining"):
            return "stuck" if history[-1][0] >= history[-2][0] else "draining"
        return word

    with pytest.raises(CheckFailed, match="size 0 is always 'empty'"):
        checks.check_outbox_status(stuck_first)
    with pytest.raises(CheckFailed, match="not with the one before"):
        checks.check_outbox_status(against_the_one_before)
