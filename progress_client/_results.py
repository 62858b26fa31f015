"""What a wait hands back: ``WaitResult`` for one job, ``JobOutcome`` for one of many, and
``finish()``, which turns the engine's final ``Stop`` into one or raises its error."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from ._actions import Stop
from ._errors import PollError
from ._models import JobStatus
from ._report import PollReport

__all__ = ["JobOutcome", "WaitResult", "finish", "outcome_error"]


@dataclass(frozen=True)
class WaitResult:
    """A finished wait: the job's final status and what the wait cost."""

    status: JobStatus
    document: BaseModel
    report: PollReport


@dataclass(frozen=True)
class JobOutcome:
    """One job of ``wait_many``/``as_completed``: its URL and either its result or its error."""

    url: str
    result: WaitResult | None = None
    error: PollError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def unwrap(self) -> WaitResult:
        """The result, or raise the error."""
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def finish(stop: Stop) -> WaitResult:
    """Turn the engine's final action into a result, or raise its error."""
    if stop.error is not None:
        raise stop.error
    assert stop.status is not None and stop.document is not None
    return WaitResult(status=stop.status, document=stop.document, report=stop.report)


def outcome_error(exc: PollError | ValueError) -> PollError:
    """A job's error for its ``JobOutcome``: a ``PollError`` as it is; a ``ValueError`` (an
    invalid URL) as a ``PollError`` that says so."""
    if isinstance(exc, PollError):
        return exc
    return PollError(f"the wait could not start: {exc}")
