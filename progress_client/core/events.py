"""What the hooks are handed: ``RequestInfo`` before every request, ``RequestEvent`` after it,
``ChangeEvent`` for every status change (loaded with the first hook call)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from progress_client.core.actions import Purpose

if TYPE_CHECKING:
    from progress_client.core.report import PollReport
    from progress_client.core.status import JobStatus

__all__ = ["ChangeEvent", "Reason", "RequestEvent", "RequestInfo"]

#: Why a request is sent: ``schedule`` (the polling schedule's turn), ``hint`` (after a delay a
#: server hint such as ``Retry-After`` set), ``retry`` (after a failed request), ``long_poll``
#: (a poll the server is asked to hold), ``stream`` (an event stream opened or reopened), or
#: the other requests of a job's life: ``start``, ``result``, ``cancel``.
Reason = Literal["schedule", "hint", "retry", "long_poll", "stream", "start", "result", "cancel"]


@dataclass(slots=True)
class RequestInfo:
    """Handed to ``before_request`` just before each request is sent (a poll, a stream
    connection, a start, a result or a cancel), on both clients and every transport.

    ``url`` is sanitized. ``attempt``: the wait's n-th request (1 for the first);
    ``resend_count``: how many failed requests in a row this one follows (0 unless ``reason`` is
    ``retry``). ``headers`` starts empty: headers put there are sent with this request (the
    request's own, such as ``If-None-Match``, win on a clash); the hook never sees the
    request's credentials. ``context`` is the hook's own: what it keeps there (a span, a start
    time) comes back with the ``RequestEvent`` of the same request (``event.info``)."""

    url: str
    method: str
    kind: Purpose
    reason: Reason
    attempt: int
    resend_count: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestEvent:
    """Handed to ``on_request`` after every request: a poll or a stream connection.

    ``url`` is sanitized; ``status_code`` is ``None`` when no response came (then ``error``
    says why); ``duration`` is seconds until the response head (for streams) or body.
    ``info``: what ``before_request`` was handed for this request (``None`` when no
    ``before_request`` hook nor instrumentation is set)."""

    url: str
    kind: Purpose
    status_code: int | None
    duration: float
    not_modified: bool = False
    error: str | None = None
    info: RequestInfo | None = None


@dataclass(frozen=True)
class ChangeEvent:
    """Handed to ``on_change`` for every status that differs from the previous one (and the
    first). ``url`` is sanitized."""

    url: str
    status: JobStatus
    terminal: bool
    report: PollReport
