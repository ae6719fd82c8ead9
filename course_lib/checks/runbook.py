"""Visible checks for notebook 06, "The HA/DR runbook as code".

One check per exercise (the student's piece -> its check):

1. ``recovery_objectives`` -> :func:`check_objectives`
2. ``KNOB_MOVES`` -> :func:`check_knobs`
3. ``RULES`` (the triage table as data) -> :func:`check_rules`
4. ``should_fire`` (a rule's window) -> :func:`check_should_fire`
5. ``run_rules`` (dedup, hysteresis) -> :func:`check_run_rules`
6. ``Outbox`` (``put``, ``size``: durable in SQLite) -> :func:`check_outbox`
7. ``Outbox.drain`` (at least once, idempotency keys, errors propagate) -> :func:`check_drain`
8. ``outbox_status`` (what "monitor outbox size" watches for) -> :func:`check_outbox_status`

Each exercise's *problem* function runs the student's code on one scenario
and returns what went wrong, or ``None``; it takes the reference module
(``course_lib.runbook``) as an argument, so the hidden graders
(:mod:`autograders.graders.runbook`, not shipped) can pass a pristine copy and
try many generated scenarios (:func:`course_lib.checks.kit.find_divergence`).

The outbox checks talk to a real SQLite file under ``/tmp`` that the
student's code creates (inside the grading sandbox, ``/tmp`` is its private
tmpfs). A *crash* is simulated by the payment gateway: the ``charge`` function
raises :class:`ProcessKilled` either before or after it charged, and from then
on ignores that outbox object (a dead process does nothing more); a *restart*
is a new ``Outbox`` on the same file. The gateway charges an idempotency key
once; a call without a key (``None``) is charged every time, as a real partner
would.

A kill is an exception here, so the student's ``finally`` and ``except`` still
run; a real kill runs nothing, and only what was committed to the file before
it survives. So before each charge after the first of a drain, the gateway
also *looks at the file* as a restarted process would (a new ``Outbox`` on it,
``size()``): every checkout whose charge returned must already be marked
delivered there. One that is not would be charged again after a kill at that
moment, which is what marking "committed at once" prevents.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import types
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from course_lib.checks.kit import CheckFailed, call, fail, plain, require

__all__ = [
    "OUTBOX_FOLDER",
    "Gateway",
    "ProcessKilled",
    "check_drain",
    "check_knobs",
    "check_objectives",
    "check_outbox",
    "check_outbox_status",
    "check_rules",
    "check_run_rules",
    "check_should_fire",
    "PaymentRefused",
    "drain_problem",
    "fire_problem",
    "knobs_problem",
    "objectives_problem",
    "outbox_problem",
    "outbox_path",
    "refused_problem",
    "rules_problem",
    "run_rules_problem",
    "status_problem",
]

#: Where the outbox files go: ``/tmp`` (the sandbox's private tmpfs) on POSIX.
OUTBOX_FOLDER = "/tmp" if os.name == "posix" else tempfile.gettempdir()


def _reference() -> types.ModuleType:
    from course_lib import runbook

    return runbook


def _seconds(value: float) -> str:
    return f"{value:g} s"


def _dict_of(value: Any, what: str) -> dict[str, Any]:
    """``value`` if it is a plain dict with text keys, else fail naming ``what``."""
    if type(value) is not dict or any(type(key) is not str for key in value):
        shape = "a dict" if type(value) is not dict else "a dict with text keys"
        fail(f"{what} should be {shape}, got {type(value).__name__}")
    return value


# --- exercise 1: recovery objectives ------------------------------------------------------


def _timeline_text(timeline: Mapping[str, float]) -> str:
    return ", ".join(f"{key}={value:g}" for key, value in timeline.items())


def objectives_problem(
    objectives: Any, timeline: Mapping[str, float], ref: types.ModuleType | None = None
) -> str | None:
    """``objectives(timeline)`` must return the reference's ``{"rto": ..., "rpo": ...}``."""
    ref = ref or _reference()
    expected = ref.recovery_objectives(timeline)
    shown = f"recovery_objectives({{{_timeline_text(timeline)}}})"
    got = _dict_of(call(shown, objectives, dict(timeline)), shown)
    for key, why in (
        ("rto", "from the crash to the moment traffic reaches the new primary (rerouted_at)"),
        ("rpo", "from the last replicated write (last_replicated_at) to the crash"),
    ):
        if key not in got:
            return f"{shown} has no {key!r}; it should return {{'rto': ..., 'rpo': ...}}"
        value = plain(got[key], f"the {key} of {shown}", "number")
        if abs(value - expected[key]) > 1e-9:
            return f"{shown} gives {key} = {value!r}; expected {expected[key]:g} s, {why}"
    return None


def check_objectives(objectives: Any) -> None:
    """Visible check for exercise 1: the default failover, a manual one, a sync standby."""
    ref = _reference()
    for knobs in (
        {},
        {"automated": False, "replication_lag": 12.0},
        {"replication": "sync", "check_interval": 30.0, "crash_at": 95.0},
    ):
        require(objectives_problem(objectives, ref.incident_timeline(**knobs), ref))
    print(
        "✓ recovery_objectives: RTO from the crash to the re-routed traffic, RPO from the last "
        "replicated write to the crash"
    )


# --- exercise 2: which knob moves which ---------------------------------------------------


def knobs_problem(moves: Any, ref: types.ModuleType | None = None) -> str | None:
    """``moves`` must name, for every knob, the objective it moves (found by experiment)."""
    if moves is None:
        raise NotImplementedError("Not written yet: KNOB_MOVES is still None")
    ref = ref or _reference()
    expected = ref.knob_effects()
    got = _dict_of(moves, "KNOB_MOVES")
    for knob in expected:
        if knob not in got:
            return f"KNOB_MOVES has no answer for {knob!r}; it needs one per knob: {list(expected)}"
    for knob in got:
        if knob not in expected:
            return f"KNOB_MOVES has {knob!r}, which is not a knob; the knobs are {list(expected)}"
    for knob, effect in expected.items():
        answer = plain(got[knob], f"KNOB_MOVES[{knob!r}]", "text")
        if answer not in ("rto", "rpo", "both", "neither"):
            return f"KNOB_MOVES[{knob!r}] is {answer!r}; answer 'rto', 'rpo', 'both' or 'neither'"
        if answer != effect:
            first, second = ref.KNOBS[knob]
            a = ref.recovery_objectives(ref.incident_timeline(**{knob: first}))
            b = ref.recovery_objectives(ref.incident_timeline(**{knob: second}))
            return (
                f"KNOB_MOVES[{knob!r}] is {answer!r}, but the experiment disagrees: {knob}="
                f"{first!r} gives RTO {a['rto']:g} s, RPO {a['rpo']:g} s; {knob}={second!r} "
                f"gives RTO {b['rto']:g} s, RPO {b['rpo']:g} s"
            )
    return None


def check_knobs(moves: Any) -> None:
    """Visible check for exercise 2 (it is the whole answer: a dict of four-word values)."""
    require(knobs_problem(moves))
    print("✓ KNOB_MOVES names the objective each knob moves, as the experiment shows")


# --- exercise 3: the triage table as rules ------------------------------------------------


def rules_problem(rules: Any, ref: types.ModuleType | None = None) -> str | None:
    """``rules`` must be the triage table's three rules, in the table's order."""
    if rules is None:
        raise NotImplementedError("Not written yet: RULES is still None")
    ref = ref or _reference()
    if type(rules) not in (list, tuple):
        return f"RULES should be a list of dicts, got {type(rules).__name__}"
    expected = ref.TRIAGE_RULES
    if len(rules) != len(expected):
        return f"RULES holds {len(rules)} rules; the triage table has {len(expected)} rows"
    for number, (rule, want) in enumerate(zip(rules, expected, strict=True), start=1):
        got = _dict_of(rule, f"rule {number} of RULES")
        for key in ref.RULE_KEYS:
            if key not in got:
                return f"rule {number} of RULES ({want['name']}) has no {key!r}"
            kind = "number" if key in ("above", "clear_below", "for_seconds") else "text"
            value = plain(got[key], f"{key} of rule {number}", kind)
            if value != want[key]:
                return (
                    f"rule {number} of RULES ({want['name']}) has {key} = {value!r}; the "
                    f"exercise's table says {want[key]!r}"
                )
        extra = sorted(set(got) - set(ref.RULE_KEYS))
        if extra:
            return f"rule {number} of RULES has keys the rules do not use: {extra}"
    return None


def check_rules(rules: Any) -> None:
    """Visible check for exercise 3."""
    require(rules_problem(rules))
    print("✓ RULES holds the triage table: metric, level, window, clear level, severity, action")


# --- exercise 4: a rule's window ----------------------------------------------------------


def _rule_text(rule: Mapping[str, Any]) -> str:
    return f"a rule with above={rule['above']:g}, for_seconds={rule['for_seconds']:g}"


def fire_problem(
    should_fire: Any,
    values: Sequence[float],
    rule: Mapping[str, Any],
    ref: types.ModuleType | None = None,
) -> str | None:
    """``should_fire(values, rule)`` must agree with the reference."""
    ref = ref or _reference()
    expected = ref.should_fire(list(values), rule)
    shown = f"should_fire({list(values)}, {_rule_text(rule)})"
    got = plain(call(shown, should_fire, list(values), dict(rule)), shown, "True or False")
    if got == expected:
        return None
    n = ref.window_samples(rule)
    if got:
        recent = list(values)[-n:]
        if len(values) < n:
            window = rule["for_seconds"]
            why = f"only {len(values)} of the {n} samples its {window:g} s window needs"
        else:
            below = [v for v in recent if not v > rule["above"]]
            why = f"the window's last {n} samples include {below[0]!r}, not above {rule['above']:g}"
            if below[0] == rule["above"]:
                why += " (strictly above: reaching the level is not enough)"
            elif recent[-1] > rule["above"]:
                why += " (one spike is not an incident)"
        return f"{shown} returned True; expected False: {why}"
    above = rule["above"]
    return f"{shown} returned False; expected True: the last {n} samples are all above {above:g}"


def check_should_fire(should_fire: Any) -> None:
    """Visible check for exercise 4: a sustained breach, one spike, a short history."""
    ref = _reference()
    payment = ref.TRIAGE_RULES[0]
    cases = [
        ([0.0, 0.06, 0.07, 0.08, 0.09, 0.1, 0.2], payment),
        ([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5], payment),
        ([0.3, 0.3, 0.3], payment),
        ([0.06, 0.06, 0.05, 0.06, 0.06, 0.06], payment),
        ([0.0, 1.0, 1.0, 1.0], ref.TRIAGE_RULES[1]),
    ]
    for values, rule in cases:
        require(fire_problem(should_fire, values, rule, ref))
    print("✓ should_fire fires only when the whole window is above the level, never on one spike")


# --- exercise 5: the rules over a stream --------------------------------------------------


def _normal(events: Any, shown: str) -> list[tuple[Any, ...]]:
    if type(events) not in (list, tuple):
        fail(f"{shown} should return a list of events, got {type(events).__name__}")
    normal = []
    for event in events:
        plain(event, f"an event of {shown}")
        if type(event) not in (list, tuple):
            fail(f"{shown} should return tuples, got {event!r}")
        normal.append(tuple(event))
    return normal


def _stream_text(samples: Sequence[Mapping[str, Any]], metric: str) -> str:
    return ", ".join(f"{s['t']:g}: {s[metric]:g}" for s in samples)


def run_rules_problem(
    run_rules: Any,
    rules: Sequence[Mapping[str, Any]],
    samples: Sequence[Mapping[str, Any]],
    ref: types.ModuleType | None = None,
) -> str | None:
    """``run_rules(rules, samples)`` must give the reference's events, in order."""
    ref = ref or _reference()
    expected = ref.run_rules(rules, samples)
    names = ", ".join(rule["name"] for rule in rules)
    shown = f"run_rules([{names}], samples)"
    got = _normal(
        call(shown, run_rules, [dict(r) for r in rules], [dict(s) for s in samples]), shown
    )
    if got == expected:
        return None
    metrics = sorted({rule["metric"] for rule in rules})
    streams = "; ".join(f"{m} (t: value) {_stream_text(samples, m)}" for m in metrics)
    levels = "; ".join(
        f"{r['name']}: fire above {r['above']:g}, clear below {r['clear_below']:g}, "
        f"window {r['for_seconds']:g} s"
        for r in rules
    )
    index = next(
        (i for i, want in enumerate(expected) if i >= len(got) or got[i] != want), len(expected)
    )
    have: Any = got[index] if index < len(got) else "no event"
    want: Any = expected[index] if index < len(expected) else "no event"
    firing: set[str] = set()
    for event in expected[:index]:
        if event[0] == "fire":
            firing.add(event[2])
        else:
            firing.discard(event[2])
    if _same_events(got, expected):
        hint = (
            "Events come in time order: loop over the samples outside and over the rules, in "
            "list order, inside."
        )
    elif isinstance(have, tuple) and have and have[0] == "fire" and len(have) > 2:
        if have[2] in firing:
            hint = "A firing rule does not fire again before it resolved (one page per incident)"
        else:
            hint = "A rule fires only when its whole window is strictly above its level"
    elif isinstance(have, tuple) and have and have[0] == "resolve":
        hint = (
            "A firing rule resolves only when its whole window is strictly below its clear "
            "level (hysteresis), not on a single sample below it."
        )
    else:
        hint = (
            "A rule fires once its whole window is above its level, and resolves once its whole "
            "window is below its clear level"
        )
    return (
        f"{shown} ({levels}) over {streams}: event {index + 1} is {have!r}; expected {want!r}. "
        f"{hint}"
    )


def _same_events(got: Sequence[tuple[Any, ...]], expected: Sequence[tuple[Any, ...]]) -> bool:
    """True if ``got`` holds exactly ``expected``'s events, in another order."""
    try:
        return Counter(got) == Counter(expected)
    except TypeError:  # an unhashable part: not the reference's events anyway
        return False


def _stream(metric: str, values: Sequence[float], start: float = 10.0) -> list[dict[str, float]]:
    return [
        {
            "t": start + 10.0 * i,
            "checkout_504_ratio": 0.0,
            "db_health_failed": 0.0,
            "redis_cpu": 0.4,
            metric: v,
        }
        for i, v in enumerate(values)
    ]


def check_run_rules(run_rules: Any) -> None:
    """Visible check for exercise 5: fire once, hover, clear, fire again; two rules at once."""
    ref = _reference()
    payment = ref.TRIAGE_RULES[0]
    # above 5% for a minute, then hovering around 5%, then clear, then a second incident
    hovering = [0.0, 0.08, 0.09, 0.07, 0.08, 0.1, 0.09, 0.06, 0.04, 0.06, 0.04, 0.07, 0.03]
    hovering += [0.01, 0.01, 0.0, 0.01, 0.0, 0.01, 0.02, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]
    require(run_rules_problem(run_rules, [payment], _stream("checkout_504_ratio", hovering), ref))
    every_rule = list(ref.TRIAGE_RULES)
    require(run_rules_problem(run_rules, every_rule, _stream("redis_cpu", [0.95] * 8), ref))
    # two rules at once: Redis saturates first, the payment API later; events in time order
    both = _stream("redis_cpu", [0.95] * 14)
    for sample, ratio in zip(both, [0.0] * 4 + [0.3] * 10, strict=True):
        sample["checkout_504_ratio"] = ratio
    require(run_rules_problem(run_rules, [payment, every_rule[2]], both, ref))
    print(
        "✓ run_rules fires each rule once per incident, ignores a metric hovering around the "
        "level, and resolves only below the clear level for a whole window"
    )


# --- the outbox: a gateway that can crash --------------------------------------------------


class ProcessKilled(ConnectionAbortedError):
    """The simulated process died during a charge (raised by :class:`Gateway`)."""


class Gateway:
    """The payment partner: charges an idempotency key once; can kill the caller mid-drain.

    Args:
        crashes: For each life of the draining process, in order: ``None`` (it
            survives), or ``(n, charged)``: its ``n``-th charge kills it, after the
            partner charged (``charged=True``) or before.

    Attributes:
        unmarked: set by :meth:`look_at_file` when the file, read by a restarted
            process in the middle of a drain, still counted as waiting a checkout
            whose charge had returned: the message saying so, else ``None``.
    """

    def __init__(self, crashes: Sequence[tuple[int, bool] | None] = ()) -> None:
        self.crashes = list(crashes)  # a copy: new_life() consumes it
        self.charges: list[tuple[Any, str, int]] = []
        self.keys: set[str] = set()
        self.calls_this_life = 0
        self.dead = False
        self.order: list[str] = []
        self.look: Callable[[], int] | None = None
        self.waiting_at_start = 0
        self.returned: list[str] = []  # this drain's checkouts whose charge returned
        self.unmarked: str | None = None

    def new_life(self) -> None:
        """The process restarted: the next crash plan applies."""
        if self.crashes:
            self.crashes.pop(0)
        self.calls_this_life = 0
        self.dead = False

    def start_drain(self, waiting: int, look: Callable[[], int] | None) -> None:
        """A drain starts with ``waiting`` checkouts; ``look()``: the file's size() as a
        restarted process reads it (a new Outbox on the same file), or None: no looking."""
        self.waiting_at_start = waiting
        self.look = look
        self.returned = []

    def look_at_file(self, checkout_id: Any) -> None:
        """Before charging ``checkout_id``: is every checkout charged so far marked in the file?"""
        if self.look is None or not self.returned or self.unmarked is not None:
            return
        charged = self.returned
        expected = self.waiting_at_start - len(charged)
        try:
            seen = self.look()
        except CheckFailed as error:
            self.unmarked = (
                f"when drain called charge for {checkout_id}, a restarted process could not "
                f"read the outbox file ({error}). Mark each row delivered and commit right "
                "after its charge returns, holding no transaction open across a charge"
            )
            return
        if seen <= expected:
            return
        names = ", ".join(charged)
        late = seen - expected
        if late == len(charged) == 1:
            marks, again = "its delivered mark was", names
        elif late == len(charged):
            marks, again = "their delivered marks were", "them"
        else:
            marks = f"{late} of their delivered marks {'was' if late == 1 else 'were'}"
            again = "those"
        self.unmarked = (
            f"when drain called charge for {checkout_id}, {names} had been charged but "
            f"{marks} not committed yet (a new Outbox on the same file still counted {seen} "
            f"waiting, not {expected}). A process killed at that moment would charge {again} "
            "again after the restart. Commit each row's delivered mark right after its charge "
            "returns, before the next charge"
        )

    def charge(self, key: Any, checkout_id: Any, amount_cents: Any) -> str:
        """The ``charge(key, checkout_id, amount_cents)`` given to ``drain``."""
        if self.dead:
            raise ProcessKilled("this process was killed; a dead process charges nothing")
        self.look_at_file(str(checkout_id))
        self.calls_this_life += 1
        plan = self.crashes[0] if self.crashes else None
        crash = plan is not None and self.calls_this_life == plan[0]
        if (
            plan is not None and crash and not plan[1]
        ):  # killed before the request reached the partner
            self.dead = True
            raise ProcessKilled("the process was killed before this charge was sent")
        self.order.append(str(checkout_id))
        if type(key) is str and key:
            if key not in self.keys:
                self.keys.add(key)
                self.charges.append((key, checkout_id, amount_cents))
        else:  # no idempotency key: the partner cannot tell a retry from a new payment
            self.charges.append((key, checkout_id, amount_cents))
        if crash:
            self.dead = True
            raise ProcessKilled("the process was killed after the partner charged")
        self.returned.append(str(checkout_id))
        return "charged"


def outbox_path(tag: str) -> str:
    """A fresh outbox file name under :data:`OUTBOX_FOLDER` (nothing is created here)."""
    return str(Path(OUTBOX_FOLDER) / f"course-06-{tag}-{uuid.uuid4().hex}.sqlite3")


@contextlib.contextmanager
def _fresh_path(tag: str) -> Iterator[str]:
    path = outbox_path(tag)
    try:
        yield path
    finally:  # only there when the student's code ran in this process (no sandbox)
        for suffix in ("", "-journal", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                os.unlink(path + suffix)


def _size(box: Any, story: str) -> int:
    size: int = plain(call(f"{story}, size()", box.size), f"{story}, size()", "whole number")
    return size


def _open(outbox_cls: Any, path: str, story: str) -> Any:
    return call(f"{story}, Outbox(path)", outbox_cls, path)


def _put(box: Any, checkout: tuple[str, int], story: str) -> Any:
    checkout_id, amount = checkout
    return call(f"{story}, put({checkout_id!r}, {amount})", box.put, checkout_id, amount)


def _checkouts(count: int, start: int = 1) -> list[tuple[str, int]]:
    return [(f"checkout-{i}", 100 * i + 99) for i in range(start, start + count)]


def outbox_problem(
    outbox_cls: Any, plan: Sequence[Any], others: dict[str, str] | None = None
) -> str | None:
    """Run ``plan`` on the student's ``Outbox``: ``int`` puts that many checkouts, ``"restart"``
    opens a new ``Outbox`` on the same file. After every step the size must be right.

    Every put must return a key no other put returned: ``others`` maps the keys
    the puts of other outbox files returned to their checkout ids, and gets this
    file's keys added. The checkout ids restart at ``"checkout-1"`` in every
    file, so a key made from the checkout id (or the row number) repeats.
    """
    others = {} if others is None else others
    with _fresh_path("put") as path:
        box = _open(outbox_cls, path, "a new outbox")
        story: list[str] = []
        written = 0
        keys: set[str] = set()
        for step in plan:
            if step == "restart":
                story.append("restart")
                box = _open(outbox_cls, path, "after " + ", ".join(story))
            else:
                for checkout in _checkouts(step, written + 1):
                    key = _put(box, checkout, "after " + (", ".join(story) or "nothing"))
                    key = plain(key, f"put({checkout[0]!r}, ...)'s idempotency key", "text")
                    if key in others:
                        return (
                            f"put({checkout[0]!r}, ...) returned the key {key!r}, which another "
                            f"outbox file already gave its {others[key]}. The payment partner "
                            "sees the keys of every outbox, so a key must be new everywhere "
                            "(e.g. uuid.uuid4().hex), not made from the checkout id or the row "
                            "number"
                        )
                    if not key or key in keys:
                        return (
                            f"put({checkout[0]!r}, ...) returned the key {key!r}, "
                            f"{'empty' if not key else 'already used for another checkout'}: each "
                            "checkout needs its own idempotency key"
                        )
                    keys.add(key)
                    others[key] = checkout[0]
                written += step
                story.append(f"{step} put{'s' if step != 1 else ''}")
            said = ", ".join(story)
            try:
                size = _size(box, f"after {said}")
            except CheckFailed as error:
                return str(error)
            if size != written:
                if "restart" in story and size < written:
                    return (
                        f"after {said}, the new Outbox on the same file has size() {size}; "
                        f"{written} checkouts were put. A checkout must be committed to the file "
                        "before put returns, or a crash loses it"
                    )
                return f"after {said}, size() is {size}; expected {written}"
    return None


def check_outbox(outbox_cls: Any) -> None:
    """Visible check for exercise 6: puts, a restart, more puts, a restart; a second file."""
    keys: dict[str, str] = {}
    require(outbox_problem(outbox_cls, [2, "restart", 3, "restart", "restart"], keys))
    require(outbox_problem(outbox_cls, [2], keys))
    print("✓ Outbox keeps every checkout in the SQLite file, committed, with its own key")


def drain_problem(
    outbox_cls: Any, count: int, crashes: Sequence[tuple[int, bool] | None]
) -> str | None:
    """Put ``count`` checkouts, then drain through a gateway that kills the process as planned.

    Each entry of ``crashes`` is one life of the draining process (see
    :class:`Gateway`); after a crash the outbox is reopened on the same file.
    A last drain survives. Every checkout must then be charged exactly once,
    in the order written, with its amount, and the outbox must be empty. And
    during each drain, every checkout whose charge returned must be marked
    delivered in the file before the next charge (see :meth:`Gateway.look_at_file`).
    """
    checkouts = _checkouts(count)
    plans: list[tuple[int, bool] | None] = [*crashes, None]
    gateway = Gateway(plans)
    lives: list[str] = []
    with _fresh_path("drain") as path:

        def look() -> int:
            story = "a restarted process, while drain was charging"
            return _size(_open(outbox_cls, path, story), story)

        box = _open(outbox_cls, path, "a new outbox")
        for checkout in checkouts:
            _put(box, checkout, f"putting {count} checkouts")
        for plan in plans:
            box = _open(outbox_cls, path, f"after {', '.join(lives) or 'the puts'}, a restart")
            before = _size(box, f"after {', '.join(lives) or 'the puts'} and a restart")
            if not lives and before != count:
                return (
                    f"after putting {count} checkouts and a restart, size() is {before}: a "
                    "checkout must be committed to the file before put returns, or a crash "
                    "loses it"
                )
            gateway.start_drain(before, look)
            try:
                delivered = box.drain(gateway.charge)
            except ProcessKilled:
                delivered = None
            except NotImplementedError:
                raise
            except Exception as error:  # noqa: BLE001 - reported to the student
                if gateway.unmarked is not None:
                    delivered = None  # reported below
                elif gateway.dead:
                    delivered = None  # it caught the kill and raised something else: still dead
                else:
                    hint = ""
                    if "locked" in str(error):
                        hint = (
                            " (the killed process still holds an uncommitted transaction: commit "
                            "each row's delivered mark right after its charge)"
                        )
                    return (
                        f"after {', '.join(lives) or 'the puts'}, drain(charge) raised "
                        f"{type(error).__name__}: {error}{hint}"
                    )
            if gateway.unmarked is not None:
                drains = ", then ".join([*lives, "a drain"])
                return f"{count} checkouts put, then {drains}: {gateway.unmarked}"
            if plan is None:
                if gateway.dead:
                    return "drain(charge) kept calling charge after it raised"
                got = plain(delivered, "drain(charge)'s return value", "whole number")
                if got != before:
                    return (
                        f"after {', '.join(lives) or 'the puts'}, drain(charge) returned {got}; "
                        f"{before} checkouts were waiting and all were delivered"
                    )
            else:
                n, charged = plan
                lives.append(
                    f"a drain killed at its charge {n} ({'after' if charged else 'before'} the "
                    "partner charged)"
                )
            gateway.new_life()
        story = f"{count} checkouts put, then {', then '.join(lives) or 'one drain'}"
        ids = [c for c, _ in checkouts]
        per_id: dict[str, int] = {}
        for _key, checkout_id, amount in gateway.charges:
            per_id[str(checkout_id)] = per_id.get(str(checkout_id), 0) + 1
            want = dict(checkouts).get(str(checkout_id))
            if want is None:
                return f"{story}: charge was called with checkout_id {checkout_id!r}, never put"
            if type(amount) is not int or amount != want:
                return f"{story}: {checkout_id} was charged {amount!r}; it was put with {want}"
        missing = [c for c in ids if per_id.get(c, 0) == 0]
        if missing:
            return (
                f"{story}: {missing[0]} was never charged. Mark a row delivered only after its "
                "charge returned: a crash in between must leave it waiting"
            )
        twice = [c for c in ids if per_id.get(c, 0) > 1]
        if twice:
            keys = [k for k, c, _ in gateway.charges if c == twice[0]]
            return (
                f"{story}: {twice[0]} was charged {per_id[twice[0]]} times (keys {keys}). Give "
                "every attempt the idempotency key stored with the row when it was written"
            )
        first_seen = list(dict.fromkeys(gateway.order))
        if first_seen != [c for c in ids if c in first_seen]:
            return f"{story}: the checkouts were charged in the order {first_seen}; oldest first"
        size = _size(_open(outbox_cls, path, f"{story}, a restart"), f"{story}, a restart")
        if size != 0:
            return f"{story}: every checkout was charged, yet size() is {size}; expected 0"
    return None


class PaymentRefused(ConnectionRefusedError):
    """The payment partner refused a charge (raised by :func:`refused_problem`'s ``charge``)."""


def refused_problem(outbox_cls: Any, count: int, refuse_at: int) -> str | None:
    """Put ``count`` checkouts; drain with a ``charge`` that raises at its ``refuse_at``-th call.

    ``drain`` must stop there and let the error out: the checkouts charged
    before it delivered, the refused one and the later ones waiting, charge
    not called again. A second drain, with a partner that accepts, must then
    deliver every waiting checkout, and each checkout is charged once.
    """
    checkouts = _checkouts(count)
    gateway = Gateway()
    calls: list[str] = []

    def refusing(key: Any, checkout_id: Any, amount_cents: Any) -> str:
        calls.append(str(checkout_id))
        if len(calls) == refuse_at:
            gateway.look_at_file(str(checkout_id))
            raise PaymentRefused(f"the partner refused {checkout_id}")
        return gateway.charge(key, checkout_id, amount_cents)

    put = f"{count} checkout{'s' if count != 1 else ''} put"
    story = f"{put}, then a drain whose charge {refuse_at} raised PaymentRefused"
    waiting = count - refuse_at + 1
    with _fresh_path("refuse") as path:

        def look() -> int:
            story = "a restarted process, while drain was charging"
            return _size(_open(outbox_cls, path, story), story)

        box = _open(outbox_cls, path, "a new outbox")
        for checkout in checkouts:
            _put(box, checkout, f"putting {count} checkouts")
        gateway.start_drain(count, look)
        try:
            returned = box.drain(refusing)
        except NotImplementedError:
            raise
        except Exception as error:  # noqa: BLE001 - the refusal, let out as the exercise asks
            if gateway.unmarked is not None:
                return f"{put}, then a drain: {gateway.unmarked}"
            if len(calls) < refuse_at:
                return f"{put}, then drain(charge) raised {type(error).__name__}: {error}"
        else:
            if gateway.unmarked is not None:
                return f"{put}, then a drain: {gateway.unmarked}"
            return (
                f"{story}: drain returned {returned!r}. If charge raises, drain must stop and "
                "let the error propagate: the caller has to know the partner refused, and the "
                "row stays waiting"
            )
        if len(calls) > refuse_at:
            return f"{story}: drain called charge again after it raised; stop at the first error"
        size = _size(box, f"{story}, size()")
        if size != waiting:
            return (
                f"{story}: size() is {size}; expected {waiting}: the refused checkout and the "
                "ones after it stay waiting"
            )
        again = f"{story}, then a drain with a partner that accepts"
        gateway.start_drain(waiting, look)
        got = plain(
            call(f"{again}: drain(charge)", box.drain, gateway.charge), again, "whole number"
        )
        if gateway.unmarked is not None:
            return f"{story}, then a drain: {gateway.unmarked}"
        if got != waiting:
            return f"{again}: drain returned {got!r}; expected {waiting}, every waiting checkout"
        per_id = Counter(str(checkout_id) for _key, checkout_id, _amount in gateway.charges)
        for checkout_id, _amount in checkouts:
            if per_id[checkout_id] != 1:
                return f"{again}: {checkout_id} was charged {per_id[checkout_id]} times; expected 1"
    return None


def check_drain(outbox_cls: Any) -> None:
    """Visible check for exercise 7: a clean drain, a refused charge, kills around a charge."""
    require(drain_problem(outbox_cls, 3, []))
    require(refused_problem(outbox_cls, 3, 2))
    require(drain_problem(outbox_cls, 4, [(2, True), (1, False)]))
    print(
        "✓ drain charges every checkout once, oldest first, across kills before and after a "
        "charge (at least once + idempotency keys)"
    )


# --- exercise 8: what the outbox's size says ----------------------------------------------


def status_problem(
    outbox_status: Any, history: Sequence[tuple[int, str]], ref: types.ModuleType | None = None
) -> str | None:
    """``outbox_status(history)`` must agree with the reference."""
    ref = ref or _reference()
    expected = ref.outbox_status(history)
    shown = f"outbox_status({[tuple(h) for h in history]})"
    got = plain(call(shown, outbox_status, [list(h) for h in history]), shown, "text")
    if got == expected:
        return None
    hint = ""
    if expected == "empty":
        hint = ": size 0 is always 'empty', whatever the breaker and the samples before"
    elif "stuck" in (got, expected):
        hint = (
            ": decide in this order: 'empty', 'queueing', 'stuck', 'draining'. With the last "
            "four samples a, b, c, d all closed, it is stuck when d's size >= a's (compare with "
            "three samples ago, not with the one before)"
        )
    return f"{shown} is {got!r}; expected {expected!r}{hint}"


def check_outbox_status(outbox_status: Any) -> None:
    """Visible check for exercise 8: one history for each status."""
    histories: list[list[tuple[int, str]]] = [
        [(0, "closed")],
        [(0, "closed"), (4, "open"), (9, "open")],
        [(9, "open"), (9, "half_open"), (6, "closed")],
        [(9, "open"), (6, "closed"), (6, "closed"), (6, "closed"), (6, "closed")],
        [(9, "open"), (6, "closed"), (3, "closed"), (7, "closed"), (1, "closed")],
        [(5, "open"), (0, "closed"), (0, "closed"), (0, "closed"), (0, "closed")],
        [(9, "open"), (5, "closed"), (7, "closed"), (8, "closed"), (6, "closed")],
        [(9, "closed"), (6, "closed"), (6, "closed"), (6, "closed")],
    ]
    for history in histories:
        require(status_problem(outbox_status, history))
    print("✓ outbox_status tells empty, queueing, draining and stuck apart")
