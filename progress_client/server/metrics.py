"""Prometheus metrics of the status server (``create_app(metrics=True)``, ``serve --metrics``):
``GET /metrics`` in the text format, from a registry of the app's own (never the global one,
so tests and several apps in one process do not collide).

What is counted, and where: the app counts polls by answer and kind, 304s, streams and held
long polls (gauges) and the update-to-delivery latency (``record.at``, when the worker wrote
the update, to the moment an event or a held poll delivers it); the store counts what it has
anyway (Redis reads and errors, the process cache's hits and loads, whether the store is up),
read at scrape time by a collector, so a poll costs an integer increment. No label is a job
id or any other value a client chooses: the series set stays fixed however many jobs come and
go. Needs the ``metrics`` extra (``prometheus-client``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import Collector
from starlette.responses import Response

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from .records import ProgressRecord
    from .store import Store

__all__ = ["ServerMetrics"]

#: Buckets of the update-to-delivery latency, in seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0)
#: The poll answers counted by code; any other code is counted as "other".
_CODES = frozenset({"200", "304", "404", "503"})


class ServerMetrics:
    """The metrics of one app over one store, in ``registry`` (a new one by default)."""

    def __init__(self, store: Store, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.polls = Counter(
            "progress_server_polls", "GET /jobs/{id} answered, by HTTP status and kind "
            "(poll, or long_poll with Prefer: wait).", ["code", "kind"], registry=r,
        )
        self.not_modified = Counter(
            "progress_server_not_modified", "304 Not Modified answers (a poll that cost no "
            "body).", ["kind"], registry=r,
        )
        self.streams = Gauge(
            "progress_server_streams_open", "Server-Sent Events streams open now.", registry=r,
        )
        self.streams_opened = Counter(
            "progress_server_streams_opened", "Server-Sent Events streams opened.", registry=r,
        )
        self.events_sent = Counter(
            "progress_server_stream_events", "Updates sent on streams (after the state each "
            "stream opens with).", registry=r,
        )
        self.held = Gauge(
            "progress_server_long_polls_held", "Long polls held open now (waiting for a "
            "change).", registry=r,
        )
        self.latency = Histogram(
            "progress_server_delivery_latency_seconds", "From a worker's update (as written) "
            "to its delivery to a client, by channel (sse, long_poll).", ["channel"],
            buckets=LATENCY_BUCKETS, registry=r,
        )
        for kind in ("poll", "long_poll"):  # every series from the first scrape on
            self.not_modified.labels(kind)
            for code in sorted(_CODES):
                self.polls.labels(code, kind)
        for channel in ("sse", "long_poll"):
            self.latency.labels(channel)
        r.register(_StoreCollector(store))

    # -- what the app reports ------------------------------------------------------------------

    def poll(self, code: int, long_poll: bool) -> None:
        kind = "long_poll" if long_poll else "poll"
        text = str(code)
        self.polls.labels(text if text in _CODES else "other", kind).inc()
        if code == 304:
            self.not_modified.labels(kind).inc()

    def delivered(self, record: ProgressRecord, channel: str) -> None:
        """An update reached a client: its latency from ``record.at`` (ms, the writer's wall
        clock; a clock behind ours by more than the latency records nothing)."""
        if record.at > 0:
            lag = time.time() - record.at / 1000
            if lag >= 0:
                self.latency.labels(channel).observe(lag)

    async def endpoint(self, request: Request) -> Response:
        return Response(generate_latest(self.registry),
                        headers={"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"})


class _StoreCollector(Collector):
    """What the store counts, read at scrape time."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def describe(self) -> Iterator[Any]:
        return iter(())  # the families depend on the store; collected at each scrape

    def collect(self) -> Iterator[Any]:
        store = self.store
        counts: dict[str, Any] = getattr(store, "counts", {})
        up = GaugeMetricFamily("progress_server_store_up", "Whether the store answered its "
                               "last operation (1) or not (0).", labels=["store"])
        up.add_metric([store.kind], 1.0 if getattr(store, "up", True) else 0.0)
        yield up
        reads = CounterMetricFamily("progress_server_redis_reads", "Commands that read Redis "
                                    "(a cache miss, a refresh, a plain read).")
        reads.add_metric([], counts.get("reads", 0))
        yield reads
        errors = CounterMetricFamily("progress_server_redis_errors", "Redis operations that "
                                     "failed (unreachable, timed out), by operation.",
                                     labels=["operation"])
        failed: dict[str, int] = counts.get("errors", {})
        for what in ("read", "update", "set_metadata", "ping"):
            errors.add_metric([what], failed.get(what, 0))
        yield errors
        cache = getattr(store, "cache", None)
        hits = CounterMetricFamily("progress_server_cache_hits", "Reads answered from this "
                                   "process's cache (no Redis command).")
        hits.add_metric([], cache.hits if cache is not None else 0)
        yield hits
        loads = CounterMetricFamily("progress_server_cache_loads", "Reads the cache had to "
                                    "send to Redis (misses, and reads while not live).")
        loads.add_metric([], cache.loads if cache is not None else 0)
        yield loads
        cached = GaugeMetricFamily("progress_server_cache_jobs", "Jobs in this process's "
                                   "cache.")
        cached.add_metric([], len(cache) if cache is not None else 0)
        yield cached
