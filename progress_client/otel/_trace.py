"""``OTelInstrument``: what ``progress_client.otel`` does for each wait (the ``Instrument`` the
observer calls): a ``progress_client.wait`` span per caller's wait with an event per request
and per status change, the wait's span context in ``traceparent`` (the global propagator) on
every request, and the metrics of ``progress_client.otel.METRICS``.

One span per wait, an event per request (not a child span): a 300-poll wait stays one span,
sampled and exported once, and a poll costs an event, not a span. The server's spans still
hang under the wait: the ``traceparent`` each request carries names the wait's span. A poll
costs a few dictionary updates here (see ``OTelInstrument``): the target is a client at most
1.2x as costly per poll with instrumentation on (``benchmarks/otel_overhead.py``).

No attribute holds a secret: URLs lose their query, fragment and credentials and each path
segment passes the sanitizer; no header value, no message text, no document is recorded.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from opentelemetry import metrics, propagate, trace
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import SpanKind, Status, StatusCode

from progress_client.core.sanitize import sanitize

from .. import __version__
from ._attributes import error_type, event_limit, http_keys, url_attributes, when_changed

if TYPE_CHECKING:
    from progress_client.core.actions import Update
    from progress_client.core.events import RequestEvent, RequestInfo
    from progress_client.core.report import PollReport
    from progress_client.drivers.observer import WaitTrace

__all__ = ["OTelInstrument"]

_SCOPE = "progress_client"
_SCHEMA = "https://opentelemetry.io/schemas/1.26.0"
# The buckets OpenTelemetry's HTTP conventions advise for http.client.request.duration.
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
_WAIT_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400)
_COUNT_BUCKETS = (1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 5000)
_LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 15, 30, 60, 300)
_FAILED = frozenset({"failed", "timeout", "error"})


class _Wait:
    """The instrument's state of one wait: its span, the trace context its requests carry,
    its attributes, and its events (added when the span ends: see ``_Events``)."""

    __slots__ = ("attrs", "carrier", "context", "events", "request", "span", "started", "url",
                 "where")

    def __init__(self, span: Any, attrs: dict[str, Any], url: dict[str, Any],
                 limit: int) -> None:
        self.span = span
        self.context = trace.set_span_in_context(span)
        self.request: Any = None  # the request span in flight (``request_spans``)
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=self.context)
        self.carrier = carrier  # the same traceparent on every request of the wait
        self.attrs = attrs  # profile and transport: every metric's attributes start here
        self.url = url
        self.where: dict[str, Any] = {}  # the request in flight's server attributes
        self.events = _Events(limit)
        self.started = time.perf_counter()


class _Events:
    """A wait's span events, kept as plain tuples while it runs and added to the span when it
    ends (a span is exported when it ends, so nobody sees them sooner). Bounded like the SDK's
    own event list (``OTEL_SPAN_EVENT_COUNT_LIMIT``, 128): of a long wait's events the first
    half and the latest half are kept (the SDK would keep only the latest); the span's
    ``progress_client.events_omitted`` says how many were left out between them."""

    __slots__ = ("first", "half", "latest", "omitted")

    def __init__(self, limit: int) -> None:
        self.half = max(1, limit // 2)
        self.first: list[tuple[int, str, dict[str, Any]]] = []
        self.latest: deque[tuple[int, str, dict[str, Any]]] = deque(maxlen=self.half)
        self.omitted = 0

    def add(self, name: str, attrs: dict[str, Any]) -> None:
        item = (time.time_ns(), name, attrs)
        if len(self.first) < self.half:
            self.first.append(item)
            return
        if len(self.latest) == self.half:
            self.omitted += 1
        self.latest.append(item)

    def flush(self, span: Any) -> None:
        for at, name, attrs in [*self.first, *self.latest]:
            span.add_event(name, attrs, timestamp=at)
        if self.omitted:
            span.set_attribute("progress_client.events_omitted", self.omitted)


class OTelInstrument:
    """The observer's ``Instrument`` over OpenTelemetry's API.

    Per request it costs a few dictionary updates: the request counters are asynchronous
    instruments (read when the SDK collects), the events wait for the span's end, and the
    trace context is formatted once per wait. ``http_duration``: also record
    ``http.client.request.duration`` per request (off by default: the HTTP clients'
    instrumentations, opentelemetry-instrumentation-httpx and -aiohttp-client, record it
    under that name already, and a histogram per request is the costliest call here).
    ``request_spans``: a child span per request (``http.client`` conventions: named after the
    method, kind CLIENT), whose context the request carries, instead of an event."""

    def __init__(self, *, tracer_provider: Any = None, meter_provider: Any = None,
                 http_duration: bool = False, request_spans: bool = False) -> None:
        self.tracer = trace.get_tracer(_SCOPE, __version__, tracer_provider, schema_url=_SCHEMA)
        meter = metrics.get_meter(_SCOPE, __version__, meter_provider, schema_url=_SCHEMA)
        self.event_limit = event_limit()
        self.request_spans = request_spans
        self._lock = threading.Lock()
        # Cumulative counts per attribute set (a tuple), reported by the observable counters.
        self._requests: dict[tuple[Any, ...], int] = {}
        self._not_modified: dict[tuple[Any, ...], int] = {}
        self._rate_limited: dict[tuple[Any, ...], int] = {}
        self.http_duration = meter.create_histogram(
            "http.client.request.duration", unit="s",
            description="Duration of HTTP client requests.",
            explicit_bucket_boundaries_advisory=_HTTP_BUCKETS,
        ) if http_duration else None
        meter.create_observable_counter(
            "progress_client.requests", [self._counted(self._requests, _REQUEST_KEYS)],
            unit="{request}",
            description="Requests sent while waiting on jobs, by status code and reason.",
        )
        meter.create_observable_counter(
            "progress_client.not_modified", [self._counted(self._not_modified, _PROFILE)],
            unit="{response}", description="304 Not Modified answers (a poll that cost no body).",
        )
        meter.create_observable_counter(
            "progress_client.rate_limited", [self._counted(self._rate_limited, _LIMITED_KEYS)],
            unit="{response}", description="429 Too Many Requests answers.",
        )
        self.per_wait = meter.create_histogram(
            "progress_client.wait.requests", unit="{request}",
            description="Requests one wait cost.",
            explicit_bucket_boundaries_advisory=_COUNT_BUCKETS,
        )
        self.saved = meter.create_counter(
            "progress_client.wait.saved_requests", unit="{request}",
            description="Requests saved against a fixed poller at the baseline interval.",
        )
        self.wait_duration = meter.create_histogram(
            "progress_client.wait.duration", unit="s",
            description="How long a caller waited on a job.",
            explicit_bucket_boundaries_advisory=_WAIT_BUCKETS,
        )
        self.active = meter.create_up_down_counter(
            "progress_client.wait.active", unit="{wait}", description="Waits running now.",
        )
        self.resumes = meter.create_counter(
            "progress_client.wait.resumes", unit="{wait}",
            description="Waits started from a resume token.",
        )
        self.lag = meter.create_histogram(
            "progress_client.detection_lag", unit="s",
            description="From the change a status document says it had (updated_at) to the "
                        "client seeing it.",
            explicit_bucket_boundaries_advisory=_LAG_BUCKETS,
        )

    def _counted(self, counts: dict[tuple[Any, ...], int], names: tuple[str, ...]
                 ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            with self._lock:
                items = list(counts.items())
            return [Observation(n, {k: v for k, v in zip(names, key) if v is not None})
                    for key, n in items]

        return observe

    # -- a wait ------------------------------------------------------------------------------

    def wait_started(self, wait: WaitTrace) -> None:
        url = url_attributes(wait.url) if wait.url else {}
        attrs = {"progress_client.profile": wait.profile,
                 "progress_client.transport": wait.transport}
        span = self.tracer.start_span(
            "progress_client.wait", kind=SpanKind.INTERNAL,
            attributes={**url, **attrs, "progress_client.resumed": wait.resumed},
        )
        wait.state = _Wait(span, attrs, url, self.event_limit)
        self.active.add(1, attrs)
        if wait.resumed:
            self.resumes.add(1, {"progress_client.profile": wait.profile})

    def wait_ended(self, wait: WaitTrace, outcome: str, report: PollReport,
                   error: BaseException | None) -> None:
        state: _Wait = wait.state
        span = state.span
        attrs = {**state.attrs, "progress_client.outcome": outcome,
                 "progress_client.mode": report.mode}
        if not state.url and wait.url:  # run(): the status URL came with the start's answer
            span.set_attributes(url_attributes(wait.url))
        span.set_attributes({
            "progress_client.outcome": outcome,
            "progress_client.mode": report.mode,
            "progress_client.requests": report.requests,
            "progress_client.saved_requests": report.saved_requests,
            "progress_client.baseline_requests": report.baseline_requests,
            "progress_client.elapsed": report.elapsed,
            "progress_client.changes": report.changes,
            "progress_client.not_modified": report.not_modified,
            "progress_client.errors": report.errors,
            "progress_client.hint_waits": report.hint_waits,
        })
        if outcome in _FAILED:
            span.set_attribute("error.type", outcome)
            span.set_status(Status(StatusCode.ERROR, f"the wait ended: {outcome}"))
        elif outcome == "cancelled" and error is not None and not isinstance(
            error, GeneratorExit
        ):  # a cancellation or Ctrl-C; a ``break`` out of ``watch()`` is no error
            span.set_attribute("error.type", type(error).__qualname__)
        if state.request is not None:  # abandoned: a cancellation, the deadline
            state.request.set_attribute("error.type", "cancelled")
            state.request.end()
            state.request = None
        state.events.flush(span)
        span.end()
        self.active.add(-1, state.attrs)
        self.per_wait.record(report.requests, attrs)
        self.saved.add(report.saved_requests, attrs)
        self.wait_duration.record(time.perf_counter() - state.started, attrs)

    # -- each request ------------------------------------------------------------------------

    def before_request(self, wait: WaitTrace | None, info: RequestInfo, url: str) -> None:
        if wait is not None:
            state: _Wait = wait.state
            state.where = state.url if url == wait.url and state.url else url_attributes(url)
            if self.request_spans:
                self._open_request(state, info)
            else:
                info.headers.update(state.carrier)
        else:  # a request outside a traced wait: the caller's own context
            propagate.inject(info.headers)

    def after_request(self, wait: WaitTrace | None, info: RequestInfo,
                      event: RequestEvent) -> None:
        code = event.status_code
        state: _Wait | None = wait.state if wait is not None else None
        profile = wait.profile if wait is not None else "default"
        where = state.where if state is not None else {}
        error = None if code is not None else error_type(event.error)
        with self._lock:
            key = (code, error, info.reason, profile)
            self._requests[key] = self._requests.get(key, 0) + 1
            if code == 304:
                self._not_modified[(profile,)] = self._not_modified.get((profile,), 0) + 1
            elif code == 429:
                limited = (profile, where.get("server.address"))
                self._rate_limited[limited] = self._rate_limited.get(limited, 0) + 1
        if self.http_duration is not None:
            http: dict[str, Any] = {"http.request.method": info.method, **http_keys(where)}
            if code is not None:
                http["http.response.status_code"] = code
                if code >= 400:
                    http["error.type"] = str(code)
            else:
                http["error.type"] = error
            self.http_duration.record(event.duration, http)
        if state is None:
            return
        if state.request is not None:
            self._close_request(state, code, error)
            return
        seen: dict[str, Any] = {
            "http.request.method": info.method,
            "progress_client.request.kind": info.kind,
            "progress_client.request.reason": info.reason,
            "progress_client.request.attempt": info.attempt,
            "progress_client.request.duration": event.duration,
        }
        if code is not None:
            seen["http.response.status_code"] = code
        else:
            seen["error.type"] = error
        if info.resend_count:
            seen["http.request.resend_count"] = info.resend_count
        if where is not state.url and "url.full" in where:
            seen["url.full"] = where["url.full"]  # a result or cancel URL, not the wait's
        state.events.add("progress_client.request", seen)

    def _open_request(self, state: _Wait, info: RequestInfo) -> None:
        where = state.where
        attrs: dict[str, Any] = {
            "http.request.method": info.method,
            **{k: where[k] for k in ("url.full", "server.address", "server.port") if k in where},
            "progress_client.request.kind": info.kind,
            "progress_client.request.reason": info.reason,
            "progress_client.request.attempt": info.attempt,
        }
        if info.resend_count:
            attrs["http.request.resend_count"] = info.resend_count
        span = self.tracer.start_span(info.method, context=state.context, kind=SpanKind.CLIENT,
                                      attributes=attrs)
        state.request = span
        propagate.inject(info.headers, context=trace.set_span_in_context(span))

    @staticmethod
    def _close_request(state: _Wait, code: int | None, error: str | None) -> None:
        span, state.request = state.request, None
        if code is not None:
            span.set_attribute("http.response.status_code", code)
            if code >= 400:
                span.set_attribute("error.type", str(code))
                span.set_status(Status(StatusCode.ERROR))
        else:
            span.set_attribute("error.type", error)
            span.set_status(Status(StatusCode.ERROR))
        span.end()

    # -- a status change ---------------------------------------------------------------------

    def changed(self, wait: WaitTrace | None, update: Update, wall: float) -> None:
        if wait is None:
            return
        state: _Wait = wait.state
        status = update.status
        state.events.add("progress_client.change", {
            "progress_client.job.status": sanitize(status.status)[:64],
            "progress_client.job.terminal": update.terminal,
        })
        first, wait.seen_first = not wait.seen_first, True
        if first:
            return  # the first status may be older than the wait: no lag to speak of
        at = when_changed(getattr(status, "model_extra", None) or {})
        if at is not None and wall >= at:
            self.lag.record(wall - at, {"progress_client.profile": wait.profile,
                                        "progress_client.mode": update.report.mode})


_REQUEST_KEYS = ("http.response.status_code", "error.type", "progress_client.request.reason",
                 "progress_client.profile")
_PROFILE = ("progress_client.profile",)
_LIMITED_KEYS = ("progress_client.profile", "server.address")


