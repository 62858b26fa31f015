"""What a waiting job keeps for the garbage collector, and what its deadline costs: counts that
do not depend on the machine's load (the scale benchmark's timings do).

N waits on the fast path (``AsyncProgressClient``, ``transport="aiohttp"``, on uvloop when
installed, as the scale benchmark's ``client/fast``), against the tiny status endpoint in its
own process; each job polls once (``running``) and sleeps, its policy's next poll far past a
deadline common to every job. Once every job sleeps, with the collector off:

- ``objects_per_job``: the GC-tracked objects the waits added (``gc.get_objects()``), per job;
  ``referents_per_job``: the references from those objects (``gc.get_referents``), what a
  collection walks; ``top``: the types that make them up, per job;
- ``bytes_per_job``: the memory they hold (``tracemalloc``, traced from before they began);

then at the deadline, with the collector on at its default thresholds (``gc.callbacks``), from
just before it until every wait ended:

- ``young``, ``middle``, ``full``: the collections of each generation that ran;
- ``gc_ms``, ``cpu_ms``: the collector's time and the process's CPU (these two are timings).

The contender ``floor`` is the scale benchmark's floor (a bare aiohttp loop: sleep, check the
deadline, fetch) with the same server, clock and deadline::

    python -m benchmarks.heap --jobs 5000
    python -m benchmarks.heap --jobs 5000 --contender floor
    python -m benchmarks.heap --jobs 5000 --mode wait
    python -m benchmarks.heap --jobs 5000 --cancel

``--cancel``: every wait cancelled at once instead (what Ctrl-C does): the time that takes
(``cancel_ms``), its CPU and the collections that ran.

``--contender both`` (the default) runs each in a process of its own, in turn.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import json
import subprocess
import sys
import time
import tracemalloc
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

from .procs import ROOT, tinyserver

__all__ = ["measure"]

#: The policy's first delay: the second poll never comes before the deadline.
FAR = 600.0


class _Collections:
    """``gc.callbacks``: the collections of each generation, and their time."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.total = 0.0
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.count[info["generation"]] += 1
            self.total += time.perf_counter() - self._began


def _tracked() -> list[Any]:
    return gc.get_objects()


async def _client_jobs(
    base: str, jobs: int, mode: str
) -> tuple[Callable[[int, float, list[float]], Awaitable[None]], Callable[[], Awaitable[None]]]:
    from progress_client import AdaptivePolicy, AsyncProgressClient, PollTimeout

    client = AsyncProgressClient(
        transport="aiohttp", policy=AdaptivePolicy(initial=FAR, maximum=FAR),
    )
    await client.wait(f"{base}/count/warm/1")  # imports, the first connection

    async def job(i: int, timeout: float, ended: list[float]) -> None:
        url = f"{base}/static/job-{i}"
        try:
            if mode == "watch":
                async for update in client.watch(url, timeout=timeout):
                    del update
            else:
                await client.wait(url, timeout=timeout)
        except PollTimeout:
            ended[i] = time.monotonic()

    return job, client.aclose


async def _floor_jobs(
    base: str, jobs: int, mode: str
) -> tuple[Callable[[int, float, list[float]], Awaitable[None]], Callable[[], Awaitable[None]]]:
    import aiohttp

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100))

    async def fetch(url: str, timeout: Any = None) -> str:
        async with session.get(url, timeout=timeout) as r:
            body = await r.read()
            return str(json.loads(body)["status"])

    await fetch(f"{base}/count/warm/1")

    async def job(i: int, timeout: float, ended: list[float]) -> None:
        url = f"{base}/static/job-{i}"
        end = time.monotonic() + timeout
        delay = FAR
        while True:
            left = end - time.monotonic()
            if left <= 0:
                ended[i] = time.monotonic()
                return
            try:
                await fetch(url, aiohttp.ClientTimeout(total=left))
            except asyncio.TimeoutError:
                continue
            left = end - time.monotonic()
            if left <= delay:  # the deadline comes first: sleep to it and end there
                await asyncio.sleep(max(0.0, left))
                ended[i] = time.monotonic()
                return
            await asyncio.sleep(delay)

    return job, session.close


async def _measure(base: str, contender: str, jobs: int, mode: str, deadline: float,
                   top: int, cancel: bool = False) -> dict[str, Any]:
    make = _floor_jobs if contender == "floor" else _client_jobs
    job, close = await make(base, jobs, mode)
    ended = [0.0] * jobs
    served = await asyncio.to_thread(_requests, base)
    gc.collect()
    gc.disable()
    before = {id(o) for o in _tracked()}
    tracemalloc.start()
    traced0 = tracemalloc.get_traced_memory()[0]
    t0 = time.monotonic()
    at = t0 + deadline
    tasks = [asyncio.create_task(job(i, at - time.monotonic(), ended)) for i in range(jobs)]
    # Every job polled once (the server counted its request) and sleeps.
    asked = 0  # counts of our own, each counted by the server too
    while (await asyncio.to_thread(_requests, base)) - served - (asked := asked + 1) < jobs:
        if time.monotonic() > at - 1.0:
            raise SystemExit(f"not every job polled within {deadline - 1:g} s: "
                             "give a longer --deadline or fewer --jobs")
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)
    traced = tracemalloc.get_traced_memory()[0] - traced0
    tracemalloc.stop()
    gc.collect()  # what is left is what the sleeping waits keep
    new = [o for o in _tracked() if id(o) not in before]
    del before
    kinds = collections.Counter(type(o).__qualname__ for o in new)
    referents = sum(len(gc.get_referents(o)) for o in new)
    figures: dict[str, Any] = {
        "contender": contender,
        "mode": mode,
        "jobs": jobs,
        "python": ".".join(map(str, sys.version_info[:3])),
        "objects_per_job": round(len(new) / jobs, 2),
        "referents_per_job": round(referents / jobs, 2),
        "bytes_per_job": round(traced / jobs),
        "top": {k: round(v / jobs, 2) for k, v in kinds.most_common(top)},
    }
    del new, kinds
    if time.monotonic() > at - 0.1:
        raise SystemExit("the deadline came before the heap was counted: a longer --deadline")
    clock = _Collections()
    if cancel:  # Ctrl-C's way instead: every wait cancelled at once, the collector on
        gc.enable()
        gc.callbacks.append(clock)
        cpu0, began = time.process_time(), time.monotonic()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        cpu, took = time.process_time() - cpu0, time.monotonic() - began
        gc.callbacks.remove(clock)
        await close()
        figures.update({"young": clock.count[0], "middle": clock.count[1],
                        "full": clock.count[2], "gc_ms": round(1000 * clock.total, 1),
                        "cpu_ms": round(1000 * cpu, 1), "cancel_ms": round(1000 * took, 1)})
        return figures
    # The deadline: the collector back on at its thresholds, as a user's process runs.
    loop = asyncio.get_running_loop()
    marks: dict[str, float] = {}

    def before_deadline() -> None:
        gc.enable()
        gc.callbacks.append(clock)
        marks["cpu"] = time.process_time()

    loop.call_at(loop.time() + (at - 0.005 - time.monotonic()), before_deadline)
    await asyncio.gather(*tasks)
    cpu = time.process_time() - marks["cpu"]
    gc.callbacks.remove(clock)
    late = [e - at for e in ended]
    await close()
    figures.update({
        "young": clock.count[0],
        "middle": clock.count[1],
        "full": clock.count[2],
        "gc_ms": round(1000 * clock.total, 1),
        "cpu_ms": round(1000 * cpu, 1),
        "latest_end_ms": round(1000 * max(late), 1),
    })
    return figures


def _requests(base: str) -> int:
    """The requests the server answered so far (this one included)."""
    with urllib.request.urlopen(f"{base}/stats", timeout=10) as r:
        return int(json.load(r)["requests"])


def measure(contender: str, jobs: int, mode: str = "watch", deadline: float = 20.0,
            top: int = 12, cancel: bool = False) -> dict[str, Any]:
    """One contender's figures, in this process (on uvloop when installed)."""
    with tinyserver() as base:
        run = _measure(base, contender, jobs, mode, deadline, top, cancel)
        try:
            import uvloop
        except ImportError:
            return asyncio.run(run)
        return uvloop.run(run)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--contender", choices=["client", "floor", "both"], default="both")
    parser.add_argument("--mode", choices=["watch", "wait"], default="watch")
    parser.add_argument("--deadline", type=float, default=20.0,
                        help="seconds from the start to the common deadline")
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--cancel", action="store_true",
                        help="cancel every wait at once (Ctrl-C's way) instead of the deadline")
    parser.add_argument("--json", action="store_true", help="one JSON line per contender")
    args = parser.parse_args(argv)
    contenders = ["floor", "client"] if args.contender == "both" else [args.contender]
    for name in contenders:
        if len(contenders) > 1:  # each in a fresh process: no heap left from the other
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.heap", "--jobs", str(args.jobs),
                 "--contender", name, "--mode", args.mode, "--deadline", str(args.deadline),
                 "--top", str(args.top), "--json", *(["--cancel"] if args.cancel else [])],
                cwd=ROOT, check=True, capture_output=True, text=True,
            ).stdout
            figures = json.loads(out.strip().splitlines()[-1])
        else:
            figures = measure(name, args.jobs, args.mode, args.deadline, args.top, args.cancel)
        print(json.dumps(figures) if args.json else _text(figures), flush=True)
    return 0


def _text(f: dict[str, Any]) -> str:
    kinds = ", ".join(f"{k} {v:g}" for k, v in f["top"].items())
    if "cancel_ms" in f:
        at = (f"cancelling every wait: {f['cancel_ms']} ms ({f['cpu_ms']} ms of CPU), "
              f"collections {f['young']}/{f['middle']}/{f['full']} (young/middle/full), "
              f"{f['gc_ms']} ms in the collector")
        return (f"{f['contender']} ({f['mode']}, {f['jobs']:,} jobs, Python {f['python']}): "
                f"{f['objects_per_job']:g} GC-tracked objects a job, {f['referents_per_job']:g} "
                f"references, {f['bytes_per_job']:,} bytes; {at}\n  per job: {kinds}")
    return (
        f"{f['contender']} ({f['mode']}, {f['jobs']:,} jobs, Python {f['python']}): "
        f"{f['objects_per_job']:g} GC-tracked objects a job, {f['referents_per_job']:g} "
        f"references, {f['bytes_per_job']:,} bytes; at the deadline: collections "
        f"{f['young']}/{f['middle']}/{f['full']} (young/middle/full), {f['gc_ms']} ms in the "
        f"collector, {f['cpu_ms']} ms of CPU, last end {f['latest_end_ms']} ms late\n"
        f"  per job: {kinds}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
