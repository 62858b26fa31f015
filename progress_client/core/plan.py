"""The request budget of a polling strategy, per job and per month: the numbers behind ``plan``.

Every polling figure comes from ``simulate()``, the real engine on a virtual clock, so the
planner prints what the client would do. Pure: no I/O, no clock.

Two choices, stated once:

- *Requests* are counted on the timeline exactly as given. A job whose last status appears at
  300 s costs a 1 s poller 301 requests (the first one goes at 0).
- *Detection lag* is pooled over ``PHASES`` copies of the timeline with every change moved later
  by ``k / PHASES`` of the policy's longest interval. Status changes do not wait for the poller:
  evenly spaced changes on whole seconds would land exactly on a 1 s or 3 s poller's grid and
  show a lag of zero, which no real job gets.

SSE is modelled, not simulated: one connection per job plus one reconnect per
``sse_reconnect_every`` seconds of connection (a proxy or load balancer closing long-lived
connections), and one publish per status change on the server; the push arrives at once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from progress_client.core.models import StatusSpec
from progress_client.core.policy import AdaptivePolicy, ExponentialPolicy, FixedPolicy, Policy
from progress_client.core.simulate import percentile, simulate

__all__ = [
    "DEFAULT_STRATEGIES",
    "PHASES",
    "Evaluation",
    "PlanInputs",
    "PlanRow",
    "detection_lags",
    "evaluate",
    "monthly",
    "parse_policy",
    "plan",
    "policy_strategy",
    "sse_connections",
    "validate_timeline",
]

#: How many placements of the changes the lag figures are pooled over.
PHASES = 16

#: The built-in rows, named as in the write-up's table.
DEFAULT_STRATEGIES: tuple[tuple[str, Policy], ...] = (
    ("fixed-1s", FixedPolicy(1.0)),
    ("fixed-3s", FixedPolicy(3.0)),
    ("adaptive", AdaptivePolicy(3.0, 1.0, 8.0)),
    ("exponential", ExponentialPolicy(1.0, 2.0, 30.0)),
)

Timeline = Sequence[tuple[float, str]]
#: A polling strategy for the frontier: a timeline in, the times its requests were sent out.
Strategy = Callable[[Timeline], Sequence[float]]


@dataclass(frozen=True)
class PlanInputs:
    """The workload and the price list a plan is computed for."""

    jobs_per_day: float = 50.0
    processing_requests: float = 25.0
    monthly_limit: float = 500_000.0
    days: float = 30.0
    price_per_100k: float = 0.20
    sse_reconnect_every: float = 1800.0

    def __post_init__(self) -> None:
        for name in ("jobs_per_day", "processing_requests", "days", "price_per_100k"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
        for name in ("monthly_limit", "sse_reconnect_every"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


@dataclass(frozen=True)
class Evaluation:
    """A strategy on one timeline: its requests (exact) and detection lag (phase-pooled)."""

    requests: int
    mean_lag: float
    p95_lag: float
    max_lag: float


@dataclass(frozen=True)
class PlanRow:
    """One strategy's line of the plan. Lags are in seconds; cost in the price's currency."""

    strategy: str
    policy: str
    polling_requests_per_job: int
    requests_per_job: float
    per_day: float
    per_month: int
    percent_of_limit: float
    headroom: float
    cost_per_month: float
    mean_lag: float
    p95_lag: float

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("percent_of_limit", "headroom", "cost_per_month"):
            d[key] = round(d[key], 2)
        for key in ("mean_lag", "p95_lag", "requests_per_job", "per_day"):
            d[key] = round(d[key], 3)
        return d


def monthly(
    requests_per_job: float,
    *,
    jobs_per_day: float = 50.0,
    days: float = 30.0,
    processing_requests: float = 0.0,
) -> int:
    """Requests a month: ``(requests_per_job + processing_requests) * jobs_per_day * days``.

    >>> monthly(300, processing_requests=25)
    487500
    """
    return round((requests_per_job + processing_requests) * jobs_per_day * days)


def validate_timeline(
    timeline: Sequence[Sequence[Any]], spec: StatusSpec | None = None
) -> list[tuple[float, str]]:
    """A timeline checked and sorted: ``[seconds, status]`` pairs, seconds finite and >= 0,
    at least two entries, the last one terminal. Raises ``ValueError`` with what is wrong."""
    spec = spec if spec is not None else StatusSpec()
    if not isinstance(timeline, Sequence) or isinstance(timeline, (str, bytes)):
        raise ValueError("a timeline is a list of [seconds, status] pairs")
    points: list[tuple[float, str]] = []
    for i, entry in enumerate(timeline):
        if (
            not isinstance(entry, Sequence)
            or isinstance(entry, (str, bytes))
            or len(entry) != 2
        ):
            raise ValueError(f"entry {i} is not a [seconds, status] pair")
        when, status = entry
        if isinstance(when, bool) or not isinstance(when, (int, float)):
            raise ValueError(f"entry {i}: seconds must be a number")
        if not (math.isfinite(when) and when >= 0):
            raise ValueError(f"entry {i}: seconds must be a finite number >= 0")
        if not isinstance(status, str) or not status.strip():
            raise ValueError(f"entry {i}: status must be a non-empty string")
        points.append((float(when), status))
    if len(points) < 2:
        raise ValueError("a timeline needs a start status and at least one change")
    points.sort(key=lambda p: p[0])
    last = points[-1][1].lower()
    if last not in spec.success and last not in spec.failure:
        raise ValueError(
            f"the last status ({points[-1][1][:40]!r}) is not terminal; end the timeline with "
            "a success or failure status such as 'completed'"
        )
    return points


def detection_lags(timeline: Timeline, request_times: Sequence[float]) -> list[float]:
    """How late each change (every entry after the first) was seen by requests sent at
    ``request_times``; a change no request came after is left out."""
    times = sorted(request_times)
    lags: list[float] = []
    j = 0
    for when, _ in sorted(timeline)[1:]:
        while j < len(times) and times[j] < when:
            j += 1
        if j < len(times):
            lags.append(times[j] - when)
    return lags


def shifted(timeline: Timeline, offset: float) -> list[tuple[float, str]]:
    """The timeline with every entry after the start moved ``offset`` seconds later."""
    points = sorted(timeline)
    return [points[0], *((t + offset, s) for t, s in points[1:])]


def evaluate(
    strategy: Strategy, timeline: Timeline, *, period: float, phases: int = PHASES
) -> Evaluation:
    """Requests on the timeline as given; lags pooled over ``phases`` placements of the
    changes spread across ``period`` seconds (the strategy's longest interval)."""
    if phases < 1:
        raise ValueError("phases must be >= 1")
    requests = len(strategy(timeline))
    lags: list[float] = []
    for k in range(phases):
        moved = shifted(timeline, period * k / phases) if period > 0 else list(timeline)
        lags += detection_lags(moved, strategy(moved))
    return Evaluation(
        requests=requests,
        mean_lag=sum(lags) / len(lags) if lags else 0.0,
        p95_lag=percentile(lags, 95.0),
        max_lag=max(lags, default=0.0),
    )


def policy_strategy(policy: Policy, spec: StatusSpec | None = None) -> Strategy:
    """A policy as a frontier strategy: the engine's request times from ``simulate``."""

    def run(timeline: Timeline) -> Sequence[float]:
        return simulate(policy, timeline, spec=spec).request_times

    return run


def sse_connections(duration: float, reconnect_every: float) -> int:
    """Connections an SSE watcher opens over ``duration`` seconds: one, plus a reconnect each
    time the connection reaches ``reconnect_every`` seconds."""
    return max(1, math.ceil(duration / reconnect_every - 1e-9))


def _row(
    name: str, label: str, polling: int, extra: float, lags: Evaluation, inputs: PlanInputs
) -> PlanRow:
    per_job = polling + extra + inputs.processing_requests
    per_month = monthly(per_job, jobs_per_day=inputs.jobs_per_day, days=inputs.days)
    return PlanRow(
        strategy=name,
        policy=label,
        polling_requests_per_job=polling,
        requests_per_job=per_job,
        per_day=per_job * inputs.jobs_per_day,
        per_month=per_month,
        percent_of_limit=100.0 * per_month / inputs.monthly_limit,
        headroom=inputs.monthly_limit / per_month if per_month else math.inf,
        cost_per_month=per_month / 100_000.0 * inputs.price_per_100k,
        mean_lag=lags.mean_lag,
        p95_lag=lags.p95_lag,
    )


def plan(
    timeline: Timeline,
    inputs: PlanInputs | None = None,
    *,
    extra: Sequence[Policy] = (),
    spec: StatusSpec | None = None,
) -> list[PlanRow]:
    """The plan's rows for one job's ``timeline``: ``fixed-1s``, ``fixed-3s``, ``adaptive``,
    ``exponential``, any ``extra`` policies (named by ``policy.name``), then ``sse``."""
    inputs = inputs if inputs is not None else PlanInputs()
    points = validate_timeline(timeline, spec)
    strategies = [*DEFAULT_STRATEGIES, *((p.name, p) for p in extra)]
    rows: list[PlanRow] = []
    for name, policy in strategies:
        ev = evaluate(policy_strategy(policy, spec), points, period=policy.bounds[1])
        rows.append(_row(name, policy.name, ev.requests, 0.0, ev, inputs))
    duration = points[-1][0] - points[0][0]
    connections = sse_connections(duration, inputs.sse_reconnect_every)
    publishes = len(points) - 1
    pushed = Evaluation(requests=connections, mean_lag=0.0, p95_lag=0.0, max_lag=0.0)
    label = f"sse(reconnect every {inputs.sse_reconnect_every:g}s)"
    rows.append(_row("sse", label, connections, float(publishes), pushed, inputs))
    return rows


_POLICY_RE = re.compile(r"^\s*(fixed|adaptive|exponential)\s*(?::\s*([0-9.,\s+x]*))?$")


def parse_policy(text: str) -> Policy:
    """``fixed:2``, ``adaptive:3,1,8``, ``exponential:1,2,30`` (initial, factor, maximum) to a
    policy; omitted numbers take the policy's defaults. Raises ``ValueError``."""
    m = _POLICY_RE.match(text.lower())
    if m is None:
        raise ValueError(
            f"unknown policy {text[:40]!r}: use fixed:S, adaptive:INITIAL,STEP,MAX or "
            "exponential:INITIAL,FACTOR,MAX"
        )
    kind, numbers = m.group(1), m.group(2) or ""
    try:
        values = [float(v.strip().lstrip("+x")) for v in numbers.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"policy {text[:40]!r}: the numbers do not parse") from None
    limits = {"fixed": 1, "adaptive": 3, "exponential": 3}
    if len(values) > limits[kind]:
        raise ValueError(f"policy {text[:40]!r}: {kind} takes at most {limits[kind]} numbers")

    def arg(i: int, default: float) -> float:
        return values[i] if i < len(values) else default

    if kind == "fixed":
        return FixedPolicy(arg(0, 1.0))
    if kind == "adaptive":
        return AdaptivePolicy(arg(0, 3.0), arg(1, 1.0), arg(2, 8.0))
    return ExponentialPolicy(arg(0, 1.0), arg(1, 2.0), arg(2, 30.0))
