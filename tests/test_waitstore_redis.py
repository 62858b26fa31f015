"""The Redis store of durable waits on a real redis-server: the same waits as on SQLite, the
lease that says which process runs a wait (``SET NX PX``, a Lua check-and-extend), and no
credential in Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
import redis

from progress_client import AsyncProgressClient, FixedPolicy, ProgressClient
from progress_client.waitstore import DurableOutcome, KeyInUse, RedisWaitStore, WaitRecord
from tests.serving import fixture
from tests.test_waitstore import SECRET, _phases
from tests.vendors import VendorServer

pytestmark = pytest.mark.redis


server = fixture(VendorServer)


@pytest.fixture
def store(redis_url: str) -> Iterator[RedisWaitStore]:
    s = RedisWaitStore(redis_url, prefix=f"test:{uuid.uuid4().hex}", lease=30)
    yield s
    s.close()


def _client() -> ProgressClient:
    return ProgressClient(policy=FixedPolicy(0.05), headers={"Authorization": f"Bearer {SECRET}"})


def test_sync_run_and_no_secret_in_redis(
    server: VendorServer, store: RedisWaitStore, redis_url: str
) -> None:
    job = server.script("replicate", _phases(3))
    seen: list[DurableOutcome] = []
    with _client() as client:
        out = client.durable(store, handler=seen.append, checkpoint_every=0).run(
            server.start_url("replicate"), key="r1", json={"input": {}}, profile="replicate",
            metadata={"chat": 3})
    assert out.ok and seen == [out] and job.starts == 1
    assert out.report.requests == job.requests
    assert store.get("r1").phase == "done"  # type: ignore[union-attr]
    assert store.unfinished() == []
    raw = redis.Redis.from_url(redis_url)
    try:
        keys = raw.keys(f"{store.prefix}:*")
        assert keys  # the record is there
        for key in keys:
            value = raw.dump(key) or b""
            assert SECRET.encode() not in value
    finally:
        raw.close()


def test_async_wait_then_resume_after_a_stop(server: VendorServer, store: RedisWaitStore) -> None:
    job = server.script("replicate", _phases(6), started=True)

    class Stop(BaseException):
        pass

    def stop_at_third(record: WaitRecord, update: Any) -> None:
        if update.report.requests == 3:
            raise Stop

    async def first() -> None:
        async with AsyncProgressClient(policy=FixedPolicy(0.05)) as client:
            try:
                await client.durable(store, checkpoint_every=0).wait(
                    server.status_url(job), key="w", profile="replicate",
                    on_update=stop_at_third)
            finally:
                await store.aclose()  # redis-py's asyncio client belongs to its loop

    with pytest.raises(Stop):
        anyio.run(first)
    record = store.get("w")
    assert record is not None and record.phase == "waiting" and record.requests == 3

    async def again() -> list[DurableOutcome]:
        async with AsyncProgressClient(policy=FixedPolicy(0.05)) as client, store:
            return await client.durable(store).resume_all()

    (out,) = anyio.run(again)
    assert out.ok and out.report.requests == job.requests
    assert store.unfinished() == []


def test_key_in_use(store: RedisWaitStore) -> None:
    store.add(WaitRecord(key="k", kind="wait", url="http://x/", owner="h:1"))
    with pytest.raises(KeyInUse):
        store.add(WaitRecord(key="k", kind="wait", url="http://x/"))

    async def again() -> None:
        async with store:
            await store.aadd(WaitRecord(key="k", kind="wait", url="http://x/"))

    with pytest.raises(KeyInUse):
        anyio.run(again)


def test_leases(store: RedisWaitStore, redis_url: str) -> None:
    host = os.uname().nodename
    live = f"{host}:{os.getppid()}"
    dead_pid = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout.strip()
    store.add(WaitRecord(key="live", kind="wait", url="http://x/", owner=live))
    store.add(WaitRecord(key="dead", kind="wait", url="http://x/", owner=f"{host}:{dead_pid}"))
    store.add(WaitRecord(key="far", kind="wait", url="http://x/", owner="elsewhere:1"))
    assert store.claim("live", "me:1") is None  # its process runs: the lease holds
    assert store.claim("dead", "me:1") is not None  # its process is gone: taken over
    assert store.claim("far", "me:1") is None  # another host: until the lease runs out
    raw = redis.Redis.from_url(redis_url)
    try:
        raw.pexpire(f"{store.prefix}:lease:far", 1)
        anyio.run(anyio.sleep, 0.05)
    finally:
        raw.close()
    assert store.claim("far", "me:1") is not None
    store.release("far", "me:1")
    assert store.claim("far", "other:2") is not None


def test_a_fleet_claims_the_waits_of_a_member_whose_membership_ran_out(
    store: RedisWaitStore, redis_url: str
) -> None:
    raw = redis.Redis.from_url(redis_url)
    for key in ("a", "b", "c"):
        store.add(WaitRecord(key=key, kind="wait", url="http://127.0.0.1:9/x"))
    members = f"{store.prefix}:members"

    async def main() -> list[Any]:
        async with store:
            count, soonest = await store.abeat("far-host:1")  # joins; no other member yet
            assert (count, soonest) == (1, None)
            await store.abeat("far-host:2")
            count, soonest = await store.abeat("far-host:1")
            assert count == 2 and soonest is not None and 29 < soonest <= 30
            # far-host:2 holds "a" and is alive; far-host:3 holds "b" and its membership ran
            # out (killed on another machine); "c" is held by a process never a member.
            raw.set(f"{store.prefix}:lease:a", "far-host:2", px=30_000)
            raw.set(f"{store.prefix}:lease:b", "far-host:3", px=30_000)
            raw.set(f"{store.prefix}:lease:c", "far-host:4", px=30_000)
            raw.zadd(members, {"far-host:3": 1000})  # ran out long ago (kept ten leases)
            plain = await store.aclaim("b", "far-host:1")  # not a fleet: the lease holds
            got = [await store.aclaim(k, "far-host:1", fleet=True) for k in ("a", "b", "c")]
            assert (await store.abeat("far-host:1"))[0] == 2  # the dead one is not counted
            return [plain, *got]

    try:
        plain, a, b, c = anyio.run(main)
        assert plain is None and a is None and c is None
        assert b is not None and b.owner == "far-host:1"
        assert raw.get(f"{store.prefix}:lease:b") == b"far-host:1"
    finally:
        raw.close()
