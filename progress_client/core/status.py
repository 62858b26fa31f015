"""JobStatus: a job's status document, normalized (pydantic).

In a module of its own so that pydantic loads with the first response read, not before the
first request is sent (``progress-client wait`` starts as fast as a bare ``httpx.get``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from progress_client.core.sanitize import sanitize

__all__ = ["JobStatus"]


class JobStatus(BaseModel):
    """A job's status document. Unknown fields are kept (``model_extra``)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    status: str
    step: str | int | None = None
    progress: float | None = None
    error: str | None = None

    def __repr__(self) -> str:
        parts = [f"status={self.status!r}"]
        if self.step is not None:
            parts.append(f"step={self.step!r}")
        if self.progress is not None:
            parts.append(f"progress={self.progress!r}")
        if self.error is not None:
            parts.append(f"error={sanitize(self.error)!r}")
        return f"JobStatus({', '.join(parts)})"
