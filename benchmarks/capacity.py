"""Capacity of ONE status-server process (``benchmarks/liveserver.py``: the reference app over
``RedisStore`` and a real redis-server), on 127.0.0.1 only, every part bounded in time:

- **polls/s** it answers from its cache, and from Redis (the same server with
  ``cache_size=0``: one ``GET`` per poll), under closed-loop load from another process (raw
  HTTP/1.1 keep-alive connections, so the load generator is not the bottleneck), with the
  Redis ``GET``s counted by Redis;
- **connections held**: 1,000 and 5,000 event streams, and as many long polls
  (``Prefer: wait=60`` + ``If-None-Match``), one job each, with the server's RSS per held
  connection (RSS when all are held, minus RSS before, over the count);
- **fan-out**: 1,000 event streams on one job; from the moment a worker starts ``update()`` to
  the moment each stream's reader holds the event (the last one is the figure).

``python -m benchmarks.capacity [--quick]`` prints the table; ``benchmarks/run.py --only
capacity`` also writes ``benchmarks/results/capacity.md``. The load runs in a child process of
this module (``--role``), so the server, the load and redis-server each have a process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import resource
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import redis

from benchmarks.liveserver import BENCH_PATH
from benchmarks.procs import ROOT, free_port, redis_server, spawn

__all__ = ["CapacityResult", "capacity", "markdown"]

PREFIX = "bench-cap"


# -- the load generator (runs in its own process: ``--role ...``) ----------------------------


def _request(path: str, headers: dict[str, str] | None = None) -> bytes:
    extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()


async def _response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """Read one response (head and body) on a keep-alive connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    code = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    if length:
        await reader.readexactly(length)
    return code, headers


async def _polls(port: int, jobs: Sequence[str], connections: int, seconds: float
                 ) -> dict[str, Any]:
    paths = itertools.cycle(f"/jobs/{j}" for j in jobs)
    ok = errors = 0
    stop = time.monotonic() + seconds

    async def one() -> None:
        nonlocal ok, errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.monotonic() < stop:
                writer.write(_request(next(paths)))
                code, _ = await _response(reader)
                if code == 200:
                    ok += 1
                else:
                    errors += 1
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(one() for _ in range(connections)))
    return {"requests": ok, "errors": errors, "seconds": time.monotonic() - started}


async def _hold(port: int, kind: str, jobs: Sequence[str]) -> dict[str, Any]:
    """Open one held connection per job, say so on stdout, keep them until stdin closes."""
    gate = asyncio.Semaphore(200)
    writers: list[asyncio.StreamWriter] = []

    async def open_one(job: str) -> None:
        async with gate:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writers.append(writer)
            if kind == "sse":
                writer.write(_request(f"/jobs/{job}/events"))
                await reader.readuntil(b"\r\n\r\n")  # the head; the stream stays open
                await reader.readuntil(b"\n\n")  # the current state
            else:
                writer.write(_request(f"/jobs/{job}"))
                _, headers = await _response(reader)
                writer.write(_request(f"/jobs/{job}", {
                    "Prefer": "wait=60", "If-None-Match": headers["etag"]}))

    started = time.monotonic()
    await asyncio.gather(*(open_one(j) for j in jobs))
    print(json.dumps({"held": len(writers), "open_s": time.monotonic() - started}), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for writer in writers:
        writer.close()
    return {}


async def _fanout(port: int, redis_url: str, job: str, streams: int) -> dict[str, Any]:
    from progress_client.server import RedisStore

    worker = RedisStore(redis_url, prefix=PREFIX)
    readers: list[asyncio.StreamReader] = []
    writers: list[asyncio.StreamWriter] = []  # kept: a collected writer closes its socket
    gate = asyncio.Semaphore(200)

    async def open_one() -> None:
        async with gate:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(_request(f"/jobs/{job}/events"))
            await reader.readuntil(b"\r\n\r\n")
            await reader.readuntil(b"\n\n")
            readers.append(reader)
            writers.append(writer)

    await asyncio.gather(*(open_one() for _ in range(streams)))
    await asyncio.sleep(0.5)
    arrived: list[float] = []

    async def next_event(reader: asyncio.StreamReader) -> None:
        while True:
            block = await reader.readuntil(b"\n\n")
            if b"data:" in block:
                arrived.append(time.monotonic())
                return

    waiting = [asyncio.ensure_future(next_event(r)) for r in readers]
    await asyncio.sleep(0.2)
    started = time.monotonic()
    await worker.update(job, status="completed", progress=100)
    await asyncio.wait_for(asyncio.gather(*waiting), 30)
    await worker.aclose()
    for writer in writers:
        writer.close()
    delays = sorted(1000 * (t - started) for t in arrived)
    return {"streams": len(delays), "p50_ms": statistics.median(delays),
            "p99_ms": delays[int(0.99 * (len(delays) - 1))], "max_ms": delays[-1]}


def _role(args: argparse.Namespace) -> int:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    jobs = json.loads(args.jobs)
    if args.role == "polls":
        out = asyncio.run(_polls(args.port, jobs, args.connections, args.seconds))
    elif args.role in ("sse", "long-poll"):
        out = asyncio.run(_hold(args.port, args.role, jobs))
    else:
        out = asyncio.run(_fanout(args.port, args.redis_url, jobs[0], args.connections))
    if out:
        print(json.dumps(out), flush=True)
    return 0


def _load(role: str, port: int, jobs: Sequence[str], *, connections: int = 0,
          seconds: float = 0.0, redis_url: str = "") -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.capacity", "--role", role, "--port", str(port),
         "--jobs", json.dumps(list(jobs)), "--connections", str(connections), "--seconds",
         str(seconds), "--redis-url", redis_url],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str], timeout: float) -> dict[str, Any]:
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"capacity load failed: {err.strip()[-400:]}")
    return dict(json.loads(out.strip().splitlines()[-1]))


# -- the parent: servers, workers, measurements ----------------------------------------------


@dataclass
class CapacityResult:
    polls_cache: float
    polls_redis: float
    gets_per_poll_cache: float
    gets_per_poll_redis: float
    held: list[dict[str, Any]]  # kind, count, rss_kib_per_connection, open_s
    fanout: dict[str, Any]
    connections: int
    seconds: float


@contextlib.contextmanager
def _server(redis_url: str, cache_size: int | None = None) -> Iterator[int]:
    port = free_port()
    argv = [sys.executable, "-m", "benchmarks.liveserver", "--port", str(port), "--redis-url",
            redis_url, "--prefix", PREFIX]
    if cache_size is not None:
        argv += ["--cache-size", str(cache_size)]
    with spawn(argv, port):
        yield port


def _report(port: int) -> dict[str, Any]:
    return dict(httpx.get(f"http://127.0.0.1:{port}{BENCH_PATH}", timeout=30).json())


def _write_jobs(redis_url: str, jobs: Sequence[str]) -> None:
    import anyio

    from progress_client.server import RedisStore

    async def write() -> None:
        store = RedisStore(redis_url, prefix=PREFIX)
        try:
            for job in jobs:
                await store.update(job, status="running", progress=10)
        finally:
            await store.aclose()

    anyio.run(write)


def _gets(client: redis.Redis) -> int:
    stats: dict[str, Any] = client.info("commandstats")
    return int(stats.get("cmdstat_get", {}).get("calls", 0))


def _poll_rate(redis_url: str, client: redis.Redis, jobs: Sequence[str], cache: bool,
               connections: int, seconds: float) -> tuple[float, float]:
    with _server(redis_url, None if cache else 0) as port:
        for job in jobs:  # warm: each job read once (from Redis) before the clock starts
            httpx.get(f"http://127.0.0.1:{port}/jobs/{job}", timeout=10)
        before = _gets(client)
        out = _finish(_load("polls", port, jobs, connections=connections, seconds=seconds),
                      seconds + 60)
        gets = _gets(client) - before
    if out["errors"]:
        raise RuntimeError(f"{out['errors']} polls failed")
    return out["requests"] / out["seconds"], gets / max(1, out["requests"])


def _held(redis_url: str, kind: str, count: int) -> dict[str, Any]:
    nonce = uuid.uuid4().hex[:6]
    jobs = [f"h{nonce}-{i}" for i in range(count)]
    _write_jobs(redis_url, jobs)
    with _server(redis_url) as port:
        for _ in range(20):  # settle the process (imports, first requests) before measuring
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        base = _report(port)["rss_kib"]
        proc = _load(kind, port, jobs)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"capacity {kind} load failed: {proc.stderr.read()[-400:]}"
                               if proc.stderr else f"capacity {kind} load failed")
        opened = json.loads(line)
        deadline = time.monotonic() + 60
        while (report := _report(port))["readers"] < count and time.monotonic() < deadline:
            time.sleep(0.1)
        held = report["readers"]
        rss = report["rss_kib"]
        proc.communicate(input="", timeout=60)
    return {"kind": kind, "count": count, "held": held, "open_s": opened["open_s"],
            "rss_kib_per_connection": (rss - base) / count, "rss_mib": rss / 1024}


def capacity(*, quick: bool = False, redis_url: str | None = None,
             progress: Callable[[str], None] | None = None) -> CapacityResult:
    say = progress or (lambda line: None)
    seconds = 2.0 if quick else 5.0
    connections = 32
    counts = (200, 1000) if quick else (1000, 5000)
    with contextlib.ExitStack() as stack:
        url = redis_url or stack.enter_context(redis_server())
        client = stack.enter_context(redis.Redis.from_url(url, decode_responses=True))
        nonce = uuid.uuid4().hex[:6]
        jobs = [f"p{nonce}-{i}" for i in range(100)]
        _write_jobs(url, jobs)
        cached, per_poll_cached = _poll_rate(url, client, jobs, True, connections, seconds)
        say(f"capacity: {cached:,.0f} polls/s from the cache")
        uncached, per_poll = _poll_rate(url, client, jobs, False, connections, seconds)
        say(f"capacity: {uncached:,.0f} polls/s from Redis")
        held = []
        for count in counts:
            for kind in ("sse", "long-poll"):
                held.append(_held(url, kind, count))
                say(f"capacity: {count} {kind} held, "
                    f"{held[-1]['rss_kib_per_connection']:.1f} KiB each")
        fan_job = f"f{nonce}"
        _write_jobs(url, [fan_job])
        with _server(url) as port:
            fanout = _finish(_load("fanout", port, [fan_job], connections=1000,
                                   redis_url=url), 120)
        say(f"capacity: fan-out to {fanout['streams']} streams, last after "
            f"{fanout['max_ms']:.1f} ms")
    return CapacityResult(cached, uncached, per_poll_cached, per_poll, held, fanout,
                          connections, seconds)


def markdown(r: CapacityResult) -> str:
    lines = [
        "| measure (one server process) | figure |",
        "|---|---:|",
        f"| polls/s answered from the cache ({r.connections} keep-alive connections, "
        f"{r.seconds:g} s, 100 jobs) | {r.polls_cache:,.0f} |",
        f"| Redis `GET`s per poll, from the cache | {r.gets_per_poll_cache:.4f} |",
        f"| polls/s answered from Redis (`cache_size=0`, same load) | {r.polls_redis:,.0f} |",
        f"| Redis `GET`s per poll, from Redis | {r.gets_per_poll_redis:.4f} |",
    ]
    for h in r.held:
        what = "event streams" if h["kind"] == "sse" else "long polls (`Prefer: wait=60`)"
        lines.append(f"| {h['count']:,} {what} held at once (held: {h['held']:,}; opened in "
                     f"{h['open_s']:.1f} s): RSS per connection | "
                     f"{h['rss_kib_per_connection']:.1f} KiB ({h['rss_mib']:.0f} MiB in all) |")
    f = r.fanout
    lines.append(f"| fan-out, worker's `update()` to the last of {f['streams']:,} streams on "
                 f"one job (p50 / p99) | {f['max_ms']:.1f} ms ({f['p50_ms']:.1f} / "
                 f"{f['p99_ms']:.1f} ms) |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller counts, shorter runs")
    parser.add_argument("--role", choices=["polls", "sse", "long-poll", "fanout"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--jobs", default="[]", help=argparse.SUPPRESS)
    parser.add_argument("--connections", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role:
        return _role(args)
    try:
        result = capacity(quick=args.quick,
                          progress=lambda line: print(line, file=sys.stderr, flush=True))
    except RuntimeError as exc:
        print(f"capacity: cannot run: {exc}", file=sys.stderr)
        return 2
    print(markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
