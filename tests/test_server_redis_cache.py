"""Polls that cost Redis nothing, against a real redis-server: a status-server process reads a
job once, then answers polls, 304s and held long polls from memory, kept exact by its pub/sub
subscription; simultaneous first reads are one read; a dropped subscription drops the cache.
Redis commands are counted by Redis itself (``INFO commandstats``)."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import pytest
import redis.asyncio as aioredis

from progress_client.server import RedisStore, RunningServer, create_app, serve_in_thread

pytestmark = [pytest.mark.redis, pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # redis.asyncio runs on asyncio only


@pytest.fixture
def prefix() -> str:
    return f"c{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def worker(redis_url: str, prefix: str) -> AsyncIterator[RedisStore]:
    store = RedisStore(redis_url, prefix=prefix)
    yield store
    await store.aclose()


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
def server(redis_url: str, prefix: str) -> Iterator[tuple[RunningServer, RedisStore]]:
    store = RedisStore(redis_url, prefix=prefix, health_interval=0.5)
    with serve_in_thread(create_app(store, close_store=True)) as running:
        yield running, store


class Commands:
    """Redis commands by name since the last ``take()`` (connection set-up, our own INFO and
    the subscription's PING health checks excluded: they are the process's, not a job's)."""

    def __init__(self, raw: aioredis.Redis) -> None:
        self.raw = raw
        self.last: dict[str, int] = {}

    async def _now(self) -> dict[str, int]:
        stats: dict[str, Any] = await self.raw.info("commandstats")
        return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in stats.items()}

    async def start(self) -> None:
        self.last = await self._now()

    async def take(self) -> dict[str, int]:
        now = await self._now()
        delta = {k: v - self.last.get(k, 0) for k, v in now.items()}
        self.last = await self._now()
        return {k: v for k, v in delta.items()
                if v and k.split("|")[0] not in ("info", "client", "hello", "select", "ping")}


async def test_polls_and_304s_of_a_cached_job_cost_no_redis_command(
    server: tuple[RunningServer, RedisStore], worker: RedisStore, raw: aioredis.Redis
) -> None:
    running, store = server
    await worker.update("job-1", status="running", progress=10, owner="5e1f-opaque-owner")
    commands = Commands(raw)
    async with httpx.AsyncClient(base_url=running.url, timeout=5) as http:
        await commands.start()
        first = await http.get("/jobs/job-1")
        assert first.status_code == 200 and first.json()["progress"] == 10
        assert await commands.take() == {"get": 1}
        tag = first.headers["etag"]
        for _ in range(30):
            assert (await http.get("/jobs/job-1")).status_code == 200
            assert (await http.get("/jobs/job-1", headers={"If-None-Match": tag})
                    ).status_code == 304
        assert await commands.take() == {}

        # An update reaches the cache through pub/sub: the next poll sees it, still no read.
        await worker.update("job-1", status="rendering", progress=60)
        assert (await commands.take()).get("get") == 1  # the update script's own GET
        for _ in range(50):
            r = await http.get("/jobs/job-1")
            if r.json()["status"] == "rendering":
                break
            await anyio.sleep(0.01)
        assert r.json() == {**r.json(), "status": "rendering", "progress": 60.0}
        assert await commands.take() == {}
        # An unknown job is read once too (its first update will be published).
        for _ in range(5):
            assert (await http.get("/jobs/nobody")).status_code == 404
        assert await commands.take() == {"get": 1}
    cache = running.call(_cache_stats, store)
    assert cache["loads"] == 2 and cache["hits"] >= 60
    # The process keeps what it serves, and not the owner id.
    kept = running.call(store.get, "job-1")
    assert kept is not None and kept.owner is None and kept.status == "rendering"


async def _cache_stats(store: RedisStore) -> dict[str, Any]:
    cache = store.cache
    assert cache is not None
    return {"loads": cache.loads, "hits": cache.hits, "live": cache.live, "size": len(cache)}


async def test_simultaneous_first_reads_are_one_read_per_process(
    redis_url: str, prefix: str, worker: RedisStore, raw: aioredis.Redis
) -> None:
    await worker.update("job-2", status="running")
    apps = [create_app(RedisStore(redis_url, prefix=prefix), close_store=True)
            for _ in range(2)]
    commands = Commands(raw)
    with serve_in_thread(apps[0]) as a, serve_in_thread(apps[1]) as b:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(timeout=10, limits=limits) as http:
            await commands.start()
            async with anyio.create_task_group() as tg:
                for i in range(100):
                    tg.start_soon(http.get, f"{(a, b)[i % 2].url}/jobs/job-2")
            assert await commands.take() == {"get": 2}


async def test_a_held_long_poll_costs_no_redis_command(
    server: tuple[RunningServer, RedisStore], worker: RedisStore, raw: aioredis.Redis
) -> None:
    running, _ = server
    await worker.update("job-3", status="running", progress=5)
    commands = Commands(raw)
    async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
        tag = (await http.get("/jobs/job-3")).headers["etag"]
        await commands.start()
        started = time.monotonic()
        quiet = await http.get("/jobs/job-3", headers={"Prefer": "wait=1", "If-None-Match": tag})
        assert quiet.status_code == 304 and time.monotonic() - started >= 0.95
        assert quiet.headers["preference-applied"] == "wait=1"
        assert await commands.take() == {}

        async def later() -> None:
            await anyio.sleep(0.2)
            await worker.update("job-3", status="completed", progress=100)

        async with anyio.create_task_group() as tg:
            tg.start_soon(later)
            started = time.monotonic()
            r = await http.get("/jobs/job-3", headers={"Prefer": "wait=10", "If-None-Match": tag})
        assert r.status_code == 200 and r.json()["status"] == "completed"
        assert time.monotonic() - started < 1.0
        # The worker's update (one EVALSHA running GET, SET, PUBLISH) and nothing else.
        assert await commands.take() == {"evalsha": 1, "get": 1, "set": 1, "publish": 1}


async def test_a_dropped_subscription_drops_the_cache(
    server: tuple[RunningServer, RedisStore], worker: RedisStore, raw: aioredis.Redis
) -> None:
    running, store = server
    await worker.update("job-4", status="running", progress=1)
    async with httpx.AsyncClient(base_url=running.url, timeout=5) as http:
        assert (await http.get("/jobs/job-4")).json()["progress"] == 1
        assert running.call(_cache_stats, store)["size"] == 1
        # Kill the server's pub/sub connection (Redis stays up): updates published until it
        # is back are missed, so nothing cached may be served after it.
        killed = await raw.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        assert int(killed) >= 1
        with anyio.fail_after(5):
            while running.call(_cache_stats, store)["live"]:
                await anyio.sleep(0.01)
        await worker.update("job-4", status="running", progress=2)  # nobody hears this
        assert (await http.get("/jobs/job-4")).json()["progress"] == 2
        with anyio.fail_after(5):
            while not running.call(_cache_stats, store)["live"]:
                await anyio.sleep(0.01)
        assert running.call(_cache_stats, store)["size"] == 0
        await worker.update("job-4", status="running", progress=3)
        r = None
        for _ in range(100):
            r = await http.get("/jobs/job-4")
            if r.json()["progress"] == 3:
                break
            await anyio.sleep(0.01)
        assert r is not None and r.json()["progress"] == 3
        assert (await http.get("/healthz")).json() == {"status": "ok", "store": "redis"}


async def test_a_burst_of_first_reads_waits_for_a_connection_instead_of_failing(
    server: tuple[RunningServer, RedisStore], worker: RedisStore
) -> None:
    running, _ = server
    jobs = [f"burst-{i}" for i in range(300)]  # more than the store's 64 connections
    for job in jobs:
        await worker.update(job, status="running")
    limits = httpx.Limits(max_connections=300)
    codes: list[int] = []
    async with httpx.AsyncClient(base_url=running.url, timeout=20, limits=limits) as http:

        async def read(job: str) -> None:
            codes.append((await http.get(f"/jobs/{job}")).status_code)

        async with anyio.create_task_group() as tg:
            for job in jobs:
                tg.start_soon(read, job)
    assert codes == [200] * len(jobs)


async def test_a_process_behind_what_the_client_saw_catches_up(
    server: tuple[RunningServer, RedisStore], worker: RedisStore, raw: aioredis.Redis
) -> None:
    """Process A has heard of an update, this one not yet (its message is held back here):
    a poll carrying A's tag waits for the update instead of answering the older state; if
    the message never comes, one read of Redis answers."""
    from progress_client.server.polls import job_etag

    running, store = server
    await worker.update("job-5", status="running", progress=1)
    held_back: list[tuple[str, str]] = []
    deliver = store.on_message

    def late(channel: str, data: str) -> None:
        held_back.append((channel, data))

    async def patch(fn: Any) -> None:
        store.on_message = fn  # type: ignore[method-assign]

    async def release() -> None:
        await anyio.sleep(0.3)
        for channel, data in held_back:
            deliver(channel, data)

    commands = Commands(raw)
    async with httpx.AsyncClient(base_url=running.url, timeout=10) as http:
        assert (await http.get("/jobs/job-5")).json()["progress"] == 1
        running.call(patch, late)
        try:
            newer = await worker.update("job-5", status="running", progress=2)
            await commands.start()
            portal_release = running.portal.start_task_soon(release)
            started = time.monotonic()
            r = await http.get("/jobs/job-5", headers={"If-None-Match": job_etag(newer)})
            waited = time.monotonic() - started
            portal_release.result(5)
            assert r.status_code == 304 and r.headers["etag"] == job_etag(newer)
            assert 0.25 <= waited < 0.9, waited
            assert await commands.take() == {}  # caught up from the subscription

            held_back.clear()
            newest = await worker.update("job-5", status="running", progress=3)
            await commands.start()
            started = time.monotonic()
            r = await http.get("/jobs/job-5", headers={"If-None-Match": job_etag(newest)})
            assert r.status_code == 304 and time.monotonic() - started >= 0.95
            assert await commands.take() == {"get": 1}  # never came: one read of Redis
            assert (await http.get("/jobs/job-5")).json()["progress"] == 3  # and kept
        finally:
            running.call(patch, deliver)
