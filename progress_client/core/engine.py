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
- ``cancel(now)`` only records that a caller gives up and wants the remote job cancelled;
  the cancel request itself comes out of ``next_action``, counted there like any other.

**Phases** (``core.phases``). ``phase`` names where a wait stands; these are all its moves:

    starting            -> polling, long-polling, fetching the result, cancelling, done
    polling             -> fetching the result, cancelling, done
    streaming           -> polling, long-polling, fetching the result, cancelling, done
    long-polling        -> polling, fetching the result, cancelling, done
    fetching the result -> cancelling, done
    cancelling          -> done
    done                -> (the end)

A wait starts in ``starting`` (``run``), ``streaming`` (an events URL), ``long-polling``
(``long_poll``) or ``polling``; ``done`` is a ``Stop`` with an outcome, or a cancel answered.

The deadline belongs to the caller and comes with each ``next_action``, so one engine can serve
callers with different deadlines (a shared wait): a timeout ends the wait of the caller that
asked, not the engine. Times are the driver's monotonic clock; the wall clock only turns
HTTP-date hints into delays.

**Sources** (``core.sources``). Where statuses come from is the wait's *active source*, one
object that owns that source's state and rules: the request it wants sent, what a response
head, a chunk, the end or an error means for it, when it gives way and to which source, and
the phase it stands for. ``core.sources.poll`` polls, ``long_poll`` long-polls,
``stream`` reads the event stream, and ``push`` is what a webhook's wake (``receive_wake``)
does. The engine keeps what they share (the lifecycle, the counters, the schedule and policy,
deadlines, events) and asks the active source for the rest; ``PollEngine(source=...)`` hands
it a source of the caller's, otherwise the options choose one (``core.sources.initial``).

**Polling.** The first request goes at once (a resumed wait first honours what was left of its
delay). After a response whose change key differs from the previous one (or the first), the
policy's ``delay(0)``; after the n-th unchanged response in a row (304s, transient errors and
unchanged statuses all count), ``delay(n)``. A hint header (``Retry-After`` and its cousins) is
a floor, capped at ``hint_cap``; a hint that reaches past the deadline ends the wait at once,
saying when the server asked to be polled again. With ``long_poll`` each poll asks the server to
hold it (``Prefer: wait=N``); while answers say the server did (``Preference-Applied``) the next
poll goes at once, and the first that does not turns long-polling off for the wait
(``core.sources.long_poll`` gives way to ``core.sources.poll``).

**Streaming (SSE).** With an events URL the stream is opened first (a request, counted). A 200
``text/event-stream`` is read event by event: an event whose data is a status document is
read like a poll's body, whatever the event's name (``message``, ``progress``, ``status``...;
``event_types`` restricts the names when a server mixes streams); comments, heartbeats and
data that is no status are skipped. Any other answer falls back to polling at once. A stream
that ends or fails is reopened with ``Last-Event-ID`` after the server's ``retry:`` (doubled
for each connection in a row that brought no status: a heartbeat is no sign of life); after
``sse_max_failures`` such connections, an event over the size limit or a fatal failure, the
wait falls back to polling with every counter carried on (``core.sources.stream``; the
decoder and the reconnect rules are ``core.sse``'s).

**A job's life** (``core.lifecycle``). Given a ``Job``, the first request starts it (sent once; a
transport error is retried only when the API says starting is idempotent), the start response
names the status URL (and its ``Retry-After`` delays the first poll; a status document in it
counts as the first status), and a succeeded job's result is fetched where the lifecycle says.
``cancel()`` asks for the one request that cancels the remote job when a caller gives up.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from progress_client.core.actions import (
    Action,
    FellBack,
    Purpose,
    ReadStream,
    Request,
    Sleep,
    Stop,
    Update,
)
from progress_client.core.config import WaitConfig
from progress_client.core.errors import BadResponse, RequestFailed
from progress_client.core.hints import read_hint
from progress_client.core.lifecycle import Seen
from progress_client.core.models import Reading
from progress_client.core.phases import Phase
from progress_client.core.sanitize import sanitize
from progress_client.core.sources import initial
from progress_client.core.sources.push import wake
from progress_client.core.state import EngineState, snapshot_token
from progress_client.core.transitions import Transitions

if TYPE_CHECKING:
    from progress_client.core.lifecycle import CancelPlan, Job, Lifecycle
    from progress_client.core.sources import Source

__all__ = ["PollEngine"]


class PollEngine(Transitions):
    """The state machine of one job's wait. Not thread-safe: one driver at a time.

    This class decides and takes what happened; the state changes themselves are
    ``core.transitions.Transitions``. ``source``: where the statuses come from, a source of
    the caller's (``core.sources``); without it, the options choose (an events URL's stream,
    long-polling or polling)."""

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
        source: Source | None = None,
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
        self._last_answered: float | None = None
        self._last_error: str | None = None
        self._next_at: float | None = None
        self._in_flight: Purpose | None = None
        self._stopped: Stop | None = None
        self._cancel_plan: CancelPlan | None = None
        self._reading: Reading | None = None
        self._events: list[Update | FellBack] | None = None  # none yet: no list kept
        #: When the schedule was set by a hint: the seconds it asked for (past-deadline rule).
        self._hinted: float | None = None
        # Where statuses come from (``core.sources``): a source of the caller's, else the
        # events URL's stream, long-polling or polling, as the options say.
        self._source = source if source is not None else initial(self.config, events_url)
        # A job's life: the start still to send, what it answered, the latest status
        # response, and a succeeded stop waiting for its result.
        self._start_pending = job is not None and url is None
        self._start: Seen | None = None
        self._last: Seen | None = None
        self._last_body: bytes | None = None
        self._success: Stop | None = None
        self._result_url: str | None = None
        #: A poll's answer that was the result itself, streamed by the driver (a 1-tuple).
        self._in_answer: tuple[Any] | None = None
        # The last body read and its reading, reused for an identical body (most polls).
        self._reuse_readings = not self.config.reader.reads_headers
        self._same_body: bytes | None = None
        self._same_code = 0
        self._same_reading: Reading | None = None
        #: The status code and headers (lower-case names) of the answer to the last request:
        #: what a rate budget learns from (``None``: no answer yet, or an error).
        self._answer: tuple[int, Mapping[str, str]] | None = None
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

    @property
    def phase(self) -> Phase:
        """Where the wait stands (``core.phases``: the transition table)."""
        if self._cancel_plan is not None or self._in_flight == "cancel":
            return Phase.CANCELLING
        if self._stopped is not None or self.cancelled_remote is not None:
            return Phase.DONE
        if self._start_pending:
            return Phase.STARTING
        if self._result_url is not None:
            return Phase.FETCHING_RESULT
        return self._source.phase

    def cancel(self, now: float) -> bool:
        """A caller gives up (its deadline, Ctrl-C, a cancellation) and wants the remote job
        cancelled: whether a cancel request will be sent (``next_action`` hands it out next,
        and counts it). ``False`` when the job has ended, nothing says how to cancel it, a
        request is in flight, or a cancel was already sent. Its answer goes to
        ``receive_response`` (or ``receive_error``); ``cancelled_remote`` then says whether it
        was accepted."""
        if self.cancelled_remote is not None or self._in_flight is not None:
            return False
        if self._stopped is not None and self._stopped.outcome in (
            "succeeded", "failed", "needs_action"
        ):
            return False
        last = self._last
        if last is None and self.url is not None:
            # A plain wait keeps no response (memory): its last document serves.
            last = Seen(self.url, 200, {}, self.state.last_document)
        plan = self.lifecycle.cancel(self._start, last, self.url)
        if plan is None:
            return False
        self._cancel_plan = plan
        self.cancelled_remote = False
        return True

    # -- deciding ----------------------------------------------------------------------------

    def next_action(self, now: float, deadline: float | None = None) -> Action:
        """What to do next, for a caller whose deadline is ``deadline``: the one place an
        action comes out and a request is counted. Past the deadline it is that caller's
        timed-out ``Stop``, even while another caller's request is in flight."""
        if self._cancel_plan is not None:
            return self._cancel_request()
        if self._stopped is not None:
            return self._stopped
        if deadline is not None and now >= deadline:
            return self._timed_out(now)
        if self._in_flight is not None:
            raise RuntimeError("a request is in flight: feed its outcome first")
        if self._source.open:
            return ReadStream(until=deadline)
        if self._next_at is None:
            self._next_at = now + (self.state.next_delay if self._resumed else 0.0)
        if deadline is not None and self._hinted is not None and self._next_at > deadline:
            return self._timed_out(
                now, f"; the server asked to be polled again in "
                f"{self._hinted:.3g}s, after the deadline",
            )
        if now < self._next_at:
            return Sleep(self._next_at if deadline is None else min(self._next_at, deadline))
        return self._request(now, deadline)

    def _cancel_request(self) -> Request:
        plan, self._cancel_plan = self._cancel_plan, None
        assert plan is not None
        self.state.tally.requests += 1
        self._in_flight = "cancel"
        headers = dict(getattr(self.config.reader, "request_headers", None) or {})
        if plan.content_type:
            headers["Content-Type"] = plan.content_type
        return Request("cancel", plan.method, plan.url, headers, CANCEL_TIMEOUT, plan.content)

    def _request(self, now: float, deadline: float | None) -> Request:
        self.state.tally.requests += 1
        self._answer = None
        if self._first_sent is None:
            self._first_sent = now
        self._hinted = None
        job = self.job
        if self._start_pending and job is not None:
            return self._outgoing("start", job.method, job.url, dict(job.headers),
                                  self.config.request_timeout, now, deadline, job.content)
        if self._result_url is not None:
            # A result (a video of many MiB) is bounded by the deadline only.
            return self._outgoing("result", "GET", self._result_url, {}, math.inf, now,
                                  deadline)
        return self._source.request(self, now, deadline)  # a poll, a stream...

    @property
    def polls_may_be_result(self) -> bool:
        """Whether a poll's answer may carry the job's result (``run`` on an API whose final
        status answer is the result: Stability's 200 with the video, Azure's Location
        polling): the driver then sends polls where it can stream a body
        (``result_answer``)."""
        job = self.job
        if job is None or not job.fetch_result:
            return False
        at = getattr(self._lifecycle, "result_at_status_url", None)
        return at is not None and at(self._start, self.url or "") is not None

    def result_answer(
        self, status_code: int, headers: Mapping[str, str]
    ) -> Literal["body", "document"] | None:
        """Asked by the driver with a poll's head, before its body is read: whether that
        answer carries the job's result. ``body``: its body IS the result, to be streamed as
        one (to ``output``, or into memory up to the result limit), not read as a status
        under the status body limit and fetched again. ``document``: its JSON document holds
        the result (a base64 video): read it whole under the result limit. None: a status.

        So only when the profile says the result is in the final answer of the URL polled,
        and the head alone (its code and headers, no body) reads as a success under the
        profile's rules. A body that is a JSON status document within the status limit is
        read as a status, as before (its fields may still say otherwise)."""
        if self._in_flight != "poll" or not 200 <= status_code < 300:
            return None
        job = self.job
        at = getattr(self._lifecycle, "result_at_status_url", None)
        if job is None or not job.fetch_result or at is None:
            return None
        where = at(self._start, self.url or "")
        if where is None:
            return None
        lower = {k.lower(): v for k, v in headers.items()}
        content_type = lower.get("content-type")
        is_json = "json" in (content_type or "").lower()
        if where == "document" and not is_json:
            return None
        if where == "body" and is_json:
            length = lower.get("content-length", "")
            if not (length.isdigit() and int(length) > self.config.max_body):
                return None
        reader = self.config.reader
        if not reader.accepts_body(status_code, content_type):
            return None
        try:
            reading = reader.read(None, status_code=status_code, headers=lower)
        except BadResponse:
            return None
        return where if reading.outcome == "succeeded" else None

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
        streamed: bool = False,
    ) -> None:
        """The response to the request in flight: its head and whole body (a stream: its
        head only; a result: what the driver made of its body, as ``result``). ``truncated``:
        the body passed the size limit and was not read further; ``streamed``: a poll whose
        body was the result (``result_answer``: ``body``), handed over as ``result``."""
        purpose = self._land(now)
        self.state.tally.answered += 1
        if purpose != "cancel":
            self._last_answered = now
        lower = {k.lower(): v for k, v in headers.items()}
        self._answer = (status_code, lower)
        if purpose == "stream":
            self._source.opened(self, now, status_code, lower)
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
        elif streamed:
            self._in_answer = (result,)
            try:
                self._polled(now, status_code, lower, b"", hint, False)
            finally:
                self._in_answer = None
        else:
            self._polled(now, status_code, lower, body, hint, truncated)

    def receive_data(self, now: float, chunk: bytes) -> None:
        """A chunk of the open event stream."""
        if self._source.open and self._stopped is None:
            self._source.data(self, now, chunk)

    def receive_end(self, now: float) -> None:
        """The open event stream ended."""
        if self._source.open:
            self._source.ended(self, now)

    def receive_error(self, now: float, description: str, *, fatal: bool = False) -> None:
        """The request in flight got no response, or the open stream failed: a network error,
        a timeout. Transient unless ``fatal`` (an invalid URL, a redirect loop, a
        certificate)."""
        purpose = "stream" if self._in_flight is None and self._source.open else self._land(now)
        if purpose == "stream":
            self._source.failed(self, now, description, fatal)
        elif purpose == "cancel":
            self.cancelled_remote = False
        elif purpose == "start" and not self.lifecycle.start_idempotent:
            self._fail(RequestFailed(
                f"the start request failed ({description}); it was not sent again, since it "
                "may have started a job", url=self.job.url if self.job else None,
            ))
        elif fatal:
            self._last_error = sanitize(description)
            err = RequestFailed(f"request failed: {description}", url=self.url)
            err.last_error = self._last_error
            self._fail(err)
        else:
            self._transient(now, description, None)

    def receive_wake(self, now: float) -> None:
        """A push source (a verified webhook) says the job has news: the next poll goes at
        once, and its answer (one GET) confirms what the push said. Nothing happens while a
        request is in flight or a stream is open (their answer serves), or after the end
        (``core.sources.push``)."""
        wake(self, now)

    @property
    def answer(self) -> tuple[int, Mapping[str, str]] | None:
        """The status code and headers (names in lower case) of the last request's answer;
        ``None`` before it came, or when it failed."""
        return self._answer

    def held(self, seconds: float) -> None:
        """The request in flight waited ``seconds`` for its origin's rate budget before it
        was sent (the report's ``budget_delays`` and ``budget_delay_ms``)."""
        if seconds > 0:
            tally = self.state.tally
            tally.budget_delays += 1
            tally.budget_delay_ms += round(seconds * 1000)

    def withdraw(self, now: float) -> None:
        """The request in flight was never sent: its origin's rate budget had no slot before
        the caller's deadline. It is not counted; the next action is decided afresh."""
        if self._in_flight is None:
            return
        self._in_flight = None
        self.state.tally.requests -= 1
        if self._stopped is None:
            self._request_at(now)

    def interrupt(self, now: float) -> None:
        """The request in flight, or the open stream, was abandoned: its caller left or its
        deadline passed. It stays counted; whoever drives next sends (or reopens) at once."""
        if self._in_flight is None and not self._source.open:
            return
        self._in_flight = None  # no response came: elapsed still ends at the last one
        self._source.close()
        if self._stopped is None:
            self._request_at(now)


#: How long the cancel request may take: it is sent once, while the caller is leaving.
CANCEL_TIMEOUT = 5.0

