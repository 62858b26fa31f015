"""``Deadlines``: the request timeouts of one client's polls on asyncio, on one loop timer;
``Sleeps``: the sleeps between its polls, on one loop timer too.

``asyncio.timeout`` arms a loop timer per request and cancels it when the request ends: on
uvloop a timer handle, a libuv timer and a context copy, 6-8 µs of CPU per poll, a tenth of
what a whole poll costs the fast path. Here each request is an entry in a heap by deadline and
the one timer is armed at the earliest; the cancellation of an expired request's task is turned
into a timeout exactly as ``asyncio.timeout`` does it. Pure asyncio, no I/O of its own.

A sleep is a future in a heap by its end, with one loop timer armed at the earliest, rather
than a timer of its own: with thousands of waits asleep, each would keep a timer handle and
the loop's own timer object (uvloop's) for the garbage collector to walk, and cost the loop
one timer to arm and one to fire per poll.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import sys
from typing import Any

__all__ = ["Deadline", "Deadlines", "Sleeps"]

#: A timer is due this close to its time (uvloop's timers count whole milliseconds).
_RESOLUTION = 0.001


class Deadline:
    """One request's deadline in ``Deadlines``."""

    __slots__ = ("cancelling", "done", "expired", "task", "when")

    def __init__(self, when: float, task: asyncio.Task[Any]) -> None:
        self.when = when
        self.task = task
        #: The task's cancel requests already pending when the request began (3.11+).
        self.cancelling = 0
        if sys.version_info >= (3, 11):
            self.cancelling = task.cancelling()
        self.done = False
        self.expired = False


class Deadlines:
    """The request timeouts of one client's polls, with one timer for them all.

    Each request is an entry in a heap by deadline and the one timer is armed at the
    earliest: a request that ends drops out (lazily: entries at the top that are done are
    popped, and polls mostly end in the order they began, so the heap stays about as long as
    the polls in flight). When the timer fires, every request past its deadline has its task
    cancelled; ``leave`` turns that cancellation into a timeout exactly as ``asyncio.timeout``
    does (a cancel from elsewhere stays a cancel)."""

    __slots__ = ("_armed", "_handle", "_heap", "_loop", "_seq")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Deadline]] = []
        self._handle: asyncio.TimerHandle | None = None
        self._armed = float("inf")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._seq = 0

    def enter(self, timeout: float | None) -> Deadline | None:
        """The current task's request ends within ``timeout`` seconds (``None``: unbounded)."""
        if timeout is None:
            return None
        loop = self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        entry = Deadline(loop.time() + timeout, task)
        self._seq += 1
        heapq.heappush(self._heap, (entry.when, self._seq, entry))
        if entry.when < self._armed:
            self._arm(entry.when)
        return entry

    def leave(self, entry: Deadline | None, cancelled: bool = False) -> bool:
        """The request ended (``cancelled``: by a ``CancelledError``). True when that
        cancellation was this deadline's (then it is a timeout)."""
        if entry is None:
            return False
        entry.done = True
        heap = self._heap
        while heap and heap[0][2].done:
            heapq.heappop(heap)
        if not entry.expired:
            return False
        if sys.version_info >= (3, 11):
            return entry.task.uncancel() <= entry.cancelling and cancelled
        return cancelled  # pragma: no cover - 3.10 counts no cancel requests

    def _arm(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        assert self._loop is not None
        self._handle = self._loop.call_at(when, self._fire)
        self._armed = when

    def _fire(self) -> None:
        self._handle, self._armed = None, float("inf")
        assert self._loop is not None
        # As the loop itself reads its timers: what is due within its clock's resolution is
        # due now (one wake-up for requests that began within a millisecond of each other).
        now = self._loop.time() + _RESOLUTION
        heap = self._heap
        while heap:
            when, _, entry = heap[0]
            if entry.done:
                heapq.heappop(heap)
            elif when <= now:
                heapq.heappop(heap)
                entry.expired = True
                entry.task.cancel()
            else:
                self._arm(when)
                return


class Sleeps:
    """The sleeps of one client's waits on asyncio, with one timer for them all.

    ``sleep(seconds)`` is a future the loop completes ``seconds`` from now, as
    ``loop.call_later`` would (at its time, never before; those due at the same time in the
    order they began): an entry in a heap by its end, and the one timer armed at the earliest.
    A sleep cancelled meanwhile (its task was) stays in the heap until its time, skipped then.
    The heap serves the loop of its first sleep; a sleep on any other loop at the same time
    (a client shared across threads' loops) gets a timer of its own."""

    __slots__ = ("_armed", "_futures", "_handle", "_heap", "_loop", "_seq")

    def __init__(self) -> None:
        #: ``(when, seq)``: numbers only, so the collector untracks each entry; the futures
        #: by ``seq`` beside.
        self._heap: list[tuple[float, int]] = []
        self._futures: dict[int, asyncio.Future[None]] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._armed = float("inf")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._seq = 0

    def sleep(self, seconds: float) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        if loop is not self._loop:
            if self._loop is not None and not self._loop.is_closed():
                loop.call_later(seconds, _wake, done, context=_NO_CONTEXT)
                return done
            # The first loop, or the one before it closed: its sleeps went with it.
            self._loop, self._heap, self._futures = loop, [], {}
            self._handle, self._armed = None, float("inf")
        when = loop.time() + seconds
        seq = self._seq = self._seq + 1
        self._futures[seq] = done
        heapq.heappush(self._heap, (when, seq))
        if when < self._armed:
            self._arm(when)
        return done

    def _arm(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        assert self._loop is not None
        # The callback reads no context variable: one empty context, not a copy per arming.
        self._handle = self._loop.call_at(when, self._fire, context=_NO_CONTEXT)
        self._armed = when

    def _fire(self) -> None:
        self._handle, self._armed = None, float("inf")
        assert self._loop is not None
        now = self._loop.time()
        heap, futures = self._heap, self._futures
        while heap:
            when, seq = heap[0]
            if when > now:
                self._arm(when)
                return
            heapq.heappop(heap)
            done = futures.pop(seq)
            if not done.done():  # not cancelled meanwhile
                done.set_result(None)


_NO_CONTEXT = contextvars.Context()


def _wake(done: asyncio.Future[None]) -> None:
    if not done.done():  # not cancelled meanwhile
        done.set_result(None)
