"""AsyncProgressClient over respx on asyncio and trio: results, schedule, errors, cancellation."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
import respx
import trio.testing

from progress_client import (
    AdaptivePolicy,
    AsyncProgressClient,
    FixedPolicy,
    JobFailed,
    PollTimeout,
    RequestFailed,
    TooManyErrors,
)

URL = "https://api.example.test/jobs/7"
pytestmark = pytest.mark.anyio

# No real sleeping: the zero policy sends back to back; schedule tests run on trio's MockClock.
ZERO = FixedPolicy(0.0)


def statuses(*words: str) -> list[httpx.Response]:
    return [httpx.Response(200, json={"status": w}) for w in words]


async def test_wait_success() -> None:
    with respx.mock:
        respx.get(URL).mock(side_effect=statuses("queued", "running", "done"))
        async with AsyncProgressClient(policy=ZERO, allow_fast_polling=True) as client:
            result = await client.wait(URL)
    assert result.status.status == "done"
    assert result.report.requests == 3 and result.report.changes == 2


async def test_watch_updates() -> None:
    with respx.mock:
        respx.get(URL).mock(side_effect=statuses("queued", "queued", "completed"))
        async with AsyncProgressClient(policy=ZERO, allow_fast_polling=True) as client:
            updates = [u async for u in client.watch(URL)]
    assert [(u.status.status, u.changed) for u in updates] == [
        ("queued", True),
        ("queued", False),
        ("completed", True),
    ]


async def test_failed_and_fatal() -> None:
    with respx.mock:
        respx.get(URL).mock(side_effect=statuses("running", "errored"))
        async with AsyncProgressClient(policy=ZERO, allow_fast_polling=True) as client:
            with pytest.raises(JobFailed):
                await client.wait(URL)
    with respx.mock:
        respx.get(URL).mock(return_value=httpx.Response(404))
        async with AsyncProgressClient(policy=ZERO, allow_fast_polling=True) as client:
            with pytest.raises(RequestFailed, match="404"):
                await client.wait(URL)


async def test_errors_then_give_up() -> None:
    with respx.mock:
        respx.get(URL).mock(side_effect=httpx.ConnectError("refused"))
        async with AsyncProgressClient(policy=ZERO,
                                       allow_fast_polling=True, max_consecutive_errors=4) as client:
            with pytest.raises(TooManyErrors) as info:
                await client.wait(URL)
    assert info.value.report is not None and info.value.report.errors == 4


async def test_cancellation_stops_at_once_and_leaks_nothing() -> None:
    with respx.mock:
        respx.get(URL).mock(return_value=httpx.Response(200, json={"status": "running"}))
        http = httpx.AsyncClient()
        async with AsyncProgressClient(client=http) as client:
            with anyio.move_on_after(0.05) as scope:
                await client.wait(URL)  # would poll again only after 3 s
            assert scope.cancelled_caught
        # No connection is held: the pool has nothing in flight.
        pool: Any = http._transport._pool  # type: ignore[attr-defined]
        assert all((not c.is_closed() and c.is_idle()) or c.is_closed() for c in pool.connections)
        await http.aclose()


@pytest.mark.parametrize(
    "anyio_backend", [("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)})]
)
async def test_schedule_on_trio_mock_clock(anyio_backend: Any) -> None:
    times: list[float] = []

    def record(request: httpx.Request) -> httpx.Response:
        times.append(anyio.current_time())
        return httpx.Response(200, json={"status": "running" if len(times) < 8 else "done"})

    with respx.mock:
        respx.get(URL).mock(side_effect=record)
        async with AsyncProgressClient(policy=AdaptivePolicy()) as client:
            result = await client.wait(URL)
    gaps = [round(b - a, 6) for a, b in zip(times, times[1:])]
    assert gaps == [3, 4, 5, 6, 7, 8, 8]
    assert result.report.elapsed == pytest.approx(41)


@pytest.mark.parametrize(
    "anyio_backend", [("trio", {"clock": trio.testing.MockClock(autojump_threshold=0)})]
)
async def test_timeout_on_trio_mock_clock(anyio_backend: Any) -> None:
    with respx.mock:
        respx.get(URL).mock(return_value=httpx.Response(200, json={"status": "running"}))
        async with AsyncProgressClient() as client:
            start = anyio.current_time()
            with pytest.raises(PollTimeout) as info:
                await client.wait(URL, timeout=30)
            assert anyio.current_time() - start == pytest.approx(30)
    assert info.value.report is not None and info.value.report.requests == 6  # 0,3,7,12,18,25


def test_a_clock_is_refused_not_ignored() -> None:
    from progress_client import VirtualClock

    with pytest.raises(TypeError, match="unexpected keyword argument 'clock'"):
        AsyncProgressClient(clock=VirtualClock())
