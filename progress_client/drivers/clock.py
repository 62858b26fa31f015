"""Clocks: the time source the sync driver sleeps on. Time is a parameter, never a global.

``SystemClock`` reads ``time.monotonic`` (for the schedule) and ``time.time`` (only to read
HTTP-date hints). ``VirtualClock`` starts at 0 and jumps forward when slept on, so tests and
``simulate()`` run hours of polling in microseconds.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock", "VirtualClock"]

_EPOCH_2026 = 1_767_225_600.0  # 2026-01-01T00:00:00Z: the virtual clock's wall time at 0


@runtime_checkable
class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds."""
        ...

    def wall(self) -> float:
        """Seconds since the Unix epoch (for HTTP-dates only)."""
        ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class VirtualClock:
    """A clock that only moves when slept on or advanced. ``sleeps`` records every sleep."""

    def __init__(self, start: float = 0.0, wall_start: float = _EPOCH_2026) -> None:
        self._now = start
        self._wall_offset = wall_start - start
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._now + self._wall_offset

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds > 0:
            self._now += seconds

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self._now += seconds
