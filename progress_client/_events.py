"""What the hooks are handed: ``RequestEvent`` after every request, ``ChangeEvent`` for every
status change (loaded with the first hook call)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._actions import Purpose

if TYPE_CHECKING:
    from ._report import PollReport
    from ._status import JobStatus

__all__ = ["ChangeEvent", "RequestEvent"]


@dataclass(frozen=True)
class RequestEvent:
    """Handed to ``on_request`` after every request: a poll or a stream connection.

    ``url`` is sanitized; ``status_code`` is ``None`` when no response came (then ``error``
    says why); ``duration`` is seconds until the response head (for streams) or body."""

    url: str
    kind: Purpose
    status_code: int | None
    duration: float
    not_modified: bool = False
    error: str | None = None


@dataclass(frozen=True)
class ChangeEvent:
    """Handed to ``on_change`` for every status that differs from the previous one (and the
    first). ``url`` is sanitized."""

    url: str
    status: JobStatus
    terminal: bool
    report: PollReport
