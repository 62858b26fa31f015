"""Twenty command-line processes on one SQLite store, killed, then one ``resume``: N
``progress-client run``/``wait ... --store FILE --key K --json`` processes (20) at once
against the vendor imitations (Replicate, fal, Runway started by ``run``; OpenAI batches and
Google operations waited on), all SIGKILLed once every start's answer is kept and a fifth
have ended; while nothing runs, each unfinished job is set to end after three more status
requests; then one ``progress-client resume --store FILE --json`` finishes the rest.

    python -m benchmarks.durable_cli [N]

Prints: the waits killed unfinished, the outcomes printed before the kill and by resume, the
keys printed twice, the start requests against the runs (no second start), how many resumed
reports count the requests sent before the kill (counters carried on), resume's exit code and
time. The test ``tests/test_waitstore_cli.py`` asserts the same with 20."""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from pathlib import Path

from tests.test_waitstore_cli import _job_of, cli_restart_run


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        got = cli_restart_run(Path(tmp), n)
    at_kill, jobs = got["at_kill"], got["jobs"]
    counts = Counter(o["key"] for o in got["printed"] + got["second"])
    twice = sorted(k for k, c in counts.items() if c > 1)
    by_key = {o["key"]: o for o in got["second"]}
    carried = 0
    for key, record in at_kill.items():
        job = _job_of(record, jobs)
        after = job.polls - got["polls_at_kill"][jobs.index(job)]
        if record.requests + after <= by_key.get(key, {}).get("requests", -1) <= job.requests:
            carried += 1
    print(f"processes: {n} on one SQLite file; killed unfinished: {len(at_kill)} "
          f"({sum(1 for r in at_kill.values() if r.phase == 'delivering')} between print "
          f"and mark), {got['first_part']:.1f} s after they were launched")
    print(f"printed before the kill: {len(got['printed'])}; by resume: {len(got['second'])}; "
          f"distinct: {len(counts)}/{n}; twice: {len(twice)} {twice}")
    print(f"start requests: {got['starts']} for {got['runs']} runs (second starts: "
          f"{got['starts'] - got['runs']}); resumed reports counting the requests before the "
          f"kill: {carried}/{len(at_kill)}; left in the store: {len(got['left'])}")
    print(f"resume exit code {got['code']} in {got['took']:.2f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
