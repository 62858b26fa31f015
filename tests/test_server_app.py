"""The status app on the memory store: ETag/304, 404, Retry-After, health, the SSE wire format
and resume, and the core clients (sync and async) waiting on it over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import anyio
import anyio.to_thread
import httpx
import pytest

from progress_client import (
    AdaptivePolicy,
    AsyncProgressClient,
    JobFailed,
    ProgressClient,
    RequestFailed,
)
from progress_client.server import (
    MemoryStore,
    RunningServer,
    create_app,
    etag_for,
    if_none_match,
    serve_in_thread,
)

FAST = AdaptivePolicy(0.02, 0.01, 0.05)


# -- pure helpers -----------------------------------------------------------------------------


def test_if_none_match_forms() -> None:
    tag = etag_for(b'{"status":"running"}')
    assert tag.startswith('"') and tag.endswith('"') and len(tag) == 34
    assert if_none_match(tag, tag)
    assert if_none_match("*", tag)
    assert if_none_match(f'"nope", W/{tag} , "other"', tag)
    assert not if_none_match('"nope"', tag)
    assert not if_none_match(None, tag)
    assert not if_none_match("", tag)


def test_create_app_checks_its_options() -> None:
    with pytest.raises(ValueError, match="retry_after"):
        create_app(MemoryStore(), retry_after=-1)
    with pytest.raises(ValueError, match="keepalive"):
        create_app(MemoryStore(), keepalive=0)


# -- in-process (ASGI) -------------------------------------------------------------------------


def _asgi(store: MemoryStore, **options: float) -> httpx.AsyncClient:
    app = create_app(store, **options)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app")


@pytest.mark.anyio
async def test_job_json_etag_and_304() -> None:
    store = MemoryStore()
    await store.update("job-1", status="running", step="render", progress=40, owner="u-1234")
    async with _asgi(store) as http:
        r = await http.get("/jobs/job-1")
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/json"
        assert r.headers["cache-control"] == "no-store"
        assert "retry-after" not in r.headers
        doc = r.json()
        assert set(doc) == {"status", "step", "progress", "error", "updated_at"}
        assert (doc["status"], doc["step"], doc["progress"]) == ("running", "render", 40.0)
        assert "u-1234" not in r.text
        tag = r.headers["etag"]
        # "<epoch>.<version>.<hash of the body>": it names the update (version 1 here).
        epoch, version, digest = tag.strip('"').split(".")
        assert (int(version, 16), f'"{digest}"') == (1, etag_for(r.content))
        assert int(epoch, 16) > 0

        for header in (tag, "*", f'"x", {tag}', f"W/{tag}"):
            r304 = await http.get("/jobs/job-1", headers={"If-None-Match": header})
            assert r304.status_code == 304
            assert r304.content == b""
            assert r304.headers["etag"] == tag
            assert r304.headers["cache-control"] == "no-store"

        await store.update("job-1", status="running", step="render", progress=41)
        changed = await http.get("/jobs/job-1", headers={"If-None-Match": tag})
        assert changed.status_code == 200
        assert changed.headers["etag"] != tag


@pytest.mark.anyio
async def test_unknown_expired_and_invalid_jobs_are_404_json() -> None:
    now = [0.0]
    store = MemoryStore(clock=lambda: now[0])
    await store.update("job-1", status="running")
    async with _asgi(store) as http:
        for path in ("/jobs/nope", "/jobs/..%2Fx", "/jobs/nope/events"):
            r = await http.get(path)
            assert r.status_code == 404, path
            assert r.json() == {"error": "not_found", "detail": "unknown or expired job"}
            assert r.headers["cache-control"] == "no-store"
        now[0] += 3600
        assert (await http.get("/jobs/job-1")).status_code == 404
        assert (await http.get("/jobs/nope", headers={"If-None-Match": "*"})).status_code == 404


@pytest.mark.anyio
async def test_writes_are_not_possible_over_http() -> None:
    store = MemoryStore()
    await store.update("job-1", status="running")
    async with _asgi(store) as http:
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            r = await http.request(method, "/jobs/job-1", json={"status": "completed"})
            assert r.status_code == 405
    got = await store.get("job-1")
    assert got is not None and got.status == "running"


@pytest.mark.anyio
async def test_retry_after_hint_only_while_the_job_runs() -> None:
    store = MemoryStore()
    await store.update("job-1", status="running")
    async with _asgi(store, retry_after=4.2) as http:
        r = await http.get("/jobs/job-1")
        assert r.headers["retry-after"] == "5"
        r304 = await http.get("/jobs/job-1", headers={"If-None-Match": r.headers["etag"]})
        assert r304.headers["retry-after"] == "5"
        await store.update("job-1", status="completed")
        assert "retry-after" not in (await http.get("/jobs/job-1")).headers


@pytest.mark.anyio
async def test_healthz() -> None:
    async with _asgi(MemoryStore()) as http:
        r = await http.get("/healthz")
        assert r.status_code == 200
        assert r.json() == {"status": "ok", "store": "memory"}


def _events(text: str) -> list[dict[str, str]]:
    """Parse an event stream into its blocks (comments kept under ':')."""
    out = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        out.append(fields)
    return out


@pytest.mark.anyio
async def test_sse_of_a_finished_job_is_one_event_then_closed() -> None:
    store = MemoryStore()
    await store.update("job-1", status="running", owner="u-99")
    await store.update("job-1", status="completed", progress=100)
    async with _asgi(store, sse_retry=2.5) as http:
        r = await http.get("/jobs/job-1/events")
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["cache-control"] == "no-store"
        events = _events(r.text)
        assert len(events) == 1
        assert events[0]["id"] == "2"
        assert events[0]["retry"] == "2500"
        data = json.loads(events[0]["data"])
        assert data["status"] == "completed" and "u-99" not in r.text

        # A reconnect that already has the terminal event used to get a 200 stream holding
        # only "retry:", on which a browser reconnects forever; now it is 204 No Content,
        # which (WHATWG) stops an EventSource from reconnecting.
        resumed = await http.get("/jobs/job-1/events", headers={"Last-Event-ID": "2"})
        assert resumed.status_code == 204 and resumed.content == b""


@pytest.mark.anyio
async def test_sse_streams_updates_in_order_and_resumes(anyio_backend: str) -> None:
    store = MemoryStore()
    for p in (0, 10, 20):
        await store.update("job-1", status="running", progress=p)
    async with _asgi(store) as http:

        async def write_when_subscribed() -> None:
            while not store._subscribers.get("job-1"):
                await anyio.lowlevel.checkpoint()
            await store.update("job-1", status="running", progress=30)
            await store.update("job-1", status="rendering", progress=60)
            await store.update("job-1", status="completed", progress=100)

        async with anyio.create_task_group() as tg:
            tg.start_soon(write_when_subscribed)
            # Resume after id 3: the current state (3) is not repeated; 4, 5, 6 follow.
            r = await http.get("/jobs/job-1/events", headers={"Last-Event-ID": "3"})
        events = [e for e in _events(r.text) if "data" in e]
        assert [e["id"] for e in events] == ["4", "5", "6"]
        assert [json.loads(e["data"])["status"] for e in events] == [
            "running", "rendering", "completed"]
        assert store._subscribers == {}

        # An id from the future (the job expired and started over) gets the current state.
        late = await http.get("/jobs/job-1/events", headers={"Last-Event-ID": "99"})
        assert [e["id"] for e in _events(late.text)] == ["6"]


# -- real HTTP on 127.0.0.1 --------------------------------------------------------------------


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[RunningServer, MemoryStore]]:
    store = MemoryStore()
    with serve_in_thread(create_app(store, keepalive=0.2, sse_retry=0.5)) as server:
        yield server, store


def _run_job(server: RunningServer, store: MemoryStore, job_id: str, steps: list[str],
             gap: float, error: str | None = None,
             seen: list[str] | None = None) -> threading.Thread:
    """A worker thread writing through the store on the server's loop. With ``seen`` (the
    statuses a client saw, in order), each status is written only once the client has seen
    the one before: a busy machine cannot make the client miss one."""

    def work() -> None:
        for i, status in enumerate(steps):
            time.sleep(gap)
            waited = time.monotonic()
            while seen is not None and len(seen) < i + 1 and time.monotonic() - waited < 10:
                time.sleep(0.01)
            last = i == len(steps) - 1
            server.call(_update, store, job_id, status, error if last else None)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


async def _update(store: MemoryStore, job_id: str, status: str, error: str | None) -> None:
    await store.update(job_id, status=status, error=error)


@pytest.mark.e2e
def test_sync_client_waits_on_the_server(served: tuple[RunningServer, MemoryStore]) -> None:
    server, store = served
    server.call(_update, store, "sync-1", "queued", None)
    seen: list[str] = []
    worker = _run_job(server, store, "sync-1", ["script", "render", "completed"], 0.15,
                      seen=seen)
    with ProgressClient(policy=FAST, allow_fast_polling=True, baseline=0.01,
                        on_change=lambda e: seen.append(e.status.status)) as client:
        result = client.wait(f"{server.url}/jobs/sync-1", timeout=10)
    worker.join(5)
    assert result.status.status == "completed"
    report = result.report
    assert report.changes == 3
    # Unchanged polls were answered 304 from the ETag the client sent back.
    assert report.not_modified > 0
    assert report.requests < report.baseline_requests


@pytest.mark.e2e
def test_sync_client_gets_the_sanitized_failure(served: tuple[RunningServer, MemoryStore]) -> None:
    server, store = served
    server.call(_update, store, "sync-2", "running", None)
    worker = _run_job(server, store, "sync-2", ["failed"], 0.1,
                      error="boom at /srv/app/main.py with sk_live_4eC39HqLyjWDarjtT1")
    with ProgressClient(policy=FAST,
                        allow_fast_polling=True) as client, pytest.raises(JobFailed) as info:
        client.wait(f"{server.url}/jobs/sync-2", timeout=10)
    worker.join(5)
    assert info.value.exit_code == 1
    assert info.value.status is not None and info.value.status.error is not None
    assert "sk_live" not in info.value.status.error and "[TOKEN]" in info.value.status.error


@pytest.mark.e2e
def test_sync_client_on_an_unknown_job_fails_cleanly(
    served: tuple[RunningServer, MemoryStore],
) -> None:
    server, _ = served
    with ProgressClient(policy=FAST,
                        allow_fast_polling=True) as client, pytest.raises(RequestFailed) as info:
        client.wait(f"{server.url}/jobs/never-was", timeout=5)
    assert info.value.exit_code == 4 and "404" in str(info.value)


@pytest.mark.e2e
@pytest.mark.anyio
async def test_async_client_waits_on_the_server(
    served: tuple[RunningServer, MemoryStore], anyio_backend: str
) -> None:
    server, store = served
    job = f"async-{anyio_backend}"
    await anyio.to_thread.run_sync(server.call, _update, store, job, "queued", None)
    worker = _run_job(server, store, job, ["images", "voice-over", "completed"], 0.1)
    seen = []
    async with AsyncProgressClient(policy=FAST, allow_fast_polling=True, baseline=0.01) as client:
        async for update in client.watch(f"{server.url}/jobs/{job}", timeout=10):
            if update.changed:
                seen.append(update.status.status)
    await anyio.to_thread.run_sync(worker.join, 5)
    assert seen[-1] == "completed"
    assert update.report.requests < update.report.baseline_requests


@pytest.mark.e2e
def test_sse_over_http_keepalive_push_and_resume(
    served: tuple[RunningServer, MemoryStore],
) -> None:
    server, store = served
    server.call(_update, store, "sse-1", "running", None)
    url = f"{server.url}/jobs/sse-1/events"
    lines: list[str] = []
    pushed_at: list[float] = []
    with httpx.Client(timeout=5) as http, http.stream("GET", url) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        it = r.iter_lines()
        lines += [next(it), next(it), next(it)]  # id, retry, data of the current state
        assert lines[0] == "id: 1" and lines[1] == "retry: 500"
        assert json.loads(lines[2].removeprefix("data: "))["status"] == "running"
        # Nothing happens for a while: keep-alive comments (every 0.2 s here) flow.
        for line in it:
            if line.startswith(":"):
                break
        written = time.monotonic()
        server.call(_update, store, "sse-1", "completed", None)
        for line in it:
            lines.append(line)
            if line.startswith("data:"):
                pushed_at.append(time.monotonic())
        # The stream closed by itself after the terminal status.
    assert lines[-4:-1] == ["id: 2", "retry: 500", lines[-2]]
    assert json.loads(lines[-2].removeprefix("data: "))["status"] == "completed"
    assert pushed_at and pushed_at[0] - written < 1.0

    with httpx.Client(timeout=5) as http:
        r = http.get(url, headers={"Last-Event-ID": "1"})
    events = [e for e in _events(r.text) if "data" in e]
    assert [e["id"] for e in events] == ["2"]
