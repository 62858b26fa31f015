"""Client overhead: marginal CPU per poll of ProgressClient / AsyncProgressClient against a
hand-written httpx loop making the same requests to the same local endpoint; with and without
a deadline (``timeout=``), and over httpx-aiohttp's transport (the ``fast`` extra); the async
rows also against aiohttp alone (no httpx), the floor of an async poll.

Marginal CPU per poll is a run of N polls minus a run of one, over N - 1: what one more poll
costs, without the client's construction, the first connection or the event loop's start. The
endpoint (``tinyserver``) runs in another process, so ``time.process_time()`` here counts the
client alone. Each round runs every contender once on fresh keys, the order rotating; the
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

__all__ = ["CONTENDERS", "OverheadResult", "overhead"]

_keys = count()
#: A deadline far enough away never to fire: what every real caller sets.
DEADLINE = 120.0


def _aiohttp_transport() -> httpx.AsyncBaseTransport:
    from httpx_aiohttp import AiohttpTransport

    return AiohttpTransport()


def _hand_sync(base: str, n: int) -> int:
    url = f"{base}/count/h{next(_keys)}/{n}"
    sent = 0
    with httpx.Client() as http:
        while True:
            response = http.get(url)
            sent += 1
            if response.json()["status"] == "completed":
                return sent


def _client_sync(base: str, n: int, timeout: float | None = None) -> int:
    url = f"{base}/count/c{next(_keys)}/{n}"
    with ProgressClient(policy=FixedPolicy(0.0), allow_fast_polling=True) as client:
        return client.wait(url, timeout=timeout).report.requests


def _hand_async(base: str, n: int, fast: bool = False) -> int:
    async def go() -> int:
        url = f"{base}/count/ha{next(_keys)}/{n}"
        sent = 0
        transport = _aiohttp_transport() if fast else None
        async with httpx.AsyncClient(transport=transport) as http:
            while True:
                response = await http.get(url)
                sent += 1
                if response.json()["status"] == "completed":
                    return sent

    return asyncio.run(go())


def _aiohttp_loop(base: str, n: int) -> int:
    """The floor of an async poll: aiohttp alone, no httpx (GET, read, parse the JSON)."""
    import json

    import aiohttp

    async def go() -> int:
        url = f"{base}/count/a{next(_keys)}/{n}"
        sent = 0
        async with aiohttp.ClientSession() as session:
            while True:
                async with session.get(url) as response:
                    body = await response.read()
                sent += 1
                if json.loads(body)["status"] == "completed":
                    return sent

    return asyncio.run(go())


def _client_async(base: str, n: int, timeout: float | None = None, fast: bool = False,
                  transport: str = "httpx") -> int:
    async def go() -> int:
        url = f"{base}/count/ca{next(_keys)}/{n}"
        if fast:
            async with httpx.AsyncClient(transport=_aiohttp_transport()) as http, \
                    AsyncProgressClient(policy=FixedPolicy(0.0),
                                        allow_fast_polling=True, client=http) as client:
                return (await client.wait(url, timeout=timeout)).report.requests
        async with AsyncProgressClient(policy=FixedPolicy(0.0),
                                       allow_fast_polling=True, transport=transport) as client:
            return (await client.wait(url, timeout=timeout)).report.requests

    return asyncio.run(go())


SYNC_LOOP = "httpx loop (sync)"
ASYNC_LOOP = "httpx loop (async)"
FAST_LOOP = "httpx loop (async, httpx-aiohttp)"
AIOHTTP_LOOP = "aiohttp loop (no httpx)"

#: name -> (run N polls, the hand-written loop it is compared with).
CONTENDERS: dict[str, tuple[Callable[[str, int], int], str]] = {
    SYNC_LOOP: (_hand_sync, SYNC_LOOP),
    "ProgressClient": (_client_sync, SYNC_LOOP),
    "ProgressClient, timeout=120": (lambda b, n: _client_sync(b, n, DEADLINE), SYNC_LOOP),
    ASYNC_LOOP: (_hand_async, ASYNC_LOOP),
    "AsyncProgressClient": (_client_async, ASYNC_LOOP),
    "AsyncProgressClient, timeout=120": (lambda b, n: _client_async(b, n, DEADLINE),
                                         ASYNC_LOOP),
    FAST_LOOP: (lambda b, n: _hand_async(b, n, fast=True), FAST_LOOP),
    "AsyncProgressClient (httpx-aiohttp)": (lambda b, n: _client_async(b, n, fast=True),
                                            FAST_LOOP),
    "AsyncProgressClient (httpx-aiohttp), timeout=120": (
        lambda b, n: _client_async(b, n, DEADLINE, fast=True), FAST_LOOP),
    AIOHTTP_LOOP: (_aiohttp_loop, AIOHTTP_LOOP),
    # The client's own fast path (polls over aiohttp, no httpx): what "auto" picks on asyncio
    # with the fast extra. The rows above pin transport="httpx".
    "AsyncProgressClient (aiohttp fast path)": (
        lambda b, n: _client_async(b, n, transport="aiohttp"), AIOHTTP_LOOP),
    "AsyncProgressClient (aiohttp fast path), timeout=120": (
        lambda b, n: _client_async(b, n, DEADLINE, transport="aiohttp"), AIOHTTP_LOOP),
}
#: The async rows are also compared with aiohttp alone.
ASYNC_ROWS = frozenset(name for name, (_, loop) in CONTENDERS.items()
                       if loop in (ASYNC_LOOP, FAST_LOOP, AIOHTTP_LOOP))


@dataclass(frozen=True)
class OverheadResult:
    requests: int
    rounds: int
    #: Marginal CPU per poll, µs: (CPU of N polls - CPU of one poll) / (N - 1), median.
    cpu_per_poll_us: dict[str, float]

    def ratio(self, name: str) -> float:
        """``name``'s marginal CPU per poll over its hand-written loop's."""
        return self.cpu_per_poll_us[name] / self.cpu_per_poll_us[CONTENDERS[name][1]]

    @property
    def sync_ratio(self) -> float:
        return self.ratio("ProgressClient")

    @property
    def async_ratio(self) -> float:
        return self.ratio("AsyncProgressClient")

    @property
    def sync_deadline_ratio(self) -> float:
        return self.ratio("ProgressClient, timeout=120")

    @property
    def async_deadline_ratio(self) -> float:
        return self.ratio("AsyncProgressClient, timeout=120")

    def markdown(self) -> str:
        lines = [
            f"Marginal CPU per poll: (a run of {self.requests} polls - a run of one) / "
            f"{self.requests - 1}, `FixedPolicy(0.0)`, median of {self.rounds} rounds, "
            "`time.process_time()` of the client process (the server is another process).",
            "",
            "| client | CPU per poll (µs) | ratio to its httpx loop | ratio to the aiohttp loop |",
            "|---|---:|---:|---:|",
        ]
        floor = self.cpu_per_poll_us.get(AIOHTTP_LOOP)
        for name, us in self.cpu_per_poll_us.items():
            vs = f"{us / floor:.2f}x" if floor and name in ASYNC_ROWS else "-"
            lines.append(f"| {name} | {us:.0f} | {self.ratio(name):.2f}x | {vs} |")
        return "\n".join(lines)


def _cpu(fn: Callable[[str, int], int], base: str, n: int, name: str) -> float:
    gc.collect()
    t0 = time.process_time()
    sent = fn(base, n)
    spent = time.process_time() - t0
    if sent != n:
        raise RuntimeError(f"{name} sent {sent} requests, expected {n}")
    return spent


def overhead(requests: int = 2000, rounds: int = 7, base: str | None = None,
             names: list[str] | None = None) -> OverheadResult:
    """Marginal CPU per poll of each contender (each with its loop); starts its own tiny
    server unless ``base`` is given."""
    if base is None:
        with tinyserver() as url:
            return overhead(requests, rounds, url, names)
    chosen = list(CONTENDERS) if names is None else names
    chosen = [n for n in CONTENDERS if n in chosen or n in {CONTENDERS[c][1] for c in chosen}]
    samples: dict[str, list[float]] = {name: [] for name in chosen}
    for name in chosen:  # warm-up: imports, first connections
        CONTENDERS[name][0](base, 50)
    for r in range(rounds):
        order = chosen[r % len(chosen):] + chosen[: r % len(chosen)]
        for name in order:
            fn = CONTENDERS[name][0]
            one = _cpu(fn, base, 1, name)
            many = _cpu(fn, base, requests, name)
            samples[name].append(max(0.0, many - one) / (requests - 1) * 1e6)
    return OverheadResult(
        requests=requests,
        rounds=rounds,
        cpu_per_poll_us={name: statistics.median(v) for name, v in samples.items()},
    )
