"""Durable waits: waits that survive a restart, kept in a store (SQLite by default, Redis for
many processes). See ``docs/durable-waits.md``.

``client.durable(store, handler=...)`` (``ProgressClient`` and ``AsyncProgressClient``) gives a
``DurableWaits`` / ``AsyncDurableWaits``; ``open_store("waits.db")`` or
``open_store("redis://host:6379/0")`` opens a store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import KeyInUse, StoreError, WaitStore
from .memory import MemoryWaitStore
from .records import DurableOutcome, WaitRecord
from .sqlite import SQLiteWaitStore
from .sync import DurableWaits

if TYPE_CHECKING:
    from .aio import AsyncDurableWaits
    from .fleet import Fleet
    from .redis import RedisWaitStore

__all__ = [
    "AsyncDurableWaits",
    "DurableOutcome",
    "DurableWaits",
    "Fleet",
    "KeyInUse",
    "MemoryWaitStore",
    "RedisWaitStore",
    "SQLiteWaitStore",
    "StoreError",
    "WaitRecord",
    "WaitStore",
    "open_store",
]


def open_store(where: str, **options: Any) -> WaitStore:
    """A store from a path (SQLite) or a ``redis://`` / ``rediss://`` URL (Redis)."""
    if where.startswith(("redis://", "rediss://", "unix://")):
        from .redis import RedisWaitStore  # optional extra [server]: redis-py

        return RedisWaitStore(where, **options)
    return SQLiteWaitStore(where, **options)


def __getattr__(name: str) -> Any:
    if name == "RedisWaitStore":
        from .redis import RedisWaitStore  # optional extra [server]: redis-py

        return RedisWaitStore
    if name == "AsyncDurableWaits":
        from .aio import AsyncDurableWaits  # start-up: a blocking durable wait never loads anyio

        return AsyncDurableWaits
    if name == "Fleet":
        from .fleet import Fleet  # start-up: a blocking durable wait never loads anyio

        return Fleet
    raise AttributeError(name)
