"""Rate budgets end to end: many waits on one imitation of a rate-limited API (real HTTP on
127.0.0.1), on the sync client's threads, asyncio and trio."""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest

from progress_client import AdaptivePolicy, AsyncProgressClient, ProgressClient
from progress_client.core.budget import Budget

from .ratelimited import RateLimitedApi

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FAST = AdaptivePolicy(initial=0.3, step=0.1, maximum=0.5)


def check_budget_kept(api: RateLimitedApi) -> None:
    assert api.served(429) == 0
    for index, count in api.per_window.items():
        assert count <= api.allowed[index], (index, count, api.allowed[index])


@pytest.mark.anyio
async def test_300_async_waits_keep_under_the_stated_budget(anyio_backend: str) -> None:
    with RateLimitedApi(limit=5000, left=120, window=4.0, polls=2) as api:
        async with AsyncProgressClient(policy=FAST, limits="auto") as client:
            outcomes = await client.wait_many([api.url(f"j{i}") for i in range(300)],
                                              timeout=60)
    assert [o.error for o in outcomes if o.error is not None] == []
    assert all(o.result is not None and o.result.status.status == "completed"
               for o in outcomes)
    check_budget_kept(api)
    # The first window's 120 were all it allowed: the rest waited for the reset.
    assert api.per_window[0] <= 120 < 600 == sum(api.per_window.values())
    reports = [o.result.report for o in outcomes if o.result is not None]
    assert sum(r.requests for r in reports) == 600
    delayed = [r for r in reports if r.budget_delays]
    assert delayed and all(r.budget_delay_ms > 0 for r in delayed)


def test_sync_waits_on_threads_keep_under_the_stated_budget() -> None:
    with RateLimitedApi(limit=5000, left=40, window=3.0, polls=2) as api, ProgressClient(
        policy=FAST, limits="auto", max_concurrency=60,
    ) as client:
        outcomes = client.wait_many([api.url(f"s{i}") for i in range(60)], timeout=60)
    assert [o.error for o in outcomes if o.error is not None] == []
    check_budget_kept(api)
    assert sum(api.per_window.values()) == 120


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # trio: the 300-wait test above
async def test_a_429_with_retry_after_pauses_every_wait_on_the_origin(
    anyio_backend: str,
) -> None:
    with RateLimitedApi(limit=5000, left=5000, window=3600.0, polls=12) as api:
        api.trap("trap", 5)
        async with AsyncProgressClient(policy=FAST, limits="auto") as client, (
            anyio.create_task_group()
        ) as tg:
            for i in range(10):
                tg.start_soon(_wait_quietly, client, api.url(f"w{i}"))
            await anyio.sleep(1.0)  # the others are polling when the trap springs
            tg.start_soon(_wait_quietly, client, api.url("trap"))
    trapped = [at for at, name, code in api.seen if name == "trap" and code == 429]
    assert len(trapped) == 1
    t429 = trapped[0]
    # Requests already on their way when the 429 was written may land just after it.
    during = [(round(at - t429, 3), name) for at, name, _ in api.seen
              if t429 + 0.1 < at < t429 + 5.0]
    assert during == []
    assert any(at >= t429 + 5.0 for at, _, _ in api.seen)


def test_the_sync_client_pauses_the_origin_too() -> None:
    with RateLimitedApi(limit=5000, left=5000, window=3600.0, polls=3) as api, ProgressClient(
        policy=FAST, limits="auto",
    ) as client:
        api.trap("first", 2)
        began = time.monotonic()
        outcomes = client.wait_many([api.url("first"), api.url("second")], timeout=30)
    assert [o.error for o in outcomes if o.error is not None] == []
    t429 = next(at for at, name, code in api.seen if code == 429)
    assert [name for at, name, _ in api.seen if t429 + 0.1 < at < t429 + 2.0] == []
    assert time.monotonic() - began >= 2.0


@pytest.mark.anyio
async def test_a_configured_limit_is_kept_in_every_window(
    anyio_backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[float] = []
    granted: list[float] = []
    grant = Budget.grant

    def recorded(budget: Budget, ticket: Any, now: float) -> bool:
        ok = grant(budget, ticket, now)
        if ok:
            granted.append(now)
        return ok

    monkeypatch.setattr(Budget, "grant", recorded)
    with RateLimitedApi(limit=5000, left=5000, window=3600.0, polls=3) as api:
        async with AsyncProgressClient(policy=FAST, limits={api.origin: "20/s"},
                                       before_request=lambda _: sent.append(
                                           time.monotonic())) as client:
            await client.wait_many([api.url(f"c{i}") for i in range(30)], timeout=60)
    # Every request went through the budget: one slot each, taken just before it was sent.
    assert len(api.seen) == len(sent) == len(granted) == 90
    # What the client controls, measured where it decides (the slot's time, on the client's
    # clock): never more than the limit in any sliding second, not even at a window's edge.
    # The hook's and the server's times add a busy machine's scheduling jitter on top (the
    # process set aside for 60 ms between a slot and its send).
    granted.sort()
    j = 0
    for i, t in enumerate(granted):
        while granted[j] <= t - 1.0:
            j += 1
        assert i - j + 1 <= 20


@pytest.mark.anyio
async def test_no_slot_before_the_deadline_sends_nothing_and_counts_nothing(
    anyio_backend: str,
) -> None:
    with RateLimitedApi(limit=5000, left=5000, window=3600.0, polls=100) as api:
        async with AsyncProgressClient(policy=FAST, limits={api.origin: "1/m"}) as client:
            outcomes = await client.wait_many([api.url("a"), api.url("b")], timeout=1.0)
    errors = [o.error for o in outcomes]
    assert sum(1 for e in errors if e is not None) >= 1
    assert len(api.seen) == 1  # one slot a minute: the other wait never sent
    sent = sum(e.report.requests for e in errors if e is not None and e.report is not None)
    assert sent <= 1


async def _wait_quietly(client: AsyncProgressClient, url: str) -> None:
    await client.wait(url, timeout=30)
