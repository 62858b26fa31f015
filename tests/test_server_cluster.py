"""``RedisStore(cluster=True)`` and ``progress-client serve --redis-cluster`` on a real Redis
Cluster of 3 masters started by the test on loopback ports (``redis-server --cluster-enabled
yes`` x3, ``redis-cli --cluster create``): every key with a TTL, one round trip per update,
personal data refused with nothing written, sharded pub/sub pushing through two app
instances, polls and long polls from the cache, and the command end to end.

Needs redis-server >= 7 and redis-cli (``.ci/run`` installs them). Without them the tests skip
with the reason, unless ``PROGRESS_CLIENT_REQUIRE_REDIS=1`` (CI sets it) makes that a failure."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import httpx
import pytest
import redis.asyncio as aioredis

from benchmarks.procs import free_port, redis_cluster
from progress_client.server import PIIRefused, RedisStore, create_app, serve_in_thread
from tests.kit import read_sse_event, wait_healthy

pytestmark = [pytest.mark.redis, pytest.mark.anyio]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _missing() -> str | None:
    for binary in ("redis-server", "redis-cli"):
        if shutil.which(binary) is None:
            return f"no {binary} on PATH"
    out = subprocess.run(["redis-server", "--version"], capture_output=True, text=True,
                         check=False).stdout
    found = re.search(r"v=(\d+)\.", out)
    if found is None or int(found.group(1)) < 7:
        return f"redis-server >= 7 is needed for sharded pub/sub (found: {out.strip()!r})"
    return None


@pytest.fixture(scope="module")
def cluster_ports() -> Iterator[list[int]]:
    problem = _missing()
    if problem is not None:
        if os.environ.get("PROGRESS_CLIENT_REQUIRE_REDIS") == "1":
            pytest.fail(f"Redis Cluster tests cannot run: {problem}")
        pytest.skip(f"Redis Cluster tests: {problem} (bash .ci/run installs redis-server)")
    with redis_cluster(3) as ports:
        yield ports


@pytest.fixture
def url(cluster_ports: list[int]) -> str:
    return f"redis://127.0.0.1:{cluster_ports[0]}"


@pytest.fixture
def prefix() -> str:
    return f"k{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def nodes(cluster_ports: list[int]) -> AsyncIterator[list[aioredis.Redis]]:
    clients = [aioredis.Redis(port=p, decode_responses=True) for p in cluster_ports]
    yield clients
    for c in clients:
        await c.aclose()


@pytest.fixture
async def worker(url: str, prefix: str) -> AsyncIterator[RedisStore]:
    store = RedisStore(url, cluster=True, prefix=prefix)
    yield store
    await store.aclose()


async def _commands(nodes: list[aioredis.Redis]) -> dict[str, int]:
    """Every node's ``INFO commandstats``, summed by command."""
    total: dict[str, int] = {}
    for node in nodes:
        stats: dict[str, Any] = await node.info("commandstats")
        for name, value in stats.items():
            key = name.removeprefix("cmdstat_")
            total[key] = total.get(key, 0) + int(value["calls"])
    return total


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    skip = ("info", "client", "hello", "cluster", "command", "ping", "select", "readonly")
    return {k: v - before.get(k, 0) for k, v in after.items()
            if v != before.get(k, 0) and k.split("|")[0] not in skip}


JOBS = [f"job-{i}" for i in range(8)]


async def test_cluster_keys_ttl_round_trip_and_pii(
    worker: RedisStore, nodes: list[aioredis.Redis], prefix: str
) -> None:
    for job in JOBS:  # the first update on each node loads the script there
        await worker.update(job, status="queued", owner="7d1f-opaque")
    before = await _commands(nodes)
    for job in JOBS:
        await worker.update(job, status="running", progress=50, completed_step="script")
    assert _delta(before, await _commands(nodes)) == {
        # One EVALSHA per update (one round trip), the rest runs inside it.
        "evalsha": 8, "get": 8, "set": 8, "hset": 8, "expire": 8, "spublish": 8}
    for job in JOBS:
        await worker.set_metadata(job, model="sdxl", duration=300)
    with pytest.raises(PIIRefused):
        await worker.set_metadata("job-pii", model="x", email="someone@example.com")
    with pytest.raises(PIIRefused):
        await worker.set_metadata("job-pii", model="someone@example.com")

    holders = set()
    keys: list[str] = []
    for i, node in enumerate(nodes):
        mine = [k async for k in node.scan_iter(match=f"{prefix}:*")]
        holders |= {i} if mine else set()
        keys += mine
        for key in mine:
            ttl = await node.ttl(key)
            assert 0 < ttl <= 86_400, (key, ttl)
    assert len(holders) >= 2, "8 jobs should land on more than one master"
    assert sorted(keys) == sorted(
        k for job in JOBS for k in (worker.progress_key(job), worker.checkpoint_key(job),
                                    worker.metadata_key(job)))
    assert not any("job-pii" in k for k in keys)
    record = await worker.get("job-3")
    assert record is not None and (record.version, record.owner) == (2, "7d1f-opaque")
    checkpoint = await worker.get_checkpoint("job-3")
    assert checkpoint is not None and checkpoint.completed == {"script"}



async def test_cluster_pushes_through_two_apps_and_serves_from_the_cache(
    url: str, prefix: str, worker: RedisStore, nodes: list[aioredis.Redis]
) -> None:
    jobs = JOBS[:4]
    for job in jobs:
        await worker.update(job, status="running", progress=1)
    apps = [create_app(RedisStore(url, cluster=True, prefix=prefix), close_store=True,
                       keepalive=0.5) for _ in range(2)]
    with serve_in_thread(apps[0]) as a, serve_in_thread(apps[1]) as b:
        async with httpx.AsyncClient(timeout=10) as http:
            health = await http.get(f"{a.url}/healthz")
            assert health.json() == {"status": "ok", "store": "redis-cluster"}
            before = await _commands(nodes)
            for _ in range(5):
                for server in (a, b):
                    for job in jobs:
                        r = await http.get(f"{server.url}/jobs/{job}")
                        assert r.status_code == 200 and r.json()["progress"] == 1
            # One read and one shard subscription per job per process; then memory.
            assert _delta(before, await _commands(nodes)) == {"get": 8, "ssubscribe": 8}

            async with http.stream("GET", f"{a.url}/jobs/{jobs[0]}/events") as ra, \
                    http.stream("GET", f"{b.url}/jobs/{jobs[3]}/events") as rb:
                la, lb = ra.aiter_lines(), rb.aiter_lines()
                assert (await read_sse_event(la))["data"]["progress"] == 1
                assert (await read_sse_event(lb))["data"]["progress"] == 1
                tag = (await http.get(f"{b.url}/jobs/{jobs[1]}")).headers["etag"]

                async def hold() -> httpx.Response:
                    return await http.get(f"{b.url}/jobs/{jobs[1]}", headers={
                        "Prefer": "wait=10", "If-None-Match": tag})

                held: list[httpx.Response] = []
                async with anyio.create_task_group() as tg:
                    tg.start_soon(_append, held, hold())
                    await anyio.sleep(0.3)
                    written = time.monotonic()
                    for job in jobs:
                        await worker.update(job, status="completed", progress=100)
                    with anyio.fail_after(2):
                        got_a, got_b = await read_sse_event(la), await read_sse_event(lb)
                assert time.monotonic() - written < 2.0
                assert got_a["id"] == got_b["id"] == 2
                assert got_a["data"]["status"] == got_b["data"]["status"] == "completed"
                assert held[0].status_code == 200 and held[0].json()["status"] == "completed"
            for server in (a, b):
                for job in jobs:
                    assert (await http.get(f"{server.url}/jobs/{job}")).json()["progress"] == 100


async def _append(out: list[httpx.Response], pending: Any) -> None:
    out.append(await pending)


def test_serve_command_on_a_redis_cluster(url: str, prefix: str) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "progress_client", "serve", "--port", str(port),
         "--redis-url", url, "--redis-cluster", "--prefix", prefix],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, "progress-client serve --redis-cluster")

        async def scenario() -> None:
            store = RedisStore(url, cluster=True, prefix=prefix)
            try:
                await store.update("cli-job", status="running", owner="0f3c9a")
                async with httpx.AsyncClient(timeout=5) as http:
                    health = await http.get(f"{base}/healthz")
                    assert health.json() == {"status": "ok", "store": "redis-cluster"}
                    r = await http.get(f"{base}/jobs/cli-job")
                    assert r.status_code == 200 and "0f3c9a" not in r.text
                    async with http.stream("GET", f"{base}/jobs/cli-job/events") as stream:
                        lines = stream.aiter_lines()
                        assert (await read_sse_event(lines))["data"]["status"] == "running"
                        await store.update("cli-job", status="completed")
                        with anyio.fail_after(2):
                            pushed = await read_sse_event(lines)
                        assert pushed["data"]["status"] == "completed"
            finally:
                await store.aclose()

        anyio.run(scenario)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    assert "Traceback" not in err and "store: redis cluster" in err
