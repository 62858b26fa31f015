"""``progress-client demo --web``: the demo as a web page, served by the reference server.

The same system as the terminal demo (a status server on 127.0.0.1 with the memory store, the
demo's simulated worker writing a 5-minute video job through the store API in accelerated
time), watched from a browser: the page at ``/demo`` waits on each job four ways at once with
the companion module (``/static/progress-client.js``): adaptive polling, a fixed 1 s poller,
Server-Sent Events and long-polling (when the server holds polls), and shows the requests each
one spent, live, against the job's status changes.

Besides the status server's own routes the demo serves: ``GET /demo`` (the page), ``POST
/demo/jobs`` (a new job, queued; at most ``MAX_RUNNING`` at once), ``POST
/demo/jobs/{id}/start`` (start its worker) and ``GET /demo/plan?requests=N,...`` (the monthly
figures for request counts: the planner's arithmetic, the terminal demo's table). Workers run
on the server's event loop, started by the command's main thread through the server's portal,
and are cancelled when the demo stops (Ctrl-C or ``--seconds``).
"""

from __future__ import annotations

import argparse
import math
import queue
import socket
import sys
import time
import uuid
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ..server import MemoryStore, create_app, serve_in_thread
from . import EXIT_ERROR, EXIT_OK, EXIT_USAGE
from .demo import FINAL, JOB_SECONDS, STATUSES, Run, month_figures, setup_job, worker

if TYPE_CHECKING:
    from ..server import MemoryStore, RunningServer

__all__ = ["MAX_RUNNING", "WebDemo", "run_web"]

#: Jobs that may run (or wait to be started) at once; a page asking for more gets a 429.
MAX_RUNNING = 4
#: A job created but never started stops counting against MAX_RUNNING after this (seconds).
UNSTARTED_TTL = 60.0
NO_STORE = {"Cache-Control": "no-store"}


def long_poll_wait(speed: float) -> int:
    """The hold the page asks for (``Prefer: wait=N``, whole seconds): about 30 s of job time."""
    return max(1, min(60, round(30.0 / speed)))


@dataclass
class WebRun:
    run: Run
    created: float
    started: bool = False


@dataclass
class WebDemo:
    """The demo's routes and the jobs they created."""

    store: MemoryStore
    speed: float
    runs: dict[str, WebRun] = field(default_factory=dict)
    #: Jobs to start, from the server's loop to the main thread (which owns the workers).
    starts: queue.SimpleQueue[str] = field(default_factory=queue.SimpleQueue)

    def routes(self) -> list[Route]:
        return [
            Route("/", self.home, methods=["GET"]),
            Route("/demo", self.page, methods=["GET"]),
            Route("/demo/jobs", self.new_job, methods=["POST"]),
            Route("/demo/jobs/{job_id}/start", self.start_job, methods=["POST"]),
            Route("/demo/plan", self.plan, methods=["GET"]),
        ]

    def active(self) -> int:
        now = time.monotonic()
        return sum(
            1 for r in self.runs.values()
            if (r.started and r.run.worker_status != FINAL)
            or (not r.started and now - r.created < UNSTARTED_TTL)
        )

    async def home(self, request: Request) -> Response:
        return RedirectResponse("/demo")

    async def page(self, request: Request) -> Response:
        source = resources.files("progress_client.cli") / "demo_web.html"
        return HTMLResponse(source.read_text("utf-8"), headers=NO_STORE)

    async def new_job(self, request: Request) -> Response:
        if self.active() >= MAX_RUNNING:
            return JSONResponse({"error": "busy", "detail": f"{MAX_RUNNING} demo jobs run"},
                                status_code=429, headers={"Retry-After": "5", **NO_STORE})
        job_id = f"demo-{uuid.uuid4().hex[:12]}"
        await setup_job(self.store, job_id)
        self.runs[job_id] = WebRun(Run(speed=self.speed), created=time.monotonic())
        url = f"/jobs/{job_id}"
        return JSONResponse({
            "job": job_id,
            "url": url,
            "events": f"{url}/events",
            "speed": self.speed,
            "job_seconds": JOB_SECONDS,
            "statuses": list(STATUSES),
            "adaptive": {"initial": 3.0 / self.speed, "step": 1.0 / self.speed,
                         "max": 8.0 / self.speed},
            "fixed": 1.0 / self.speed,
            "long_poll_wait": long_poll_wait(self.speed),
        }, headers=NO_STORE)

    async def start_job(self, request: Request) -> Response:
        web = self.runs.get(request.path_params["job_id"])
        if web is None:
            return JSONResponse({"error": "not_found"}, status_code=404, headers=NO_STORE)
        if not web.started:
            web.started = True
            self.starts.put(request.path_params["job_id"])
        return JSONResponse({"started_at": time.time()}, headers=NO_STORE)

    async def plan(self, request: Request) -> Response:
        try:
            counts = [int(n) for n in request.query_params.get("requests", "").split(",") if n]
        except ValueError:
            counts = []
        if not counts or len(counts) > 8 or any(not 0 <= n <= 10**6 for n in counts):
            return JSONResponse({"error": "bad_request", "detail": "requests=N,N,... (0-1e6)"},
                                status_code=400, headers=NO_STORE)
        figures = [month_figures(n) for n in counts]
        inputs = figures[0][2]
        return JSONResponse({
            "rows": [{"requests": n, "per_month": m, "percent_of_limit": p}
                     for n, (m, p, _) in zip(counts, figures)],
            "jobs_per_day": inputs.jobs_per_day,
            "days": inputs.days,
            "processing_requests": inputs.processing_requests,
            "monthly_limit": inputs.monthly_limit,
        }, headers=NO_STORE)


def run_web(args: argparse.Namespace, speed: float) -> int:
    """Serve the page until Ctrl-C or ``--seconds``; print its URL first."""
    if not 0 <= args.port <= 65535:
        print("progress-client demo: error: --port must be 0-65535", file=sys.stderr)
        return EXIT_USAGE
    if args.port and not _port_free(args.port):
        print(f"progress-client demo: error: 127.0.0.1:{args.port} is in use (try --port 0)",
              file=sys.stderr)
        return EXIT_ERROR
    store = MemoryStore()
    demo = WebDemo(store, speed)
    app = create_app(store)
    app.router.routes.extend(demo.routes())
    workers: list[Future[None]] = []
    try:
        with serve_in_thread(app, port=args.port) as server:
            print(f"progress-client demo: open {server.url}/demo  (a {JOB_SECONDS / 60:g}-minute "
                  f"job at {speed:g}x, about {JOB_SECONDS / speed:.0f} s per run; "
                  + ("Ctrl-C stops" if args.seconds is None else
                     f"stops after {args.seconds:g} s or on Ctrl-C") + ")", flush=True)
            _serve(demo, server, args.seconds, workers)
            for job in workers:
                job.cancel()
    except KeyboardInterrupt:
        for job in workers:
            job.cancel()
        print("progress-client demo: stopped", file=sys.stderr)
    except (OSError, RuntimeError, SystemExit, CancelledError):
        print(f"progress-client demo: error: cannot serve on 127.0.0.1:{args.port} "
              "(in use?)", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def _serve(demo: WebDemo, server: RunningServer, seconds: float | None,
           workers: list[Future[None]]) -> None:
    """Start the workers the page asks for, until the time is up (or Ctrl-C)."""
    end = math.inf if seconds is None else time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        try:
            job_id = demo.starts.get(timeout=min(0.2, left))
        except queue.Empty:
            continue
        run = demo.runs[job_id].run
        run.started = time.monotonic()
        workers.append(server.portal.start_task_soon(worker, demo.store, job_id, run, _quiet))
        print(f"progress-client demo: job {job_id} started", flush=True)


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _quiet(line: str) -> None:
    """The worker's log lines stay out of the terminal: the page shows the job."""
