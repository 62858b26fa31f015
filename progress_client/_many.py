"""Many jobs in one AsyncProgressClient: shared wait loops, and ``wait_many``/``as_completed``.

Concurrent waits on the same job (same status URL and events URL) in one client share one
``SharedWait``: one engine, one request per interval, one stream. Every subscriber has its own
queue and gets every update from the moment it joined (a late joiner first gets the last
update, so it starts from the current status). One subscriber at a time is the *driver*: it
carries out the engine's next action (a sleep, a poll, a read from the stream) in its own task
and broadcasts what came of it; the others wait on their queues. When the driver leaves (its
timeout, a cancellation, a ``break``), the next subscriber takes over; when the last one
leaves, the loop ends and its stream is closed. No background task is needed, so a client
works without ``async with`` and a cancelled wait leaves nothing running.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

import anyio

from ._client import JobOutcome, WaitResult
from ._engine import PollEngine, Send, Stop, Update
from ._errors import PollError
from ._sse import Reconnect

__all__ = ["SharedWait", "Subscriber", "as_completed", "wait_many"]

Item = Update | Stop


class Subscriber:
    """One caller of a shared wait: a queue of updates and a way to be woken."""

    __slots__ = ("_wake", "queue")

    def __init__(self) -> None:
        self.queue: deque[Item] = deque()
        self._wake: anyio.Event | None = None

    def push(self, item: Item) -> None:
        self.queue.append(item)
        self.wake()

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def wait(self) -> None:
        """Until an item is queued or this subscriber is made the driver."""
        if self.queue:
            return
        self._wake = anyio.Event()
        try:
            await self._wake.wait()
        finally:
            self._wake = None


class SharedWait:
    """One job's wait, shared by every concurrent caller of one client."""

    def __init__(
        self,
        key: tuple[str, str | None],
        engine: PollEngine,
        reconnect: Reconnect | None,
    ) -> None:
        self.key = key
        self.url, self.events_url = key
        self.engine = engine
        #: The stream's reconnect schedule; ``None`` when polling (no events URL, or after a
        #: fallback).
        self.reconnect = reconnect
        self.reconnect_at = -math.inf
        #: The driver's open event stream (owned by the async client), if any.
        self.stream: Any = None
        self.subscribers: list[Subscriber] = []
        self.driver: Subscriber | None = None
        self.last_update: Update | None = None
        self.stop: Stop | None = None
        #: A Send the engine already issued (and counted), for the driver's next step.
        self.pending: Send | None = None

    def join(self) -> Subscriber:
        sub = Subscriber()
        if self.last_update is not None:
            sub.push(self.last_update)
        if self.stop is not None:
            sub.push(self.stop)
        self.subscribers.append(sub)
        if self.driver is None:
            self.driver = sub
        return sub

    def leave(self, sub: Subscriber) -> bool:
        """Remove ``sub``; hand the driving to the next subscriber. True when none is left."""
        if sub in self.subscribers:
            self.subscribers.remove(sub)
        if self.driver is sub:
            self.driver = self.subscribers[0] if self.subscribers else None
            if self.driver is not None:
                self.driver.wake()
        return not self.subscribers

    def broadcast(self, item: Item) -> None:
        if isinstance(item, Stop):
            self.stop = item
        else:
            self.last_update = item
        for sub in self.subscribers:
            sub.push(item)


WaitFn = Callable[[str], Awaitable[WaitResult]]


async def _one(wait: WaitFn, url: str) -> JobOutcome:
    try:
        return JobOutcome(url=url, result=await wait(url))
    except PollError as exc:
        return JobOutcome(url=url, error=exc)


async def wait_many(wait: WaitFn, urls: Iterable[str]) -> list[JobOutcome]:
    """Run ``wait(url)`` for every URL at once; outcomes in the order of ``urls``."""
    todo = list(urls)
    results: list[JobOutcome | None] = [None] * len(todo)

    async def run(i: int, url: str) -> None:
        results[i] = await _one(wait, url)

    async with anyio.create_task_group() as tg:
        for i, url in enumerate(todo):
            tg.start_soon(run, i, url)
    return [r for r in results if r is not None]


@asynccontextmanager
async def as_completed(
    wait: WaitFn, urls: Iterable[str]
) -> AsyncIterator[AsyncIterator[JobOutcome]]:
    """Run ``wait(url)`` for every URL at once; iterate the outcomes as they finish. Leaving
    the block cancels the waits still running (a context manager, so that the task group is
    never left open across a ``yield`` of an async generator)."""
    todo = list(urls)
    send, receive = anyio.create_memory_object_stream[JobOutcome](math.inf)

    async def run(url: str, out: anyio.abc.ObjectSendStream[JobOutcome]) -> None:
        async with out:
            await out.send(await _one(wait, url))

    async with anyio.create_task_group() as tg, receive:
        async with send:
            for url in todo:
                tg.start_soon(run, url, send.clone())
        try:
            yield receive
        finally:
            tg.cancel_scope.cancel()
