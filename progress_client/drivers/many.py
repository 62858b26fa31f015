"""Many jobs in one AsyncProgressClient: ``wait_many`` and ``as_completed``.

Each URL's wait runs in a task of one task group; concurrent waits on the same job share one
loop (``drivers.shared``). A job's error is its ``JobOutcome.error``, never raised.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager

import anyio
import anyio.abc

from progress_client.core.errors import PollError
from progress_client.core.results import JobOutcome, WaitResult, outcome_error

__all__ = ["as_completed", "wait_many"]


WaitFn = Callable[[str], Awaitable[WaitResult]]


async def _one(wait: WaitFn, url: str) -> JobOutcome:
    try:
        return JobOutcome(url=url, result=await wait(url))
    except (PollError, ValueError) as exc:
        return JobOutcome(url=url, error=outcome_error(exc))


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
