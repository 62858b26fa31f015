"""``progress-client demo`` at high speed (a couple of seconds), its usage errors, and what the
CLI does when the ``server`` extra is missing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from progress_client.cli import main
from progress_client.cli.demo import JOB_SECONDS, STATUSES

pytestmark = pytest.mark.e2e


def test_demo_json_adaptive_saves_requests(capsys: pytest.CaptureFixture[str]) -> None:
    # 50x (6 s of wall time): a job second is 20 ms, so the round trips of a busy machine
    # (a few ms each, up to tens when both cores are taken) stretch the 1 s poller's interval
    # by a fraction of a job second, not by one or more as they did at 150x.
    assert main(["demo", "--seconds", "6", "--json"]) == 0
    results = json.loads(capsys.readouterr().out)
    assert results["job_seconds"] == JOB_SECONDS == 300
    assert results["speed"] == 50
    assert results["wall_seconds"] < 6 + 10  # the job's 6 s, and no hang after it
    adaptive, fixed = results["strategies"]
    assert (adaptive["strategy"], fixed["strategy"]) == ("adaptive", "fixed 1s")
    assert adaptive["error"] is None and fixed["error"] is None
    # A fixed 1 s poller on a 300 s job sends about 300 requests; HTTP round trips at 150x
    # stretch its interval a little, so allow some slack below.
    assert 150 <= fixed["requests"] <= 305
    # Adaptive polling (3 s, +1 s, 8 s) on this job costs 45-60 requests.
    assert 30 <= adaptive["requests"] <= 70
    assert adaptive["saved_vs_fixed_1s"] == fixed["requests"] - adaptive["requests"]
    assert adaptive["saved_percent"] > 60
    # Lags are in job seconds: within the longest interval, plus slack for latency (6 job
    # seconds are 120 ms of wall time at 50x).
    assert 0 < adaptive["mean_lag_s"] <= adaptive["max_lag_s"] <= 8 + 6
    assert fixed["max_lag_s"] <= 1 + 6
    assert adaptive["per_month"] == round((adaptive["requests"] + 25) * 50 * 30)
    assert adaptive["percent_of_limit"] == round(100 * adaptive["per_month"] / 500_000, 1)


def test_demo_text_output_exits_zero() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "progress_client", "demo", "--speed", "150"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Traceback" not in proc.stderr
    assert "status server: http://127.0.0.1:" in out
    for status in STATUSES:
        assert f"worker     -> {status}" in out
        assert f"adaptive   sees {status}" in out or status == "queued"
    assert "per month" in out and "of limit" in out
    assert "adaptive polling saved" in out and "requests/month instead of" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--seconds", "5", "--speed", "10"], "not both"),
        (["demo", "--speed", "5000"], "speed must be"),
        (["demo", "--seconds", "0"], "--seconds must be > 0"),
        (["demo", "--web", "--json"], "--json is for the terminal demo"),
        (["demo", "--web", "--speed", "5000"], "speed must be"),
        (["demo", "--web", "--port", "70000"], "--port must be 0-65535"),
    ],
)
def test_demo_usage_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("command", ["demo", "serve"])
def test_missing_server_extra_is_a_clear_usage_error(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    assert main([command]) == 2
    err = capsys.readouterr().err
    assert f"progress-client {command}: needs uvicorn" in err
    assert "pip install 'progress-client[server]'" in err


def test_importing_the_package_and_cli_does_not_import_the_server() -> None:
    code = (
        "import sys, progress_client; from progress_client.cli import build_parser; "
        "build_parser(); print(sorted(m for m in ('starlette', 'uvicorn', 'redis') "
        "if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_demo_web_on_a_port_in_use_is_a_clean_error(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["demo", "--web", "--port", str(port), "--seconds", "1"]) == 4
    err = capsys.readouterr().err
    assert f"127.0.0.1:{port} is in use" in err and "Traceback" not in err
