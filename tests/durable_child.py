"""A process that starts many durable runs and is killed mid-way (``tests/test_waitstore.py``,
``benchmarks/durable_restart.py``): ``python -m tests.durable_child STORE START_URL N OUT``.

Each run is a Replicate prediction (the imitation in ``tests/vendors.py``) registered in the
SQLite store ``STORE`` under ``job-<i>``; each outcome goes to a handler that appends one JSON
line to ``OUT`` (flushed) before the store marks it delivered. Every status is checkpointed
(``checkpoint_every=0``) so that a restart loses at most the request in flight."""

from __future__ import annotations

import json
import sys

import anyio

from progress_client import AsyncProgressClient, FixedPolicy
from progress_client.waitstore import DurableOutcome, SQLiteWaitStore


async def main(store_path: str, start_url: str, n: int, out_path: str) -> None:
    out = open(out_path, "a", encoding="utf-8")  # noqa: SIM115  (kept open to the end)

    def handler(outcome: DurableOutcome) -> None:
        out.write(json.dumps({"key": outcome.key, "outcome": outcome.outcome,
                              "requests": outcome.report.requests}) + "\n")
        out.flush()

    store = SQLiteWaitStore(store_path)
    async with AsyncProgressClient(policy=FixedPolicy(0.2),
                                   headers={"Authorization": "Bearer r8_CHILD_SECRET"}) as client:
        durable = client.durable(store, handler=handler, checkpoint_every=0)
        async with anyio.create_task_group() as tg:
            for i in range(n):
                tg.start_soon(lambda i=i: durable.run(
                    start_url, key=f"job-{i}", json={"input": {"prompt": f"cat {i}"}},
                    profile="replicate", metadata={"chat": 7, "message": i},
                ))


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
