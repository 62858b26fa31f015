"""The status server's Prometheus metrics (``create_app(metrics=True)``, ``serve --metrics``):
``/metrics`` counts polls, 304s, cache hits and Redis reads, shows streams and long polls held
while a demo-like run goes (the reference server on Redis, a worker, clients polling, streaming
and long-polling), measures update-to-delivery latency, reports Redis errors and a store that is
down; its series set stays fixed as jobs come and go (no job id in any label); each app has a
registry of its own."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.procs import RedisProcess
from progress_client import AsyncProgressClient, FixedPolicy, ProgressClient
from progress_client.server import MemoryStore, RedisStore, create_app, serve_in_thread

pytestmark = pytest.mark.e2e
Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(base: str) -> Series:
    """Every sample of ``/metrics``: (name, labels) -> value."""
    response = httpx.get(f"{base}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    out: Series = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(series: Series, name: str, **labels: str) -> float:
    return series.get((name, frozenset(labels.items())), 0.0)


def test_polls_304s_and_a_fixed_series_set_as_jobs_come_and_go() -> None:
    store = MemoryStore()
    with serve_in_thread(create_app(store, metrics=True)) as server, httpx.Client(
        base_url=server.url, timeout=10
    ) as http:
        server.call(functools.partial(store.update, "m-0", status="running"))
        first = http.get("/jobs/m-0")
        again = http.get("/jobs/m-0", headers={"If-None-Match": first.headers["etag"]})
        assert (first.status_code, again.status_code) == (200, 304)
        assert http.get("/jobs/nope").status_code == 404
        before = scrape(server.url)
        assert value(before, "progress_server_polls_total", code="200", kind="poll") == 1
        assert value(before, "progress_server_polls_total", code="304", kind="poll") == 1
        assert value(before, "progress_server_polls_total", code="404", kind="poll") == 1
        assert value(before, "progress_server_not_modified_total", kind="poll") == 1
        assert value(before, "progress_server_store_up", store="memory") == 1
        # Many jobs come, are polled and streamed, and end: not one series more.
        for n in range(1, 101):
            server.call(functools.partial(store.update, f"m-{n}", status="done"))
            assert http.get(f"/jobs/m-{n}").status_code == 200
            assert http.get(f"/jobs/m-{n}/events").status_code == 200
        after = scrape(server.url)
        assert set(after) == set(before)
        assert value(after, "progress_server_polls_total", code="200", kind="poll") == 101
        assert value(after, "progress_server_streams_opened_total") == 100
        assert value(after, "progress_server_streams_open") == 0
        assert not any("m-" in v for (_, labels) in after for _, v in labels)


def test_without_metrics_there_is_no_endpoint_and_two_apps_do_not_collide() -> None:
    with serve_in_thread(create_app(MemoryStore())) as server:
        assert httpx.get(f"{server.url}/metrics", timeout=10).status_code == 404
    one, two = create_app(MemoryStore(), metrics=True), create_app(MemoryStore(), metrics=True)
    assert one.state.metrics.registry is not two.state.metrics.registry


class TraceRecorder:
    """ASGI middleware around the reference server: records each request's ``traceparent``."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            if b"traceparent" in headers:
                self.seen.append(headers[b"traceparent"].decode())
        await self.app(scope, receive, send)


def until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.05)


@pytest.mark.redis
def test_demo_run_on_redis_shows_polls_cache_hits_held_streams_and_traces() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from progress_client import otel

    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    otel.instrument(tracer_provider=provider)
    with RedisProcess() as redis_proc:
        url = f"redis://127.0.0.1:{redis_proc.port}/0"
        app = TraceRecorder(create_app(RedisStore(url), metrics=True, close_store=True))
        try:
            with serve_in_thread(app) as server:  # type: ignore[arg-type]
                _demo(server.url, url, app)
                redis_proc.kill()  # Redis goes away: errors counted, the store is down
                assert httpx.get(f"{server.url}/jobs/poll-0", timeout=10).status_code == 503
                down = scrape(server.url)
                assert value(down, "progress_server_store_up", store="redis") == 0
                assert value(down, "progress_server_redis_errors_total", operation="read") >= 1
                assert value(down, "progress_server_polls_total", code="503", kind="poll") >= 1
        finally:
            otel.uninstrument()
    waits = [s for s in spans.get_finished_spans() if s.name == "progress_client.wait"]
    assert len(waits) == 4
    traces = {f"{s.context.trace_id:032x}" for s in waits}
    # The reference server saw each wait's trace id on its requests.
    assert {tp.split("-")[1] for tp in app.seen} == traces


def _demo(base: str, redis_url: str, app: TraceRecorder) -> None:
    jobs = ["poll-0", "poll-1", "sse-0", "lp-0"]
    go = threading.Event()
    finish = threading.Event()

    async def work() -> None:  # the worker: its own store on the same Redis
        store = RedisStore(redis_url)
        try:
            for job in jobs:
                await store.update(job, status="queued")
            go.set()
            for pct in (10, 40, 70):
                await anyio.sleep(0.3)
                for job in jobs:
                    await store.update(job, status="running", progress=pct)
            while not finish.is_set():  # hold "running" until the gauges were seen
                await anyio.sleep(0.05)
            for job in jobs:
                await store.update(job, status="done", progress=100)
        finally:
            await store.aclose()

    results: dict[str, Any] = {}

    def polls() -> None:
        with ProgressClient(policy=FixedPolicy(0.1)) as client:
            outcomes = client.wait_many([f"{base}/jobs/poll-{n}" for n in range(2)], timeout=60)
            results["polls"] = [o.result.report for o in outcomes if o.result is not None]

    async def pushed() -> None:
        async with AsyncProgressClient(policy=FixedPolicy(0.1)) as sse, AsyncProgressClient(
            policy=FixedPolicy(0.1), long_poll=5
        ) as lp, anyio.create_task_group() as tg:
            async def stream() -> None:
                results["sse"] = await sse.wait(
                    f"{base}/jobs/sse-0", events_url=f"{base}/jobs/sse-0/events", timeout=60)

            async def held() -> None:
                results["lp"] = await lp.wait(f"{base}/jobs/lp-0", timeout=60)

            tg.start_soon(stream)
            tg.start_soon(held)

    worker = threading.Thread(target=anyio.run, args=(work,), daemon=True)
    worker.start()
    assert go.wait(20)
    threads = [threading.Thread(target=polls, daemon=True),
               threading.Thread(target=anyio.run, args=(pushed,), daemon=True)]
    for t in threads:
        t.start()
    live: list[Series] = []

    def held_now() -> bool:
        live.append(scrape(base))
        return (value(live[-1], "progress_server_streams_open") >= 1
                and value(live[-1], "progress_server_long_polls_held") >= 1)

    until(held_now)
    during = live[-1]
    finish.set()
    for t in [worker, *threads]:
        t.join(60)
        assert not t.is_alive()
    after = scrape(base)
    assert set(after) == set(during)  # a fixed series set, before and after jobs ended
    assert results["sse"].report.mode == "sse" and len(results["polls"]) == 2
    polled = sum(value(after, "progress_server_polls_total", code=c, kind="poll")
                 for c in ("200", "304"))
    assert polled >= sum(r.requests for r in results["polls"])
    assert value(after, "progress_server_not_modified_total", kind="poll") >= 1
    assert value(after, "progress_server_polls_total", code="200", kind="long_poll") >= 1
    assert value(after, "progress_server_cache_hits_total") >= 1
    assert value(after, "progress_server_redis_reads_total") >= 1
    assert value(after, "progress_server_streams_opened_total") >= 1
    assert value(after, "progress_server_delivery_latency_seconds_count", channel="sse") >= 1
    assert value(after, "progress_server_delivery_latency_seconds_count",
                 channel="long_poll") >= 1
    assert value(after, "progress_server_store_up", store="redis") == 1


def test_serve_metrics_flag() -> None:
    import signal
    import subprocess
    import sys

    from tests.conftest import free_port
    from tests.kit import wait_healthy

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "progress_client", "serve", "--port", str(port), "--metrics"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base)
        assert httpx.get(f"{base}/jobs/none", timeout=10).status_code == 404
        series = scrape(base)
        assert value(series, "progress_server_polls_total", code="404", kind="poll") == 1
        assert value(series, "progress_server_store_up", store="memory") == 1
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
    assert "Traceback" not in err and "/metrics" in err


def test_serve_metrics_without_the_extra_says_what_to_install() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "sys.modules['prometheus_client'] = None\n"  # as if the extra were not installed
        "from progress_client.cli import main\n"
        "sys.exit(main(['serve', '--port', '0', '--metrics']))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2
    assert "pip install 'progress-client[metrics]'" in out.stderr
    assert "Traceback" not in out.stderr
