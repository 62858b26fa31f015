"""Live on 127.0.0.1: the frontier's traces, time-compressed, against the reference server and
a real redis-server, with requests counted at the server and Redis commands counted by Redis.

For each trace and strategy, ``jobs`` jobs run at once. Each job has a worker coroutine (on
the server's event loop) that replays the trace through ``RedisStore.update`` at compressed
times, and a client thread that watches it:

- ours (``fixed-1s`` ... ``exponential``, the frontier's policies): ``ProgressClient.watch``
  on a clock that runs ``speed`` times fast, so the policies are used unchanged;
- ``sse``: ``ProgressClient.watch(events_url=...)``; ``sse-async``: the same with
  ``AsyncProgressClient`` (on the real clock: a push does not wait on a schedule);
- peers: tenacity, backoff and polling2 running their own loops with real sleeps, configured
  as in ``peers.py`` with every interval divided by ``speed``, each poll an ``httpx`` GET.

Job ``k`` of ``n`` has its changes moved ``period * k / n`` seconds later (``period``: the
strategy's longest interval), as the frontier pools lags over placements, so the live and the
exact (virtual clock) figures are for the same timelines.

Measured per job: requests at the server (an ASGI counter around the app, by path), requests
the client reports, Redis commands (``INFO commandstats`` deltas around each batch, divided by
its jobs), and detection lag: from the moment the worker starts the update to the moment the
client first holds that status (or a later one). Polling lags are multiplied back by ``speed``
(seconds of a real job); push lags (``sse``) are not scaled and are given in milliseconds.

``python -m benchmarks.live [--quick]`` prints the tables; ``benchmarks/run.py --only live``
also writes ``benchmarks/results/live.md``.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import backoff
import httpx
import polling2  # type: ignore[import-untyped]
import redis
import tenacity

from benchmarks.frontier import OURS
from benchmarks.peers import PEERS
from benchmarks.procs import redis_server
from benchmarks.traces import TRACES, Trace
from progress_client import AsyncProgressClient, PollError, ProgressClient
from progress_client._models import DEFAULT_FAILURE, DEFAULT_SUCCESS
from progress_client._plan import policy_strategy, shifted
from progress_client._policy import Policy
from progress_client._sanitize import sanitize
from progress_client._simulate import percentile
from progress_client.server import RedisStore, RunningServer, create_app, serve_in_thread

__all__ = [
    "FULL",
    "QUICK",
    "STRATEGIES",
    "LiveBench",
    "LiveRow",
    "LiveUnavailable",
    "ScaledClock",
    "backoff_loop",
    "live",
    "markdown",
    "polling2_loop",
    "target_checks",
    "tenacity_loop",
]

#: trace -> (speed, jobs at once) for the full run: every batch lasts 5-30 s of real time.
FULL: dict[str, tuple[float, int]] = {
    "video-5min": (60.0, 4),
    "short-20s": (20.0, 8),
    "hour-quiet": (120.0, 2),
    "chatty": (30.0, 4),
}
#: ``--quick``: the short trace only.
QUICK: dict[str, tuple[float, int]] = {"short-20s": (20.0, 2)}

POLICIES: dict[str, Policy] = dict(OURS)
PUSH = ("sse", "sse-async")
STRATEGIES: tuple[str, ...] = (*POLICIES, *PUSH, *PEERS)
TERMINAL = frozenset(w.casefold() for w in DEFAULT_SUCCESS | DEFAULT_FAILURE)
PREFIX = "bench-live"
#: Housekeeping Redis counts that are not the job's: our own INFO, connection set-up.
_NOT_THE_JOBS = ("info", "hello", "client", "script", "ping", "psubscribe", "select")


class LiveUnavailable(RuntimeError):
    """No redis-server (or no reference server) could be had: the live part cannot run."""


class ScaledClock:
    """A ``Clock`` whose seconds pass ``speed`` times fast: the client's schedule is in
    seconds of the trace, its sleeps are real and short."""

    def __init__(self, speed: float) -> None:
        self.speed = speed

    def now(self) -> float:
        return time.monotonic() * self.speed

    def wall(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speed)


# -- the peers' real loops ------------------------------------------------------------------
# The configurations of ``peers.py`` (see its docstring), every interval times ``scale``.


def _pending(status: str) -> bool:
    return status.casefold() not in TERMINAL


def tenacity_loop(fetch: Callable[[], str], scale: float, limit: float,
                  sleep: Callable[[float], None] = time.sleep) -> None:
    tenacity.Retrying(
        wait=tenacity.wait_incrementing(start=3 * scale, increment=1 * scale, max=8 * scale),
        retry=tenacity.retry_if_result(_pending),
        stop=tenacity.stop_after_delay(limit),
        sleep=sleep,
        reraise=True,
    )(fetch)


def backoff_loop(fetch: Callable[[], str], scale: float, limit: float) -> None:
    backoff.on_predicate(
        backoff.expo, _pending, max_value=8 * scale, factor=scale, jitter=None, max_time=limit
    )(fetch)()


def polling2_loop(fetch: Callable[[], str], scale: float, limit: float) -> None:
    polling2.poll(
        fetch,
        step=3 * scale,
        step_function=lambda step: min(step + 1 * scale, 8 * scale),
        check_success=lambda status: not _pending(status),
        timeout=limit,
    )


PEER_LOOPS: dict[str, Callable[[Callable[[], str], float, float], None]] = {
    "tenacity": tenacity_loop,
    "backoff": backoff_loop,
    "polling2": polling2_loop,
}


# -- counting at the server -----------------------------------------------------------------


class CountRequests:
    """ASGI middleware: every HTTP request, by path, before the app sees it."""

    def __init__(self, app: Any, counts: Counter[str]) -> None:
        self.app = app
        self.counts = counts

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.counts[scope["path"]] += 1
        await self.app(scope, receive, send)


# -- one job --------------------------------------------------------------------------------


@dataclass
class JobRun:
    job_id: str
    timeline: Trace
    ready: threading.Event = field(default_factory=threading.Event)
    #: When the worker started each update (monotonic seconds); index = the trace's entry.
    updates: list[float] = field(default_factory=list)
    #: (monotonic seconds, trace entry) each time the client held a status.
    seen: list[tuple[float, int]] = field(default_factory=list)
    client_requests: int | None = None
    error: str | None = None

    def lags(self) -> list[float]:
        """Real seconds from each change (after the first) to the client first holding it
        or a later status; a change never seen is left out (and shows as an error)."""
        out: list[float] = []
        for i, started in enumerate(self.updates[1:], start=1):
            first = next((t for t, step in self.seen if step >= i), None)
            if first is not None:
                out.append(first - started)
        return out


async def _replay(store: RedisStore, job: JobRun, speed: float, t0: float) -> None:
    """The worker: each trace entry at its compressed time, progress and checkpoint in one
    update (as the write-up's worker does)."""
    previous: str | None = None
    for i, (when, status) in enumerate(job.timeline):
        delay = t0 + when / speed - time.monotonic()
        if delay > 0:
            await anyio.sleep(delay)
        job.updates.append(time.monotonic())
        await store.update(job.job_id, status=status, step=i, completed_step=previous)
        previous = status
        if i == 0:
            job.ready.set()


def _step(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else -1


# -- a batch of jobs for one strategy -------------------------------------------------------


@dataclass(frozen=True)
class LiveRow:
    trace: str
    strategy: str
    speed: float
    jobs: int
    server_requests: float
    client_requests: float | None
    exact_requests: float | None
    redis_reads: float
    redis_writes: float
    redis_commands: float
    mean_lag: float  # seconds of a real job (polling) or raw seconds (push)
    p95_lag: float
    max_lag: float
    p95_raw_ms: float
    errors: int
    consistent: bool  # server-side requests == client-reported requests, job by job

    @property
    def push(self) -> bool:
        return self.strategy in PUSH


class LiveBench:
    """A redis-server, the reference server over a ``RedisStore`` with a request counter,
    and a Redis connection to read ``INFO commandstats``. Use as a context manager."""

    def __init__(self, redis_url: str, server: RunningServer, store: RedisStore,
                 counts: Counter[str]) -> None:
        self.redis_url = redis_url
        self.server = server
        self.store = store
        self.counts = counts
        self.redis = redis.Redis.from_url(redis_url, decode_responses=True)

    @classmethod
    @contextmanager
    def start(cls, redis_url: str | None = None) -> Iterator[LiveBench]:
        """On ``redis_url``, else REDIS_URL, else a throwaway redis-server."""
        with _redis(redis_url) as url:
            store = RedisStore(url, prefix=PREFIX)
            counts: Counter[str] = Counter()
            app = create_app(store, close_store=True)
            app.add_middleware(CountRequests, counts=counts)
            with serve_in_thread(app) as server:
                bench = cls(url, server, store, counts)
                try:
                    bench._warm_up()
                    yield bench
                finally:
                    bench.redis.close()

    def _warm_up(self) -> None:
        # The first update loads the script (a failed EVALSHA, SCRIPT LOAD, EVALSHA): keep
        # that out of the first batch's counts.
        job = JobRun(f"warm-{uuid.uuid4().hex[:8]}", [(0.0, "completed")])
        self.server.call(_replay, self.store, job, 1.0, time.monotonic())

    def _commandstats(self) -> dict[str, int]:
        raw: dict[str, Any] = self.redis.info("commandstats")
        return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in raw.items()}

    def run(self, trace: str, timeline: Trace, strategy: str, speed: float,
            jobs: int) -> LiveRow:
        period = _period(strategy)
        nonce = uuid.uuid4().hex[:8]
        runs = [JobRun(f"{trace}-{strategy}-{k}-{nonce}",
                       shifted(timeline, period * k / jobs) if k else list(timeline))
                for k in range(jobs)]
        duration = max(t for t, _ in timeline) + period
        limit = duration / speed + 10.0  # real seconds: a safety net, never reached
        before = self._commandstats()
        t0 = time.monotonic() + 0.05
        workers: list[Future[None]] = [
            self.server.portal.start_task_soon(_replay, self.store, job, speed, t0)
            for job in runs
        ]
        base = self.server.url
        if strategy == "sse-async":
            _watch_async(base, runs, limit)
        else:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                list(pool.map(lambda job: _watch(base, job, strategy, speed, limit), runs))
        for w in workers:
            w.result(timeout=limit)
        after = self._commandstats()
        delta = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        delta = {k: v for k, v in delta.items() if v and k.split("|")[0] not in _NOT_THE_JOBS}
        writes = delta.get("evalsha", 0) + delta.get("eval", 0)
        # Each update script runs one GET of its own; commandstats counts it with the rest.
        reads = delta.get("get", 0) + delta.get("hgetall", 0) - writes
        return self._row(trace, strategy, speed, runs, reads, writes, sum(delta.values()))

    def _row(self, trace: str, strategy: str, speed: float, runs: Sequence[JobRun],
             reads: int, writes: int, commands: int) -> LiveRow:
        n = len(runs)
        server = [sum(v for p, v in self.counts.items() if p.startswith(f"/jobs/{j.job_id}"))
                  for j in runs]
        client = [j.client_requests for j in runs]
        lags = [lag for j in runs for lag in j.lags()]
        changes = sum(len(j.timeline) - 1 for j in runs)
        errors = sum(1 for j in runs if j.error) + (changes - len(lags))
        scale = 1.0 if strategy in PUSH else speed
        return LiveRow(
            trace=trace,
            strategy=strategy,
            speed=speed,
            jobs=n,
            server_requests=sum(server) / n,
            client_requests=None if None in client else sum(c or 0 for c in client) / n,
            exact_requests=_exact(strategy, [j.timeline for j in runs]),
            redis_reads=reads / n,
            redis_writes=writes / n,
            redis_commands=commands / n,
            mean_lag=scale * sum(lags) / len(lags) if lags else 0.0,
            p95_lag=scale * percentile(lags, 95.0) if lags else 0.0,
            max_lag=scale * max(lags, default=0.0),
            p95_raw_ms=1000 * percentile(lags, 95.0) if lags else 0.0,
            errors=errors,
            consistent=all(c is None or c == s for c, s in zip(client, server, strict=True)),
        )


@contextmanager
def _redis(url: str | None) -> Iterator[str]:
    if url is not None:
        yield url
        return
    try:
        cm = redis_server()
        url = cm.__enter__()
    except RuntimeError as exc:
        raise LiveUnavailable(
            f"{exc}: install redis-server (e.g. apt-get install redis-server) or set REDIS_URL"
        ) from None
    try:
        yield url
    finally:
        cm.__exit__(None, None, None)


def _period(strategy: str) -> float:
    if strategy in POLICIES:
        return POLICIES[strategy].bounds[1]
    if strategy in PEERS:
        return PEERS[strategy][1]
    return 8.0


def _exact(strategy: str, timelines: Sequence[Trace]) -> float | None:
    """Requests per job on the same timelines on the virtual clock (what the frontier says)."""
    if strategy in POLICIES:
        run = policy_strategy(POLICIES[strategy])
    elif strategy in PEERS:
        run = PEERS[strategy][2]
    else:
        return 1.0  # one stream per job: nothing here drops a connection
    return sum(len(run(t)) for t in timelines) / len(timelines)


def _watch(base: str, job: JobRun, strategy: str, speed: float, limit: float) -> None:
    """One client thread: its client made first (so start-up is not counted as lag), then
    wait for the job's first write and watch it to the end."""
    url = f"{base}/jobs/{job.job_id}"
    if strategy in PEER_LOOPS:
        _watch_peer(url, job, strategy, speed, limit)
        return
    policy = POLICIES.get(strategy)
    events = f"{url}/events" if strategy == "sse" else None
    with ProgressClient(policy=policy, clock=ScaledClock(speed)) as client:
        if not job.ready.wait(limit):
            job.error = "the worker never wrote the job"
            return
        try:
            for update in client.watch(url, timeout=limit * speed, events_url=events):
                job.seen.append((time.monotonic(), _step(update.status.step)))
                job.client_requests = update.report.requests
        except (PollError, httpx.HTTPError) as exc:
            job.error = f"{type(exc).__name__}: {sanitize(str(exc))[:200]}"


def _watch_peer(url: str, job: JobRun, strategy: str, speed: float, limit: float) -> None:
    sent = 0
    with httpx.Client(timeout=10.0) as http:

        def fetch() -> str:
            nonlocal sent
            sent += 1
            response = http.get(url)
            response.raise_for_status()
            doc = response.json()
            job.seen.append((time.monotonic(), _step(doc.get("step"))))
            return str(doc["status"])

        if not job.ready.wait(limit):
            job.error = "the worker never wrote the job"
            return
        try:
            PEER_LOOPS[strategy](fetch, 1.0 / speed, limit)
        except (httpx.HTTPError, tenacity.RetryError, polling2.TimeoutException) as exc:
            job.error = f"{type(exc).__name__}: {sanitize(str(exc))[:200]}"
        finally:
            job.client_requests = sent


def _watch_async(base: str, runs: Sequence[JobRun], limit: float) -> None:
    """``sse-async``: every job's stream on one ``AsyncProgressClient``, in this thread."""

    async def one(client: AsyncProgressClient, job: JobRun) -> None:
        url = f"{base}/jobs/{job.job_id}"
        with anyio.fail_after(limit):
            while not job.ready.is_set():
                await anyio.sleep(0.001)
        try:
            async for update in client.watch(url, timeout=limit, events_url=f"{url}/events"):
                job.seen.append((time.monotonic(), _step(update.status.step)))
                job.client_requests = update.report.requests
        except (PollError, httpx.HTTPError) as exc:
            job.error = f"{type(exc).__name__}: {sanitize(str(exc))[:200]}"

    async def main() -> None:
        async with AsyncProgressClient() as client, anyio.create_task_group() as tg:
            for job in runs:
                tg.start_soon(one, client, job)

    anyio.run(main)


# -- the whole part -------------------------------------------------------------------------


def run_all(
    settings: dict[str, tuple[float, int]],
    *,
    strategies: Sequence[str] = STRATEGIES,
    traces: dict[str, tuple[str, Trace]] | None = None,
    redis_url: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[LiveRow]:
    pool = traces or TRACES
    rows: list[LiveRow] = []
    with LiveBench.start(redis_url) as bench:
        for trace, (speed, jobs) in settings.items():
            timeline = pool[trace][1]
            for strategy in strategies:
                t = time.monotonic()
                rows.append(bench.run(trace, timeline, strategy, speed, jobs))
                if progress is not None:
                    progress(f"live: {trace} {strategy} in {time.monotonic() - t:.1f} s")
    return rows


def _num(x: float | None, digits: int = 1) -> str:
    if x is None:
        return "-"
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.{digits}f}"


def markdown(rows: Sequence[LiveRow]) -> str:
    """One table per trace."""
    out: list[str] = []
    for trace in dict.fromkeys(r.trace for r in rows):
        part = [r for r in rows if r.trace == trace]
        fixed = next((r.server_requests for r in part if r.strategy == "fixed-1s"), None)
        out += [
            f"### `{trace}` ({_num(part[0].speed)}x, {part[0].jobs} jobs per strategy)",
            "",
            "| strategy | requests/job (server) | client says | exact | vs fixed-1s | "
            "Redis reads/job | Redis writes/job | Redis commands/job | mean lag (s) | "
            "p95 lag (s) | max lag (s) | p95 lag, raw (ms) | errors |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in part:
            share = f"{100 * r.server_requests / fixed:.1f}%" if fixed else "-"
            mark = "" if r.consistent else " (!)"
            out.append(
                f"| {r.strategy} | {_num(r.server_requests)}{mark} | {_num(r.client_requests)} | "
                f"{_num(r.exact_requests)} | {share} | {_num(r.redis_reads)} | "
                f"{_num(r.redis_writes)} | {_num(r.redis_commands)} | "
                f"{r.mean_lag:.{3 if r.push else 2}f} | {r.p95_lag:.{3 if r.push else 2}f} | "
                f"{r.max_lag:.{3 if r.push else 2}f} | {r.p95_raw_ms:.1f} | {r.errors} |"
            )
        out.append("")
    return "\n".join(out).rstrip("\n")


NOTES = (
    "Requests are counted at the server (an ASGI counter in front of the reference app); "
    "\"client says\" is the client's own count (`PollReport.requests`, or the peer loop's "
    "calls) and \"exact\" is the virtual-clock figure for the same timelines. Redis counts are "
    "`INFO commandstats` deltas around each batch, per job: reads are the status server's "
    "`GET`s (one per poll, one per stream), writes the worker's update round trips (one "
    "`EVALSHA` each, which runs `GET`, `SET`, `HSET`, `EXPIRE` and `PUBLISH` inside: those "
    "are in \"commands\"). Lag runs from the worker's update to the client holding the "
    "status; polling lags are multiplied by the speed-up (seconds of a real job, so they "
    "include about `speed` x the request's real latency), push lags (`sse`, `sse-async`) are "
    "not scaled: a push does not wait on a schedule. Compression has one bias: the next "
    "poll is scheduled from the response, so each poll's real latency (a few ms, times the "
    "speed-up) is added to its interval; the shorter the interval, the more polls are lost "
    "against \"exact\" (`fixed-1s` most), which makes every \"vs fixed-1s\" share look "
    "higher than on the virtual clock."
)


def target_checks(rows: Sequence[LiveRow]) -> list[tuple[str, bool]]:
    """(what was checked, with the figure; met?) for the live part."""
    out: list[tuple[str, bool]] = []
    by = {(r.trace, r.strategy): r for r in rows}
    for trace in dict.fromkeys(r.trace for r in rows):
        for name in PUSH:
            r = by.get((trace, name))
            if r is None:
                continue
            out.append((f"{trace}: {name} {_num(r.server_requests)} requests/job at the "
                        "server (<= 2)", r.server_requests <= 2))
            out.append((f"{trace}: {name} p95 lag {r.p95_raw_ms:.1f} ms (< 50 ms)",
                        r.p95_raw_ms < 50.0 and r.errors == 0))
        fixed, adaptive = by.get((trace, "fixed-1s")), by.get((trace, "adaptive"))
        if fixed is not None and adaptive is not None:
            share = adaptive.server_requests / fixed.server_requests
            out.append((f"{trace}: adaptive sends {_num(adaptive.server_requests)}/"
                        f"{_num(fixed.server_requests)} = {100 * share:.1f}% of fixed-1s at "
                        "the server (<= 25%)", share <= 0.25))
            out.append((f"{trace}: adaptive p95 lag {adaptive.p95_lag:.2f} s (<= 8 s)",
                        adaptive.p95_lag <= 8.0))
        bad = [r.strategy for r in rows if r.trace == trace and (r.errors or not r.consistent)]
        out.append((f"{trace}: every strategy finished every job, server counts == client "
                    f"counts{' (not: ' + ', '.join(bad) + ')' if bad else ''}", not bad))
    return out


def live(*, quick: bool = False, redis_url: str | None = None,
         progress: Callable[[str], None] | None = None) -> tuple[str, list[tuple[str, bool]]]:
    """Run the live part; the markdown for ``live.md`` and the target checks."""
    settings = QUICK if quick else FULL
    rows = run_all(settings, redis_url=redis_url, progress=progress)
    md = "\n".join([
        "Each trace time-compressed (speed-up in the heading) against the reference server "
        "(Starlette + uvicorn, `RedisStore`) and a real redis-server on 127.0.0.1; the "
        "client, the server and the worker share one process (the server and worker on one "
        "event loop in a thread), redis-server is its own process.",
        "",
        NOTES,
        "",
        markdown(rows),
    ])
    return md, target_checks(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the short trace only")
    args = parser.parse_args(argv)
    try:
        md, checks = live(quick=args.quick,
                          progress=lambda line: print(line, file=sys.stderr, flush=True))
    except LiveUnavailable as exc:
        print(f"live: cannot run: {exc}", file=sys.stderr)
        return 2
    print(md)
    for text, ok in checks:
        print(f"{'met' if ok else 'MISSED'}: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
