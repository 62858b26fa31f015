"""One process of a fleet (``tests/test_fleet.py``):
``python -m tests.fleet_child REDIS_URL PREFIX LEASE PORT OUT``.

Runs ``Fleet`` on the Redis store under ``PREFIX`` with a lease of ``LEASE`` seconds, polls
every 0.1 s, serves the webhook receiver on 127.0.0.1:``PORT`` (Replicate's Standard Webhooks
secret from ``PROGRESS_CLIENT_WEBHOOK_SECRET``, one safety poll a minute), and appends each
outcome to ``OUT`` as one JSON line with its owner."""

from __future__ import annotations

import json
import os
import sys

import anyio

from progress_client import AsyncProgressClient, FixedPolicy
from progress_client.waitstore import DurableOutcome, RedisWaitStore
from progress_client.waitstore.fleet import Fleet
from progress_client.webhooks import WebhookReceiver


async def main(url: str, prefix: str, lease: float, port: int, out_path: str) -> None:
    out = open(out_path, "a", encoding="utf-8")  # noqa: SIM115  (kept open to the end)
    owner = f"{os.uname().nodename}:{os.getpid()}"

    def handler(outcome: DurableOutcome) -> None:
        out.write(json.dumps({"key": outcome.key, "outcome": outcome.outcome, "owner": owner,
                              "requests": outcome.report.requests}) + "\n")
        out.flush()

    store = RedisWaitStore(url, prefix=prefix, lease=lease)
    receiver = WebhookReceiver(f"http://127.0.0.1:{port}",
                               secrets={"replicate": os.environ["PROGRESS_CLIENT_WEBHOOK_SECRET"]},
                               safety_interval=60)
    async with AsyncProgressClient(policy=FixedPolicy(0.1)) as client, store:
        fleet = Fleet(client, store, handler=handler, receiver=receiver, checkpoint_every=0)
        async with anyio.create_task_group() as tg:
            tg.start_soon(fleet.serve_receiver, "127.0.0.1", port)
            tg.start_soon(fleet.run)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
