"""The HA/DR runbook as code: recovery objectives, triage rules, the outbox's watch.

The reference for notebook 06, in four parts, each plain logic told the time:

* **Recovery objectives.** :func:`incident_timeline` turns the knobs of a
  failover (how often the health check runs, how many failures it needs, whether
  a script or a person decides, how long promotion and re-routing take, the
  replication mode) into the moments of one incident;
  :func:`recovery_objectives` reads the achieved RTO and RPO off those moments.
  RTO runs from the crash to the moment traffic reaches the new primary; RPO
  runs from the last write the standby received to the crash (the data written
  in between is lost), whatever the detection did.
* **Triage rules.** :data:`TRIAGE_RULES` is the module's triage table as data;
  :func:`should_fire` and :func:`should_clear` judge one rule on the recent values
  of its metric (the condition must hold for the rule's whole window, and a
  firing rule resolves only once the metric stays below a *lower* level:
  hysteresis); :func:`run_rules` runs every rule over a metric stream and
  returns the fire and resolve events, once each (deduplicated).
* **The outbox's watch.** :func:`outbox_status` says what a size history of
  the outbox means: ``"empty"``, ``"queueing"`` (the payment breaker is open, so
  checkouts wait, as designed), ``"draining"`` or ``"stuck"`` (the breaker is
  closed yet the backlog does not shrink: page someone).
* **The incident, simulated.** :func:`simulate_incident` plays a seeded payment
  outage through the rules, a real :class:`~course_lib.breaker.CircuitBreaker`
  and a real SQLite :class:`~course_lib.outbox.Outbox`, for the notebook's
  widget.

Times are seconds; metric samples come every :data:`STEP` seconds.
"""

from __future__ import annotations

import math
import random
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

__all__ = [
    "KNOBS",
    "METRICS",
    "OUTBOX_STATUSES",
    "RULE_KEYS",
    "STEP",
    "STUCK_AFTER",
    "TARGET_RPO",
    "TARGET_RTO",
    "TIMELINE_KEYS",
    "TRIAGE_RULES",
    "IncidentRun",
    "check_rule",
    "check_timeline",
    "incident_timeline",
    "knob_effects",
    "outbox_status",
    "random_timeline",
    "recovery_objectives",
    "run_rules",
    "should_clear",
    "should_fire",
    "simulate_incident",
    "window_samples",
]

TARGET_RTO: Final = 15 * 60.0
"""The module's RTO target for Tier-1 services: under 15 minutes (seconds)."""
TARGET_RPO: Final = 60.0
"""The module's RPO target for transactions: under 1 minute (seconds)."""

STEP: Final = 10.0
"""Seconds between two samples of a metric stream (and between two health checks)."""

TIMELINE_KEYS: Final = (
    "crash_at",
    "last_replicated_at",
    "detected_at",
    "decided_at",
    "promoted_at",
    "rerouted_at",
)
"""The moments of an incident timeline, in the order they happen."""

METRICS: Final = ("checkout_504_ratio", "db_health_failed", "redis_cpu")
"""The metrics a sample carries (besides its time ``t``)."""

RULE_KEYS: Final = ("name", "metric", "above", "clear_below", "for_seconds", "severity", "action")
"""The keys of a triage rule."""

TRIAGE_RULES: Final[tuple[dict[str, Any], ...]] = (
    {
        "name": "payment-api-timeout",
        "metric": "checkout_504_ratio",
        "above": 0.05,
        "clear_below": 0.02,
        "for_seconds": 60.0,
        "severity": "P2",
        "action": "open-payment-breaker",
    },
    {
        "name": "primary-db-crash",
        "metric": "db_health_failed",
        "above": 0.5,
        "clear_below": 0.5,
        "for_seconds": 30.0,
        "severity": "P1",
        "action": "promote-standby",
    },
    {
        "name": "redis-cpu-saturation",
        "metric": "redis_cpu",
        "above": 0.9,
        "clear_below": 0.7,
        "for_seconds": 60.0,
        "severity": "P2",
        "action": "read-from-replicas",
    },
)
"""The module's triage table as rules (one per row, in the table's order)."""

OUTBOX_STATUSES: Final = ("empty", "queueing", "draining", "stuck")
"""What :func:`outbox_status` can say."""

STUCK_AFTER: Final = 3
"""Samples with the breaker closed and no shrinking before the outbox counts as stuck."""

#: The knobs of :func:`incident_timeline` the notebook asks about -> the values compared.
KNOBS: Final[dict[str, tuple[Any, Any]]] = {
    "check_interval": (10.0, 60.0),
    "replication": ("sync", "async"),
    "automated": (True, False),
}

_HUMAN_DECISION: Final = 600.0  # a person paged, awake, logged in and agreeing: ~10 min
_SCRIPT_DECISION: Final = 5.0  # a failover script (Sentinel, Patroni) deciding


def _real(name: str, value: Any, *, minimum: float = 0.0) -> float:
    """``value`` as a finite float ``>= minimum``, or ``ValueError`` naming it."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < minimum:
        raise ValueError(f"{name} must be a finite number >= {minimum:g}, got {value!r}")
    return number


# --- recovery objectives ------------------------------------------------------------------


def incident_timeline(
    *,
    crash_at: float = 600.0,
    check_interval: float = 10.0,
    checks_to_fail: int = 3,
    automated: bool = True,
    promote_seconds: float = 30.0,
    reroute_seconds: float = 60.0,
    replication: str = "async",
    replication_lag: float = 5.0,
) -> dict[str, float]:
    """The moments of one primary-database crash and its failover.

    The health check runs every ``check_interval`` seconds from t=0; the crash
    is detected by the ``checks_to_fail``-th failed check in a row. A script
    decides in 5 s, a person in 10 min. With ``"sync"`` replication the standby
    has every committed write; with ``"async"`` it is ``replication_lag``
    seconds behind.

    Args:
        crash_at: When the primary dies.
        check_interval: Seconds between health checks (> 0).
        checks_to_fail: Failed checks in a row that count as "down" (>= 1).
        automated: A script decides the failover (else a person does).
        promote_seconds: Promoting the standby to primary.
        reroute_seconds: DNS TTL / connection pools reaching the new primary.
        replication: ``"sync"`` or ``"async"``.
        replication_lag: How far behind an async standby is, in seconds.

    Returns:
        A dict with the :data:`TIMELINE_KEYS`, in seconds.

    Raises:
        ValueError: a knob is out of range (the message names it).
    """
    crash_at = _real("crash_at", crash_at)
    check_interval = _real("check_interval", check_interval)
    if check_interval == 0.0:
        raise ValueError("check_interval must be > 0, got 0")
    if isinstance(checks_to_fail, bool) or not isinstance(checks_to_fail, int):
        raise ValueError(f"checks_to_fail must be a whole number, got {checks_to_fail!r}")
    if checks_to_fail < 1:
        raise ValueError(f"checks_to_fail must be >= 1, got {checks_to_fail!r}")
    if not isinstance(automated, bool):
        raise ValueError(f"automated must be True or False, got {automated!r}")
    if replication not in ("sync", "async"):
        raise ValueError(f"replication must be 'sync' or 'async', got {replication!r}")
    first_failed_check = math.floor(crash_at / check_interval) * check_interval + check_interval
    detected_at = first_failed_check + (checks_to_fail - 1) * check_interval
    decided_at = detected_at + (_SCRIPT_DECISION if automated else _HUMAN_DECISION)
    promoted_at = decided_at + _real("promote_seconds", promote_seconds)
    rerouted_at = promoted_at + _real("reroute_seconds", reroute_seconds)
    lag = 0.0 if replication == "sync" else _real("replication_lag", replication_lag)
    return {
        "crash_at": crash_at,
        "last_replicated_at": max(0.0, crash_at - lag),
        "detected_at": detected_at,
        "decided_at": decided_at,
        "promoted_at": promoted_at,
        "rerouted_at": rerouted_at,
    }


def check_timeline(timeline: Mapping[str, Any]) -> dict[str, float]:
    """A copy of ``timeline`` with every moment checked, or ``ValueError`` naming the problem.

    Every key of :data:`TIMELINE_KEYS` must be there, a finite number; the
    moments after the crash must come in order, and the last replicated write
    cannot come after the crash.
    """
    if not isinstance(timeline, Mapping):
        raise ValueError(f"timeline must be a dict, got {type(timeline).__name__}")
    checked: dict[str, float] = {}
    for key in TIMELINE_KEYS:
        if key not in timeline:
            raise ValueError(f"timeline has no {key!r}; it needs {', '.join(TIMELINE_KEYS)}")
        checked[key] = _real(key, timeline[key], minimum=-math.inf)
    if checked["last_replicated_at"] > checked["crash_at"]:
        raise ValueError(
            "last_replicated_at comes after crash_at: nothing is replicated after death"
        )
    order = ("crash_at", "detected_at", "decided_at", "promoted_at", "rerouted_at")
    for before, after in zip(order, order[1:], strict=False):
        if checked[after] < checked[before]:
            raise ValueError(f"{after} comes before {before}")
    return checked


def recovery_objectives(timeline: Mapping[str, Any]) -> dict[str, float]:
    """The achieved RTO and RPO of an incident, in seconds.

    * **RTO**: from the crash to the moment traffic reaches the new primary
      (``rerouted_at - crash_at``): detection, decision, promotion and
      re-routing all count.
    * **RPO**: the age of the data lost, from the last write the standby had to
      the crash (``crash_at - last_replicated_at``). Detection does not change
      it: the writes were lost when the primary died.

    Raises:
        ValueError: the timeline is malformed (see :func:`check_timeline`).
    """
    moments = check_timeline(timeline)
    return {
        "rto": moments["rerouted_at"] - moments["crash_at"],
        "rpo": moments["crash_at"] - moments["last_replicated_at"],
    }


def knob_effects() -> dict[str, str]:
    """Which objective each knob of :data:`KNOBS` moves, found by experiment.

    Each knob is set to each of its two values, the others left at their
    defaults; the answer is ``"rto"``, ``"rpo"``, ``"both"`` or ``"neither"``.
    """
    effects: dict[str, str] = {}
    for knob, (first, second) in KNOBS.items():
        a = recovery_objectives(incident_timeline(**{knob: first}))
        b = recovery_objectives(incident_timeline(**{knob: second}))
        moved = [key for key in ("rto", "rpo") if a[key] != b[key]]
        effects[knob] = "both" if len(moved) == 2 else moved[0] if moved else "neither"
    return effects


def random_timeline(rng: random.Random) -> dict[str, float]:
    """A random valid timeline (moments in quarter seconds, some of them equal)."""
    crash = rng.randint(0, 4000) / 4
    lag = rng.choice([0.0, 0.0, rng.randint(1, 400) / 4])
    detected = crash + rng.randint(0, 600) / 4
    decided = detected + rng.choice([0.0, 5.0, rng.randint(0, 3600) / 4])
    promoted = decided + rng.randint(0, 400) / 4
    rerouted = promoted + rng.randint(0, 1200) / 4
    return {
        "crash_at": crash,
        "last_replicated_at": max(0.0, crash - lag),
        "detected_at": detected,
        "decided_at": decided,
        "promoted_at": promoted,
        "rerouted_at": rerouted,
    }


# --- triage rules -------------------------------------------------------------------------


def check_rule(rule: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``rule`` checked, or ``ValueError`` naming the problem."""
    if not isinstance(rule, Mapping):
        raise ValueError(f"a rule must be a dict, got {type(rule).__name__}")
    missing = [key for key in RULE_KEYS if key not in rule]
    if missing:
        raise ValueError(f"the rule has no {', '.join(map(repr, missing))}")
    checked = {key: rule[key] for key in RULE_KEYS}
    for key in ("name", "metric", "severity", "action"):
        if not isinstance(checked[key], str) or not checked[key]:
            raise ValueError(f"the rule's {key} must be a non-empty string, got {checked[key]!r}")
    for key in ("above", "clear_below"):
        checked[key] = _real(key, checked[key], minimum=-math.inf)
    if checked["clear_below"] > checked["above"]:
        raise ValueError("clear_below must not be above 'above' (the rule would flap)")
    checked["for_seconds"] = _real("for_seconds", checked["for_seconds"], minimum=STEP)
    return checked


def window_samples(rule: Mapping[str, Any]) -> int:
    """How many samples (one every :data:`STEP` s) a rule's window holds: ``for_seconds / STEP``."""
    return max(1, round(float(rule["for_seconds"]) / STEP))


def should_fire(values: Sequence[float], rule: Mapping[str, Any]) -> bool:
    """True if the rule's condition held for its whole window.

    ``values`` are the metric's samples so far, oldest first. The last
    :func:`window_samples` of them must all be strictly above ``rule["above"]``
    (and there must be that many): one spike is not an incident.
    """
    n = window_samples(rule)
    return len(values) >= n and all(value > rule["above"] for value in values[-n:])


def should_clear(values: Sequence[float], rule: Mapping[str, Any]) -> bool:
    """True if a firing rule may resolve: the whole window strictly below ``clear_below``.

    ``clear_below`` is lower than ``above`` (hysteresis): a metric hovering
    around the firing level does not fire and resolve over and over (flapping).
    """
    n = window_samples(rule)
    return len(values) >= n and all(value < rule["clear_below"] for value in values[-n:])


def run_rules(
    rules: Sequence[Mapping[str, Any]], samples: Sequence[Mapping[str, Any]]
) -> list[tuple[Any, ...]]:
    """Run every rule over a metric stream; the events, in order.

    For each sample (oldest first), each rule (in the given order) adds the
    sample's value of its metric to that rule's history; a rule that is not
    firing fires if :func:`should_fire`, a firing one resolves if
    :func:`should_clear`. A firing rule never fires again before it resolved
    (deduplication).

    Returns:
        ``("fire", t, name, severity, action)`` and ``("resolve", t, name)`` tuples.

    Raises:
        ValueError: a rule is malformed, or a sample lacks ``t`` or a rule's metric.
    """
    checked = [check_rule(rule) for rule in rules]
    history: list[list[float]] = [[] for _ in checked]
    firing = [False] * len(checked)
    events: list[tuple[Any, ...]] = []
    for sample in samples:
        if "t" not in sample:
            raise ValueError(f"a sample has no 't': {dict(sample)!r}")
        t = sample["t"]
        for i, rule in enumerate(checked):
            if rule["metric"] not in sample:
                raise ValueError(f"the sample at t={t} has no {rule['metric']!r}")
            history[i].append(sample[rule["metric"]])
            if not firing[i] and should_fire(history[i], rule):
                firing[i] = True
                events.append(("fire", t, rule["name"], rule["severity"], rule["action"]))
            elif firing[i] and should_clear(history[i], rule):
                firing[i] = False
                events.append(("resolve", t, rule["name"]))
    return events


# --- the outbox's watch -------------------------------------------------------------------


def outbox_status(history: Sequence[tuple[int, str]]) -> str:
    """What the outbox's size says now; ``history`` is ``(size, breaker_state)`` per sample.

    * ``"empty"``: nothing waits.
    * ``"queueing"``: checkouts wait while the payment breaker is not closed,
      as designed.
    * ``"stuck"``: the breaker has been closed for the last :data:`STUCK_AFTER`
      + 1 samples, yet the size did not go down over them
      (``size_now >= size STUCK_AFTER samples ago``): the drain is broken, or
      the partner refuses every charge. This is what a person is paged for.
    * ``"draining"``: otherwise (closed, and the backlog shrinks or the breaker
      only just closed).

    Raises:
        ValueError: ``history`` is empty.
    """
    if not history:
        raise ValueError("history is empty: there is no size to judge")
    size, state = history[-1]
    if size == 0:
        return "empty"
    if state != "closed":
        return "queueing"
    recent = history[-(STUCK_AFTER + 1) :]
    closed = len(recent) == STUCK_AFTER + 1 and all(s == "closed" for _, s in recent)
    if closed and recent[-1][0] >= recent[0][0]:
        return "stuck"
    return "draining"


# --- the incident, simulated --------------------------------------------------------------


@dataclass(frozen=True)
class IncidentRun:
    """One simulated incident, sample by sample (what the notebook's widget draws).

    Attributes:
        samples: the metric samples (``t`` and :data:`METRICS`).
        events: what :func:`run_rules` fired and resolved.
        breaker: the payment breaker's state after each sample.
        outbox: the outbox's size after each sample.
        status: :func:`outbox_status` after each sample.
        charged: checkouts charged (each exactly once).
        written: checkouts taken.
        timeline: the database failover's moments (:func:`incident_timeline`).
        objectives: its achieved RTO and RPO.
    """

    samples: list[dict[str, float]]
    events: list[tuple[Any, ...]]
    breaker: list[str]
    outbox: list[int]
    status: list[str]
    charged: int
    written: int
    timeline: dict[str, float]
    objectives: dict[str, float]


def simulate_incident(seed: int = 6, *, minutes: int = 30, drain_batch: int = 12) -> IncidentRun:
    """A seeded 30-minute incident: a payment outage, then a database crash and failover.

    Checkouts arrive every second. From t=300 s the payment API times out for
    90% of the calls for 6 minutes. The payment breaker
    (:class:`~course_lib.breaker.CircuitBreaker` with a 60 s time window and an
    85% threshold, so it opens about when the rule on 504s fires, after a minute)
    opens; a checkout it refuses, or whose call timed out, goes to an
    :class:`~course_lib.outbox.Outbox` in a temporary SQLite file; once the
    breaker is closed again the outbox drains ``drain_batch`` checkouts per
    sample. A one-sample Redis CPU spike at t=900 s tests the rules' windows; the
    primary database crashes at t=1200 s (:func:`incident_timeline`'s defaults
    otherwise) and Redis saturates from t=1500 s to t=1580 s.

    Args:
        seed: Seeds the traffic and the failures.
        minutes: Length of the incident.
        drain_batch: Checkouts the outbox may deliver per sample.

    Returns:
        The run, sample by sample.
    """
    from course_lib.breaker import CircuitBreaker
    from course_lib.outbox import Outbox

    rng = random.Random(seed)
    breaker = CircuitBreaker(
        name="payment",
        window_type="time",
        window_size=60.0,
        minimum_calls=60,
        cooldown=30.0,
        half_open_max_calls=3,
        failure_rate_threshold=0.85,
    )
    timeline = incident_timeline(crash_at=1200.0)
    outage = (300.0, 660.0)
    samples: list[dict[str, float]] = []
    states: list[str] = []
    sizes: list[int] = []
    statuses: list[str] = []
    history: list[tuple[int, str]] = []
    charged: set[str] = set()
    written = 0
    with tempfile.TemporaryDirectory(prefix="runbook-") as folder:
        outbox = Outbox(Path(folder) / "outbox.sqlite3", synchronous="OFF")

        def charge(key: str, checkout_id: str, amount_cents: int) -> None:
            charged.add(key)

        for step in range(1, int(minutes * 60 / STEP) + 1):
            t = step * STEP
            requests = timeouts = 0
            for second in range(int(STEP)):
                now = t - STEP + second + 1
                written += 1
                checkout = f"checkout-{written}"
                requests += 1
                down = outage[0] <= now < outage[1] and rng.random() < 0.9
                if not breaker.allow(now):
                    outbox.put(checkout, 100 + rng.randint(0, 9900))
                    continue
                if down or rng.random() < 0.01:
                    timeouts += 1
                    breaker.record_failure(now)
                    outbox.put(checkout, 100 + rng.randint(0, 9900))
                else:
                    breaker.record_success(now)
                    charged.add(checkout)
            state = str(breaker.state_at(t))
            if state == "closed":
                outbox.drain(charge, limit=drain_batch)
            db_down = timeline["crash_at"] <= t < timeline["promoted_at"]
            spike = 900.0 <= t < 910.0 or 1500.0 <= t < 1580.0
            samples.append(
                {
                    "t": t,
                    "checkout_504_ratio": timeouts / requests,
                    "db_health_failed": 1.0 if db_down else 0.0,
                    "redis_cpu": round((0.95 if spike else 0.45) + rng.uniform(-0.04, 0.04), 3),
                }
            )
            states.append(state)
            sizes.append(outbox.size())
            history.append((sizes[-1], state))
            statuses.append(outbox_status(history))
        outbox.close()
    return IncidentRun(
        samples=samples,
        events=run_rules(TRIAGE_RULES, samples),
        breaker=states,
        outbox=sizes,
        status=statuses,
        charged=len(charged),
        written=written,
        timeline=timeline,
        objectives=recovery_objectives(timeline),
    )
