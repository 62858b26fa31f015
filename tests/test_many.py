"""Many jobs in one client: shared poll loops for waits on one job, 1,000 concurrent waits
over one bounded pool, ``wait_many``/``as_completed``, cancellation, and the memory per job."""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

import anyio
import httpx
import pytest

from progress_client import (
    AsyncProgressClient,
    FixedPolicy,
    JobOutcome,
    PollTimeout,
    ProgressClient,
    RequestFailed,
    Update,
)
from progress_client.drivers.shared import SharedWait
from tests.kit import JobServer
from tests.serving import fixture

pytestmark = pytest.mark.anyio

TICK = FixedPolicy(0.05)


server = fixture(JobServer)


def _registry(client: AsyncProgressClient) -> dict[tuple[str, str | None, str | None], SharedWait]:
    return {w.key: w for w in client._waits.waits()}


def _pool_idle(client: AsyncProgressClient) -> bool:
    pool = client._http._transport._pool  # type: ignore[attr-defined]
    return all(c.is_idle() or c.is_closed() for c in pool.connections)


@pytest.mark.e2e
async def test_two_waits_on_one_job_share_one_poll_loop(server: JobServer) -> None:
    server.job("shared", [(0, "queued"), (0.25, "running"), (0.5, "done")], etag=False)
    server.job("solo", [(0, "queued"), (0.25, "running"), (0.5, "done")], etag=False)
    seen: dict[str, list[Update]] = {"a": [], "b": []}
    async with AsyncProgressClient(policy=TICK) as client:

        async def watcher(name: str) -> None:
            async for u in client.watch(server.url("shared"), timeout=10):
                seen[name].append(u)

        async with anyio.create_task_group() as tg:
            tg.start_soon(watcher, "a")
            tg.start_soon(watcher, "b")
        solo = await client.wait(server.url("solo"), timeout=10)
        assert _registry(client) == {}
    shared_requests = len(server.requests("/jobs/shared"))
    # One loop: what one wait alone costs (give or take the schedule's last tick), not two.
    assert abs(shared_requests - solo.report.requests) <= 1
    assert seen["a"][-1].report.requests == shared_requests
    # Every caller got every update.
    assert [u.status.status for u in seen["a"]] == [u.status.status for u in seen["b"]]
    assert [u.status.status for u in seen["a"] if u.changed] == ["queued", "running", "done"]


@pytest.mark.e2e
async def test_driver_leaving_hands_the_loop_over(server: JobServer) -> None:
    server.job("handover", [(0, "queued"), (1.0, "done")], etag=False)
    url = server.url("handover")
    async with AsyncProgressClient(policy=TICK) as client:
        outcomes: dict[str, Any] = {}

        async def first() -> None:
            try:
                await client.wait(url, timeout=0.5)  # the driver: it leaves early
            except PollTimeout as exc:
                outcomes["first"] = exc

        async def second() -> None:
            # Join the first caller's running wait (not a sleep's guess of when it runs: a
            # busy machine may start it late).
            while not _registry(client):
                await anyio.sleep(0.005)
            outcomes["second"] = await client.wait(url, timeout=10)

        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            tg.start_soon(second)
        late = await client.wait(url, timeout=10)  # the job is over: a fresh loop
    assert isinstance(outcomes["first"], PollTimeout)
    assert outcomes["first"].resume_token is not None
    result = outcomes["second"]
    assert result.status.status == "done"
    # One schedule throughout: about 1 s / 0.05 s polls, not a restarted loop per caller.
    assert result.report.requests == len(server.requests("/jobs/handover")) - 1
    assert late.report.requests == 1


@pytest.mark.e2e
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # the loop is backend-neutral: one run
async def test_a_thousand_concurrent_waits_in_one_client(server: JobServer) -> None:
    urls = []
    for i in range(1000):
        server.job(f"m{i}", [(0, "queued"), (0.1, "done")], etag=False)
        urls.append(server.url(f"m{i}"))
    requests: list[int | None] = []
    async with AsyncProgressClient(
        # 8 connections: httpcore's pool scans its connections on every request, so on
        # loopback a small pool is the fast one; the other 992 waits queue in FIFO order.
        policy=FixedPolicy(0.2), max_concurrency=8, on_request=lambda e: requests.append(
            e.status_code)
    ) as client:
        with anyio.fail_after(60):
            outcomes = await client.wait_many(urls, timeout=30)
        assert _pool_idle(client) and _registry(client) == {}
    assert [o.url for o in outcomes] == urls
    failed = [o for o in outcomes if not o.ok]
    assert failed == []  # no pool timeout, no error: the waits queued
    assert all(o.unwrap().status.status == "done" for o in outcomes)
    assert server.max_active <= 8  # bounded concurrency
    assert len(requests) == len(server.seen) and set(requests) == {200}


@pytest.mark.e2e
async def test_wait_many_and_as_completed_report_errors_in_place(server: JobServer) -> None:
    def jobs(prefix: str) -> list[str]:
        server.job(f"{prefix}slow", [(0, "queued"), (0.4, "done")], etag=False)
        server.job(f"{prefix}fast", [(0, "queued"), (0.1, "done")], etag=False)
        server.job(f"{prefix}bad", [(0, "queued"), (0.1, "failed")], etag=False)
        return [server.url(f"{prefix}{n}") for n in ("slow", "missing", "fast", "bad")]

    urls = jobs("w-")
    async with AsyncProgressClient(policy=TICK) as client:
        outcomes = await client.wait_many(urls, timeout=10)
        order: list[JobOutcome] = []
        async with client.as_completed(jobs("c-"), timeout=10) as done:
            async for outcome in done:
                order.append(outcome)
    assert [o.url for o in outcomes] == urls
    assert [o.ok for o in outcomes] == [True, False, True, False]
    assert isinstance(outcomes[1].error, RequestFailed)
    with pytest.raises(RequestFailed):
        outcomes[1].unwrap()
    assert order[0].url == server.url("c-missing")  # a 404 ends at once
    assert order[-1].url == server.url("c-slow")
    assert sorted(o.ok for o in order) == [False, False, True, True]


@pytest.mark.e2e
async def test_leaving_as_completed_early_cancels_the_rest(server: JobServer) -> None:
    server.job("quick", [(0, "done")], etag=False)
    server.job("never", [(0, "queued")], etag=False)
    async with AsyncProgressClient(policy=TICK) as client:
        with anyio.fail_after(5):
            async with client.as_completed([server.url("never"), server.url("quick")]) as done:
                async for outcome in done:
                    assert outcome.url == server.url("quick")
                    break
        assert _registry(client) == {} and _pool_idle(client)


@pytest.mark.e2e
async def test_cancellation_stops_at_once_and_leaks_no_connection(server: JobServer) -> None:
    server.job("stuck", [(0, "queued")], etag=False)
    server.job("stuck-sse", [(0, "queued")])
    async with AsyncProgressClient(policy=FixedPolicy(5.0)) as client:
        for url, events in ((server.url("stuck"), None),
                            (server.url("stuck-sse"), server.events_url("stuck-sse"))):
            with anyio.move_on_after(0.3) as scope:
                await client.wait(url, events_url=events)
            assert scope.cancelled_caught
            assert _registry(client) == {}
            assert _pool_idle(client)


def test_sync_wait_many_runs_on_threads(server: JobServer) -> None:
    for i in range(20):
        server.job(f"s{i}", [(0, "queued"), (0.2, "done")], etag=False)
    urls = [server.url(f"s{i}") for i in range(20)] + [server.url("nope")]
    with ProgressClient(policy=TICK, max_concurrency=20) as client:
        outcomes = client.wait_many(urls, timeout=10)
    assert [o.ok for o in outcomes] == [True] * 20 + [False]


async def test_memory_per_waiting_job_is_small() -> None:
    """Measured with tracemalloc over an in-process transport, so only the client's side
    counts: 1,000 waits parked between polls (engine, shared loop, task, queue)."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "queued"})

    n = 1000
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async with http, AsyncProgressClient(client=http, policy=FixedPolicy(3600)) as client:
        gc.collect()
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            async with anyio.create_task_group() as tg:
                for i in range(n):
                    tg.start_soon(client.wait, f"http://jobs.test/{i}")
                while len(_registry(client)) < n or any(
                    s.engine.state.counts.requests == 0 for s in _registry(client).values()
                ):
                    await anyio.sleep(0.01)
                await anyio.sleep(0.05)
                gc.collect()
                per_job = (tracemalloc.get_traced_memory()[0] - base) / n
                tg.cancel_scope.cancel()
        finally:
            tracemalloc.stop()
    print(f"memory per waiting job: {per_job / 1024:.1f} KiB")
    assert per_job < 24 * 1024
