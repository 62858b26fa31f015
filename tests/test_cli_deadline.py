"""``progress-client wait --timeout T`` keeps a wall-time deadline: the process exits with code 3
at the deadline, measured from outside, on a job that never ends, a server that accepts and
never answers, one that sends the headers and then stalls the body, and one that answers 500
forever. Real processes, real HTTP on 127.0.0.1.

These tests check behaviour, not speed: each case is set up so that a client that missed the
deadline would overrun it by many seconds (the next poll 10 s away, the request timeout 30 s),
and the bound is generous enough for a machine busy with other work (start-up and shutdown
slow down with it). How close to T the process exits is a figure, measured by
``benchmarks.startup`` (``overshoot``), not asserted here."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from benchmarks.startup import CASES, StubbornServer, WaitRun, run_wait

pytestmark = pytest.mark.e2e

T = 1.5
#: Far below what a missed deadline costs (``SLOW``: the next poll, 10 s; the request
#: timeout, 30 s), far above what start-up and shutdown take on a loaded machine.
SLACK = 3.0
SLOW = ("--initial", "10", "--max", "10")


@pytest.fixture(scope="module")
def stubborn() -> Iterator[StubbornServer]:
    with StubbornServer() as server:
        yield server


@pytest.fixture(scope="module")
def runs(stubborn: StubbornServer) -> dict[str, WaitRun]:
    """One run per case, two at a time (the machine has two cores; the deadline holds with
    start-up contending for them, which is part of what is measured)."""
    urls = {case: stubborn.url(segment) for case, segment in CASES.items()}
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {case: pool.submit(run_wait, url, T, *SLOW) for case, url in urls.items()}
        return {case: f.result() for case, f in futures.items()}


@pytest.mark.parametrize("case", list(CASES))
def test_wait_exits_3_within_the_deadline(case: str, runs: dict[str, WaitRun]) -> None:
    run = runs[case]
    assert run.code == 3, run.stderr
    assert "progress-client: timeout:" in run.stderr
    assert "Traceback" not in run.stderr
    assert run.elapsed <= T + SLACK, f"{case}: exited {run.elapsed - T:+.3f} s after the deadline"


def test_the_deadline_counts_from_the_process_start(stubborn: StubbornServer) -> None:
    # The first request goes out during the deadline (the job is polled at least once), and
    # the JSON says timeout with the status seen; the wait ends at T from the launch, not T
    # after the start-up: before the first request's arrival + T (a deadline counted from the
    # end of the imports would end after it), whatever the start-up costs on this machine.
    # A longer deadline here: a loaded machine may take over T to start up at all.
    url, timeout = stubborn.url("running"), 5.0
    t0 = time.monotonic()
    run = run_wait(url, timeout, "--json", *SLOW)
    assert run.code == 3, run.stderr
    arrivals = stubborn.arrivals(url)
    assert len(arrivals) == 1
    assert timeout - 0.05 <= run.elapsed < (arrivals[0] - t0) + timeout
    out = json.loads(run.stdout)
    assert out["outcome"] == "timeout" and out["status"] == "running"
    assert out["requests"] == 1


def test_json_on_a_stalled_body(stubborn: StubbornServer) -> None:
    run = run_wait(stubborn.url("stall-body"), 1.0, "--json", *SLOW)
    assert run.code == 3 and run.elapsed <= 1.0 + SLACK
    out = json.loads(run.stdout)
    assert out["outcome"] == "timeout" and out["status"] is None


def test_a_zero_timeout_exits_at_once(stubborn: StubbornServer) -> None:
    url = stubborn.url("running")
    run = run_wait(url, 0.0, *SLOW)
    assert run.code == 3, run.stderr
    assert "progress-client: timeout:" in run.stderr and "0 requests" in run.stderr
    assert stubborn.arrivals(url) == []  # nothing sent, nothing waited for
    assert run.elapsed <= SLACK
