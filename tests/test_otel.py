"""OpenTelemetry (``progress_client.otel``) with the SDK's in-memory exporters: a wait's span
and metrics carry the figures its report gives (requests, saved, outcome) on the sync client,
asyncio (the aiohttp fast path and httpx) and trio; every request carries the wait's trace
context, which the server behind it sees; no secret reaches an attribute; ``uninstrument()``
stops it all; nothing of OpenTelemetry is imported until ``instrument()``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from progress_client import (
    AsyncProgressClient,
    FixedPolicy,
    JobFailed,
    PollReport,
    ProgressClient,
    TooManyErrors,
)
from progress_client import otel as pc_otel
from progress_client.otel._attributes import url_attributes
from tests.kit import JobServer, Reply
from tests.serving import fixture

pytestmark = pytest.mark.e2e
TICK = FixedPolicy(0.05)
SECRET = "Bearer sk_live_abcdefghijklmnop1234"
QUERY_TOKEN = "t0psecretQ"
TIMELINE = [(0, "queued"), (0.15, "running"), (0.3, "done")]


@dataclass
class Otel:
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader

    def waits(self) -> list[ReadableSpan]:
        return [s for s in self.spans.get_finished_spans() if s.name == "progress_client.wait"]

    def metrics(self) -> dict[str, list[Any]]:
        """Each metric's data points (the reader's cumulative view)."""
        out: dict[str, list[Any]] = {}
        data = self.reader.get_metrics_data()
        for rm in data.resource_metrics if data is not None else ():
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    out.setdefault(m.name, []).extend(m.data.data_points)
        return out

    def total(self, name: str, **attrs: Any) -> float:
        points = [p for p in self.metrics().get(name, [])
                  if all(p.attributes.get(k) == v for k, v in attrs.items())]
        return sum(getattr(p, "value", None) if hasattr(p, "value") else p.sum
                   for p in points)

    def dumped(self) -> str:
        """Every span and metric as JSON text (for the no-secret check)."""
        spans = "\n".join(s.to_json() for s in self.spans.get_finished_spans())
        data = self.reader.get_metrics_data()
        return spans + (data.to_json() if data is not None else "")


@pytest.fixture
def otel() -> Iterator[Otel]:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    pc_otel.instrument(tracer_provider=tracer_provider, meter_provider=meter_provider,
                       http_duration=True)
    try:
        yield Otel(spans, reader)
    finally:
        pc_otel.uninstrument()
        meter_provider.shutdown()
        tracer_provider.shutdown()


server = fixture(JobServer)


def secret_url(server: JobServer, name: str) -> str:
    return (server.url(name).replace("http://", "http://bob:pa55word@")
            + f"?token={QUERY_TOKEN}&page=1")


def check_wait(otel: Otel, server: JobServer, name: str, report: PollReport,
               transport: str, outcome: str = "succeeded") -> ReadableSpan:
    """The one wait span and the metrics carry the report's figures; the server saw the
    wait's trace id on every request; no secret anywhere."""
    (span,) = otel.waits()
    a = span.attributes or {}
    assert a["url.full"] == f"http://127.0.0.1:{server.port}/jobs/{name}"
    assert a["server.address"] == "127.0.0.1" and a["server.port"] == server.port
    assert a["progress_client.outcome"] == outcome
    assert a["progress_client.requests"] == report.requests
    assert a["progress_client.saved_requests"] == report.saved_requests
    assert a["progress_client.elapsed"] == pytest.approx(report.elapsed)
    assert a["progress_client.transport"] == transport
    assert a["progress_client.profile"] == "default"
    requests = [e for e in span.events if e.name == "progress_client.request"]
    assert len(requests) == report.requests
    assert [e.attributes["progress_client.request.attempt"]  # type: ignore[index]
            for e in requests] == list(range(1, report.requests + 1))
    changes = [e for e in span.events if e.name == "progress_client.change"]
    assert len(changes) == report.changes + 1  # the first status, then each change
    # The server behind every request saw this wait's trace (and its span as the parent).
    seen = server.requests(f"/jobs/{name}")
    assert len(seen) == report.requests
    trace_id = f"{span.context.trace_id:032x}"
    span_id = f"{span.context.span_id:016x}"
    assert all(s.headers.get("traceparent", "").split("-")[1:3] == [trace_id, span_id]
               for s in seen)
    # Metrics: the same figures.
    assert otel.total("progress_client.requests") == report.requests
    assert otel.total("progress_client.not_modified") == report.not_modified
    assert otel.total("progress_client.wait.requests", **{
        "progress_client.outcome": outcome}) == report.requests
    assert otel.total("progress_client.wait.saved_requests") == report.saved_requests
    assert otel.total("progress_client.wait.active") == 0
    (per_wait,) = otel.metrics()["progress_client.wait.requests"]
    assert per_wait.count == 1
    (duration,) = otel.metrics()["progress_client.wait.duration"]
    assert duration.count == 1 and duration.sum >= report.elapsed - 0.01
    http = otel.metrics()["http.client.request.duration"]
    assert sum(p.count for p in http) == report.requests
    assert {p.attributes["server.address"] for p in http} == {"127.0.0.1"}
    text = otel.dumped()
    for secret in ("sk_live", "Bearer", "pa55word", "bob", QUERY_TOKEN, "page=1"):
        assert secret not in text
    return span


def test_sync_wait_span_and_metrics(otel: Otel, server: JobServer) -> None:
    server.job("o-sync", TIMELINE)
    with ProgressClient(policy=TICK, headers={"Authorization": SECRET}) as client:
        result = client.wait(secret_url(server, "o-sync"), timeout=10)
    check_wait(otel, server, "o-sync", result.report, "httpx")


@pytest.mark.anyio
@pytest.mark.parametrize("transport", ["auto", "httpx"])
async def test_async_wait_span_and_metrics(
    otel: Otel, server: JobServer, transport: str, anyio_backend: str
) -> None:
    name = f"o-{anyio_backend}-{transport}"
    server.job(name, TIMELINE)
    async with AsyncProgressClient(policy=TICK, headers={"Authorization": SECRET},
                                   transport=transport) as client:
        result = await client.wait(secret_url(server, name), timeout=10)
    expected = "aiohttp" if client.transport_for_polls == "aiohttp" and (
        anyio_backend == "asyncio") else "httpx"
    check_wait(otel, server, name, result.report, expected)


def test_failed_job_marks_the_span(otel: Otel, server: JobServer) -> None:
    server.job("o-fail", [(0, "queued"), (0.1, {"status": "failed", "error": "boom"})])
    with ProgressClient(policy=TICK) as client, pytest.raises(JobFailed) as failed:
        client.wait(server.url("o-fail"), timeout=10)
    report = failed.value.report
    assert report is not None
    span = check_wait(otel, server, "o-fail", report, "httpx", outcome="failed")
    assert span.status.status_code is StatusCode.ERROR
    assert (span.attributes or {})["error.type"] == "failed"


def test_reasons_resends_and_rate_limits(otel: Otel, server: JobServer) -> None:
    server.script("o-429", [
        Reply(429, {"error": "slow down"}, {"retry-after-ms": "100"}),
        Reply(503, {"error": "busy"}),
        Reply(200, {"status": "done"}),
    ])
    with ProgressClient(policy=TICK) as client:
        result = client.wait(server.url("o-429"), timeout=10)
    assert result.report.requests == 3
    (span,) = otel.waits()
    events = [e.attributes or {} for e in span.events if e.name == "progress_client.request"]
    assert [e["progress_client.request.reason"] for e in events] == ["schedule", "retry", "retry"]
    # http.request.resend_count only on resends: absent on the first request.
    assert [e.get("http.request.resend_count") for e in events] == [None, 1, 2]
    assert otel.total("progress_client.rate_limited") == 1
    assert otel.total("progress_client.requests", **{"http.response.status_code": 503}) == 1
    assert otel.total("progress_client.requests", **{
        "progress_client.request.reason": "retry"}) == 2
    http = otel.metrics()["http.client.request.duration"]
    assert {p.attributes.get("error.type") for p in http} == {"429", "503", None}


def test_a_connection_failure_is_an_error_type(otel: Otel) -> None:
    from tests.conftest import free_port

    url = f"http://127.0.0.1:{free_port()}/jobs/none"
    with ProgressClient(policy=TICK, max_consecutive_errors=2) as client, pytest.raises(
        TooManyErrors
    ):
        client.wait(url, timeout=10)
    (span,) = otel.waits()
    assert (span.attributes or {})["progress_client.outcome"] == "error"
    assert otel.total("progress_client.requests", **{"error.type": "connection_error"}) == 2


def test_the_callers_span_is_the_waits_parent(otel: Otel, server: JobServer) -> None:
    from opentelemetry import trace

    server.job("o-parent", [(0, "done")])
    tracer = trace.get_tracer("test", tracer_provider=otel_provider(otel))
    with tracer.start_as_current_span("handle-upload") as parent, ProgressClient() as client:
        client.wait(server.url("o-parent"), timeout=10)
    (span,) = otel.waits()
    assert span.parent is not None and span.parent.span_id == parent.get_span_context().span_id
    assert span.context.trace_id == parent.get_span_context().trace_id


def otel_provider(otel: Otel) -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(otel.spans))
    return provider


def test_uninstrument_stops_spans_and_trace_context(otel: Otel, server: JobServer) -> None:
    pc_otel.uninstrument()
    assert not pc_otel.is_instrumented()
    server.job("o-off", [(0, "done")])
    with ProgressClient() as client:
        client.wait(server.url("o-off"), timeout=10)
    assert otel.waits() == []
    (seen,) = server.requests("/jobs/o-off")
    assert "traceparent" not in seen.headers


@pytest.mark.anyio
async def test_a_cancelled_wait_ends_its_span(otel: Otel, server: JobServer) -> None:
    server.job("o-cancel", [(0, "queued"), (60, "done")])
    async with AsyncProgressClient(policy=TICK) as client:
        with anyio.move_on_after(0.3):
            await client.wait(server.url("o-cancel"))
    (span,) = otel.waits()
    assert (span.attributes or {})["progress_client.outcome"] == "cancelled"
    assert (span.attributes or {})["error.type"] in ("CancelledError", "Cancelled")
    assert otel.total("progress_client.wait.active") == 0


def test_url_attributes_drop_query_credentials_and_secrets() -> None:
    attrs = url_attributes(
        "https://alice:pw@api.example.com/v1/users/alice@example.com/jobs/"
        "sk-proj-abcdefghijklmnopqrstuvwxyz0123?api_key=k#frag"
    )
    assert attrs == {
        "url.full": "https://api.example.com/v1/users/[EMAIL]/jobs/[TOKEN]",
        "url.scheme": "https", "server.address": "api.example.com", "server.port": 443,
    }
    assert url_attributes("http://[::1]:8080/jobs/1")["url.full"] == "http://[::1]:8080/jobs/1"


def test_nothing_of_opentelemetry_is_imported_before_instrument() -> None:
    code = (
        "import sys, progress_client, progress_client.otel\n"
        "from progress_client import ProgressClient, AsyncProgressClient\n"
        "ProgressClient().close()\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('opentelemetry'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", "import json\n" + code], capture_output=True,
                         text=True, timeout=60, check=True)
    assert json.loads(out.stdout) == []


def test_without_the_extra_instrument_says_what_to_install() -> None:
    code = (
        "import sys\n"
        "sys.modules['opentelemetry'] = None\n"  # as if the extra were not installed
        "import progress_client.otel as o\n"
        "try:\n"
        "    o.instrument()\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert "pip install 'progress-client[otel]'" in out.stdout


def test_a_long_wait_keeps_its_first_and_latest_request_events(
    server: JobServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SPAN_EVENT_COUNT_LIMIT", "6")
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    pc_otel.instrument(tracer_provider=provider)
    try:
        server.script("o-long", [*[Reply(200, {"status": "running"})] * 11,
                                 Reply(200, {"status": "done"})])
        with ProgressClient(policy=FixedPolicy(0.01), allow_fast_polling=True) as client:
            result = client.wait(server.url("o-long"), timeout=20)
    finally:
        pc_otel.uninstrument()
    assert result.report.requests == 12
    (span,) = spans.get_finished_spans()
    attempts = [(e.attributes or {})["progress_client.request.attempt"]
                for e in span.events if e.name == "progress_client.request"]
    # 12 request events and 2 changes: the first 3 events, the latest 3, 8 left out.
    assert attempts == [1, 2, 11, 12]
    assert (span.attributes or {})["progress_client.events_omitted"] == 8
    assert [e.name for e in span.events].count("progress_client.change") == 2
    times = [e.timestamp for e in span.events]
    assert times == sorted(times)


def test_detection_lag_from_the_reference_servers_updated_at(otel: Otel) -> None:
    import functools
    import threading
    import time

    from progress_client.server import MemoryStore, create_app, serve_in_thread

    store = MemoryStore()
    with serve_in_thread(create_app(store)) as server:
        def update(status: str) -> None:
            server.call(functools.partial(store.update, "lag", status=status))

        update("queued")

        def worker() -> None:
            for status in ("running", "done"):
                time.sleep(0.3)
                update(status)

        thread = threading.Thread(target=worker)
        thread.start()
        with ProgressClient(policy=TICK) as client:
            result = client.wait(f"{server.url}/jobs/lag", timeout=30)
        thread.join()
    (lag,) = otel.metrics()["progress_client.detection_lag"]
    # One figure per change seen (the first status is not one); each within a few polls.
    assert lag.count == result.report.changes == 2
    assert 0 <= lag.sum < 2 * 5.0


def test_a_resumed_wait_is_counted(otel: Otel, server: JobServer) -> None:
    from progress_client import PollTimeout

    server.job("o-resume", [(0, "queued"), (0.6, "done")])
    with ProgressClient(policy=TICK) as client:
        with pytest.raises(PollTimeout) as timed_out:
            client.wait(server.url("o-resume"), timeout=0.2)
        token = timed_out.value.resume_token
        assert token is not None
        client.wait(server.url("o-resume"), resume=token, timeout=10)
    first, second = otel.waits()
    assert (first.attributes or {})["progress_client.outcome"] == "timeout"
    assert first.status.status_code is StatusCode.ERROR
    assert (second.attributes or {})["progress_client.resumed"] is True
    assert otel.total("progress_client.wait.resumes") == 1
    assert otel.total("progress_client.wait.active") == 0


def test_breaking_out_of_watch_ends_the_span(otel: Otel, server: JobServer) -> None:
    server.job("o-watch", [(0, "queued"), (60, "done")])
    with ProgressClient(policy=TICK) as client:
        for update in client.watch(server.url("o-watch"), timeout=10):
            assert update.status.status == "queued"
            break
    (span,) = otel.waits()
    assert (span.attributes or {})["progress_client.outcome"] == "cancelled"
    assert "error.type" not in (span.attributes or {})  # a break is no error


def test_wait_many_on_threads_gives_each_wait_its_span_and_trace(
    otel: Otel, server: JobServer
) -> None:
    names = [f"o-many-{n}" for n in range(5)]
    for name in names:
        server.job(name, [(0, "queued"), (0.1, "done")])
    with ProgressClient(policy=TICK, max_concurrency=5) as client:
        outcomes = client.wait_many([server.url(n) for n in names], timeout=10)
    assert all(o.result is not None for o in outcomes)
    spans = {(s.attributes or {})["url.full"]: s for s in otel.waits()}
    assert len(spans) == 5
    for name, outcome in zip(names, outcomes):
        span = spans[f"http://127.0.0.1:{server.port}/jobs/{name}"]
        assert outcome.result is not None
        assert (span.attributes or {})["progress_client.requests"] == (
            outcome.result.report.requests)
        trace_id = f"{span.context.trace_id:032x}"
        assert {s.headers["traceparent"].split("-")[1]
                for s in server.requests(f"/jobs/{name}")} == {trace_id}
    assert otel.total("progress_client.wait.active") == 0
    assert otel.total("progress_client.requests") == sum(
        o.result.report.requests for o in outcomes if o.result is not None)


@pytest.mark.anyio
async def test_request_spans_follow_the_http_client_conventions(
    server: JobServer, anyio_backend: str
) -> None:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    pc_otel.instrument(tracer_provider=provider, request_spans=True)
    name = f"o-spans-{anyio_backend}"
    server.script(name, [Reply(503, {"error": "busy"}), Reply(200, {"status": "running"}),
                         Reply(200, {"status": "done"})])
    try:
        async with AsyncProgressClient(policy=TICK, headers={"Authorization": SECRET}) as client:
            result = await client.wait(secret_url(server, name), timeout=10)
    finally:
        pc_otel.uninstrument()
    finished = spans.get_finished_spans()
    (wait,) = [s for s in finished if s.name == "progress_client.wait"]
    requests = [s for s in finished if s.name == "GET"]
    assert len(requests) == result.report.requests == 3
    assert all(s.parent is not None and s.parent.span_id == wait.context.span_id
               and s.kind.name == "CLIENT" for s in requests)
    a = [s.attributes or {} for s in requests]
    assert [x["http.response.status_code"] for x in a] == [503, 200, 200]
    assert [x.get("http.request.resend_count") for x in a] == [None, 1, None]
    assert a[0]["error.type"] == "503" and requests[0].status.status_code is StatusCode.ERROR
    assert {x["url.full"] for x in a} == {f"http://127.0.0.1:{server.port}/jobs/{name}"}
    # Each request carried its own span's context: the server can parent its spans on it.
    seen = [s.headers["traceparent"].split("-")[2] for s in server.requests(f"/jobs/{name}")]
    assert seen == [f"{s.context.span_id:016x}" for s in requests]
    assert not [e for e in wait.events if e.name == "progress_client.request"]
    text = "\n".join(s.to_json() for s in finished)
    assert "sk_live" not in text and QUERY_TOKEN not in text


def test_options_come_from_the_environment_under_opentelemetry_instrument(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from progress_client.drivers.observer import get_instrument
    from progress_client.otel._trace import OTelInstrument

    monkeypatch.setenv("OTEL_PYTHON_PROGRESS_CLIENT_REQUEST_SPANS", "true")
    monkeypatch.setenv("OTEL_PYTHON_PROGRESS_CLIENT_HTTP_DURATION", "1")
    pc_otel.ProgressClientInstrumentor().instrument()  # as opentelemetry-instrument calls it
    try:
        inst = get_instrument()
        assert isinstance(inst, OTelInstrument)
        assert inst.request_spans and inst.http_duration is not None
    finally:
        pc_otel.uninstrument()
    pc_otel.instrument(request_spans=False)  # an explicit argument wins
    try:
        inst = get_instrument()
        assert isinstance(inst, OTelInstrument) and not inst.request_spans
    finally:
        pc_otel.uninstrument()
