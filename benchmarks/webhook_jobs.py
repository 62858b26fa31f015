"""Jobs ended by their webhooks, at full size: N Replicate runs (1,000) on one
``AsyncProgressClient`` with a ``WebhookReceiver``, each woken by its signed webhook (200 a
second, once every run has started and sleeps on its safety schedule).

    python -m benchmarks.webhook_jobs [N]

Prints the time from each webhook to its outcome (median, 99th percentile, maximum), the
requests per job (start + one confirming GET), the answers to each job's forged (another
key), stale (10 minutes old) and replayed (its genuine one again) webhooks, the jobs polled
before their genuine webhook (none: a refused one wakes nothing), and the whole run's time. The test
``tests/test_webhooks.py::test_many_webhook_ended_jobs`` asserts the counts with 200."""

from __future__ import annotations

import sys
from collections import Counter

from tests.test_webhooks import webhook_jobs


def main(n: int) -> None:
    got = webhook_jobs(n)
    lags, jobs = got["lags"], got["jobs"]
    ok = sum(1 for o in got["outs"] if o.ok)
    polls = sorted({j.polls for j in jobs})
    print(f"jobs: {n}; succeeded: {ok}; polls per job: {polls}; starts per job: "
          f"{sorted({j.starts for j in jobs})}")
    print(f"webhook to outcome: median {lags[len(lags) // 2] * 1000:.0f} ms, p99 "
          f"{lags[int(len(lags) * 0.99)] * 1000:.0f} ms, max {lags[-1] * 1000:.0f} ms; "
          f"within 1 s: {sum(1 for x in lags if x < 1.0)}/{len(lags)}")
    codes = Counter(got["refusals"])
    woken = sum(1 for p in got["polls_before"].values() if p)
    print("refused: " + ", ".join(f"{kind} {code}: {c}" for (kind, code), c in
                                  sorted(codes.items())) + f"; jobs polled before their "
          f"genuine webhook (woken by a forged or stale one): {woken}")
    print(f"whole run: {got['took']:.1f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
