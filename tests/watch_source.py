"""A source of statuses the engine does not ship, written the way docs/development.md ("Adding a
push source") says: a watch stream of newline-delimited JSON, modelled on the Kubernetes API's
watch (https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes):
``GET <url>?watch=1`` answers 200 ``application/json`` and keeps the response open, one JSON
object per line, ``{"type": "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR",
"object": {...}}``; each object carries ``metadata.resourceVersion``, and a watch reopened with
``resourceVersion=<the last one seen>`` goes on from there. A ``BOOKMARK`` only moves the
resource version (a heartbeat); an ``ERROR`` (``410 Gone``: the version is too old) ends what
this watch can do. Here the object's ``status`` is the wait's status document.

It lives in tests/ and touches no engine file: it is handed to ``PollEngine(source=...)``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from urllib.parse import quote

from progress_client.core.actions import Request
from progress_client.core.phases import Phase
from progress_client.core.report import Mode
from progress_client.core.sources import Source
from progress_client.core.transitions import Transitions

#: How long to wait before reopening a watch that ended (the API server ends watches after
#: a timeout of its choosing; the client reopens it).
REOPEN = 1.0
#: A line longer than this gives the watch up (no endless buffering).
MAX_LINE = 1 << 20


class WatchSource:
    """A Kubernetes-style watch of one object at ``url``; ``fallback``: the source to give way
    to when the watch cannot serve."""

    __slots__ = ("_buffer", "_open", "fallback", "opened_count", "reopen", "url", "version")

    phase = Phase.STREAMING  # a connection that pushes statuses: the table's streaming

    def __init__(self, url: str, fallback: Source, *, reopen: float = REOPEN) -> None:
        self.url = url
        self.fallback = fallback
        self.reopen = reopen
        self.version: str | None = None
        self.opened_count = 0
        self._open = False
        self._buffer = b""

    @property
    def open(self) -> bool:
        return self._open

    def request(self, engine: Transitions, now: float, deadline: float | None) -> Request:
        url = f"{self.url}?watch=1"
        if self.version is not None:
            url += f"&resourceVersion={quote(self.version)}"
        # A response read chunk by chunk: the driver opens it as it opens an event stream.
        return engine._outgoing("stream", "GET", url, {"Accept": "application/json"},
                                engine.config.request_timeout, now, deadline)

    def answered(self, engine: Transitions, headers: Mapping[str, str]) -> Mode:
        return "poll"  # a watch sends no polls

    def opened(
        self, engine: Transitions, now: float, code: int, headers: Mapping[str, str]
    ) -> None:
        content_type = headers.get("content-type", "")
        if code != 200 or "json" not in content_type:
            engine._give_way(now, self.fallback, f"the watch answered HTTP {code}")
            return
        self._open, self._buffer = True, b""
        self.opened_count += 1

    def data(self, engine: Transitions, now: float, chunk: bytes) -> None:
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        if len(self._buffer) > MAX_LINE:
            engine._give_way(now, self.fallback, "a line of the watch is over the limit")
            return
        for line in lines:
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except (ValueError, RecursionError):
                engine._give_way(now, self.fallback, "the watch sent a line that is no JSON")
                return
            engine.state.tally.bytes_received += len(line) + 1
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":  # 410 Gone: this resource version is too old to watch from
                engine._give_way(now, self.fallback, f"the watch failed: {obj.get('reason')}")
                return
            self.version = obj.get("metadata", {}).get("resourceVersion", self.version)
            if kind not in ("ADDED", "MODIFIED"):
                continue  # a BOOKMARK moves the version only; a DELETED object says nothing
            # A pushed status counts under the report's mode "sse" (statuses over a stream).
            engine._pushed(now, obj.get("status"), "sse")
            if engine._stopped is not None:
                self.close()
                return

    def ended(self, engine: Transitions, now: float) -> None:
        self.close()
        engine._request_at(now + self.reopen)

    def failed(self, engine: Transitions, now: float, description: str, fatal: bool) -> None:
        if fatal:
            engine._give_way(now, self.fallback, description)
        else:
            self.ended(engine, now)

    def close(self) -> None:
        self._open, self._buffer = False, b""
