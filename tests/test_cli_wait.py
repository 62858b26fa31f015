"""`progress-client wait` end to end: a real process against a real server on 127.0.0.1.
Exit codes, --json, the summary line, hints, deadlines, and no secret or traceback in output."""

from __future__ import annotations

import email.utils
import json
import os
import subprocess
import sys
import time

import pytest

from progress_client import AdaptivePolicy

from .conftest import free_port
from .kit import JobServer, Reply
from .serving import cli, ctrl_c, fixture

FAST = ["--initial", "0.3", "--step", "0.1", "--max", "0.8"]


server = fixture(JobServer)


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return cli("wait", *args, timeout=timeout)


def no_traceback(p: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in p.stderr and "Traceback" not in p.stdout


def test_schedule_json_and_report_match_the_server(server: JobServer) -> None:
    url = server.job(
        "job", [(0, "queued"), (0.5, "running"), (1.2, "rendering"), (1.9, "completed")],
        etag=False,
    ).url
    p = run(url, *FAST, "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    seen = server.requests("/jobs/job")
    assert out["outcome"] == "succeeded" and out["status"] == "completed"
    assert out["requests"] == len(seen)
    served = [s.served for s in seen]
    assert out["changes"] == sum(1 for a, b in zip(served, served[1:]) if a != b) == 3
    policy = AdaptivePolicy(0.3, 0.1, 0.8)
    unchanged = 0
    for i in range(1, len(seen)):
        unchanged = 0 if i == 1 or served[i - 1] != served[i - 2] else unchanged + 1
        gap = seen[i].at - seen[i - 1].at
        assert abs(gap - policy.delay(unchanged)) <= 0.090, (i, gap)
    for key in ("baseline_requests", "saved_requests", "saved_percent", "elapsed_s", "error",
                "not_modified", "mode"):
        assert key in out
    assert out["error"] is None
    no_traceback(p)


def test_summary_line(server: JobServer) -> None:
    url = server.job("s", [(0, "running"), (1.0, "done")], etag=False).url
    p = run(url, *FAST, "--baseline", "0.1")
    assert p.returncode == 0
    line = p.stdout.strip().splitlines()[-1]
    assert line.startswith("done after ") and "fewer than polling every 0.1s" in line


SECRETS = {
    "path": "/home/deploy/app/worker/render.py",
    "ip": "10.20.30.40",
    "stripe": "sk_live_51HqLyjWDarjtT1zdp7dcXYZ",
    "jwt": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0",
    "password": "hunter2-very-secret",
}


@pytest.mark.parametrize("mode", ["text", "json"])
def test_failed_job_exits_1_without_secrets(server: JobServer, mode: str) -> None:
    error = (
        f"render crashed in {SECRETS['path']} talking to {SECRETS['ip']}:6379 with key "
        f"{SECRETS['stripe']} token {SECRETS['jwt']} via "
        f"postgres://app:{SECRETS['password']}@db.internal/videos"
    )
    url = server.script("failed", [Reply(200, {"status": "failed", "error": error})]).url
    p = run(url, *FAST, *(["--json"] if mode == "json" else []))
    assert p.returncode == 1
    output = p.stdout + p.stderr
    for secret in SECRETS.values():
        assert secret not in output
    assert "render crashed" in output
    if mode == "json":
        assert json.loads(p.stdout)["outcome"] == "failed"
    no_traceback(p)


def test_timeout_exits_3_promptly(server: JobServer) -> None:
    url = server.job("forever", [(0, "running")], etag=False).url
    start = time.monotonic()
    p = run(url, "--timeout", "2", "--json")
    took = time.monotonic() - start
    assert p.returncode == 3
    assert took < 2.9
    out = json.loads(p.stdout)
    assert out["outcome"] == "timeout" and out["status"] == "running"
    no_traceback(p)


def test_429_retry_after_seconds_is_honoured(server: JobServer) -> None:
    url = server.script(
        "busy",
        [Reply(429, b"", {"Retry-After": "1"}), Reply(200, {"status": "done"})],
    ).url
    p = run(url, *FAST, "--json")
    assert p.returncode == 0, p.stderr
    seen = server.requests("/jobs/busy")
    assert len(seen) == 2
    assert 1.0 <= seen[1].at - seen[0].at < 1.09
    assert json.loads(p.stdout)["hint_waits"] == 1


def test_503_retry_after_http_date_is_honoured(server: JobServer) -> None:
    target = time.time() + 3
    when = email.utils.formatdate(target, usegmt=True)
    url = server.script(
        "maint", [Reply(503, b"", {"Retry-After": when}), Reply(200, {"status": "done"})]
    ).url
    p = run(url, *FAST, "--json")
    assert p.returncode == 0, p.stderr
    seen = server.requests("/jobs/maint")
    gap = seen[1].at - seen[0].at
    # The client waits until the date (one-second resolution), measured from when the 503
    # was answered; without the hint it would have waited delay(1) = 0.4 s.
    expected = email.utils.parsedate_to_datetime(when).timestamp() - seen[0].wall
    assert expected > 0.8
    assert expected - 0.1 <= gap <= expected + 0.2
    assert json.loads(p.stdout)["hint_waits"] == 1


@pytest.mark.parametrize(
    ("reply", "needle"),
    [
        (Reply(200, "<html><body>Login</body></html>", {"Content-Type": "text/html"}),
         "not JSON"),
        (Reply(404, {"error": "no such job"}), "HTTP 404"),
        (Reply(200, [1, 2, 3]), "array"),
        (Reply(200, {"state": "running"}), "no 'status' field"),
    ],
)
def test_bad_endpoints_exit_4_with_a_clear_message(
    server: JobServer, reply: Reply, needle: str
) -> None:
    url = server.script("bad", [reply]).url
    p = run(url, *FAST)
    assert p.returncode == 4
    assert needle in p.stderr
    no_traceback(p)


def test_closed_port_times_out_with_exit_3() -> None:
    url = f"http://127.0.0.1:{free_port()}/jobs/1"
    start = time.monotonic()
    p = run(url, *FAST, "--timeout", "1.5")
    assert p.returncode == 3
    assert time.monotonic() - start < 3.0
    assert "could not connect" in p.stderr or "deadline" in p.stderr
    no_traceback(p)


def test_closed_port_gives_up_with_exit_4() -> None:
    url = f"http://127.0.0.1:{free_port()}/jobs/1"
    p = run(url, "--initial", "0.05", "--step", "0", "--max", "0.05", "--max-errors", "3")
    assert p.returncode == 4
    assert "3 failed requests in a row" in p.stderr and "could not connect" in p.stderr
    no_traceback(p)


@pytest.mark.parametrize(
    "args",
    [
        ["http://x/jobs/1", "-H", "no colon"],
        ["http://x/jobs/1", "--initial", "-1"],
        ["http://x/jobs/1", "--initial", "5", "--max", "1"],
        ["http://x/jobs/1", "--status-field", "a..b"],
        [],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    p = run(*args)
    assert p.returncode == 2
    no_traceback(p)


def test_headers_are_sent_and_never_printed(server: JobServer) -> None:
    token = "ghp_0123456789abcdefghijklmnopqrstuvwxyz"
    url = server.script("auth", [Reply(403, {"error": "forbidden"})]).url
    p = run(url, *FAST, "-H", f"Authorization: Bearer {token}", "--json")
    assert p.returncode == 4
    assert server.requests("/jobs/auth")[0].headers["authorization"] == f"Bearer {token}"
    assert token not in p.stdout + p.stderr


def test_ctrl_c_exits_130_without_a_traceback(server: JobServer) -> None:

    # The URL carries a mark of this run, so the poll waited for is this process's own (a
    # CLI left polling by another test could reach a server that reuses its port).
    mark = f"run={os.getpid()}-{time.monotonic_ns()}"
    url = server.job("long", [(0, "running")], etag=False).url + "?" + mark
    proc = subprocess.Popen(
        [sys.executable, "-m", "progress_client", "wait", url, "--initial", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 10
    while (not any(mark in s.path for s in server.requests("/jobs/long"))
           and time.monotonic() < deadline):
        time.sleep(0.02)  # wait for the first poll: the CLI is up and sleeping
    out, err = ctrl_c(proc)
    assert proc.returncode == 130
    assert "interrupted" in err and "Traceback" not in err + out
