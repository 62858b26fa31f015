"""Where a wait's statuses come from: the seam between the engine and its sources.

A *source* is one way of learning a job's status: polling the status URL (``poll``), polling
with each poll held by the server (``long_poll``), an event stream (``stream``: SSE), or a
push that only says "there is news" (``push``: a verified webhook wakes the wait, one GET
confirms). ``PollEngine`` keeps what every source shares (the lifecycle: start, result,
cancel; the counters; the schedule and policy; deadlines; events) and hands the rest to its
*active source*, one object that owns that source's state and rules:

- ``phase``: the ``Phase`` a wait stands in while the source is active (``core.phases``);
- ``open``: whether a connection of the source is open (the engine's next action then reads
  it: ``ReadStream``);
- ``request(engine, now, deadline)``: the request it wants sent (method, URL, headers),
  built with ``engine._outgoing`` (which applies what every request shares: a profile's
  fixed headers, the timeout within the caller's deadline). ``next_action`` alone calls it,
  after counting the request;
- ``answered(engine, headers)``: a poll's whole answer came (its status is the engine's to
  read): how the status came (the report's ``Mode``), and a chance to give way;
- ``opened(engine, now, code, headers)``, ``data(engine, now, chunk)``, ``ended(engine,
  now)``, ``failed(engine, now, description, fatal)``: the head of a stream request, a chunk
  of the open connection, its end, and its failure (for a source whose request's purpose
  is ``stream``);
- ``close()``: forget any open connection (the wait ended, or its caller left).

A source that pushes statuses hands each one to ``engine._pushed(now, document, mode)``:
read and observed like a poll's answer, but it sets no schedule, since the connection brings
the next (``mode``: how the report counts it; ``sse`` for a status pushed over a stream). A
source gives way to another with ``engine._give_way(now, to, why)`` (a ``FellBack`` event, the
next request at once), or quietly by setting ``engine._source`` (long-polling turning into
polling); it asks for its next request at a time of its choosing with
``engine._request_at(when)`` (a stream's reconnect).

A source is registered by handing it to the engine: ``PollEngine(config, url=...,
source=...)``; without one, ``initial`` chooses as the options say (an events URL: the
stream, giving way to long-polling or polling; ``long_poll``: long-polling; else polling).
The driver opens what the source's requests ask for: ``purpose="poll"`` a request read
whole, ``purpose="stream"`` a response read chunk by chunk. docs/development.md, "Adding a
push source", walks through one.

Sources are plain classes with ``__slots__`` (no abstract base: a method call on the hot
path of plain polling, no more); ``Source`` below is their shape for the type checker only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol

from progress_client.core.sources.poll import POLL

if TYPE_CHECKING:
    from progress_client.core.actions import Request
    from progress_client.core.config import WaitConfig
    from progress_client.core.phases import Phase
    from progress_client.core.report import Mode
    from progress_client.core.transitions import Transitions

__all__ = ["POLL", "Source", "initial", "polling"]


class Source(Protocol):
    """The shape of a source (see the module's docstring); the engine is its ``engine``."""

    @property
    def phase(self) -> Phase: ...

    @property
    def open(self) -> bool: ...

    def request(self, engine: Transitions, now: float, deadline: float | None) -> Request: ...

    def answered(self, engine: Transitions, headers: Mapping[str, str]) -> Mode: ...

    def opened(
        self, engine: Transitions, now: float, code: int, headers: Mapping[str, str]
    ) -> None: ...

    def data(self, engine: Transitions, now: float, chunk: bytes) -> None: ...

    def ended(self, engine: Transitions, now: float) -> None: ...

    def failed(
        self, engine: Transitions, now: float, description: str, fatal: bool
    ) -> None: ...

    def close(self) -> None: ...


def polling(config: WaitConfig) -> Source:
    """The polling source the options ask for: long-polling with ``long_poll``, else plain
    polling (one shared object: it keeps no state)."""
    if config.long_poll is None:
        return POLL
    from progress_client.core.sources.long_poll import LONG_POLL  # start-up: only if asked

    return LONG_POLL


def initial(config: WaitConfig, events_url: str | None) -> Source:
    """The source a wait starts with: the event stream at ``events_url`` (it gives way to
    the polling source), else the polling source. A plain poll loads no other source's
    code."""
    if events_url is None:
        return polling(config)
    from progress_client.core.sources.stream import StreamSource  # start-up: only with SSE

    return StreamSource(config, events_url, polling(config))
