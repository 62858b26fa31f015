"""A short run of the scale harness (the full one is ``python benchmarks/run.py --only scale``):
the floor and the client side by side on a small fleet, every figure present and sane."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.scale import CONTENDERS, markdown, plot, scale, scheduled_times  # noqa: E402


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
