"""A fast smoke test of the benchmark pieces (the full run is ``python benchmarks/run.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import frontier as frontier_mod  # noqa: E402
from benchmarks.overhead import overhead  # noqa: E402
from benchmarks.peers import PEERS, backoff_expo, polling2_step, tenacity_incrementing  # noqa: E402
from benchmarks.procs import machine, tinyserver  # noqa: E402

pytestmark = pytest.mark.slow

TINY = {"tiny": ("a 30 s job", [(0.0, "queued"), (10.0, "running"), (30.0, "completed")])}


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:])]


def test_peers_run_their_own_loops_on_the_fake_clock() -> None:
    timeline = [(0.0, "queued"), (100.0, "completed")]
    # tenacity's wait_incrementing(3, 1, 8): 3, 4, 5, 6, 7, 8, 8 ...
    assert gaps(tenacity_incrementing(timeline))[:7] == [3, 4, 5, 6, 7, 8, 8]
    # backoff's expo with max_value=8: 1, 2, 4, 8, 8 ...
    assert gaps(backoff_expo(timeline))[:5] == [1, 2, 4, 8, 8]
    # polling2 sleeps step, then applies step_function: 3, 4, 5 ... 8.
    assert gaps(polling2_step(timeline))[:7] == [3, 4, 5, 6, 7, 8, 8]
    for _, _, run in PEERS.values():
        times = run(timeline)
        assert times[0] == 0.0 and times[-1] >= 100.0


def test_peers_do_not_reset_on_a_change() -> None:
    timeline = [(0.0, "queued"), (20.0, "running"), (100.0, "completed")]
    after = [g for t, g in zip(tenacity_incrementing(timeline), gaps(tenacity_incrementing(
        timeline))) if t >= 20.0]
    assert after and all(g == 8 for g in after)


def test_frontier_on_a_tiny_trace(tmp_path: Path) -> None:
    rows = frontier_mod.frontier(TINY, phases=4)
    by = {r.strategy: r for r in rows}
    assert set(by) == {"fixed-1s", "fixed-3s", "fixed-8s", "adaptive", "exponential",
                       "tenacity", "backoff", "polling2", "sse", "oracle"}
    assert by["fixed-1s"].requests == 31
    assert by["oracle"].requests == 3 and by["oracle"].p95_lag == 0.0
    assert by["sse"].requests == 1
    assert by["adaptive"].requests < by["fixed-3s"].requests < by["fixed-1s"].requests
    assert 0 < by["adaptive"].p95_lag <= 8.0
    checks = frontier_mod.target_checks(rows)
    assert [ok for _, text, ok in checks if text.startswith("sse")] == [True]
    md = frontier_mod.markdown(rows)
    assert md.count("\n") == len(rows) + 1
    png = tmp_path / "frontier.png"
    frontier_mod.plot_frontier(rows, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.e2e
def test_overhead_measures_every_contender() -> None:
    # Enough polls that their CPU stands out of a fixed cost's noise on a busy machine.
    res = overhead(requests=200, rounds=1)
    assert {"httpx loop (sync)", "ProgressClient", "ProgressClient, timeout=120",
            "httpx loop (async)", "AsyncProgressClient", "AsyncProgressClient, timeout=120",
            "AsyncProgressClient (httpx-aiohttp)"} <= set(res.cpu_per_poll_us)
    assert all(us > 0 for us in res.cpu_per_poll_us.values())
    assert res.sync_ratio > 0 and res.async_deadline_ratio > 0 and "ratio" in res.markdown()


@pytest.mark.e2e
def test_tinyserver_counts_and_timelines() -> None:
    import httpx

    with tinyserver('[[0, "queued"], [100, "completed"]]') as base, httpx.Client() as http:
        assert [http.get(f"{base}/count/k/3").json()["status"] for _ in range(3)] == [
            "running", "running", "completed"]
        assert http.get(f"{base}/timeline/j").json() == {"status": "queued"}
        assert http.get(f"{base}/stats").json() == {"requests": 5}
        assert http.get(f"{base}/nope").status_code == 404


def test_machine_records_versions() -> None:
    info = machine()
    assert info["cores"] and info["python"]
    assert info["httpx"] != "not installed" and info["tenacity"] != "not installed"


@pytest.mark.e2e
def test_otel_overhead_measures_plain_and_instrumented() -> None:
    from benchmarks.otel_overhead import CLIENTS, otel_overhead
    from progress_client import otel

    res = otel_overhead(requests=30, rounds=1)
    assert set(res.cpu_per_poll_us) == set(CLIENTS)
    assert all(us > 0 for modes in res.cpu_per_poll_us.values() for us in modes.values())
    assert "ratio" in res.markdown() and not otel.is_instrumented()


def test_otel_hook_cost_is_measured_with_and_without() -> None:
    from benchmarks.otel_overhead import hook_cost_us
    from progress_client import otel

    plain, traced = hook_cost_us(n=200)
    assert plain > 0 and traced > plain and not otel.is_instrumented()
