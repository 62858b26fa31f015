"""Scale: thousands of jobs watched at once in one process, against a local endpoint.

Two contenders, each in a fresh child process (so RSS starts clean), on one shared
``httpx.AsyncClient`` pool with the same limits:

- ``progress-client``: one ``AsyncProgressClient``; every job is a ``watch()`` on it;
- ``tenacity``: one asyncio task per job, ``AsyncRetrying(wait_incrementing(3, 1, 8),
  retry_if_result)`` around ``http.get``.

Timer drift is *actual minus scheduled* poll time: the scheduled time is the response time plus
the announced delay (``Update.next_delay`` for ours, the ``sleep`` tenacity asked for), the
actual time is when the request reaches the transport. Jobs start spread over ``--spread``
seconds (all are watched at once; a real fleet does not start in one instant).

``python -m benchmarks.scale --mode ours --url URL --jobs 10000`` prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import contextvars
import json
import random
import sys
import time
from collections import defaultdict
from typing import Any

import httpx
import psutil

__all__ = ["run_child"]

_job: contextvars.ContextVar[str] = contextvars.ContextVar("job")
#: Connections in the shared pool, and polls in flight at once. On loopback a few connections
#: carry thousands of requests a second; more only make httpcore's pool scan longer.
CONNS = 16


class _Recording(httpx.AsyncBaseTransport):
    """Records when each job's requests reach the transport, and how long they took."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.sent: dict[str, list[float]] = defaultdict(list)
        self.latency: list[float] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        self.sent[request.url.path].append(t0)
        response = await self.inner.handle_async_request(request)
        self.latency.append(loop.time() - t0)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def _percentile(xs: list[float], pct: float) -> float:
    if not xs:
        return 0.0
    xs = sorted(xs)
    k = (len(xs) - 1) * pct / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


async def _sample_rss(proc: psutil.Process, peak: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], proc.memory_info().rss)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)


async def _main(mode: str, base: str, jobs: int, spread: float, timeout: float) -> dict[str, Any]:
    from progress_client import AsyncProgressClient
    from progress_client._models import DEFAULT_FAILURE, DEFAULT_SUCCESS

    terminal = DEFAULT_SUCCESS | DEFAULT_FAILURE
    loop = asyncio.get_running_loop()
    limits = httpx.Limits(max_connections=CONNS, max_keepalive_connections=CONNS)
    transport = _Recording(httpx.AsyncHTTPTransport(limits=limits))
    http = httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(30.0, pool=None))
    scheduled: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    rng = random.Random(7)
    starts = [rng.uniform(0, spread) for _ in range(jobs)]

    client = AsyncProgressClient(client=http, max_concurrency=CONNS)

    async def ours(i: int) -> None:
        path = f"/timeline/{mode}-{i}"
        await asyncio.sleep(starts[i])
        try:
            async for update in client.watch(base + path, timeout=timeout):
                if update.next_delay is not None:
                    scheduled[path].append(loop.time() + update.next_delay)
        except Exception as exc:
            errors.append(type(exc).__name__)

    async def tenacious(i: int) -> None:
        import tenacity

        path = f"/timeline/{mode}-{i}"
        _job.set(path)

        async def sleep(seconds: float) -> None:
            scheduled[_job.get()].append(loop.time() + seconds)
            await asyncio.sleep(seconds)

        async def fetch() -> str:
            response = await http.get(base + path)
            response.raise_for_status()
            return str(response.json()["status"])

        await asyncio.sleep(starts[i])
        try:
            await tenacity.AsyncRetrying(
                wait=tenacity.wait_incrementing(start=3, increment=1, max=8),
                retry=tenacity.retry_if_result(lambda s: s.lower() not in terminal),
                stop=tenacity.stop_after_delay(timeout),
                sleep=sleep,
            )(fetch)
        except Exception as exc:
            errors.append(type(exc).__name__)

    proc = psutil.Process()
    # Warm the pool and the imports before the baseline, so the figure is per job.
    await http.get(base + "/stats")
    import gc

    gc.collect()
    baseline = proc.memory_info().rss
    peak = [baseline]
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample_rss(proc, peak, stop))
    cpu0, wall0 = time.process_time(), loop.time()
    runner = ours if mode == "ours" else tenacious
    await asyncio.gather(*(runner(i) for i in range(jobs)))
    wall = loop.time() - wall0
    cpu = time.process_time() - cpu0
    stop.set()
    await sampler
    await client.aclose()
    await http.aclose()

    drifts: list[float] = []
    for path, sched in scheduled.items():
        sent = transport.sent.get(path, [])
        # The k-th announced delay schedules the (k+1)-th request.
        for k, when in enumerate(sched):
            if k + 1 < len(sent):
                drifts.append(sent[k + 1] - when)
    requests = sum(len(v) for v in transport.sent.values())
    return {
        "mode": mode,
        "jobs": jobs,
        "requests": requests,
        "wall_s": round(wall, 2),
        "requests_per_s": round(requests / wall, 1),
        "cpu_s": round(cpu, 2),
        "cpu_share": round(cpu / wall, 3),
        "rss_baseline_mib": round(baseline / 2**20, 1),
        "rss_peak_mib": round(peak[0] / 2**20, 1),
        "rss_per_job_kib": round((peak[0] - baseline) / jobs / 1024, 2),
        "drift_p50_ms": round(1000 * _percentile(drifts, 50), 2),
        "drift_p99_ms": round(1000 * _percentile(drifts, 99), 2),
        "drift_max_ms": round(1000 * max(drifts, default=0.0), 2),
        "latency_p50_ms": round(1000 * _percentile(transport.latency, 50), 2),
        "latency_p99_ms": round(1000 * _percentile(transport.latency, 99), 2),
        "errors": len(errors),
        "error_types": sorted(set(errors)),
    }


def run_child(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", choices=["ours", "tenacity"], required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--spread", type=float, default=8.0)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    return asyncio.run(_main(args.mode, args.url, args.jobs, args.spread, args.timeout))


if __name__ == "__main__":
    print(json.dumps(run_child(sys.argv[1:])), flush=True)
