"""A push that carries news but no status: a verified webhook (``webhooks.receiver``) says
the job has changed, and the wait's next request goes at once.

The push itself comes outside the engine: the receiver verifies the webhook and wakes the
driver (``drivers.wake.Waker``), whose sleep ends; the driver then calls
``PollEngine.receive_wake``, which applies ``wake`` below. The wait's active source does the
rest: while polling (or long-polling), the next poll goes now and its answer, one GET,
confirms what the push said (a push is a hint, never trusted as a status); while a stream
waits to reconnect, it reopens now. Nothing happens while a request is in flight or a
connection is open (their answer serves), or after the end; the push adds no phase of its
own (the wait stands in its source's).

A push channel that carries the statuses themselves (an event stream, a WebSocket) is a
source of its own, like ``core.sources.stream``: see ``core.sources``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from progress_client.core.transitions import Transitions

__all__ = ["wake"]


def wake(engine: Transitions, now: float) -> bool:
    """Bring the wait's next request forward to ``now``; whether it moved."""
    if engine._stopped is not None or engine._in_flight is not None or engine._source.open:
        return False
    if engine._next_at is not None and engine._next_at > now:
        engine._request_at(now)
        return True
    return False
