"""How a status-server process hears about updates from Redis, and knows when it may have
missed one: a dedicated pub/sub connection with redis-py's silent reconnect turned off, so a
drop is never hidden, and a ``PING`` on it whenever it has been quiet for ``health_interval``
seconds, so a dead connection that never closes is noticed too.

- ``PatternListener`` (single Redis): one ``PSUBSCRIBE <prefix>:events:*`` for every job.
- ``ShardListener`` (Redis Cluster, Redis >= 7): sharded pub/sub has no patterns, so each job's
  channel ``<prefix>:{<id>}:events`` (same slot as the job's keys) is ``SSUBSCRIBE``d, and
  confirmed, before the job is first read, on a connection to the primary that owns the slot.

Both report to a ``Sink``: ``on_live()`` once the subscription is confirmed (again after every
reconnect), ``on_message()`` for each update, ``on_lost()`` when the subscription may have
missed something (a connection error, no answer to ``PING``, a slot that moved). The sink
drops its cache on a loss, and has readers read again when the subscription is back.

Why not redis-py's ``ClusterPubSub`` (asyncio, redis-py >= 8): it reconnects and re-subscribes
by itself, which hides exactly the drop a cache must hear about, and it reads its nodes in
turn with a timeout instead of waiting on each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import anyio
import anyio.abc
import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from .records import StoreUnavailable

__all__ = ["PatternListener", "ShardListener", "Sink"]

_MIN_BACKOFF = 0.05
_MAX_BACKOFF = 1.0
#: Seconds to wait for a subscription's confirmation.
CONFIRM_TIMEOUT = 3.0


class _Lost(Exception):
    """The subscription may have missed updates."""


_LINK_ERRORS = (redis.exceptions.RedisError, OSError, TimeoutError, _Lost)


class Sink(Protocol):
    def on_live(self) -> None: ...

    def on_message(self, channel: str, data: str) -> None: ...

    def on_lost(self) -> None: ...


def _dedicated(connection_class: Any, kwargs: dict[str, Any]) -> aioredis.Redis:
    """A client on its own one-connection pool, with the same settings but no retries: a
    broken connection raises instead of reconnecting (and re-subscribing) unseen."""
    settings = {**kwargs, "retry": Retry(NoBackoff(), 0)}
    pool = aioredis.ConnectionPool(connection_class=connection_class, max_connections=1,
                                   **settings)
    return aioredis.Redis(connection_pool=pool)


async def _close(client: aioredis.Redis, pubsub: Any) -> None:
    with anyio.CancelScope(shield=True):
        try:
            await pubsub.aclose()
            await client.connection_pool.disconnect()
        except Exception:
            pass  # the connection is gone either way


async def _read(pubsub: Any, health_interval: float, handle: Callable[[dict[str, Any]], None]
                ) -> None:
    """Hand every message to ``handle``; return never, raise when the connection is lost."""
    waiting = False
    while True:
        message = await pubsub.get_message(timeout=health_interval)
        if message is None:
            if waiting:
                raise _Lost("no answer to PING")
            await pubsub.ping()
            waiting = True
            continue
        waiting = False  # anything at all proves the connection alive
        handle(message)


class PatternListener:
    """Single Redis: ``PSUBSCRIBE pattern`` on a dedicated connection, for as long as it
    runs; reconnects (backing off up to 1 s) after a loss."""

    def __init__(self, client: aioredis.Redis, pattern: str, sink: Sink, *,
                 health_interval: float) -> None:
        pool = client.connection_pool
        self._connection_class = pool.connection_class
        self._kwargs = dict(pool.connection_kwargs)
        self._pattern = pattern
        self._sink = sink
        self._health = health_interval

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
                  ) -> None:
        started = False
        delay = _MIN_BACKOFF
        while True:
            client = _dedicated(self._connection_class, self._kwargs)
            pubsub = client.pubsub()
            try:
                await pubsub.psubscribe(self._pattern)
                with anyio.fail_after(CONFIRM_TIMEOUT):
                    while True:
                        first = await pubsub.get_message(timeout=CONFIRM_TIMEOUT)
                        if first is not None and first.get("type") == "psubscribe":
                            break
                self._sink.on_live()
                if not started:
                    started = True
                    task_status.started()
                delay = _MIN_BACKOFF
                await _read(pubsub, self._health, self._handle)
            except _LINK_ERRORS as exc:
                if not started:
                    raise StoreUnavailable(
                        f"Redis unreachable during subscribe ({type(exc).__name__})"
                    ) from None
            finally:
                self._sink.on_lost()
                await _close(client, pubsub)
            await anyio.sleep(delay)
            delay = min(_MAX_BACKOFF, delay * 2)

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "pmessage":
            self._sink.on_message(str(message["channel"]), str(message["data"]))
        elif kind in ("punsubscribe", "unsubscribe", "sunsubscribe"):
            raise _Lost("unsubscribed by the server")


class _ShardLink:
    """One primary's connection and the shard channels subscribed on it."""

    def __init__(self, node: Any, health_interval: float) -> None:
        self.name = str(node.name)
        self.client = _dedicated(node.connection_class, dict(node.connection_kwargs))
        self.pubsub = self.client.pubsub()
        self.confirmed: set[str] = set()
        self.pending: dict[str, anyio.Event] = {}
        self.leaving: set[str] = set()
        self.reading = False
        self._health = health_interval

    async def read(self, sink: Sink) -> None:
        def handle(message: dict[str, Any]) -> None:
            kind = message.get("type")
            channel = str(message.get("channel"))
            if kind == "smessage":
                sink.on_message(channel, str(message["data"]))
            elif kind == "ssubscribe":
                self.confirmed.add(channel)
                event = self.pending.pop(channel, None)
                if event is not None:
                    event.set()
            elif kind == "sunsubscribe":
                if channel not in self.leaving:
                    raise _Lost("the server unsubscribed a channel (its slot moved)")
                self.leaving.discard(channel)
                self.confirmed.discard(channel)

        await _read(self.pubsub, self._health, handle)

    def wake_all(self) -> None:
        for event in self.pending.values():
            event.set()
        self.pending.clear()


class ShardListener:
    """Redis Cluster: ``SSUBSCRIBE`` per job channel (``prepare``), ``SUNSUBSCRIBE`` when the
    job leaves the cache (``release``); on any loss every link is closed, the slot map is
    read again, and jobs subscribe afresh as they are read."""

    def __init__(self, cluster: Any, channel: Callable[[str], str], sink: Sink, *,
                 health_interval: float) -> None:
        self._cluster = cluster
        self._channel = channel
        self._sink = sink
        self._health = health_interval
        self._links: dict[str, _ShardLink] = {}
        self._tg: anyio.abc.TaskGroup | None = None
        self._broken: anyio.Event | None = None

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
                  ) -> None:
        started = False
        delay = _MIN_BACKOFF
        async with anyio.create_task_group() as tg:
            self._tg = tg
            while True:
                broken = anyio.Event()
                try:
                    if started:
                        await self._cluster.nodes_manager.initialize()
                    else:
                        await self._cluster.initialize()
                    self._broken = broken
                    self._sink.on_live()
                    if not started:
                        started = True
                        task_status.started()
                    delay = _MIN_BACKOFF
                    await broken.wait()
                except _LINK_ERRORS as exc:
                    if not started:
                        raise StoreUnavailable(
                            f"Redis Cluster unreachable during subscribe ({type(exc).__name__})"
                        ) from None
                finally:
                    self._broken = None
                    self._sink.on_lost()
                    links, self._links = list(self._links.values()), {}
                    for link in links:
                        link.wake_all()
                        await _close(link.client, link.pubsub)
                await anyio.sleep(delay)
                delay = min(_MAX_BACKOFF, delay * 2)

    def _break(self) -> None:
        if self._broken is not None:
            self._broken.set()
            self._broken = None

    async def prepare(self, job_id: str) -> None:
        """Subscribe to the job's channel on its primary and wait for the confirmation;
        ``StoreUnavailable`` if that cannot be done (the job is then read but not cached)."""
        broken, tg = self._broken, self._tg
        if broken is None or tg is None:
            raise StoreUnavailable("Redis Cluster: no subscription")
        channel = self._channel(job_id)
        try:
            node = self._cluster.get_node_from_key(channel)
            link = self._links.get(node.name)
            if link is None:
                link = self._links[node.name] = _ShardLink(node, self._health)
            if channel in link.confirmed:
                return
            event = link.pending.get(channel)
            if event is None:
                event = link.pending[channel] = anyio.Event()
                await link.pubsub.ssubscribe(channel)
                if not link.reading:  # the reader needs a subscription before it can read
                    link.reading = True
                    tg.start_soon(self._run_link, link, broken)
            with anyio.fail_after(CONFIRM_TIMEOUT):
                await event.wait()
            if channel not in link.confirmed:
                raise _Lost("the subscription was lost before it was confirmed")
        except (*_LINK_ERRORS, redis.exceptions.RedisClusterException) as exc:
            if broken is self._broken:
                self._break()
            raise StoreUnavailable(
                f"Redis Cluster: cannot subscribe ({type(exc).__name__})"
            ) from None

    async def _run_link(self, link: _ShardLink, broken: anyio.Event) -> None:
        try:
            await link.read(self._sink)
        except _LINK_ERRORS:
            pass
        finally:
            link.wake_all()
            if self._broken is broken:
                self._break()

    def release(self, job_id: str) -> None:
        """The job left the cache: unsubscribe its channel (in the background)."""
        channel = self._channel(job_id)
        tg = self._tg
        for link in self._links.values():
            if channel in link.confirmed and tg is not None:
                link.leaving.add(channel)
                tg.start_soon(self._unsubscribe, link, channel)

    async def _unsubscribe(self, link: _ShardLink, channel: str) -> None:
        try:
            await link.pubsub.sunsubscribe(channel)
        except _LINK_ERRORS:
            self._break()
