"""What the engine tells a driver to do (``Request``, ``Sleep``, ``ReadStream``, ``Stop``) and
what it hands out while it waits (``Update``, ``FellBack``). Plain frozen values, no behaviour
beyond the lazily built resume token."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ._errors import PollError
from ._report import Outcome, PollReport

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ._status import JobStatus

__all__ = ["Action", "FellBack", "Purpose", "ReadStream", "Request", "Sleep", "Stop", "Update"]

#: Why a request is sent. ``poll`` and ``stream`` today; ``start``, ``result`` and ``cancel``
#: name the other requests of a job's life (start it, fetch its result, cancel it).
Purpose = Literal["poll", "stream", "start", "result", "cancel"]


@dataclass(frozen=True, slots=True)
class Request:
    """Send one request now and feed its response (``receive_response``) or its failure
    (``receive_error``). ``timeout`` bounds the whole exchange, in seconds (``None``: no
    bound). For ``purpose="stream"`` feed the response head only; ``ReadStream`` follows."""

    purpose: Purpose
    method: str
    url: str
    headers: Mapping[str, str]
    timeout: float | None
    content: bytes | None = None


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait until ``until`` (the driver's monotonic clock), then ask again."""

    until: float


@dataclass(frozen=True, slots=True)
class ReadStream:
    """Read the next chunk of the open event stream and feed it (``receive_data``), its end
    (``receive_end``) or its failure (``receive_error``). If ``until`` (the caller's deadline)
    passes first, call ``interrupt``."""

    until: float | None


@dataclass(frozen=True)
class Stop:
    """The wait is over for this caller. ``error`` is the exception to raise (``None`` on
    success); ``result`` the job's result when one was fetched (``run``)."""

    outcome: Outcome
    status: JobStatus | None
    document: BaseModel | None
    error: PollError | None
    report: PollReport
    result: Any = None


Action = Request | Sleep | ReadStream | Stop


@dataclass(frozen=True)
class Update:
    """One status seen while waiting, for ``watch()``.

    ``resume_token`` continues the wait from this update (``None`` on a terminal one). It is
    built on first access: most callers never read it, and building one (sanitizing the
    document, canonical JSON, two SHA-256) costs more than the poll."""

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


@dataclass(frozen=True, slots=True)
class FellBack:
    """The event stream could not serve (``reason``, sanitized): the wait polls instead."""

    reason: str

