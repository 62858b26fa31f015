"""Live on 127.0.0.1: the frontier's traces, time-compressed, against TWO reference-server
processes (``benchmarks/liveserver.py``) over one real redis-server, with requests counted at
the servers and Redis commands counted by Redis.

Every client spreads its requests over the two processes, one after the other (``RoundRobin``,
as a load balancer would), so each process serves every job and keeps it in its cache: a job
costs Redis the worker's writes plus at most one read per process.

For each trace and strategy, ``jobs`` jobs run at once. Each job has a worker coroutine (on an
event loop in a thread of this process) that replays the trace through ``RedisStore.update`` at
compressed times, and a client thread that watches it:

- ours (``fixed-1s`` ... ``exponential``, the frontier's policies): ``ProgressClient.watch``
  on a clock that runs ``speed`` times fast, so the policies are used unchanged;
- ``sse``: ``ProgressClient.watch(events_url=...)``; ``sse-async``: the same with
  ``AsyncProgressClient`` (on the real clock: a push does not wait on a schedule);
- ``long-poll``: ``AsyncProgressClient(long_poll=True)`` on the real clock: each poll asks the
  server to hold it up to 60 s (``Prefer: wait=60``) until the job changes;
- peers: tenacity, backoff and polling2 running their own loops with real sleeps, configured
  as in ``peers.py`` with every interval divided by ``speed``, each poll an ``httpx`` GET.

Job ``k`` of ``n`` has its changes moved ``period * k / n`` seconds later (``period``: the
strategy's longest interval), as the frontier pools lags over placements, so the live and the
exact (virtual clock) figures are for the same timelines.

Measured per job: requests at the servers (an ASGI counter around each app, by path, summed
over both), requests the client reports, Redis commands (``INFO commandstats`` deltas around
each batch, divided by its jobs), and detection lag: from the moment the worker starts the
update to the moment the client first holds that status (or a later one). Polling lags are
multiplied back by ``speed`` (seconds of a real job); push and long-poll lags are not scaled
and are given in milliseconds.

The clients are in ``livewatch.py``. ``python -m benchmarks.live [--quick]`` prints the
tables; ``benchmarks/run.py --only live`` also writes ``benchmarks/results/live.md``.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
import redis
from anyio.from_thread import BlockingPortal, start_blocking_portal

from benchmarks.frontier import OURS
from benchmarks.liveserver import BENCH_PATH
from benchmarks.livewatch import (
    JobRun,
    RoundRobin,
    ScaledClock,
    backoff_loop,
    polling2_loop,
    tenacity_loop,
    watch,
    watch_async,
)
from benchmarks.peers import PEERS
from benchmarks.procs import free_port, redis_server, spawn
from benchmarks.traces import TRACES, Trace
from progress_client.core.plan import policy_strategy, shifted
from progress_client.core.policy import Policy
from progress_client.core.simulate import percentile
from progress_client.server import RedisStore

__all__ = [
    "FULL",
    "HELD",
    "QUICK",
    "STRATEGIES",
    "JobRun",
    "LiveBench",
    "LiveRow",
    "LiveUnavailable",
    "RoundRobin",
    "ScaledClock",
    "backoff_loop",
    "live",
    "long_poll_bound",
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
#: Polls the server holds until the job changes (RFC 7240 ``Prefer: wait``), on the real clock.
HELD = ("long-poll",)
#: Their lags are real milliseconds, not scaled back by the speed-up.
UNSCALED = (*PUSH, *HELD)
LONG_POLL_WAIT = 60.0
STRATEGIES: tuple[str, ...] = (*POLICIES, *PUSH, *HELD, *PEERS)
#: Status-server processes behind the clients.
SERVERS = 2
PREFIX = "bench-live"
#: Housekeeping Redis counts that are not the job's: our own INFO, connection set-up, the
#: servers' subscriptions and their health checks.
_NOT_THE_JOBS = ("info", "hello", "client", "script", "ping", "psubscribe", "select")


class LiveUnavailable(RuntimeError):
    """No redis-server (or no reference server) could be had: the live part cannot run."""


# -- one job --------------------------------------------------------------------------------


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
        """Lags in real milliseconds (a push or a held poll), not scaled by the speed-up."""
        return self.strategy in UNSCALED


class LiveBench:
    """A redis-server, ``SERVERS`` reference-server processes over it (each counting its
    requests), the worker's ``RedisStore`` on an event loop in a thread, and a Redis
    connection to read ``INFO commandstats``. Use ``start()`` as a context manager."""

    def __init__(self, redis_url: str, ports: Sequence[int], portal: BlockingPortal,
                 store: RedisStore) -> None:
        self.redis_url = redis_url
        self.ports = list(ports)
        self.base = f"http://127.0.0.1:{self.ports[0]}"  # the port is replaced per request
        self.portal = portal
        self.store = store
        self.redis = redis.Redis.from_url(redis_url, decode_responses=True)

    @classmethod
    @contextmanager
    def start(cls, redis_url: str | None = None, servers: int = SERVERS
              ) -> Iterator[LiveBench]:
        """On ``redis_url``, else REDIS_URL, else a throwaway redis-server."""
        with _redis(redis_url) as url, ExitStack() as stack:
            ports = [free_port() for _ in range(servers)]
            for port in ports:
                stack.enter_context(spawn(
                    [sys.executable, "-m", "benchmarks.liveserver", "--port", str(port),
                     "--redis-url", url, "--prefix", PREFIX], port))
            portal = stack.enter_context(start_blocking_portal("asyncio"))
            store = RedisStore(url, prefix=PREFIX)
            bench = cls(url, ports, portal, store)
            try:
                bench._warm_up()
                yield bench
            finally:
                bench.redis.close()
                portal.call(store.aclose)

    def _warm_up(self) -> None:
        # The first update loads the script (a failed EVALSHA, SCRIPT LOAD, EVALSHA): keep
        # that out of the first batch's counts.
        job = JobRun(f"warm-{uuid.uuid4().hex[:8]}", [(0.0, "completed")])
        self.portal.call(_replay, self.store, job, 1.0, time.monotonic())

    def _commandstats(self) -> dict[str, int]:
        raw: dict[str, Any] = self.redis.info("commandstats")
        return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in raw.items()}

    def server_reports(self) -> list[dict[str, Any]]:
        """Each server process's request counts by path, cache figures, RSS and CPU."""
        with httpx.Client(timeout=10) as http:
            return [http.get(f"http://127.0.0.1:{port}{BENCH_PATH}").json()
                    for port in self.ports]

    def counts(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for report in self.server_reports():
            total.update(report["counts"])
        return total

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
            self.portal.start_task_soon(_replay, self.store, job, speed, t0) for job in runs
        ]
        if strategy in ("sse-async", *HELD):
            watch_async(self.base, self.ports, runs, limit,
                        long_poll=LONG_POLL_WAIT if strategy in HELD else None)
        else:
            policy = POLICIES.get(strategy)
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                list(pool.map(lambda job: watch(self.base, self.ports, job, strategy, policy,
                                                speed, limit), runs))
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
        counts = self.counts()
        server = [sum(v for p, v in counts.items() if p.startswith(f"/jobs/{j.job_id}"))
                  for j in runs]
        client = [j.client_requests for j in runs]
        lags = [lag for j in runs for lag in j.lags()]
        changes = sum(len(j.timeline) - 1 for j in runs)
        errors = sum(1 for j in runs if j.error) + (changes - len(lags))
        scale = 1.0 if strategy in UNSCALED else speed
        exact = (long_poll_bound([j.timeline for j in runs], speed) if strategy in HELD
                 else _exact(strategy, [j.timeline for j in runs]))
        return LiveRow(
            trace=trace,
            strategy=strategy,
            speed=speed,
            jobs=n,
            server_requests=sum(server) / n,
            client_requests=None if None in client else sum(c or 0 for c in client) / n,
            exact_requests=exact,
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


def long_poll_bound(timelines: Sequence[Trace], speed: float,
                    wait: float = LONG_POLL_WAIT) -> float:
    """The long-poll target per job: the first request, one per change, and one per ``wait``
    real seconds of quiet between changes (a hold that ends unchanged)."""
    total = 0
    for timeline in timelines:
        gaps = [(b - a) / speed for (a, _), (b, _) in itertools.pairwise(timeline)]
        total += len(timeline) + sum(int(g // wait) for g in gaps)
    return total / len(timelines)


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
    "Two reference-server processes run behind the clients, each client sending its "
    "requests to them in turn (as a load balancer would); requests are counted at the "
    "servers (an ASGI counter in front of each app, summed); \"client says\" is the "
    "client's own count (`PollReport.requests`, or the peer loop's calls) and \"exact\" is "
    "the virtual-clock figure for the same timelines (for `long-poll`: the target, the first "
    "request plus one per change plus one per 60 s of quiet between changes, in real "
    "seconds). Redis counts are `INFO commandstats` deltas around each batch, per job: reads "
    "are the status servers' `GET`s (each process keeps the jobs it serves in memory, exact "
    "through its pub/sub subscription, so a job costs at most one read per process, however "
    "many polls, 304s, streams or held polls it gets), writes the worker's update round "
    "trips (one `EVALSHA` each, which runs `GET`, `SET`, `HSET`, `EXPIRE` and `PUBLISH` "
    "inside: those are in \"commands\"). Lag runs from the worker's update to the client "
    "holding the status; polling lags are multiplied by the speed-up (seconds of a real job, "
    "so they include about `speed` x the request's real latency), push and long-poll lags "
    "(`sse`, `sse-async`, `long-poll`) are not scaled: they do not wait on a schedule. "
    "Compression has one bias: the next poll is scheduled from the response, so each poll's "
    "real latency (a few ms, times the speed-up) is added to its interval; the shorter the "
    "interval, the more polls are lost against \"exact\" (`fixed-1s` most), which makes "
    "every \"vs fixed-1s\" share look higher than on the virtual clock. For `long-poll` it "
    "shortens the quiet: a 60 s hold is 60 real seconds, so on a compressed trace holds end "
    "on a change, never on the 60 s."
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
        for name in HELD:
            r = by.get((trace, name))
            if r is None or r.exact_requests is None:
                continue
            out.append((f"{trace}: {name} {_num(r.server_requests)} requests/job at the "
                        f"servers (<= changes + 1 + one per 60 s of quiet = "
                        f"{_num(r.exact_requests)})", r.server_requests <= r.exact_requests))
            out.append((f"{trace}: {name} p95 lag {r.p95_raw_ms:.1f} ms (< 50 ms)",
                        r.p95_raw_ms < 50.0 and r.errors == 0))
        part = [r for r in rows if r.trace == trace]
        worst = max(part, key=lambda r: r.redis_reads)
        out.append((f"{trace}: Redis reads/job at most {_num(worst.redis_reads)} "
                    f"({worst.strategy}) with {SERVERS} server processes (<= one per process; "
                    "the rest of the commands are the worker's writes)",
                    worst.redis_reads <= SERVERS))
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
        "Each trace time-compressed (speed-up in the heading) against two reference-server "
        "processes (Starlette + uvicorn, `RedisStore`, `benchmarks/liveserver.py`) and a real "
        "redis-server on 127.0.0.1; the clients and the worker share one process (the worker "
        "on an event loop in a thread), each server and redis-server are processes of their "
        "own.",
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
