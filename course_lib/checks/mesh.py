"""Visible checks for notebook 05, "The service mesh's retry and timeout policy".

One check per exercise, each on one fixed scenario from the module's
``payment-service`` policy, comparing the student's function with the course's
reference :mod:`course_lib.mesh`; each *problem* function below takes the
reference as an argument, so the hidden graders (``autograders.graders.mesh``)
run the same comparison against a pristine copy on many generated scenarios:

1. ``read_policy(text)`` -> :func:`check_read_policy`
2. ``should_retry(outcome, retry_on)`` -> :func:`check_should_retry`
3. ``backoff_ceiling_ms(retry_number)`` -> :func:`check_backoff`
4. ``simulate(policy, tries, draws)`` -> :func:`check_simulate`
5. ``apply_headers(policy, headers)`` -> :func:`check_headers`
6. ``worst_case(policy)`` -> :func:`check_worst_case`
7. ``amplification(tries_per_layer, budget_percent)`` -> :func:`check_amplification`
8. ``ejections(responses, ...)`` -> :func:`check_ejections`
9. ``layer_owners()`` (a dict: concern -> ``"mesh"`` or ``"app"``) -> :func:`check_layer_owners`

Every value read from the student's code goes through :func:`plain` first, and every
check first refuses an answer that uses a ``course_lib`` module absent when the notebook
is graded (:func:`~course_lib.checks.kit.require_no_course_lib`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any, Final

from course_lib import mesh
from course_lib.checks.kit import (
    CheckFailed,
    call,
    fail,
    plain,
    require,
    require_no_course_lib,
)

__all__ = [
    "CONCERNS",
    "amplification_problem",
    "backoff_problem",
    "check_amplification",
    "check_backoff",
    "check_ejections",
    "check_headers",
    "check_layer_owners",
    "check_owner_shape",
    "check_read_policy",
    "check_should_retry",
    "check_simulate",
    "check_worst_case",
    "describe_policy",
    "ejections_problem",
    "headers_problem",
    "owner_shape_problem",
    "read_policy_problem",
    "should_retry_problem",
    "simulate_problem",
    "worst_case_problem",
]

POLICY_KEYS: Final = ("timeout_ms", "attempts", "per_try_timeout_ms", "retry_on")

CONCERNS: Final[tuple[str, ...]] = (
    "retry an idempotent GET that got a 503 or a failed connection",
    "decide whether POST /payments may be sent twice (idempotency key)",
    "a per-try timeout and an overall timeout on every call to payment-service",
    "answer with a cached checkout or 'queued for later' when payments are down",
    "stop sending traffic to one payment-service pod that keeps returning 5xx",
    "a separate worker pool for payment calls inside order-service",
    "cap retries across all callers with a retry budget",
)
"""The concerns of exercise 9, each owned by the ``"mesh"`` (sidecar) or the ``"app"``."""


def _ms(value: int | None) -> str:
    return "none" if value is None else f"{value} ms"


def describe_policy(policy: Mapping[str, Any]) -> str:
    """A policy dict in a few words: ``timeout 3000 ms, attempts 3, perTryTimeout 1000 ms, ...``."""
    retry_on = ",".join(policy["retry_on"]) or "(nothing)"
    return (
        f"timeout {_ms(policy['timeout_ms'])}, attempts {policy['attempts']}, "
        f"perTryTimeout {_ms(policy['per_try_timeout_ms'])}, retryOn {retry_on}"
    )


def _plain_policy(value: Any, what: str) -> dict[str, Any]:
    """The student's policy dict, checked to be plain data with the four keys."""
    if type(value) is not dict:
        fail(f"{what} should be a dict with the keys {', '.join(POLICY_KEYS)}, got {value!r:.80}")
    keys = [plain(k, f"a key of {what}", "text") for k in value]
    if sorted(keys) != sorted(POLICY_KEYS):
        fail(f"{what} should have exactly the keys {', '.join(POLICY_KEYS)}, got {keys}")
    out: dict[str, Any] = {}
    for key in ("timeout_ms", "per_try_timeout_ms"):
        out[key] = plain(value[key], f"{what}[{key!r}]", "whole number", none=True)
    out["attempts"] = plain(value["attempts"], f"{what}['attempts']", "whole number")
    retry_on = value["retry_on"]
    if type(retry_on) is not list:
        fail(f"{what}['retry_on'] should be a list of conditions, got {retry_on!r:.80}")
    out["retry_on"] = [plain(c, f"a condition in {what}['retry_on']", "text") for c in retry_on]
    return out


def _diff(got: Mapping[str, Any], want: Mapping[str, Any]) -> str:
    wrong = [f"{k} {got[k]!r} (expected {want[k]!r})" for k in want if got[k] != want[k]]
    return "; ".join(wrong)


# --- exercise 1: reading the VirtualService -------------------------------------------------


def _error_line(message: str) -> int:
    found = re.match(r"line (\d+):", message)
    assert found is not None, message
    return int(found.group(1))


def _numbered(text: str) -> str:
    return "\n".join(f"    {n:>2} | {line}" for n, line in enumerate(text.splitlines(), 1))


def read_policy_problem(read_policy: Any, ref: ModuleType, text: str) -> str | None:
    """``read_policy(text)`` vs the reference: the same dict, or a ValueError naming the line."""
    try:
        want: dict[str, Any] | None = ref.parse_virtual_service(text).as_dict()
        line = 0
    except ValueError as error:
        want, line = None, _error_line(str(error))
    shown = f"read_policy on this text:\n{_numbered(text)}\n"
    try:
        got = read_policy(text)
    except NotImplementedError:
        raise
    except CheckFailed:
        raise
    except ValueError as error:
        if want is not None:
            return f"{shown}raised ValueError: {error}; expected the policy {want}"
        if not re.search(rf"\bline {line}\b", str(error)):
            return (
                f"{shown}raised ValueError: {error}; the message should name the line of the "
                f"problem, 'line {line}'"
            )
        return None
    except Exception as error:  # noqa: BLE001 - reported
        return f"{shown}raised {type(error).__name__}: {error}; expected " + (
            f"the policy {want}" if want is not None else f"a ValueError naming line {line}"
        )
    if want is None:
        return f"{shown}returned {got!r:.120} instead of raising a ValueError naming line {line}"
    policy = _plain_policy(got, "read_policy(...)")
    if policy != want:
        return f"{shown}returned a policy with {_diff(policy, want)}"
    return None


def check_read_policy(read_policy: Any) -> None:
    """Visible check for exercise 1: the module's policy, and one misspelt field."""
    require_no_course_lib(read_policy, "read_policy")
    require(read_policy_problem(read_policy, mesh, mesh.MODULE_POLICY_YAML))
    typo = mesh.MODULE_POLICY_YAML.replace("perTryTimeout", "perTryTimout")
    require(read_policy_problem(read_policy, mesh, typo))
    print("✓ read_policy reads the module's VirtualService and names the line of a typo")


# --- exercise 2: retryOn --------------------------------------------------------------------


def should_retry_problem(
    should_retry: Any, ref: ModuleType, outcome: str, retry_on: Sequence[str]
) -> str | None:
    """``should_retry(outcome, retry_on)`` vs the reference."""
    what = f"should_retry({outcome!r}, {list(retry_on)!r})"
    got = plain(call(what, should_retry, outcome, list(retry_on)), what, "True or False")
    want = ref.should_retry(outcome, retry_on)
    if got != want:
        return f"{what} returned {got}; expected {want}"
    return None


_VISIBLE_RETRIES: Final = (
    ("503", ["5xx", "connect-failure", "refused-stream"]),
    ("404", ["5xx", "connect-failure", "refused-stream"]),
    ("per-try-timeout", ["5xx"]),
    ("500", ["gateway-error"]),
    ("409", ["retriable-4xx"]),
)


def check_should_retry(should_retry: Any) -> None:
    """Visible check for exercise 2: five outcomes, with the module's and other conditions."""
    require_no_course_lib(should_retry, "should_retry")
    for outcome, retry_on in _VISIBLE_RETRIES:
        require(should_retry_problem(should_retry, mesh, outcome, retry_on))
    print("✓ should_retry agrees with Envoy on 503, 404, a per-try timeout, 500 and 409")


# --- exercise 3: back-off -------------------------------------------------------------------


def backoff_problem(backoff_ceiling_ms: Any, ref: ModuleType, retry_number: int) -> str | None:
    """``backoff_ceiling_ms(n)`` vs the reference."""
    what = f"backoff_ceiling_ms({retry_number})"
    got = plain(call(what, backoff_ceiling_ms, retry_number), what, "whole number")
    want = ref.backoff_ceiling_ms(retry_number)
    if got != want:
        return f"{what} returned {got}; expected {want}"
    return None


def check_backoff(backoff_ceiling_ms: Any) -> None:
    """Visible check for exercise 3: the first three retries (25, 75, 175 ms)."""
    require_no_course_lib(backoff_ceiling_ms, "backoff_ceiling_ms")
    for n in (1, 2, 3):
        require(backoff_problem(backoff_ceiling_ms, mesh, n))
    print("✓ backoff_ceiling_ms gives 25, 75 and 175 ms for the first three retries")


# --- exercise 4: one request ----------------------------------------------------------------


def _describe_tries(tries: Sequence[Sequence[Any]]) -> str:
    return ", ".join("hang" if o == "hang" else f"{o} after {ms} ms" for o, ms in tries)


def _plain_result(value: Any, what: str) -> dict[str, Any]:
    if type(value) is not dict or sorted(value) != ["ended_at", "status", "tries"]:
        fail(
            f"{what} should return a dict with the keys tries, status, ended_at; got {value!r:.100}"
        )
    tries = plain(value["tries"], f"{what}['tries']")
    if type(tries) is not list:
        fail(f"{what}['tries'] should be a list of [start_ms, end_ms, outcome]")
    for item in tries:
        if type(item) not in (list, tuple) or len(item) != 3:
            fail(f"{what}['tries'] should hold [start_ms, end_ms, outcome] items, got {item!r:.60}")
    return {
        "tries": [list(item) for item in tries],
        "status": plain(value["status"], f"{what}['status']", "whole number", none=True),
        "ended_at": plain(value["ended_at"], f"{what}['ended_at']", "whole number", none=True),
    }


def simulate_problem(
    simulate: Any,
    ref: ModuleType,
    policy: Mapping[str, Any],
    tries: Sequence[Sequence[Any]],
    draws: Sequence[int],
) -> str | None:
    """``simulate(policy, tries, draws)`` vs the reference: the first try that differs."""
    try:
        want = ref.simulate(policy, tries, draws)
    except ValueError:
        return None  # not a complete scenario (a shrunk one can run out of tries)
    if want["ended_at"] is None:
        return None  # a hang that no timeout ends: the exercise promises there is none
    scenario = (
        f"with {describe_policy(policy)}, upstream tries {_describe_tries(tries)} and "
        f"back-off draws {list(draws)}"
    )
    got = _plain_result(
        call("simulate(...)", simulate, dict(policy), [list(t) for t in tries], list(draws)),
        "simulate(...)",
    )
    for i, (g, w) in enumerate(zip(got["tries"], want["tries"], strict=False)):
        if g != w:
            return f"{scenario}: try {i + 1} was {g}; expected {w} (whole timeline {want['tries']})"
    if len(got["tries"]) != len(want["tries"]):
        return (
            f"{scenario}: your timeline has {len(got['tries'])} tries, {got['tries']}; "
            f"expected {len(want['tries'])}, {want['tries']}"
        )
    for key in ("status", "ended_at"):
        if got[key] != want[key]:
            return f"{scenario}: {key} was {got[key]!r}; expected {want[key]!r}"
    return None


def check_simulate(simulate: Any) -> None:
    """Visible check for exercise 4: the module's policy when payment-service hangs."""
    require_no_course_lib(simulate, "simulate")
    policy = mesh.parse_virtual_service(mesh.MODULE_POLICY_YAML).as_dict()
    require(simulate_problem(simulate, mesh, policy, [["hang", 0]] * 4, [7, 50, 100]))
    require(
        simulate_problem(simulate, mesh, policy, [["503", 40], ["404", 15], ["200", 5]], [30, 0])
    )
    print("✓ simulate replays the module's policy: three hung tries end at the 3000 ms deadline")


# --- exercise 5: headers --------------------------------------------------------------------


def headers_problem(
    apply_headers: Any, ref: ModuleType, policy: Mapping[str, Any], headers: Mapping[str, str]
) -> str | None:
    """``apply_headers(policy, headers)`` vs the reference (``retry_on`` compared as a set)."""
    what = f"apply_headers(<{describe_policy(policy)}>, {dict(headers)!r})"
    want = ref.apply_headers(policy, headers).as_dict()
    got = _plain_policy(call(what, apply_headers, dict(policy), dict(headers)), what)
    got["retry_on"], want["retry_on"] = sorted(got["retry_on"]), sorted(want["retry_on"])
    if got != want:
        return f"{what} returned a policy with {_diff(got, want)}"
    return None


def check_headers(apply_headers: Any) -> None:
    """Visible check for exercise 5: two headers on the module's policy."""
    require_no_course_lib(apply_headers, "apply_headers")
    policy = mesh.parse_virtual_service(mesh.MODULE_POLICY_YAML).as_dict()
    headers = {"x-envoy-max-retries": "1", "x-envoy-upstream-rq-per-try-timeout-ms": "5000"}
    require(headers_problem(apply_headers, mesh, policy, headers))
    print("✓ apply_headers keeps the larger retry count and ignores a per-try timeout over 3000 ms")


# --- exercise 6: the worst case -------------------------------------------------------------


def worst_case_problem(worst_case: Any, ref: ModuleType, policy: Mapping[str, Any]) -> str | None:
    """``worst_case(policy)`` vs the reference."""
    what = f"worst_case(<{describe_policy(policy)}>)"
    got = call(what, worst_case, dict(policy))
    keys = ["latency_ms", "max_requests", "tries_if_all_hang"]
    if type(got) is not dict or sorted(got) != keys:
        fail(f"{what} should return a dict with the keys {', '.join(keys)}; got {got!r:.100}")
    values = {k: plain(got[k], f"{what}[{k!r}]", "whole number", none=True) for k in keys}
    want = ref.worst_case(policy)
    if values != want:
        return f"{what} returned {_diff(values, want)}"
    return None


def check_worst_case(worst_case: Any) -> None:
    """Visible check for exercise 6: the module's policy (4 requests, 3000 ms, 3 tries).

    Then the same policy retrying only failed connections (a hung try is not retried),
    and retrying nothing.
    """
    require_no_course_lib(worst_case, "worst_case")
    policy = mesh.parse_virtual_service(mesh.MODULE_POLICY_YAML).as_dict()
    require(worst_case_problem(worst_case, mesh, policy))
    for retry_on in (["connect-failure"], []):
        require(worst_case_problem(worst_case, mesh, {**policy, "retry_on": retry_on}))
    print(
        "✓ worst_case of the module's policy: 4 requests at most, 3000 ms, 3 tries if all "
        "hang; 1 hung try when retryOn is connect-failure, 1 request when it is empty"
    )


# --- exercise 7: amplification --------------------------------------------------------------


def amplification_problem(
    amplification: Any, ref: ModuleType, layers: Sequence[int], budget: float | None
) -> str | None:
    """``amplification(layers, budget)`` vs the reference (floats to 1e-9, relative)."""
    what = f"amplification({list(layers)}, budget_percent={budget!r})"
    got = plain(call(what, amplification, list(layers), budget), what, "number")
    want = ref.amplification(layers, budget)
    if isinstance(got, bool) or not math.isclose(got, want, rel_tol=1e-9):
        return f"{what} returned {got}; expected {want:g}"
    return None


def check_amplification(amplification: Any) -> None:
    """Visible check for exercise 7: 3 x 3 x 3, and with a 20% budget."""
    require_no_course_lib(amplification, "amplification")
    require(amplification_problem(amplification, mesh, [3, 3, 3], None))
    require(amplification_problem(amplification, mesh, [3, 3, 3], 20.0))
    print("✓ amplification: 27 requests for 3 layers of 3 tries; 1.728 with a 20% budget")


# --- exercise 8: outlier ejection -----------------------------------------------------------


def _describe_responses(responses: Sequence[Sequence[Any]]) -> str:
    return ", ".join(f"{t} ms {'5xx' if bad else 'ok'}" for t, bad in responses)


def ejections_problem(
    ejections: Any,
    ref: ModuleType,
    responses: Sequence[Sequence[Any]],
    settings: Mapping[str, int],
) -> str | None:
    """``ejections(responses, **settings)`` vs the reference."""
    what = f"ejections(<{len(responses)} responses>, {dict(settings)})"
    got = plain(
        call(what, ejections, [list(r) for r in responses], **settings), what, "plain value"
    )
    want = ref.ejections(responses, **settings)
    if (
        type(got) not in (list, tuple)
        or [list(x) if type(x) in (list, tuple) else x for x in got] != want
    ):
        return (
            f"{what} with responses {_describe_responses(responses)} returned {got!r:.200}; "
            f"expected {want}"
        )
    return None


def check_ejections(ejections: Any) -> None:
    """Visible check for exercise 8: a host that fails for 100 s, one request a second."""
    require_no_course_lib(ejections, "ejections")
    responses = [[1000 * i, True] for i in range(100)] + [
        [1000 * i, False] for i in range(100, 130)
    ]
    require(ejections_problem(ejections, mesh, responses, {}))
    print("✓ ejections: out at 4000 ms, back at 40000 ms; out again at 44000 ms for 60 s")


# --- exercise 9: who owns what --------------------------------------------------------------


def owner_shape_problem(owner: Any) -> str | None:
    """None if ``owner`` answers every concern with ``"mesh"`` or ``"app"``, else the problem."""
    if type(owner) is not dict:
        return (
            f"layer_owners() should return a dict (concern -> 'mesh' or 'app'), got {owner!r:.80}"
        )
    keys = [plain(k, "a key of layer_owners()", "text") for k in owner]
    missing = [c for c in CONCERNS if c not in keys]
    extra = [k for k in keys if k not in CONCERNS]
    if missing or extra:
        return (
            f"layer_owners() should have exactly the concerns listed; missing {missing}, "
            f"unknown {extra}"
        )
    for concern in CONCERNS:
        answer = plain(owner[concern], f"layer_owners()[{concern!r}]", "text")
        if answer not in ("mesh", "app"):
            return f"layer_owners()[{concern!r}] should be 'mesh' or 'app', got {answer!r}"
    return None


def check_owner_shape(owner: Any) -> None:
    """Visible check for exercise 9: every concern answered with ``"mesh"`` or ``"app"``."""
    require(owner_shape_problem(owner))
    print(f"✓ layer_owners() answers all {len(CONCERNS)} concerns with 'mesh' or 'app'")


def check_layer_owners(layer_owners: Any) -> None:
    """Visible check for exercise 9: no ``course_lib`` inside; every concern answered."""
    require_no_course_lib(layer_owners, "layer_owners")
    check_owner_shape(call("layer_owners()", layer_owners))
