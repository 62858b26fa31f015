"""The records a store holds and hands out: a job's progress (``ProgressRecord``), its
checkpoint, a reader's ``Subscription`` to its updates, and the store's one error."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
from pydantic import BaseModel, ConfigDict

from progress_client.core.models import DEFAULT_FAILURE, DEFAULT_SUCCESS

__all__ = [
    "MAILBOX_SIZE",
    "Checkpoint",
    "ProgressRecord",
    "StoreUnavailable",
    "Subscription",
    "is_terminal",
    "newest",
]

#: Updates a slow SSE reader may fall behind by; older ones are dropped (ids stay increasing).
MAILBOX_SIZE = 64
_TERMINAL = frozenset(w.casefold() for w in DEFAULT_SUCCESS | DEFAULT_FAILURE)


class StoreUnavailable(RuntimeError):
    """The backing store could not be reached; the message holds no URL or credential."""


class ProgressRecord(BaseModel):
    """A job's progress as stored. ``public()`` is what readers see."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    status: str
    step: str | int | None = None
    progress: float | None = None
    error: str | None = None
    updated_at: str
    version: int = 0
    #: When this job's record was first written (ms since the Unix epoch, the writer's clock);
    #: kept by every later update, new when the key had expired or the store lost it.
    epoch: int = 0
    #: When this version was written (ms since the Unix epoch, the writer's clock).
    at: int = 0
    owner: str | None = None

    def public(self) -> dict[str, Any]:
        """The status document served over HTTP and SSE: no owner, no version, no times
        but ``updated_at``."""
        return {
            "status": self.status,
            "step": self.step,
            "progress": self.progress,
            "error": self.error,
            "updated_at": self.updated_at,
        }

    @property
    def terminal(self) -> bool:
        return is_terminal(self.status)

    @property
    def order(self) -> tuple[int, int]:
        """Newer records compare greater: a later epoch (the job started again), then a
        higher version."""
        return (self.epoch, self.version)


def newest(a: ProgressRecord | None, b: ProgressRecord | None) -> ProgressRecord | None:
    """The newer of two records (``None``, no record, is older than any)."""
    if a is None:
        return b
    if b is None:
        return a
    return b if b.order > a.order else a


def is_terminal(status: str) -> bool:
    """Whether ``status`` ends a job, by the same words the clients use."""
    return status.casefold() in _TERMINAL


@dataclass(frozen=True)
class Checkpoint:
    """The steps a job has completed, for a worker that resumes after a crash."""

    completed: frozenset[str]
    last_step: str | None


class Subscription:
    """The updates of one job, for one reader (an SSE stream, a held long poll). Not
    thread-safe: one event loop. If the reader falls more than ``MAILBOX_SIZE`` updates behind,
    the oldest drop.

    When the store may have missed updates (its Redis subscription dropped and came back), it
    calls ``resync()``: ``receive()`` then returns None early and ``take_resync()`` is true
    once; the reader should read the job again.

    When the server shuts down it calls ``end()``: ``receive()`` returns None at once from then
    on and ``ended`` is true; the reader answers with what it has and stops."""

    def __init__(self, job_id: str, on_close: Callable[[Subscription], None]) -> None:
        self.job_id = job_id
        self._items: deque[ProgressRecord] = deque(maxlen=MAILBOX_SIZE)
        self._event = anyio.Event()
        self._on_close = on_close
        self._resync = False
        self._ended = False

    def put(self, record: ProgressRecord) -> None:
        self._items.append(record)
        self._event.set()

    def resync(self) -> None:
        self._resync = True
        self._event.set()

    def end(self) -> None:
        self._ended = True
        self._event.set()

    @property
    def ended(self) -> bool:
        return self._ended

    def take_resync(self) -> bool:
        """Whether a resync was asked for since the last call (then the flag is cleared)."""
        flag, self._resync = self._resync, False
        return flag

    async def receive(self, timeout: float) -> ProgressRecord | None:
        """The next update; None when none came within ``timeout`` seconds, or at once when
        a resync is pending (see ``take_resync()``) or the subscription has ended."""
        with anyio.move_on_after(max(0.0, timeout)):
            while not self._items:
                if self._resync or self._ended:
                    return None
                await self._event.wait()
                self._event = anyio.Event()
            return self._items.popleft()
        return None

    def close(self) -> None:
        self._on_close(self)
