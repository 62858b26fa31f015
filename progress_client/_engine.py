"""The job engine: one sans-IO state machine for a job's whole wait. Every transition is here.

Theory of operation
-------------------
``PollEngine`` knows no sockets and no clock (like h11's ``Connection``). Feeding and deciding
are separate calls:

- ``next_action(now, deadline)`` is the one place an action comes out, and the one place a
  request is counted:

  - ``Request(purpose, method, url, headers, timeout)``: send it. A ``start``, ``poll`` or
    ``cancel`` wants the whole body, a ``result`` its body written where the caller wants it,
    a ``stream`` the head, then ``ReadStream`` actions;
  - ``ReadStream(until)``: read the next chunk of the open event stream;
  - ``Sleep(until)``: wait (never past the deadline), then ask again;
  - ``Stop(...)``: the wait is over for this caller: ``succeeded``, ``failed`` (the job said
    so), ``timeout`` (the deadline passed, or a server hint reaches past it) or ``error``.

- ``receive_response``, ``receive_data``, ``receive_end``, ``receive_error`` and ``interrupt``
  only record what happened: a response (for a stream, its head), a chunk of the stream, the
  stream's end, a request that got no response, and a request or stream abandoned because its
  caller left or its deadline passed. A driver whose action was not ``ReadStream`` closes any
  stream it holds.
- ``take_events()`` hands out what the feeds produced: an ``Update`` per status seen, and a
  ``FellBack`` when the stream gave way to polling.

The deadline belongs to the caller and comes with each ``next_action``, so one engine can serve
callers with different deadlines (a shared wait): a timeout ends the wait of the caller that
asked, not the engine. Times are the driver's monotonic clock; the wall clock only turns
HTTP-date hints into delays.

**Polling.** The first request goes at once (a resumed wait first honours what was left of its
delay). After a response whose change key differs from the previous one (or the first), the
policy's ``delay(0)``; after the n-th unchanged response in a row (304s, transient errors and
unchanged statuses all count), ``delay(n)``. A hint header (``Retry-After`` and its cousins) is
a floor, capped at ``hint_cap``; a hint that reaches past the deadline ends the wait at once,
saying when the server asked to be polled again. With ``long_poll`` each poll asks the server to
hold it (``Prefer: wait=N``); while answers say the server did (``Preference-Applied``) the next
poll goes at once, and the first that does not turns long-polling off for the wait.

**Streaming (SSE).** With an events URL the stream is opened first (a request, counted). A 200
``text/event-stream`` is read event by event: each ``message`` event's data is a status
document, read like a poll's body (other events and data that is no status are skipped); any
other answer falls back to polling at once. A stream that ends or fails is reopened with
``Last-Event-ID`` after the server's ``retry:`` (doubled for each connection in a row that
brought no event); after ``sse_max_failures`` such connections, an event over the size limit or
a fatal failure, the wait falls back to polling with every counter carried on (``_sse``).

**A job's life** (``_lifecycle``). Given a ``Job``, the first request starts it (sent once; a
transport error is retried only when the API says starting is idempotent), the start response
names the status URL (and its ``Retry-After`` delays the first poll; a status document in it
counts as the first status), and a succeeded job's result is fetched where the lifecycle says.
``cancel_request()`` builds the one request that cancels the remote job when a caller gives up.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._actions import Action, FellBack, Purpose, ReadStream, Request, Sleep, Stop, Update
from ._config import WaitConfig
from ._errors import (
    BadResponse,
    PollTimeout,
    RequestFailed,
    ResponseTooLarge,
    TimedOut,
)
from ._hints import Validators, read_hint
from ._models import Reading
from ._state import EngineState, Snapshot, snapshot_report, snapshot_token
from ._transitions import NO_STREAM, Transitions

if TYPE_CHECKING:
    from ._lifecycle import Job, Lifecycle, Seen

__all__ = ["PollEngine"]

_EVENT_STREAM_HEADERS: Mapping[str, str] = {"Accept": "text/event-stream"}


class PollEngine(Transitions):
    """The state machine of one job's wait. Not thread-safe: one driver at a time.

    This class decides and takes what happened; the state changes themselves are
    ``_transitions.Transitions``."""

    __slots__ = ()

    def __init__(
        self,
        config: WaitConfig | None = None,
        *,
        url: str | None = None,
        events_url: str | None = None,
        state: EngineState | None = None,
        job: Job | None = None,
        lifecycle: Lifecycle | None = None,
    ) -> None:
        self.config = config if config is not None else WaitConfig()
        self.url = url
        self.job = job
        self._lifecycle = job.lifecycle if job is not None else lifecycle
        #: The remote job was cancelled (``True``), refused the cancel (``False``), or no
        #: cancel was sent (``None``).
        self.cancelled_remote: bool | None = None
        self.events_url = events_url
        self.state = state if state is not None else EngineState()
        self._resumed = state is not None and state.tally.requests > 0
        self._first_sent: float | None = None
        self._last_response: float | None = None
        self._next_at: float | None = None
        self._in_flight: Purpose | None = None
        self._stopped: Stop | None = None
        self._reading: Reading | None = None
        self._events: list[Update | FellBack] | None = None  # none yet: no list kept
        #: When the schedule was set by a hint: the time it named (past-deadline rule).
        self._hinted: float | None = None
        self._long_poll = self.config.long_poll is not None
        # The stream: on while an events URL is to be used.
        self._streaming = events_url is not None
        self._stream = NO_STREAM
        if events_url is not None:
            from ._sse import EventStream  # a plain poll never loads the stream's code

            self._stream = EventStream(
                max_event=self.config.max_body, max_failures=self.config.sse_max_failures
            )
        # A job's life: the start still to send, what it answered, the latest status
        # response, and a succeeded stop waiting for its result.
        self._start_pending = job is not None and url is None
        self._start: Seen | None = None
        self._last: Seen | None = None
        self._last_body: bytes | None = None
        self._success: Stop | None = None
        self._result_url: str | None = None
        # The last body read and its reading, reused for an identical body (most polls).
        self._reuse_readings = not self.config.reader.reads_headers
        self._same_body: bytes | None = None
        self._same_code = 0
        self._same_reading: Reading | None = None
        #: Whether an ``Update`` is wanted for every status (``watch``) or only for changes
        #: and the end (``wait``: an unchanged poll then costs no update, report or token).
        self.every_update = True
        doc = self.state.last_document
        if self._resumed and doc is not None:
            try:
                self._reading = self.config.reader.read(doc)
            except BadResponse:
                self._reading = None

    # -- reading the state -------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self._stopped is not None

    @property
    def next_poll_at(self) -> float | None:
        return self._next_at

    def take_events(self) -> list[Update | FellBack]:
        """What the feeds since the last call produced, once."""
        events, self._events = self._events, None
        return events if events is not None else []

    def resume_token(self, now: float | None = None) -> str | None:
        """A token that continues this wait where it stands (``None`` without a URL)."""
        return snapshot_token(self._snapshot(now))

    def timeout(self, now: float, why: str = "") -> Stop:
        """The timed-out ``Stop`` for a caller whose deadline passed; the engine goes on for
        any other caller."""
        # All of it is built when read (thousands of waits may reach their deadline at
        # once, and a timeout is mostly raised, caught and dropped): what it holds meanwhile
        # is the reading and the state as they stand, as plain values.
        snapshot = self._snapshot(now)
        reading = self._reading
        err = PollTimeout.later(functools.partial(_timed_out, snapshot, reading, why))
        return Stop.timed_out(err, reading, snapshot)

    def cancel_request(self, now: float) -> Request | None:
        """The one request that cancels the remote job, for a caller who gives up (its
        deadline, Ctrl-C, a cancellation); ``None`` when the job has ended, nothing says how
        to cancel it, or a cancel was already sent. Feed its answer to ``receive_response``
        (or ``receive_error``); ``cancelled_remote`` then says whether it was accepted."""
        if self.cancelled_remote is not None or self._in_flight is not None:
            return None
        if self._stopped is not None and self._stopped.outcome in ("succeeded", "failed"):
            return None
        last = self._last
        if last is None and self.url is not None:
            # A plain wait keeps no response (memory): its last document serves.
            from ._lifecycle import Seen

            last = Seen(self.url, 200, {}, self.state.last_document)
        plan = self.lifecycle.cancel(self._start, last, self.url)
        if plan is None:
            return None
        self.state.tally.requests += 1
        self._in_flight = "cancel"
        self.cancelled_remote = False
        headers = {"Content-Type": plan.content_type} if plan.content_type else {}
        return Request("cancel", plan.method, plan.url, headers, CANCEL_TIMEOUT, plan.content)

    # -- deciding ----------------------------------------------------------------------------

    def next_action(self, now: float, deadline: float | None = None) -> Action:
        if self._stopped is not None:
            return self._stopped
        if self._in_flight is not None:
            raise RuntimeError("a request is in flight: feed its outcome first")
        if deadline is not None and now >= deadline:
            return self.timeout(now)
        if self._stream.open:
            return ReadStream(until=deadline)
        if self._next_at is None:
            self._next_at = now + (self.state.next_delay if self._resumed else 0.0)
        if deadline is not None and self._hinted is not None and self._next_at > deadline:
            return self.timeout(
                now, f"; the server asked to be polled again in "
                f"{max(0.0, self._next_at - now):.3g}s, after the deadline",
            )
        if now < self._next_at:
            return Sleep(self._next_at if deadline is None else min(self._next_at, deadline))
        return self._request(now, deadline)

    def _request(self, now: float, deadline: float | None) -> Request:
        self.state.tally.requests += 1
        if self._first_sent is None:
            self._first_sent = now
        self._hinted = None
        cfg = self.config
        budget = cfg.request_timeout
        method, content = "GET", None
        headers: dict[str, str] = {}
        if self._start_pending and self.job is not None:
            purpose: Purpose = "start"
            url, method, content = self.job.url, self.job.method, self.job.content
            headers = dict(self.job.headers)
        elif self._result_url is not None:
            # A result (a video of many MiB) is bounded by the deadline only.
            purpose, url, budget = "result", self._result_url, math.inf
        elif self._streaming and self.events_url is not None:
            purpose, url = "stream", self.events_url
            headers = dict(_EVENT_STREAM_HEADERS)
            if self.state.last_event_id:
                headers["Last-Event-ID"] = self.state.last_event_id
        else:
            purpose, url = "poll", self.url or ""
            st = self.state
            if cfg.conditional and self._reading is not None and (
                st.etag is not None or st.last_modified is not None
            ):
                headers = Validators(st.etag, st.last_modified).request_headers()
            if self._long_poll and cfg.long_poll is not None:
                headers["Prefer"] = f"wait={cfg.long_poll:g}"
                budget += cfg.long_poll
        self._in_flight = purpose
        timeout: float | None = budget if deadline is None else max(
            0.0, min(budget, deadline - now)
        )
        if timeout == math.inf:
            timeout = None
        return Request(purpose, method, url, headers, timeout, content)

    # -- feeding -----------------------------------------------------------------------------

    def receive_response(
        self,
        now: float,
        status_code: int,
        headers: Mapping[str, str],
        body: bytes = b"",
        *,
        wall: float | None = None,
        truncated: bool = False,
        result: Any = None,
    ) -> None:
        """The response to the request in flight: its head and whole body (a stream: its
        head only; a result: what the driver made of its body, as ``result``). ``truncated``:
        the body passed the size limit and was not read further."""
        purpose = self._land(now)
        lower = {k.lower(): v for k, v in headers.items()}
        if purpose == "stream":
            self._stream_opened(now, status_code, lower)
            return
        if purpose == "cancel":
            self.cancelled_remote = 200 <= status_code < 300
            return
        self.state.tally.bytes_received += len(body)
        hint = read_hint(lower, self.config.hint_headers, wall if wall is not None else math.inf)
        if hint is not None:
            hint = min(hint, self.config.hint_cap)
        if purpose == "start":
            self._started(now, status_code, lower, body, hint)
        elif purpose == "result":
            self._result_fetched(now, status_code, lower, body, hint, result)
        else:
            self._polled(now, status_code, lower, body, hint, truncated)

    def receive_data(self, now: float, chunk: bytes) -> None:
        """A chunk of the open event stream."""
        if not self._stream.open or self._stopped is not None:
            return
        try:
            events = self._stream.feed(chunk)
        except ResponseTooLarge as exc:
            self._fall_back(now, exc.message)
            return
        for event in events:
            self.state.tally.bytes_received += event.size
            self.state.last_event_id = event.last_event_id or None
            if event.type != "message":
                continue
            try:
                reading = self.config.reader.read(json.loads(event.data))
            except (ValueError, RecursionError, BadResponse):
                continue  # a heartbeat, or data that is no status document
            self._last_response = now
            self.state.consecutive_errors = 0
            self._observe(now, reading, None, "sse", push=True)
            if self._stopped is not None:
                self._stream.close()
                return

    def receive_end(self, now: float) -> None:
        """The open event stream ended."""
        if self._stream.open:
            self._dropped(now)

    def receive_error(self, now: float, description: str, *, fatal: bool = False) -> None:
        """The request in flight got no response, or the open stream failed: a network error,
        a timeout. Transient unless ``fatal`` (an invalid URL, a redirect loop, a
        certificate)."""
        purpose = "stream" if self._in_flight is None and self._stream.open else self._land(now)
        if purpose == "stream":
            if fatal:
                self._fall_back(now, description)
            else:
                self._stream.close()
                self._dropped(now)
        elif purpose == "cancel":
            self.cancelled_remote = False
        elif purpose == "start" and not self.lifecycle.start_idempotent:
            self._fail(RequestFailed(
                f"the start request failed ({description}); it was not sent again, since it "
                "may have started a job", url=self.job.url if self.job else None,
            ))
        elif fatal:
            self._fail(RequestFailed(f"request failed: {description}", url=self.url))
        else:
            self._transient(now, description, None)

    def interrupt(self, now: float) -> None:
        """The request in flight, or the open stream, was abandoned: its caller left or its
        deadline passed. It stays counted; whoever drives next sends (or reopens) at once."""
        if self._in_flight is None and not self._stream.open:
            return
        self._in_flight = None  # no response came: elapsed still ends at the last one
        self._stream.close()
        if self._stopped is None:
            self._next_at = now
            self._hinted = None


def _timed_out(snapshot: Snapshot, reading: Reading | None, why: str) -> TimedOut:
    """What a timed-out wait's ``PollTimeout`` holds (``PollTimeout.later``)."""
    report = snapshot_report(snapshot)
    last = reading.status if reading is not None else None
    what = f"last status {last.status!r}" if last is not None else "no status seen"
    message = (f"the job did not finish before the deadline ({what}, {report.requests} "
               f"requests){why}")
    return message, snapshot[0], snapshot_token(snapshot), last, report


#: How long the cancel request may take: it is sent once, while the caller is leaving.
CANCEL_TIMEOUT = 5.0

