"""Notebook 05's answers must not lean on course_lib; worst_case is the simulation's maximum.

* :func:`course_lib.checks.kit.require_no_course_lib` refuses an answer that imports or
  uses a ``course_lib`` module absent in the grading sandbox (the visible checks of 05
  call it, so a student learns it before grading), passes the free modules and proxies;
  ``autograders.policy`` takes its free list from the kit (one list).
* :func:`course_lib.mesh.worst_case` equals the largest outcome of
  :func:`course_lib.mesh.simulate` over every small upstream behaviour and draw, with
  every kind of ``retry_on`` (a hang is retried only by 5xx, gateway-error, reset).
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from autograders import policy
from course_lib import mesh
from course_lib.checks import kit
from course_lib.checks import mesh as checks
from course_lib.checks.kit import CheckFailed, require_no_course_lib


def _define(source: str, name: str) -> Any:
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(source, "<answer>", "exec"), namespace)  # noqa: S102 - test answers
    return namespace[name]


def test_the_free_list_is_the_policys() -> None:
    assert policy.INFRASTRUCTURE_MODULES is kit.FREE_MODULES
    for name in kit.FREE_MODULES:
        assert policy.is_free(f"course_lib.{name}")
    assert policy.is_reference("course_lib.checks.mesh") and policy.is_reference("course_lib.mesh")


@pytest.mark.parametrize(
    "source",
    [
        # the trial student's answer: the keys imported from the checks
        "from course_lib.checks.mesh import CONCERNS\n"
        "def layer_owners():\n    return dict.fromkeys(CONCERNS, 'app')\n",
        "def layer_owners():\n"
        "    from course_lib.checks.mesh import CONCERNS\n    return dict.fromkeys(CONCERNS)\n",
        "import course_lib.mesh as m\ndef layer_owners():\n    return m.worst_case({})\n",
        "from course_lib.mesh import should_retry as layer_owners\n",
        "from course_lib.mesh import MeshPolicy\nclass layer_owners(MeshPolicy):\n    pass\n",
        "from course_lib.mesh import RETRY_ON_CONDITIONS as C\n"
        "def outer():\n    conditions = C\n"
        "    def layer_owners():\n        return conditions\n    return layer_owners\n"
        "layer_owners = outer()\n",
    ],
    ids=["global-tuple", "import-inside", "module", "reference-function", "subclass", "closure"],
)
def test_an_answer_using_course_lib_is_refused(source: str) -> None:
    answer = _define(source, "layer_owners")
    with pytest.raises(CheckFailed, match="must not use course_lib.*not there when"):
        require_no_course_lib(answer, "layer_owners")
    with pytest.raises(CheckFailed, match="must not use course_lib"):
        checks.check_layer_owners(answer)


def test_free_modules_and_own_code_pass() -> None:
    source = (
        "from course_lib.errors import CircuitOpenError\n"
        "import yaml, re\n"
        "KEYS = ()\n"
        "def helper():\n    return 1\n"
        "class Mine:\n"
        "    def go(self):\n"
        "        return helper(), KEYS, re.compile('x'), yaml, CircuitOpenError\n"
        "def layer_owners():\n    return Mine().go()\n"
    )
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(source, "<answer>", "exec"), namespace)  # noqa: S102 - test answers
    for name in ("layer_owners", "Mine", "helper"):
        require_no_course_lib(namespace[name], name)


def test_something_that_is_not_a_function_or_class_is_not_inspected() -> None:
    class Proxy:
        def __getattribute__(self, name: str) -> Any:
            raise AssertionError(f"asked for {name}")

    require_no_course_lib(Proxy(), "proxy")


def _largest(policy_: dict[str, Any]) -> dict[str, Any]:
    """The largest request count and end time simulate gives over small behaviours."""
    attempts = policy_["attempts"]
    options = [["hang", 0]] + [
        [outcome, ms] for outcome in ("503", "409", "connect-failure", "200") for ms in (0, 4, 11)
    ]
    ceilings = [(0, mesh.backoff_ceiling_ms(n) - 1) for n in range(1, attempts + 1)]
    most, latest = 0, 0
    for tries in itertools.product(options, repeat=attempts + 1):
        for draws in itertools.product(*ceilings):
            run = mesh.simulate(policy_, list(tries), list(draws))
            if run["ended_at"] is not None:
                most, latest = max(most, len(run["tries"])), max(latest, run["ended_at"])
    hung = mesh.simulate(policy_, [["hang", 0]] * (attempts + 1), [0] * attempts)
    return {
        "max_requests": most,
        "latency_ms": latest,
        "tries_if_all_hang": None if hung["ended_at"] is None else len(hung["tries"]),
    }


@pytest.mark.parametrize(
    "retry_on", [[], ["5xx"], ["connect-failure"], ["reset"], ["retriable-4xx"]], ids=str
)
def test_worst_case_is_what_the_simulation_can_reach(retry_on: list[str]) -> None:
    for timeout, per_try, attempts in itertools.product((20, 45), (1, 5, 12), (0, 1, 2)):
        policy_ = {
            "timeout_ms": timeout,
            "attempts": attempts,
            "per_try_timeout_ms": per_try,
            "retry_on": retry_on,
        }
        assert mesh.worst_case(policy_) == _largest(policy_), policy_
