"""Parity on 127.0.0.1: ``ProgressClient`` and ``AsyncProgressClient`` (asyncio and trio), given
the same scripted job and the same call pattern, send the server the same requests (count,
order, validators, ``Last-Event-ID``) and report the same counts, mode and changes; both keep
the schedule: no request reaches the server before its delay (gaps measured at the server, a
floor that a busy machine cannot break), and neither takes a whole interval longer than the
schedule. How close to the schedule they run is a figure for the benchmarks, not asserted. Jobs
are scripts (one reply per request) wherever the case allows, so the counts do not depend on
timing: (a) one wait; (b) two concurrent waits on one URL (two threads; two tasks in one task
group) cost what one wait costs; (c) a stream that drops once and reconnects with
``Last-Event-ID``; (d) a refused stream falls back to polling."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest

from progress_client import (
    AdaptivePolicy,
    AsyncProgressClient,
    ChangeEvent,
    PollReport,
    ProgressClient,
    RequestEvent,
    WaitResult,
)

from .kit import JobServer, Reply
from .serving import fixture

pytestmark = pytest.mark.e2e

POLICY = AdaptivePolicy(0.05, 0.05, 0.2)
#: What a wait may take beyond its schedule on a machine busy with other work: sleeps and
#: threads are late there. Far below the 3 s of a default interval a wrong schedule would add.
LOAD_SLACK = 1.5
#: The gaps between the script's requests at the server, at least: 50 ms after queued, 100 ms
#: after the 304 (unchanged), the 503's 200 ms hint, 50 ms after running (changed).
SCHEDULE = [0.05, 0.1, 0.2, 0.05]

#: queued, a 304 (validators sent back), a 503 with a 200 ms hint (longer than the schedule's
#: 150 ms), running with a new ETag, done: 5 requests, 2 changes, 1 error, 1 not modified.
SCRIPT = [
    Reply(200, {"status": "queued"}, {"ETag": '"a"'}),
    Reply(304, b"", {"ETag": '"a"'}),
    Reply(503, {"error": "busy"}, {"Retry-After-Ms": "200"}),
    Reply(200, {"status": "running", "progress": 50}, {"ETag": '"b"'}),
    Reply(200, {"status": "done"}),
]


@dataclass
class Observed:
    """One run as both sides saw it."""

    results: list[WaitResult] = field(default_factory=list)
    #: The client's hooks: (kind, status code, error) per request, every change's status.
    requests: list[tuple[str, int | None, str | None]] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    #: The server's record: (path below the job, code, If-None-Match, Last-Event-ID).
    served: list[tuple[str, int, str | None, str | None]] = field(default_factory=list)
    #: When each of those requests arrived (the server's monotonic clock).
    arrivals: list[float] = field(default_factory=list)

    def on_request(self, event: RequestEvent) -> None:
        self.requests.append((event.kind, event.status_code, event.error))

    def on_change(self, event: ChangeEvent) -> None:
        self.changes.append(event.status.status)

    def record(self, server: JobServer, name: str) -> Observed:
        prefix = f"/jobs/{name}"
        with server.lock:
            mine = [s for s in server.seen if s.path.startswith(prefix)]
        self.served = [
            (s.path.removeprefix(prefix), s.code, s.headers.get("if-none-match"),
             s.headers.get("last-event-id"))
            for s in mine
        ]
        self.arrivals = [s.at for s in mine]
        return self

    def keeps(self, schedule: list[float]) -> None:
        """No request came before its delay: each gap at the server is at least the
        schedule's (a response's time only adds to it), and the whole wait took no more than
        the schedule and a busy machine's slack."""
        gaps = [b - a for a, b in zip(self.arrivals, self.arrivals[1:])]
        assert len(gaps) == len(schedule), (gaps, schedule)
        assert all(g >= d - 0.002 for g, d in zip(gaps, schedule)), (gaps, schedule)
        assert self.report.elapsed < sum(schedule) + LOAD_SLACK, self.report.elapsed

    @property
    def report(self) -> PollReport:
        reports = [r.report for r in self.results]
        assert all(r == reports[0] for r in reports)  # every caller of a shared wait
        return reports[0]


server = fixture(JobServer, scope="module")


@pytest.fixture(scope="module")
def sync_runs() -> dict[str, Observed]:
    """The sync client's run of each case, made once (it has no backend to vary)."""
    return {}


Setup = Callable[[str], tuple[str, str | None]]


def twins(
    server: JobServer, sync_runs: dict[str, Observed], backend: str, case: str, setup: Setup,
    callers: int = 1, **options: Any,
) -> tuple[Observed, Observed]:
    """The case run by the sync client and by the async one on ``backend``, each on a job of
    its own that ``setup(name)`` makes (it returns the status URL and the events URL), with
    the same client ``options``."""

    def run(side: str) -> Observed:
        name = f"{case}-{side}"
        url, events = setup(name)
        seen = (run_sync(url, events, callers, **options) if side == "sync"
                else run_async(backend, url, events, callers, **options))
        return seen.record(server, name)

    if case not in sync_runs:
        sync_runs[case] = run("sync")
    return sync_runs[case], run(f"async-{backend}")


def run_sync(url: str, events: str | None, callers: int = 1, **options: Any) -> Observed:
    seen = Observed()
    with ProgressClient(policy=POLICY, on_request=seen.on_request, on_change=seen.on_change,
                        **options) as client:
        start = threading.Barrier(callers)

        def one(_: int) -> WaitResult:
            start.wait()
            return client.wait(url, events_url=events, timeout=10)

        with ThreadPoolExecutor(max_workers=callers) as pool:
            seen.results = list(pool.map(one, range(callers)))
    return seen


def run_async(
    backend: str, url: str, events: str | None, callers: int = 1, **options: Any
) -> Observed:
    seen = Observed()

    async def main() -> None:
        async with AsyncProgressClient(policy=POLICY, on_request=seen.on_request,
                                       on_change=seen.on_change, **options) as client:

            async def one() -> None:
                seen.results.append(await client.wait(url, events_url=events, timeout=10))

            async with anyio.create_task_group() as tg:
                for _ in range(callers):
                    tg.start_soon(one)

    anyio.run(main, backend=backend)
    return seen


def assert_twins(sync: Observed, asyn: Observed, schedule: list[float] | None = None) -> None:
    """The same requests, counts, hooks and outcome; with a ``schedule`` (the gaps the engine
    decides, when responses, not the clock, drive it), both keep it."""
    untimed = [dataclasses.replace(o.report, elapsed=0.0, answered_elapsed=0.0)
               for o in (sync, asyn)]
    assert untimed[0] == untimed[1]  # every counter, the mode, the baseline
    if schedule is not None:
        sync.keeps(schedule)
        asyn.keeps(schedule)
    assert sync.served == asyn.served
    assert sync.requests == asyn.requests
    assert sync.changes == asyn.changes
    assert [r.status.status for r in sync.results] == [r.status.status for r in asyn.results]


def counts(report: PollReport) -> tuple[int, int, int, int, int, str]:
    return (report.requests, report.changes, report.errors, report.not_modified,
            report.hint_waits, report.mode)


def test_one_wait(server: JobServer, sync_runs: dict[str, Observed], anyio_backend: str) -> None:
    def setup(name: str) -> tuple[str, str | None]:
        return server.script(name, SCRIPT).url, None

    sync, asyn = twins(server, sync_runs, anyio_backend, "one", setup)
    assert_twins(sync, asyn, SCHEDULE)
    assert counts(sync.report) == (5, 2, 1, 1, 1, "poll")
    assert sync.served == [("", 200, None, None), ("", 304, '"a"', None),
                           ("", 503, '"a"', None), ("", 200, '"a"', None),
                           ("", 200, '"b"', None)]
    assert sync.changes == ["queued", "running", "done"]
    # 50 ms, then 100 ms (the 304), 200 ms (the hint), 50 ms: 0.4 s of schedule.
    assert sync.report.elapsed >= sum(SCHEDULE)


def test_two_concurrent_waits_cost_one(
    server: JobServer, sync_runs: dict[str, Observed], anyio_backend: str
) -> None:
    def setup(name: str) -> tuple[str, str | None]:
        return server.script(name, SCRIPT).url, None

    solo = twins(server, sync_runs, anyio_backend, "solo", setup)
    pair = twins(server, sync_runs, anyio_backend, "pair", setup, callers=2)
    for one, two in zip(solo, pair):  # sync, then async
        assert len(one.results) == 1 and len(two.results) == 2
        # One poll loop for both callers: the server saw what one wait costs, nothing more.
        assert len(two.served) == len(one.served) == len(SCRIPT)
        assert two.served == one.served
        assert counts(two.report) == counts(one.report) == (5, 2, 1, 1, 1, "poll")
        assert two.changes == one.changes  # the hooks fire once, not once per caller
    assert_twins(*solo, SCHEDULE)
    assert_twins(*pair, SCHEDULE)


def test_stream_that_drops_once(
    server: JobServer, sync_runs: dict[str, Observed], anyio_backend: str
) -> None:
    def setup(name: str) -> tuple[str, str | None]:
        job = server.job(name, [(0.0, "queued"), (0.15, "running"), (0.3, "done")],
                         cut_after=1)
        return job.url, job.events_url

    sync, asyn = twins(server, sync_runs, anyio_backend, "cut", setup)
    assert_twins(sync, asyn)
    # Two connections, the second resumed after the first one's only event; not one poll.
    assert counts(sync.report) == (2, 2, 0, 0, 0, "sse")
    assert sync.served == [("/events", 200, None, None), ("/events", 200, None, "0")]
    assert sync.requests == [("stream", 200, None), ("stream", 200, None)]
    assert sync.changes == ["queued", "running", "done"]
    for side in ("sync", f"async-{anyio_backend}"):
        assert [v for _, v in server.jobs[f"cut-{side}"].sent] == [0, 1, 2]


@pytest.mark.parametrize(
    "refusal",
    [Reply(404, {"error": "no stream here"}), Reply(200, {"status": "queued"})],
    ids=["404", "json-content-type"],
)
def test_refused_stream_falls_back_to_polling(
    server: JobServer, sync_runs: dict[str, Observed], anyio_backend: str, refusal: Reply
) -> None:
    def setup(name: str) -> tuple[str, str | None]:
        return server.script(name, SCRIPT).url, server.script(f"{name}-events", [refusal]).url

    sync, asyn = twins(server, sync_runs, anyio_backend, f"fb{refusal.status}", setup)
    assert_twins(sync, asyn)
    for seen in (sync, asyn):  # the polls (another path than the stream) keep the schedule
        polls = Observed(results=seen.results, arrivals=seen.arrivals[1:])
        polls.keeps(SCHEDULE)
    # The refused stream is a request, then the script is polled as in one plain wait.
    assert counts(sync.report) == (6, 2, 1, 1, 1, "poll")
    assert sync.served[0] == ("-events", refusal.status, None, None)
    assert [path for path, *_ in sync.served[1:]] == [""] * len(SCRIPT)
    assert sync.requests[0] == ("stream", refusal.status, None)


def test_a_request_out_of_time_is_described_alike(
    server: JobServer, sync_runs: dict[str, Observed], anyio_backend: str
) -> None:
    """A stream whose head comes after ``request_timeout`` (one failure ends the stream), then
    a poll whose body stalls past it, then done: the same errors, worded the same."""

    # A request timeout a busy machine's slowest good answer stays well within, and stalls
    # far beyond it: only the stalls time out.
    def setup(name: str) -> tuple[str, str | None]:
        stalled = Reply(200, b'{"status": ', {"Content-Length": "100"}, hold=4.0)
        late = Reply(200, b"", {"Content-Type": "text/event-stream"}, delay=4.0)
        return (server.script(name, [stalled, Reply(200, {"status": "done"})]).url,
                server.script(f"{name}-events", [late]).url)

    sync, asyn = twins(server, sync_runs, anyio_backend, "late", setup,
                       request_timeout=1.0, sse_max_failures=1)
    assert counts(sync.report) == (3, 0, 1, 0, 0, "poll")
    for seen in (sync, asyn):
        assert [kind for kind, _, _ in seen.requests] == ["stream", "poll", "poll"]
        assert seen.requests[-1] == ("poll", 200, None)
        failed = [error for _, _, error in seen.requests[:2]]
        assert all("timed out" in str(error) for error in failed), failed
    assert_twins(sync, asyn)
