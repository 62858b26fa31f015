"""Polling policies: how long to wait before the next request. Frozen, pure, shareable.

A policy answers one question: given ``n`` consecutive unchanged responses, what is the next
delay? Policies hold no per-wait state (the engine counts ``n``), so one instance can serve any
number of concurrent waits, like urllib3's ``Retry``.

The adaptive rule (the write-up's fix): after a change, or the first response, wait ``initial``;
after the n-th unchanged response in a row wait ``min(initial + step * n, maximum)``. A constant
status gives 3, 4, 5, 6, 7, 8, 8, ... seconds; a change brings it back to 3.

Jitter is off by default. With ``jitter=j`` the delay is drawn uniformly from
``[d * (1 - j), d]``: it only ever shortens a delay, so ``maximum`` stays a hard bound, and the
``random.Random`` is injectable for reproducible tests.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

__all__ = ["AdaptivePolicy", "ExponentialPolicy", "FixedPolicy", "Policy"]


@runtime_checkable
class Policy(Protocol):
    """What the engine needs of a policy."""

    def delay(self, unchanged: int) -> float:
        """The delay before the next request after ``unchanged`` unchanged responses in a row
        (0 after a change or the first response)."""
        ...

    @property
    def bounds(self) -> tuple[float, float]:
        """The smallest and largest delay this policy can return."""
        ...

    @property
    def name(self) -> str:
        """A short label for reports and tables, e.g. ``adaptive(3,+1,8)``."""
        ...


def _check_jitter(jitter: float) -> None:
    if not (0.0 <= jitter < 1.0) or math.isnan(jitter):
        raise ValueError(f"jitter must be in [0, 1), got {jitter!r}")


def _check_delay(label: str, value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{label} must be a finite number >= 0, got {value!r}")


def _jittered(delay: float, jitter: float, rng: random.Random | None) -> float:
    if jitter == 0.0 or delay == 0.0:
        return delay
    r = rng if rng is not None else random.Random()
    return delay * (1.0 - jitter * r.random())


def _fmt(x: float) -> str:
    return f"{x:g}"


@dataclass(frozen=True)
class AdaptivePolicy:
    """Start at ``initial``; each unchanged response adds ``step``; never above ``maximum``."""

    initial: float = 3.0
    step: float = 1.0
    maximum: float = 8.0
    jitter: float = 0.0
    rng: random.Random | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_delay("initial", self.initial)
        _check_delay("step", self.step)
        _check_delay("maximum", self.maximum)
        if self.maximum < self.initial:
            raise ValueError(f"maximum ({self.maximum}) must be >= initial ({self.initial})")
        _check_jitter(self.jitter)

    def delay(self, unchanged: int) -> float:
        d = min(self.initial + self.step * max(0, unchanged), self.maximum)
        return _jittered(d, self.jitter, self.rng)

    @property
    def bounds(self) -> tuple[float, float]:
        return (self.initial * (1.0 - self.jitter), self.maximum)

    @property
    def name(self) -> str:
        return f"adaptive({_fmt(self.initial)},+{_fmt(self.step)},{_fmt(self.maximum)})"


@dataclass(frozen=True)
class FixedPolicy:
    """The same delay every time: the baseline that adaptive polling is measured against."""

    interval: float = 1.0
    jitter: float = 0.0
    rng: random.Random | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_delay("interval", self.interval)
        _check_jitter(self.jitter)

    def delay(self, unchanged: int) -> float:
        return _jittered(self.interval, self.jitter, self.rng)

    @property
    def bounds(self) -> tuple[float, float]:
        return (self.interval * (1.0 - self.jitter), self.interval)

    @property
    def name(self) -> str:
        return f"fixed({_fmt(self.interval)})"


@dataclass(frozen=True)
class ExponentialPolicy:
    """``initial * factor ** n`` after n unchanged responses, capped at ``maximum``; a change
    resets it to ``initial``."""

    initial: float = 1.0
    factor: float = 2.0
    maximum: float = 30.0
    jitter: float = 0.0
    rng: random.Random | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        _check_delay("initial", self.initial)
        _check_delay("maximum", self.maximum)
        if not math.isfinite(self.factor) or self.factor < 1.0:
            raise ValueError(f"factor must be a finite number >= 1, got {self.factor!r}")
        if self.maximum < self.initial:
            raise ValueError(f"maximum ({self.maximum}) must be >= initial ({self.initial})")
        _check_jitter(self.jitter)

    def delay(self, unchanged: int) -> float:
        n = max(0, unchanged)
        # Compare in log space so a long quiet phase cannot overflow factor ** n.
        if self.initial == 0.0:
            d = 0.0
        elif self.factor == 1.0 or n * math.log(self.factor) < math.log(
            self.maximum / self.initial
        ):
            d = min(self.initial * self.factor**n, self.maximum)
        else:
            d = self.maximum
        return _jittered(d, self.jitter, self.rng)

    @property
    def bounds(self) -> tuple[float, float]:
        return (self.initial * (1.0 - self.jitter), self.maximum)

    @property
    def name(self) -> str:
        return (
            f"exponential({_fmt(self.initial)},x{_fmt(self.factor)},{_fmt(self.maximum)})"
        )
