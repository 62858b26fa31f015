"""Smoke test of the live benchmark (``benchmarks/live.py``): one tiny trace at high speed
against two reference-server processes and a real redis-server; the counts must agree with
each other, and each job costs Redis its writes plus at most one read per server process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import backoff._sync  # noqa: E402
import polling2  # type: ignore[import-untyped]  # noqa: E402

from benchmarks import live  # noqa: E402
from benchmarks.peers import (  # noqa: E402
    FakeTime,
    ScriptedJob,
    _patched_time,
    backoff_expo,
    polling2_step,
    tenacity_incrementing,
)

pytestmark = pytest.mark.slow

#: Three writes; at 40x the job lasts 150 ms of real time.
TINY = {"tiny": ("a 6 s job", [(0.0, "queued"), (2.0, "running"), (6.0, "completed")])}
SDK = ("fixed-1s", "fixed-3s", "fixed-8s", "adaptive", "exponential", "sse", "sse-async",
       "long-poll")


def test_live_counts_agree_on_a_tiny_trace(redis_url: str) -> None:
    rows = live.run_all({"tiny": (40.0, 1)}, traces=TINY, redis_url=redis_url)
    by = {r.strategy: r for r in rows}
    assert set(by) == set(live.STRATEGIES)
    for r in rows:
        assert r.errors == 0, r
        assert r.consistent, r
        # The server's counter and the client's own count, job by job.
        assert r.client_requests == r.server_requests, r
        # Each server process reads a job once, whatever it is asked; the worker wrote 3 times.
        assert 1 <= r.redis_reads <= live.SERVERS, r
        assert r.redis_reads <= r.server_requests, r
        assert r.redis_writes == 3, r
        # Each update script runs GET, SET, PUBLISH (+ HSET, EXPIRE with a checkpoint).
        assert r.redis_commands == r.redis_reads + 3 * 4 + 2 * 2, r
        assert r.max_lag >= r.p95_lag >= 0.0
    for name in SDK:
        assert by[name].server_requests >= 1
    for name in live.PUSH:
        assert by[name].server_requests <= 2
        assert by[name].p95_raw_ms < 1000.0  # a push is seen at once, not after a poll
    # Held polls: the first request and one per change (no quiet reaches 60 s here).
    held = by["long-poll"]
    assert held.exact_requests == 3 and held.server_requests <= 3, held
    assert held.p95_raw_ms < 1000.0
    # Polling at 1 s sees every change within about a second of the trace (plus latency).
    assert by["fixed-1s"].server_requests > by["adaptive"].server_requests
    assert by["fixed-1s"].p95_lag < by["fixed-8s"].p95_lag
    # The live count stays near the exact one (latency only makes polls later, so fewer).
    assert by["fixed-8s"].server_requests == by["fixed-8s"].exact_requests == 2
    md = live.markdown(rows)
    assert md.count("\n| ") == len(rows) + 1
    checks = dict(live.target_checks(rows))
    assert any(text.startswith("tiny: sse 1 requests/job") and ok for text, ok in checks.items())
    assert any(text.startswith("tiny: every strategy finished") and ok
               for text, ok in checks.items())
    assert any(text.startswith("tiny: long-poll") and ok for text, ok in checks.items())
    assert any(text.startswith("tiny: Redis reads/job at most") and ok
               for text, ok in checks.items())


def test_long_poll_bound_counts_quiet_in_real_seconds() -> None:
    timeline = [(0.0, "queued"), (150.0, "running"), (300.0, "completed")]
    # At 1x: 3 requests, plus 2 holds that end unchanged in each 150 s gap.
    assert live.long_poll_bound([timeline], 1.0) == 3 + 2 + 2
    # At 60x the gaps are 2.5 real seconds: no hold lasts 60 s.
    assert live.long_poll_bound([timeline], 60.0) == 3


def test_live_peer_loops_are_the_frontiers_configuration() -> None:
    """At speed 1 on the fake clock, the live peer loops poll exactly when peers.py does."""
    timeline = [(0.0, "queued"), (20.0, "running"), (100.0, "completed")]

    clock = FakeTime()
    job = ScriptedJob(timeline, clock)
    live.tenacity_loop(job.fetch, 1.0, 1e9, sleep=clock.sleep)
    assert job.request_times == tenacity_incrementing(timeline)

    clock = FakeTime()
    job = ScriptedJob(timeline, clock)
    with _patched_time(backoff._sync, clock):
        live.backoff_loop(job.fetch, 1.0, 1e9)
    assert job.request_times == backoff_expo(timeline)

    clock = FakeTime()
    job = ScriptedJob(timeline, clock)
    with _patched_time(polling2, clock):
        live.polling2_loop(job.fetch, 1.0, 1e9)
    assert job.request_times == polling2_step(timeline)

    # Scaled 50x: the same polls, every interval divided by 50.
    clock = FakeTime()
    job = ScriptedJob([(0.0, "queued"), (100.0 / 50, "completed")], clock)
    live.tenacity_loop(job.fetch, 1.0 / 50, 1e9, sleep=clock.sleep)
    slow = tenacity_incrementing([(0.0, "queued"), (100.0, "completed")])
    assert [round(t * 50, 6) for t in job.request_times] == slow


def test_lags_count_from_the_update_to_the_first_sight() -> None:
    job = live.JobRun("j", [(0.0, "queued"), (2.0, "running"), (6.0, "completed")])
    job.updates = [10.0, 12.0, 16.0]
    # The client saw 0 twice, skipped 1 (it saw 2 at once): change 1 is seen with change 2.
    job.seen = [(10.1, 0), (13.0, 0), (16.5, 2)]
    assert job.lags() == [pytest.approx(4.5), pytest.approx(0.5)]


def test_no_redis_server_is_a_clear_error(monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(live.LiveUnavailable, match="redis-server"), live.LiveBench.start():
        pass
