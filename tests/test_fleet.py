"""A fleet on a real redis-server: three processes share the durable waits of one Redis store,
each wait run by one process at a time (a lease); one process killed with SIGKILL has its
waits taken over by the others within one lease period; a webhook that lands on a process
that does not run its wait reaches the one that does (pub/sub)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest
import redis

from benchmarks.procs import free_port
from progress_client.waitstore import RedisWaitStore, WaitRecord
from tests.test_webhooks import SECRET, standard_headers
from tests.vendors import vendor_server

pytestmark = [pytest.mark.redis, pytest.mark.e2e, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent
LEASE = 2.0


def _until(check: object, timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_three_processes_share_the_waits(tmp_path: Path, redis_url: str) -> None:
    prefix = f"fleet:{uuid.uuid4().hex}"
    out = tmp_path / "outcomes.jsonl"
    out.touch()
    raw = redis.Redis.from_url(redis_url)
    store = RedisWaitStore(redis_url, prefix=prefix, lease=LEASE)
    n = 30
    with vendor_server() as server:
        ports = [free_port() for _ in range(3)]
        env = {**os.environ, "PROGRESS_CLIENT_WEBHOOK_SECRET": SECRET}
        procs = [subprocess.Popen(
            [sys.executable, "-m", "tests.fleet_child", redis_url, prefix, str(LEASE),
             str(port), str(out)], cwd=ROOT, env=env) for port in ports]
        # The waits are registered once the three have joined: each claims its fair share.
        _until(lambda: raw.zcard(f"{prefix}:members") == 3, 60, "three processes")
        jobs = [server.script("replicate", ["processing"] * (60 + 3 * i) + ["succeeded"],
                              started=True) for i in range(n)]
        for i, job in enumerate(jobs):
            store.add(WaitRecord(key=f"w{i}", kind="wait", url=server.status_url(job),
                                 profile="replicate"))
        # Its first poll (at once) says processing; then one poll a minute, or a webhook.
        hooked = server.script("replicate", ["processing", "succeeded"], started=True)
        store.add(WaitRecord(key="hooked", kind="wait", url=server.status_url(hooked),
                             profile="replicate", hook_token="tok-hooked"))
        try:
            def holders() -> dict[str, str]:
                got = {}
                for key in [f"w{i}" for i in range(n)] + ["hooked"]:
                    value = raw.get(f"{prefix}:lease:{key}")
                    if value is not None:
                        got[key] = value.decode()
                return got

            _until(lambda: len(holders()) == n + 1 and len(set(holders().values())) == 3
                   and hooked.polls == 1, 60, "every wait owned, by all three processes")
            owners = holders()
            pid_port = {p.pid: port for p, port in zip(procs, ports)}
            # A webhook at a process that does not run the hooked wait reaches its owner.
            owner_pid = int(owners["hooked"].rsplit(":", 1)[1])
            other = next(port for pid, port in pid_port.items() if pid != owner_pid)
            body = json.dumps({"id": hooked.id, "status": "succeeded"}).encode()
            sent = time.monotonic()
            answer = httpx.post(f"http://127.0.0.1:{other}/tok-hooked", content=body,
                                headers=standard_headers(body, msg_id="fleet-1"))
            replay = httpx.post(f"http://127.0.0.1:{other}/tok-hooked", content=body,
                                headers=standard_headers(body, msg_id="fleet-1"))
            forged = httpx.post(f"http://127.0.0.1:{other}/tok-hooked", content=body,
                                headers={"webhook-id": "x", "webhook-timestamp": "1",
                                         "webhook-signature": "v1,AAAA"})
            assert (answer.status_code, replay.status_code, forged.status_code) == (202, 409,
                                                                                    400)

            def hooked_done() -> bool:
                return any(json.loads(line)["key"] == "hooked"
                           for line in out.read_text().splitlines())

            _until(hooked_done, 20, "the hooked wait's outcome")
            assert time.monotonic() - sent < 20 and hooked.polls == 2  # not the 60 s poll
            # Kill the process that runs the most waits; the others take them over.
            counts = Counter(owners.values())
            victim_owner = counts.most_common(1)[0][0]
            victim = next(p for p in procs if victim_owner.endswith(f":{p.pid}"))
            theirs = [k for k, v in owners.items() if v == victim_owner and k != "hooked"]
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=30)
            killed = time.monotonic()

            def taken_over() -> bool:
                now = holders()
                done = {json.loads(line)["key"] for line in out.read_text().splitlines()}
                return all(k in done or (k in now and now[k] != victim_owner) for k in theirs)

            _until(taken_over, 30, "the killed process's waits taken over")
            takeover = time.monotonic() - killed
            print(f"taken over {len(theirs)} waits in {takeover:.2f} s (lease {LEASE} s)")
            assert takeover < LEASE + LEASE / 3 + 2.0  # one lease period (and a heartbeat)
            _until(lambda: len(out.read_text().splitlines()) >= n + 1, 120, "every outcome")
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGKILL)
                    p.wait(timeout=30)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    delivered = Counter(o["key"] for o in lines)
    assert set(delivered) == {f"w{i}" for i in range(n)} | {"hooked"}
    assert all(c == 1 for c in delivered.values()), delivered
    assert all(o["outcome"] == "succeeded" for o in lines)
    assert len({o["owner"] for o in lines}) >= 2
    assert store.unfinished() == []
    store.close()
    raw.close()


def test_fleet_benchmark_small(redis_url: str) -> None:
    """``benchmarks/fleet.py`` with 30 waits: each worker poses as a machine of its own, so
    the killed one's waits move when its membership runs out (not because this host has no
    such process); at full size (1,000) the figures are in ``benchmarks/results/durable.md``."""
    from benchmarks.fleet import fleet_run

    lease, poll = 2.0, 0.5
    got = fleet_run(30, lease=lease, poll=poll, redis_url=redis_url)
    assert got["theirs"] >= 1 and got["starts"] == 0
    assert got["lost"] == 0 and got["twice"] == [] and got["unfinished"] == 0
    assert got["both"] == 0 and got["failed"] == 0
    assert len(got["by_worker"]) == 2  # the two survivors delivered everything
    # One lease plus one poll interval (the figure); slack for a busy machine only.
    assert got["takeover"][-1] < lease + poll + 3.0, got["takeover"]
