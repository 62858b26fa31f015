"""A scripted status server with SSE and ETag on 127.0.0.1, for the push and scale tests.

``GET /jobs/<name>`` answers the job's current status as JSON (with an ``ETag`` and 304s when
asked); ``GET /jobs/<name>/events`` streams it as Server-Sent Events: one event per version
(``id:`` = the version's index), the current version at once, later ones when they are due,
and the connection closed after a terminal status. A job's clock starts at its first request.
Per job, the stream can be told to fail: ``cut_after=n`` closes the first connection after n
events, ``events_status=404`` or ``events_type="application/json"`` refuses the stream.
Every request is recorded (time, path, headers, code), and every event's send time.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TERMINAL = frozenset({"done", "completed", "failed"})


@dataclass
class Seen:
    at: float
    path: str
    headers: dict[str, str]
    code: int = 0
    size: int = 0


@dataclass
class Job:
    timeline: list[tuple[float, dict[str, Any]]]
    etag: bool = True
    retry_ms: int | None = 50
    cut_after: int | None = None
    events_status: int = 200
    events_type: str = "text/event-stream"
    raw_prefix: bytes = b""
    started: float | None = None
    connections: int = 0
    sent: list[tuple[float, int]] = field(default_factory=list)

    def version_at(self, elapsed: float) -> int:
        v = 0
        for i, (t, _) in enumerate(self.timeline):
            if t <= elapsed:
                v = i
        return v


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # many clients connect at once in the scale tests

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (a cancelled wait, a closed stream) is part of the tests.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class SSEServer:
    """Serve scripted jobs; ``url(name)`` and ``events_url(name)`` give their addresses."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        #: Requests being served right now, and the most there ever were at once.
        self.active = 0
        self.max_active = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes: without this, Nagle's algorithm and the
            # peer's delayed ACK hold every keep-alive response back by ~40 ms.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                with outer.lock:
                    outer.active += 1
                    outer.max_active = max(outer.max_active, outer.active)
                try:
                    outer._handle(self)
                finally:
                    with outer.lock:
                        outer.active -= 1

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.port = int(self.httpd.server_address[1])
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # -- set-up ----------------------------------------------------------------------------

    def job(
        self, name: str, points: Sequence[tuple[float, str | dict[str, Any]]], **options: Any
    ) -> Job:
        docs = [(t, {"status": s} if isinstance(s, str) else dict(s)) for t, s in points]
        job = Job(timeline=sorted(docs, key=lambda p: p[0]), **options)
        with self.lock:
            self.jobs[name] = job
        return job

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/jobs/{name}"

    def events_url(self, name: str) -> str:
        return self.url(name) + "/events"

    def requests(self, path: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.path == path]

    # -- serving ---------------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        now = time.monotonic()
        seen = Seen(at=now, path=h.path, headers={k.lower(): v for k, v in h.headers.items()})
        with self.lock:
            self.seen.append(seen)
            name = h.path.removeprefix("/jobs/").removesuffix("/events")
            job = self.jobs.get(name)
            if job is not None and job.started is None:
                job.started = now
        if job is None:
            seen.code = 404
            self._send(h, 404, b'{"error": "no such job"}')
        elif h.path.endswith("/events"):
            self._stream(h, job, seen)
        else:
            self._status(h, job, seen, now)

    def _send(self, h: BaseHTTPRequestHandler, code: int, body: bytes,
              headers: dict[str, str] | None = None) -> None:
        h.send_response(code)
        for k, v in {"Content-Type": "application/json", **(headers or {})}.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if code != 304:
            h.wfile.write(body)

    def _status(self, h: BaseHTTPRequestHandler, job: Job, seen: Seen, now: float) -> None:
        assert job.started is not None
        v = job.version_at(now - job.started)
        doc = job.timeline[v][1]
        headers: dict[str, str] = {}
        if job.etag:
            tag = f'"v{v}"'
            headers["ETag"] = tag
            if seen.headers.get("if-none-match") == tag:
                seen.code = 304
                self._send(h, 304, b"", headers)
                return
        body = json.dumps(doc).encode()
        seen.code, seen.size = 200, len(body)
        self._send(h, 200, body, headers)

    def _stream(self, h: BaseHTTPRequestHandler, job: Job, seen: Seen) -> None:
        with self.lock:
            job.connections += 1
            first = job.connections == 1
        if job.events_status != 200:
            seen.code = job.events_status
            self._send(h, job.events_status, b'{"error": "no stream here"}')
            return
        seen.code = 200
        h.close_connection = True
        h.send_response(200)
        h.send_header("Content-Type", job.events_type)
        h.send_header("Cache-Control", "no-store")
        h.send_header("Connection", "close")
        h.end_headers()
        out = h.wfile
        try:
            if job.raw_prefix:
                out.write(job.raw_prefix)
            if job.retry_ms is not None:
                out.write(f"retry: {job.retry_ms}\n\n".encode())
            out.flush()
            last = seen.headers.get("last-event-id")
            assert job.started is not None
            current = job.version_at(time.monotonic() - job.started)
            start = int(last) + 1 if last is not None and last.isdigit() else current
            for sent_here, v in enumerate(range(start, len(job.timeline)), start=1):
                due = job.started + job.timeline[v][0]
                while (left := due - time.monotonic()) > 0:
                    time.sleep(min(left, 0.01))
                doc = job.timeline[v][1]
                out.write(f"id: {v}\ndata: {json.dumps(doc)}\n\n".encode())
                out.flush()
                with self.lock:
                    job.sent.append((time.monotonic(), v))
                if str(doc.get("status")) in TERMINAL:
                    return
                if first and job.cut_after is not None and sent_here >= job.cut_after:
                    return
        except (BrokenPipeError, ConnectionResetError):
            return

    def __enter__(self) -> SSEServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
