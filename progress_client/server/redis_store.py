"""``RedisStore``: job progress in Redis, a single server or a Redis Cluster (``cluster=True``),
for any number of workers and status-server processes.

Every guarantee of the store holds on both: a TTL on every key, one round trip per update (an
atomic script: ``SET ... EX``, ``HSET`` + ``EXPIRE``, and ``PUBLISH``, or ``SPUBLISH`` on a
cluster), personal data refused before anything is written, errors sanitized. A job's keys and
its cluster channel share the hash tag ``{<id>}``, so one job lives in one slot.

A status-server process (inside ``events()``) also keeps the jobs it serves in memory
(``cache.py``), exact through its subscription (``redis_listen.py``): a read of a cached job
costs no Redis command.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from .cache import DEFAULT_CACHE_SIZE, JobCache
from .records import ProgressRecord, StoreUnavailable, Subscription
from .redis_listen import PatternListener, ShardListener
from .store import (
    CHECKPOINT_TTL,
    DEFAULT_PREFIX,
    METADATA_TTL,
    PROGRESS_TTL,
    Store,
    valid_job_id,
)

if TYPE_CHECKING:
    import redis.asyncio

__all__ = ["RedisStore"]

#: Seconds a quiet subscription waits before it checks its connection with PING.
HEALTH_INTERVAL = 5.0
#: Seconds /healthz waits for Redis.
PING_TIMEOUT = 1.5
#: Connections a store made from a URL opens to Redis at most (per node on a cluster: x4).
MAX_CONNECTIONS = 64

# One atomic round trip per update: read the version (and the job's epoch), write the progress
# with its TTL, the checkpoint with its TTL, and publish the versioned document. A MULTI/EXEC
# pipeline cannot put the new version into the published message; a script can, in the same
# single request. KEYS[3] is the channel (a cluster checks it is in the keys' slot); ARGV[6]
# is PUBLISH or SPUBLISH.
_UPDATE_LUA = """
local version = 1
local record = cjson.decode(ARGV[1])
local prev = redis.call('GET', KEYS[1])
if prev then
  local ok, doc = pcall(cjson.decode, prev)
  if ok and type(doc) == 'table' then
    if tonumber(doc['version']) then version = tonumber(doc['version']) + 1 end
    if tonumber(doc['epoch']) then record['epoch'] = tonumber(doc['epoch']) end
    if record['owner'] == cjson.null and type(doc['owner']) == 'string' then
      record['owner'] = doc['owner']
    end
  end
end
record['version'] = version
local stored = cjson.encode(record)
redis.call('SET', KEYS[1], stored, 'EX', tonumber(ARGV[2]))
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[2], 'done:' .. ARGV[4], '1', 'last_step', ARGV[4])
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[5]))
end
local event = cjson.decode(ARGV[3])
event['version'] = version
event['epoch'] = record['epoch']
redis.call(ARGV[6], KEYS[3], cjson.encode(event))
return stored
"""


class RedisStore(Store):
    """The shared store on Redis (``redis.asyncio``, so asyncio only).

    ``RedisStore("redis://127.0.0.1:6379/0")``, ``RedisStore(url, cluster=True)`` (any node of
    a Redis Cluster, Redis >= 7), or ``RedisStore(client=...)`` with your own
    ``redis.asyncio.Redis`` or ``redis.asyncio.RedisCluster`` (``decode_responses=True``).
    A client made from a URL fails fast when Redis is down (one immediate retry, 2 s to
    connect, 5 s per reply), so a worker's ``update()`` raises ``StoreUnavailable`` at once.

    Status servers: updates reach every process through pub/sub (single Redis: one pattern
    subscription per process; cluster: one shard subscription per job a process serves), and
    each process caches up to ``cache_size`` jobs (``cache.py``; 0: none, every read goes to
    Redis)."""

    kind = "redis"

    def __init__(
        self,
        url: str | None = None,
        *,
        client: redis.asyncio.Redis | redis.asyncio.RedisCluster | None = None,
        cluster: bool = False,
        prefix: str = DEFAULT_PREFIX,
        wall: Callable[[], float] = time.time,
        cache_size: int = DEFAULT_CACHE_SIZE,
        health_interval: float = HEALTH_INTERVAL,
    ) -> None:
        super().__init__(prefix=prefix, wall=wall)

        if (url is None) == (client is None):
            raise ValueError("give exactly one of url= or client=")
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
            raise ValueError("cache_size must be an integer >= 0 (0: no cache)")
        if not health_interval > 0:
            raise ValueError("health_interval must be > 0")
        self._owns_client = client is None
        if client is None:
            assert url is not None
            client = _client_from_url(url, cluster)
        self.cluster = isinstance(client, RedisCluster)
        if self.cluster:
            self.kind = "redis-cluster"
        elif not isinstance(client, aioredis.Redis):
            raise TypeError("client must be a redis.asyncio.Redis or RedisCluster")
        self._redis: Any = client
        self._script = client.register_script(_UPDATE_LUA)
        self._cache_size = cache_size
        self._health = health_interval
        self._cache: JobCache | None = None
        self._listening = False
        #: What /metrics reports (``metrics.py``): Redis reads, failed operations by kind.
        self.counts: dict[str, Any] = {"reads": 0, "errors": {}}
        #: Whether Redis answered the last operation (and the subscription is live).
        self.up = True

    @property
    def client(self) -> Any:
        return self._redis

    @property
    def cache(self) -> JobCache | None:
        """This process's job cache while ``events()`` runs (None otherwise)."""
        return self._cache

    def channel(self, job_id: str) -> str:
        # A cluster's sharded channel carries the job's hash tag: the slot of its keys.
        if self.cluster:
            return f"{self.prefix}:{{{job_id}}}:events"
        return super().channel(job_id)

    def _job_of(self, channel: str) -> str | None:
        if self.cluster:
            head, tail = f"{self.prefix}:{{", "}:events"
        else:
            head, tail = f"{self.prefix}:events:", ""
        if not (channel.startswith(head) and channel.endswith(tail)):
            return None
        return channel[len(head):len(channel) - len(tail)]

    async def _call(self, what: str, coro: Any) -> Any:
        try:
            result = await coro
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
                redis.exceptions.ClusterError, redis.exceptions.RedisClusterException,
                OSError) as exc:
            self.up = False
            errors = self.counts["errors"]
            errors[what] = errors.get(what, 0) + 1
            raise StoreUnavailable(
                f"Redis unreachable during {what} ({type(exc).__name__})"
            ) from None
        self.up = True
        if what == "read":
            self.counts["reads"] += 1
        return result

    # -- writes and reads ------------------------------------------------------------------

    async def _write_update(
        self, job_id: str, record: ProgressRecord, done: str | None
    ) -> ProgressRecord:
        stored = record.model_dump(mode="json", exclude={"version"})
        event = {**record.public(), "at": record.at}
        raw = await self._call(
            "update",
            self._script(
                keys=[self.progress_key(job_id), self.checkpoint_key(job_id),
                      self.channel(job_id)],
                args=[
                    json.dumps(stored),
                    PROGRESS_TTL,
                    json.dumps(event),
                    done if done is not None else "",
                    CHECKPOINT_TTL,
                    "SPUBLISH" if self.cluster else "PUBLISH",
                ],
            ),
        )
        return ProgressRecord.model_validate_json(str(raw))

    async def _write_metadata(self, job_id: str, payload: str) -> None:
        await self._call(
            "set_metadata", self._redis.set(self.metadata_key(job_id), payload, ex=METADATA_TTL)
        )

    async def _read(self, key: str) -> str | None:
        value = await self._call("read", self._redis.get(key))
        return None if value is None else str(value)

    async def _read_checkpoint(self, job_id: str) -> dict[str, str]:
        value = await self._call("read", self._redis.hgetall(self.checkpoint_key(job_id)))
        return {str(k): str(v) for k, v in dict(value).items()}

    async def _load(self, job_id: str) -> ProgressRecord | None:
        raw = await self._read(self.progress_key(job_id))
        return None if raw is None else ProgressRecord.model_validate_json(raw)

    async def _load_for_readers(self, job_id: str) -> ProgressRecord | None:
        """What a status server reads and keeps: the record without its owner id."""
        record = await self._load(job_id)
        return None if record is None else record.model_copy(update={"owner": None})

    async def get(self, job_id: str) -> ProgressRecord | None:
        """The job's progress (None for an unknown or expired job). In a status server
        (``events()`` running, the cache on) from this process's cache, without the owner id
        (readers never see it; the cache does not keep it)."""
        if not valid_job_id(job_id):
            return None
        cache = self._cache
        if cache is None:
            return await self._load(job_id)
        return await cache.get(job_id)

    async def refresh(self, job_id: str) -> ProgressRecord | None:
        """The job's progress read from Redis now (one ``GET``), past this process's cache,
        which keeps it if it is newer than what the cache holds."""
        if not valid_job_id(job_id):
            return None
        if self._cache is None:
            return await self._load(job_id)
        record = await self._load_for_readers(job_id)
        if record is not None:
            self._cache.apply(job_id, record)
        return record

    async def ping(self) -> bool:
        with anyio.move_on_after(PING_TIMEOUT):
            try:
                return bool(await self._call("ping", self._redis.ping()))
            except StoreUnavailable:
                return False
        return False

    # -- the status server's side -------------------------------------------------------------

    @asynccontextmanager
    async def events(self) -> AsyncIterator[None]:
        """Listen for updates, hand them to this process's readers, and cache the jobs they
        read. A loss of the subscription drops the cache and, once it is back, has every
        reader read its job again (``Subscription.take_resync()``)."""
        if self._listening:
            raise RuntimeError("this RedisStore is already listening for events")
        listener: PatternListener | ShardListener
        if self.cluster:
            listener = ShardListener(self._redis, self.channel, self,
                                     health_interval=self._health)
            prepare, release = listener.prepare, listener.release
        else:
            listener = PatternListener(self._redis, f"{self.prefix}:events:*", self,
                                       health_interval=self._health)
            prepare, release = None, None
        if self._cache_size:
            self._cache = JobCache(self._load_for_readers, ttl=PROGRESS_TTL, prepare=prepare,
                                   release=release, pinned=self.has_readers,
                                   max_entries=self._cache_size)
        try:
            async with anyio.create_task_group() as tg:
                await tg.start(listener.run)
                self._listening = True
                try:
                    yield
                finally:
                    self._listening = False
                    tg.cancel_scope.cancel()
        finally:
            self._cache = None

    def subscribe(self, job_id: str) -> Subscription:
        if not self._listening:
            raise RuntimeError("subscribe() needs `async with store.events():` running")
        return super().subscribe(job_id)

    # The listener's sink.

    def on_live(self) -> None:
        self.up = True
        if self._cache is not None:
            self._cache.go_live()
        self._resync_all()

    def on_lost(self) -> None:
        self.up = False
        if self._cache is not None:
            self._cache.drop()

    def on_message(self, channel: str, data: str) -> None:
        job_id = self._job_of(channel)
        if job_id is None:
            return
        try:
            record = ProgressRecord.model_validate_json(data)
        except ValueError:
            return
        if self._cache is not None:
            self._cache.apply(job_id, record)
        self._deliver(job_id, record)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._redis.aclose()


def _client_from_url(url: str, cluster: bool) -> Any:
    options: dict[str, Any] = {
        "decode_responses": True,
        "socket_connect_timeout": 2.0,
        "socket_timeout": 5.0,
    }
    if cluster:
        # The cluster client's own retries follow the slot map through failovers; keep them.
        # Its pools cannot wait for a free connection, so allow many per node.
        return RedisCluster.from_url(url, max_connections=MAX_CONNECTIONS * 4, **options)
    # A burst of reads waits for one of MAX_CONNECTIONS connections (up to 5 s) instead of
    # failing (redis-py's default pool refuses a request past its limit).
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=MAX_CONNECTIONS, timeout=5, retry=Retry(NoBackoff(), 1), **options
    )
    return aioredis.Redis.from_pool(pool)
