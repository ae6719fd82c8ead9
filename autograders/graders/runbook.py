"""Hidden grading for notebook 06, "The HA/DR runbook as code" (instructor side, not in the wheel).

One grader per exercise. Each refuses code that borrows the reference
(:func:`~autograders.graders._pristine.refuse_reference`), then runs the
exercise's problem function from :mod:`course_lib.checks.runbook` against a
PRISTINE copy of :mod:`course_lib.runbook` (:func:`~autograders.graders._pristine.load_reference`)
on seeded, generated scenarios, and fails with the shortest one that goes wrong:

1. :func:`grade_objectives`: random incident timelines (equal moments included)
2. :func:`grade_knobs`: the knobs' effects, found by experiment on the pristine reference
3. :func:`grade_rules`: the triage table, key by key
4. :func:`grade_should_fire`: random streaky histories around random levels and windows
5. :func:`grade_run_rules`: random metric streams through one to three random rules
6. :func:`grade_outbox`: puts and restarts on real SQLite files (no key twice, across files)
7. :func:`grade_drain`: drains killed before and after a charge, restarted, on a real file;
   drains whose charge raises (the error must propagate, the row stay waiting); before
   each charge, the file read as a restarted process would must show every checkout
   charged so far marked delivered (a kill keeps only what was committed)
8. :func:`grade_outbox_status`: random size histories through open, half-open and closed
"""

from __future__ import annotations

import random
import types
from collections.abc import Iterator
from typing import Any

from autograders.graders._pristine import load_reference, refuse_reference
from course_lib.checks.kit import find_divergence, require, shorter_sequences
from course_lib.checks.runbook import (
    drain_problem,
    fire_problem,
    knobs_problem,
    objectives_problem,
    outbox_problem,
    refused_problem,
    rules_problem,
    run_rules_problem,
    status_problem,
)

__all__ = [
    "grade_drain",
    "grade_knobs",
    "grade_objectives",
    "grade_outbox",
    "grade_outbox_status",
    "grade_rules",
    "grade_run_rules",
    "grade_should_fire",
]

#: (above, clear_below) pairs the generated rules use: the triage table's and others.
LEVELS = ((0.05, 0.02), (0.5, 0.5), (0.9, 0.7), (0.05, 0.05), (0.5, 0.25))
#: Window lengths (seconds) of the generated rules.
WINDOWS = (10.0, 20.0, 30.0, 60.0)


def _ref() -> types.ModuleType:
    return load_reference("runbook")


# --- exercises 1-3 ------------------------------------------------------------------------


def grade_objectives(objectives: Any, *, scenarios: int = 120, seed: int = 601) -> None:
    """Hidden grading for exercise 1: random timelines vs the pristine reference."""
    refuse_reference(objectives, "recovery_objectives")
    ref = _ref()
    require(
        find_divergence(
            lambda timeline: objectives_problem(objectives, timeline, ref),
            ref.random_timeline,
            scenarios=scenarios,
            seed=seed,
        )
    )


def grade_knobs(moves: Any) -> None:
    """Hidden grading for exercise 2: the answer vs the experiment on the pristine reference."""
    require(knobs_problem(moves, _ref()))


def grade_rules(rules: Any) -> None:
    """Hidden grading for exercise 3: the triage table vs the pristine reference's."""
    require(rules_problem(rules, _ref()))


# --- exercise 4 ---------------------------------------------------------------------------


def _random_rule(rng: random.Random, metric: str = "checkout_504_ratio") -> dict[str, Any]:
    above, clear = rng.choice(LEVELS)
    return {
        "name": f"rule-on-{metric}",
        "metric": metric,
        "above": above,
        "clear_below": clear,
        "for_seconds": rng.choice(WINDOWS),
        "severity": rng.choice(["P1", "P2"]),
        "action": "page",
    }


def _streaky(rng: random.Random, rule: dict[str, Any], length: int) -> list[float]:
    """Values in runs of equal kind: above the level, at it, between, at the clear level, below."""
    above, clear = float(rule["above"]), float(rule["clear_below"])

    def value(kind: int) -> float:
        if kind == 0:
            return round(above + rng.choice([0.01, 0.05, 0.1]), 3)
        if kind == 1:
            return float(above)
        if kind == 2:
            return round((above + clear) / 2, 4)
        if kind == 3:
            return float(clear)
        return round(max(0.0, clear - rng.choice([0.01, 0.02, 0.2])), 3)

    values: list[float] = []
    while len(values) < length:
        kind = rng.randrange(5)
        values.extend(value(kind) for _ in range(rng.randint(1, 7)))
    return values[:length]


def grade_should_fire(should_fire: Any, *, scenarios: int = 150, seed: int = 604) -> None:
    """Hidden grading for exercise 4: random streaky histories vs the pristine reference."""
    refuse_reference(should_fire, "should_fire")
    ref = _ref()

    def generate(rng: random.Random) -> tuple[dict[str, Any], list[float]]:
        rule = _random_rule(rng)
        return rule, _streaky(rng, rule, rng.randint(0, 10))

    def smaller(
        scenario: tuple[dict[str, Any], list[float]],
    ) -> Iterator[tuple[dict[str, Any], list[float]]]:
        rule, values = scenario
        for shorter in shorter_sequences(values):
            yield rule, shorter

    require(
        find_divergence(
            lambda s: fire_problem(should_fire, s[1], s[0], ref),
            generate,
            scenarios=scenarios,
            seed=seed,
            smaller=smaller,
        )
    )


# --- exercise 5 ---------------------------------------------------------------------------

Stream = tuple[list[dict[str, Any]], dict[str, list[float]]]


def _samples(ref: types.ModuleType, streams: dict[str, list[float]]) -> list[dict[str, Any]]:
    length = len(next(iter(streams.values())))
    quiet = {"checkout_504_ratio": 0.0, "db_health_failed": 0.0, "redis_cpu": 0.4}
    return [
        {"t": ref.STEP * (i + 1), **quiet, **{m: v[i] for m, v in streams.items()}}
        for i in range(length)
    ]


def grade_run_rules(run_rules: Any, *, scenarios: int = 80, seed: int = 605) -> None:
    """Hidden grading for exercise 5: random streams through 1-3 rules vs the pristine reference."""
    refuse_reference(run_rules, "run_rules")
    ref = _ref()

    def generate(rng: random.Random) -> Stream:
        metrics = rng.sample(list(ref.METRICS), rng.randint(1, 3))
        rules = [_random_rule(rng, metric) for metric in metrics]
        length = rng.randint(4, 30)
        return rules, {r["metric"]: _streaky(rng, r, length) for r in rules}

    def smaller(scenario: Stream) -> Iterator[Stream]:
        rules, streams = scenario
        if len(rules) > 1:
            for i in range(len(rules)):
                kept = rules[:i] + rules[i + 1 :]
                yield kept, {r["metric"]: streams[r["metric"]] for r in kept}
        length = len(next(iter(streams.values())))
        for keep in shorter_sequences(list(range(length))):
            if keep:
                yield rules, {m: [v[i] for i in keep] for m, v in streams.items()}

    require(
        find_divergence(
            lambda s: run_rules_problem(run_rules, s[0], _samples(ref, s[1]), ref),
            generate,
            scenarios=scenarios,
            seed=seed,
            smaller=smaller,
        )
    )


# --- exercises 6 and 7 --------------------------------------------------------------------


def grade_outbox(outbox_cls: Any) -> None:
    """Hidden grading for exercise 6: puts and restarts in several orders, on real files."""
    refuse_reference(outbox_cls, "Outbox")
    keys: dict[str, str] = {}  # no key twice, across every file: the partner sees them all
    for plan in (
        [1, "restart"],
        ["restart", 0, 1, "restart"],
        [5, "restart", "restart", 2],
        [3, 3, "restart", 4, "restart"],
    ):
        require(outbox_problem(outbox_cls, plan, keys))


def grade_drain(outbox_cls: Any, *, scenarios: int = 6, seed: int = 607) -> None:
    """Hidden grading for exercise 7: random kills around charges, restarts, refused charges."""
    refuse_reference(outbox_cls, "Outbox")
    fixed: list[tuple[int, list[tuple[int, bool] | None]]] = [
        (1, []),
        (2, []),  # the shortest drain where a mark can be late: before the second charge
        (2, [(1, False)]),
        (2, [(1, True)]),
        (5, [(3, True), (1, True), (2, False)]),
    ]
    rng = random.Random(seed)
    for _ in range(scenarios):
        count = rng.randint(1, 6)
        crashes: list[tuple[int, bool] | None] = [
            (rng.randint(1, count), rng.random() < 0.5) for _ in range(rng.randint(0, 3))
        ]
        fixed.append((count, crashes))
    for count, crashes in fixed:
        require(drain_problem(outbox_cls, count, crashes))
    for count, refuse_at in ((1, 1), (4, 3), (3, 1)):
        require(refused_problem(outbox_cls, count, refuse_at))


# --- exercise 8 ---------------------------------------------------------------------------


def grade_outbox_status(outbox_status: Any, *, scenarios: int = 150, seed: int = 608) -> None:
    """Hidden grading for exercise 8: random size histories vs the pristine reference."""
    refuse_reference(outbox_status, "outbox_status")
    ref = _ref()

    def generate(rng: random.Random) -> list[tuple[int, str]]:
        history: list[tuple[int, str]] = []
        size = rng.randint(0, 3)
        state = "closed"
        for _ in range(rng.randint(1, 10)):
            state = rng.choice(["open", "half_open", "closed", "closed", "closed"])
            change = rng.choice([-3, -1, 0, 0, 1, 4]) if state == "closed" else rng.randint(0, 5)
            size = max(0, size + change)
            history.append((size, state))
        return history

    require(
        find_divergence(
            lambda history: status_problem(outbox_status, history, ref) if history else None,
            generate,
            scenarios=scenarios,
            seed=seed,
        )
    )
