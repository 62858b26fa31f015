"""plan --budget: which policy fits a rate budget, from the engine on a virtual clock."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from progress_client.core.budget import Limit, parse_limit
from progress_client.core.plan import PlanInputs, monthly
from progress_client.core.plan_fit import CANDIDATES, fit_budget, requests_in_window
from progress_client.core.policy import AdaptivePolicy, FixedPolicy
from progress_client.core.simulate import evenly_spaced_timeline, simulate

TIMELINE = evenly_spaced_timeline(300, 5)


def test_a_month_window_is_the_planners_month() -> None:
    inputs = PlanInputs()
    assert requests_in_window(48, inputs, 30 * 86400) == monthly(
        48, processing_requests=25, jobs_per_day=50, days=30)


def test_the_recommendation_fits_and_has_the_least_lag_of_those_that_fit() -> None:
    fits = fit_budget(TIMELINE, parse_limit("400000/month"))
    best = fits[0]
    assert best.fits
    assert all(best.mean_lag <= f.mean_lag for f in fits if f.fits)
    assert [f for f in fits if not f.fits] == fits[len([f for f in fits if f.fits]):]
    # What it says a policy spends is what the engine sends.
    policy = next(p for p in CANDIDATES if p.name == best.policy)
    assert best.polling_requests_per_job == len(simulate(policy, TIMELINE).request_times)


def test_the_default_adaptive_schedule_is_judged_by_its_true_cost() -> None:
    fits = fit_budget(TIMELINE, parse_limit("500000/month"),
                      candidates=[AdaptivePolicy(3, 1, 8), FixedPolicy(1)])
    by_name = {f.policy: f for f in fits}
    assert by_name["adaptive(3,+1,8)"].requests_in_window == 109_500  # the plan's row
    assert by_name["fixed(1)"].requests_in_window == 489_000
    assert all(f.fits for f in fits)


def test_a_tight_budget_recommends_a_lazier_schedule_and_none_when_nothing_fits() -> None:
    hourly = fit_budget(TIMELINE, Limit(100, 3600.0))
    assert hourly[0].fits and hourly[0].polling_requests_per_job < 48
    hopeless = fit_budget(TIMELINE, Limit(1, 3600.0))
    assert not any(f.fits for f in hopeless)
    # Then the most frugal comes first.
    assert hopeless[0].requests_in_window == min(f.requests_in_window for f in hopeless)


def run_plan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "progress_client", "plan", *args],
                          capture_output=True, text=True, timeout=120)


def test_cli_budget_json_and_table() -> None:
    done = run_plan("--budget", "500000/month", "--json")
    assert done.returncode == 0, done.stderr
    budget = json.loads(done.stdout)["budget"]
    assert budget["usable"] == 400_000 and budget["max_share_percent"] == 80
    assert budget["recommended"]["fits"] is True
    assert budget["default"]["policy"] == "adaptive(3,+1,8)"
    assert budget["default"]["requests_in_window"] == 109_500
    table = run_plan("--budget", "100/h", "--max-share", "50", "--processing-requests", "0")
    assert table.returncode == 0
    assert "fits with the least lag" in table.stdout and "does not fit" in table.stdout


@pytest.mark.parametrize(("args", "says"), [
    (["--budget", "often"], "not a rate limit"),
    (["--budget", "100/h", "--max-share", "120"], "at most 100"),
])
def test_cli_budget_bad_input_is_a_usage_error(args: list[str], says: str) -> None:
    done = run_plan(*args)
    assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr
