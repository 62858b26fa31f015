"""RedisStore and the status server against a real redis-server: TTL on every key, one round
trip per update, PII refused with nothing written, sanitization at write time, pub/sub pushing
through two app instances, the clients end to end, and ``progress-client serve --redis-url``."""

from __future__ import annotations

import json
import os
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

from progress_client import AdaptivePolicy, AsyncProgressClient
from progress_client.server import (
    PIIRefused,
    RedisStore,
    StoreUnavailable,
    create_app,
    serve_in_thread,
)
from tests.kit import read_sse_event, wait_healthy

from .conftest import free_port

pytestmark = [pytest.mark.redis, pytest.mark.anyio]

SECRET_ERROR = (
    "render failed: redis://:hunter2pass@10.0.0.7:6379 password=abc123secret "
    "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXZhbHVl sk_live_4eC39HqLyjWDarjtT1 "
    "at /home/alice/worker/render.py"
)
SECRETS = ("hunter2pass", "abc123secret", "sk_live_4eC39HqLyjWDarjtT1", "eyJhbGciOiJIUzI1NiJ9",
           "/home/alice", "10.0.0.7")


@pytest.fixture
def anyio_backend() -> str:
    # redis.asyncio runs on asyncio only.
    return "asyncio"


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


class CountingConnection(aioredis.Connection):
    """Counts writes to the socket: one per round trip (a pipeline or a script is one)."""

    sends = 0

    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        type(self).sends += 1
        await super().send_packed_command(command, check_health)


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def store(redis_url: str, prefix: str) -> AsyncIterator[RedisStore]:
    s = RedisStore(redis_url, prefix=prefix)
    yield s
    await s.aclose()


async def _keys(raw: aioredis.Redis, prefix: str) -> list[str]:
    return sorted([k async for k in raw.scan_iter(match=f"{prefix}:*")])


async def _dump(raw: aioredis.Redis, key: str) -> str:
    kind = await raw.type(key)
    if kind == "hash":
        return json.dumps(await raw.hgetall(key))
    return str(await raw.get(key))


async def test_every_key_has_a_ttl_and_no_secret_is_stored(
    store: RedisStore, raw: aioredis.Redis, prefix: str
) -> None:
    await store.update("job-1", status="running", step="render", progress=55.5,
                       completed_step="images", owner="9b2e6c1d")
    await store.update("job-1", status="failed", error=SECRET_ERROR, completed_step="render")
    await store.set_metadata("job-1", model="sdxl", duration=300, format="mp4",
                             resolution="1920x1080")
    keys = await _keys(raw, prefix)
    assert keys == [store.checkpoint_key("job-1"), store.metadata_key("job-1"),
                    store.progress_key("job-1")]
    ttls = {k: await raw.ttl(k) for k in keys}
    assert all(0 < t <= 24 * 3600 for t in ttls.values()), ttls
    assert 3590 <= ttls[store.progress_key("job-1")] <= 3600
    assert 7190 <= ttls[store.checkpoint_key("job-1")] <= 7200
    assert 86_390 <= ttls[store.metadata_key("job-1")] <= 86_400
    stored = " ".join([await _dump(raw, k) for k in keys])
    for secret in SECRETS:
        assert secret not in stored
    record = await store.get("job-1")
    assert record is not None
    assert (record.status, record.version, record.owner) == ("failed", 2, "9b2e6c1d")
    assert record.error is not None and "[TOKEN]" in record.error and "[PATH]" in record.error
    checkpoint = await store.get_checkpoint("job-1")
    assert checkpoint is not None
    assert (checkpoint.completed, checkpoint.last_step) == ({"images", "render"}, "render")


async def test_one_round_trip_per_update(redis_url: str, raw: aioredis.Redis,
                                         prefix: str) -> None:
    pool = aioredis.ConnectionPool.from_url(
        redis_url, connection_class=CountingConnection, decode_responses=True
    )
    client = aioredis.Redis(connection_pool=pool)
    store = RedisStore(client=client, prefix=prefix)
    try:
        await store.update("job-1", status="queued")  # loads the script once
        before_stats = await raw.info("commandstats")
        CountingConnection.sends = 0
        for i in range(10):
            await store.update("job-1", status="running", progress=i * 10,
                               completed_step=f"step-{i}")
        assert CountingConnection.sends == 10
        after_stats = await raw.info("commandstats")
        calls = after_stats["cmdstat_evalsha"]["calls"] - before_stats["cmdstat_evalsha"]["calls"]
        assert calls == 10
        CountingConnection.sends = 0
        await store.set_metadata("job-1", model="sdxl")
        assert CountingConnection.sends == 1
    finally:
        await client.aclose()
        await pool.aclose()


@pytest.mark.parametrize(
    "fields",
    [
        {"email": "someone@example.com"},
        {"model": "someone@example.com"},
        {"customer_name": "Ann"},
        {"voice": "+44 20 7946 0958"},
        {"model": "5500 0055 5555 5559"},
        {"password": "x"},
    ],
)
async def test_pii_is_refused_and_leaves_no_key(
    store: RedisStore, raw: aioredis.Redis, prefix: str, fields: dict[str, str]
) -> None:
    with pytest.raises(PIIRefused):
        await store.set_metadata("job-1", format="mp4", **fields)
    assert await _keys(raw, prefix) == []


async def test_unreachable_redis_is_a_clean_error() -> None:
    store = RedisStore("redis://:hunter2pass@127.0.0.1:1/0")
    try:
        with pytest.raises(StoreUnavailable) as info:
            await store.update("job-1", status="running")
        assert "hunter2pass" not in str(info.value) and "127.0.0.1" not in str(info.value)
        assert await store.ping() is False
    finally:
        await store.aclose()



async def test_pubsub_pushes_through_two_app_instances(
    redis_url: str, store: RedisStore, prefix: str
) -> None:
    await store.update("job-1", status="running", progress=10, owner="4c1e")
    app_a = create_app(RedisStore(redis_url, prefix=prefix), close_store=True, keepalive=0.5)
    app_b = create_app(RedisStore(redis_url, prefix=prefix), close_store=True, keepalive=0.5)
    with serve_in_thread(app_a) as a, serve_in_thread(app_b) as b:
        async with httpx.AsyncClient(timeout=5) as http:
            async with http.stream("GET", f"{a.url}/jobs/job-1/events") as ra, \
                    http.stream("GET", f"{b.url}/jobs/job-1/events") as rb:
                lines_a, lines_b = ra.aiter_lines(), rb.aiter_lines()
                first_a, first_b = await read_sse_event(lines_a), await read_sse_event(lines_b)
                assert first_a == first_b
                assert first_a["id"] == 1 and first_a["data"]["status"] == "running"
                assert "4c1e" not in json.dumps(first_a)

                written = time.monotonic()
                await store.update("job-1", status="rendering", progress=60)
                await store.update("job-1", status="completed", progress=100)
                with anyio.fail_after(1.0):
                    got_a = [await read_sse_event(lines_a), await read_sse_event(lines_a)]
                    got_b = [await read_sse_event(lines_b), await read_sse_event(lines_b)]
                assert time.monotonic() - written < 1.0
                for got in (got_a, got_b):
                    assert [e["id"] for e in got] == [2, 3]
                    assert [e["data"]["status"] for e in got] == ["rendering", "completed"]
                # Both streams end after the terminal status.
                assert [line async for line in lines_a] == []
                assert [line async for line in lines_b] == []

            resumed = await http.get(f"{b.url}/jobs/job-1/events",
                                     headers={"Last-Event-ID": "2"})
            assert "id: 3" in resumed.text and "id: 2" not in resumed.text


async def test_clients_wait_end_to_end_on_redis(
    redis_url: str, store: RedisStore, prefix: str
) -> None:
    await store.update("job-1", status="queued")
    app = create_app(RedisStore(redis_url, prefix=prefix), close_store=True)
    with serve_in_thread(app) as server:
        url = f"{server.url}/jobs/job-1"
        async with httpx.AsyncClient() as http:
            r = await http.get(url)
            assert r.status_code == 200 and r.json()["status"] == "queued"
            r304 = await http.get(url, headers={"If-None-Match": r.headers["etag"]})
            assert r304.status_code == 304 and r304.headers["etag"] == r.headers["etag"]
            assert (await http.get(f"{server.url}/jobs/nope")).status_code == 404
            health = await http.get(f"{server.url}/healthz")
            assert health.json() == {"status": "ok", "store": "redis"}

        async def worker() -> None:
            for status in ("script", "images", "completed"):
                await anyio.sleep(0.1)
                await store.update("job-1", status=status, completed_step=status)

        policy = AdaptivePolicy(0.02, 0.01, 0.05)
        async with anyio.create_task_group() as tg, \
                AsyncProgressClient(policy=policy, baseline=0.01,
                                    allow_fast_polling=True) as client:
            tg.start_soon(worker)
            result = await client.wait(url, timeout=10)
        assert result.status.status == "completed"
        assert result.report.changes == 3
        assert result.report.not_modified > 0


# -- the command ------------------------------------------------------------------------------


@pytest.fixture
def serve_cli(redis_url: str, prefix: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "progress_client", "serve", "--port", str(port),
         "--redis-url", redis_url, "--prefix", prefix, "--keepalive", "0.5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base, "progress-client serve")
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def test_serve_command_with_redis(
    serve_cli: tuple[str, subprocess.Popen[str]], store: RedisStore
) -> None:
    base, proc = serve_cli
    await store.update("job-1", status="running", step="render", owner="5f0d2a9e-owner")
    async with httpx.AsyncClient(timeout=5) as http:
        health = await http.get(f"{base}/healthz")
        assert health.json() == {"status": "ok", "store": "redis"}
        r = await http.get(f"{base}/jobs/job-1")
        assert r.status_code == 200 and r.json()["status"] == "running"
        assert "5f0d2a9e-owner" not in r.text and "owner" not in r.json()
        r304 = await http.get(f"{base}/jobs/job-1", headers={"If-None-Match": r.headers["etag"]})
        assert r304.status_code == 304
        missing = await http.get(f"{base}/jobs/unknown-job")
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"

        async with http.stream("GET", f"{base}/jobs/job-1/events") as stream:
            lines = stream.aiter_lines()
            assert (await read_sse_event(lines))["data"]["status"] == "running"
            written = time.monotonic()
            await store.update("job-1", status="completed", progress=100)
            with anyio.fail_after(1.0):
                pushed = await read_sse_event(lines)
            assert pushed["data"]["status"] == "completed"
            assert time.monotonic() - written < 1.0

    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode in (0, 130)
    assert "Traceback" not in err
    assert "store: redis" in err


def test_serve_command_with_unreachable_redis_exits_cleanly() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "progress_client", "serve", "--port", str(free_port()),
         "--redis-url", "redis://:hunter2pass@127.0.0.1:1/0"],
        capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode == 4
    assert "cannot reach Redis" in proc.stderr
    assert "hunter2pass" not in proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
