"""simulate(policy, timeline): the real engine, polled on a virtual clock against a scripted job.

A timeline is a list of ``(seconds, status)`` pairs: at ``seconds`` after the start the job's
status becomes ``status``. The last entry should be terminal (``completed``, ``failed`` ...);
if it is not, the simulation stops at ``horizon``. The simulated server answers instantly
(``latency`` seconds, default 0), so the numbers are the policy's own. The same function feeds
``progress-client plan`` and the benchmarks: one computation, one place.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from progress_client.core.actions import Request, Sleep, Stop
from progress_client.core.config import WaitConfig
from progress_client.core.engine import PollEngine
from progress_client.core.models import StatusSpec
from progress_client.core.policy import Policy
from progress_client.core.report import PollReport

__all__ = ["SimulationResult", "evenly_spaced_timeline", "simulate"]


@dataclass(frozen=True)
class SimulationResult:
    """The report of a simulated wait, and how late each status change was seen."""

    report: PollReport
    outcome: str
    lags: tuple[float, ...]
    request_times: tuple[float, ...]

    @property
    def mean_lag(self) -> float:
        return statistics.fmean(self.lags) if self.lags else 0.0

    @property
    def p95_lag(self) -> float:
        return percentile(self.lags, 95.0)

    @property
    def max_lag(self) -> float:
        return max(self.lags) if self.lags else 0.0


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct`` percentile by linear interpolation (numpy's default); 0 for no values."""
    if not values:
        return 0.0
    xs = sorted(values)
    k = (len(xs) - 1) * pct / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def evenly_spaced_timeline(
    seconds: float,
    changes: int,
    *,
    statuses: Sequence[str] | None = None,
    final: str = "completed",
) -> list[tuple[float, str]]:
    """A job of ``seconds`` with ``changes`` status changes spread evenly: the start status at
    0, intermediate ones at equal spacing, and ``final`` at ``seconds``."""
    if changes < 1:
        raise ValueError("a job needs at least one change (to its final status)")
    names = list(statuses) if statuses else [f"step-{i}" for i in range(changes)]
    if len(names) < changes:
        names += [f"step-{i}" for i in range(len(names), changes)]
    gap = seconds / changes
    timeline = [(round(i * gap, 9), names[i]) for i in range(changes)]
    timeline.append((float(seconds), final))
    return timeline


def simulate(
    policy: Policy,
    timeline: Sequence[tuple[float, str]],
    *,
    spec: StatusSpec | None = None,
    baseline: float = 1.0,
    latency: float = 0.0,
    horizon: float | None = None,
    hint: float | None = None,
) -> SimulationResult:
    """Poll a scripted job with ``policy`` on a virtual clock and report the cost and the lag.

    ``hint`` adds a ``Retry-After`` of that many seconds to every response.
    """
    points = sorted((float(t), s) for t, s in timeline)
    if not points:
        raise ValueError("the timeline is empty")
    if horizon is None:
        horizon = points[-1][0] + 3600.0
    # A virtual clock: no server sees the intervals, so any policy may be planned.
    config = WaitConfig(
        policy=policy, reader=spec if spec is not None else StatusSpec(), baseline=baseline,
        allow_fast_polling=True,
    )
    engine = PollEngine(config)
    now = 0.0
    seen_index = -1
    seen_at: dict[int, float] = {}
    request_times: list[float] = []
    headers = {"Retry-After": str(int(hint))} if hint is not None else {}
    action = engine.next_action(now, horizon)
    while True:
        if isinstance(action, Stop):
            break
        if isinstance(action, Sleep):
            now = max(now, action.until)
            action = engine.next_action(now, horizon)
            continue
        assert isinstance(action, Request)
        request_times.append(now)
        # The server answers with the status in force when it reads the request.
        index = _index_at(points, now)
        now += latency
        # Before the timeline's first entry the job is "queued".
        current = points[index][1] if index >= 0 else "queued"
        body = json.dumps({"status": current}).encode()
        if index > seen_index:
            for i in range(seen_index + 1, index + 1):
                seen_at[i] = now
            seen_index = index
        engine.receive_response(now, 200, headers, body)
        action = engine.next_action(now, horizon)
    # The first entry is the starting state, not a change: lags are for entries 1..n.
    lags = tuple(seen_at[i] - points[i][0] for i in range(1, len(points)) if i in seen_at)
    return SimulationResult(
        report=action.report,
        outcome=action.outcome,
        lags=lags,
        request_times=tuple(request_times),
    )


def _index_at(points: Sequence[tuple[float, str]], t: float) -> int:
    index = -1
    for i, (when, _) in enumerate(points):
        if when <= t:
            index = i
        else:
            break
    return index
