"""The hook before each request (``before_request``): on both clients and every transport it
sees every request with why it is sent, adds headers the server receives, never sees the
request's credentials, and hands its ``context`` to the ``on_request`` event of the same
request. Twins: the sync client, the async one on asyncio (aiohttp fast path and httpx) and on
trio send the same requests for the same reasons."""

from __future__ import annotations

import logging
from typing import Any

import anyio
import pytest

from progress_client import (
    AsyncProgressClient,
    FixedPolicy,
    ProgressClient,
    RequestEvent,
    RequestInfo,
)
from tests.kit import JobServer, Reply
from tests.serving import fixture

pytestmark = pytest.mark.e2e
TICK = FixedPolicy(0.05)
SECRET = "Bearer sk_live_abcdefghijklmnop1234"
# A hint (200 ms, over the 50 ms schedule), a transient 503, a plain answer, the end.
SCRIPT = [
    Reply(200, {"status": "running"}, {"retry-after-ms": "200"}),
    Reply(503, {"error": "busy"}),
    Reply(200, {"status": "running", "progress": 0.5}),
    Reply(200, {"status": "done"}),
]
REASONS = ["schedule", "hint", "retry", "schedule"]


server = fixture(JobServer)


class Recorder:
    """A before hook that adds a header and keeps a mark in ``context``; the after hook."""

    def __init__(self) -> None:
        self.before: list[RequestInfo] = []
        self.after: list[RequestEvent] = []

    def before_request(self, info: RequestInfo) -> None:
        info.headers["X-Request-Mark"] = f"mark-{info.attempt}"
        info.headers["If-None-Match"] = "hook-loses"  # the request's own header wins
        info.context["opened"] = info.attempt
        self.before.append(info)

    def on_request(self, event: RequestEvent) -> None:
        self.after.append(event)

    def check(self, server: JobServer, name: str, requests: int) -> None:
        seen = server.requests(f"/jobs/{name}")
        assert len(seen) == len(self.before) == len(self.after) == requests
        assert [s.headers.get("x-request-mark") for s in seen] == [
            f"mark-{n}" for n in range(1, requests + 1)
        ]
        assert all(s.headers.get("authorization") == SECRET for s in seen)
        for info, event in zip(self.before, self.after):
            assert event.info is info and info.context["opened"] == info.attempt
            assert info.url.startswith("http://[IP]/jobs/") and info.method == "GET"
            assert "Authorization" not in info.headers and info.kind == "poll"
        assert [i.resend_count for i in self.before] == [0, 0, 1, 0]


def test_sync_before_request_sees_every_request_and_why(server: JobServer) -> None:
    server.script("h-sync", SCRIPT)
    rec = Recorder()
    with ProgressClient(policy=TICK, headers={"Authorization": SECRET},
                        before_request=rec.before_request, on_request=rec.on_request) as client:
        result = client.wait(server.url("h-sync"), timeout=20)
    assert [i.reason for i in rec.before] == REASONS
    rec.check(server, "h-sync", result.report.requests)


@pytest.mark.anyio
@pytest.mark.parametrize("transport", ["auto", "httpx"])
async def test_async_before_request_is_the_twin(
    server: JobServer, transport: str, anyio_backend: str
) -> None:
    name = f"h-{anyio_backend}-{transport}"
    server.script(name, SCRIPT)
    rec = Recorder()
    async with AsyncProgressClient(
        policy=TICK, headers={"Authorization": SECRET}, transport=transport,
        before_request=rec.before_request, on_request=rec.on_request,
    ) as client:
        result = await client.wait(server.url(name), timeout=20)
    assert [i.reason for i in rec.before] == REASONS
    rec.check(server, name, result.report.requests)


def test_stream_and_long_poll_reasons(server: JobServer) -> None:
    server.job("h-sse", [(0, "queued"), (0.1, "done")])
    server.script("h-lp", [Reply(200, {"status": "running"}), Reply(200, {"status": "done"})])
    reasons: list[str] = []

    def hook(info: RequestInfo) -> None:
        reasons.append(info.reason)

    with ProgressClient(policy=TICK, before_request=hook) as client:
        client.wait(server.url("h-sse"), events_url=server.events_url("h-sse"), timeout=10)
        assert reasons == ["stream"]
        reasons.clear()
    with ProgressClient(policy=TICK, long_poll=5, before_request=hook) as client:
        client.wait(server.url("h-lp"), timeout=10)
    # The server never says it held the poll: long-polling is off after the first answer.
    assert reasons == ["long_poll", "schedule"]


@pytest.mark.anyio
async def test_a_failing_before_hook_is_ignored_on_both_clients(
    server: JobServer, caplog: pytest.LogCaptureFixture, anyio_backend: str
) -> None:
    server.job("h-boom", [(0, "queued"), (0.1, "done")])

    def boom(info: Any) -> None:
        raise RuntimeError(SECRET)

    with ProgressClient(policy=TICK, before_request=boom) as client:
        sync = client.wait(server.url("h-boom"), timeout=10)
    async with AsyncProgressClient(policy=TICK, before_request=boom) as aclient:
        done = await aclient.wait(server.url("h-boom"), timeout=10)
    assert sync.status.status == done.status.status == "done"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings and all("RuntimeError" in w and "sk_live" not in w for w in warnings)


def test_no_hook_sends_the_engines_request_untouched(server: JobServer) -> None:
    server.job("h-none", [(0, "done")])
    with ProgressClient(policy=TICK) as client:
        client.wait(server.url("h-none"), timeout=10)
    (seen,) = server.requests("/jobs/h-none")
    assert "x-request-mark" not in seen.headers and "traceparent" not in seen.headers


@pytest.mark.anyio
async def test_trio_and_asyncio_cost_the_same(server: JobServer, anyio_backend: str) -> None:
    # The twin's promise with a hook on: the same requests, whatever the loop.
    server.job(f"h-cost-{anyio_backend}", [(0, "queued"), (0.12, "running"), (0.25, "done")])
    rec = Recorder()
    async with AsyncProgressClient(policy=TICK, before_request=rec.before_request) as client:
        result = await client.wait(server.url(f"h-cost-{anyio_backend}"), timeout=10)
    with ProgressClient(policy=TICK, before_request=rec.before_request) as sclient:
        server.job("h-cost-sync", [(0, "queued"), (0.12, "running"), (0.25, "done")])
        sresult = sclient.wait(server.url("h-cost-sync"), timeout=10)
    await anyio.sleep(0)
    assert abs(result.report.requests - sresult.report.requests) <= 1
    assert len(rec.before) == result.report.requests + sresult.report.requests
