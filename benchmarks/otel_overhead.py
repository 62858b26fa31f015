"""What OpenTelemetry costs a poll: marginal CPU per poll of each client with
``progress_client.otel`` instrumented (the SDK's tracer and meter providers, a batch span
processor, a metric reader) beside the same client uninstrumented, in one run, interleaved.

The method is ``overhead.py``'s: a run of N polls minus a run of one, over N - 1, of
``time.process_time()`` in this process (the tiny endpoint runs in another), the median over
rounds; each round runs every contender once, the order rotating, instrumenting just before
an instrumented contender and uninstrumenting after it, so the machine's load hits both sides
alike. The figure is the ratio instrumented / plain per client (target: 1.2x at most).

    python -m benchmarks.otel_overhead --requests 500 --rounds 5
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from benchmarks.overhead import _client_async, _client_sync, _cpu
from benchmarks.procs import tinyserver

__all__ = ["OtelOverhead", "otel_overhead"]

#: client -> run N polls with it.
CLIENTS: dict[str, Callable[[str, int], int]] = {
    "ProgressClient": _client_sync,
    "AsyncProgressClient (httpx)": lambda b, n: _client_async(b, n, transport="httpx"),
    "AsyncProgressClient (aiohttp fast path)": lambda b, n: _client_async(
        b, n, transport="aiohttp"),
}


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
    #: client -> (plain µs per poll, instrumented µs per poll).
    cpu_per_poll_us: dict[str, tuple[float, float]]

    def ratio(self, name: str) -> float:
        plain, traced = self.cpu_per_poll_us[name]
        return traced / plain

    def markdown(self) -> str:
        lines = [
            f"Marginal CPU per poll with `progress_client.otel` on and off: (a run of "
            f"{self.requests} polls - a run of one) / {self.requests - 1}, `FixedPolicy(0.0)`, "
            f"median of {self.rounds} interleaved rounds; load average at the start "
            f"{self.load[0]:.1f} / {self.load[1]:.1f} / {self.load[2]:.1f}.",
            "",
            "| client | plain (µs/poll) | instrumented (µs/poll) | ratio |",
            "|---|---:|---:|---:|",
        ]
        for name, (plain, traced) in self.cpu_per_poll_us.items():
            lines.append(f"| {name} | {plain:.0f} | {traced:.0f} | {traced / plain:.2f}x |")
        return "\n".join(lines)


def _run(fn: Callable[[str, int], int], base: str, n: int, name: str, traced: bool) -> float:
    if not traced:
        return _cpu(fn, base, n, name)
    with instrumented():
        return _cpu(fn, base, n, name)


def otel_overhead(requests: int = 500, rounds: int = 5, base: str | None = None,
                  names: list[str] | None = None) -> OtelOverhead:
    """Plain and instrumented marginal CPU per poll of each client; starts its own tiny
    server unless ``base`` is given."""
    if base is None:
        with tinyserver() as url:
            return otel_overhead(requests, rounds, url, names)
    load = os.getloadavg()
    chosen = [n for n in CLIENTS if names is None or n in names]
    runs = [(name, traced) for name in chosen for traced in (False, True)]
    samples: dict[tuple[str, bool], list[float]] = {run: [] for run in runs}
    for name, traced in runs:  # warm-up: imports, first connections
        _run(CLIENTS[name], base, 50, name, traced)
    for r in range(rounds):
        order = runs[r % len(runs):] + runs[: r % len(runs)]
        for name, traced in order:
            fn = CLIENTS[name]
            one = _run(fn, base, 1, name, traced)
            many = _run(fn, base, requests, name, traced)
            samples[(name, traced)].append(max(0.0, many - one) / (requests - 1) * 1e6)
    return OtelOverhead(
        requests=requests, rounds=rounds, load=(load[0], load[1], load[2]),
        cpu_per_poll_us={name: (statistics.median(samples[(name, False)]),
                                statistics.median(samples[(name, True)])) for name in chosen},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(otel_overhead(args.requests, args.rounds).markdown())


if __name__ == "__main__":
    main()
