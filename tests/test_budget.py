"""Retry budgets and adaptive throttling, on a manual clock."""

from __future__ import annotations

import random

import pytest

from course_lib.budget import AdaptiveThrottle, RatioBudget, RetryBudget, TokenBucketBudget
from course_lib.clock import ManualClock


def test_both_budgets_speak_the_protocol() -> None:
    assert isinstance(TokenBucketBudget(), RetryBudget)
    assert isinstance(RatioBudget(), RetryBudget)


# -- token bucket ------------------------------------------------------------------------


def test_token_bucket_starts_full_and_spends_one_per_retry() -> None:
    budget = TokenBucketBudget(capacity=3.0, refill_per_request=0.1, clock=ManualClock())
    assert [budget.try_spend() for _ in range(4)] == [True, True, True, False]
    assert budget.tokens == pytest.approx(0.0)
    assert budget.can_retry() is False


def test_token_bucket_requests_refill_a_fraction() -> None:
    budget = TokenBucketBudget(capacity=1.0, refill_per_request=0.1, clock=ManualClock())
    assert budget.try_spend()
    for _ in range(9):
        budget.record_request()
    assert not budget.can_retry(), "0.9 tokens < cost 1"
    budget.record_request()
    assert budget.can_retry(), "ten requests buy one retry: retries <= 10% of requests"
    assert budget.try_spend()


def test_token_bucket_long_run_ratio_is_refill_per_request() -> None:
    budget = TokenBucketBudget(capacity=10.0, refill_per_request=0.1, clock=ManualClock())
    retries = 0
    for _ in range(10_000):  # an outage: every request fails and wants a retry
        budget.record_request()
        retries += budget.try_spend()
    # burst of 10 plus 10% of 10 000 requests (capped bucket never overflows here)
    assert retries == pytest.approx(10 + 0.1 * 10_000, abs=1)


def test_token_bucket_time_refill_and_cap() -> None:
    clock = ManualClock()
    budget = TokenBucketBudget(
        capacity=2.0, refill_per_request=0.0, refill_per_second=0.5, clock=clock
    )
    assert budget.try_spend() and budget.try_spend() and not budget.try_spend()
    clock.advance(1.0)
    assert not budget.can_retry(), "0.5 tokens after 1 s"
    clock.advance(1.0)
    assert budget.try_spend()
    clock.advance(1000.0)
    budget.can_retry()
    assert budget.tokens == 2.0, "never more than capacity"


def test_token_bucket_explicit_now_for_simulations() -> None:
    budget = TokenBucketBudget(capacity=1.0, refill_per_request=0.0, refill_per_second=1.0)
    assert budget.try_spend(now=5.0)
    assert not budget.try_spend(now=5.5)
    assert budget.try_spend(now=6.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"capacity": 0}, r"^capacity must be"),
        ({"refill_per_request": -0.1}, r"^refill_per_request must be"),
        ({"refill_per_second": -1}, r"^refill_per_second must be"),
        ({"retry_cost": 0}, r"^retry_cost must be"),
        ({"capacity": 1.0, "retry_cost": 2.0}, r"^retry_cost must be in \(0, 1\]"),
        ({"refill_per_request": 0.0}, r"never refill"),
    ],
)
def test_token_bucket_bad_config(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TokenBucketBudget(**kwargs)


# -- ratio (Google SRE) -------------------------------------------------------------------


def test_ratio_budget_allows_retries_below_ten_percent_of_requests() -> None:
    clock = ManualClock()
    budget = RatioBudget(ratio=0.1, window=120.0, clock=clock)
    assert not budget.can_retry(), "no requests yet: 0 < 0.1 * 0 is false"
    for _ in range(30):
        budget.record_request()
    granted = sum(budget.try_spend() for _ in range(10))
    assert granted == 3, "retries < 10% of 30 requests -> 3 retries"
    assert budget.counts() == (30, 3)


def test_ratio_budget_forgets_outside_the_window() -> None:
    clock = ManualClock()
    budget = RatioBudget(ratio=0.5, window=10.0, clock=clock)
    budget.record_request()
    budget.record_request()
    assert budget.try_spend() and not budget.try_spend()
    clock.advance(10.0)  # exactly one window later: the old events fall out
    assert budget.counts() == (0, 0)
    budget.record_request()
    budget.record_request()
    assert budget.try_spend()


def test_ratio_budget_floor_lets_a_quiet_client_retry() -> None:
    budget = RatioBudget(ratio=0.1, window=10.0, min_retries_per_second=0.2, clock=ManualClock())
    # floor: 0.2/s * 10 s = 2 retries even with no requests
    assert [budget.try_spend() for _ in range(3)] == [True, True, False]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ratio": 0}, r"^ratio must be in \(0, 1\]"),
        ({"ratio": 1.5}, r"^ratio must be in \(0, 1\]"),
        ({"window": 0}, r"^window must be"),
        ({"min_retries_per_second": -1}, r"^min_retries_per_second must be"),
    ],
)
def test_ratio_budget_bad_config(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RatioBudget(**kwargs)


# -- adaptive throttling (Google SRE "Handling Overload") ---------------------------------


def test_throttle_probability_formula() -> None:
    clock = ManualClock()
    throttle = AdaptiveThrottle(k=2.0, window=120.0, clock=clock, rng=random.Random(0))
    for _ in range(100):
        throttle.allow()
        throttle.record_accept()
    assert throttle.rejection_probability() == 0.0, "healthy backend: never reject locally"
    throttle = AdaptiveThrottle(k=2.0, window=120.0, clock=clock, rng=random.Random(0))
    for i in range(100):
        assert throttle.allow() or i > 0
        if i < 10:
            throttle.record_accept()
    # requests 100, accepts 10: (100 - 2*10) / 101
    assert throttle.rejection_probability() == pytest.approx(80 / 101)


def test_throttle_sheds_about_the_predicted_share() -> None:
    throttle = AdaptiveThrottle(k=2.0, window=1e9, clock=ManualClock(), rng=random.Random(1))
    for _ in range(1000):  # backend accepted 10% of a long history
        throttle.allow()
    for _ in range(100):
        throttle.record_accept()
    p = throttle.rejection_probability()
    n = 2000
    rejected = sum(not throttle.allow() for _ in range(n))
    # p drifts up slightly as requests are added; bound it using both ends
    p_end = throttle.rejection_probability()
    sigma = (max(p, p_end) * (1 - min(p, p_end)) / n) ** 0.5
    assert min(p, p_end) - 5 * sigma <= rejected / n <= max(p, p_end) + 5 * sigma


def test_throttle_window_forgets_the_outage() -> None:
    clock = ManualClock()
    throttle = AdaptiveThrottle(window=120.0, clock=clock, rng=random.Random(0))
    for _ in range(50):
        throttle.allow()
    assert throttle.rejection_probability() > 0.9
    clock.advance(120.0)
    assert throttle.rejection_probability() == 0.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"k": 0.5}, r"^k must be"), ({"window": -1}, r"^window must be")],
)
def test_throttle_bad_config(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AdaptiveThrottle(**kwargs)


@pytest.mark.parametrize(
    ("budget", "settings"),
    [
        (TokenBucketBudget, ("capacity", "refill_per_request", "refill_per_second", "retry_cost")),
        (RatioBudget, ("ratio", "window", "min_retries_per_second")),
        (AdaptiveThrottle, ("k", "window")),
    ],
)
def test_settings_are_keyword_only_and_read_only(budget: type, settings: tuple[str, ...]) -> None:
    with pytest.raises(TypeError):
        budget(1.0)
    instance = budget()
    for setting in settings:
        getattr(instance, setting)
        with pytest.raises(AttributeError):
            setattr(instance, setting, 1.0)
