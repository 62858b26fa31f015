"""``progress-client wait --from jobs.txt`` with many jobs, measured as a user runs it: on a
pseudo-terminal (the live table on), against the tiny status endpoint in its own process (its
CPU is not counted). Each job answers ``running`` until its N-th request (``/count/KEY/N``).

Prints the wall time, the requests the server counted, the command's CPU seconds (user +
system, from the kernel's accounting of the child) per request, its peak thread count, and how
many times the live table was drawn (its footer counted in what the terminal received); and
the CPU per request past the start-up (a run of one job taken off)::

    python -m benchmarks.cli_many --jobs 1000 --polls 4
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pty
import re
import select
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from .procs import tinyserver

__all__ = ["measure"]

SCHEDULE = ["--initial", "0.2", "--step", "0.1", "--max", "0.5"]


def _requests(base: str) -> int:
    with urllib.request.urlopen(f"{base}/stats", timeout=10) as r:
        return int(json.load(r)["requests"])


def measure(jobs: int, polls: int) -> dict[str, float]:
    with tinyserver() as base, tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "jobs.txt"
        listing.write_text("".join(f"{base}/count/job{i}/{polls}\n" for i in range(jobs)))
        before = _requests(base)
        argv = [sys.executable, "-m", "progress_client", "wait", "--from", str(listing),
                *SCHEDULE, "--timeout", "600"]
        controller, terminal = pty.openpty()
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:  # the child: the command, its stdout and stderr on the terminal
            os.setsid()
            os.dup2(terminal, 0)
            os.dup2(terminal, 1)
            os.dup2(terminal, 2)
            os.execv(sys.executable, argv)
        os.close(terminal)
        seen, threads, status, usage = b"", 0, None, None
        while status is None:
            ready, _, _ = select.select([controller], [], [], 0.05)
            if ready:
                with contextlib.suppress(OSError):
                    seen += os.read(controller, 1 << 16)
            with contextlib.suppress(OSError):
                threads = max(threads, len(os.listdir(f"/proc/{pid}/task")))
            done, code, rusage = os.wait4(pid, os.WNOHANG)
            if done:
                status, usage = code, rusage
        wall = time.monotonic() - started
        while True:
            ready, _, _ = select.select([controller], [], [], 0.1)
            if not ready:
                break
            try:
                chunk = os.read(controller, 1 << 16)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
        os.close(controller)
        requests = _requests(base) - before - 1  # the second /stats counts itself
    assert usage is not None
    text = re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", seen).decode(errors="replace")
    draws = len(re.findall(r"running \d+ · succeeded \d+", text))
    cpu = usage.ru_utime + usage.ru_stime
    return {"jobs": jobs, "exit_code": os.waitstatus_to_exitcode(status or 0),
            "wall_s": round(wall, 2), "requests": requests, "cpu_s": round(cpu, 2),
            "cpu_ms_per_request": round(1000 * cpu / max(1, requests), 3),
            "threads_peak": threads, "table_draws": draws,
            "draws_per_s": round(draws / wall, 2),
            "summary": [line for line in text.splitlines() if " jobs: " in line][-1:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--polls", type=int, default=4, help="requests until a job ends (4)")
    args = parser.parse_args()
    # One job first: the interpreter's start-up and the imports, to take off the CPU per
    # request (what is left is the cost of the requests, comparable with benchmarks/scale.py).
    one = measure(1, args.polls)
    out = measure(args.jobs, args.polls)
    out["cpu_ms_per_request_past_startup"] = round(
        1000 * (out["cpu_s"] - one["cpu_s"]) / max(1, out["requests"] - one["requests"]), 3)
    out["startup_cpu_s"] = one["cpu_s"]
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
