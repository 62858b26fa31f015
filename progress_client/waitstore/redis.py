"""Durable waits in Redis (redis-py; its asyncio client for ``AsyncProgressClient``), for many
processes on one store.

Layout under ``prefix`` (``progress:durable``): ``{prefix}:w:{key}`` a record's JSON;
``{prefix}:open`` a sorted set of the unfinished keys (score: when registered);
``{prefix}:lease:{key}`` who runs the wait, ``SET NX PX`` with a lease of ``lease`` seconds,
extended by every checkpoint (a Lua check-and-extend, so only the holder extends it). A wait
whose lease ran out, or whose holder on this host is no longer a process, is claimed by the
next ``resume``. Each write is one Lua script: one round trip, atomic.

The async methods use redis-py's asyncio client (so ``AsyncProgressClient`` on asyncio); that
client belongs to the event loop that first used it: ``await store.aclose()`` (or ``async with
store``) before the loop ends.
"""

from __future__ import annotations

import time
from typing import Any

from progress_client.core.sanitize import public_url

from .base import KeyInUse, WaitStore, owner_is_gone, translated
from .records import WaitRecord

__all__ = ["RedisWaitStore"]

# KEYS: record, open set, lease. ARGV: record JSON, key, created, phase, owner, lease ms, mode.
# mode "add": refuse an unfinished record; "save": write (extend the lease if ours).
_WRITE = """
if ARGV[7] == 'add' then
  local cur = redis.call('GET', KEYS[1])
  if cur and cjson.decode(cur)['phase'] ~= 'done' then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1])
if ARGV[4] == 'done' then
  redis.call('ZREM', KEYS[2], ARGV[2])
  if redis.call('GET', KEYS[3]) == ARGV[5] then redis.call('DEL', KEYS[3]) end
else
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
  if ARGV[5] ~= '' then
    local holder = redis.call('GET', KEYS[3])
    if ARGV[7] == 'add' or holder == ARGV[5] or not holder then
      redis.call('SET', KEYS[3], ARGV[5], 'PX', ARGV[6])
    end
  end
end
return 1
"""

# KEYS: record, lease, fleet members. ARGV: owner, lease ms, the holder a claim may replace
# ('' : none), now ms ('' : not a fleet). In a fleet, a holder whose membership ran out (a
# member killed or stopped: its score is when it runs out) is replaced at once, without
# waiting for each of its leases to run out (a checkpoint may have extended one later).
_CLAIM = """
local cur = redis.call('GET', KEYS[1])
if not cur then return false end
local rec = cjson.decode(cur)
if rec['phase'] == 'done' then return false end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[1] and holder ~= ARGV[3] then
  if ARGV[4] == '' then return false end
  local until_ms = redis.call('ZSCORE', KEYS[3], holder)
  if not until_ms or tonumber(until_ms) >= tonumber(ARGV[4]) then return false end
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return cur
"""

# KEYS: leases. ARGV: owner, lease ms. Extends the leases still ours; returns the others.
_RENEW = """
local lost = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
  else
    table.insert(lost, i)
  end
end
return lost
"""

# KEYS: lease. ARGV: owner.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def _where(store: RedisWaitStore) -> str:
    return f"the Redis store at {public_url(store.url)}"


def _redis_errors(func: Any) -> Any:
    try:
        import redis.exceptions  # optional extra [server]: redis-py
    except ImportError:  # the store says so when it is built
        return func
    return translated(redis.exceptions.RedisError, _where)(func)


class RedisWaitStore(WaitStore):
    """Durable waits in the Redis at ``url`` (``redis://host:6379/0``). ``lease``: seconds a
    process holds a wait without writing to it (a checkpoint extends it)."""

    def __init__(self, url: str, *, prefix: str = "progress:durable",
                 lease: float = 600.0) -> None:
        try:
            # optional extra [server]: redis-py (without it, the error below names the extra)
            import redis
            import redis.asyncio
        except ImportError:
            raise ImportError("the Redis store needs redis-py: pip install "
                              "'progress-client[server]'") from None
        self.url = url
        self.prefix = prefix
        self.lease = lease
        self.stale_after = lease
        self._sync: Any = redis.Redis.from_url(url)
        self._async: Any = None
        self._async_pool = redis.asyncio.BlockingConnectionPool
        self._async_redis = redis.asyncio.Redis

    def __repr__(self) -> str:
        return f"RedisWaitStore({public_url(self.url)!r})"

    def _keys(self, key: str) -> tuple[str, str, str]:
        return f"{self.prefix}:w:{key}", f"{self.prefix}:open", f"{self.prefix}:lease:{key}"

    def _write_args(self, record: WaitRecord, mode: str) -> tuple[list[str], list[Any]]:
        record.updated = time.time()
        rkey, open_key, lease = self._keys(record.key)
        return [rkey, open_key, lease], [
            record.to_json(), record.key, record.created, record.phase, record.owner or "",
            int(self.lease * 1000), mode,
        ]

    def _may_replace(self, holder: bytes | None) -> str:
        """The holder of a lease a claim may take over: one on this host whose process is
        gone (its lease would otherwise run on for up to ``lease`` seconds)."""
        if holder is None:
            return ""
        probe = WaitRecord(key="-", kind="wait", url="-", owner=holder.decode())
        return holder.decode() if owner_is_gone(probe, stale_after=float("inf")) else ""

    # -- blocking ------------------------------------------------------------------------

    @_redis_errors
    def add(self, record: WaitRecord) -> None:
        keys, args = self._write_args(record, "add")
        if not self._sync.eval(_WRITE, len(keys), *keys, *args):
            raise KeyInUse(f"a wait with key {record.key!r} is registered and not finished")
        if record.hook_token is not None:
            self._sync.set(self._hook_key(record.hook_token), record.key)

    @_redis_errors
    def save(self, record: WaitRecord) -> None:
        keys, args = self._write_args(record, "save")
        self._sync.eval(_WRITE, len(keys), *keys, *args)

    @_redis_errors
    def get(self, key: str) -> WaitRecord | None:
        raw = self._sync.get(self._keys(key)[0])
        return None if raw is None else WaitRecord.from_json(raw)

    @_redis_errors
    def unfinished(self) -> list[WaitRecord]:
        keys = self._sync.zrange(f"{self.prefix}:open", 0, -1)
        if not keys:
            return []
        raws = self._sync.mget([self._keys(k.decode())[0] for k in keys])
        return [WaitRecord.from_json(r) for r in raws if r is not None]

    @_redis_errors
    def claim(self, key: str, owner: str) -> WaitRecord | None:
        rkey, _, lease = self._keys(key)
        replace = self._may_replace(self._sync.get(lease))
        raw = self._sync.eval(_CLAIM, 3, rkey, lease, self._members_key, owner,
                              int(self.lease * 1000), replace, "")
        return self._claimed(raw, owner)

    @_redis_errors
    def release(self, key: str, owner: str) -> None:
        self._sync.eval(_RELEASE, 1, self._keys(key)[2], owner)

    @_redis_errors
    def delete(self, key: str) -> None:
        rkey, open_key, lease = self._keys(key)
        self._sync.delete(rkey, lease)
        self._sync.zrem(open_key, key)

    def close(self) -> None:
        self._sync.close()

    # -- async ---------------------------------------------------------------------------

    #: Connections the async client opens at most; more calls at once (a fleet's many
    #: checkpoints) wait for one, up to ``POOL_WAIT`` seconds, instead of failing.
    POOL_SIZE = 32
    POOL_WAIT = 60.0

    def _aclient(self) -> Any:
        if self._async is None:
            pool = self._async_pool.from_url(self.url, max_connections=self.POOL_SIZE,
                                             timeout=self.POOL_WAIT)
            self._async = self._async_redis.from_pool(pool)
        return self._async

    @_redis_errors
    async def aadd(self, record: WaitRecord) -> None:
        keys, args = self._write_args(record, "add")
        if not await self._aclient().eval(_WRITE, len(keys), *keys, *args):
            raise KeyInUse(f"a wait with key {record.key!r} is registered and not finished")
        if record.hook_token is not None:
            await self._aclient().set(self._hook_key(record.hook_token), record.key)

    @_redis_errors
    async def asave(self, record: WaitRecord) -> None:
        keys, args = self._write_args(record, "save")
        await self._aclient().eval(_WRITE, len(keys), *keys, *args)

    @_redis_errors
    async def aget(self, key: str) -> WaitRecord | None:
        raw = await self._aclient().get(self._keys(key)[0])
        return None if raw is None else WaitRecord.from_json(raw)

    @_redis_errors
    async def aunfinished(self) -> list[WaitRecord]:
        r = self._aclient()
        keys = await r.zrange(f"{self.prefix}:open", 0, -1)
        if not keys:
            return []
        raws = await r.mget([self._keys(k.decode())[0] for k in keys])
        return [WaitRecord.from_json(x) for x in raws if x is not None]

    @_redis_errors
    async def aclaim(self, key: str, owner: str, *, fleet: bool = False) -> WaitRecord | None:
        """``fleet``: also take a wait whose holder is a fleet member whose membership ran
        out (see ``ajoin``)."""
        r = self._aclient()
        rkey, _, lease = self._keys(key)
        replace = self._may_replace(await r.get(lease))
        now = str(int(time.time() * 1000)) if fleet else ""
        raw = await r.eval(_CLAIM, 3, rkey, lease, self._members_key, owner,
                           int(self.lease * 1000), replace, now)
        return self._claimed(raw, owner)

    @_redis_errors
    async def arelease(self, key: str, owner: str) -> None:
        await self._aclient().eval(_RELEASE, 1, self._keys(key)[2], owner)

    @_redis_errors
    async def adelete(self, key: str) -> None:
        r = self._aclient()
        rkey, open_key, lease = self._keys(key)
        await r.delete(rkey, lease)
        await r.zrem(open_key, key)

    # -- a fleet (``fleet.Fleet``): leases kept alive, webhooks relayed to the owner ---------

    def _hook_key(self, token: str) -> str:
        return f"{self.prefix}:hook:{token}"

    @property
    def wake_channel(self) -> str:
        return f"{self.prefix}:wake"

    @_redis_errors
    async def arenew(self, keys: list[str], owner: str) -> list[str]:
        """Extend the leases of ``keys`` that ``owner`` still holds; the keys it lost."""
        if not keys:
            return []
        leases = [self._keys(k)[2] for k in keys]
        lost = await self._aclient().eval(_RENEW, len(leases), *leases, owner,
                                          int(self.lease * 1000))
        return [keys[int(i) - 1] for i in lost]

    @property
    def _members_key(self) -> str:
        return f"{self.prefix}:members"

    async def ajoin(self, owner: str) -> int:
        """Say ``owner`` is alive for one lease; how many processes are (``{prefix}:members``,
        a sorted set scored by when each one's membership runs out)."""
        return int((await self.abeat(owner))[0])

    @_redis_errors
    async def abeat(self, owner: str) -> tuple[int, float | None]:
        """Say ``owner`` is alive for one lease: how many processes are, and in how many
        seconds the first other one's membership runs out if it does not say so again (then
        its waits may be claimed at once: ``aclaim(..., fleet=True)``), or ``None``. A member
        whose membership ran out stays in the set, scored in the past, for ten leases, so that
        a claim can tell it from a process that never was a member."""
        now_ms = int(time.time() * 1000)
        lease_ms = int(self.lease * 1000)
        key = self._members_key
        async with self._aclient().pipeline(transaction=True) as pipe:
            pipe.zadd(key, {owner: now_ms + lease_ms})
            pipe.zremrangebyscore(key, "-inf", now_ms - 10 * lease_ms)
            pipe.zrangebyscore(key, now_ms, "+inf", withscores=True)
            *_, alive = await pipe.execute()
        others = [score for member, score in alive if member.decode() != owner]
        soonest = None if not others else max(0.0, (min(others) - now_ms) / 1000)
        return len(alive), soonest

    @_redis_errors
    async def afind_hook(self, token: str) -> WaitRecord | None:
        """The wait whose webhook URL ends with ``token``."""
        key = await self._aclient().get(self._hook_key(token))
        return None if key is None else await self.aget(key.decode())

    @_redis_errors
    async def afirst_seen(self, message_id: str, window: float) -> bool:
        """Whether ``message_id`` is new to the whole fleet (remembered ``window`` s)."""
        return bool(await self._aclient().set(f"{self.prefix}:seen:{message_id}", b"1",
                                              nx=True, ex=max(1, int(window))))

    @_redis_errors
    async def apublish_wake(self, token: str) -> None:
        await self._aclient().publish(self.wake_channel, token)

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.aclose()
            self._async = None
        self._sync.close()

    @staticmethod
    def _claimed(raw: Any, owner: str) -> WaitRecord | None:
        if not raw:
            return None
        record = WaitRecord.from_json(raw)
        record.owner = owner
        return record


