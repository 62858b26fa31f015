"""Server-Sent Events, the pure part: the WHATWG event-stream decoder and the reconnect rules.

No sockets here (the drivers do the I/O; the engine feeds the bytes in), so every rule can be
hit by property tests. The decoder follows the WHATWG HTML "event stream interpretation":

- lines end with CRLF, LF or CR (a CR at the end of one chunk may pair with an LF in the next);
  a leading UTF-8 BOM is dropped; bytes are decoded as UTF-8 with replacement;
- ``data:`` lines are joined with ``\\n``; an empty line dispatches the event; an event with no
  data is not dispatched (its ``id`` still becomes the last event id);
- ``retry:`` is honoured only when its value is all ASCII digits (``+1``, `` 1``, ``1.5`` and
  non-ASCII digits are ignored); ``id:`` is ignored when it contains NUL;
- the size limit applies to one event (its data plus the pending line) and so to all that is
  buffered at any time: a stream that sends an endless line cannot exhaust memory.

httpx-sse's own decoder is not used because it accepts ``retry: +1`` and non-ASCII digits and
has no size limit; httpx-sse still opens the stream (``connect_sse``/``aconnect_sse``).

``Reconnect`` holds the reconnect schedule: after a drop, wait the server's ``retry`` (1 s
unless the server said otherwise), doubled for each connection in a row that delivered no
status (comments, heartbeats and events whose data is no status document do not count),
capped at ``max_delay``; after ``max_failures`` such connections in a row, fall back to
polling. ``EventStream`` puts the two together across a wait's connections: the one place the
engine asks whether to read, reconnect or fall back.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from progress_client.core.errors import ResponseTooLarge

__all__ = [
    "EVENT_STREAM",
    "Event",
    "EventStream",
    "EventStreamDecoder",
    "Reconnect",
    "is_event_stream",
    "parse_retry_field",
    "valid_event_id",
]

EVENT_STREAM = "text/event-stream"
_BOM = "\ufeff"

#: A line end: CRLF, CR or LF (WHATWG event-stream parsing).
_EOL = re.compile(rb"\r\n|[\r\n]")


def parse_retry_field(value: str) -> int | None:
    """The reconnection time in milliseconds from a ``retry:`` value, or ``None`` to ignore it
    (WHATWG: only a value of ASCII digits alone is used)."""
    if not value or not value.isascii() or not value.isdigit():
        return None
    return int(value[:12])  # more digits than that are absurd; the caller caps the delay


def valid_event_id(value: str) -> bool:
    """Whether an ``id:`` value may become the last event id (WHATWG: not if it has NUL)."""
    return "\0" not in value


def is_event_stream(content_type: str | None) -> bool:
    """Whether a Content-Type header names an event stream (parameters ignored)."""
    if not content_type:
        return False
    return content_type.split(";", 1)[0].strip().lower() == EVENT_STREAM


@dataclass(frozen=True)
class Event:
    """One dispatched event. ``last_event_id`` is the stream's last event id after it."""

    data: str
    type: str = "message"
    last_event_id: str = ""
    size: int = 0


class EventStreamDecoder:
    """Feed bytes, get events. One per connection; ``last_event_id`` may be seeded from the
    previous connection (it is what goes out as ``Last-Event-ID``)."""

    def __init__(self, *, max_event: int = 1 << 20, last_event_id: str = "") -> None:
        if max_event < 1:
            raise ValueError("max_event must be >= 1 byte")
        self.max_event = max_event
        self.last_event_id = last_event_id
        #: The reconnection time the server asked for (ms), ``None`` until it says.
        self.retry_ms: int | None = None
        self._pending = bytearray()
        self._trailing_cr = False
        self._started = False
        self._data: list[str] = []
        self._data_size = 0
        self._type = ""
        self._id_buffer = last_event_id
        self._event_bytes = 0

    def feed(self, chunk: bytes) -> list[Event]:
        """Decode ``chunk``; return the events it completed. Raises ``ResponseTooLarge`` when
        one event (or one line) passes ``max_event`` bytes."""
        events: list[Event] = []
        start = 0
        n = len(chunk)
        if self._trailing_cr and n and chunk[0] == 0x0A:
            start = 1  # the LF of a CRLF split across chunks
        self._trailing_cr = False
        # Line ends are found by the regex engine, not a Python loop over every byte: a
        # 1 MiB event costs milliseconds, not a second.
        for end in _EOL.finditer(chunk, start):
            self._pending += chunk[start : end.start()]
            self._line(bytes(self._pending), len(self._pending) + 1, events)
            self._pending.clear()
            start = end.end()
        if start == n and n and chunk[-1] == 0x0D:
            self._trailing_cr = True  # a CR at the end: its LF may open the next chunk
        self._pending += chunk[start:]
        if len(self._pending) + self._event_bytes > self.max_event:
            raise ResponseTooLarge(
                f"an event of the stream is larger than the limit ({self.max_event} bytes)"
            )
        return events

    def _line(self, raw: bytes, size: int, events: list[Event]) -> None:
        self._event_bytes += size
        if self._event_bytes > self.max_event:
            raise ResponseTooLarge(
                f"an event of the stream is larger than the limit ({self.max_event} bytes)"
            )
        line = raw.decode("utf-8", errors="replace")
        if not self._started:
            self._started = True
            if line.startswith(_BOM):
                line = line[1:]
        if not line:
            self._dispatch(events)
            return
        if line.startswith(":"):
            return
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._type = value
        elif name == "id":
            if valid_event_id(value):
                self._id_buffer = value
        elif name == "retry":
            ms = parse_retry_field(value)
            if ms is not None:
                self.retry_ms = ms
        # Any other field is ignored, as the standard says.

    def _dispatch(self, events: list[Event]) -> None:
        size = self._event_bytes
        self._event_bytes = 0
        self.last_event_id = self._id_buffer
        data, kind = self._data, self._type
        self._data, self._type = [], ""
        if not data:
            return
        events.append(
            Event(
                data="\n".join(data),
                type=kind or "message",
                last_event_id=self.last_event_id,
                size=size,
            )
        )


@dataclass
class Reconnect:
    """When to reconnect a dropped stream, and when to give up on it for polling."""

    retry: float = 1.0
    max_delay: float = 30.0
    max_failures: int = 3
    failures: int = 0

    def __post_init__(self) -> None:
        if self.max_failures < 1:
            raise ValueError("max_failures must be >= 1")
        for label, v in (("retry", self.retry), ("max_delay", self.max_delay)):
            if not (math.isfinite(v) and v >= 0):
                raise ValueError(f"{label} must be a finite number >= 0")

    def server_retry(self, ms: int | None) -> None:
        """Adopt the server's ``retry:`` (milliseconds), capped at ``max_delay``."""
        if ms is not None:
            self.retry = min(ms / 1000.0, self.max_delay)

    def dropped(self, *, delivered: bool) -> float | None:
        """A connection ended (or could not be made). Returns the delay before the next one,
        or ``None`` when the stream keeps failing and the wait should fall back to polling."""
        if delivered:
            self.failures = 0
            delay = self.retry
        else:
            self.failures += 1
            if self.failures >= self.max_failures:
                return None
            delay = min(self.retry * (2 ** self.failures), self.max_delay)
        return delay


class EventStream:
    """The stream's rules across its connections, for the engine: open one (or say why it
    cannot serve), decode what it brings, and after a drop, when to reconnect or that the wait
    should fall back to polling."""

    def __init__(
        self, *, max_event: int, max_failures: int,
        event_types: frozenset[str] | None = None,
    ) -> None:
        self.max_event = max_event
        self.event_types = event_types
        self.reconnect = Reconnect(max_failures=max_failures)
        self.decoder: EventStreamDecoder | None = None
        self.delivered = False

    @property
    def open(self) -> bool:
        return self.decoder is not None

    def opened(self, status_code: int, content_type: str | None, last_event_id: str) -> str | None:
        """A connection's head came: ``None`` if it is an event stream (then read it), else
        why the wait should poll instead."""
        if status_code != 200 or not is_event_stream(content_type):
            return f"HTTP {status_code}, {content_type or 'no content type'}"
        self.delivered = False
        self.decoder = EventStreamDecoder(max_event=self.max_event, last_event_id=last_event_id)
        return None

    def feed(self, chunk: bytes) -> list[Event]:
        """The events a chunk completes (``ResponseTooLarge`` past the size limit). Whether
        one of them counts is the engine's to say (``brought_status``): a heartbeat does not."""
        assert self.decoder is not None
        events = self.decoder.feed(chunk)
        self.reconnect.server_retry(self.decoder.retry_ms)
        return events

    def wanted(self, event: Event) -> bool:
        """Whether an event may carry a status: any name, unless ``event_types`` names some."""
        return self.event_types is None or event.type in self.event_types

    def brought_status(self) -> None:
        """This connection delivered a status document: it is no failed connection."""
        self.delivered = True

    def dropped(self) -> float | None:
        """The connection ended or failed: the delay before the next one, or ``None`` when
        it keeps failing (fall back to polling)."""
        self.decoder = None
        return self.reconnect.dropped(delivered=self.delivered)

    def close(self) -> None:
        self.decoder = None
