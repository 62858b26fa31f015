"""Run the benchmarks and write ``benchmarks/results/``: markdown tables, PNG plots, the machine.

    python benchmarks/run.py            # the full run (several minutes)
    python benchmarks/run.py --quick    # a short run (under a minute): smaller counts
    python benchmarks/run.py --only frontier,overhead

Parts: ``frontier`` (virtual clock, exact), ``live`` (two reference-server processes +
redis-server on 127.0.0.1), ``overhead`` (CPU per poll), ``scale`` (thousands of concurrent
jobs), ``capacity`` (one reference-server process: polls/s, held connections, fan-out). Each
target of the issue is checked and written as met or MISSED, with its figure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import frontier as frontier_mod  # noqa: E402
from benchmarks.overhead import overhead  # noqa: E402
from benchmarks.procs import machine, tinyserver  # noqa: E402
from benchmarks.traces import TRACES  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
PARTS = ("frontier", "live", "overhead", "scale", "capacity")
#: The scale run's job: queued, running after 10 s, completed at 30 s.
SCALE_TIMELINE = '[[0, "queued"], [10, "running"], [30, "completed"]]'


def _mark(ok: bool) -> str:
    return "met" if ok else "**MISSED**"


def run_frontier(out: list[str], targets: list[str]) -> None:
    rows = frontier_mod.frontier()
    frontier_mod.plot_frontier(rows, RESULTS / "frontier.png")
    out += ["## Strategy frontier (virtual clock, exact)", ""]
    out += [f"- `{name}`: {desc}" for name, (desc, _) in TRACES.items()]
    out += ["", "Peers run their own loops on a fake clock (see `benchmarks/peers.py`); `sse` "
            "is one connection per 30 minutes of job; `oracle` is one request per change plus "
            "the first, with no lag. Lags are pooled over 16 placements of the changes within "
            "one polling interval.", "", frontier_mod.markdown(rows), "",
            "![requests vs p95 lag](frontier.png)", ""]
    for trace, text, ok in frontier_mod.target_checks(rows):
        targets.append(f"| frontier | {trace}: {text} | {_mark(ok)} |")
    (RESULTS / "frontier.md").write_text(frontier_mod.markdown(rows) + "\n")


def run_overhead(out: list[str], targets: list[str], quick: bool) -> None:
    res = overhead(requests=500 if quick else 2000, rounds=3 if quick else 7)
    out += ["## Client overhead (CPU per poll)", "", res.markdown(), ""]
    targets.append(f"| overhead | ProgressClient CPU per poll {res.sync_ratio:.2f}x the httpx "
                   f"loop (<= 1.25x) | {_mark(res.sync_ratio <= 1.25)} |")
    targets.append(f"| overhead | AsyncProgressClient CPU per poll {res.async_ratio:.2f}x the "
                   f"async httpx loop (<= 1.25x) | {_mark(res.async_ratio <= 1.25)} |")
    (RESULTS / "overhead.md").write_text(res.markdown() + "\n")


def run_scale(out: list[str], targets: list[str], quick: bool) -> None:
    from benchmarks.scale import CONNS

    jobs = 1000 if quick else 10_000
    # A second, smaller fleet whose request rate one core can carry: drift there is the
    # client's own; at 10,000 jobs it is the queue of a saturated core (see the note below).
    sustainable = 300 if quick else 2_000
    results: list[dict[str, Any]] = []
    for mode, n in (("ours", jobs), ("tenacity", jobs), ("ours", sustainable)):
        # A fresh server per run: its job timelines start at each path's first request, so
        # a second run on the same paths would find every job already completed.
        with tinyserver(SCALE_TIMELINE) as base:
            proc = subprocess.run(
                [sys.executable, "-m", "benchmarks.scale", "--mode", mode, "--url", base,
                 "--jobs", str(n)],
                cwd=ROOT, capture_output=True, text=True, check=False,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            if proc.returncode != 0:
                raise RuntimeError(f"scale run ({mode}) failed: {proc.stderr[-500:]}")
            results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    keys = ["jobs", "requests", "wall_s", "requests_per_s", "cpu_s", "cpu_share",
            "rss_peak_mib", "rss_per_job_kib", "drift_p50_ms", "drift_p99_ms", "drift_max_ms",
            "latency_p50_ms", "latency_p99_ms", "errors"]
    table = ["| contender | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
    for r in results:
        name = "progress-client (one AsyncProgressClient)" if r["mode"] == "ours" else \
            "tenacity (one task per job)"
        table.append(f"| {name} | " + " | ".join(str(r[k]) for k in keys) + " |")
    md = "\n".join(table)
    ours, small = results[0], results[2]
    per_req_ms = 1000 * ours["cpu_s"] / max(1, ours["requests"])
    # What the default schedule asks of the fleet: the engine's exact requests per job on
    # this timeline, over the 38 s from the first start to the last end.
    from progress_client import AdaptivePolicy, simulate

    per_job = simulate(AdaptivePolicy(), json.loads(SCALE_TIMELINE)).report.requests
    demand = per_job * jobs / 38.0
    out += ["## Scale (concurrent jobs in one process)", "",
            f"{jobs} jobs at once (and {sustainable} for comparison), each `{SCALE_TIMELINE}` "
            "(seconds, status), starts spread over 8 s, one `httpx.AsyncClient` pool "
            f"({CONNS} connections, `max_concurrency={CONNS}`) against the tiny server in "
            "another process. Drift = when the request reached the transport minus when it "
            "was scheduled.", "", md, "",
            f"At {jobs} jobs the default schedule asks for about {demand:,.0f} requests/s; at "
            f"{per_req_ms:.2f} ms of CPU per request (httpx, anyio and this client together; a "
            "bare `httpx.AsyncClient` task per job costs about the same, see the tenacity row) "
            "one core carries about "
            f"{1000 / per_req_ms:,.0f}/s, "
            + ("so the polls queue and drift measures that queue. "
               if demand > 1000 / per_req_ms else "so it keeps up. ")
            + f"At {sustainable} jobs the core keeps up and drift is the client's own. A smaller "
            "pool is cheaper on loopback: httpcore scans every connection for each request "
            "it assigns.", ""]
    targets.append(f"| scale | {jobs} jobs: {ours['rss_per_job_kib']} KiB RSS per job "
                   f"(<= 20) | {_mark(ours['rss_per_job_kib'] <= 20)} |")
    targets.append(f"| scale | {jobs} jobs: p99 drift {ours['drift_p99_ms']} ms (<= 250) | "
                   f"{_mark(ours['drift_p99_ms'] <= 250)} |")
    targets.append(f"| scale | {jobs} jobs: {ours['errors']} errors (0) | "
                   f"{_mark(ours['errors'] == 0)} |")
    targets.append(f"| scale | {sustainable} jobs: p99 drift {small['drift_p99_ms']} ms "
                   f"(<= 250), {small['errors']} errors | "
                   f"{_mark(small['drift_p99_ms'] <= 250 and small['errors'] == 0)} |")
    (RESULTS / "scale.md").write_text(md + "\n")


def run_live(out: list[str], targets: list[str], quick: bool) -> bool:
    from benchmarks.live import LiveUnavailable, live

    try:
        md, checks = live(quick=quick, progress=lambda line: print(line, file=sys.stderr))
    except LiveUnavailable as exc:
        print(f"benchmarks: live: cannot run: {exc}", file=sys.stderr)
        targets.append(f"| live | not run: {exc} | **MISSED** |")
        return False
    out += ["## Live on 127.0.0.1 (reference server, real redis-server)", "", md, ""]
    targets += [f"| live | {text} | {_mark(ok)} |" for text, ok in checks]
    if not quick:  # a quick run goes to quick.md only: keep the full run's table
        (RESULTS / "live.md").write_text(md + "\n")
    return True


def run_capacity(out: list[str], targets: list[str], quick: bool) -> None:
    from benchmarks.capacity import capacity, markdown

    res = capacity(quick=quick, progress=lambda line: print(line, file=sys.stderr))
    md = markdown(res)
    out += ["## Capacity of one reference-server process (127.0.0.1, real redis-server)", "",
            "A status-server process (`benchmarks/liveserver.py`) under load from another "
            "process (raw HTTP/1.1, keep-alive); redis-server in a third. See "
            "`benchmarks/capacity.py` for how each figure is taken.", "", md, ""]
    targets.append(f"| capacity | polls from the cache cost {res.gets_per_poll_cache:.4f} Redis "
                   f"GETs each (0) | {_mark(res.gets_per_poll_cache == 0)} |")
    for h in res.held:
        targets.append(f"| capacity | {h['held']:,}/{h['count']:,} {h['kind']} connections held "
                       f"by one process, {h['rss_kib_per_connection']:.1f} KiB RSS each | "
                       f"{_mark(h['held'] == h['count'])} |")
    if not quick:  # a quick run goes to quick.md only
        (RESULTS / "capacity.md").write_text(md + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    parser.add_argument("--only", default=",".join(PARTS),
                        help=f"comma-separated parts to run ({','.join(PARTS)})")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out: list[str] = []
    targets: list[str] = []
    failed = False
    started = time.monotonic()
    for part in parts:
        t0 = time.monotonic()
        print(f"benchmarks: {part} ...", file=sys.stderr, flush=True)
        if part == "frontier":
            run_frontier(out, targets)
        elif part == "overhead":
            run_overhead(out, targets, args.quick)
        elif part == "scale":
            run_scale(out, targets, args.quick)
        elif part == "live" and not run_live(out, targets, args.quick):
            failed = True
        elif part == "capacity":
            run_capacity(out, targets, args.quick)
        print(f"benchmarks: {part} done in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    info = machine()
    head = [
        "# Benchmark results",
        "",
        f"Run: `python benchmarks/run.py{' --quick' if args.quick else ''}"
        f"{'' if set(parts) == set(PARTS) else ' --only ' + ','.join(parts)}` "
        f"({time.strftime('%Y-%m-%d')}, {time.monotonic() - started:.0f} s).",
        "",
        "| machine | |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in info.items()),
        "",
        "## Targets",
        "",
        "| part | figure (target) | |",
        "|---|---|---|",
        *targets,
        "",
    ]
    # Only a full run replaces README.md; a run of some parts (--only) writes partial.md and
    # each part's own table file, so the last full summary is not lost.
    name = "quick.md" if args.quick else "README.md" if set(parts) == set(PARTS) else "partial.md"
    (RESULTS / name).write_text("\n".join(head + out) + "\n")
    print(f"benchmarks: wrote benchmarks/results/{name}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
