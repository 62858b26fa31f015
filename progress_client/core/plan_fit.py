"""Which polling policy fits a rate budget, and what detection lag it costs: the numbers behind
``plan --budget``. The same engine on the same virtual clock as the rest of the planner (every
candidate is ``simulate()``d), so a policy it recommends spends what it says. Pure: no I/O.

The traffic is the plan's: ``jobs_per_day`` jobs, each costing its polls plus
``processing_requests``, spread evenly over the day. A budget's window of W seconds then holds
``requests_per_job * jobs_per_day * W / 86400`` requests: for a month of 30 days that is
``monthly()``; for an hour, a 24th of a day's (a budget per hour is only as safe as the traffic
is even: the rate budgets of the clients, ``limits=``, keep a burst under it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from progress_client.core.budget import Limit
from progress_client.core.models import StatusSpec
from progress_client.core.plan import (
    PlanInputs,
    Timeline,
    evaluate,
    policy_strategy,
    validate_timeline,
)
from progress_client.core.policy import AdaptivePolicy, FixedPolicy, Policy

__all__ = ["CANDIDATES", "Fit", "fit_budget", "requests_in_window"]

_DAY = 86400.0


def _candidates() -> tuple[Policy, ...]:
    """Adaptive schedules from eager to lazy, and fixed intervals: what the search tries."""
    out: list[Policy] = [FixedPolicy(s) for s in (1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 300.0)]
    for initial in (1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0):
        for step in (0.5, 1.0, 2.0, 5.0, 10.0, 30.0):
            for maximum in (4.0, 8.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0):
                if maximum > initial and step <= maximum - initial:
                    out.append(AdaptivePolicy(initial, step, maximum))
    return tuple(out)


#: Every policy ``fit_budget`` tries.
CANDIDATES: tuple[Policy, ...] = _candidates()


@dataclass(frozen=True)
class Fit:
    """One policy against a budget: its requests in the budget's window, and its lag."""

    policy: str
    polling_requests_per_job: int
    requests_in_window: float
    budget: int
    window_s: float
    percent_of_budget: float
    mean_lag: float
    p95_lag: float

    @property
    def fits(self) -> bool:
        return self.requests_in_window <= self.budget

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["fits"] = self.fits
        for key in ("requests_in_window", "percent_of_budget", "mean_lag", "p95_lag"):
            d[key] = round(d[key], 3)
        return d


def requests_in_window(requests_per_job: float, inputs: PlanInputs, window: float) -> float:
    """Requests the traffic sends in ``window`` seconds (jobs spread evenly over the day)."""
    return (requests_per_job + inputs.processing_requests) * inputs.jobs_per_day * window / _DAY


def fit_budget(
    timeline: Timeline,
    budget: Limit,
    inputs: PlanInputs | None = None,
    *,
    candidates: Sequence[Policy] = CANDIDATES,
    spec: StatusSpec | None = None,
) -> list[Fit]:
    """Every candidate against ``budget``, best first: those that fit by mean lag (then fewer
    requests), then those that do not, by requests. The first is the recommendation when it
    fits; when none fits, the budget is too small for the traffic at any listed policy."""
    inputs = inputs if inputs is not None else PlanInputs()
    points = validate_timeline(timeline, spec)
    fits: list[Fit] = []
    for policy in candidates:
        ev = evaluate(policy_strategy(policy, spec), points, period=policy.bounds[1])
        used = requests_in_window(ev.requests, inputs, budget.window)
        fits.append(Fit(
            policy=policy.name, polling_requests_per_job=ev.requests,
            requests_in_window=used, budget=budget.requests, window_s=budget.window,
            percent_of_budget=100.0 * used / budget.requests,
            mean_lag=ev.mean_lag, p95_lag=ev.p95_lag,
        ))
    fits.sort(key=lambda f: (not f.fits, f.mean_lag if f.fits else f.requests_in_window,
                             f.requests_in_window))
    return fits


def floor_in_window(inputs: PlanInputs, window: float) -> float:
    """What the processing requests alone spend in the window (no polling at all)."""
    return requests_in_window(0.0, inputs, window) if math.isfinite(window) else math.inf
