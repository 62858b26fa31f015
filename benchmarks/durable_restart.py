"""The durable waits' restart, at full size: N durable runs (200) started by one process,
that process killed with SIGKILL mid-way, then ``progress-client resume`` on the store.

    python -m benchmarks.durable_restart [N]

Prints: the waits killed unfinished, the outcomes delivered before and after, the keys
delivered twice (only a wait killed between its handler and the store's mark may be), the
start requests the vendor got (N: none sent twice), how many resumed reports count the
requests sent before the kill plus those resume sent (counters carried on), and how long
``resume`` took. The test
``tests/test_waitstore.py::test_sigkill_mid_way_then_resume`` asserts the same with 40."""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from pathlib import Path

from tests.test_waitstore import carried_on, restart_run


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        got = restart_run(Path(tmp), n)
    counts = Counter(o["key"] for o in got["first"] + got["second"])
    twice = sorted(k for k, c in counts.items() if c > 1)
    starts = got["server"].starts["replicate"]
    print(f"waits: {n}; killed unfinished: {len(got['at_kill'])} "
          f"({sum(1 for r in got['at_kill'].values() if r.phase == 'delivering')} "
          "between handler and mark)")
    again = sorted(o["key"] for o in got["second"] if o.get("redelivered"))
    window = sorted(k for k, r in got["at_kill"].items() if r.phase == "delivering")
    print(f"delivered before the kill: {len(got['first'])}; by resume: {len(got['second'])}; "
          f"distinct: {len(counts)}; twice: {len(twice)} {twice}; of them killed between "
          f"handler and mark and resumed with redelivered=true: "
          f"{len(set(twice) & set(again) & set(window))}")
    carried = carried_on(got)
    print(f"start requests: {starts} (second starts: {starts - n}); resumed reports counting "
          f"the requests before the kill: {sum(carried.values())}/{len(carried)}; resume exit "
          f"code {got['code']} in {got['took']:.2f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 200)
