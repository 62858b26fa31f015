"""The seam over real HTTP: a source the package does not ship (``tests/watch_source.py``, a
Kubernetes-style watch of JSON lines) run by a driver loop of the test's own over httpx,
against a server on 127.0.0.1 that streams its lines chunked, ends the watch and takes it
back from the resource version, or refuses it (then the wait polls)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from progress_client import FixedPolicy, WaitConfig
from progress_client.core.sources import POLL
from progress_client.engine import PollEngine, ReadStream, Request, Sleep, Stop
from tests.watch_source import WatchSource

pytestmark = pytest.mark.e2e


def _line(kind: str, version: int, status: str) -> bytes:
    obj = {"metadata": {"name": "job-1", "resourceVersion": str(version)},
           "status": {"status": status}}
    return json.dumps({"type": kind, "object": obj}).encode() + b"\n"


class WatchServer:
    """``GET /jobs/job-1?watch=1``: the first watch sends ADDED (queued) and MODIFIED
    (running), a BOOKMARK, and ends; a watch from resourceVersion=12 sends MODIFIED
    (succeeded). ``refuse``: every watch is 403 (as when RBAC forbids the verb); then
    ``GET /jobs/job-1`` polls, running twice and then succeeded."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.paths: list[str] = []
        self.polls = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def do_GET(self) -> None:
                outer.paths.append(self.path)
                if self.path.startswith("/jobs/job-1?watch=1"):
                    self._watch()
                elif self.path == "/jobs/job-1":
                    outer.polls += 1
                    word = "running" if outer.polls < 3 else "succeeded"
                    self._json(200, {"status": word})
                else:
                    self._json(404, {"kind": "Status", "reason": "NotFound"})

            def _json(self, code: int, doc: Any) -> None:
                body = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _watch(self) -> None:
                if outer.refuse:
                    self._json(403, {"kind": "Status", "reason": "Forbidden"})
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Connection", "close")
                self.end_headers()
                if "resourceVersion=12" in self.path:
                    lines = [_line("MODIFIED", 13, "succeeded")]
                else:
                    lines = [_line("ADDED", 10, "queued"), _line("MODIFIED", 11, "running"),
                             json.dumps({"type": "BOOKMARK", "object": {
                                 "metadata": {"resourceVersion": "12"}}}).encode() + b"\n"]
                for data in lines:  # each line in two chunks: split where it may
                    for part in (data[:7], data[7:]):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                        self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
                self.close_connection = True

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> WatchServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # a client that closes its keep-alive connection is no failure here


@pytest.fixture(params=[False, True], ids=["watched", "refused"])
def server(request: pytest.FixtureRequest) -> Iterator[WatchServer]:
    with WatchServer(refuse=request.param) as s:
        yield s


def drive(engine: PollEngine, timeout: float) -> tuple[Stop, list[str]]:
    """A driver: what every driver does with the engine's actions, over httpx."""
    deadline = time.monotonic() + timeout
    statuses: list[str] = []
    opened: Any = None
    chunks: Iterator[bytes] | None = None
    with httpx.Client() as client:
        while True:
            action = engine.next_action(time.monotonic(), deadline)
            if opened is not None and not isinstance(action, ReadStream):
                opened.__exit__(None, None, None)
                opened = chunks = None
            if isinstance(action, Stop):
                return action, statuses
            if isinstance(action, Sleep):
                time.sleep(max(0.0, action.until - time.monotonic()))
            elif isinstance(action, ReadStream):
                assert chunks is not None
                try:
                    engine.receive_data(time.monotonic(), next(chunks))
                except StopIteration:
                    engine.receive_end(time.monotonic())
            else:
                assert isinstance(action, Request)
                if action.purpose == "stream":  # a response read chunk by chunk
                    opened = client.stream(action.method, action.url,
                                           headers=dict(action.headers), timeout=action.timeout)
                    response = opened.__enter__()
                    chunks = response.iter_raw()
                    engine.receive_response(time.monotonic(), response.status_code,
                                            response.headers)
                else:
                    r = client.request(action.method, action.url, headers=dict(action.headers),
                                       timeout=action.timeout)
                    engine.receive_response(time.monotonic(), r.status_code, r.headers,
                                            r.content, wall=time.time())
            for event in engine.take_events():
                status = getattr(event, "status", None)
                if status is not None:
                    statuses.append(status.status)


def test_a_new_source_over_real_http(server: WatchServer) -> None:
    url = f"{server.base}/jobs/job-1"
    engine = PollEngine(WaitConfig(policy=FixedPolicy(0.05), allow_fast_polling=True),
                        url=url, source=WatchSource(url, POLL, reopen=0.05))
    stop, statuses = drive(engine, timeout=30)
    assert stop.outcome == "succeeded", stop.error
    report = stop.report
    if not server.refuse:
        assert statuses == ["queued", "running", "succeeded"]
        assert server.paths == ["/jobs/job-1?watch=1", "/jobs/job-1?watch=1&resourceVersion=12"]
        assert (report.requests, report.mode) == (2, "sse")
    else:
        assert statuses == ["running", "running", "succeeded"]  # watch's way: every status
        assert server.paths == ["/jobs/job-1?watch=1"] + ["/jobs/job-1"] * 3
        assert (report.requests, report.mode) == (4, "poll")
