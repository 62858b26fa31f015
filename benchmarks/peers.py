"""Peer libraries' polling loops, configured as their docs suggest, on a fake clock.

Each function runs the library's *own* loop (tenacity's ``Retrying``, backoff's
``on_predicate``, polling2's ``poll``) against a scripted job; only the sleep and the time source
are replaced, so the request times are the libraries' behaviour, not a re-implementation.
None of them resets its interval when the status changes: they only look for the end.

- tenacity: ``wait_incrementing(start=3, increment=1, max=8)`` with ``retry_if_result``
  (the closest to our adaptive schedule; ``sleep=`` is tenacity's own injection point);
- backoff: ``on_predicate(expo, max_value=8, jitter=None)``; ``jitter=None`` keeps the run
  exact (the default full jitter draws every wait from ``[0, w]`` and would poll more);
- polling2: ``poll(step=3, step_function=lambda s: min(s + 1, 8), poll_forever=True)``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from types import SimpleNamespace
from unittest import mock

import backoff
import backoff._sync
import polling2
import tenacity

from progress_client.core.models import DEFAULT_FAILURE, DEFAULT_SUCCESS

__all__ = ["PEERS", "FakeTime", "ScriptedJob"]

Timeline = Sequence[tuple[float, str]]
TERMINAL = DEFAULT_SUCCESS | DEFAULT_FAILURE
#: A safety net: no trace needs this many requests.
MAX_ATTEMPTS = 100_000


class FakeTime:
    """A stand-in for the ``time`` module: ``sleep`` moves the clock, nothing blocks."""

    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.now += seconds

    def time(self) -> float:
        return self.now

    def monotonic(self) -> float:
        return self.now


class ScriptedJob:
    """The job's status at the fake clock's time; every call is one request."""

    def __init__(self, timeline: Timeline, clock: FakeTime) -> None:
        self.points = sorted(timeline)
        self.clock = clock
        self.request_times: list[float] = []

    def fetch(self) -> str:
        now = self.clock.now
        self.request_times.append(now)
        current = "queued"
        for when, status in self.points:
            if when <= now:
                current = status
            else:
                break
        return current


def _pending(status: str) -> bool:
    return status.lower() not in TERMINAL


def tenacity_incrementing(timeline: Timeline) -> list[float]:
    clock = FakeTime()
    job = ScriptedJob(timeline, clock)
    retrying = tenacity.Retrying(
        wait=tenacity.wait_incrementing(start=3, increment=1, max=8),
        retry=tenacity.retry_if_result(_pending),
        stop=tenacity.stop_after_attempt(MAX_ATTEMPTS),
        sleep=clock.sleep,
    )
    retrying(job.fetch)
    return job.request_times


@contextlib.contextmanager
def _patched_time(module: object, clock: FakeTime) -> Iterator[None]:
    fake = SimpleNamespace(sleep=clock.sleep, time=clock.time, monotonic=clock.monotonic)
    with mock.patch.object(module, "time", fake):
        yield


def backoff_expo(timeline: Timeline) -> list[float]:
    clock = FakeTime()
    job = ScriptedJob(timeline, clock)
    poll = backoff.on_predicate(
        backoff.expo, _pending, max_value=8, jitter=None, max_tries=MAX_ATTEMPTS
    )(job.fetch)
    with _patched_time(backoff._sync, clock):
        poll()
    return job.request_times


def polling2_step(timeline: Timeline) -> list[float]:
    clock = FakeTime()
    job = ScriptedJob(timeline, clock)
    with _patched_time(polling2, clock):
        polling2.poll(
            job.fetch,
            step=3,
            step_function=lambda step: min(step + 1, 8),
            check_success=lambda status: not _pending(status),
            poll_forever=True,
        )
    return job.request_times


#: name -> (the library call it stands for, its longest interval, the strategy).
PEERS: dict[str, tuple[str, float, Callable[[Timeline], Sequence[float]]]] = {
    "tenacity": ("wait_incrementing(3, 1, 8) + retry_if_result", 8.0, tenacity_incrementing),
    "backoff": ("on_predicate(expo, max_value=8, jitter=None)", 8.0, backoff_expo),
    "polling2": ("poll(step=3, step_function=min(s+1, 8))", 8.0, polling2_step),
}
