"""The test-server kit: scripted jobs on 127.0.0.1 for end-to-end tests (real HTTP, real sockets).

A job lives at ``/jobs/<name>`` (a query string is ignored) and is either

- a *timeline* (``job``): status documents that take effect at known seconds after the job's
  first request. ``GET /jobs/<name>`` answers the current one as JSON, with an ``ETag``
  (``"v<index>"``) and 304s when asked (``etag=False``: neither); ``GET /jobs/<name>/events``
  streams it as Server-Sent Events: one event per version (``id:`` = its index), the current
  version at once, later ones when due, resumed after ``Last-Event-ID``, closed after a terminal
  status. The stream can be told to fail: ``cut_after=n`` closes the first connection after n
  events, ``events_status=404`` or ``events_type="application/json"`` refuses it,
  ``raw_prefix`` is written before anything else. It can name its events and chatter like the
  servers in the field: ``event_name="progress"`` writes ``event: progress`` before each status,
  ``heartbeat=0.05`` writes a comment and an ``event: ping`` whose data is no status that often
  while nothing is due, ``noise`` is written between the events (an event of another stream);
- a *script* (``script``): a fixed sequence of raw ``Reply`` objects, the last one repeated; a
  reply can come late (``delay``), or promise more body than it sends and ``hold`` the
  connection (a stalled body).

Every request is recorded as a ``Seen`` (arrival time, wall time, path, headers, code, body
size, the status served), and every event's send time in ``Job.sent``, taken just before the
event is written, so a client can never see an event whose record does not exist yet.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from .serving import LoopbackHTTP, QuietHandler

__all__ = ["TERMINAL", "Job", "JobServer", "Reply", "Seen", "read_sse_event", "wait_healthy"]

TERMINAL = frozenset({"done", "completed", "failed"})


@dataclass
class Reply:
    """One raw response of a script. ``body``: bytes, text, or JSON (a dict or a list). A
    ``Content-Length`` in ``headers`` replaces the true one; ``delay``: seconds before the
    head is sent; ``hold``: seconds to keep the connection open after the body."""

    status: int = 200
    body: bytes | dict[str, Any] | list[Any] | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hold: float = 0.0


@dataclass
class Seen:
    """One request as the server received it, and what it answered."""

    at: float  # time.monotonic() on arrival
    wall: float  # time.time() on arrival
    path: str
    headers: dict[str, str]  # names in lower case
    code: int = 0
    size: int = 0  # body bytes sent (a status document; 0 for a 304 or a stream)
    served: str | None = None  # the status word a timeline job answered


@dataclass
class Job:
    url: str
    timeline: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    script: list[Reply] | None = None
    etag: bool = True
    retry_ms: int | None = 50
    cut_after: int | None = None
    events_status: int = 200
    events_type: str = "text/event-stream"
    raw_prefix: bytes = b""
    event_name: str | None = None
    heartbeat: float | None = None
    noise: bytes = b""
    started: float | None = None
    replies: int = 0
    connections: int = 0
    #: (monotonic time just before the write, version index) for every event sent.
    sent: list[tuple[float, int]] = field(default_factory=list)

    @property
    def events_url(self) -> str:
        return self.url + "/events"

    def version_at(self, elapsed: float) -> int:
        v = 0
        for i, (t, _) in enumerate(self.timeline):
            if t <= elapsed:
                v = i
        return v


class JobServer(LoopbackHTTP):
    """Serve scripted jobs: ``with JobServer() as server: job = server.job(...)``."""

    def __init__(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        #: Requests being served right now, and the most there ever were at once.
        self.active = 0
        self.max_active = 0
        outer = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                with outer.lock:
                    outer.active += 1
                    outer.max_active = max(outer.max_active, outer.active)
                try:
                    outer._handle(self)
                finally:
                    with outer.lock:
                        outer.active -= 1

        super().__init__(Handler, poll_interval=0.02)

    # -- set-up ----------------------------------------------------------------------------

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/jobs/{name}"

    def events_url(self, name: str) -> str:
        return self.url(name) + "/events"

    def job(self, name: str, points: Sequence[tuple[float, str | dict[str, Any]]],
            **options: Any) -> Job:
        """A timeline job; ``options`` are ``Job``'s knobs (``etag``, ``cut_after``...)."""
        docs = [(t, {"status": s} if isinstance(s, str) else dict(s)) for t, s in points]
        job = Job(self.url(name), timeline=sorted(docs, key=lambda p: p[0]), **options)
        with self.lock:
            self.jobs[name] = job
        return job

    def script(self, name: str, replies: Sequence[Reply]) -> Job:
        """A job that answers ``replies`` in order, then the last one again and again."""
        job = Job(self.url(name), script=list(replies))
        with self.lock:
            self.jobs[name] = job
        return job

    def requests(self, path: str) -> list[Seen]:
        """The requests for ``path`` (``/jobs/<name>`` or ``/jobs/<name>/events``)."""
        with self.lock:
            return [s for s in self.seen if s.path.partition("?")[0] == path]

    # -- serving ---------------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        now = time.monotonic()
        seen = Seen(at=now, wall=time.time(), path=h.path,
                    headers={k.lower(): v for k, v in h.headers.items()})
        path = h.path.partition("?")[0]
        events = path.endswith("/events")
        with self.lock:
            self.seen.append(seen)
            job = self.jobs.get(path.removeprefix("/jobs/").removesuffix("/events"))
            if job is not None and job.started is None:
                job.started = now
            if job is not None and job.script is not None and not events:
                reply = job.script[min(job.replies, len(job.script) - 1)]
                job.replies += 1
        if job is None or (events and job.script is not None):
            self._send(h, seen, Reply(404, {"error": "no such job"}))
        elif job.script is not None:
            self._send(h, seen, reply)
        elif events:
            self._stream(h, job, seen)
        else:
            self._status(h, job, seen, now)

    def _send(self, h: BaseHTTPRequestHandler, seen: Seen, reply: Reply) -> None:
        time.sleep(reply.delay)
        body = reply.body
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        if reply.status == 304:
            body = b""
        seen.code, seen.size = reply.status, len(body)
        headers = {"Content-Type": "application/json", "Content-Length": str(len(body)),
                   **reply.headers}
        h.send_response(reply.status)
        for k, v in headers.items():
            h.send_header(k, v)
        h.end_headers()
        if body:
            h.wfile.write(body)
        if reply.hold:
            h.wfile.flush()
            h.close_connection = True
            time.sleep(reply.hold)

    def _status(self, h: BaseHTTPRequestHandler, job: Job, seen: Seen, now: float) -> None:
        assert job.started is not None
        v = job.version_at(now - job.started)
        doc = job.timeline[v][1]
        seen.served = str(doc.get("status"))
        headers: dict[str, str] = {}
        if job.etag:
            headers["ETag"] = f'"v{v}"'
            if seen.headers.get("if-none-match") == headers["ETag"]:
                self._send(h, seen, Reply(304, b"", headers))
                return
        self._send(h, seen, Reply(200, doc, headers))

    def _stream(self, h: BaseHTTPRequestHandler, job: Job, seen: Seen) -> None:
        with self.lock:
            job.connections += 1
            first = job.connections == 1
        if job.events_status != 200:
            self._send(h, seen, Reply(job.events_status, {"error": "no stream here"}))
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
                beat = time.monotonic()
                while (left := due - time.monotonic()) > 0:
                    time.sleep(min(left, 0.01))
                    if job.heartbeat is not None and time.monotonic() - beat >= job.heartbeat:
                        beat = time.monotonic()
                        out.write(b': keep-alive\n\nevent: ping\ndata: {"type": "ping"}\n\n')
                        out.flush()
                doc = job.timeline[v][1]
                with self.lock:  # before the write: a fast client must find the record
                    job.sent.append((time.monotonic(), v))
                name = f"event: {job.event_name}\n" if job.event_name else ""
                out.write(f"{name}id: {v}\ndata: {json.dumps(doc)}\n\n".encode() + job.noise)
                out.flush()
                if str(doc.get("status")) in TERMINAL:
                    return
                if first and job.cut_after is not None and sent_here >= job.cut_after:
                    return
        except (BrokenPipeError, ConnectionResetError):
            return


async def read_sse_event(lines: AsyncIterator[str]) -> dict[str, Any]:
    """The next event with data from an SSE line stream (``response.aiter_lines()``): its id
    and decoded document."""
    event: dict[str, Any] = {}
    async for line in lines:
        if line.startswith("id: "):
            event["id"] = int(line[4:])
        elif line.startswith("data: "):
            event["data"] = json.loads(line[6:])
        elif line == "" and "data" in event:
            return event
    raise AssertionError("the stream ended before an event")


def wait_healthy(base: str, what: str = "the server") -> None:
    """Until ``base``/healthz answers 200 (10 s at most): a server started in a subprocess."""
    import httpx

    for _ in range(200):
        try:
            if httpx.get(f"{base}/healthz", timeout=0.5).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"{what} did not come up")
