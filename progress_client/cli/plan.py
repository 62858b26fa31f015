"""``progress-client plan``: the monthly request budget of each polling strategy, side by side.

Every figure comes from ``progress_client.core.plan``, which runs the real engine on a virtual
clock; this module only reads the options and prints the rows (a table, or ``--json``). The
planner and rich are imported when the command runs, not when its parser is built.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from progress_client.core.budget import Limit, parse_limit
from progress_client.core.sanitize import sanitize

from . import COMMANDS, EXIT_OK, EXIT_USAGE
from ._common import emit_json, positive_float

if TYPE_CHECKING:
    from rich.table import Table

    from progress_client.core.plan import PlanInputs, PlanRow
    from progress_client.core.plan_fit import Fit
    from progress_client.core.policy import Policy

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "plan",
        help=COMMANDS["plan"],
        description=(
            "Compute requests per job, per day and per month, the share of a monthly limit, "
            "the pay-as-you-go cost and the detection lag of fixed, adaptive, exponential "
            "polling and SSE, with the same engine that polls for real."
        ),
    )
    p.add_argument("--jobs-per-day", type=positive_float, default=50.0, help="jobs a day (50)")
    p.add_argument("--job-seconds", type=_positive, default=300.0, metavar="SECONDS",
                   help="how long one job runs, in seconds (300)")
    shape = p.add_mutually_exclusive_group()
    shape.add_argument("--changes", type=_count, default=None,
                       help="evenly spaced status changes per job, the last one final (5)")
    shape.add_argument("--timeline", type=Path, default=None, metavar="FILE",
                       help="a JSON list of [seconds, status] pairs instead of --changes")
    p.add_argument("--processing-requests", type=positive_float, default=25.0,
                   help="server-side writes per job, added to every row (25)")
    p.add_argument("--monthly-limit", type=_positive, default=500_000.0,
                   help="requests a month in the plan (500000)")
    p.add_argument("--days", type=positive_float, default=30.0, help="days in a month (30)")
    p.add_argument("--price-per-100k", type=positive_float, default=0.20,
                   help="pay-as-you-go price per 100,000 requests (0.20)")
    p.add_argument("--sse-reconnect-every", type=_positive, default=1800.0, metavar="SECONDS",
                   help="assume an SSE connection is closed and reopened this often (1800)")
    p.add_argument("--policy", action="append", default=[], metavar="SPEC",
                   help="an extra row: fixed:S, adaptive:INITIAL,STEP,MAX or "
                        "exponential:INITIAL,FACTOR,MAX (repeatable)")
    p.add_argument("--budget", default=None, metavar="N/PERIOD",
                   help="a rate budget (500000/month, 5000/h, 60/m): say which policy fits "
                        "the traffic with the least detection lag, and what that lag is")
    p.add_argument("--max-share", type=_percent, default=80.0, metavar="PERCENT",
                   help="a policy fits when it spends at most this share of --budget (80)")
    p.add_argument("--json", action="store_true", help='print {"rows": [...]} on stdout')
    p.set_defaults(run=run)


def _percent(text: str) -> float:
    value = _positive(text)
    if value > 100:
        raise argparse.ArgumentTypeError(f"must be a percentage, at most 100: {text!r}")
    return value


def _positive(text: str) -> float:
    value = positive_float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1: {text!r}")
    return value


def _load_timeline(path: Path) -> list[tuple[float, str]]:
    # start-up: plan's parser loads no engine (tests/test_startup.py)
    from progress_client.core.plan import validate_timeline

    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"cannot read the timeline file ({exc.strerror or 'error'})") from None
    except (ValueError, RecursionError):
        raise ValueError("the timeline file is not valid JSON") from None
    return validate_timeline(raw)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console  # start-up: plan's parser loads no rich

    # start-up: plan's parser loads no engine (tests/test_startup.py)
    from progress_client.core.plan import PHASES, PlanInputs, parse_policy, plan
    from progress_client.core.simulate import evenly_spaced_timeline

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        if args.timeline is not None:
            timeline = _load_timeline(args.timeline)
        else:
            timeline = evenly_spaced_timeline(
                args.job_seconds, args.changes if args.changes is not None else 5
            )
        extra: list[Policy] = [parse_policy(spec) for spec in args.policy]
        inputs = PlanInputs(
            jobs_per_day=args.jobs_per_day,
            processing_requests=args.processing_requests,
            monthly_limit=args.monthly_limit,
            days=args.days,
            price_per_100k=args.price_per_100k,
            sse_reconnect_every=args.sse_reconnect_every,
        )
        rows = plan(timeline, inputs, extra=extra)
        fits = _fits(args, timeline, inputs)
    except ValueError as exc:
        err.print(f"progress-client plan: error: {sanitize(exc)}", markup=False)
        return EXIT_USAGE
    if args.json:
        emit_json({
            "inputs": {
                "jobs_per_day": inputs.jobs_per_day,
                "job_seconds": timeline[-1][0] - timeline[0][0],
                "changes": len(timeline) - 1,
                "processing_requests": inputs.processing_requests,
                "monthly_limit": inputs.monthly_limit,
                "days": inputs.days,
                "price_per_100k": inputs.price_per_100k,
                "sse_reconnect_every": inputs.sse_reconnect_every,
                "lag_phases": PHASES,
            },
            "rows": [row.to_dict() for row in rows],
            **({} if fits is None else {"budget": _budget_json(args, fits)}),
        })
        return EXIT_OK
    out = Console(highlight=False, width=max(130, Console().width))
    out.print(_table(rows, inputs, timeline))
    if fits is not None:
        out.print(_fit_table(args, fits))
        out.print(_verdict(args, fits), markup=False)
    return EXIT_OK


def _fits(args: argparse.Namespace, timeline: list[tuple[float, str]],
          inputs: PlanInputs) -> list[Fit] | None:
    """Every candidate policy against ``--budget`` (scaled by ``--max-share``), best first."""
    if args.budget is None:
        return None
    # start-up: plan's parser loads no engine (tests/test_startup.py)
    from progress_client.core.plan_fit import fit_budget

    stated = parse_limit(args.budget)
    usable = max(1, math.floor(stated.requests * args.max_share / 100.0))
    return fit_budget(timeline, Limit(usable, stated.window), inputs)


def _budget_json(args: argparse.Namespace, fits: list[Fit]) -> dict[str, Any]:
    best = fits[0]
    return {
        "budget": args.budget,
        "max_share_percent": args.max_share,
        "usable": best.budget,
        "window_s": best.window_s,
        "recommended": best.to_dict() if best.fits else None,
        "default": next((f.to_dict() for f in fits if f.policy == _DEFAULT), None),
        "candidates": [f.to_dict() for f in fits[:10]],
    }


#: The client's default schedule, named as ``Fit.policy`` names it.
_DEFAULT = "adaptive(3,+1,8)"


def _verdict(args: argparse.Namespace, fits: list[Fit]) -> str:
    best = fits[0]
    default = next((f for f in fits if f.policy == _DEFAULT), None)
    head = f"budget {args.budget} ({args.max_share:g}% of it usable: {best.budget:,}): "
    if not best.fits:
        return (head + "no policy tried fits; the most frugal, "
                f"{best.policy}, needs {best.requests_in_window:,.0f}. Fewer jobs, a larger "
                "budget, or Server-Sent Events (see the sse row) would fit.")
    line = (head + f"{best.policy} fits with the least lag: {best.requests_in_window:,.0f} "
            f"requests ({best.percent_of_budget:.1f}% of the usable), mean lag "
            f"{best.mean_lag:.1f}s, p95 {best.p95_lag:.1f}s.")
    if default is not None:
        state = "fits" if default.fits else "does not fit"
        line += (f" The default {default.policy} {state}: {default.requests_in_window:,.0f} "
                 f"requests, mean lag {default.mean_lag:.1f}s.")
    return line


def _fit_table(args: argparse.Namespace, fits: list[Fit]) -> Table:
    from rich.table import Table  # start-up: plan's parser loads no rich

    table = Table(title=f"Policies against {args.budget}, best first (top 8 of {len(fits)})",
                  title_justify="left")
    for header in ("policy", "polls/job", "in window", "% usable", "fits", "mean lag",
                   "p95 lag"):
        table.add_column(header, justify="left" if header == "policy" else "right",
                         no_wrap=True)
    for f in fits[:8]:
        table.add_row(f.policy, f"{f.polling_requests_per_job:,}",
                      f"{f.requests_in_window:,.0f}", f"{f.percent_of_budget:.1f}%",
                      "yes" if f.fits else "no", f"{f.mean_lag:.1f}s", f"{f.p95_lag:.1f}s")
    return table


def _table(rows: list[PlanRow], inputs: PlanInputs, timeline: list[tuple[float, str]]) -> Table:
    from rich.table import Table  # start-up: plan's parser loads no rich

    # start-up: plan's parser loads no engine (tests/test_startup.py)
    from progress_client.core.plan import PHASES

    seconds = timeline[-1][0] - timeline[0][0]
    title = (
        f"{inputs.jobs_per_day:g} jobs/day x {inputs.days:g} days, {seconds:g} s per job, "
        f"{len(timeline) - 1} status changes, +{inputs.processing_requests:g} server-side "
        f"requests per job; limit {inputs.monthly_limit:,.0f}/month"
    )
    table = Table(title=title, title_justify="left")
    for header in ("strategy", "polls/job", "req/job", "per day", "per month", "% limit",
                   "headroom", "$/month", "mean lag", "p95 lag"):
        if header == "strategy":
            table.add_column(header, no_wrap=True, min_width=max(len(r.strategy) for r in rows))
        else:
            table.add_column(header, justify="right", no_wrap=True)
    for r in rows:
        headroom = "inf" if math.isinf(r.headroom) else f"{r.headroom:.2f}x"
        table.add_row(
            r.strategy,
            f"{r.polling_requests_per_job:,}",
            f"{r.requests_per_job:,.0f}",
            f"{r.per_day:,.0f}",
            f"{r.per_month:,}",
            f"{r.percent_of_limit:.1f}%",
            headroom,
            f"{r.cost_per_month:,.2f}",
            f"{r.mean_lag:.1f}s",
            f"{r.p95_lag:.1f}s",
        )
    table.caption = (
        f"Lags pooled over {PHASES} placements of the changes within one polling interval. "
        f"sse: one connection per {inputs.sse_reconnect_every:g} s of job plus one publish per "
        "change on the server."
    )
    table.caption_justify = "left"
    return table
