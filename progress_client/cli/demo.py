"""``progress-client demo``: the whole system in one command. A status server on a free
loopback port (memory store), a simulated worker making a 5-minute video in accelerated time,
and two pollers side by side (adaptive and a fixed 1 s), then what each one cost. With
``--web`` the same server and worker are watched from a web page instead (``demo_web.py``)."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import anyio
from rich.console import Console
from rich.live import Live
from rich.table import Table

from progress_client.core.plan import PlanInputs, monthly

from .. import AdaptivePolicy, AsyncProgressClient, FixedPolicy, Policy, PollError, sanitize
from . import EXIT_ERROR, EXIT_OK, EXIT_USAGE
from ._common import positive_float
from .serve import missing_server_extra

if TYPE_CHECKING:
    from ..server import Store

__all__ = [
    "FINAL", "JOB_SECONDS", "STATUSES", "STEPS", "Run", "add_parser", "month_figures", "run",
    "setup_job", "worker",
]

#: The simulated job, in real seconds: a 5-minute video, as in the write-up.
STEPS: tuple[tuple[str, float], ...] = (
    ("queued", 10.0),
    ("script", 30.0),
    ("images", 80.0),
    ("voice-over", 50.0),
    ("render", 100.0),
    ("upload", 30.0),
)
FINAL = "completed"
JOB_SECONDS = sum(d for _, d in STEPS)
#: The worker writes its progress this often (real seconds) within a step.
PROGRESS_EVERY = 10.0
DEFAULT_WALL_SECONDS = 20.0
STATUSES = (*(name for name, _ in STEPS), FINAL)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "demo",
        help="see the whole system run: server, worker, adaptive vs fixed 1 s polling",
        description=f"Start a status server on a free 127.0.0.1 port, run a simulated "
        f"{JOB_SECONDS / 60:g}-minute job in accelerated time, wait on it with adaptive "
        "polling and a fixed 1 s poller side by side, and compare what they cost. With --web, "
        "serve a page that watches each job four ways (adaptive, fixed 1 s, SSE, "
        "long-polling) with the browser module.",
    )
    p.add_argument("--seconds", type=positive_float, default=None,
                   help=f"how long the demo runs (default {DEFAULT_WALL_SECONDS:g} s; with "
                   "--web: stop serving after this long, default until Ctrl-C)")
    p.add_argument("--speed", type=positive_float, default=None,
                   help=f"time acceleration (default {JOB_SECONDS / DEFAULT_WALL_SECONDS:g}x; "
                   "instead of --seconds, except with --web)")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.add_argument("--web", action="store_true",
                   help="serve the demo as a web page on 127.0.0.1 and print its URL")
    p.add_argument("--port", type=int, default=0,
                   help="with --web: the port to serve on (default: a free one)")
    p.set_defaults(run=run)


@dataclass
class Watcher:
    """One poller's view of the job: what it saw, when, and what it cost."""

    label: str
    policy: Policy
    status: str = "-"
    progress: float | None = None
    requests: int = 0
    seen_at: dict[str, float] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Run:
    speed: float
    written_at: dict[str, float] = field(default_factory=dict)
    worker_status: str = "-"
    worker_progress: float = 0.0
    started: float = 0.0


def _speed(args: argparse.Namespace) -> float | str:
    if args.seconds is not None and args.speed is not None:
        return "give --seconds or --speed, not both"
    if args.speed is not None:
        speed = float(args.speed)
    else:
        wall = args.seconds if args.seconds is not None else DEFAULT_WALL_SECONDS
        if wall <= 0:
            return "--seconds must be > 0"
        speed = JOB_SECONDS / wall
    if not (math.isfinite(speed) and 0.5 <= speed <= 1000):
        return "the speed must be from 0.5x to 1000x (--seconds from 0.3 to 600)"
    return speed


async def worker(store: Store, job_id: str, run: Run, log: Callable[[str], None]) -> None:
    """A worker writing through the store API, on an absolute schedule so sleeps do not drift."""
    t0 = run.started = time.monotonic()
    elapsed = 0.0
    previous: str | None = None
    for name, duration in STEPS:
        ticks = max(1, math.ceil(duration / PROGRESS_EVERY))
        for k in range(ticks):
            at = elapsed + duration * k / ticks
            await anyio.sleep(max(0.0, t0 + at / run.speed - time.monotonic()))
            progress = round(100.0 * at / JOB_SECONDS, 1)
            if k == 0:
                await store.update(job_id, status=name, step=name, progress=progress,
                                   completed_step=previous)
                run.written_at[name] = time.monotonic()
                log(f"worker     -> {name} ({progress:g}%)")
            else:
                await store.update(job_id, status=name, step=name, progress=progress)
            run.worker_status, run.worker_progress = name, progress
        elapsed += duration
        previous = name
    await anyio.sleep(max(0.0, t0 + elapsed / run.speed - time.monotonic()))
    await store.update(job_id, status=FINAL, step=FINAL, progress=100.0, completed_step=previous)
    run.written_at[FINAL] = time.monotonic()
    run.worker_status, run.worker_progress = FINAL, 100.0
    log(f"worker     -> {FINAL} (100%)")


async def _watch(
    client: AsyncProgressClient, url: str, watcher: Watcher, run: Run, log: Callable[[str], None]
) -> None:
    timeout = 2 * JOB_SECONDS / run.speed + 10
    async with client:
        try:
            async for update in client.watch(url, timeout=timeout):
                now = time.monotonic()
                watcher.requests = update.report.requests
                watcher.status = update.status.status
                watcher.progress = update.status.progress
                if update.status.status in STATUSES:
                    # A status skipped between two polls counts as seen with the later one.
                    index = STATUSES.index(update.status.status)
                    for name in STATUSES[: index + 1]:
                        if name not in watcher.seen_at:
                            watcher.seen_at[name] = now
                            if name == update.status.status:
                                log(f"{watcher.label:<10} sees {name} "
                                    f"(request {watcher.requests})")
        except PollError as exc:
            watcher.error = exc.message
            if exc.report is not None:
                watcher.requests = exc.report.requests


def _lags(watcher: Watcher, run: Run) -> list[float]:
    """Detection lags in real (unaccelerated) seconds, for every status after the first."""
    out = []
    for name in STATUSES[1:]:
        if name in watcher.seen_at and name in run.written_at:
            out.append(max(0.0, watcher.seen_at[name] - run.written_at[name]) * run.speed)
    return out


def _live_table(run: Run, watchers: Sequence[Watcher]) -> Table:
    table = Table(title=f"demo job, {run.speed:g}x speed", title_justify="left")
    table.add_column("who")
    table.add_column("status")
    table.add_column("progress", justify="right")
    table.add_column("requests", justify="right")
    table.add_row("worker", run.worker_status, f"{run.worker_progress:g}%", "-")
    for w in watchers:
        pct = "-" if w.progress is None else f"{w.progress:g}%"
        table.add_row(w.label, w.status, pct, str(w.requests))
    return table


def month_figures(requests: int) -> tuple[int, float, PlanInputs]:
    """What ``requests`` per job come to in a month (the planner's arithmetic: default
    workload, worker requests included) and their share of the monthly limit, in percent."""
    inputs = PlanInputs()
    per_month = monthly(requests, jobs_per_day=inputs.jobs_per_day, days=inputs.days,
                        processing_requests=inputs.processing_requests)
    return per_month, round(100 * per_month / inputs.monthly_limit, 1), inputs


def _results(run: Run, watchers: Sequence[Watcher]) -> dict[str, Any]:
    inputs = PlanInputs()
    baseline = watchers[-1]
    rows = []
    for w in watchers:
        lags = _lags(w, run)
        per_month, percent_of_limit, _ = month_figures(w.requests)
        rows.append({
            "strategy": w.label,
            "policy": w.policy.name + f" / {run.speed:g}",
            "requests": w.requests,
            "saved_vs_fixed_1s": max(0, baseline.requests - w.requests),
            "saved_percent": round(100 * max(0, baseline.requests - w.requests)
                                   / baseline.requests, 1) if baseline.requests else 0.0,
            "mean_lag_s": round(sum(lags) / len(lags), 2) if lags else None,
            "max_lag_s": round(max(lags), 2) if lags else None,
            "per_month": per_month,
            "percent_of_limit": percent_of_limit,
            "error": w.error,
        })
    return {
        "job_seconds": JOB_SECONDS,
        "speed": run.speed,
        "wall_seconds": round(time.monotonic() - run.started, 2),
        "jobs_per_day": inputs.jobs_per_day,
        "processing_requests_per_job": inputs.processing_requests,
        "monthly_limit": inputs.monthly_limit,
        "strategies": rows,
    }


def _final_table(results: dict[str, Any]) -> Table:
    limit = results["monthly_limit"]
    table = Table(
        title=f"a {results['job_seconds'] / 60:g}-minute job; month = "
        f"{results['jobs_per_day']:g} jobs/day x 30 days, "
        f"+{results['processing_requests_per_job']:g} worker requests/job, "
        f"limit {limit / 1000:g}K",
        title_justify="left",
    )
    for col, justify in (("strategy", "left"), ("requests", "right"), ("saved", "right"),
                         ("mean lag", "right"), ("max lag", "right"), ("per month", "right"),
                         ("of limit", "right")):
        table.add_column(col, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for row in results["strategies"]:
        lag = "-" if row["mean_lag_s"] is None else f"{row['mean_lag_s']:.1f}s"
        top = "-" if row["max_lag_s"] is None else f"{row['max_lag_s']:.1f}s"
        saved = f"{row['saved_vs_fixed_1s']} ({row['saved_percent']:g}%)"
        table.add_row(row["strategy"], str(row["requests"]), saved, lag, top,
                      f"{row['per_month']:,}", f"{row['percent_of_limit']:g}%")
    return table


def run(args: argparse.Namespace) -> int:
    missing = missing_server_extra("demo")
    if missing is not None:
        return missing
    if args.web:
        return _run_web(args)
    speed = _speed(args)
    if isinstance(speed, str):
        print(f"progress-client demo: error: {speed}", file=sys.stderr)
        return EXIT_USAGE
    # optional extra [server]: checked above (missing_server_extra)
    from ..server import MemoryStore, create_app, serve_in_thread

    out = Console(highlight=False, soft_wrap=True)
    live_on = out.is_terminal and not args.json
    if not out.is_terminal:
        out = Console(highlight=False, soft_wrap=True, width=100)
    run_state = Run(speed=speed, started=time.monotonic())
    watchers = [
        Watcher("adaptive", AdaptivePolicy(3.0 / speed, 1.0 / speed, 8.0 / speed)),
        Watcher("fixed 1s", FixedPolicy(1.0 / speed)),
    ]

    def log(line: str) -> None:
        if not live_on and not args.json:
            stamp = (time.monotonic() - run_state.started) * speed
            out.print(f"[{stamp:6.1f}s] {line}", markup=False)

    if not args.json:
        out.print(
            f"progress-client demo: a {JOB_SECONDS / 60:g}-minute job at {speed:g}x "
            f"(about {JOB_SECONDS / speed:.0f} s); times below are job time",
            markup=False,
        )
    store = MemoryStore()
    job_id = f"demo-{uuid.uuid4().hex[:12]}"
    with serve_in_thread(create_app(store)) as server:
        url = f"{server.url}/jobs/{job_id}"
        if not args.json:
            out.print(f"status server: {url}  (SSE: {url}/events)", markup=False)
        # The job exists before anyone polls it; an unknown job is a 404.
        server.call(setup_job, store, job_id)

        def start_worker() -> Future[None]:
            return server.portal.start_task_soon(worker, store, job_id, run_state, log)

        working = _poll(url, watchers, run_state, log, live_on, out, start_worker)
        working.result(timeout=30)
    results = _results(run_state, watchers)
    failed = [w for w in watchers if w.error is not None]
    if args.json:
        sys.stdout.write(json.dumps(results) + "\n")
    else:
        out.print(_final_table(results))
        adaptive, fixed = results["strategies"]
        out.print(
            f"adaptive polling saved {adaptive['saved_vs_fixed_1s']} of {fixed['requests']} "
            f"requests ({adaptive['saved_percent']:g}%): {adaptive['per_month']:,} "
            f"requests/month instead of {fixed['per_month']:,}.",
            markup=False,
        )
    for w in failed:
        print(f"progress-client demo: {w.label}: {sanitize(w.error)}", file=sys.stderr)
    return EXIT_ERROR if failed else EXIT_OK


def _run_web(args: argparse.Namespace) -> int:
    if args.json:
        print("progress-client demo: error: --json is for the terminal demo, not --web",
              file=sys.stderr)
        return EXIT_USAGE
    speed = args.speed if args.speed is not None else JOB_SECONDS / DEFAULT_WALL_SECONDS
    if not (math.isfinite(speed) and 0.5 <= speed <= 1000):
        print("progress-client demo: error: the speed must be from 0.5x to 1000x",
              file=sys.stderr)
        return EXIT_USAGE
    from .demo_web import run_web  # import cycle: demo_web imports this module

    return run_web(args, float(speed))


async def setup_job(store: Store, job_id: str) -> None:
    # Technical settings only; an owner id (opaque) is stored but never served.
    await store.set_metadata(job_id, model="sdxl", duration=JOB_SECONDS, format="mp4",
                             resolution="1920x1080")
    await store.update(job_id, status="queued", step="queued", progress=0.0,
                       owner=str(uuid.uuid4()))


def _poll(
    url: str,
    watchers: Sequence[Watcher],
    run: Run,
    log: Callable[[str], None],
    live_on: bool,
    out: Console,
    start_worker: Callable[[], Future[None]],
) -> Future[None]:
    """Run both pollers to the end; the worker starts once their clients are ready, so
    neither one misses the job's first seconds."""
    started: list[Future[None]] = []

    async def main() -> None:
        clients = [
            # Time runs up to 1000x faster against the demo's own server: fast on purpose.
            AsyncProgressClient(policy=w.policy, baseline=1.0 / run.speed,
                                allow_fast_polling=True) for w in watchers
        ]
        started.append(start_worker())
        try:
            async with anyio.create_task_group() as tg:
                for client, w in zip(clients, watchers):
                    tg.start_soon(_watch, client, url, w, run, log)
                if live_on:
                    tg.start_soon(_refresh, run, watchers, out)
        finally:
            for client in clients:  # their connections, aiohttp's session included
                await client.aclose()

    anyio.run(main)
    return started[0]


async def _refresh(run: Run, watchers: Sequence[Watcher], out: Console) -> None:
    with Live(_live_table(run, watchers), console=out, auto_refresh=False,
              transient=False) as live:
        while not all(w.status == FINAL or w.error for w in watchers):
            live.update(_live_table(run, watchers), refresh=True)
            await anyio.sleep(0.1)
        live.update(_live_table(run, watchers), refresh=True)
