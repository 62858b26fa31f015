"""When an event stream is over: the rule that lets a browser's ``EventSource`` stop.

A browser reconnects to a closed event stream by itself, after ``retry:``, with
``Last-Event-ID`` set to the last id it saw, and goes on doing so for as long as each answer is
a ``200 text/event-stream``. Per the WHATWG rules only an answer of another kind (``204 No
Content`` being the one meant for it) makes it stop. So a reconnect is answered ``204`` when
there is nothing more to say:

- the job is over and the client has its terminal event (``Last-Event-ID`` equal to the
  terminal record's version);
- the job is unknown or its record expired (a reconnect: the request carries
  ``Last-Event-ID``; a first connection still gets the 404 JSON an unknown job gets).

A connection without ``Last-Event-ID`` still gets the current state first, even a terminal
one, and then the stream closes. A ``Last-Event-ID`` from the future of a finished job (its
record expired and the job ran again under the same id) gets the current terminal event, once;
its reconnect then carries that event's id and gets the 204.

The Python client falls back to polling on any answer that is not a 200 event stream, so a 204
costs it one poll, which reads the terminal state (or the 404) as usual.
"""

from __future__ import annotations

from starlette.responses import Response

from .store import ProgressRecord

__all__ = ["no_more_events", "stream_is_over"]


def stream_is_over(record: ProgressRecord | None, last_event_id: str | None) -> bool:
    """Whether a request to a job's event stream is a reconnect with nothing left to send.
    ``last_event_id`` is the raw ``Last-Event-ID`` header (``None`` when absent)."""
    if last_event_id is None:
        return False
    if record is None:
        return True
    raw = last_event_id.strip()
    if not (raw.isascii() and raw.isdigit() and len(raw) < 19):
        return False
    return record.terminal and int(raw) == record.version


def no_more_events() -> Response:
    """``204 No Content``: the answer that stops a browser from reconnecting."""
    return Response(status_code=204, headers={"Cache-Control": "no-store"})
