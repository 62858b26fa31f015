"""The store of durable waits: what every store does (``WaitStore``), and who owns a wait.

A store keeps ``WaitRecord`` s by key. Each method has a blocking form (for ``ProgressClient``)
and an async twin with an ``a`` in front (for ``AsyncProgressClient``); a store that has no
async client of its own (SQLite) runs the blocking form on a worker thread.

**Ownership.** A wait is run by one process at a time: its record names the owner
(``host:pid``). ``claim`` takes a wait that has no owner, or whose owner is gone: on this host
a process that no longer exists, on another host one that has not written for ``stale_after``
seconds (a checkpoint, however quiet the job, comes at least every ``checkpoint_every``).
"""

from __future__ import annotations

import functools
import inspect
import os
import socket
import time
from collections.abc import Callable
from typing import Any, TypeVar

from progress_client.core.sanitize import sanitize

from .records import WaitRecord

T = TypeVar("T")

__all__ = ["KeyInUse", "StoreError", "WaitStore", "owner_is_gone", "this_owner"]


class KeyInUse(ValueError):
    """A wait with this key is registered and not finished."""


class StoreError(OSError):
    """The store cannot be read or written (Redis unreachable, a SQLite file locked for
    longer than its timeout, a disk full); the message names the store, never a password."""


def translated(kind: type[BaseException], where: Callable[[Any], str]) -> Callable[[T], T]:
    """A decorator for a store's methods (blocking or async): ``kind`` becomes a
    ``StoreError`` saying which store (``where(self)``) and what failed."""
    def wrap(func: Any) -> Any:
        def fail(self: Any, exc: BaseException) -> StoreError:
            return StoreError(f"{where(self)}: {type(exc).__name__}: {sanitize(str(exc))}")

        if inspect.iscoroutinefunction(func):
            @functools.wraps(func)
            async def async_call(self: Any, *args: Any, **kw: Any) -> Any:
                try:
                    return await func(self, *args, **kw)
                except kind as exc:
                    raise fail(self, exc) from None

            return async_call

        @functools.wraps(func)
        def call(self: Any, *args: Any, **kw: Any) -> Any:
            try:
                return func(self, *args, **kw)
            except kind as exc:
                raise fail(self, exc) from None

        return call

    return wrap


def this_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_is_gone(record: WaitRecord, *, stale_after: float, now: float | None = None) -> bool:
    """Whether ``record``'s owner no longer runs it."""
    owner = record.owner
    if owner is None:
        return True
    host, _, pid = owner.rpartition(":")
    if owner == this_owner():
        return False
    if host == socket.gethostname() and pid.isdigit():
        return not _alive(int(pid))
    return (time.time() if now is None else now) - record.updated > stale_after


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: alive
    return True


class WaitStore:
    """The durable waits' store. Subclasses implement the blocking methods; the async twins
    run them on a worker thread unless a subclass has a real async client."""

    #: A wait whose owner on another host has not written for this long is taken over.
    stale_after: float = 600.0

    # -- blocking ------------------------------------------------------------------------

    def add(self, record: WaitRecord) -> None:
        """Register a new wait; ``KeyInUse`` if an unfinished wait has its key (a finished
        one is replaced)."""
        raise NotImplementedError

    def save(self, record: WaitRecord) -> None:
        """Write ``record`` as it stands (a checkpoint)."""
        raise NotImplementedError

    def get(self, key: str) -> WaitRecord | None:
        raise NotImplementedError

    def unfinished(self) -> list[WaitRecord]:
        """Every wait not yet ``done``, oldest first."""
        raise NotImplementedError

    def claim(self, key: str, owner: str) -> WaitRecord | None:
        """Take ``key`` for ``owner`` if it is unfinished and its owner is gone; the record
        (now ``owner``'s), else ``None``."""
        raise NotImplementedError

    def release(self, key: str, owner: str) -> None:
        """Give the wait up (it stays unfinished), if ``owner`` holds it."""
        raise NotImplementedError

    def delete(self, key: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        return None

    # -- async twins -----------------------------------------------------------------------

    async def aadd(self, record: WaitRecord) -> None:
        await _in_thread(self.add, record)

    async def asave(self, record: WaitRecord) -> None:
        await _in_thread(self.save, record)

    async def aget(self, key: str) -> WaitRecord | None:
        return await _in_thread(self.get, key)

    async def aunfinished(self) -> list[WaitRecord]:
        return await _in_thread(self.unfinished)

    async def aclaim(self, key: str, owner: str) -> WaitRecord | None:
        return await _in_thread(self.claim, key, owner)

    async def arelease(self, key: str, owner: str) -> None:
        await _in_thread(self.release, key, owner)

    async def adelete(self, key: str) -> None:
        await _in_thread(self.delete, key)

    async def aclose(self) -> None:
        await _in_thread(self.close)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Any:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def _in_thread(func: Callable[..., T], *args: Any) -> T:
    import anyio.to_thread  # the blocking commands never load anyio

    return await anyio.to_thread.run_sync(func, *args)
