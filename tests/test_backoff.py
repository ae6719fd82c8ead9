"""Backoff schedules: formulas, bounds, seeded statistics and config errors."""

from __future__ import annotations

import math
import random
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from course_lib.backoff import (
    Backoff,
    DecorrelatedJitter,
    EqualJitter,
    FullJitter,
    NoJitter,
    capped_exponential,
    sample_delays,
)

N = 10_000
# A seeded sample mean lies within 5 standard errors of the true mean (p ~ 6e-7 of a miss,
# and with fixed seeds the draw is the same every run anyway).
Z = 5.0


def test_seed_defaults_are_seconds() -> None:
    full = FullJitter()
    assert (full.base, full.cap) == (0.1, 3.0), "seed: base 100 ms = 0.1 s, cap 3000 ms = 3.0 s"


def test_no_jitter_is_capped_exponential_starting_at_base_times_two() -> None:
    backoff = NoJitter(base=0.1, cap=3.0)
    rng = random.Random(0)
    got = [backoff.delay(n, rng) for n in range(1, 7)]
    assert got == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.0, 3.0]), (
        "after failure n the delay is min(cap, base * 2**n): the first retry waits base*2"
    )


@pytest.mark.parametrize("attempt", [1, 2, 3, 4, 5, 10])
def test_full_jitter_stays_in_window_and_mean_is_half_the_bound(attempt: int) -> None:
    backoff = FullJitter(base=0.1, cap=3.0)
    bound = min(3.0, 0.1 * 2**attempt)
    assert backoff.bound(attempt) == pytest.approx(bound)
    rng = random.Random(1000 + attempt)
    draws = [backoff.delay(attempt, rng) for _ in range(N)]
    assert all(0.0 <= d < bound for d in draws)
    # U(0, b): mean b/2, variance b^2/12 -> standard error b / sqrt(12 N)
    tolerance = Z * bound / math.sqrt(12 * N)
    assert abs(statistics.fmean(draws) - bound / 2) < tolerance
    # and it is really spread over the window: variance b^2/12; for U(0, b) the fourth
    # central moment is b^4/80, so Var(s^2) ~ (b^4/80 - b^4/144) / N = b^4 / (180 N)
    variance_tolerance = Z * bound**2 / math.sqrt(180 * N)
    assert abs(statistics.pvariance(draws) - bound**2 / 12) < variance_tolerance


@pytest.mark.parametrize("attempt", [1, 3, 6])
def test_equal_jitter_keeps_half_and_randomises_half(attempt: int) -> None:
    backoff = EqualJitter(base=0.1, cap=3.0)
    t = min(3.0, 0.1 * 2**attempt)
    rng = random.Random(2000 + attempt)
    draws = [backoff.delay(attempt, rng) for _ in range(N)]
    assert all(t / 2 <= d <= t for d in draws)
    # t/2 + U(0, t/2): mean 3t/4, standard error (t/2) / sqrt(12 N)
    tolerance = Z * (t / 2) / math.sqrt(12 * N)
    assert abs(statistics.fmean(draws) - 0.75 * t) < tolerance


def test_decorrelated_jitter_grows_from_previous_and_respects_cap() -> None:
    backoff = DecorrelatedJitter(base=0.1, cap=3.0)
    rng = random.Random(3)
    first = [backoff.delay(1, rng) for _ in range(N)]
    # previous starts at base: U(base, 3 base) -> mean 2 base, standard error 2 base / sqrt(12 N)
    assert all(0.1 <= d <= 0.3 for d in first)
    assert abs(statistics.fmean(first) - 0.2) < Z * 0.2 / math.sqrt(12 * N)
    after_one_second = [backoff.delay(2, rng, previous=1.0) for _ in range(1000)]
    assert all(0.1 <= d <= 3.0 for d in after_one_second)
    assert max(after_one_second) > 2.5, "U(0.1, 3.0) reaches near the top in 1000 draws"
    after_big = [backoff.delay(5, rng, previous=2.5) for _ in range(1000)]
    assert max(after_big) == 3.0, "min(cap, U(base, 7.5)) hits the cap"
    assert backoff.bound(1) == pytest.approx(0.3)
    assert backoff.bound(10) == 3.0


def test_sample_delays_threads_previous_and_is_reproducible() -> None:
    backoff = DecorrelatedJitter(base=0.1, cap=3.0)
    a = sample_delays(backoff, 8, random.Random(42))
    b = sample_delays(backoff, 8, random.Random(42))
    assert a == b, "same seed, same schedule"
    prev = 0.1
    for d in a:
        assert 0.1 <= d <= min(3.0, 3 * prev) + 1e-12
        prev = d
    assert sample_delays(NoJitter(base=0.1, cap=3.0), 0, random.Random(0)) == []


def test_huge_attempt_does_not_overflow() -> None:
    rng = random.Random(0)
    for backoff in (NoJitter(), FullJitter(), EqualJitter(), DecorrelatedJitter()):
        assert 0.0 <= backoff.delay(5000, rng) <= 3.0
        assert backoff.bound(5000) == 3.0
    assert capped_exponential(0.1, 3.0, 1023) == 3.0


def test_strategies_satisfy_the_protocol_and_compare_by_value() -> None:
    for cls in (NoJitter, FullJitter, EqualJitter, DecorrelatedJitter):
        assert isinstance(cls(), Backoff)
    assert FullJitter(base=0.1, cap=3.0) == FullJitter(base=0.1, cap=3.0)
    assert FullJitter(base=0.1, cap=3.0) != NoJitter(base=0.1, cap=3.0)
    assert len({FullJitter(), FullJitter()}) == 1
    assert repr(FullJitter()) == "FullJitter(base=0.1, cap=3.0)"


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"base": 0}, "base"),
        ({"base": -1}, "base"),
        ({"base": float("nan")}, "base"),
        ({"base": "0.1"}, "base"),
        ({"base": 1.0, "cap": 0.5}, "cap"),
        ({"cap": float("inf")}, "cap"),
    ],
)
def test_bad_config_names_the_parameter(kwargs: dict[str, object], param: str) -> None:
    with pytest.raises(ValueError, match=rf"^{param} must be"):
        FullJitter(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("attempt", [0, -1, 1.5, True])
def test_attempt_must_be_a_positive_int(attempt: object) -> None:
    with pytest.raises(ValueError, match="attempt must be an integer >= 1"):
        FullJitter().delay(attempt, random.Random(0))  # type: ignore[arg-type]


@given(
    base=st.floats(min_value=1e-4, max_value=10.0),
    factor=st.floats(min_value=1.0, max_value=1e4),
    attempt=st.integers(min_value=1, max_value=2000),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_every_strategy_stays_within_its_bound(
    base: float, factor: float, attempt: int, seed: int
) -> None:
    cap = base * factor
    rng = random.Random(seed)
    for backoff in (
        NoJitter(base=base, cap=cap),
        FullJitter(base=base, cap=cap),
        EqualJitter(base=base, cap=cap),
    ):
        d = backoff.delay(attempt, rng)
        assert 0.0 <= d <= backoff.bound(attempt) <= cap
    decorrelated = DecorrelatedJitter(base=base, cap=cap)
    d = decorrelated.delay(attempt, rng, previous=rng.uniform(base, cap))
    assert base <= d <= cap


@pytest.mark.parametrize("strategy", [NoJitter, FullJitter, EqualJitter, DecorrelatedJitter])
def test_settings_are_keyword_only_and_read_only(strategy: type[NoJitter]) -> None:
    with pytest.raises(TypeError):
        strategy(0.1, 3.0)  # type: ignore[misc]
    backoff = strategy(base=0.2, cap=5.0)
    assert (backoff.base, backoff.cap) == (0.2, 5.0)
    for setting in ("base", "cap"):
        with pytest.raises(AttributeError):
            setattr(backoff, setting, 1.0)
