"""Conditional polling end to end on 127.0.0.1: validators sent back on every poll, 304s
counted in ``not_modified``, their bodies not counted in ``bytes_received``, and a 304 growing
the interval exactly like an unchanged status."""

from __future__ import annotations

import json

import pytest

from progress_client import AdaptivePolicy, AsyncProgressClient
from progress_client.cli import main
from tests.kit import JobServer
from tests.serving import fixture

pytestmark = pytest.mark.e2e


server = fixture(JobServer)


def test_cli_etag_304s_are_counted_and_grow_the_interval(
    server: JobServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.job("j", [(0, "queued"), (1.2, "done")])
    code = main(["wait", server.url("j"), "--json", "--initial", "0.1", "--step", "0.1",
                 "--max", "0.5"])
    out = json.loads(capsys.readouterr().out)
    seen = server.requests("/jobs/j")
    assert code == 0 and out["status"] == "done" and out["mode"] == "poll"
    assert out["requests"] == len(seen)
    # If-None-Match on every poll after the first, with the ETag last served.
    assert "if-none-match" not in seen[0].headers
    assert all(s.headers.get("if-none-match") == '"v0"' for s in seen[1:])
    served_304 = sum(1 for s in seen if s.code == 304)
    assert served_304 >= 3 and out["not_modified"] == served_304
    assert out["bytes_received"] == sum(s.size for s in seen)
    # The 304s grew the schedule: 0.1, 0.2, 0.3, 0.4, 0.5 s, as unchanged statuses would.
    gaps = [b.at - a.at for a, b in zip(seen, seen[1:], strict=False)]
    expected = [min(0.1 + 0.1 * i, 0.5) for i in range(len(gaps))]
    for gap, want in zip(gaps, expected, strict=True):
        assert want - 0.01 <= gap < want + 0.1, (gaps, expected)


@pytest.mark.anyio
async def test_async_304_reuses_the_last_status_and_no_validators_without_etag(
    server: JobServer,
) -> None:
    server.job("k", [(0, {"status": "running", "progress": 10}), (0.35, "done")])
    server.job("n", [(0, "running"), (0.2, "done")], etag=False)
    policy = AdaptivePolicy(initial=0.05, step=0.05, maximum=0.1)
    async with AsyncProgressClient(policy=policy) as client:
        updates = [u async for u in client.watch(server.url("k"), timeout=10)]
        plain = await client.wait(server.url("n"), timeout=10)
    not_modified = [u for u in updates if u.not_modified]
    assert not_modified and all(
        u.status.status == "running" and u.status.progress == 10 and not u.changed
        for u in not_modified
    )
    assert updates[-1].report.not_modified == len(not_modified)
    assert updates[-1].report.not_modified == sum(
        1 for s in server.requests("/jobs/k") if s.code == 304
    )
    assert plain.report.not_modified == 0
    assert all("if-none-match" not in s.headers for s in server.requests("/jobs/n"))
