"""The planner: its figures against the write-up's, its API, and the ``plan`` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from progress_client.cli import main
from progress_client.core.plan import (
    PlanInputs,
    detection_lags,
    evaluate,
    monthly,
    parse_policy,
    plan,
    policy_strategy,
    sse_connections,
    validate_timeline,
)
from progress_client.core.policy import AdaptivePolicy, ExponentialPolicy, FixedPolicy
from progress_client.core.simulate import evenly_spaced_timeline, simulate

VIDEO = evenly_spaced_timeline(300, 5)


def rows_by_name(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, dict]:
    assert main(["plan", *argv, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    return {row["strategy"]: row for row in out["rows"]}


def test_monthly_is_the_write_up_arithmetic() -> None:
    assert monthly(300, processing_requests=25) == 487_500
    assert monthly(10, jobs_per_day=2, days=3) == 60


def test_rows_are_named_and_ordered() -> None:
    names = [r.strategy for r in plan(VIDEO)]
    assert names == ["fixed-1s", "fixed-3s", "adaptive", "exponential", "sse"]


def test_fixed_1s_lands_on_the_write_up_month() -> None:
    row = {r.strategy: r for r in plan(VIDEO)}["fixed-1s"]
    # The first request goes at 0 and one sees the final status at 300 s: 301 polls.
    assert row.polling_requests_per_job == 301
    assert row.requests_per_job == 326
    assert row.per_month == 489_000
    assert abs(row.per_month - 487_500) <= 1_500


def test_polling_rows_are_the_engine_s_own_counts() -> None:
    rows = {r.strategy: r for r in plan(VIDEO)}
    for name, policy in [("fixed-3s", FixedPolicy(3.0)), ("adaptive", AdaptivePolicy()),
                         ("exponential", ExponentialPolicy(1.0, 2.0, 30.0))]:
        assert rows[name].polling_requests_per_job == simulate(policy, VIDEO).report.requests
    assert rows["adaptive"].polling_requests_per_job == 48


def test_derived_columns() -> None:
    inputs = PlanInputs(jobs_per_day=10, processing_requests=5, monthly_limit=100_000, days=20,
                        price_per_100k=1.0)
    row = {r.strategy: r for r in plan(VIDEO, inputs)}["fixed-3s"]
    per_job = 101 + 5
    assert row.requests_per_job == per_job
    assert row.per_day == per_job * 10
    assert row.per_month == per_job * 10 * 20
    assert row.percent_of_limit == pytest.approx(100 * per_job * 200 / 100_000)
    assert row.headroom == pytest.approx(100_000 / (per_job * 200))
    assert row.cost_per_month == pytest.approx(per_job * 200 / 100_000)


def test_sse_row_counts_connections_and_publishes() -> None:
    row = {r.strategy: r for r in plan(VIDEO)}["sse"]
    # One connection, five publishes (one per change), 25 processing writes.
    assert row.polling_requests_per_job == 1
    assert row.requests_per_job == 1 + 5 + 25
    assert row.p95_lag == 0.0
    long_job = [(0.0, "queued"), (50.0, "rendering"), (100.0, "completed")]
    every_minute = PlanInputs(sse_reconnect_every=60)
    assert plan(long_job, every_minute)[-1].polling_requests_per_job == 2
    assert plan(VIDEO, every_minute)[-1].polling_requests_per_job == 5


@pytest.mark.parametrize(
    ("seconds", "every", "expected"), [(0, 60, 1), (60, 60, 1), (61, 60, 2), (3600, 1800, 2)]
)
def test_sse_connections(seconds: float, every: float, expected: int) -> None:
    assert sse_connections(seconds, every) == expected


def test_detection_lags_from_request_times() -> None:
    timeline = [(0.0, "a"), (10.0, "b"), (20.0, "c"), (21.0, "done")]
    assert detection_lags(timeline, [0, 9, 12, 25]) == [2.0, 5.0, 4.0]
    # A change no request came after is left out.
    assert detection_lags(timeline, [0, 12]) == [2.0]


def test_lags_are_pooled_over_phases() -> None:
    # Changes on whole seconds sit on a 1 s poller's grid; pooled over placements the mean lag
    # is close to half an interval, as for a real job.
    ev = evaluate(policy_strategy(FixedPolicy(1.0)), VIDEO, period=1.0, phases=16)
    assert ev.requests == 301
    assert ev.mean_lag == pytest.approx(sum(1 - k / 16 for k in range(1, 16)) / 16)
    assert ev.max_lag < 1.0
    exact = evaluate(policy_strategy(FixedPolicy(1.0)), VIDEO, period=1.0, phases=1)
    assert exact.mean_lag == 0.0


def test_adaptive_lag_bounded_by_its_longest_interval() -> None:
    row = {r.strategy: r for r in plan(VIDEO)}["adaptive"]
    assert 0 < row.mean_lag < row.p95_lag <= 8.0


def test_extra_policies_become_rows() -> None:
    rows = plan(VIDEO, extra=[parse_policy("fixed:2"), parse_policy("adaptive:2,1,10")])
    names = [r.strategy for r in rows]
    assert names[-3:] == ["fixed(2)", "adaptive(2,+1,10)", "sse"]
    assert rows[-3].polling_requests_per_job == 151


@pytest.mark.parametrize(
    ("text", "policy"),
    [
        ("fixed:2", FixedPolicy(2.0)),
        ("fixed", FixedPolicy(1.0)),
        ("adaptive:3,1,8", AdaptivePolicy(3.0, 1.0, 8.0)),
        ("Adaptive:2", AdaptivePolicy(2.0, 1.0, 8.0)),
        ("exponential:1,2,30", ExponentialPolicy(1.0, 2.0, 30.0)),
    ],
)
def test_parse_policy(text: str, policy: object) -> None:
    assert parse_policy(text) == policy


@pytest.mark.parametrize("text", ["bogus", "fixed:1,2", "adaptive:a", "adaptive:10", "fixed:-1"])
def test_parse_policy_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_policy(text)


@pytest.mark.parametrize(
    ("timeline", "message"),
    [
        ([[0, "queued"]], "at least one change"),
        ([[0, "queued"], [10, "running"]], "not terminal"),
        ([[0, "queued"], [-1, "completed"]], ">= 0"),
        ([[0, "queued"], ["x", "completed"]], "number"),
        ([[0, "queued"], [5, ""]], "non-empty"),
        ([[0, "queued", 1]], "pair"),
        ("nope", "list"),
    ],
)
def test_validate_timeline_rejects(timeline: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_timeline(timeline)  # type: ignore[arg-type]


def test_validate_timeline_sorts() -> None:
    assert validate_timeline([[10, "done"], [0, "queued"]]) == [(0.0, "queued"), (10.0, "done")]


def test_plan_inputs_validated() -> None:
    with pytest.raises(ValueError, match="monthly_limit"):
        PlanInputs(monthly_limit=0)
    with pytest.raises(ValueError, match="jobs_per_day"):
        PlanInputs(jobs_per_day=float("nan"))


# -- the command ---------------------------------------------------------------------------


def test_cli_done_when(capsys: pytest.CaptureFixture[str]) -> None:
    rows = rows_by_name(
        ["--jobs-per-day", "50", "--job-seconds", "300", "--processing-requests", "25"], capsys
    )
    assert {"fixed-1s", "fixed-3s", "adaptive", "sse"} <= set(rows)
    fixed = rows["fixed-1s"]["per_month"]
    assert abs(fixed - 487_500) <= 1_500
    assert rows["adaptive"]["per_month"] <= 0.35 * fixed
    assert rows["sse"]["per_month"] < rows["adaptive"]["per_month"]
    for key in ("polling_requests_per_job", "requests_per_job", "per_day", "percent_of_limit",
                "headroom", "cost_per_month", "mean_lag", "p95_lag"):
        assert key in rows["adaptive"]


def test_cli_timeline_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "job.json"
    path.write_text(json.dumps([[0, "queued"], [20, "rendering"], [60, "completed"]]))
    rows = rows_by_name(["--timeline", str(path), "--processing-requests", "0"], capsys)
    assert rows["fixed-1s"]["polling_requests_per_job"] == 61
    assert rows["sse"]["requests_per_job"] == 1 + 2


def test_cli_extra_policy_and_limits(capsys: pytest.CaptureFixture[str]) -> None:
    rows = rows_by_name(["--policy", "fixed:5", "--monthly-limit", "1000000", "--days", "31"],
                        capsys)
    assert rows["fixed(5)"]["polling_requests_per_job"] == 61
    assert rows["fixed-1s"]["per_month"] == (301 + 25) * 50 * 31


def test_cli_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan"]) == 0
    out = capsys.readouterr().out
    for name in ("fixed-1s", "fixed-3s", "adaptive", "exponential", "sse", "489,000"):
        assert name in out


@pytest.mark.parametrize(
    "argv",
    [
        ["--policy", "bogus"],
        ["--changes", "0"],
        ["--job-seconds", "0"],
        ["--timeline", "no-such-file.json"],
        ["--changes", "3", "--timeline", "x.json"],
    ],
)
def test_cli_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        code = main(["plan", *argv])
        raise SystemExit(code)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "error" in err


def test_cli_bad_timeline_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    assert main(["plan", "--timeline", str(path)]) == 2
    err = capsys.readouterr().err
    assert "not valid JSON" in err
    assert str(tmp_path) not in err
