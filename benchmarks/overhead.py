"""Client overhead: CPU per poll of ProgressClient / AsyncProgressClient against a hand-written
httpx loop making the same requests to the same local endpoint.

The endpoint (``tinyserver``) runs in another process, so ``time.process_time()`` here counts
the client alone. Each round runs every contender once on a fresh key, the order rotating; the
figure is the median over rounds (a round's noise hits all contenders alike).
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import count

import httpx

from benchmarks.procs import tinyserver
from progress_client import AsyncProgressClient, FixedPolicy, ProgressClient

__all__ = ["OverheadResult", "overhead"]

_keys = count()


def _hand_sync(base: str, n: int) -> int:
    url = f"{base}/count/h{next(_keys)}/{n}"
    sent = 0
    with httpx.Client() as http:
        while True:
            response = http.get(url)
            sent += 1
            if response.json()["status"] == "completed":
                return sent


def _client_sync(base: str, n: int) -> int:
    url = f"{base}/count/c{next(_keys)}/{n}"
    with ProgressClient(policy=FixedPolicy(0.0)) as client:
        return client.wait(url).report.requests


def _hand_async(base: str, n: int) -> int:
    async def go() -> int:
        url = f"{base}/count/ha{next(_keys)}/{n}"
        sent = 0
        async with httpx.AsyncClient() as http:
            while True:
                response = await http.get(url)
                sent += 1
                if response.json()["status"] == "completed":
                    return sent

    return asyncio.run(go())


def _client_async(base: str, n: int) -> int:
    async def go() -> int:
        url = f"{base}/count/ca{next(_keys)}/{n}"
        async with AsyncProgressClient(policy=FixedPolicy(0.0)) as client:
            return (await client.wait(url)).report.requests

    return asyncio.run(go())


CONTENDERS: dict[str, Callable[[str, int], int]] = {
    "httpx loop (sync)": _hand_sync,
    "ProgressClient": _client_sync,
    "httpx loop (async)": _hand_async,
    "AsyncProgressClient": _client_async,
}


@dataclass(frozen=True)
class OverheadResult:
    requests: int
    rounds: int
    cpu_per_poll_us: dict[str, float]

    @property
    def sync_ratio(self) -> float:
        return self.cpu_per_poll_us["ProgressClient"] / self.cpu_per_poll_us["httpx loop (sync)"]

    @property
    def async_ratio(self) -> float:
        return (self.cpu_per_poll_us["AsyncProgressClient"]
                / self.cpu_per_poll_us["httpx loop (async)"])

    def markdown(self) -> str:
        lines = [
            f"{self.requests} requests per run, median of {self.rounds} rounds, "
            "`time.process_time()` of the client process (the server is another process).",
            "",
            "| client | CPU per poll (µs) | ratio to the httpx loop |",
            "|---|---:|---:|",
        ]
        for name, us in self.cpu_per_poll_us.items():
            base = "httpx loop (async)" if "Async" in name or "async" in name else \
                "httpx loop (sync)"
            ratio = us / self.cpu_per_poll_us[base]
            lines.append(f"| {name} | {us:.0f} | {ratio:.2f}x |")
        return "\n".join(lines)


def overhead(requests: int = 2000, rounds: int = 7, base: str | None = None) -> OverheadResult:
    """CPU per poll of each contender; starts its own tiny server unless ``base`` is given."""
    if base is None:
        with tinyserver() as url:
            return overhead(requests, rounds, url)
    samples: dict[str, list[float]] = {name: [] for name in CONTENDERS}
    names = list(CONTENDERS)
    for name in names:  # warm-up: imports, first connections
        CONTENDERS[name](base, 50)
    for r in range(rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            gc.collect()
            t0 = time.process_time()
            sent = CONTENDERS[name](base, requests)
            spent = time.process_time() - t0
            if sent != requests:
                raise RuntimeError(f"{name} sent {sent} requests, expected {requests}")
            samples[name].append(spent / sent * 1e6)
    return OverheadResult(
        requests=requests,
        rounds=rounds,
        cpu_per_poll_us={name: statistics.median(v) for name, v in samples.items()},
    )
