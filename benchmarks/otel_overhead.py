"""What OpenTelemetry costs a poll: marginal CPU per poll of each client with
``progress_client.otel`` instrumented (the SDK's tracer and meter providers, a batch span
processor, a metric reader) beside the same client uninstrumented, in one run, interleaved.

The method is ``overhead.py``'s: a run of N polls minus a run of one, over N - 1, of
``time.process_time()`` in this process (the tiny endpoint runs in another), the median over
rounds; each round runs every contender once, the order rotating, instrumenting just before
an instrumented contender and uninstrumenting after it, so the machine's load hits both sides
alike. The figure is the ratio instrumented / plain per client (target: 1.2x at most). A third
run per client sends the same ``traceparent`` header from a ``before_request`` hook with no
instrumentation: what one more request header costs the transport, apart from the
instrumentation's own code (``hook_cost_us`` measures that alone, without a network).

    python -m benchmarks.otel_overhead --requests 400 --rounds 7
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import count
from typing import Any

from benchmarks.overhead import _cpu
from benchmarks.procs import tinyserver
from progress_client import AsyncProgressClient, FixedPolicy, ProgressClient, RequestInfo

__all__ = ["OtelOverhead", "otel_overhead"]

_keys = count()
#: A traceparent as the instrumentation sends: the header alone, for the "header only" rows.
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


#: An entity tag as a poll of an ETag server carries it (the tiny endpoint sends none).
VALIDATOR = '"1a2b.7.0123456789abcdef0123456789abcdef"'


def _header(info: RequestInfo) -> None:
    info.headers["traceparent"] = TRACEPARENT


def _validator(info: RequestInfo) -> None:
    info.headers["If-None-Match"] = VALIDATOR


def _sync(base: str, n: int, hook: Any = None) -> int:
    url = f"{base}/count/o{next(_keys)}/{n}"
    with ProgressClient(policy=FixedPolicy(0.0), before_request=hook,
                        allow_fast_polling=True) as client:
        return client.wait(url).report.requests


def _async(transport: str) -> Callable[[str, int, Any], int]:
    def run(base: str, n: int, hook: Any = None) -> int:
        async def go() -> int:
            url = f"{base}/count/oa{next(_keys)}/{n}"
            async with AsyncProgressClient(policy=FixedPolicy(0.0), allow_fast_polling=True,
                                           transport=transport, before_request=hook) as client:
                return (await client.wait(url)).report.requests

        return asyncio.run(go())

    return run


#: client -> run N polls with it (and a ``before_request`` hook).
CLIENTS: dict[str, Callable[[str, int, Any], int]] = {
    "ProgressClient": _sync,
    "AsyncProgressClient (httpx)": _async("httpx"),
    "AsyncProgressClient (aiohttp fast path)": _async("aiohttp"),
}
#: How each client runs: plain, with the header alone (a hook adds a traceparent), traced;
#: then polls that carry a validator (``If-None-Match``, as every poll of an ETag server
#: does), plain and traced.
MODES = ("plain", "header", "traced", "etag", "etag+traced")


@contextmanager
def instrumented() -> Iterator[None]:
    """``progress_client.otel`` on, over the SDK as an application would set it up: a batch
    span processor (to an exporter that drops what it is given) and a metric reader."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    from progress_client import otel

    class Drop(SpanExporter):  # type: ignore[misc]
        def export(self, spans: object) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(Drop()))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    otel.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider)
    try:
        yield
    finally:
        otel.uninstrument()
        reader.get_metrics_data()  # what a scrape or an export would do, once per run
        tracer_provider.shutdown()
        meter_provider.shutdown()


@dataclass(frozen=True)
class OtelOverhead:
    requests: int
    rounds: int
    load: tuple[float, float, float]
    #: client -> mode (``MODES``) -> µs per poll, the median over rounds.
    cpu_per_poll_us: dict[str, dict[str, float]]
    #: The same, the lowest of the rounds (what the code costs with the least interference).
    best_us: dict[str, dict[str, float]]

    def ratio(self, name: str, mode: str = "traced") -> float:
        """``mode``'s CPU per poll over the same client's without instrumentation."""
        us = self.cpu_per_poll_us[name]
        return us[mode] / us["etag" if mode == "etag+traced" else "plain"]

    def best_ratio(self, name: str, mode: str = "traced") -> float:
        us = self.best_us[name]
        return us[mode] / us["etag" if mode == "etag+traced" else "plain"]

    def markdown(self) -> str:
        lines = [
            f"Marginal CPU per poll with `progress_client.otel` on and off: (a run of "
            f"{self.requests} polls - a run of one) / {self.requests - 1}, `FixedPolicy(0.0)`, "
            f"median of {self.rounds} interleaved rounds; load average at the start "
            f"{self.load[0]:.1f} / {self.load[1]:.1f} / {self.load[2]:.1f}.",
            "",
            "| client | plain | + a traceparent header only | instrumented | ratio (best "
            "rounds) | with If-None-Match | and instrumented | ratio (best rounds) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for name, us in self.cpu_per_poll_us.items():
            lines.append(
                f"| {name} | {us['plain']:.0f} | {us['header']:.0f} | {us['traced']:.0f} | "
                f"{self.ratio(name):.2f}x ({self.best_ratio(name):.2f}x) | {us['etag']:.0f} | "
                f"{us['etag+traced']:.0f} | {self.ratio(name, 'etag+traced'):.2f}x "
                f"({self.best_ratio(name, 'etag+traced'):.2f}x) |"
            )
        lines.append("")
        lines.append("CPU per poll in µs.")
        return "\n".join(lines)


def hook_cost_us(n: int = 20000) -> tuple[float, float]:
    """The observer's own CPU per request, µs, without (first) and with instrumentation: its
    calls before and after a request on a wait of ``n`` polls, no network (what the
    instrumentation adds to a poll, free of the endpoint's and the machine's noise)."""
    import time

    from progress_client.core.actions import Request
    from progress_client.core.engine import PollEngine
    from progress_client.drivers.observer import Observer
    from progress_client.drivers.shared import SharedWait, Subscriber

    url = "http://127.0.0.1:8000/jobs/bench"
    out = []
    for traced in (False, True):
        engine = PollEngine(url=url)
        shared = SharedWait((url, None, None), engine)
        sub = Subscriber(None, False)
        shared.driver = sub
        observer = Observer(None, None)
        request = engine.next_action(0.0)
        assert isinstance(request, Request)
        with instrumented() if traced else contextmanager(lambda: iter([None]))():
            observer.wait_started(sub, url, "default", "httpx", False)
            t0 = time.process_time()
            for _ in range(n):
                sent = observer.before(shared, request)
                observer.request(engine, sent, 200, 0.001, 0.0)
            observer.wait_ended(sub, shared, None)  # the span's events, its end, the metrics
            out.append((time.process_time() - t0) / n * 1e6)
    return out[0], out[1]


def _run(fn: Callable[[str, int, Any], int], base: str, n: int, name: str,
         mode: str) -> float:
    hook = {"header": _header, "etag": _validator, "etag+traced": _validator}.get(mode)
    if mode.endswith("traced"):
        with instrumented():
            return _cpu(lambda b, k: fn(b, k, hook), base, n, name)
    return _cpu(lambda b, k: fn(b, k, hook), base, n, name)


def otel_overhead(requests: int = 500, rounds: int = 5, base: str | None = None,
                  names: list[str] | None = None) -> OtelOverhead:
    """Marginal CPU per poll of each client plain, with the header alone, instrumented;
    starts its own tiny server unless ``base`` is given."""
    if base is None:
        with tinyserver() as url:
            return otel_overhead(requests, rounds, url, names)
    load = os.getloadavg()
    chosen = [n for n in CLIENTS if names is None or n in names]
    runs = [(name, mode) for name in chosen for mode in MODES]
    samples: dict[tuple[str, str], list[float]] = {run: [] for run in runs}
    for name, mode in runs:  # warm-up: imports, first connections
        _run(CLIENTS[name], base, 50, name, mode)
    for r in range(rounds):
        order = runs[r % len(runs):] + runs[: r % len(runs)]
        for name, mode in order:
            fn = CLIENTS[name]
            # The fixed cost (a client, a connection) at its least of three, as overhead.py
            # takes it: one noisy run must not eat the marginal cost.
            one = min(_run(fn, base, 1, name, mode) for _ in range(3))
            many = _run(fn, base, requests, name, mode)
            samples[(name, mode)].append(max(0.0, many - one) / (requests - 1) * 1e6)
    return OtelOverhead(
        requests=requests, rounds=rounds, load=(load[0], load[1], load[2]),
        cpu_per_poll_us={name: {m: statistics.median(samples[(name, m)]) for m in MODES}
                         for name in chosen},
        best_us={name: {m: min(samples[(name, m)]) for m in MODES} for name in chosen},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--client", action="append", choices=list(CLIENTS),
                        help="only this client (repeatable; default: all)")
    args = parser.parse_args()
    print(otel_overhead(args.requests, args.rounds, names=args.client).markdown())
    plain, traced = hook_cost_us()
    print(f"\nThe observer's own CPU per request, no network: {plain:.1f} µs plain, "
          f"{traced:.1f} µs instrumented (+{traced - plain:.1f} µs per poll).")


if __name__ == "__main__":
    main()
