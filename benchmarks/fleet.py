"""A fleet at full size: three worker processes (``Fleet`` on ``AsyncProgressClient``) share
N durable waits (1,000) on a real redis-server; once every wait is running, the worker that
holds the most is killed with SIGKILL, and the other two take its waits over.

    python -m benchmarks.fleet [N] [--lease S] [--poll S]

Each wait follows a Replicate prediction on the imitation in ``tests/vendors.py`` (on
127.0.0.1, in this process), polled every ``--poll`` seconds (2) by whichever worker holds it;
the lease is ``--lease`` seconds (6; the heartbeat a third of it). Each worker names itself as
a machine of its own (``fleet-host-<i>:<pid>``), so nothing is taken over because "this host
has no such process": the killed worker's waits move only once its membership runs out, as
they would between machines.

Prints: the killed worker's waits; their takeover time (from the kill to the first poll by
another worker: median, maximum, against one lease plus one poll interval); the waits lost
(never delivered); the outcomes reported twice; the waits polled by two live workers. The
test ``tests/test_fleet.py::test_fleet_benchmark_small`` runs it with 30 waits."""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def fleet_run(n: int, *, lease: float = 6.0, poll: float = 2.0, workers: int = 3,
              redis_url: str | None = None) -> dict[str, Any]:
    """Run the fleet and its kill; return what happened (see the module's docstring)."""
    import contextlib

    import redis

    from benchmarks.procs import redis_server
    from progress_client.waitstore import RedisWaitStore, WaitRecord
    from tests.vendors import vendor_server

    prefix = f"fleet-bench:{uuid.uuid4().hex}"
    # Each job outlives the kill and the takeover: its claims, one lease and one poll, and
    # some polls more.
    phases = ["processing"] * (math.ceil((lease + poll) / poll) + 12) + ["succeeded"]
    with contextlib.ExitStack() as stack:
        url = redis_url or stack.enter_context(redis_server())
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        server = stack.enter_context(vendor_server())
        raw = redis.Redis.from_url(url)
        stack.callback(raw.close)
        store = RedisWaitStore(url, prefix=prefix, lease=lease)
        stack.callback(store.close)
        out = tmp / "outcomes.jsonl"
        out.touch()
        names = [f"fleet-host-{i}" for i in range(workers)]
        procs: dict[str, subprocess.Popen[bytes]] = {}

        def stop_all() -> None:
            for p in procs.values():
                if p.poll() is None:
                    p.send_signal(signal.SIGKILL)
                    p.wait(timeout=30)

        stack.callback(stop_all)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        for name in names:
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.fleet", "--worker", url, prefix, str(lease),
                 str(poll), name, str(out)], cwd=ROOT, env=env)

        def until(check: Any, timeout: float, what: str) -> None:
            end = time.monotonic() + timeout
            while not check():
                if time.monotonic() > end:
                    raise AssertionError(f"timed out waiting for {what}")
                for name, p in procs.items():
                    if p.poll() is not None and p.returncode != -signal.SIGKILL:
                        raise AssertionError(f"worker {name} exited ({p.returncode})")
                time.sleep(0.05)

        until(lambda: raw.zcount(f"{prefix}:members", time.time() * 1000, "+inf") == workers,
              60, "the workers to join")
        jobs = [server.script("replicate", list(phases), started=True) for _ in range(n)]
        keys = [f"w{i}" for i in range(n)]
        for key, job in zip(keys, jobs):
            store.add(WaitRecord(key=key, kind="wait", url=server.status_url(job),
                                 profile="replicate"))
        registered = time.monotonic()

        def holders() -> dict[str, str]:
            got = raw.mget([f"{prefix}:lease:{k}" for k in keys])
            return {k: v.decode().rsplit(":", 1)[0] for k, v in zip(keys, got) if v is not None}

        # Every wait held by a worker and polled: the fleet is running them all.
        until(lambda: len(holders()) == n and all(j.polls >= 1 for j in jobs), 120 + n / 10,
              "every wait running")
        spread = time.monotonic() - registered
        owners = holders()
        victim = Counter(owners.values()).most_common(1)[0][0]
        theirs = [i for i, k in enumerate(keys) if owners[k] == victim]
        procs[victim].send_signal(signal.SIGKILL)
        killed = time.monotonic()
        procs[victim].wait(timeout=30)

        def outcomes() -> list[dict[str, Any]]:
            return [json.loads(line) for line in out.read_text().splitlines() if line]

        until(lambda: len({o["key"] for o in outcomes()}) >= n, 120 + n * len(phases) * poll
              / 10, "every outcome")
        time.sleep(min(1.0, poll))  # an outcome reported twice would show up by now
        stop_all()
        lines = outcomes()
        unfinished = store.unfinished()
    takeover = []
    for i in theirs:
        job = jobs[i]
        first = next((t for t, who in zip(job.times, job.pollers)
                      if t > killed and who != victim), None)
        takeover.append(math.inf if first is None else first - killed)
    counts = Counter(o["key"] for o in lines)
    # A wait polled by two workers in one period (before the kill, or after it among the
    # survivors): two ran it at once.
    both = 0
    for job in jobs:
        before = {who for t, who in zip(job.times, job.pollers) if t <= killed}
        after = {who for t, who in zip(job.times, job.pollers) if t > killed and who != victim}
        both += len(before) > 1 or len(after) > 1
    return {
        "n": n, "lease": lease, "poll": poll, "victim": victim, "theirs": len(theirs),
        "takeover": sorted(takeover), "lost": len(set(keys) - set(counts)),
        "twice": sorted(k for k, c in counts.items() if c > 1), "both": both,
        "unfinished": len(unfinished), "spread": spread,
        "failed": sum(1 for o in lines if o["outcome"] != "succeeded"),
        "by_worker": Counter(o["owner"] for o in lines),
        "starts": sum(j.starts for j in jobs),
    }


async def worker(url: str, prefix: str, lease: float, poll: float, name: str,
                 out_path: str) -> None:
    """One worker: ``Fleet`` on the store, polls every ``poll`` s, each outcome a JSON line."""
    import anyio

    from progress_client import AsyncProgressClient, FixedPolicy
    from progress_client.waitstore import DurableOutcome, RedisWaitStore
    from progress_client.waitstore.fleet import Fleet

    out = open(out_path, "a", encoding="utf-8")  # noqa: SIM115  (kept open to the end)

    def handler(outcome: DurableOutcome) -> None:
        out.write(json.dumps({"key": outcome.key, "outcome": outcome.outcome,
                              "owner": name}) + "\n")
        out.flush()

    store = RedisWaitStore(url, prefix=prefix, lease=lease)
    async with AsyncProgressClient(policy=FixedPolicy(poll), max_concurrency=100,
                                   headers={"X-Client-Id": name}) as client, store:
        fleet = Fleet(client, store, handler=handler)
        fleet.durable.owner = f"{name}:{os.getpid()}"  # as if on a machine of its own
        async with anyio.create_task_group() as tg:
            tg.start_soon(fleet.run)


def main(argv: list[str]) -> None:
    if argv[:1] == ["--worker"]:
        import anyio

        url, prefix, lease, poll, name, out = argv[1:7]
        anyio.run(worker, url, prefix, float(lease), float(poll), name, out)
        return
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fleet")
    parser.add_argument("n", nargs="?", type=int, default=1000)
    parser.add_argument("--lease", type=float, default=6.0)
    parser.add_argument("--poll", type=float, default=2.0)
    args = parser.parse_args(argv)
    began = time.monotonic()
    got = fleet_run(args.n, lease=args.lease, poll=args.poll)
    took = time.monotonic() - began
    t = got["takeover"]
    bound = got["lease"] + got["poll"]
    print(f"waits: {got['n']} on 3 workers (lease {got['lease']:g} s, heartbeat "
          f"{got['lease'] / 3:.2g} s, a poll every {got['poll']:g} s); all running "
          f"{got['spread']:.1f} s after they were registered")
    print(f"killed {got['victim']} holding {got['theirs']} waits; takeover (kill to the first "
          f"poll by another worker): median {t[len(t) // 2]:.2f} s, max {t[-1]:.2f} s; "
          f"within lease + poll ({bound:g} s): {sum(1 for x in t if x <= bound)}/{len(t)}")
    print(f"waits lost: {got['lost']}; outcomes reported twice: {len(got['twice'])}; "
          f"polled by two live workers: {got['both']}; unfinished in the store: "
          f"{got['unfinished']}; not succeeded: {got['failed']}; start requests: "
          f"{got['starts']}")
    print(f"outcomes by worker: {dict(sorted(got['by_worker'].items()))}; whole run "
          f"{took:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
