"""End to end on 127.0.0.1: the clients against a real HTTP server whose job changes status at
known times. The requests must arrive on the policy's schedule: never before the delay the
policy prescribes (a floor a busy machine cannot break), and no later than a busy machine's
slack after it (far less than a wrong step or interval adds over the wait); and the report
must match what the server received and served. How closely the schedule is kept is a figure
for the benchmarks."""

from __future__ import annotations

import time
from typing import Any

import anyio
import httpx
import pytest

from progress_client import AdaptivePolicy, AsyncProgressClient, PollReport, ProgressClient

from .kit import JobServer, Reply, Seen
from .serving import fixture

POLICY = AdaptivePolicy(initial=0.3, step=0.1, maximum=0.8)
TIMELINE = [(0.0, "queued"), (0.5, "running"), (1.2, "rendering"), (1.9, "completed")]
#: How late one request may be on a machine busy with other work (sleeps wake late there).
LATE = 0.5


server = fixture(JobServer)


def expected_gaps(served: list[str | None]) -> list[float]:
    """The delays the policy prescribes after each served status but the last."""
    out: list[float] = []
    unchanged = 0
    prev: str | None = None
    for i, status in enumerate(served[:-1]):
        unchanged = 0 if i == 0 or status != prev else unchanged + 1
        prev = status
        out.append(POLICY.delay(unchanged))
    return out


def check_schedule(seen: list[Seen], report: PollReport) -> None:
    served = [s.served for s in seen]
    assert served[-1] == "completed"
    arrivals = [s.at for s in seen]
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    want = expected_gaps(served)
    assert len(gaps) == len(want)
    for got, exp in zip(gaps, want):
        assert exp - 0.002 <= got <= exp + LATE, (gaps, want)
    # A wait that is late on every request, not once, is a wrong schedule, not a busy machine.
    assert sum(gaps) <= sum(want) + LATE, (gaps, want)
    # The report matches what the server received and served: its elapsed runs from the first
    # request's sending to the last response, so it spans the arrivals.
    assert report.requests == len(seen)
    changes = sum(1 for a, b in zip(served, served[1:]) if a != b)
    assert report.changes == changes == 3
    span = arrivals[-1] - arrivals[0]
    assert span - 0.002 <= report.elapsed <= span + LATE


def test_sync_client_follows_the_schedule(server: JobServer) -> None:
    url = server.job("sync", TIMELINE, etag=False).url
    with ProgressClient(policy=POLICY, baseline=0.1) as client:
        result = client.wait(url, timeout=20)
    check_schedule(server.requests("/jobs/sync"), result.report)
    assert result.report.saved_requests > 0


@pytest.mark.anyio
async def test_async_client_follows_the_schedule(
    server: JobServer, anyio_backend: str
) -> None:
    name = f"async-{anyio_backend}"
    url = server.job(name, TIMELINE, etag=False).url
    async with AsyncProgressClient(policy=POLICY) as client:
        result = await client.wait(url, timeout=20)
    check_schedule(server.requests(f"/jobs/{name}"), result.report)


@pytest.mark.anyio
async def test_async_watch_many_jobs_share_one_pool(
    server: JobServer, anyio_backend: str
) -> None:
    urls = [server.job(f"m{i}-{anyio_backend}", [(0, "running"), (0.3, "done")], etag=False).url
            for i in range(20)]
    results: list[str] = []
    async with AsyncProgressClient(policy=AdaptivePolicy(0.1, 0.05, 0.2)) as client:

        async def one(u: str) -> None:
            results.append((await client.wait(u, timeout=10)).status.status)

        async with anyio.create_task_group() as tg:
            for u in urls:
                tg.start_soon(one, u)
    assert results == ["done"] * 20


@pytest.fixture
def stall_url(server: JobServer) -> str:
    # The head promises 100 bytes; 11 come, and the rest never comes in time.
    stall = Reply(200, b'{"status": ', {"Content-Length": "100"}, hold=3)
    return server.script("stall", [stall]).url


@pytest.mark.anyio
async def test_cancellation_mid_request_stops_at_once_and_frees_the_connection(
    stall_url: str, anyio_backend: str
) -> None:
    http = httpx.AsyncClient()
    async with AsyncProgressClient(client=http) as client:
        start = anyio.current_time()
        with anyio.move_on_after(0.3) as scope:
            await client.wait(stall_url)
        assert scope.cancelled_caught
        assert anyio.current_time() - start < 1.0
    pool: Any = http._transport._pool  # type: ignore[attr-defined]
    assert pool.connections == [] or all(not c.is_available() or c.is_idle()
                                         for c in pool.connections)
    await http.aclose()


def test_sync_deadline_bounds_a_stalled_body(stall_url: str) -> None:
    from progress_client import PollTimeout

    start = time.monotonic()
    with ProgressClient() as client, pytest.raises(PollTimeout):
        client.wait(stall_url, timeout=0.5)
    assert time.monotonic() - start < 1.0
