"""The event stream (SSE): statuses pushed over one long response, reopened when it drops.

Its request opens the events URL (``Accept: text/event-stream``, and ``Last-Event-ID`` once
the stream named one). A 200 ``text/event-stream`` is read event by event: an event whose
data is a status document counts, whatever its name (``event_types`` restricts the names
when a server mixes streams); comments, heartbeats and data that is no status are skipped.
Any other answer gives way to polling at once. A stream that ends or fails is reopened after
the server's ``retry:`` (doubled for each connection in a row that brought no status); after
``sse_max_failures`` such connections, an event over the size limit or a fatal failure, it
gives way to the polling source (long-polling or polling, as the options say) with every
counter carried on. The decoder and the reconnect rules are ``core.sse``'s.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from progress_client.core.errors import ResponseTooLarge
from progress_client.core.phases import Phase
from progress_client.core.sse import EventStream

if TYPE_CHECKING:
    from progress_client.core.actions import Request
    from progress_client.core.config import WaitConfig
    from progress_client.core.report import Mode
    from progress_client.core.sources import Source
    from progress_client.core.transitions import Transitions

__all__ = ["StreamSource"]


class StreamSource:
    """One wait's event stream at ``url``, across its connections; ``fallback`` is the source
    it gives way to."""

    __slots__ = ("fallback", "stream", "url")

    phase = Phase.STREAMING

    def __init__(self, config: WaitConfig, url: str, fallback: Source) -> None:
        self.url = url
        self.fallback = fallback
        self.stream = EventStream(
            max_event=config.max_body, max_failures=config.sse_max_failures,
            event_types=config.event_types,
        )

    @property
    def open(self) -> bool:
        return self.stream.open

    def request(self, engine: Transitions, now: float, deadline: float | None) -> Request:
        headers = {"Accept": "text/event-stream"}
        if engine.state.last_event_id:
            headers["Last-Event-ID"] = engine.state.last_event_id
        return engine._outgoing(
            "stream", "GET", self.url, headers, engine.config.request_timeout, now, deadline
        )

    def answered(self, engine: Transitions, headers: Mapping[str, str]) -> Mode:
        return "poll"  # a stream sends no polls

    def opened(
        self, engine: Transitions, now: float, code: int, headers: Mapping[str, str]
    ) -> None:
        why = self.stream.opened(code, headers.get("content-type"),
                                 engine.state.last_event_id or "")
        if why is not None:
            engine._give_way(now, self.fallback, why)
        else:
            engine.state.mode = "sse"

    def data(self, engine: Transitions, now: float, chunk: bytes) -> None:
        stream = self.stream
        try:
            events = stream.feed(chunk)
        except ResponseTooLarge as exc:
            engine._give_way(now, self.fallback, exc.message)
            return
        state = engine.state
        for event in events:
            state.tally.bytes_received += event.size
            state.last_event_id = event.last_event_id or None
            # An event is a status by its data, whatever its name (``event: progress``),
            # unless the caller named the event types to read (``event_types``).
            if not stream.wanted(event):
                continue
            try:
                document = json.loads(event.data)
            except (ValueError, RecursionError):
                continue  # a heartbeat, or data that is no JSON
            if not engine._pushed(now, document, "sse"):
                continue  # data that is no status document
            stream.brought_status()
            if engine._stopped is not None:
                stream.close()
                return

    def ended(self, engine: Transitions, now: float) -> None:
        delay = self.stream.dropped()
        if delay is None:
            failures = self.stream.reconnect.max_failures
            engine._give_way(now, self.fallback, f"{failures} connections in a row failed")
        else:
            engine._request_at(now + delay)

    def failed(self, engine: Transitions, now: float, description: str, fatal: bool) -> None:
        if fatal:
            engine._give_way(now, self.fallback, description)
        else:
            self.stream.close()
            self.ended(engine, now)

    def close(self) -> None:
        self.stream.close()
