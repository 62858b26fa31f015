"""The engine's transitions: how a job's wait changes state on each thing that happens. The
other half of ``PollEngine`` (``core.engine``), whose theory of operation covers both; no I/O and
no clock here either.

``PollEngine`` decides (``next_action``) and takes what happened (``receive_*``); every change
that follows is one of these methods: a status observed and the schedule set (``_observe``,
``_schedule``), a poll, start or result answered (``_polled``, ``_started``,
``_result_fetched``), a transient error, a failure, the end (``_transient``, ``_fail``,
``_finish``).

What belongs to one source of statuses (polling, long-polling, the event stream, a push) is
that source's, in ``core.sources``; these are the engine's side of that seam, what a source
may call: build its request (``_outgoing``), hand over a pushed status (``_pushed``), give way
to another source (``_give_way``), ask for its next request at a time (``_request_at``).
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from progress_client.core.actions import FellBack, Purpose, Request, Stop, Update
from progress_client.core.config import WaitConfig
from progress_client.core.errors import (
    BadResponse,
    JobFailed,
    NeedsAction,
    PollError,
    PollTimeout,
    RequestFailed,
    TimedOut,
    TooManyErrors,
)
from progress_client.core.hints import Validators
from progress_client.core.lifecycle import DefaultLifecycle, Seen
from progress_client.core.models import Reading
from progress_client.core.reading import TRANSIENT_STATUS_CODES, fatal_status, read_response
from progress_client.core.report import Mode, PollReport
from progress_client.core.sanitize import sanitize
from progress_client.core.state import EngineState, Snapshot, snapshot_report, snapshot_token

if TYPE_CHECKING:
    from pydantic import BaseModel

    from progress_client.core.status import JobStatus

if TYPE_CHECKING:
    from progress_client.core.lifecycle import Job, Lifecycle
    from progress_client.core.sources import Source

__all__ = ["Transitions"]


class Transitions:
    """The state of a wait and every change of it (``PollEngine`` sets it up)."""

    # Slots: an engine per running wait, thousands at once, each no bigger than its fields.
    __slots__ = (
        "_answer", "_cancel_plan", "_events", "_first_sent", "_hinted", "_in_answer",
        "_in_flight", "_last", "_last_answered", "_last_body", "_last_error", "_last_response",
        "_lifecycle", "_next_at", "_reading", "_result_url",
        "_resumed", "_reuse_readings", "_same_body", "_same_code", "_same_reading", "_source",
        "_start", "_start_pending", "_stopped", "_success", "cancelled_remote",
        "config", "events_url", "every_update", "job", "state", "url",
    )

    config: WaitConfig
    url: str | None
    job: Job | None
    _lifecycle: Lifecycle | None
    state: EngineState
    every_update: bool
    _first_sent: float | None
    _last_response: float | None
    #: When the last HTTP response (or stream event) came; the last transport or transient
    #: failure's description, for the timeout's message (``None``: the last request was fine).
    _last_answered: float | None
    _last_error: str | None
    _next_at: float | None
    _in_flight: Purpose | None
    _stopped: Stop | None
    _reading: Reading | None
    _events: list[Update | FellBack] | None
    _hinted: float | None
    #: The active source of statuses (``core.sources``): polling, long-polling, a stream...
    _source: Source
    _start_pending: bool
    _start: Seen | None
    _last: Seen | None
    _last_body: bytes | None
    _success: Stop | None
    _result_url: str | None
    _in_answer: tuple[Any] | None
    _reuse_readings: bool
    _same_body: bytes | None
    _same_code: int
    _same_reading: Reading | None
    _answer: tuple[int, Mapping[str, str]] | None

    @property
    def lifecycle(self) -> Lifecycle:
        """How the job is started, ended and cancelled (the common patterns unless a job or a
        profile says otherwise; loaded when first asked)."""
        if self._lifecycle is None:
            self._lifecycle = DefaultLifecycle()
        return self._lifecycle

    @property
    def last_status(self) -> JobStatus | None:
        return self._reading.status if self._reading is not None else None

    def _emit(self, event: Update | FellBack) -> None:
        if self._events is None:
            self._events = [event]
        else:
            self._events.append(event)

    def _elapsed(self) -> float:
        elapsed = self.state.elapsed_before
        if self._first_sent is not None and self._last_response is not None:
            elapsed += max(0.0, self._last_response - self._first_sent)
        return elapsed

    def _answered_elapsed(self) -> float:
        elapsed = self.state.answered_elapsed_before
        if self._first_sent is not None and self._last_answered is not None:
            elapsed += max(0.0, self._last_answered - self._first_sent)
        return elapsed

    def report(self) -> PollReport:
        return PollReport.of(
            self.state.tally, elapsed=self._elapsed(), baseline_interval=self.config.baseline,
            mode=self.state.mode, answered_elapsed=self._answered_elapsed(),
        )

    def _polled(
        self, now: float, code: int, headers: Mapping[str, str], body: bytes,
        hint: float | None, truncated: bool,
    ) -> None:
        # The very body read last time (most polls) is the same reading: not read again.
        reading = self._same_reading
        if reading is None or self._same_code != code or self._same_body != body or truncated:
            verdict = read_response(
                self.config.reader, code, headers, body, truncated=truncated,
                have_status=self._reading is not None, url=self.url,
            )
            if verdict.kind == "transient":
                self._transient(now, verdict.description, hint)
                return
            if verdict.error is not None:
                self._fail(verdict.error)
                return
            reading = verdict.reading  # None: not modified
            if reading is not None and self._reuse_readings:
                self._same_code, self._same_body, self._same_reading = code, body, reading
        self.state.consecutive_errors = 0
        self._last_error = None
        self._remember_validators(headers)
        mode = self._source.answered(self, headers)  # long-polling may turn into polling
        if reading is None:  # 304: the last status still holds
            assert self._reading is not None
            self.state.tally.not_modified += 1
            self._observe(now, self._reading, hint, mode, not_modified=True)
            return
        if self.job is not None:
            self._last = Seen(self.url or "", code, headers, reading.raw or None)
            self._last_body = None if truncated else body
        self._observe(now, reading, hint, mode)
        if reading.outcome is None and self._stopped is None:
            self._follow(now, code, headers, reading)

    def _follow(
        self, now: float, code: int, headers: Mapping[str, str], reading: Reading
    ) -> None:
        """A status that names where the job goes on (a Jenkins queue item's build): the
        next poll reads that URL, at once (a profile's ``follow``)."""
        follow = getattr(self._lifecycle, "follow", None)  # a profile's; none by default
        if follow is None or not reading.raw:
            return
        found = follow(Seen(self.url or "", code, headers, reading.raw))
        if found is None or found == self.url:
            return
        self.url = found
        self.state.etag = self.state.last_modified = None  # the old URL's validators
        self._same_reading = None
        self._next_at = now
        self.state.next_delay = 0.0

    def _started(
        self, now: float, code: int, headers: Mapping[str, str], body: bytes,
        hint: float | None,
    ) -> None:
        assert self.job is not None
        if not 200 <= code < 300:
            if self.lifecycle.start_idempotent and self._is_transient(code):
                self._transient(now, f"HTTP {code}", hint)
                return
            err = fatal_status(code, body, headers, have_status=False, url=self.job.url)
            self._fail(RequestFailed(f"the start request failed: {err.message}",
                                     status_code=code, url=self.job.url))
            return
        doc = _json_or_none(body)
        self._start = Seen(self.job.url, code, headers, doc)
        url = self.lifecycle.status_url(self._start, self.job.status_template)
        if url is None:
            self._fail(BadResponse(
                "the start response does not say where to poll (no Operation-Location, "
                "Azure-AsyncOperation or Location header, no status URL or id in the body); "
                "give the status URL or a template for it",
                status_code=code, url=self.job.url,
            ))
            return
        self.url, self._start_pending = url, False
        self._next_at = now + (hint or 0.0)
        if hint:
            # The first poll waits for it; past the deadline, the wait ends at once.
            self._hinted = hint
            self.state.tally.hint_waits += 1
        if not self.lifecycle.start_has_status:
            return  # the first poll brings the first status
        try:
            reading = self.config.reader.read(doc, status_code=code, headers=headers)
        except BadResponse:
            return  # not a status document: the first poll brings the first status
        self._last, self._last_body = self._start, body
        self._observe(now, reading, hint, "poll")

    def _result_fetched(
        self, now: float, code: int, headers: Mapping[str, str], body: bytes,
        hint: float | None, result: Any,
    ) -> None:
        assert self._success is not None
        if self._is_transient(code):
            self._transient(now, f"HTTP {code}", hint)
            return
        if not 200 <= code < 300:
            err = fatal_status(code, body, headers, have_status=True, url=self._result_url)
            self._fail(RequestFailed(
                f"the job succeeded, but its result could not be fetched: {err.message}",
                status_code=code, url=self._result_url,
            ))
            return
        self._result_url = None
        # The report counts the result's request too (the success was seen before it).
        self._finish(self._success.with_result(self._shaped(result), self.report()))

    def _timed_out(self, now: float, why: str = "") -> Stop:
        """The timed-out ``Stop`` for a caller whose deadline passed; the engine goes on for
        any other caller. All of it is built when read (thousands of waits may reach their
        deadline at once, and a timeout is mostly raised, caught and dropped): what it holds
        meanwhile is the reading and the state as they stand, as plain values."""
        snapshot = self._snapshot(now)
        reading = self._reading
        err = PollTimeout.later(functools.partial(
            _timeout_parts, snapshot, reading, why, self._last_error))
        err.last_error = self._last_error
        return Stop.timed_out(err, reading, snapshot)

    def _land(self, now: float) -> Purpose:
        purpose = self._in_flight
        if purpose is None:
            raise RuntimeError("no request in flight")
        self._in_flight = None
        if purpose != "cancel":
            self._last_response = now
        return purpose

    @staticmethod
    def _is_transient(code: int) -> bool:
        return code in TRANSIENT_STATUS_CODES

    # -- the engine's side of the seam with its sources (``core.sources``) --------------------

    def _outgoing(
        self, purpose: Purpose, method: str, url: str, headers: dict[str, str], budget: float,
        now: float, deadline: float | None, content: bytes | None = None,
    ) -> Request:
        """The request a source (or the lifecycle) wants sent, with what every request
        shares: a profile's fixed headers (not on a stream), the timeout within the caller's
        deadline. Marks it in flight; ``next_action`` has counted it already."""
        fixed = getattr(self.config.reader, "request_headers", None)
        if fixed and purpose != "stream":  # a profile's API version or beta flag
            headers = {**fixed, **headers}
        if purpose == "poll" and content is not None:
            headers["Content-Type"] = "application/json"
        self._in_flight = purpose
        timeout: float | None = budget if deadline is None else max(
            0.0, min(budget, deadline - now)
        )
        if timeout == math.inf:
            timeout = None
        return Request(purpose, method, url, headers, timeout, content)

    def _pushed(self, now: float, document: Any, mode: Mode) -> bool:
        """A status document a push source received (an event's data): read and observed as
        a poll's answer is, but it sets no schedule (the connection brings the next). Whether
        it was a status document: if not (a heartbeat's data), nothing changed."""
        try:
            reading = self.config.reader.read(document)
        except (ValueError, RecursionError, BadResponse):
            return False
        self._last_response = self._last_answered = now
        self.state.consecutive_errors = 0
        self._last_error = None
        self._observe(now, reading, None, mode, push=True)
        return True

    def _give_way(self, now: float, to: Source, why: str) -> None:
        """The active source gives way to ``to`` (a stream to polling): a ``FellBack`` event
        says why, and the next request goes at once, with every counter carried on."""
        self._source.close()
        self._source = to
        self.state.mode = "poll"
        self._emit(FellBack(sanitize(why)))
        if self._stopped is None:
            self._next_at = now

    def _request_at(self, when: float) -> None:
        """The next request goes at ``when`` (a reconnect, a wake, a request abandoned or
        never sent), not at a time a server's hint named."""
        self._next_at = when
        self._hinted = None

    def _schedule(self, now: float, hint: float | None, *, held: bool = False) -> float:
        delay = 0.0 if held else self.config.policy.delay(self.state.unchanged)
        self._hinted = None
        if hint is not None and hint > delay:
            delay = hint
            self._hinted = delay
            self.state.tally.hint_waits += 1
        self._next_at = now + delay
        self.state.next_delay = delay
        return delay

    def _observe(
        self,
        now: float,
        reading: Reading,
        hint: float | None,
        mode: Mode,
        *,
        not_modified: bool = False,
        push: bool = False,
    ) -> None:
        s = self.state
        first = s.last_key is None
        changed = first or reading.key != s.last_key
        if changed and not first:
            self.state.tally.changes += 1
        s.unchanged = 0 if changed else s.unchanged + 1
        s.last_key = reading.key
        s.mode = mode
        if not not_modified:
            s.last_document = reading.raw
        self._reading = reading
        terminal = reading.outcome is not None
        delay: float | None = None
        if not terminal and not push:
            # A long poll the server held until now is asked again at once (a hint still a
            # floor); otherwise the policy's schedule.
            delay = self._schedule(now, hint, held=mode == "long-poll")
        if not (changed or terminal or self.every_update):
            return
        if not terminal:  # the report and token are built if the caller reads them
            self._emit(Update(
                None, None, changed, not_modified, False, delay, snapshot=self._snapshot(now),
                reading=reading,
            ))
            return
        # One report serves the update, the stop and its error.
        report = self.report()
        self._emit(Update(
            reading.status, reading.document, changed, not_modified, True, None, report,
        ))
        if reading.outcome == "succeeded":
            self._succeeded(now, Stop("succeeded", reading.status, reading.document, None,
                                      report))
        elif reading.outcome == "failed":
            detail = f": {reading.status.error}" if reading.status.error else ""
            err = JobFailed(
                f"the job ended with status {reading.status.status!r}{detail}",
                url=self.url, status=reading.status, report=report,
            )
            self._finish(Stop("failed", reading.status, reading.document, err, report))
        elif reading.outcome == "needs_action":
            detail = f": {reading.status.error}" if reading.status.error else ""
            wants = NeedsAction(
                f"the job waits for a person (status {reading.status.status!r}){detail}",
                url=self.url, status=reading.status, report=report,
            )
            self._finish(Stop("needs_action", reading.status, reading.document, wants, report))

    def _succeeded(self, now: float, stop: Stop) -> None:
        """A succeeded job: done, or its result is fetched first (a ``Job`` that wants it)."""
        job, last = self.job, self._last
        if job is None or not job.fetch_result or last is None:
            self._finish(stop)
            return
        if self._in_answer is not None:  # the final answer was the result, streamed
            self._finish(stop.with_result(self._shaped(self._in_answer[0])))
            return
        plan = self.lifecycle.result(self._start, last, self.url or "")
        if plan.kind == "document":
            self._finish(stop.with_result(plan.value))
        elif plan.kind == "body" and self._last_body is not None and not (
            self._last_body == b"" and last.status_code == 202
        ):
            self._finish(stop.with_result(self._last_body))
        elif plan.kind in ("url", "body"):
            self._success, self._result_url = stop, plan.url or self.url
            self._next_at = now
        else:
            self._finish(stop)

    def _shaped(self, result: Any) -> Any:
        """A result held in memory in the shape the profile gives it: JSON lines as a list of
        the parsed lines (a body that is not JSON lines is kept as it came). A result written
        to ``output`` (a path) is left as it is: its lines went to the file as they came."""
        if getattr(self._lifecycle, "result_format", None) != "jsonl":
            return result
        if isinstance(result, dict):  # one line, parsed already (a JSON content type)
            return [result]
        if not isinstance(result, (bytes, bytearray)):
            return result
        try:
            return [json.loads(line) for line in bytes(result).splitlines() if line.strip()]
        except (ValueError, RecursionError):
            return result

    def _transient(self, now: float, description: str, hint: float | None) -> None:
        s = self.state
        self.state.tally.errors += 1
        s.consecutive_errors += 1
        s.unchanged += 1
        self._last_error = sanitize(description)
        if s.consecutive_errors >= self.config.max_consecutive_errors:
            n = s.consecutive_errors
            err = TooManyErrors(
                f"gave up after {n} failed {'request' if n == 1 else 'requests'} in a row "
                f"(last error: {self._last_error})",
                url=self.url,
            )
            err.last_error = self._last_error
            self._fail(err)
            return
        self._schedule(now, hint)

    def _remember_validators(self, headers: Mapping[str, str]) -> None:
        if self.config.conditional and ("etag" in headers or "last-modified" in headers):
            v = Validators.from_headers(headers)
            if v:
                self.state.etag, self.state.last_modified = v.etag, v.last_modified

    def _document(self) -> BaseModel | None:
        return self._reading.document if self._reading is not None else None

    def _fail(self, error: PollError) -> None:
        error.report = self.report()
        error.status = self.last_status
        self._finish(Stop("error", self.last_status, self._document(), error, error.report))

    def _finish(self, stop: Stop) -> None:
        self._stopped = stop
        self._next_at = None
        self._result_url = None
        self._source.close()

    def _snapshot(self, now: float | None) -> Snapshot:
        """The state as it stands now (for a resume token), as plain values."""
        next_delay = None
        if now is not None and self._next_at is not None:
            next_delay = max(0.0, self._next_at - now)
        return self.state.snapshot(self.url, self.config.baseline, self._elapsed(), next_delay,
                                   self._answered_elapsed())


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except (ValueError, RecursionError):
        return None


def _timeout_parts(snapshot: Snapshot, reading: Reading | None, why: str,
                   last_error: str | None) -> TimedOut:
    """What a timed-out wait's ``PollTimeout`` holds (``PollTimeout.later``)."""
    report = snapshot_report(snapshot)
    last = reading.status if reading is not None else None
    what = f"last status {last.status!r}" if last is not None else "no status seen"
    n = report.requests
    sent = f"{n} {'request' if n == 1 else 'requests'}"
    if report.unanswered:
        sent += ", none answered" if report.answered == 0 else \
            f", {report.unanswered} not answered"
    failing = f"; last error: {last_error}" if last_error else ""
    message = f"the job did not finish before the deadline ({what}, {sent}){why}{failing}"
    return message, snapshot[0], snapshot_token(snapshot), last, report
