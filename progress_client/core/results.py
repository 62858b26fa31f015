"""What a wait hands back: ``WaitResult`` for one job, ``JobOutcome`` for one of many, and
``finish()``, which turns the engine's final ``Stop`` into one or raises its error."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from progress_client.core.actions import Stop
from progress_client.core.errors import PollError
from progress_client.core.report import PollReport

if TYPE_CHECKING:
    from pathlib import Path

    from pydantic import BaseModel

    from progress_client.core.status import JobStatus

__all__ = [
    "MAX_RESULT",
    "JobOutcome",
    "ResultNotWritten",
    "WaitResult",
    "decode_result",
    "finish",
    "outcome_error",
    "result_too_large",
]

#: The largest result held in memory (``run`` without ``output=``): 64 MiB.
MAX_RESULT = 64 << 20


@dataclass(frozen=True)
class WaitResult:
    """A finished wait: the job's final status and what the wait cost."""

    status: JobStatus
    document: BaseModel
    report: PollReport
    #: The job's result, when one was fetched (``run``): parsed JSON, bytes, or the path of
    #: the file it was written to.
    result: Any = None
    #: The URL that was polled (``run`` found it in the start response).
    status_url: str | None = None


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


def error_of(stop: Stop, status_url: str | None = None) -> PollError | None:
    """The error ``stop`` ends its wait with (``None``: it succeeded), carrying the caller's
    status URL in full, credentials removed."""
    error = stop.error
    if error is not None and status_url is not None:
        error.name_status_url(status_url)
    return error


def finish(stop: Stop, status_url: str | None = None) -> WaitResult:
    """Turn the engine's final action into a result, or raise its error."""
    error = error_of(stop, status_url)
    if error is not None:
        raise error
    assert stop.status is not None and stop.document is not None
    return WaitResult(
        status=stop.status, document=stop.document, report=stop.report, result=stop.result,
        status_url=status_url,
    )


def outcome_error(exc: PollError | ValueError) -> PollError:
    """A job's error for its ``JobOutcome``: a ``PollError`` as it is; a ``ValueError`` (an
    invalid URL, a bad argument) as a ``PollError`` that says so."""
    if isinstance(exc, PollError):
        return exc
    return PollError(f"the wait failed: {exc}")


def decode_result(body: bytes, content_type: str | None) -> Any:
    """A result body: parsed JSON when it says it is JSON (and is), else the bytes."""
    if content_type and "json" in content_type.lower():
        try:
            return json.loads(body)
        except (ValueError, RecursionError):
            return body
    return body


def result_too_large(limit: int) -> str:
    return (
        f"the result is larger than {limit >> 20} MiB; give output= (CLI: --output FILE) to "
        "stream it to a file"
    )


class ResultNotWritten(Exception):
    """``output=`` could not be written. A local failure: the result is not fetched again
    (the drivers end the wait with ``RequestFailed``, saying so)."""

    def __init__(self, output: Path, exc: OSError) -> None:
        self.message = f"the result could not be written to {output}: {exc.strerror or exc}"
        super().__init__(self.message)
