"""``progress-client wait --timeout T`` keeps a wall-time deadline: the process exits with code 3
within T + 0.3 s of being started (start-up and shutdown included), measured from outside, on
a job that never ends, a server that accepts and never answers, one that sends the headers and
then stalls the body, and one that answers 500 forever. Real processes, real HTTP on
127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from benchmarks.startup import CASES, StubbornServer, WaitRun, run_wait

pytestmark = pytest.mark.e2e

T = 1.5
SLACK = 0.3


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
        futures = {case: pool.submit(run_wait, url, T) for case, url in urls.items()}
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
    # the JSON says timeout with the status seen; the wait ends near T, not T + start-up.
    url = stubborn.url("running")
    run = run_wait(url, T, "--json")
    assert run.code == 3, run.stderr
    assert len(stubborn.arrivals(url)) == 1
    assert T - 0.05 <= run.elapsed <= T + SLACK
    out = json.loads(run.stdout)
    assert out["outcome"] == "timeout" and out["status"] == "running"
    assert out["requests"] == 1


def test_json_on_a_stalled_body(stubborn: StubbornServer) -> None:
    run = run_wait(stubborn.url("stall-body"), 1.0, "--json")
    assert run.code == 3 and run.elapsed <= 1.0 + SLACK
    out = json.loads(run.stdout)
    assert out["outcome"] == "timeout" and out["status"] is None


def test_a_zero_timeout_exits_at_once(stubborn: StubbornServer) -> None:
    url = stubborn.url("running")
    run = run_wait(url, 0.0)
    assert run.code == 3, run.stderr
    assert "progress-client: timeout:" in run.stderr
    assert run.elapsed <= 1.0  # start-up and exit alone: nothing to wait for
