"""Redis dies mid-job and comes back empty, with a real redis-server of the test's own (a
password on it, SIGKILL as a crash, the same port after): /healthz goes 503 within 2 s and 200
within 5 s of the restart; the worker's update fails with a clean ``StoreUnavailable`` while
Redis is down and succeeds after; an event stream and a long poll held across the restart
deliver every later update and the terminal state, although the versions start again at 1;
no poll is answered with a state older than what Redis holds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest

from benchmarks.procs import RedisProcess
from progress_client.server import RedisStore, StoreUnavailable, create_app, serve_in_thread
from tests.kit import read_sse_event

pytestmark = [pytest.mark.redis, pytest.mark.anyio]

PASSWORD = "hunter2-redis-pass"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def redis_proc() -> Iterator[RedisProcess]:
    with RedisProcess(extra=["--requirepass", PASSWORD]) as proc:
        yield proc



async def _until(check: Any, limit: float, step: float = 0.02) -> float:
    """Seconds until ``await check()`` is true (fails after ``limit``)."""
    started = time.monotonic()
    with anyio.fail_after(limit):
        while not await check():
            await anyio.sleep(step)
    return time.monotonic() - started


async def _subscribed(store: RedisStore) -> bool:
    return store.cache is not None and store.cache.live


async def test_redis_restart_mid_job(redis_proc: RedisProcess) -> None:
    url = f"redis://:{PASSWORD}@127.0.0.1:{redis_proc.port}/0"
    worker = RedisStore(url, prefix="r")
    served = RedisStore(url, prefix="r", health_interval=0.5)
    app = create_app(served, close_store=True, keepalive=0.5)
    timings: dict[str, float] = {}
    await worker.update("job", status="queued", progress=0)
    await worker.update("job", status="running", progress=20)
    with serve_in_thread(app) as server:
        base = f"{server.url}/jobs/job"
        async with httpx.AsyncClient(timeout=30) as http, \
                http.stream("GET", f"{base}/events") as stream, \
                anyio.create_task_group() as tg:
            lines = stream.aiter_lines()
            first = await read_sse_event(lines)
            assert (first["id"], first["data"]["progress"]) == (2, 20)
            before = await http.get(base)
            assert before.json()["progress"] == 20

            held: list[httpx.Response] = []

            async def long_poll() -> None:
                held.append(await http.get(base, headers={
                    "Prefer": "wait=30", "If-None-Match": before.headers["etag"]}))

            tg.start_soon(long_poll)
            await anyio.sleep(0.2)

            async def health(code: int) -> bool:
                return (await http.get(f"{server.url}/healthz")).status_code == code

            redis_proc.kill()
            timings["healthz 503 after the kill"] = await _until(lambda: health(503), 2.0)
            with pytest.raises(StoreUnavailable) as info:
                await worker.update("job", status="running", progress=30)
            message = str(info.value)
            assert "Redis unreachable during update" in message
            assert PASSWORD not in message and "127.0.0.1" not in message
            assert str(redis_proc.port) not in message
            # Down (for a second: the subscription's reconnects back off to 1 s): a poll is a
            # 503, never the last state this process had cached.
            for _ in range(10):
                down = await http.get(base)
                assert down.status_code == 503 and PASSWORD not in down.text
                await anyio.sleep(0.1)

            redis_proc.start()  # the same port, empty
            restarted = time.monotonic()
            timings["healthz 200 after the restart"] = await _until(lambda: health(200), 5.0)
            # Redis holds nothing: the job is unknown, not its cached state.
            gone = await http.get(base)
            assert gone.status_code == 404
            assert not held  # the long poll still waits

            live = server.call(_subscribed, served)
            record = await worker.update("job", status="rendering", progress=60)
            timings["worker update succeeds after the restart"] = time.monotonic() - restarted
            assert record.version == 1  # the versions started again

            with anyio.fail_after(5):
                pushed = await read_sse_event(lines)
            assert (pushed["id"], pushed["data"]["status"]) == (1, "rendering")
            with anyio.fail_after(5):
                while not held:
                    await anyio.sleep(0.01)
            assert held[0].status_code == 200 and held[0].json()["status"] == "rendering"
            assert held[0].headers["preference-applied"] == "wait=30"
            timings["stream and long poll delivered after the restart"] = (
                time.monotonic() - restarted)
            now = await http.get(base)
            assert now.json()["progress"] == 60

            await worker.update("job", status="completed", progress=100)
            with anyio.fail_after(5):
                last = await read_sse_event(lines)
            assert (last["id"], last["data"]["status"]) == (2, "completed")
            assert [line async for line in lines if line.startswith("data")] == []
            after = await http.get(base, headers={
                "Prefer": "wait=10", "If-None-Match": now.headers["etag"]})
            assert after.status_code == 200 and after.json()["status"] == "completed"
    await worker.aclose()
    print("restart timings (s):", {k: round(v, 3) for k, v in timings.items()},
          "- the first update after the restart reached the stream by",
          "its message" if live else "the resync (published before the re-subscription)")
    assert timings["healthz 503 after the kill"] < 2.0
    assert timings["healthz 200 after the restart"] < 5.0
