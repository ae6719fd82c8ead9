"""course_lib.mesh: the VirtualService reader and Envoy's retry/timeout rules, checked by hand.

Every number below is worked out by hand from the rules cited in course_lib/mesh.py (and
written out in notebook 05, "The module's policy, by hand"), not taken from the code.
"""

from __future__ import annotations

import random

import pytest

from course_lib import mesh
from course_lib.mesh import (
    MODULE_POLICY_YAML,
    MeshConfigError,
    amplification,
    apply_headers,
    backoff_ceiling_ms,
    backoff_delay_ms,
    ejections,
    parse_virtual_service,
    random_draws,
    retry_budget_allows,
    should_retry,
    simulate,
    worst_case,
)

MODULE = parse_virtual_service(MODULE_POLICY_YAML)


# --- reading the VirtualService ---------------------------------------------------------------


def test_the_module_policy_is_read_exactly() -> None:
    assert MODULE.host == "payment-service"
    assert MODULE.as_dict() == {
        "timeout_ms": 3000,
        "attempts": 3,
        "per_try_timeout_ms": 1000,
        "retry_on": ["5xx", "connect-failure", "refused-stream"],
    }


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("3.000s", 3000),
        ("1s", 1000),
        ("250ms", 250),
        ("1.5s", 1500),
        ("2m", 120_000),
        ("1h", 3_600_000),
    ],
)
def test_durations(text: str, ms: int) -> None:
    assert mesh.parse_duration_ms(text) == ms


@pytest.mark.parametrize("text", ["soon", "0.5ms", "-3s", "3", "0s", "1.0005s", "1 s"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="duration|milliseconds|minimum"):
        mesh.parse_duration_ms(text)


def _error(text: str) -> str:
    with pytest.raises(MeshConfigError) as caught:
        parse_virtual_service(text)
    return str(caught.value)


def test_an_unknown_field_names_its_line() -> None:
    message = _error(MODULE_POLICY_YAML.replace("perTryTimeout", "perTryTimout"))
    assert message.startswith("line 15: unknown field 'perTryTimout'")
    assert "perTryTimeout" in message  # the known fields are listed
    assert _error(MODULE_POLICY_YAML.replace("  hosts:", "  hostz:")).startswith("line 6:")
    assert _error(MODULE_POLICY_YAML.replace("kind:", "kinds:")).startswith("line 2:")


def test_bad_yaml_names_its_line() -> None:
    assert _error("apiVersion: v1\nkind: VirtualService\nspec: {http: [\n").startswith("line 4:")
    assert _error("a: b\n\tc: d\n").startswith("line 2:")
    assert "not valid YAML" in _error(MODULE_POLICY_YAML.replace("3.000s", "3.000s: : x"))


def test_bad_values_name_their_line() -> None:
    assert _error(MODULE_POLICY_YAML.replace("3.000s", "soon")).startswith("line 12: timeout")
    assert _error(MODULE_POLICY_YAML.replace("attempts: 3", "attempts: three")).startswith(
        "line 14: attempts"
    )
    assert _error(MODULE_POLICY_YAML.replace("refused-stream", "refused")).startswith("line 16:")
    assert _error(MODULE_POLICY_YAML.replace("VirtualService", "Gateway")).startswith("line 2:")
    assert _error("").startswith("line 1:")


def test_absent_fields_mean_no_timeout_and_no_retries() -> None:
    text = MODULE_POLICY_YAML.split("    timeout:")[0]
    policy = parse_virtual_service(text)
    assert (policy.timeout_ms, policy.attempts, policy.per_try_timeout_ms, policy.retry_on) == (
        None,
        0,
        None,
        (),
    )


# --- retryOn and back-off ---------------------------------------------------------------------

MODULE_ON = ["5xx", "connect-failure", "refused-stream"]


@pytest.mark.parametrize(
    ("outcome", "retry_on", "expected"),
    [
        ("503", MODULE_ON, True),
        ("500", MODULE_ON, True),
        ("404", MODULE_ON, False),
        ("409", MODULE_ON, False),
        ("429", MODULE_ON, False),
        ("200", MODULE_ON, False),
        ("reset", MODULE_ON, True),  # 5xx covers "does not respond at all"
        ("per-try-timeout", MODULE_ON, True),
        ("500", ["gateway-error"], False),
        ("502", ["gateway-error"], True),
        ("per-try-timeout", ["gateway-error"], True),
        ("503", ["reset"], False),
        ("connect-failure", ["reset"], True),
        ("reset", ["connect-failure"], False),
        ("refused-stream", ["connect-failure"], False),
        ("refused-stream", ["refused-stream"], True),
        ("409", ["retriable-4xx"], True),
        ("404", ["retriable-4xx"], False),
        ("503", [], False),
    ],
)
def test_retry_on(outcome: str, retry_on: list[str], expected: bool) -> None:
    assert should_retry(outcome, retry_on) is expected


def test_backoff_ceilings_are_envoys() -> None:
    # "between 0-24ms, ... 0-74ms, ... 0-174ms", capped at 10 x 25 ms
    assert [backoff_ceiling_ms(n) for n in range(1, 7)] == [25, 75, 175, 250, 250, 250]
    assert backoff_ceiling_ms(60) == 250
    assert backoff_delay_ms(1, 24) == 24 and backoff_delay_ms(1, 25) == 0
    assert backoff_delay_ms(3, 10**9) == 10**9 % 175
    with pytest.raises(ValueError, match="retry_number"):
        backoff_ceiling_ms(0)


def test_draws_are_seeded() -> None:
    assert random_draws(5, 7) == random_draws(5, 7)
    assert random_draws(5, 7) != random_draws(5, 8)


# --- one request ------------------------------------------------------------------------------


def test_every_try_hangs_under_the_module_policy() -> None:
    # 0-1000 per-try timeout; 1000+24 to 2024; 2024+74=2098, cut by the deadline at 3000
    run = simulate(MODULE, [["hang", 0]] * 4, [24, 74, 174])
    assert run == {
        "tries": [
            [0, 1000, "per-try-timeout"],
            [1024, 2024, "per-try-timeout"],
            [2098, 3000, "route-timeout"],
        ],
        "status": 504,
        "ended_at": 3000,
    }


def test_fast_failures_use_every_retry() -> None:
    run = simulate(MODULE, [["503", 10]] * 4, [0, 0, 0])
    assert [t[:2] for t in run["tries"]] == [[0, 10], [10, 20], [20, 30], [30, 40]]
    assert (run["status"], run["ended_at"]) == (503, 40)  # 1 + attempts = 4 tries, then passed on


def test_a_4xx_is_passed_on_at_once() -> None:
    run = simulate(MODULE, [["503", 40], ["404", 15], ["200", 5]], [30, 0])
    assert run == {"tries": [[0, 40, "503"], [45, 60, "404"]], "status": 404, "ended_at": 60}


def test_the_route_deadline_bounds_the_per_try_timeout() -> None:
    policy = {**MODULE.as_dict(), "timeout_ms": 2500}
    run = simulate(policy, [["hang", 0]] * 4, [0, 0, 0])
    assert run["tries"][-1] == [2000, 2500, "route-timeout"]
    assert run["ended_at"] == 2500


def test_an_answer_at_the_timeout_instant_is_too_late() -> None:
    no_retries = {**MODULE.as_dict(), "attempts": 0}
    assert simulate(no_retries, [["200", 1000]], [])["tries"] == [[0, 1000, "per-try-timeout"]]
    assert simulate(no_retries, [["200", 999]], [])["tries"] == [[0, 999, "200"]]
    policy = {**MODULE.as_dict(), "per_try_timeout_ms": None}
    assert simulate(policy, [["200", 3000]], [])["tries"] == [[0, 3000, "route-timeout"]]


def test_a_retry_that_would_start_after_the_deadline_never_starts() -> None:
    policy = {**MODULE.as_dict(), "timeout_ms": 1010}
    run = simulate(policy, [["503", 990], ["200", 1]], [20])  # the retry would start at 1010
    assert run == {"tries": [[0, 990, "503"]], "status": 504, "ended_at": 1010}


def test_events_become_503_and_a_per_try_timeout_504() -> None:
    no_retries = {**MODULE.as_dict(), "attempts": 0}
    assert simulate(no_retries, [["reset", 5]], [])["status"] == 503
    assert simulate(no_retries, [["hang", 0]], [])["status"] == 504


def test_tries_running_out_is_an_error() -> None:
    with pytest.raises(ValueError, match="tries ran out"):
        simulate(MODULE, [["503", 1]], [0, 0, 0])


# --- headers ----------------------------------------------------------------------------------


def test_headers_override_as_envoy_documents() -> None:
    got = apply_headers(
        MODULE, {"X-Envoy-Max-Retries": "1", "x-envoy-upstream-rq-per-try-timeout-ms": "5000"}
    )
    assert got.attempts == 3  # the larger of header and route
    assert got.per_try_timeout_ms == 1000  # over the 3000 ms route timeout: ignored
    got = apply_headers(
        MODULE,
        {
            "x-envoy-upstream-rq-timeout-ms": "6000",
            "x-envoy-upstream-rq-per-try-timeout-ms": "5000",
            "x-envoy-retry-on": "retriable-4xx,5xx",
            "x-request-id": "7",
        },
    )
    assert (got.timeout_ms, got.per_try_timeout_ms) == (6000, 5000)
    assert got.retry_on == ("5xx", "connect-failure", "refused-stream", "retriable-4xx")
    bare = {**MODULE.as_dict(), "attempts": 0, "retry_on": []}
    assert apply_headers(bare, {"x-envoy-retry-on": "5xx"}).attempts == 1
    with pytest.raises(MeshConfigError, match="x-envoy-max-retries"):
        apply_headers(MODULE, {"x-envoy-max-retries": "many"})


# --- worst case, amplification, budgets, ejection ----------------------------------------------


def test_worst_case_of_the_module_policy_matches_the_hand_calculation() -> None:
    # max requests 1 + 3; latency min(3000, 4*1000 + 24 + 74 + 174); hung tries min(4, ceil(3))
    assert worst_case(MODULE) == {"max_requests": 4, "latency_ms": 3000, "tries_if_all_hang": 3}
    no_route = {**MODULE.as_dict(), "timeout_ms": None}
    assert worst_case(no_route)["latency_ms"] == 4272
    nothing = {**MODULE.as_dict(), "timeout_ms": None, "per_try_timeout_ms": None}
    assert worst_case(nothing) == {"max_requests": 4, "latency_ms": None, "tries_if_all_hang": None}


def test_the_worst_case_is_reached_by_the_simulation() -> None:
    for policy in (MODULE, {**MODULE.as_dict(), "timeout_ms": None}):
        ceilings = [backoff_ceiling_ms(n) - 1 for n in (1, 2, 3)]
        run = simulate(policy, [["hang", 0]] * 4, ceilings)
        assert run["ended_at"] == worst_case(policy)["latency_ms"]
    fast = simulate(MODULE, [["503", 1]] * 4, [0, 0, 0])
    assert len(fast["tries"]) == worst_case(MODULE)["max_requests"]


def test_no_simulated_request_exceeds_the_worst_case() -> None:
    rng = random.Random(1505)
    outcomes = ["200", "404", "503", "504", "reset", "connect-failure", "hang"]
    for _ in range(300):
        policy = {
            "timeout_ms": rng.choice([None, 300, 1000, 3000]),
            "attempts": rng.randint(0, 5),
            "per_try_timeout_ms": rng.choice([200, 1000, 1500]),
            "retry_on": ["5xx"],
        }
        tries = [[rng.choice(outcomes), rng.randrange(0, 2000)] for _ in range(6)]
        run = simulate(policy, tries, random_draws(5, rng.randrange(1000)))
        bound = worst_case(policy)
        assert len(run["tries"]) <= bound["max_requests"]
        assert run["ended_at"] <= bound["latency_ms"]


def test_amplification_multiplies() -> None:
    assert amplification([3, 3, 3]) == 27
    assert amplification([4, 4, 4]) == 64  # Google SRE: 3 layers x 4 attempts
    assert amplification([3] * 5) == 243  # Amazon Builders' Library: 5 layers x 3 tries
    assert amplification([3, 3, 3], 20.0) == pytest.approx(1.2**3)
    assert amplification([1, 3], 300.0) == 3  # a budget never adds tries
    with pytest.raises(ValueError, match="at least 1 try"):
        amplification([3, 0])


def test_retry_budget() -> None:
    assert retry_budget_allows(2, 0, 0)  # min_retry_concurrency 3
    assert not retry_budget_allows(3, 10, 0)
    assert retry_budget_allows(19, 100, 0) and not retry_budget_allows(20, 100, 0)  # 20%


def test_ejection_ends_and_grows() -> None:
    responses = [[1000 * i, True] for i in range(100)] + [
        [1000 * i, False] for i in range(100, 130)
    ]
    # out at the 5th 5xx (4000 ms) for 30 s -> 34000, back at the 40000 sweep; again at
    # 44000 for 60 s -> 104000, back at the 110000 sweep; then healthy
    assert ejections(responses) == [[4000, 40_000], [44_000, 110_000]]
    assert ejections([[0, True], [5, False], [10, True]], consecutive_5xx=2) == []


def test_ejection_is_capped_by_max_ejection_time() -> None:
    responses = [[1000 * i, True] for i in range(2000)]
    got = ejections(responses, consecutive_5xx=1, interval_ms=1000, base_ejection_ms=100_000)
    durations = [back - out for out, back in got]
    assert durations[:4] == [100_000, 200_000, 300_000, 300_000]


def test_the_notebook_states_the_simulations_worst_case_numbers() -> None:
    """The notebook's hand calculation says what the reference computes for the module's policy."""
    from pathlib import Path

    text = (
        Path(__file__).resolve().parent.parent
        / "notebooks"
        / "05-service-mesh"
        / "05-service-mesh.md"
    ).read_text(encoding="utf-8")
    numbers = worst_case(MODULE)
    assert f"1 + A = **{numbers['max_requests']}**" in text
    assert f"min(3000, 4272) = **{numbers['latency_ms']} ms**" in text
    assert f"So **{numbers['tries_if_all_hang']}** tries, not 4" in text
    no_route = worst_case({**MODULE.as_dict(), "timeout_ms": None})
    assert f"4000 + 272 = {no_route['latency_ms']} ms" in text
    assert "3 × 3 × 3 = 27" in text and amplification([3, 3, 3]) == 27
    assert "3 × 4 × 3 × 4 = **144**" in text and amplification([3, 4, 3, 4]) == 144
