"""The strategy frontier: requests per job against detection lag, exact, on the virtual clock.

Our policies run through ``simulate()`` (the real engine); the peers run their own loops on a
fake clock (``peers.py``); SSE and the oracle floor are counted. Lags come from the planner's
``evaluate`` (pooled over placements of the changes), so every row is measured the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.peers import PEERS
from benchmarks.traces import TRACES, Trace
from progress_client.core.plan import PHASES, evaluate, policy_strategy, sse_connections
from progress_client.core.policy import AdaptivePolicy, ExponentialPolicy, FixedPolicy, Policy

__all__ = ["FrontierRow", "frontier", "markdown", "plot_frontier", "target_checks"]

OURS: tuple[tuple[str, Policy], ...] = (
    ("fixed-1s", FixedPolicy(1.0)),
    ("fixed-3s", FixedPolicy(3.0)),
    ("fixed-8s", FixedPolicy(8.0)),
    ("adaptive", AdaptivePolicy(3.0, 1.0, 8.0)),
    ("exponential", ExponentialPolicy(1.0, 2.0, 30.0)),
)
#: SSE is assumed to reconnect once per 30 minutes of connection, as in ``plan``.
SSE_RECONNECT_EVERY = 1800.0


@dataclass(frozen=True)
class FrontierRow:
    trace: str
    strategy: str
    kind: str  # "ours", "peer", "push", "floor"
    requests: int
    mean_lag: float
    p95_lag: float
    max_lag: float


def frontier(
    traces: dict[str, tuple[str, Trace]] | None = None, *, phases: int = PHASES
) -> list[FrontierRow]:
    rows: list[FrontierRow] = []
    for trace, (_, timeline) in (traces or TRACES).items():
        for name, policy in OURS:
            ev = evaluate(policy_strategy(policy), timeline, period=policy.bounds[1],
                          phases=phases)
            rows.append(FrontierRow(trace, name, "ours", ev.requests, ev.mean_lag, ev.p95_lag,
                                    ev.max_lag))
        for name, (_, period, run) in PEERS.items():
            ev = evaluate(run, timeline, period=period, phases=phases)
            rows.append(FrontierRow(trace, name, "peer", ev.requests, ev.mean_lag, ev.p95_lag,
                                    ev.max_lag))
        duration = timeline[-1][0] - timeline[0][0]
        rows.append(FrontierRow(trace, "sse", "push",
                                sse_connections(duration, SSE_RECONNECT_EVERY), 0.0, 0.0, 0.0))
        rows.append(FrontierRow(trace, "oracle", "floor", len(timeline), 0.0, 0.0, 0.0))
    return rows


def target_checks(rows: Sequence[FrontierRow]) -> list[tuple[str, str, bool]]:
    """(trace, what was checked with the figure, met?) for the frontier's targets."""
    out: list[tuple[str, str, bool]] = []
    by = {(r.trace, r.strategy): r for r in rows}
    for trace in dict.fromkeys(r.trace for r in rows):
        fixed, adaptive = by[(trace, "fixed-1s")], by[(trace, "adaptive")]
        share = adaptive.requests / fixed.requests
        out.append((trace, f"adaptive sends {adaptive.requests}/{fixed.requests} = "
                           f"{100 * share:.1f}% of fixed-1s (<= 25%)", share <= 0.25))
        out.append((trace, f"adaptive p95 lag {adaptive.p95_lag:.2f} s (<= 8 s)",
                    adaptive.p95_lag <= 8.0))
        sse = by[(trace, "sse")]
        out.append((trace, f"sse {sse.requests} requests/job (<= 2)", sse.requests <= 2))
    return out


def markdown(rows: Sequence[FrontierRow]) -> str:
    lines = [
        "| trace | strategy | requests/job | vs fixed-1s | mean lag (s) | p95 lag (s) | "
        "max lag (s) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    fixed = {r.trace: r.requests for r in rows if r.strategy == "fixed-1s"}
    for r in rows:
        share = f"{100 * r.requests / fixed[r.trace]:.1f}%" if r.trace in fixed else ""
        lines.append(f"| {r.trace} | {r.strategy} | {r.requests} | {share} | {r.mean_lag:.2f} | "
                     f"{r.p95_lag:.2f} | {r.max_lag:.2f} |")
    return "\n".join(lines)


def plot_frontier(rows: Sequence[FrontierRow], path: Path) -> None:
    """One point per strategy per trace: requests per job (log) against p95 lag."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    traces = list(dict.fromkeys(r.trace for r in rows))
    strategies = list(dict.fromkeys(r.strategy for r in rows))
    markers = dict(zip(traces, ["o", "s", "^", "D", "v", "P"], strict=False))
    cmap = plt.get_cmap("tab10")
    colours = {s: cmap(i % 10) for i, s in enumerate(strategies)}
    fig, ax = plt.subplots(figsize=(10, 6.5), dpi=110)
    for r in rows:
        ax.scatter(r.p95_lag, r.requests, marker=markers[r.trace], color=colours[r.strategy],
                   s=70 if r.strategy == "adaptive" else 42,
                   edgecolors="black" if r.strategy == "adaptive" else "none",
                   zorder=5 if r.strategy == "adaptive" else 3)
    for trace in traces:
        pts = sorted((r.p95_lag, r.requests) for r in rows
                     if r.trace == trace and r.strategy == "adaptive")
        for x, y in pts:
            ax.annotate(f"adaptive, {trace}", (x, y), textcoords="offset points",
                        xytext=(6, 4), fontsize=7)
    ax.set_yscale("log")
    ax.set_xlabel("p95 detection lag (s): how late a status change is seen")
    ax.set_ylabel("requests per job (log scale)")
    ax.set_title("Polling strategies: requests per job vs p95 lag (virtual clock, exact)")
    ax.grid(True, which="both", alpha=0.3)
    from matplotlib.lines import Line2D

    strategy_handles = [Line2D([], [], marker="o", linestyle="", color=colours[s], label=s)
                        for s in strategies]
    trace_handles = [Line2D([], [], marker=markers[t], linestyle="", color="grey", label=t)
                     for t in traces]
    first = ax.legend(handles=strategy_handles, title="strategy", loc="upper right",
                      fontsize=8)
    ax.add_artist(first)
    ax.legend(handles=trace_handles, title="trace", loc="upper center", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
