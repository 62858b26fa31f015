"""The status server for browsers: CORS (preflight, exposed headers, unlisted origins, ``*``),
event streams that end with 204 (so an EventSource stops reconnecting), the companion module
at /static/progress-client.js, the serve CLI's --cors-origin, and what the Python client does
with a 204 on its events URL. The browser itself is in tests/test_browser.py."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from benchmarks.procs import free_port, wait_for_port
from progress_client import PollTimeout, ProgressClient, RequestFailed
from progress_client.cli import main
from progress_client.server import MemoryStore, create_app, serve_in_thread
from progress_client.server.cors import CORSConfig, normalize_origin

APP = "http://app.example"
OTHER = "http://evil.example"


def _asgi(store: MemoryStore, **options: object) -> httpx.AsyncClient:
    app = create_app(store, **options)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api")


def _cors(headers: httpx.Headers) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.startswith("access-control-")}


def _preflight(origin: str, headers: str = "if-none-match") -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": headers}


# -- configuration ------------------------------------------------------------------------------


def test_origins_are_normalized_and_checked() -> None:
    assert normalize_origin("HTTPS://App.Example.com") == "https://app.example.com"
    assert normalize_origin("http://127.0.0.1:5173") == "http://127.0.0.1:5173"
    assert normalize_origin("http://[::1]:8080") == "http://[::1]:8080"
    assert normalize_origin(" * ") == "*"
    for bad in ("app.example.com", "ftp://x", "https://x/", "https://x/app", "https://x?q=1",
                "https://u:p@x", "https://x:99999", "http://", "https://ex ample", "null", ""):
        with pytest.raises(ValueError, match="CORS origin"):
            normalize_origin(bad)
    with pytest.raises(ValueError, match="credentials"):
        CORSConfig.build(["*"], allow_credentials=True)
    with pytest.raises(ValueError, match="CORS origin"):
        create_app(MemoryStore(), cors_origins=["https://x/"])
    assert not CORSConfig.build([]).enabled
    # A single string is one origin, not a list of characters.
    assert CORSConfig.build("https://a.example").origins == {"https://a.example"}


# -- CORS on the wire ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_preflight_of_a_listed_origin_is_204_with_methods_and_headers() -> None:
    store = MemoryStore()
    async with _asgi(store, cors_origins=[APP, "https://other.example"]) as http:
        r = await http.options("/jobs/job-1", headers=_preflight(
            APP, "if-none-match, prefer, last-event-id"))
        assert r.status_code == 204 and r.content == b""
        assert r.headers["access-control-allow-origin"] == APP
        assert r.headers["access-control-allow-methods"] == "GET, HEAD, OPTIONS"
        allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
        assert allowed == {"authorization", "if-none-match", "last-event-id", "prefer"}
        assert int(r.headers["access-control-max-age"]) >= 60
        assert "access-control-allow-credentials" not in r.headers
        assert r.headers["vary"] == "Origin"


@pytest.mark.anyio
async def test_listed_origin_reads_status_304_stream_and_module() -> None:
    store = MemoryStore()
    await store.update("job-1", status="running")
    async with _asgi(store, cors_origins=[APP], retry_after=2) as http:
        r = await http.get("/jobs/job-1", headers={"Origin": APP})
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == APP
        exposed = {h.strip() for h in r.headers["access-control-expose-headers"].split(",")}
        assert exposed == {"ETag", "Retry-After", "Preference-Applied"}
        assert "Origin" in r.headers["vary"]
        r304 = await http.get("/jobs/job-1", headers={"Origin": APP,
                                                      "If-None-Match": r.headers["etag"]})
        assert r304.status_code == 304 and r304.headers["access-control-allow-origin"] == APP
        missing = await http.get("/jobs/nope", headers={"Origin": APP})
        assert missing.status_code == 404 and missing.headers["access-control-allow-origin"] == APP
        module = await http.get("/static/progress-client.js", headers={"Origin": APP})
        assert module.headers["access-control-allow-origin"] == APP
        await store.update("job-1", status="completed")
        stream = await http.get("/jobs/job-1/events", headers={"Origin": APP})
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["access-control-allow-origin"] == APP
        # The 204 that ends a browser's stream must carry CORS headers too: without them the
        # browser sees a network error, and reconnects after a network error.
        ended = await http.get("/jobs/job-1/events", headers={"Origin": APP,
                                                              "Last-Event-ID": "2"})
        assert ended.status_code == 204 and ended.headers["access-control-allow-origin"] == APP


@pytest.mark.anyio
async def test_unlisted_origins_and_default_servers_get_no_cors_headers() -> None:
    store = MemoryStore()
    await store.update("job-1", status="running")
    async with _asgi(store, cors_origins=[APP]) as http:
        r = await http.get("/jobs/job-1", headers={"Origin": OTHER})
        assert r.status_code == 200 and _cors(r.headers) == {}
        assert r.headers["vary"] == "Origin"  # the answer depends on the origin
        pre = await http.options("/jobs/job-1", headers=_preflight(OTHER))
        assert pre.status_code == 405 and _cors(pre.headers) == {}
        # A prefix or a different port is another origin.
        for origin in (APP + ".evil", APP + ":8080", "https://app.example"):
            r = await http.get("/jobs/job-1", headers={"Origin": origin})
            assert _cors(r.headers) == {}, origin
        plain = await http.get("/jobs/job-1")
        assert _cors(plain.headers) == {}
    async with _asgi(store) as http:  # no cors_origins: no CORS at all
        r = await http.get("/jobs/job-1", headers={"Origin": APP})
        assert _cors(r.headers) == {} and "vary" not in r.headers
        pre = await http.options("/jobs/job-1", headers=_preflight(APP))
        assert pre.status_code == 405 and _cors(pre.headers) == {}


@pytest.mark.anyio
async def test_any_origin_and_credentials() -> None:
    store = MemoryStore()
    await store.update("job-1", status="running")
    async with _asgi(store, cors_origins=["*"]) as http:
        r = await http.get("/jobs/job-1", headers={"Origin": OTHER})
        assert r.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in r.headers
        assert "vary" not in r.headers  # the same answer for every origin
        pre = await http.options("/jobs/job-1", headers=_preflight(APP))
        assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == "*"
    async with _asgi(store, cors_origins=[APP], cors_credentials=True) as http:
        r = await http.get("/jobs/job-1", headers={"Origin": APP})
        assert r.headers["access-control-allow-origin"] == APP
        assert r.headers["access-control-allow-credentials"] == "true"


# -- streams that end ---------------------------------------------------------------------------


@pytest.mark.anyio
async def test_event_stream_reconnects_that_have_nothing_left_get_204() -> None:
    store = MemoryStore()
    for status in ("queued", "running", "completed"):
        await store.update("job-1", status=status)
    async with _asgi(store) as http:
        # No Last-Event-ID: the current state first, even a terminal one, then the end.
        first = await http.get("/jobs/job-1/events")
        assert first.status_code == 200 and "id: 3" in first.text and '"completed"' in first.text
        # A reconnect that has the terminal event: 204 No Content, no body.
        again = await http.get("/jobs/job-1/events", headers={"Last-Event-ID": "3"})
        assert again.status_code == 204 and again.content == b""
        assert again.headers["cache-control"] == "no-store"
        # A reconnect behind the terminal event gets it (then the stream closes).
        behind = await http.get("/jobs/job-1/events", headers={"Last-Event-ID": "1"})
        assert behind.status_code == 200 and "id: 3" in behind.text and "id: 2" not in behind.text
        # An id from another run of the job (ahead of it) gets its terminal event once.
        ahead = await http.get("/jobs/job-1/events", headers={"Last-Event-ID": "7"})
        assert ahead.status_code == 200 and "id: 3" in ahead.text
        garbage = await http.get("/jobs/job-1/events", headers={"Last-Event-ID": "x3"})
        assert garbage.status_code == 200 and "id: 3" in garbage.text
        # Unknown or expired: a reconnect gets 204; a first connection the usual 404 JSON.
        gone = await http.get("/jobs/nope/events", headers={"Last-Event-ID": "3"})
        assert gone.status_code == 204 and gone.content == b""
        fresh = await http.get("/jobs/nope/events")
        assert fresh.status_code == 404 and fresh.json()["error"] == "not_found"
    assert store._subscribers == {}


def test_an_expired_job_ends_a_reconnecting_stream_and_the_python_client_stops_cleanly() -> None:
    """The Python client's reaction to a 204 on its events URL: like any answer that is not a
    200 event stream, it falls back to polling, and the poll reads the job's fate (here a 404
    for the expired record: RequestFailed, exit 4, no hang, no reconnect loop)."""
    now = [0.0]
    store = MemoryStore(clock=lambda: now[0])
    statuses: list[tuple[str, int, str | None]] = []

    def record(request: httpx.Request | httpx.Response) -> None:
        if isinstance(request, httpx.Response):
            statuses.append((request.request.url.path, request.status_code,
                             request.request.headers.get("last-event-id")))

    async def write(status: str) -> None:
        await store.update("job-9", status=status)

    with serve_in_thread(create_app(store, sse_retry=0.05, keepalive=0.05)) as server:
        server.call(write, "running")
        url = f"{server.url}/jobs/job-9"
        http = httpx.Client(event_hooks={"response": [record]})
        with ProgressClient(client=http) as client:
            with pytest.raises(PollTimeout) as timed_out:
                client.wait(url, events_url=f"{url}/events", timeout=0.4)
            token = timed_out.value.resume_token
            assert token is not None
            now[0] += 7200.0  # past every TTL: the record is gone
            with pytest.raises(RequestFailed) as failed:
                client.wait(url, events_url=f"{url}/events", resume=token, timeout=5)
        http.close()
    assert failed.value.status_code == 404
    resumed = statuses[-2:]
    assert resumed == [("/jobs/job-9/events", 204, "1"), ("/jobs/job-9", 404, None)]


# -- the companion module -----------------------------------------------------------------------


@pytest.mark.anyio
async def test_companion_module_is_served_with_an_etag() -> None:
    async with _asgi(MemoryStore()) as http:
        r = await http.get("/static/progress-client.js")
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/javascript; charset=utf-8"
        assert r.headers["cache-control"] == "no-cache"
        exports = re.search(r"^export \{([^}]*)\};", r.text, re.M)
        assert exports and {"waitForJob", "watchJob", "nextDelay"} <= set(
            re.findall(r"\w+", exports.group(1)))
        assert not re.search(r"^\s*import\b", r.text, re.M)  # no dependencies
        again = await http.get("/static/progress-client.js",
                               headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304


# -- the serve command --------------------------------------------------------------------------


@pytest.fixture
def served_cli() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "progress_client", "serve", "--port", str(port),
         "--cors-origin", APP, "--cors-origin", "http://127.0.0.1:5173"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.e2e
def test_serve_cors_origin_flag(served_cli: str) -> None:
    with httpx.Client(base_url=served_cli, timeout=5) as http:
        pre = http.options("/jobs/a", headers=_preflight("http://127.0.0.1:5173", "prefer"))
        assert pre.status_code == 204
        assert pre.headers["access-control-allow-origin"] == "http://127.0.0.1:5173"
        r = http.get("/jobs/a", headers={"Origin": APP})
        assert r.status_code == 404 and r.headers["access-control-allow-origin"] == APP
        assert _cors(http.get("/jobs/a", headers={"Origin": OTHER}).headers) == {}


def test_serve_refuses_a_bad_cors_origin(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--cors-origin", "https://app.example.com/"]) == 2
    err = capsys.readouterr().err
    assert "invalid CORS origin" in err and "Traceback" not in err
