"""Logging and hooks: one DEBUG line per request with no header value or credential, an INFO
line when a stream falls back, ``on_request``/``on_change`` events that match the report, and
a hook that raises never ends a wait."""

from __future__ import annotations

import logging

import pytest

from progress_client import (
    AsyncProgressClient,
    ChangeEvent,
    FixedPolicy,
    ProgressClient,
    RequestEvent,
)
from tests.kit import JobServer
from tests.serving import fixture

pytestmark = pytest.mark.e2e
TICK = FixedPolicy(0.05)
SECRET = "Bearer sk_live_abcdefghijklmnop1234"


server = fixture(JobServer)


def test_debug_line_per_request_without_secrets(
    server: JobServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.job("log", [(0, "queued"), (0.12, "done")])
    url = server.url("log").replace("http://", "http://bob:pa55word@") + "?token=t0psecret"
    caplog.set_level(logging.DEBUG, logger="progress_client")
    with ProgressClient(policy=TICK, headers={"Authorization": SECRET}) as client:
        result = client.wait(url, timeout=10)
    lines = [r for r in caplog.records if r.name == "progress_client"]
    assert len([r for r in lines if r.levelno == logging.DEBUG]) == result.report.requests
    text = "\n".join(r.getMessage() for r in lines)
    assert "GET http://[CREDENTIALS]@[IP]/jobs/log?token=[REDACTED]" in text
    assert "-> 200" in text and "-> 304" in text and "next poll in" in text
    for secret in ("sk_live", "Bearer", "pa55word", "t0psecret", "127.0.0.1"):
        assert secret not in text


def test_fallback_is_logged_at_info(server: JobServer, caplog: pytest.LogCaptureFixture) -> None:
    server.job("fb", [(0, "done")], events_status=404)
    caplog.set_level(logging.INFO, logger="progress_client")
    with ProgressClient(policy=TICK) as client:
        client.wait(server.url("fb"), events_url=server.events_url("fb"), timeout=10)
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any("polling instead" in m and "HTTP 404" in m for m in infos)


@pytest.mark.anyio
async def test_hooks_see_every_request_and_change(server: JobServer) -> None:
    server.job("hk", [(0, "queued"), (0.1, "running"), (0.2, "done")])
    server.job("hk-sse", [(0, "queued"), (0.1, "done")])
    requests: list[RequestEvent] = []
    changes: list[ChangeEvent] = []
    async with AsyncProgressClient(policy=TICK, on_request=requests.append,
                                   on_change=changes.append) as client:
        result = await client.wait(server.url("hk"), timeout=10)
        pushed = await client.wait(server.url("hk-sse"), events_url=server.events_url("hk-sse"),
                                   timeout=10)
    polls = [e for e in requests if e.kind == "poll"]
    streams = [e for e in requests if e.kind == "stream"]
    assert len(polls) == result.report.requests
    assert sum(e.not_modified for e in polls) == result.report.not_modified
    assert all(e.url.startswith("http://[IP]/jobs/hk") and e.duration >= 0 for e in polls)
    assert len(streams) == pushed.report.requests == 1 and streams[0].status_code == 200
    assert [c.status.status for c in changes] == ["queued", "running", "done", "queued", "done"]
    assert [c.terminal for c in changes] == [False, False, True, False, True]


def test_a_failing_hook_is_logged_and_ignored(
    server: JobServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.job("boom", [(0, "queued"), (0.1, "done")])

    def hook(event: object) -> None:
        raise RuntimeError(SECRET)

    with ProgressClient(policy=TICK, on_request=hook, on_change=hook) as client:
        result = client.wait(server.url("boom"), timeout=10)
    assert result.status.status == "done"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings and all("RuntimeError" in w and "sk_live" not in w for w in warnings)
