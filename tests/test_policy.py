"""Policies: the exact adaptive rule, fixed and exponential, jitter bounds, validation."""

from __future__ import annotations

import random

import pytest

from progress_client import AdaptivePolicy, ExponentialPolicy, FixedPolicy, Policy


def test_adaptive_default_schedule_is_exact() -> None:
    p = AdaptivePolicy()
    assert [p.delay(n) for n in range(9)] == [3, 4, 5, 6, 7, 8, 8, 8, 8]


def test_adaptive_custom() -> None:
    p = AdaptivePolicy(initial=0.3, step=0.1, maximum=0.8)
    assert [round(p.delay(n), 9) for n in range(8)] == [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.8, 0.8]


def test_fixed_and_exponential() -> None:
    assert [FixedPolicy(2.5).delay(n) for n in range(3)] == [2.5, 2.5, 2.5]
    e = ExponentialPolicy(initial=1, factor=2, maximum=30)
    assert [e.delay(n) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    # A very long quiet phase cannot overflow.
    assert e.delay(10**9) == 30


def test_policies_are_frozen_shareable_and_satisfy_protocol() -> None:
    for p in (AdaptivePolicy(), FixedPolicy(1), ExponentialPolicy()):
        assert isinstance(p, Policy)
        with pytest.raises(AttributeError):
            p.initial = 9  # type: ignore[misc,union-attr]
        lo, hi = p.bounds
        assert lo <= p.delay(0) <= hi
    assert AdaptivePolicy() == AdaptivePolicy()
    assert hash(AdaptivePolicy()) == hash(AdaptivePolicy())


def test_jitter_is_off_by_default_and_only_shortens() -> None:
    rng = random.Random(7)
    p = AdaptivePolicy(jitter=0.5, rng=rng)
    lo, hi = p.bounds
    for n in range(200):
        d = p.delay(n % 10)
        base = min(3 + n % 10, 8)
        assert base * 0.5 <= d <= base
        assert lo <= d <= hi
    # The same seed gives the same delays: jitter is reproducible.
    a = [AdaptivePolicy(jitter=0.2, rng=random.Random(1)).delay(3) for _ in range(3)]
    assert len(set(a)) == 1


@pytest.mark.parametrize(
    "make",
    [
        lambda: AdaptivePolicy(initial=-1),
        lambda: AdaptivePolicy(initial=5, maximum=4),
        lambda: AdaptivePolicy(step=float("nan")),
        lambda: AdaptivePolicy(jitter=1.0),
        lambda: FixedPolicy(float("inf")),
        lambda: ExponentialPolicy(factor=0.5),
    ],
)
def test_invalid_policies_are_refused(make: object) -> None:
    with pytest.raises(ValueError):
        make()  # type: ignore[operator]


def test_names() -> None:
    assert AdaptivePolicy().name == "adaptive(3,+1,8)"
    assert FixedPolicy(1).name == "fixed(1)"
    assert ExponentialPolicy(1, 2, 30).name == "exponential(1,x2,30)"
