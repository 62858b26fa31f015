"""The polling state machine and its savings report. Every transition lives in this module.

Theory of operation
-------------------
``PollEngine`` knows nothing about sockets or clocks (like h11's connection object). A driver
asks it ``next_action(now)`` and carries out the answer:

- ``Send(headers, timeout)``: send one GET now, with these extra headers (conditional
  validators) and no longer than ``timeout`` seconds (what is left before the deadline), then
  feed the outcome back with ``receive_response(...)`` or ``receive_error(...)``;
- ``Sleep(until)``: wait until that time (never past the caller's deadline), then ask again;
- ``Stop(outcome, ...)``: the wait is over: ``succeeded``, ``failed`` (the job said so),
  ``timeout`` (the deadline passed) or ``error`` (a fatal response, too many errors).

Each ``receive_*`` call returns the next action too, so a driver is a small loop. Whenever a
response carried a status (a 304 re-uses the last one), ``pop_update()`` hands out an
``Update`` for ``watch()``. Times are floats on the driver's monotonic clock; the wall clock is
passed only to read HTTP-date hints. The engine owns the ``PollReport``.

The schedule: the first request goes at once. After a response whose change key differs from the
previous one (or the first), the policy is asked for ``delay(0)``; after the n-th unchanged
response in a row (a 304, a transient error and an unchanged status all count), ``delay(n)``. A
``Retry-After`` hint on any response is a floor: ``max(policy delay, min(hint, hint_cap))``.

Server push (SSE) uses the same state: ``open_stream(now)`` counts a stream connection as a
request, ``receive_event(...)`` feeds each event's status document (no poll is scheduled: the
stream brings the next one), and ``fall_back(now)`` hands the wait to polling at once with every
counter carried on. ``resume_token()`` captures the state so another process can go on.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from pydantic import BaseModel

from ._errors import (
    BadResponse,
    InvalidResumeToken,
    JobFailed,
    PollError,
    PollTimeout,
    RequestFailed,
    ResponseTooLarge,
    TooManyErrors,
)
from ._hints import Validators, parse_retry_after
from ._models import JobStatus, Reading, StatusSpec
from ._policy import AdaptivePolicy, Policy
from ._resume import decode_token, encode_token
from ._sanitize import sanitize

__all__ = [
    "TRANSIENT_STATUS_CODES",
    "Action",
    "EngineState",
    "PollEngine",
    "PollReport",
    "Send",
    "Sleep",
    "Stop",
    "Update",
]

#: HTTP statuses retried on the policy's schedule (plus hints) rather than raised at once.
TRANSIENT_STATUS_CODES: frozenset[int] = frozenset({408, 425, 429, 500, 502, 503, 504})

Outcome = Literal["succeeded", "failed", "timeout", "error"]
Mode = Literal["poll", "sse"]


@dataclass(frozen=True)
class PollReport:
    """What a wait cost, and what it saved against a fixed poller at ``baseline_interval``."""

    requests: int = 0
    changes: int = 0
    elapsed: float = 0.0
    baseline_interval: float = 1.0
    errors: int = 0
    hint_waits: int = 0
    not_modified: int = 0
    bytes_received: int = 0
    mode: Mode = "poll"

    @property
    def baseline_requests(self) -> int:
        """Requests a fixed poller at ``baseline_interval`` would have sent over ``elapsed``."""
        if self.requests == 0:
            return 0
        if self.baseline_interval <= 0:
            return self.requests
        return math.floor(self.elapsed / self.baseline_interval + 1e-9) + 1

    @property
    def saved_requests(self) -> int:
        return max(0, self.baseline_requests - self.requests)

    @property
    def saved_ratio(self) -> float:
        base = self.baseline_requests
        return self.saved_requests / base if base else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "baseline_requests": self.baseline_requests,
            "saved_requests": self.saved_requests,
            "saved_percent": round(100.0 * self.saved_ratio, 1),
            "elapsed_s": round(self.elapsed, 3),
            "changes": self.changes,
            "errors": self.errors,
            "hint_waits": self.hint_waits,
            "not_modified": self.not_modified,
            "bytes_received": self.bytes_received,
            "mode": self.mode,
            "baseline_interval_s": self.baseline_interval,
        }


@dataclass(frozen=True)
class Send:
    """Send one request now with ``headers`` added, taking at most ``timeout`` seconds."""

    headers: Mapping[str, str]
    timeout: float | None


@dataclass(frozen=True)
class Sleep:
    """Wait until ``until`` (the driver's clock), then call ``next_action`` again."""

    until: float


@dataclass(frozen=True)
class Stop:
    """The wait is over. ``error`` is the exception to raise (``None`` on success)."""

    outcome: Outcome
    status: JobStatus | None
    document: BaseModel | None
    error: PollError | None
    report: PollReport


Action = Send | Sleep | Stop


@dataclass(frozen=True)
class Update:
    """One status seen while waiting, for ``watch()``.

    ``resume_token`` continues the wait from this update (``None`` on a terminal one). It is
    built on first access, not on every response: most callers never read it, and building
    one (sanitizing the document, canonical JSON, two SHA-256) costs more than the poll."""

    status: JobStatus
    document: BaseModel
    changed: bool
    not_modified: bool
    terminal: bool
    next_delay: float | None
    report: PollReport
    _token: Callable[[], str | None] | None = field(default=None, repr=False, compare=False)

    @functools.cached_property
    def resume_token(self) -> str | None:
        return self._token() if self._token is not None else None


@dataclass
class EngineState:
    """The part of an engine that survives a restart (see resume tokens). Plain data."""

    requests: int = 0
    changes: int = 0
    errors: int = 0
    hint_waits: int = 0
    not_modified: int = 0
    bytes_received: int = 0
    elapsed_before: float = 0.0
    unchanged: int = 0
    consecutive_errors: int = 0
    last_key: str | None = None
    last_document: dict[str, Any] | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_event_id: str | None = None
    mode: Mode = "poll"
    next_delay: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (for resume tokens)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EngineState:
        """Rebuild a state from ``to_dict()`` output, checking every field's type and range;
        raises ``InvalidResumeToken`` on anything else."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidResumeToken(f"the resume token has unknown fields: {unknown[:5]}")
        kw: dict[str, Any] = {}
        for name in _STATE_INTS:
            v = data.get(name, 0)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise InvalidResumeToken(f"the resume token's {name} is not a count")
            kw[name] = v
        for name in ("elapsed_before", "next_delay"):
            v = data.get(name, 0.0)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (
                math.isfinite(v) and v >= 0
            ):
                raise InvalidResumeToken(f"the resume token's {name} is not a duration")
            kw[name] = float(v)
        for name in ("last_key", "etag", "last_modified", "last_event_id"):
            v = data.get(name)
            if v is not None and not isinstance(v, str):
                raise InvalidResumeToken(f"the resume token's {name} is not a string")
            kw[name] = v
        doc = data.get("last_document")
        if doc is not None and not isinstance(doc, dict):
            raise InvalidResumeToken("the resume token's last_document is not an object")
        kw["last_document"] = doc
        mode = data.get("mode", "poll")
        if mode not in ("poll", "sse"):
            raise InvalidResumeToken("the resume token's mode is not poll or sse")
        kw["mode"] = mode
        extra = data.get("extra", {})
        if not isinstance(extra, dict):
            raise InvalidResumeToken("the resume token's extra is not an object")
        kw["extra"] = extra
        return cls(**kw)


_STATE_INTS = (
    "requests",
    "changes",
    "errors",
    "hint_waits",
    "not_modified",
    "bytes_received",
    "unchanged",
    "consecutive_errors",
)


class PollEngine:
    """A sans-IO polling state machine for one job. Not thread-safe; one per wait."""

    def __init__(
        self,
        policy: Policy | None = None,
        spec: StatusSpec | None = None,
        *,
        deadline: float | None = None,
        baseline: float = 1.0,
        max_consecutive_errors: int = 10,
        hint_cap: float = 300.0,
        conditional: bool = True,
        url: str | None = None,
        state: EngineState | None = None,
    ) -> None:
        if max_consecutive_errors < 1:
            raise ValueError("max_consecutive_errors must be >= 1")
        if not (hint_cap >= 0 and math.isfinite(hint_cap)):
            raise ValueError("hint_cap must be a finite number >= 0")
        if not (baseline > 0 and math.isfinite(baseline)):
            raise ValueError("baseline must be a finite number > 0")
        self.policy: Policy = policy if policy is not None else AdaptivePolicy()
        self.spec = spec if spec is not None else StatusSpec()
        self.deadline = deadline
        self.baseline = baseline
        self.max_consecutive_errors = max_consecutive_errors
        self.hint_cap = hint_cap
        self.conditional = conditional
        self.url = url
        self.state = state if state is not None else EngineState()
        self._resumed = state is not None and state.requests > 0
        self._first_sent: float | None = None
        self._last_response: float | None = None
        self._next_at: float | None = None
        self._in_flight = False
        self._stopped: Stop | None = None
        self._reading: Reading | None = None
        self._pending: Update | None = None
        self._last_error: str | None = None
        if self._resumed and self.state.last_document is not None:
            try:
                self._reading = self.spec.read(self.state.last_document)
            except BadResponse:
                self._reading = None

    # -- reading the state -----------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self._stopped is not None

    @property
    def last_status(self) -> JobStatus | None:
        return self._reading.status if self._reading is not None else None

    @property
    def next_poll_at(self) -> float | None:
        return self._next_at

    def _elapsed(self) -> float:
        """First request sent to last response, plus what a resumed wait had before."""
        elapsed = self.state.elapsed_before
        if self._first_sent is not None and self._last_response is not None:
            elapsed += max(0.0, self._last_response - self._first_sent)
        return elapsed

    def report(self) -> PollReport:
        s = self.state
        return PollReport(
            requests=s.requests,
            changes=s.changes,
            elapsed=self._elapsed(),
            baseline_interval=self.baseline,
            errors=s.errors,
            hint_waits=s.hint_waits,
            not_modified=s.not_modified,
            bytes_received=s.bytes_received,
            mode=s.mode,
        )

    def pop_update(self) -> Update | None:
        """The update produced by the last response, once; ``None`` if it had no status."""
        update, self._pending = self._pending, None
        return update

    # -- transitions -------------------------------------------------------------------------

    def next_action(self, now: float) -> Action:
        if self._stopped is not None:
            return self._stopped
        if self._in_flight:
            raise RuntimeError("a request is in flight: feed its outcome first")
        if self.deadline is not None and now >= self.deadline:
            return self._timeout(now)
        if self._next_at is None:
            # The first request goes at once; a resumed wait honours what was left of its
            # delay, measured from now.
            self._next_at = now + (self.state.next_delay if self._resumed else 0.0)
        if now >= self._next_at:
            self._in_flight = True
            self.state.requests += 1
            if self._first_sent is None:
                self._first_sent = now
            headers: dict[str, str] = {}
            if self.conditional and self._reading is not None:
                headers = Validators(self.state.etag, self.state.last_modified).request_headers()
            timeout = None if self.deadline is None else max(0.0, self.deadline - now)
            return Send(headers=headers, timeout=timeout)
        until = self._next_at
        if self.deadline is not None:
            until = min(until, self.deadline)
        return Sleep(until=until)

    def receive_response(
        self,
        now: float,
        status_code: int,
        headers: Mapping[str, str],
        body: bytes,
        *,
        wall: float | None = None,
        truncated: bool = False,
    ) -> Action:
        """Feed the response to the request last sent. ``truncated`` means the body passed
        the size limit and was not read further."""
        self._land(now)
        self.state.bytes_received += len(body)
        lower = {k.lower(): v for k, v in headers.items()}
        hint = self._hint(lower.get("retry-after"), wall)

        if status_code == 304:
            if self._reading is None:
                return self._fail(
                    BadResponse(
                        "the server answered 304 Not Modified to a request that was not "
                        "conditional",
                        status_code=304,
                        url=self.url,
                    )
                )
            self.state.not_modified += 1
            self.state.consecutive_errors = 0
            self._remember_validators(lower)
            return self._observe(now, self._reading, hint, not_modified=True)

        if status_code in TRANSIENT_STATUS_CODES:
            return self._transient(now, f"HTTP {status_code}", hint)

        if not 200 <= status_code < 300:
            return self._fail(self._fatal_status(status_code, body, lower))

        if truncated:
            return self._fail(
                ResponseTooLarge(
                    f"the response body is larger than the limit ({len(body)} bytes read); "
                    "raise max_body if this endpoint is known to send large documents",
                    status_code=status_code,
                    url=self.url,
                )
            )
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError):
            ctype = lower.get("content-type", "no content type").split(";")[0].strip()
            return self._fail(
                BadResponse(
                    f"the response is not JSON (HTTP {status_code}, {sanitize(ctype)[:60]}, "
                    f"{len(body)} bytes): is this the job's status URL?",
                    status_code=status_code,
                    url=self.url,
                )
            )
        try:
            reading = self.spec.read(doc)
        except BadResponse as exc:
            return self._fail(BadResponse(exc.message, status_code=status_code, url=self.url))
        self.state.consecutive_errors = 0
        self._remember_validators(lower)
        return self._observe(now, reading, hint, not_modified=False)

    def receive_error(self, now: float, description: str, *, fatal: bool = False) -> Action:
        """Feed a request that got no response: a network error, a timeout. Transient unless
        ``fatal`` (an invalid URL, a redirect loop)."""
        self._land(now)
        if fatal:
            return self._fail(RequestFailed(f"request failed: {description}", url=self.url))
        return self._transient(now, description, None)

    def expire(self, now: float) -> Stop:
        """End the wait as timed out (the driver's own deadline fired mid-request)."""
        self._in_flight = False
        # The request in flight got no answer: a resumed wait should poll again at once.
        self._next_at = now
        return self._stopped if self._stopped is not None else self._timeout(now)

    def abandon(self, now: float) -> None:
        """Forget the request in flight (its caller was cancelled); it stays counted, and the
        next driver sends again at once."""
        if self._in_flight:
            self._in_flight = False
            self._last_response = now
        if self._stopped is None:
            self._next_at = now

    def timeout_stop(self, now: float) -> Stop:
        """A timed-out ``Stop`` for one caller of a shared wait, leaving the engine running
        for the others (their deadlines differ)."""
        if self._stopped is not None:
            return self._stopped
        return self._timeout_stop(now)

    # -- resume tokens -----------------------------------------------------------------------

    def resume_token(self, now: float | None = None) -> str | None:
        """A token that continues this wait where it stands (``None`` without a URL)."""
        return self._token_factory(now)()

    def _token_factory(self, now: float | None) -> Callable[[], str | None]:
        """The state as it stands now, captured cheaply; the token itself is built later,
        when (if ever) it is asked for."""
        if self.url is None:
            return lambda: None
        url = self.url
        # A shallow copy of the fields is the snapshot: the engine rebinds them, never mutates
        # them in place (``extra`` aside, which it does not touch).
        data = dict(vars(self.state))
        data["elapsed_before"] = self._elapsed()
        if now is not None and self._next_at is not None:
            data["next_delay"] = max(0.0, self._next_at - now)
        # ``last_document`` is replaced, never mutated, so holding the reference is a snapshot.
        return functools.partial(encode_token, url, data)

    @staticmethod
    def state_from_token(token: str, url: str) -> EngineState:
        """The ``EngineState`` a token carries, after its version, checksum and URL checks."""
        return EngineState.from_dict(decode_token(token, url))

    # -- server push (SSE) -------------------------------------------------------------------

    def open_stream(self, now: float) -> None:
        """A stream connection is being opened: it counts as a request."""
        self.state.requests += 1
        if self._first_sent is None:
            self._first_sent = now

    def set_mode(self, mode: Mode) -> None:
        self.state.mode = mode

    def fall_back(self, now: float) -> None:
        """Leave the stream for polling: the next poll goes at once (the stream may have
        missed a change), and every counter carries on."""
        self.state.mode = "poll"
        if self._stopped is None:
            self._next_at = now

    def receive_event(
        self, now: float, data: str, *, size: int, last_event_id: str | None = None
    ) -> Stop | None:
        """Feed one SSE event. Its data is a status document; an event whose data is not one
        (a heartbeat, another event type's JSON) is counted in bytes and otherwise ignored.
        Returns the ``Stop`` when the wait ended, else ``None``; ``pop_update()`` gives the
        update."""
        if self._stopped is not None:
            return self._stopped
        self.state.bytes_received += size
        if last_event_id is not None:
            self.state.last_event_id = last_event_id
        try:
            reading = self.spec.read(json.loads(data))
        except (ValueError, RecursionError, BadResponse):
            return None
        self._last_response = now
        if self._first_sent is None:
            self._first_sent = now
        self.state.consecutive_errors = 0
        action = self._observe(now, reading, None, not_modified=False, push=True)
        return action if isinstance(action, Stop) else None

    # -- internals ---------------------------------------------------------------------------

    def _land(self, now: float) -> None:
        if not self._in_flight:
            raise RuntimeError("no request in flight")
        self._in_flight = False
        self._last_response = now

    def _hint(self, value: str | None, wall: float | None) -> float | None:
        if value is None:
            return None
        seconds = parse_retry_after(value, wall if wall is not None else math.inf)
        if seconds is None:
            return None
        return min(seconds, self.hint_cap)

    def _schedule(self, now: float, hint: float | None) -> float:
        delay = self.policy.delay(self.state.unchanged)
        if hint is not None and hint > delay:
            delay = hint
            self.state.hint_waits += 1
        self._next_at = now + delay
        self.state.next_delay = delay
        return delay

    def _observe(
        self,
        now: float,
        reading: Reading,
        hint: float | None,
        *,
        not_modified: bool,
        push: bool = False,
    ) -> Action:
        s = self.state
        first = s.last_key is None
        changed = first or reading.key != s.last_key
        if changed and not first:
            s.changes += 1
        s.unchanged = 0 if changed else s.unchanged + 1
        s.last_key = reading.key
        if not not_modified:
            s.last_document = reading.raw
        self._reading = reading
        terminal = reading.outcome is not None
        # A pushed status schedules no poll: the stream brings the next one.
        delay = None if terminal or push else self._schedule(now, hint)
        # One snapshot serves the update and, on a terminal status, the stop and its error:
        # nothing changes between them.
        report = self.report()
        self._pending = Update(
            status=reading.status,
            document=reading.document,
            changed=changed,
            not_modified=not_modified,
            terminal=terminal,
            next_delay=delay,
            report=report,
            _token=None if terminal else self._token_factory(now),
        )
        if reading.outcome == "succeeded":
            return self._finish(
                Stop("succeeded", reading.status, reading.document, None, report)
            )
        if reading.outcome == "failed":
            detail = f": {reading.status.error}" if reading.status.error else ""
            err = JobFailed(
                f"the job ended with status {reading.status.status!r}{detail}",
                url=self.url,
                status=reading.status,
                report=report,
            )
            return self._finish(Stop("failed", reading.status, reading.document, err, report))
        if push:
            if self.deadline is not None and now >= self.deadline:
                return self._timeout(now)
            return Sleep(until=math.inf if self.deadline is None else self.deadline)
        return self.next_action(now)

    def _transient(self, now: float, description: str, hint: float | None) -> Action:
        s = self.state
        s.errors += 1
        s.consecutive_errors += 1
        s.unchanged += 1
        self._last_error = sanitize(description)
        if s.consecutive_errors >= self.max_consecutive_errors:
            return self._fail(
                TooManyErrors(
                    f"gave up after {s.consecutive_errors} failed requests in a row "
                    f"(last: {self._last_error})",
                    url=self.url,
                )
            )
        self._schedule(now, hint)
        return self.next_action(now)

    def _fatal_status(
        self, code: int, body: bytes, headers: Mapping[str, str]
    ) -> PollError:
        if code == 404 or code == 410:
            what = (
                "the job is unknown or its record expired"
                if self._reading is None
                else "the job's record disappeared mid-wait (expired?)"
            )
            msg = f"HTTP {code}: {what}"
        elif code in (401, 403):
            msg = f"HTTP {code}: not authorized; check the credentials sent with -H/auth="
        elif 300 <= code < 400:
            msg = f"HTTP {code}: a redirect that was not followed"
        else:
            msg = f"HTTP {code}"
        detail = _error_detail(body, headers)
        if detail:
            msg += f" ({detail})"
        return RequestFailed(msg, status_code=code, url=self.url)

    def _remember_validators(self, headers: Mapping[str, str]) -> None:
        if not self.conditional:
            return
        v = Validators.from_headers(headers)
        if v:
            self.state.etag = v.etag
            self.state.last_modified = v.last_modified

    def _fail(self, error: PollError) -> Stop:
        error.report = self.report()
        error.status = self.last_status
        return self._finish(
            Stop(
                "error",
                self.last_status,
                self._reading.document if self._reading else None,
                error,
                error.report,
            )
        )

    def _timeout(self, now: float) -> Stop:
        return self._finish(self._timeout_stop(now))

    def _timeout_stop(self, now: float) -> Stop:
        report = self.report()
        last = self.last_status
        what = f"last status {last.status!r}" if last is not None else "no status seen"
        err = PollTimeout(
            f"the job did not finish before the deadline ({what}, {report.requests} requests)",
            url=self.url,
            status=last,
            report=report,
        )
        err.resume_token = self.resume_token(now)
        return Stop("timeout", last, self._reading.document if self._reading else None, err, report)

    def _finish(self, stop: Stop) -> Stop:
        self._stopped = stop
        self._next_at = None
        return stop


def _error_detail(body: bytes, headers: Mapping[str, str]) -> str:
    """A short, sanitized hint from an error body: its JSON ``error``/``detail``/``message``."""
    if not body or "json" not in headers.get("content-type", ""):
        return ""
    try:
        doc = json.loads(body[:65536])
    except (ValueError, RecursionError):
        return ""
    if isinstance(doc, dict):
        for key in ("error", "detail", "message"):
            val = doc.get(key)
            if isinstance(val, str) and val:
                return sanitize(val)[:200]
    return ""
