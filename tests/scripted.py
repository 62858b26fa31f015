"""A scripted job-status server on 127.0.0.1 for end-to-end tests: real HTTP, real sockets.

A job is either a *timeline* (status documents that take effect at known seconds after the job's
first request) or a *script* (a fixed sequence of raw responses, the last one repeated). Every
request is recorded with its arrival time and headers, so tests can compare what the server
received and served with what the client reported.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Server(ThreadingHTTPServer):
    # The default backlog of 5 drops connections when many clients start at once (a 1 s SYN
    # retry each), which would distort timing tests.
    request_queue_size = 1024


@dataclass
class Reply:
    """One raw response of a script."""

    status: int = 200
    body: bytes | dict[str, Any] | list[Any] | str = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    """One request as the server received it."""

    at: float
    path: str
    wall: float
    headers: dict[str, str]
    served: str | None = None
    code: int = 200


@dataclass
class _Job:
    timeline: list[tuple[float, dict[str, Any]]] | None = None
    script: list[Reply] | None = None
    etag: bool = False
    started: float | None = None
    served: int = 0


class ScriptedServer:
    """Serve scripted jobs at ``/jobs/<name>``; ``url(name)`` gives the address."""

    def __init__(self) -> None:
        self.jobs: dict[str, _Job] = {}
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; with Nagle on, the body waits for the
            # client's delayed ACK (~40 ms) on every keep-alive response.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def do_GET(self) -> None:
                outer._handle(self)

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/jobs/{name}"

    def timeline(
        self, name: str, points: Sequence[tuple[float, str | dict[str, Any]]], *, etag: bool = False
    ) -> str:
        docs = [(t, {"status": s} if isinstance(s, str) else dict(s)) for t, s in points]
        self.jobs[name] = _Job(timeline=sorted(docs, key=lambda p: p[0]), etag=etag)
        return self.url(name)

    def script(self, name: str, replies: Sequence[Reply]) -> str:
        self.jobs[name] = _Job(script=list(replies))
        return self.url(name)

    def requests_for(self, name: str) -> list[Seen]:
        with self.lock:
            return [s for s in self.seen if s.path == f"/jobs/{name}"]

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        now = time.monotonic()
        seen = Seen(
            at=now,
            path=h.path,
            wall=time.time(),
            headers={k.lower(): v for k, v in h.headers.items()},
        )
        with self.lock:
            self.seen.append(seen)
            job = self.jobs.get(h.path.removeprefix("/jobs/"))
            reply = self._reply(job, now, seen)
        seen.code = reply.status
        body = reply.body
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        h.send_response(reply.status)
        headers = {"Content-Type": "application/json", **reply.headers}
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if body and reply.status != 304:
            h.wfile.write(body)

    def _reply(self, job: _Job | None, now: float, seen: Seen) -> Reply:
        if job is None:
            return Reply(404, {"error": "no such job"})
        if job.script is not None:
            i = min(job.served, len(job.script) - 1)
            job.served += 1
            return job.script[i]
        assert job.timeline is not None
        if job.started is None:
            job.started = now
        elapsed = now - job.started
        doc = job.timeline[0][1]
        for t, d in job.timeline:
            if t <= elapsed:
                doc = d
        seen.served = str(doc.get("status"))
        headers: dict[str, str] = {}
        if job.etag:
            tag = f'"{abs(hash(json.dumps(doc, sort_keys=True))) % 10**12}"'
            headers["ETag"] = tag
            if seen.headers.get("if-none-match") == tag:
                return Reply(304, b"", headers)
        return Reply(200, doc, headers)

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def scripted_server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server
