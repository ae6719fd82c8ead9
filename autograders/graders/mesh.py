"""Hidden grading for notebook 05, "The service mesh's retry and timeout policy" (instructor side).

One grader per exercise. Each refuses code that borrows the reference
(:func:`~autograders.graders._pristine.refuse_reference`), then compares the
student's function with a PRISTINE copy of :mod:`course_lib.mesh`
(:func:`~autograders.graders._pristine.load_reference`) on seeded, generated
policies, outcome sequences and draws, through the problem functions of
:mod:`course_lib.checks.mesh`, and fails with the shortest diverging scenario
(:func:`~course_lib.checks.kit.find_divergence`):

1. :func:`grade_read_policy`: variants of the module's VirtualService, typos, bad YAML,
   bad values (a value where a mapping belongs, empty ``retryOn`` conditions)
2. :func:`grade_should_retry`: every outcome under every single condition, then random lists
3. :func:`grade_backoff`: retries 1 to 12
4. :func:`grade_simulate`: random policies, upstream behaviours and draws
5. :func:`grade_headers`: random policies and header sets
6. :func:`grade_worst_case`: random policies
7. :func:`grade_amplification`: random layer stacks, with and without a budget
8. :func:`grade_ejections`: random response streams and detector settings
9. :func:`grade_owner`: the answer key of who owns what
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from types import ModuleType
from typing import Any, Final

from autograders.graders._pristine import load_reference, refuse_reference
from course_lib.checks.kit import fail, find_divergence, plain, require, shorter_sequences
from course_lib.checks.mesh import (
    CONCERNS,
    amplification_problem,
    backoff_problem,
    ejections_problem,
    headers_problem,
    owner_shape_problem,
    read_policy_problem,
    should_retry_problem,
    simulate_problem,
    worst_case_problem,
)

__all__ = [
    "grade_amplification",
    "grade_backoff",
    "grade_ejections",
    "grade_headers",
    "grade_owner",
    "grade_read_policy",
    "grade_should_retry",
    "grade_simulate",
    "grade_worst_case",
]

OUTCOMES: Final = (
    "200", "201", "404", "409", "429", "500", "501", "502", "503", "504",
    "connect-failure", "refused-stream", "reset",
)  # fmt: skip
CONDITIONS: Final = ("5xx", "gateway-error", "reset", "connect-failure", "refused-stream",
                     "retriable-4xx")  # fmt: skip
TIMEOUTS: Final = (None, 300, 1000, 2500, 3000, 4500)
PER_TRY: Final = (None, 200, 700, 1000, 1500)

#: The answer key of exercise 9 (why: see the notebook's discussion).
OWNER_KEY: Final[dict[str, str]] = dict(
    zip(CONCERNS, ("mesh", "app", "mesh", "app", "mesh", "app", "mesh"), strict=True)
)


def _reference() -> ModuleType:
    return load_reference("mesh")


def _random_policy(rng: random.Random, *, hangs_end: bool = True) -> dict[str, Any]:
    while True:
        timeout = rng.choice(TIMEOUTS)
        per_try = rng.choice(PER_TRY)
        if not hangs_end or timeout is not None or per_try is not None:
            break
    conditions = rng.sample(CONDITIONS, rng.randint(1, 3)) if rng.random() < 0.9 else []
    if rng.random() < 0.3:
        conditions = ["5xx", "connect-failure", "refused-stream"]
    return {
        "timeout_ms": timeout,
        "attempts": rng.randint(0, 5),
        "per_try_timeout_ms": per_try,
        "retry_on": conditions,
    }


def _policy_simpler(policy: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Simpler versions of a policy: fewer attempts, fewer conditions, no timeouts."""
    if policy["attempts"] > 0:
        yield {**policy, "attempts": policy["attempts"] - 1}
    for i in range(len(policy["retry_on"])):
        yield {**policy, "retry_on": policy["retry_on"][:i] + policy["retry_on"][i + 1 :]}
    for key in ("timeout_ms", "per_try_timeout_ms"):
        if policy[key] is not None:
            yield {**policy, key: None}


# --- exercise 1 -----------------------------------------------------------------------------

_RETRIES_LINES = ("      attempts: {a}\n", "      perTryTimeout: {p}\n", '      retryOn: "{r}"\n')


def _virtual_service(rng: random.Random) -> str:
    """A VirtualService like the module's, with random values, parts left out, maybe a fault.

    The faults: a misspelt field, a YAML syntax error, a bad duration, a single value
    (or nothing) where a mapping belongs, a bare ``retries:``, an empty ``retryOn``
    condition.
    """
    ref = _reference()
    timeout = rng.choice(["3.000s", "3s", "250ms", "1.5s", "2m", "1h", None])
    per_try = rng.choice(["1.000s", "1s", "100ms", "0.5s", None])
    retry_on = ",".join(rng.sample(list(ref.RETRY_ON_CONDITIONS), rng.randint(1, 4)))
    lines = [
        "apiVersion: networking.istio.io/v1alpha3\n",
        "kind: VirtualService\n",
        "metadata:\n",
        f"  name: {rng.choice(['payment-service-route', 'orders'])}\n",
        "spec:\n",
        "  hosts:\n",
        "  - payment-service\n",
        "  http:\n",
        "  - route:\n",
        "    - destination:\n",
        "        host: payment-service\n",
    ]
    if timeout is not None:
        lines.append(f"    timeout: {timeout}\n")
    if rng.random() < 0.85:
        lines.append("    retries:\n")
        for template in _RETRIES_LINES:
            if template.startswith("      perTryTimeout") and per_try is None:
                continue
            if rng.random() < 0.9:
                lines.append(template.format(a=rng.randint(0, 5), p=per_try, r=retry_on))
    fault = rng.random()
    if fault < 0.25:  # a misspelt or unknown field somewhere
        i = rng.randrange(len(lines))
        if ":" in lines[i] and not lines[i].strip().startswith("- payment"):
            indent, rest = lines[i][: len(lines[i]) - len(lines[i].lstrip())], lines[i].lstrip()
            dash = "- " if rest.startswith("- ") else ""
            rest = rest[len(dash) :]
            name, _, value = rest.partition(":")
            lines[i] = (
                f"{indent}{dash}{rng.choice(['x', ''])}{name}{rng.choice(['s', 'X'])}:{value}"
            )
    elif fault < 0.35:  # a YAML syntax error
        i = rng.randrange(3, len(lines))
        lines[i] = lines[i].rstrip("\n") + rng.choice([" [", ": : x", " {a"]) + "\n"
    elif fault < 0.45:  # a bad value
        bad = rng.choice(["    timeout: soon\n", "    timeout: 0.5ms\n", "    timeout: -3s\n"])
        if timeout is not None:
            lines[11] = bad  # the timeout line
        else:
            lines.insert(11, bad)
    elif fault < 0.52:  # a single value where a mapping belongs
        lines[2:4] = [rng.choice(["metadata: foo\n", "metadata:\n"])]
    elif fault < 0.59:  # a bare retries: with nothing under it
        cut = lines.index("    retries:\n") if "    retries:\n" in lines else len(lines)
        lines[cut:] = ["    retries:\n"]
    elif fault < 0.66:  # an empty retryOn condition
        empty = rng.choice(['""', '"5xx,,reset"', '"5xx,"', ""])
        found = next((i for i, line in enumerate(lines) if "retryOn" in line), None)
        if found is None:
            if "    retries:\n" not in lines:
                lines.append("    retries:\n")
            lines.append(f"      retryOn: {empty}\n")
        else:
            lines[found] = f"      retryOn: {empty}\n"
    return "".join(lines)


def grade_read_policy(read_policy: Any, *, scenarios: int = 80, seed: int = 1501) -> None:
    """Hidden grading for exercise 1: VirtualService variants, misspelt fields, bad YAML."""
    refuse_reference(read_policy, "read_policy")
    ref = _reference()
    require(
        find_divergence(
            lambda text: read_policy_problem(read_policy, ref, text),
            _virtual_service,
            scenarios=scenarios,
            seed=seed,
        )
    )


# --- exercise 2 -----------------------------------------------------------------------------


def grade_should_retry(should_retry: Any, *, scenarios: int = 60, seed: int = 1502) -> None:
    """Hidden grading for exercise 2: every outcome under each condition, then random lists."""
    refuse_reference(should_retry, "should_retry")
    ref = _reference()
    for outcome in (*OUTCOMES, "per-try-timeout"):
        for condition in CONDITIONS:
            require(should_retry_problem(should_retry, ref, outcome, [condition]))
        require(should_retry_problem(should_retry, ref, outcome, []))

    def generate(rng: random.Random) -> tuple[str, list[str]]:
        outcome = rng.choice((*OUTCOMES, "per-try-timeout"))
        return outcome, rng.sample(CONDITIONS, rng.randint(1, len(CONDITIONS)))

    require(
        find_divergence(
            lambda s: should_retry_problem(should_retry, ref, *s),
            generate,
            scenarios=scenarios,
            seed=seed,
        )
    )


# --- exercise 3 -----------------------------------------------------------------------------


def grade_backoff(backoff_ceiling_ms: Any) -> None:
    """Hidden grading for exercise 3: retries 1 to 12 (the cap binds from retry 4)."""
    refuse_reference(backoff_ceiling_ms, "backoff_ceiling_ms")
    ref = _reference()
    for n in range(1, 13):
        require(backoff_problem(backoff_ceiling_ms, ref, n))


# --- exercise 4 -----------------------------------------------------------------------------

SimScenario = tuple[dict[str, Any], list[list[Any]], list[int]]


def _random_tries(rng: random.Random, count: int) -> list[list[Any]]:
    p_hang = rng.choice([0.0, 0.2, 0.6])
    tries: list[list[Any]] = []
    for _ in range(count):
        if rng.random() < p_hang:
            tries.append(["hang", 0])
        else:
            longest = 400 if rng.random() < 0.7 else 1700
            tries.append([rng.choice(OUTCOMES), rng.randrange(0, longest, 10)])
    return tries


def _sim_scenario(rng: random.Random) -> SimScenario:
    policy = _random_policy(rng)
    count = policy["attempts"] + 1
    return policy, _random_tries(rng, count), [rng.getrandbits(32) for _ in range(count)]


def _sim_smaller(scenario: SimScenario) -> Iterator[SimScenario]:
    """Simpler scenarios: a simpler policy, fewer tries and draws, quicker answers, 0 draws."""
    policy, tries, draws = scenario
    for simpler in _policy_simpler(policy):
        yield simpler, tries, draws
    if len(tries) > 1:
        yield policy, tries[:-1], draws
    if len(draws) > 1:
        yield policy, tries, draws[:-1]
    for i, (outcome, ms) in enumerate(tries):
        if outcome != "hang" and ms > 0:
            yield policy, [*tries[:i], [outcome, ms // 2 // 10 * 10], *tries[i + 1 :]], draws
    for i, draw in enumerate(draws):
        if draw > 0:
            yield policy, tries, [*draws[:i], 0, *draws[i + 1 :]]
            yield policy, tries, [*draws[:i], draw // 1000, *draws[i + 1 :]]


def grade_simulate(simulate: Any, *, scenarios: int = 150, seed: int = 1504) -> None:
    """Hidden grading for exercise 4: random policies, upstream behaviours and draws."""
    refuse_reference(simulate, "simulate")
    ref = _reference()
    require(
        find_divergence(
            lambda s: simulate_problem(simulate, ref, *s),
            _sim_scenario,
            scenarios=scenarios,
            seed=seed,
            smaller=_sim_smaller,
        )
    )


# --- exercise 5 -----------------------------------------------------------------------------


def _random_headers(rng: random.Random) -> dict[str, str]:
    headers: dict[str, str] = {}
    if rng.random() < 0.5:
        headers[rng.choice(["x-envoy-max-retries", "X-Envoy-Max-Retries"])] = str(rng.randint(0, 6))
    if rng.random() < 0.5:
        headers["x-envoy-retry-on"] = ",".join(rng.sample(CONDITIONS, rng.randint(1, 2)))
    if rng.random() < 0.5:
        headers["x-envoy-upstream-rq-timeout-ms"] = str(rng.choice([200, 1000, 2000, 5000]))
    if rng.random() < 0.5:
        headers["x-envoy-upstream-rq-per-try-timeout-ms"] = str(rng.choice([100, 900, 3000, 6000]))
    if rng.random() < 0.2:
        headers["x-request-id"] = "42"
    return headers


def grade_headers(apply_headers: Any, *, scenarios: int = 150, seed: int = 1505) -> None:
    """Hidden grading for exercise 5: random policies and header sets."""
    refuse_reference(apply_headers, "apply_headers")
    ref = _reference()

    def smaller(
        scenario: tuple[dict[str, Any], dict[str, str]],
    ) -> Iterator[tuple[dict[str, Any], dict[str, str]]]:
        policy, headers = scenario
        for name in headers:
            yield policy, {k: v for k, v in headers.items() if k != name}
        for simpler in _policy_simpler(policy):
            yield simpler, headers

    require(
        find_divergence(
            lambda s: headers_problem(apply_headers, ref, *s),
            lambda rng: (_random_policy(rng, hangs_end=False), _random_headers(rng)),
            scenarios=scenarios,
            seed=seed,
            smaller=smaller,
        )
    )


# --- exercise 6 -----------------------------------------------------------------------------


def grade_worst_case(worst_case: Any, *, scenarios: int = 120, seed: int = 1506) -> None:
    """Hidden grading for exercise 6: random policies (some without any timeout)."""
    refuse_reference(worst_case, "worst_case")
    ref = _reference()
    require(
        find_divergence(
            lambda policy: worst_case_problem(worst_case, ref, policy),
            lambda rng: _random_policy(rng, hangs_end=False),
            scenarios=scenarios,
            seed=seed,
            smaller=_policy_simpler,
        )
    )


# --- exercise 7 -----------------------------------------------------------------------------


def grade_amplification(amplification: Any, *, scenarios: int = 100, seed: int = 1507) -> None:
    """Hidden grading for exercise 7: random layer stacks, with and without a budget."""
    refuse_reference(amplification, "amplification")
    ref = _reference()

    def generate(rng: random.Random) -> tuple[list[int], float | None]:
        layers = [rng.randint(1, 5) for _ in range(rng.randint(1, 5))]
        budget = rng.choice([None, None, 0.0, 10.0, 20.0, 25.0, 50.0, 300.0])
        return layers, budget

    def smaller(scenario: tuple[list[int], float | None]) -> Iterator[tuple[list[int], Any]]:
        layers, budget = scenario
        if budget is not None:
            yield layers, None
        for shorter in shorter_sequences(layers):
            if shorter:
                yield shorter, budget

    require(
        find_divergence(
            lambda s: amplification_problem(amplification, ref, *s),
            generate,
            scenarios=scenarios,
            seed=seed,
            smaller=smaller,
        )
    )


# --- exercise 8 -----------------------------------------------------------------------------

EjectScenario = tuple[dict[str, int], list[list[Any]]]


def _eject_scenario(rng: random.Random) -> EjectScenario:
    settings = {
        "consecutive_5xx": rng.randint(1, 5),
        "interval_ms": rng.choice([1000, 5000, 10_000]),
        "base_ejection_ms": rng.choice([2000, 10_000, 30_000]),
        "max_ejection_ms": rng.choice([5000, 60_000, 300_000]),
    }
    p_bad = rng.choice([0.5, 0.9, 1.0])
    time_ms, responses = 0, []
    for _ in range(rng.randint(5, 120)):
        time_ms += rng.randrange(100, 3000, 100)
        responses.append([time_ms, rng.random() < p_bad])
    return settings, responses


def _eject_smaller(scenario: EjectScenario) -> Iterator[EjectScenario]:
    settings, responses = scenario
    for shorter in shorter_sequences(responses):
        yield settings, shorter


def grade_ejections(ejections: Any, *, scenarios: int = 100, seed: int = 1508) -> None:
    """Hidden grading for exercise 8: random response streams and detector settings."""
    refuse_reference(ejections, "ejections")
    ref = _reference()
    require(
        find_divergence(
            lambda s: ejections_problem(ejections, ref, s[1], s[0]),
            _eject_scenario,
            scenarios=scenarios,
            seed=seed,
            smaller=_eject_smaller,
        )
    )


# --- exercise 9 -----------------------------------------------------------------------------


def grade_owner(owner: Any) -> None:
    """Hidden grading for exercise 9: every concern against the answer key."""
    require(owner_shape_problem(owner))
    wrong = [c for c in CONCERNS if plain(owner[c], "an answer", "text") != OWNER_KEY[c]]
    if wrong:
        fail(
            f"{len(wrong)} of the {len(CONCERNS)} concerns are given to the wrong layer, "
            f"for example {wrong[0]!r}: ask whether the sidecar can know what that needs"
        )
