"""What the engine tells a driver to do (``Request``, ``Sleep``, ``ReadStream``, ``Stop``) and
what it hands out while it waits (``Update``, ``FellBack``). Plain immutable values
(``core.value.Value``: equality, hash, repr, ``match``), no behaviour beyond an update's report and
resume token, built when first read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from progress_client.core.errors import PollError
from progress_client.core.report import Outcome, PollReport
from progress_client.core.state import (
    Snapshot,
    attach_document,
    detach_document,
    snapshot_report,
    snapshot_token,
)
from progress_client.core.value import Value, setslot

if TYPE_CHECKING:
    from pydantic import BaseModel

    from progress_client.core.models import Reading
    from progress_client.core.status import JobStatus

__all__ = ["Action", "FellBack", "Purpose", "ReadStream", "Request", "Sleep", "Stop", "Update"]

#: Why a request is sent. ``poll`` and ``stream`` today; ``start``, ``result`` and ``cancel``
#: name the other requests of a job's life (start it, fetch its result, cancel it).
Purpose = Literal["poll", "stream", "start", "result", "cancel"]


class Request(Value):
    """Send one request now and feed its response (``receive_response``) or its failure
    (``receive_error``). ``timeout`` bounds the whole exchange, in seconds (``None``: no
    bound). For ``purpose="stream"`` feed the response head only; ``ReadStream`` follows."""

    __slots__ = __match_args__ = ("purpose", "method", "url", "headers", "timeout", "content")
    purpose: Purpose
    method: str
    url: str
    headers: Mapping[str, str]
    timeout: float | None
    content: bytes | None

    def __init__(
        self, purpose: Purpose, method: str, url: str, headers: Mapping[str, str],
        timeout: float | None, content: bytes | None = None,
    ) -> None:
        setslot(self, "purpose", purpose)
        setslot(self, "method", method)
        setslot(self, "url", url)
        setslot(self, "headers", headers)
        setslot(self, "timeout", timeout)
        setslot(self, "content", content)


class Sleep(Value):
    """Wait until ``until`` (the driver's monotonic clock), then ask again."""

    __slots__ = __match_args__ = ("until",)
    until: float

    def __init__(self, until: float) -> None:
        setslot(self, "until", until)


class ReadStream(Value):
    """Read the next chunk of the open event stream and feed it (``receive_data``), its end
    (``receive_end``) or its failure (``receive_error``). If ``until`` (the caller's deadline)
    passes first, call ``interrupt``."""

    __slots__ = __match_args__ = ("until",)
    until: float | None

    def __init__(self, until: float | None) -> None:
        setslot(self, "until", until)


class Stop(Value):
    """The wait is over for this caller. ``error`` is the exception to raise (``None`` on
    success); ``result`` the job's result when one was fetched (``run``).

    A timed-out stop holds the engine's reading and a snapshot instead of its ``status``,
    ``document`` and ``report``, and builds them when first read (``timed_out``): thousands of
    waits may reach their deadline at the same instant, and most of them are read by nobody
    (a timeout raises its error)."""

    __slots__ = ("_document", "_reading", "_report", "_snapshot", "_status", "error",
                 "outcome", "result")
    __match_args__ = ("outcome", "status", "document", "error", "report", "result")
    outcome: Outcome
    error: PollError | None
    result: Any
    _status: JobStatus | None
    _document: BaseModel | None
    _report: PollReport | None
    _reading: Reading | None
    _snapshot: Snapshot | None

    def __init__(
        self, outcome: Outcome, status: JobStatus | None, document: BaseModel | None,
        error: PollError | None, report: PollReport, result: Any = None,
    ) -> None:
        setslot(self, "outcome", outcome)
        setslot(self, "_status", status)
        setslot(self, "_document", document)
        setslot(self, "error", error)
        setslot(self, "_report", report)
        setslot(self, "result", result)
        setslot(self, "_reading", None)
        setslot(self, "_snapshot", None)

    @classmethod
    def timed_out(cls, error: PollError, reading: Reading | None, snapshot: Snapshot) -> Stop:
        """A ``timeout`` stop whose status and document are ``reading``'s (``None``: no status
        seen) and whose report is ``snapshot``'s, each built when first read."""
        stop = cls.__new__(cls)
        setslot(stop, "outcome", "timeout")
        setslot(stop, "_status", None)
        setslot(stop, "_document", None)
        setslot(stop, "error", error)
        setslot(stop, "_report", None)
        setslot(stop, "result", None)
        setslot(stop, "_reading", reading)
        setslot(stop, "_snapshot", snapshot)
        return stop

    @property
    def status(self) -> JobStatus | None:
        if self._status is None and self._reading is not None:
            setslot(self, "_status", self._reading.status)
        return self._status

    @property
    def document(self) -> BaseModel | None:
        if self._document is None and self._reading is not None:
            setslot(self, "_document", self._reading.document)
        return self._document

    @property
    def report(self) -> PollReport:
        report = self._report
        if report is None:
            assert self._snapshot is not None
            report = snapshot_report(self._snapshot)
            setslot(self, "_report", report)
        return report

    def with_result(self, result: Any, report: PollReport | None = None) -> Stop:
        """The same stop with the job's ``result`` (and a newer ``report``)."""
        return Stop(self.outcome, self.status, self.document, self.error,
                    self.report if report is None else report, result)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Stop, (self.outcome, self.status, self.document, self.error, self.report,
                       self.result))


Action = Request | Sleep | ReadStream | Stop


class Update(Value):
    """One status seen while waiting, for ``watch()``.

    ``report`` is what the wait had cost when this status came; ``resume_token`` continues the
    wait from this update (``None`` on a terminal one). They, and ``status`` and ``document``
    when the update holds the engine's reading of the response, are built when first read:
    most callers read few of them, and a token (sanitizing the document, canonical JSON, two
    SHA-256) costs more than the poll."""

    __slots__ = ("_document", "_raw", "_reading", "_report", "_snapshot", "_status", "changed",
                 "next_delay", "not_modified", "terminal")
    __match_args__ = ("status", "document", "changed", "not_modified", "terminal",
                      "next_delay", "report")
    changed: bool
    not_modified: bool
    terminal: bool
    next_delay: float | None
    _status: JobStatus | None
    _document: BaseModel | None
    _reading: Reading | None
    _report: PollReport | None
    #: The snapshot without its document, and the document (``state.detach_document``: a
    #: waiting job keeps its last update, and its snapshot is then no object to collect).
    _snapshot: Snapshot | None
    _raw: dict[str, Any] | None

    def __init__(
        self, status: JobStatus | None, document: BaseModel | None, changed: bool,
        not_modified: bool, terminal: bool, next_delay: float | None,
        report: PollReport | None = None, *, snapshot: Snapshot | None = None,
        reading: Reading | None = None,
    ) -> None:
        if report is None and snapshot is None:
            raise TypeError("an Update needs its report or a snapshot to build it from")
        if reading is None and (status is None or document is None):
            raise TypeError("an Update needs its status and document, or the reading of them")
        setslot(self, "_status", status)
        setslot(self, "_document", document)
        setslot(self, "_reading", reading)
        setslot(self, "changed", changed)
        setslot(self, "not_modified", not_modified)
        setslot(self, "terminal", terminal)
        setslot(self, "next_delay", next_delay)
        setslot(self, "_report", report)
        raw = None
        if snapshot is not None:
            snapshot, raw = detach_document(snapshot)
        setslot(self, "_snapshot", snapshot)
        setslot(self, "_raw", raw)

    @property
    def status(self) -> JobStatus:
        if self._status is not None:
            return self._status
        assert self._reading is not None
        return self._reading.status

    @property
    def document(self) -> BaseModel:
        if self._document is not None:
            return self._document
        assert self._reading is not None
        return self._reading.document

    @property
    def report(self) -> PollReport:
        report: PollReport | None = self._report
        if report is None:
            assert self._snapshot is not None
            report = snapshot_report(self._snapshot)
            setslot(self, "_report", report)
        return report

    @property
    def resume_token(self) -> str | None:
        if self.terminal or self._snapshot is None:
            return None
        return snapshot_token(attach_document(self._snapshot, self._raw))


class FellBack(Value):
    """The event stream could not serve (``reason``, sanitized): the wait polls instead."""

    __slots__ = __match_args__ = ("reason",)
    reason: str

    def __init__(self, reason: str) -> None:
        setslot(self, "reason", reason)
