"""What a wait cost: the counters, defined once, and the report derived from them.

``Counters`` is the one list of what a wait counts. The engine keeps a ``Counters`` value and
replaces it as it goes; ``PollReport`` is a ``Counters`` plus the time the wait took, and
``PollReport.to_dict()`` (the CLI's JSON), the resume token's state and the report itself are
all derived from these fields, never listed again. Pure: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, make_dataclass
from typing import Any, Literal

__all__ = ["COUNTER_NAMES", "Counters", "Mode", "Outcome", "PollReport", "Tally"]

#: How a wait ended.
Outcome = Literal["succeeded", "failed", "timeout", "error", "needs_action"]
#: Where the final status came from: polls, long polls, or an event stream.
Mode = Literal["poll", "long-poll", "sse"]
MODES: tuple[str, ...] = ("poll", "long-poll", "sse")


@dataclass(frozen=True, slots=True)
class Counters:
    """Every count a wait keeps. Adding a field here adds it to the report, the CLI's JSON
    and the resume token."""

    #: Every HTTP request sent: polls, stream connections, errors included.
    requests: int = 0
    #: Status changes seen (the first status is not a change).
    changes: int = 0
    #: Transient errors (network errors, timeouts, 408/425/429/5xx).
    errors: int = 0
    #: Delays lengthened by a server hint (Retry-After and the like).
    hint_waits: int = 0
    #: 304 Not Modified answers.
    not_modified: int = 0
    #: Body bytes read (event data included).
    bytes_received: int = 0
    #: Requests that got an HTTP response, whatever its status code (a 503 or a 304 is an
    #: answer); a request that failed in transport (connection refused, name not resolved,
    #: TLS, timed out) is not. (Last, so the older counters keep their places; a resume
    #: token of a version without it resumes with 0, and claims less saving, never more.)
    answered: int = 0
    #: Requests that waited for their origin's rate budget (``limits=``), and how long in all.
    budget_delays: int = 0
    budget_delay_ms: int = 0


#: The counter names, in order (what the resume token and the CLI's JSON carry).
COUNTER_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Counters))

#: The engine's running tally: the same fields, mutable (an increment on every response must
#: cost nanoseconds, not a new frozen value). Made from ``Counters``, never listed again.
Tally: Any = make_dataclass("Tally", [(name, int, 0) for name in COUNTER_NAMES], slots=True)
Tally.__module__ = __name__


def freeze(tally: Any) -> Counters:
    """A tally's counts as a frozen ``Counters``."""
    return Counters(**{name: getattr(tally, name) for name in COUNTER_NAMES})


@dataclass(frozen=True, slots=True)
class PollReport(Counters):
    """What a wait cost, and what it saved against a fixed poller at ``baseline_interval``.

    **Savings count only what was answered.** ``baseline_requests`` is what a fixed poller
    at ``baseline_interval`` would have sent over ``answered_elapsed``: from the first
    request to the last *answered* response (a status, a 304, a 503 are answers; a connection
    refused, a name not resolved, a TLS failure or a timeout are not). ``saved_requests`` is
    that minus every request this wait sent (the unanswered ones included), never below 0.
    A wait whose requests were never answered claims no saving at all (``baseline_requests``
    is 0); time spent failing after the last answer earns none either. ``elapsed`` still
    covers the whole wait, failures included."""

    #: From the first request sent to the last response (or failure), in seconds.
    elapsed: float = 0.0
    baseline_interval: float = 1.0
    mode: Mode = "poll"
    #: From the first request sent to the last answered response, in seconds: the span the
    #: savings are counted over.
    answered_elapsed: float = 0.0

    @classmethod
    def of(
        cls, counts: Any, *, elapsed: float, baseline_interval: float, mode: Mode,
        answered_elapsed: float | None = None,
    ) -> PollReport:
        """A report of ``counts`` (a ``Counters`` or a ``Tally``). ``answered_elapsed``
        defaults to ``elapsed`` (every request answered)."""
        values: dict[str, Any] = {name: getattr(counts, name) for name in COUNTER_NAMES}
        return cls(
            **values,
            elapsed=elapsed,
            baseline_interval=baseline_interval,
            mode=mode,
            answered_elapsed=elapsed if answered_elapsed is None else answered_elapsed,
        )

    @property
    def unanswered(self) -> int:
        """Requests that got no HTTP response (they failed in transport)."""
        return max(0, self.requests - self.answered)

    @property
    def baseline_requests(self) -> int:
        """Requests a fixed poller at ``baseline_interval`` would have sent over
        ``answered_elapsed`` (0 when nothing was answered)."""
        if self.requests == 0 or self.answered == 0:
            return 0
        if self.baseline_interval <= 0:
            return self.requests
        return math.floor(self.answered_elapsed / self.baseline_interval + 1e-9) + 1

    @property
    def saved_requests(self) -> int:
        """``baseline_requests`` minus every request sent, never below 0."""
        return max(0, self.baseline_requests - self.requests)

    @property
    def saved_ratio(self) -> float:
        base = self.baseline_requests
        return self.saved_requests / base if base else 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data: the counters, the savings, the time and the mode."""
        out: dict[str, Any] = {name: getattr(self, name) for name in COUNTER_NAMES}
        out.update(
            baseline_requests=self.baseline_requests,
            saved_requests=self.saved_requests,
            saved_percent=round(100.0 * self.saved_ratio, 1),
            elapsed_s=round(self.elapsed, 3),
            mode=self.mode,
            baseline_interval_s=self.baseline_interval,
            unanswered=self.unanswered,
            answered_elapsed_s=round(self.answered_elapsed, 3),
        )
        return out
