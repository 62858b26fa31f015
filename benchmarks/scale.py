"""Scale: thousands of jobs waited on at once in one process, beside a floor that does the same
with no client library.

Every contender runs in a fresh child process (so RSS and the collector start clean) for a
fixed window (``--seconds``, 40 by default) against a fresh tiny server in another process
(``/static/...``: a job that never changes, so each job's schedule is the policy's alone).
Jobs start spread uniformly over ``--spread`` seconds (a fixed seed: the same starts for every
contender). Each job keeps the default adaptive schedule: the first request at its start, then
3, 4, 5 ... 8 s after each response.

Contenders:

- ``floor``: a bare aiohttp loop on uvloop, one task per job: sleep until the next scheduled
  time, GET, read the body, parse the JSON, compute the next delay (the response object is gone
  before the sleep);
- ``client``: one ``AsyncProgressClient``, one ``watch()`` per job, on httpx's default
  transport and asyncio's default loop;
- ``client/aiohttp``: the same over httpx-aiohttp's transport
  (``client=httpx.AsyncClient(transport=AiohttpTransport(...))``);
- ``client/uvloop``: the default transport on uvloop;
- ``client/aiohttp+uvloop``: both;
- ``client/fast``: the client's own fast path on uvloop (``transport="aiohttp"``: polls over an
  aiohttp session directly, no httpx; what ``progress-client[fast]`` gives on asyncio).

All use a pool of ``--conns`` connections (and the client ``max_concurrency`` to match).

Measured in each: CPU seconds per request (the process's CPU time over the window / requests
sent in it), requests sent against the requests the schedule asks for in the window (what
zero latency would give), drift (a request's send time minus its scheduled time, the
previous response's time plus the delay), over all requests and after the start-up burst
(scheduled at t >= ``--steady`` s), errors, RSS per job above the idle process, and time in the
garbage collector (``gc.callbacks``), and how long cancelling every wait at the window's end
takes (``cancel_ms``: what Ctrl-C costs a process waiting on that many jobs).

With ``--deadline T``, every job waits with a timeout that ends at the same instant, ``T``
seconds after the window's start (the client: ``watch(url, timeout=...)``, ended by its
``PollTimeout``; the floor: a deadline check in its loop, its sleep and its request's aiohttp
timeout cut at the deadline). For every job, the time
its wait ended minus that instant: max, p99 and median (``deadline_max_ms`` ...), and the jobs
whose wait had not ended by the window's end (``deadline_open``), and the CPU time the process
spent from 5 ms before the deadline until the last wait ended (``deadline_cpu_ms``: on a
shared machine, steadier than the wall-clock figures), and of it the collector's time and full
passes (``deadline_gc_ms``, ``deadline_gc_full``). Requests asked for are then counted up
to ``T``.

    python -m benchmarks.scale --jobs 10000                  # every contender, a table
    python -m benchmarks.scale --jobs 2000 --contenders floor,client
    python -m benchmarks.scale --jobs 10000 --contenders floor,client/fast --rounds 3
    python -m benchmarks.scale --jobs 10000 --contenders floor,client/fast --deadline 30
    python -m benchmarks.scale --child client --url URL ...  # one contender, one JSON line
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

__all__ = ["CONTENDERS", "ScaleRun", "deadline_markdown", "markdown", "median_runs", "plot",
           "run_child", "say", "scale", "scheduled_times"]

ROOT = Path(__file__).resolve().parents[1]

#: name -> (transport, loop). "floor" is aiohttp itself, with no client library.
CONTENDERS: dict[str, tuple[str, str]] = {
    "floor": ("aiohttp", "uvloop"),
    "client": ("httpx", "asyncio"),
    "client/aiohttp": ("httpx-aiohttp", "asyncio"),
    "client/uvloop": ("httpx", "uvloop"),
    "client/aiohttp+uvloop": ("httpx-aiohttp", "uvloop"),
    "client/fast": ("aiohttp", "uvloop"),
}
#: Connections in the pool (and polls in flight at once). On loopback a few connections carry
#: thousands of requests a second; more only make httpcore's pool scan longer.
CONNS = 16
SEED = 7

ScaleRun = dict[str, Any]
#: What a contender's setup returns: one job's coroutine function, and how to close it all.
Setup = tuple[Callable[[int], Coroutine[Any, Any, None]], Callable[[], Coroutine[Any, Any, None]]]


def _delays() -> Callable[[int], float]:
    from progress_client import AdaptivePolicy

    return AdaptivePolicy().delay


def scheduled_times(start: float, window: float) -> list[float]:
    """When a job started at ``start`` polls a job that never changes, with no latency, within
    ``window`` seconds of the run's start (the requests the schedule asks for)."""
    delay = _delays()
    times: list[float] = []
    t, n = start, 0
    while t < window:
        times.append(t)
        t += delay(n)
        n += 1
    return times


def _percentile(xs: list[float], pct: float) -> float:
    if not xs:
        return 0.0
    xs = sorted(xs)
    k = (len(xs) - 1) * pct / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


class _GcClock:
    """Time spent in the collector, via ``gc.callbacks``."""

    def __init__(self) -> None:
        self.total = 0.0
        self.longest = 0.0
        self.full = 0
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            spent = time.perf_counter() - self._t0
            self.total += spent
            self.longest = max(self.longest, spent)
            if info.get("generation") == 2:
                self.full += 1


def _rss() -> int:
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def _sample_rss(peak: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], _rss())
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)


class _Recorder:
    """Per job: send times, and the scheduled time of each next request; ``t0`` is the run's
    start (``time.monotonic()``), set once the contender is warm. With a deadline (seconds
    after ``t0``, the same for every job), ``ended`` holds, per job, when its wait ended past
    that instant (negative: before it), ``None`` while it has not."""

    def __init__(self, jobs: int, deadline: float | None = None) -> None:
        self.sent: list[list[float]] = [[] for _ in range(jobs)]
        self.due: list[list[float]] = [[] for _ in range(jobs)]
        self.errors: list[str] = []
        self.t0 = 0.0
        self.deadline = deadline
        self.ended: list[float | None] = [None] * jobs
        #: CPU time just before the deadline, and when the last wait ended.
        self.cpu_before = self.cpu_ended = 0.0
        #: The collector's clock (``_GcClock``), and its time and full passes at those two
        #: instants: how much of the deadline's CPU was the collector's.
        self.gc: _GcClock | None = None
        self.gc_before = self.gc_ended = 0.0
        self.full_before = self.full_ended = 0

    def timeout(self, now: float) -> float | None:
        """The timeout that ends a wait begun at ``now`` at the deadline (``None``: none)."""
        return None if self.deadline is None else self.t0 + self.deadline - now

    def end(self, i: int, now: float) -> None:
        """Job ``i``'s wait ended at ``now`` (by its deadline)."""
        assert self.deadline is not None
        self.ended[i] = now - (self.t0 + self.deadline)
        self.cpu_ended = time.process_time()
        if self.gc is not None:
            self.gc_ended, self.full_ended = self.gc.total, self.gc.full

    def before_deadline(self) -> None:
        self.cpu_before = time.process_time()
        if self.gc is not None:
            self.gc_before, self.full_before = self.gc.total, self.gc.full


# -- the floor: aiohttp, no client library --------------------------------------------------


async def _floor(base: str, starts: list[float], rec: _Recorder, conns: int) -> Setup:
    import aiohttp

    session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=conns),
        timeout=aiohttp.ClientTimeout(total=30),
    )
    async with session.get(f"{base}/static/warm") as r:  # imports, first connection
        await r.read()
    loads = json.loads
    now = time.monotonic

    async def fetch(url: str, timeout: Any = None) -> str:
        # A function of its own: the response dies with its frame, before the job sleeps.
        async with session.get(url, timeout=timeout) as response:
            body = await response.read()
        return str(loads(body)["status"])

    async def job(i: int) -> None:
        url = f"{base}/static/floor-{i}"
        sent, due = rec.sent[i], rec.due[i]
        await asyncio.sleep(max(0.0, rec.t0 + starts[i] - now()))
        # With a deadline, checked in the loop: no sleep past it, no request outlives it
        # (aiohttp's own per-request timer cut short), as the client does.
        end = None if rec.deadline is None else rec.t0 + rec.deadline
        last: str | None = None
        unchanged = 0
        while True:
            if end is not None and now() >= end:
                rec.end(i, now())
                return
            sent.append(now())
            try:
                if end is None:
                    status: str | None = await fetch(url)
                else:
                    left = aiohttp.ClientTimeout(total=min(30.0, end - now()))
                    status = await fetch(url, left)
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, KeyError) as exc:
                if end is not None and now() >= end:
                    continue  # the deadline, not an error
                rec.errors.append(type(exc).__name__)
                status = last
            unchanged = 0 if status != last else unchanged + 1
            last = status
            delay = 3.0 + unchanged if unchanged < 5 else 8.0
            at = now() + delay
            due.append(at)
            await asyncio.sleep((at if end is None else min(at, end)) - now())

    return job, session.close


# -- the client ---------------------------------------------------------------------------


async def _client(base: str, starts: list[float], rec: _Recorder, conns: int,
                  transport_name: str) -> Setup:
    import httpx

    from progress_client import AsyncProgressClient, PollTimeout

    if transport_name == "aiohttp":
        return await _fast_client(base, starts, rec, conns)
    limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)
    inner: httpx.AsyncBaseTransport
    if transport_name == "httpx-aiohttp":
        from httpx_aiohttp import AiohttpTransport

        inner = AiohttpTransport(limits=limits)
    else:
        inner = httpx.AsyncHTTPTransport(limits=limits)
    now = time.monotonic
    index: dict[str, int] = {}

    class Recording(httpx.AsyncBaseTransport):
        """Records when each job's request reaches the transport."""

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            i = index.get(request.url.path)
            if i is not None:
                rec.sent[i].append(now())
            return await inner.handle_async_request(request)

        async def aclose(self) -> None:
            await inner.aclose()

    http = httpx.AsyncClient(transport=Recording(), timeout=httpx.Timeout(30.0, pool=None))
    client = AsyncProgressClient(client=http, max_concurrency=conns)
    await client.wait(f"{base}/count/warm/1")  # imports, first connection

    async def job(i: int) -> None:
        path = f"/static/client-{i}"
        index[path] = i
        due = rec.due[i]
        await asyncio.sleep(max(0.0, rec.t0 + starts[i] - now()))
        try:
            async for update in client.watch(base + path, timeout=rec.timeout(now())):
                if update.next_delay is not None:
                    due.append(now() + update.next_delay)
        except PollTimeout:
            rec.end(i, now())
        except Exception as exc:
            rec.errors.append(type(exc).__name__)

    async def close() -> None:
        await client.aclose()
        await http.aclose()

    return job, close


async def _fast_client(base: str, starts: list[float], rec: _Recorder, conns: int) -> Setup:
    from progress_client import AsyncProgressClient, PollTimeout

    client = AsyncProgressClient(max_concurrency=conns, transport="aiohttp")
    assert client._fast is not None
    now = time.monotonic
    index: dict[str, int] = {}
    fetch = client._fast.fetch

    async def recording(method: str, url: str, *args: Any) -> None:
        """Records when each job's request reaches the transport (as ``Recording`` does)."""
        i = index.get(url)
        if i is not None:
            rec.sent[i].append(now())
        await fetch(method, url, *args)

    client._fast.fetch = recording  # type: ignore[method-assign]
    await client.wait(f"{base}/count/warm/1")  # imports, first connection

    async def job(i: int) -> None:
        url = f"{base}/static/client-{i}"
        index[url] = i
        due = rec.due[i]
        await asyncio.sleep(max(0.0, rec.t0 + starts[i] - now()))
        try:
            async for update in client.watch(url, timeout=rec.timeout(now())):
                if update.next_delay is not None:
                    due.append(now() + update.next_delay)
        except PollTimeout:
            rec.end(i, now())
        except Exception as exc:
            rec.errors.append(type(exc).__name__)

    return job, client.aclose


# -- one run --------------------------------------------------------------------------------


async def _run(name: str, base: str, jobs: int, seconds: float, spread: float, steady: float,
               conns: int, deadline: float | None = None) -> ScaleRun:
    transport_name, loop_name = CONTENDERS[name]
    rng = random.Random(SEED)
    starts = [rng.uniform(0, spread) for _ in range(jobs)]
    rec = _Recorder(jobs, deadline)
    if name == "floor":
        job, close = await _floor(base, starts, rec, conns)
    else:
        job, close = await _client(base, starts, rec, conns, transport_name)
    gc.collect()
    idle = _rss()
    peak = [idle]
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample_rss(peak, stop))
    gc_clock = _GcClock()
    gc.callbacks.append(gc_clock)
    rec.gc = gc_clock
    t0 = rec.t0 = time.monotonic()
    cpu0 = time.process_time()
    tasks = [asyncio.create_task(job(i)) for i in range(jobs)]
    if deadline is not None:  # the CPU the deadline's instant costs, from just before it
        loop = asyncio.get_running_loop()
        loop.call_at(loop.time() + t0 + deadline - 0.005 - time.monotonic(), rec.before_deadline)
    await asyncio.sleep(max(0.0, t0 + seconds - time.monotonic()))
    cpu = time.process_time() - cpu0
    gc.callbacks.remove(gc_clock)
    end = t0 + seconds
    stop.set()
    await sampler
    began = time.monotonic()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    cancelled = time.monotonic() - began
    await close()

    sent = sum(1 for xs in rec.sent for t in xs if t < end)
    window = seconds if deadline is None else min(seconds, deadline)
    asked = sum(len(scheduled_times(s, window)) for s in starts)
    drift_all: list[float] = []
    drift_steady: list[float] = []
    for sends, dues in zip(rec.sent, rec.due):
        for k, due in enumerate(dues):
            if k + 1 < len(sends) and sends[k + 1] < end:
                d = sends[k + 1] - due
                drift_all.append(d)
                if due - t0 >= steady:
                    drift_steady.append(d)
    return {
        "contender": name,
        "transport": transport_name,
        "loop": loop_name,
        "jobs": jobs,
        "seconds": seconds,
        "requests": sent,
        "scheduled": asked,
        "delivered": round(sent / asked, 4) if asked else 0.0,
        "requests_per_s": round(sent / seconds, 1),
        "cpu_s": round(cpu, 2),
        "cpu_per_request_us": round(1e6 * cpu / max(1, sent), 1),
        "drift_p50_ms": round(1000 * _percentile(drift_all, 50), 2),
        "drift_p99_ms": round(1000 * _percentile(drift_all, 99), 2),
        "drift_max_ms": round(1000 * max(drift_all, default=0.0), 2),
        "steady_drift_p50_ms": round(1000 * _percentile(drift_steady, 50), 2),
        "steady_drift_p99_ms": round(1000 * _percentile(drift_steady, 99), 2),
        "rss_idle_mib": round(idle / 2**20, 1),
        "rss_peak_mib": round(peak[0] / 2**20, 1),
        "rss_per_job_kib": round((peak[0] - idle) / jobs / 1024, 2),
        "gc_s": round(gc_clock.total, 2),
        "gc_full": gc_clock.full,
        "gc_longest_ms": round(1000 * gc_clock.longest, 1),
        "errors": len(rec.errors),
        "error_types": sorted(set(rec.errors)),
        "cancel_ms": round(1000 * cancelled, 1),
        **_deadline_figures(rec),
    }


def _deadline_figures(rec: _Recorder) -> dict[str, Any]:
    """How late each wait ended past the common deadline (nothing without one)."""
    if rec.deadline is None:
        return {}
    late = [x for x in rec.ended if x is not None]
    return {
        "deadline_s": rec.deadline,
        "deadline_ended": len(late),
        "deadline_open": len(rec.ended) - len(late),
        "deadline_p50_ms": round(1000 * _percentile(late, 50), 2),
        "deadline_p99_ms": round(1000 * _percentile(late, 99), 2),
        "deadline_max_ms": round(1000 * max(late, default=0.0), 2),
        "deadline_min_ms": round(1000 * min(late, default=0.0), 2),
        "deadline_cpu_ms": round(1000 * max(0.0, rec.cpu_ended - rec.cpu_before), 1),
        # Of that, the collector's time and its full passes.
        "deadline_gc_ms": round(1000 * max(0.0, rec.gc_ended - rec.gc_before), 1),
        "deadline_gc_full": max(0, rec.full_ended - rec.full_before),
    }


def run_child(argv: list[str]) -> ScaleRun:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", choices=list(CONTENDERS), required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--spread", type=float, default=8.0)
    parser.add_argument("--steady", type=float, default=26.0)
    parser.add_argument("--conns", type=int, default=CONNS)
    parser.add_argument("--deadline", type=float, default=None)
    args = parser.parse_args(argv)
    coro = _run(args.child, args.url, args.jobs, args.seconds, args.spread, args.steady,
                args.conns, args.deadline)
    if CONTENDERS[args.child][1] == "uvloop":
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


# -- the parent: one fresh server and one child per contender ------------------------------


def scale(jobs: int, contenders: list[str], *, seconds: float = 40.0, spread: float = 8.0,
          steady: float = 26.0, conns: int = CONNS, rounds: int = 1,
          deadline: float | None = None,
          progress: Callable[[str], None] | None = None) -> list[ScaleRun]:
    """Run each contender in turn, each in its own process against its own server; with
    ``rounds`` > 1, the contenders take turns that many times (floor, client, floor, client
    ...) and each one's run of median CPU per request stands for it, its every round's CPU per
    request kept beside (``cpu_per_request_rounds_us``): a shared machine's CPU time drifts by
    tens of percent from one minute to the next, and a ratio of two single runs drifts with
    it. With ``deadline``, every job's wait ends at that many seconds into the window (see
    the module's notes)."""
    from benchmarks.procs import free_port, spawn

    if deadline is not None and not spread < deadline < seconds:
        raise ValueError("the deadline must fall after the starts' spread, within the window")
    more = [] if deadline is None else ["--deadline", str(deadline)]
    every: dict[str, list[ScaleRun]] = {name: [] for name in contenders}
    for turn in range(rounds):
        for name in contenders:
            if progress is not None:
                of = f", round {turn + 1} of {rounds}" if rounds > 1 else ""
                progress(f"scale: {name}, {jobs} jobs, {seconds:g} s{of}")
            port = free_port()
            server = [sys.executable, "-m", "benchmarks.tinyserver", "--port", str(port),
                      "--uvloop"]
            with spawn(server, port):
                base = f"http://127.0.0.1:{port}"
                proc = subprocess.run(
                    [sys.executable, "-m", "benchmarks.scale", "--child", name, "--url", base,
                     "--jobs", str(jobs), "--seconds", str(seconds), "--spread", str(spread),
                     "--steady", str(steady), "--conns", str(conns), *more],
                    cwd=ROOT, capture_output=True, text=True, check=False,
                    env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=seconds + 120,
                )
            if proc.returncode != 0:
                raise RuntimeError(
                    f"scale run ({name}, {jobs} jobs) failed: {proc.stderr[-800:]}")
            every[name].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return median_runs(every)


def median_runs(every: dict[str, list[ScaleRun]]) -> list[ScaleRun]:
    """Per contender (in order), its run of median CPU per request (the lower of the two
    middle ones for an even count), with ``rounds`` and every round's CPU per request."""
    runs: list[ScaleRun] = []
    for rounds in every.values():
        ordered = sorted(rounds, key=lambda r: r["cpu_per_request_us"])
        median = dict(ordered[(len(ordered) - 1) // 2])
        median["rounds"] = len(ordered)
        median["cpu_per_request_rounds_us"] = [r["cpu_per_request_us"] for r in rounds]
        if "deadline_max_ms" in median:
            median["deadline_max_rounds_ms"] = [r["deadline_max_ms"] for r in rounds]
            median["deadline_cpu_rounds_ms"] = [r["deadline_cpu_ms"] for r in rounds]
            median["deadline_gc_rounds_ms"] = [r.get("deadline_gc_ms", 0.0) for r in rounds]
        runs.append(median)
    return runs


COLUMNS = [
    ("requests_per_s", "req/s"),
    ("delivered", "delivered"),
    ("cpu_per_request_us", "CPU/req (µs)"),
    ("drift_p50_ms", "drift p50 (ms)"),
    ("drift_p99_ms", "drift p99 (ms)"),
    ("steady_drift_p99_ms", "drift p99, t≥26 s (ms)"),
    ("rss_per_job_kib", "RSS/job (KiB)"),
    ("gc_s", "GC (s)"),
    ("gc_longest_ms", "longest GC (ms)"),
    ("errors", "errors"),
]


def markdown(runs: list[ScaleRun]) -> str:
    """One table; each client row also as a ratio to the floor of the same job count (a row
    of several rounds is its median run, every round's CPU per request below the table)."""
    lines = ["| jobs | contender | " + " | ".join(h for _, h in COLUMNS)
             + " | CPU/req vs floor | delivered vs floor |",
             "|---:|---|" + "---:|" * (len(COLUMNS) + 2)]
    floors = {r["jobs"]: r for r in runs if r["contender"] == "floor"}
    for r in runs:
        cells = []
        for key, _ in COLUMNS:
            v = r[key]
            cells.append(f"{100 * v:.1f}%" if key == "delivered" else f"{v:,}")
        floor = floors.get(r["jobs"])
        if floor is not None and r is not floor:
            cells.append(f"{r['cpu_per_request_us'] / floor['cpu_per_request_us']:.2f}x")
            cells.append(f"{r['requests'] / max(1, floor['requests']):.2f}x")
        else:
            cells += ["-", "-"]
        lines.append(f"| {r['jobs']:,} | {r['contender']} | " + " | ".join(cells) + " |")
    several = [r for r in runs if r.get("rounds", 1) > 1]
    if several:
        lines.append("")
        for r in several:
            each = ", ".join(f"{v:.1f}" for v in r["cpu_per_request_rounds_us"])
            lines.append(f"- {r['jobs']:,} jobs, {r['contender']}: {r['rounds']} rounds, "
                         f"CPU/req (µs) in turn: {each}; the median run is in the table.")
    return "\n".join(lines)


DEADLINE_COLUMNS = [
    ("deadline_p50_ms", "ended p50 (ms)"),
    ("deadline_p99_ms", "ended p99 (ms)"),
    ("deadline_max_ms", "ended max (ms)"),
    ("deadline_open", "not ended"),
    ("deadline_cpu_ms", "CPU to end all (ms)"),
    ("cancel_ms", "cancel all (ms)"),
]


def deadline_markdown(runs: list[ScaleRun]) -> str:
    """The runs with a deadline: how long after it each job's wait ended (its median, p99 and
    latest), the jobs not ended, and the time to cancel every wait at the window's end; each
    client's latest also as a ratio to the floor's."""
    runs = [r for r in runs if "deadline_s" in r]
    lines = ["| jobs | deadline (s) | contender | "
             + " | ".join(h for _, h in DEADLINE_COLUMNS) + " | max vs floor |",
             "|---:|---:|---|" + "---:|" * (len(DEADLINE_COLUMNS) + 1)]
    floors = {(r["jobs"], r["deadline_s"]): r for r in runs if r["contender"] == "floor"}
    for r in runs:
        cells = [f"{r[key]:,}" for key, _ in DEADLINE_COLUMNS]
        floor = floors.get((r["jobs"], r["deadline_s"]))
        if floor is not None and r is not floor and floor["deadline_max_ms"] > 0:
            cells.append(f"{r['deadline_max_ms'] / floor['deadline_max_ms']:.2f}x")
        else:
            cells.append("-")
        lines.append(f"| {r['jobs']:,} | {r['deadline_s']:g} | {r['contender']} | "
                     + " | ".join(cells) + " |")
    several = [r for r in runs if r.get("rounds", 1) > 1 and "deadline_max_rounds_ms" in r]
    if several:
        lines.append("")
        for r in several:
            each = ", ".join(f"{v:,.1f}" for v in r["deadline_max_rounds_ms"])
            line = (f"- {r['jobs']:,} jobs, {r['contender']}: {r['rounds']} rounds, "
                    f"latest end (ms) in turn: {each}")
            if "deadline_gc_rounds_ms" in r:
                line += "; CPU to end all (ms), of it in the collector: " + ", ".join(
                    f"{c:,.1f} ({g:,.1f})"
                    for c, g in zip(r["deadline_cpu_rounds_ms"], r["deadline_gc_rounds_ms"]))
            lines.append(line + "; the table's row is the run of median CPU per request.")
    return "\n".join(lines)


def plot(runs: list[ScaleRun], path: Path) -> None:
    """CPU per request and the share of scheduled requests sent, by job count, per contender."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name in CONTENDERS:
        rows = sorted((r for r in runs if r["contender"] == name), key=lambda r: r["jobs"])
        if not rows:
            continue
        jobs = [r["jobs"] for r in rows]
        style = {"linewidth": 2.5, "color": "black"} if name == "floor" else {}
        ax1.plot(jobs, [r["cpu_per_request_us"] for r in rows], marker="o", label=name, **style)
        ax2.plot(jobs, [100 * r["delivered"] for r in rows], marker="o", label=name, **style)
    ax1.set(xscale="log", xlabel="concurrent jobs", ylabel="CPU per request (µs)",
            title="CPU per request")
    ax2.set(xscale="log", xlabel="concurrent jobs", ylabel="% of scheduled requests sent",
            title="Requests delivered", ylim=(0, 105))
    ax1.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def say(line: str) -> None:
    """Progress, on standard error."""
    print(line, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--child" in argv:
        print(json.dumps(run_child(argv)), flush=True)
        return 0
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", default="10000",
                        help="comma-separated job counts (10000)")
    parser.add_argument("--contenders", default=",".join(CONTENDERS),
                        help=f"comma-separated, of: {', '.join(CONTENDERS)}")
    parser.add_argument("--seconds", type=float, default=40.0, help="window per run (40)")
    parser.add_argument("--spread", type=float, default=8.0, help="starts spread over (8)")
    parser.add_argument("--steady", type=float, default=26.0,
                        help="drift after this many seconds counts as steady state (26)")
    parser.add_argument("--conns", type=int, default=CONNS, help=f"pool size ({CONNS})")
    parser.add_argument("--rounds", type=int, default=1,
                        help="turns each contender takes; the median run stands (1)")
    parser.add_argument("--deadline", type=float, default=None,
                        help="every wait ends this many seconds into the window (none)")
    parser.add_argument("--json", action="store_true", help="print the runs as JSON lines")
    args = parser.parse_args(argv)
    names = [c.strip() for c in args.contenders.split(",") if c.strip()]
    unknown = set(names) - set(CONTENDERS)
    if unknown:
        parser.error(f"unknown contenders: {', '.join(sorted(unknown))}")
    if args.deadline is not None and not args.spread < args.deadline < args.seconds:
        parser.error("--deadline must fall after --spread and before --seconds")
    runs: list[ScaleRun] = []
    for n in (int(j) for j in args.jobs.split(",")):
        runs += scale(n, names, seconds=args.seconds, spread=args.spread, steady=args.steady,
                      conns=args.conns, rounds=args.rounds, deadline=args.deadline,
                      progress=say)
    if args.json:
        for r in runs:
            print(json.dumps(r))
    else:
        print(markdown(runs))
        if args.deadline is not None:
            print()
            print(deadline_markdown(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())

