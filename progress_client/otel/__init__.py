"""OpenTelemetry for progress-client: a span per wait, an event per request on it, the trace
context on every request, and metrics (``docs/observability.md`` lists them).

``instrument()`` / ``uninstrument()`` turn it on and off for every client of the process
(those already built included); ``opentelemetry-instrument`` does the same through the
``progress_client`` entry point (``ProgressClientInstrumentor``). Needs the ``otel`` extra
(``pip install 'progress-client[otel]'``); nothing of OpenTelemetry is imported before
``instrument()`` is called, and the core package never imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from progress_client.drivers.observer import get_instrument

if TYPE_CHECKING:
    from ._instrumentor import ProgressClientInstrumentor

__all__ = [
    "METRICS",
    "ProgressClientInstrumentor",
    "instrument",
    "is_instrumented",
    "uninstrument",
]

#: The metrics this instrumentation records: name, unit, kind, attributes
#: (``http.client.request.duration`` only with ``instrument(http_duration=True)``).
METRICS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("http.client.request.duration", "s", "histogram",
     ("http.request.method", "http.response.status_code", "error.type", "server.address",
      "server.port", "url.scheme")),
    ("progress_client.requests", "{request}", "counter",
     ("http.response.status_code", "error.type", "progress_client.request.reason",
      "progress_client.profile")),
    ("progress_client.not_modified", "{response}", "counter", ("progress_client.profile",)),
    ("progress_client.rate_limited", "{response}", "counter",
     ("progress_client.profile", "server.address")),
    ("progress_client.wait.requests", "{request}", "histogram",
     ("progress_client.outcome", "progress_client.mode", "progress_client.profile",
      "progress_client.transport")),
    ("progress_client.wait.saved_requests", "{request}", "counter",
     ("progress_client.outcome", "progress_client.mode", "progress_client.profile",
      "progress_client.transport")),
    ("progress_client.wait.duration", "s", "histogram",
     ("progress_client.outcome", "progress_client.mode", "progress_client.profile",
      "progress_client.transport")),
    ("progress_client.wait.active", "{wait}", "updowncounter",
     ("progress_client.profile", "progress_client.transport")),
    ("progress_client.wait.resumes", "{wait}", "counter", ("progress_client.profile",)),
    ("progress_client.detection_lag", "s", "histogram",
     ("progress_client.mode", "progress_client.profile")),
)


def _missing(exc: ImportError) -> ImportError:
    return ImportError(
        "progress_client.otel needs OpenTelemetry: pip install 'progress-client[otel]' "
        f"({exc.name or exc} is missing)"
    )


def instrument(*, tracer_provider: Any = None, meter_provider: Any = None,
               http_duration: bool | None = None, request_spans: bool | None = None) -> None:
    """Instrument every progress-client wait of this process. ``tracer_provider`` /
    ``meter_provider``: the providers to use (default: the global ones, as set by the SDK or
    ``opentelemetry-instrument``). ``http_duration``: also record
    ``http.client.request.duration`` for each request (off by default: the httpx and aiohttp
    instrumentations record it already). ``request_spans``: a child span per request
    (``http.client`` conventions) instead of an event on the wait's span. Either left out:
    its environment variable decides (``OTEL_PYTHON_PROGRESS_CLIENT_HTTP_DURATION``,
    ``OTEL_PYTHON_PROGRESS_CLIENT_REQUEST_SPANS``: ``true``), as under
    ``opentelemetry-instrument``; off by default. A second call while instrumented is ignored
    (with OpenTelemetry's warning)."""
    kwargs: dict[str, Any] = {"http_duration": http_duration, "request_spans": request_spans}
    if tracer_provider is not None:
        kwargs["tracer_provider"] = tracer_provider
    if meter_provider is not None:
        kwargs["meter_provider"] = meter_provider
    _load()().instrument(**kwargs)


def uninstrument() -> None:
    """Stop instrumenting: new waits and requests are no longer traced or measured (waits
    already running finish their spans)."""
    if get_instrument() is not None:
        _load()().uninstrument()


def is_instrumented() -> bool:
    """Whether ``instrument()`` (or ``opentelemetry-instrument``) is in force."""
    return get_instrument() is not None


def _load() -> type[ProgressClientInstrumentor]:
    try:
        from ._instrumentor import ProgressClientInstrumentor  # optional extra [otel]
    except ImportError as exc:
        raise _missing(exc) from None
    return ProgressClientInstrumentor


def __getattr__(name: str) -> Any:
    if name == "ProgressClientInstrumentor":
        return _load()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
