"""A short run of the scale harness (the full one is ``python benchmarks/run.py --only scale``):
the floor and the client side by side on a small fleet, every figure present and sane."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.scale import (  # noqa: E402
    CONTENDERS,
    deadline_markdown,
    markdown,
    median_runs,
    plot,
    scale,
    scheduled_times,
)

pytestmark = pytest.mark.slow


def test_the_schedule_asked_for() -> None:
    # 3, 4, 5, 6, 7, 8, 8 ... after each response; a window cuts it.
    assert scheduled_times(0.0, 40.0) == [0.0, 3.0, 7.0, 12.0, 18.0, 25.0, 33.0]
    assert scheduled_times(2.0, 10.0) == [2.0, 5.0, 9.0]
    assert scheduled_times(5.0, 5.0) == []


@pytest.mark.e2e
def test_floor_and_client_side_by_side(tmp_path: Path) -> None:
    runs = scale(60, ["floor", "client/aiohttp+uvloop", "client/fast"], seconds=3.5,
                 spread=1.0, steady=2.0)
    assert [r["contender"] for r in runs] == ["floor", "client/aiohttp+uvloop", "client/fast"]
    for r in runs:
        assert r["errors"] == 0, r
        # 60 jobs over 3.5 s: 2 requests each at most (at 0-1 s and 3 s later).
        assert 0 < r["requests"] <= r["scheduled"] <= 120
        assert r["delivered"] >= 0.9, r
        assert r["cpu_per_request_us"] > 0 and r["rss_idle_mib"] > 0
        assert r["drift_p99_ms"] < 1000
        assert (r["transport"], r["loop"]) == CONTENDERS[r["contender"]]
    md = markdown(runs)
    assert md.count("\n") == len(runs) + 1 and "x |" in md
    png = tmp_path / "scale.png"
    plot(runs, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rounds_keep_each_contenders_median_run() -> None:
    """With several rounds, the run of median CPU per request stands for a contender, every
    round's figure beside it, and the table says so."""
    def run(name: str, cpu: float, requests: int) -> dict[str, object]:
        return {"contender": name, "jobs": 100, "cpu_per_request_us": cpu,
                "requests": requests, "requests_per_s": 1.0, "delivered": 1.0,
                "drift_p50_ms": 0.1, "drift_p99_ms": 1.0, "steady_drift_p99_ms": 1.0,
                "rss_per_job_kib": 3.0, "gc_s": 0.0, "gc_longest_ms": 0.0, "errors": 0}

    runs = median_runs({
        "floor": [run("floor", 90.0, 10), run("floor", 120.0, 11), run("floor", 85.0, 12)],
        "client/fast": [run("client/fast", 110.0, 20), run("client/fast", 100.0, 21)],
    })
    assert [(r["contender"], r["requests"], r["rounds"]) for r in runs] == [
        ("floor", 10, 3), ("client/fast", 21, 2)]
    assert runs[0]["cpu_per_request_rounds_us"] == [90.0, 120.0, 85.0]
    md = markdown(runs)
    assert "| 1.11x |" in md  # 100 / 90
    assert "floor: 3 rounds, CPU/req (µs) in turn: 90.0, 120.0, 85.0" in md


@pytest.mark.e2e
def test_every_wait_ends_at_the_common_deadline() -> None:
    """``deadline``: each contender's waits all end at the same instant; every job's lateness
    is recorded (figures only: how late is the benchmark's to measure, not a test's)."""
    runs = scale(40, ["floor", "client/fast"], seconds=2.0, spread=0.4, steady=1.0,
                 deadline=1.0)
    for r in runs:
        assert r["errors"] == 0, r
        assert r["deadline_s"] == 1.0
        assert (r["deadline_ended"], r["deadline_open"]) == (40, 0), r
        assert r["deadline_min_ms"] <= r["deadline_p50_ms"] <= r["deadline_p99_ms"] \
            <= r["deadline_max_ms"]
        assert r["deadline_min_ms"] > -5  # none ends before it (a clock's ms of rounding)
        assert r["cancel_ms"] >= 0 and r["deadline_cpu_ms"] > 0
        assert 0 <= r["deadline_gc_ms"] <= r["deadline_cpu_ms"] + 5 and r["deadline_gc_full"] >= 0
        # Requests asked for stop at the deadline: one per job (at 0-0.4 s; the next at +3 s).
        assert r["scheduled"] == 40 and r["delivered"] >= 0.9, r
    md = deadline_markdown(runs)
    assert md.count("\n") == len(runs) + 1 and "| 1 | client/fast |" in md
    with pytest.raises(ValueError, match="deadline"):
        scale(10, ["floor"], seconds=2.0, spread=1.0, deadline=3.0)


def test_the_deadline_table() -> None:
    def run(name: str, late_max: float) -> dict[str, object]:
        return {"contender": name, "jobs": 10_000, "deadline_s": 30.0,
                "deadline_p50_ms": 80.0, "deadline_p99_ms": 150.0, "deadline_max_ms": late_max,
                "deadline_open": 0, "deadline_cpu_ms": 90.0, "cancel_ms": 12.5}

    md = deadline_markdown([run("floor", 200.0), run("client/fast", 250.0),
                            {"contender": "client", "jobs": 10_000}])
    lines = md.splitlines()
    assert len(lines) == 4  # a run without a deadline has no row
    assert lines[2] == "| 10,000 | 30 | floor | 80.0 | 150.0 | 200.0 | 0 | 90.0 | 12.5 | - |"
    assert lines[3].endswith("| 250.0 | 0 | 90.0 | 12.5 | 1.25x |")
    rounds = {**run("client/fast", 250.0), "rounds": 2, "deadline_max_rounds_ms": [250.0, 300.0],
              "deadline_cpu_rounds_ms": [90.0, 120.0], "deadline_gc_rounds_ms": [10.0, 40.5]}
    assert deadline_markdown([rounds]).splitlines()[-1] == (
        "- 10,000 jobs, client/fast: 2 rounds, latest end (ms) in turn: 250.0, 300.0; CPU to end "
        "all (ms), of it in the collector: 90.0 (10.0), 120.0 (40.5); the table's row is the run "
        "of median CPU per request.")
