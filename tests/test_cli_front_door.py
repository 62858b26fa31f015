"""The command line's front door, end to end on 127.0.0.1: failures shown as they happen in
plain words, no savings claimed for what nobody answered, usage errors before any request
(one line, exit 2), the resume hint after a timeout or a Ctrl-C, the user's own URL echoed as
typed (credentials hidden), and the help's examples and exit codes. The Python twins of each
(``WaitConfig``'s floor, ``PollTimeout`` and ``TooManyErrors`` with the last error) too."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest

from progress_client import (
    AdaptivePolicy,
    AsyncProgressClient,
    FixedPolicy,
    PollReport,
    PollTimeout,
    ProgressClient,
    TooManyErrors,
)
from progress_client.cli._common import byte_size, format_size, shown_url, summary_line
from progress_client.core.config import WaitConfig

from .faultserver import FaultServer, refused_url, reset_before_headers, stall_before_headers
from .faultserver import status as fault_status
from .kit import JobServer, Reply
from .serving import cli, ctrl_c, fixture, make_certificate

pytestmark = pytest.mark.e2e

FAST = ["--initial", "0.05", "--step", "0.05", "--max", "0.2"]
REFUSED = "could not connect (connection refused)"


server = fixture(JobServer)


def clean(p: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in p.stderr + p.stdout


# -- failures as they happen -------------------------------------------------------------------


def test_the_first_failure_is_shown_at_once_then_ctrl_c_says_how_to_resume() -> None:
    url = refused_url()
    # The second try is 5 s away and the wait has 60 s: a line seen now came at once.
    proc = subprocess.Popen(
        [sys.executable, "-m", "progress_client", "wait", url, "--initial", "5",
         "--timeout", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stderr is not None
    first = proc.stderr.readline()  # blocks until the line comes
    assert proc.poll() is None, "the line came only when the wait ended"
    assert first.strip() == f"progress-client: {url}: {REFUSED}"
    out, err = ctrl_c(proc)
    assert proc.returncode == 130
    assert "interrupted" in err and "Traceback" not in err + out
    assert f"to go on where this wait stopped: progress-client wait {url} --resume '{{" in err


def test_quiet_shows_no_failure_line_and_json_carries_the_last_error() -> None:
    url = refused_url()
    quiet = cli("wait", url, *FAST, "--max-errors", "2", "-q")
    assert quiet.returncode == 4
    assert quiet.stderr.strip().splitlines() == [
        f"progress-client: error: gave up after 2 failed requests in a row (last error: "
        f"{REFUSED})"]
    p = cli("wait", url, *FAST, "--timeout", "1", "--json")
    assert p.returncode == 3
    out = json.loads(p.stdout)
    # Every request was refused; on a busy machine the one in flight at the deadline may be
    # cut by it instead, and then that is the last error the wait saw.
    assert out["last_error"] in (REFUSED, "timed out")
    assert out["requests"] >= 2 and out["answered"] == 0 and out["unanswered"] == out["requests"]
    # Nothing was answered: no saving is claimed (it claimed 84% before).
    assert out["baseline_requests"] == 0 and out["saved_requests"] == 0
    assert out["saved_percent"] == 0.0
    assert "none answered" in out["error"] and f"last error: {out['last_error']}" in out["error"]
    assert out["resume_token"]
    clean(p)


def test_a_wait_nobody_answers_claims_no_saving() -> None:
    p = cli("wait", refused_url(), *FAST, "--max-errors", "3")
    assert p.returncode == 4
    lines = p.stderr.strip().splitlines()
    assert lines[-1].startswith("error after 3 requests in ") and lines[-1].endswith(
        ", none answered")
    assert "fewer than polling" not in p.stderr
    clean(p)


def test_an_unresolvable_name_is_said_plainly() -> None:
    p = cli("wait", "http://no-such-host.invalid/jobs/1", *FAST, "--max-errors", "1", "--json")
    assert p.returncode == 4
    out = json.loads(p.stdout)
    assert out["last_error"] == "could not connect (name not resolved)"
    # The user's own host is named in the line shown as it happens.
    assert "http://no-such-host.invalid/jobs/1: could not connect (name not resolved)" in (
        p.stderr)


def test_a_stalled_server_is_said_to_have_timed_out() -> None:
    with FaultServer() as faults:
        url = faults.route("/jobs/slow", stall_before_headers())
        p = cli("wait", url, *FAST, "--timeout", "1.5")
    assert p.returncode == 3
    assert f"progress-client: {url}: timed out" in p.stderr
    assert "last error: timed out" in p.stderr
    assert f"progress-client wait {url} --resume " in p.stderr
    clean(p)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    assert openssl is not None, "the openssl binary makes the throwaway certificate"
    cert, key = make_certificate(openssl, tmp_path_factory.mktemp("tls"))
    return cert, key


def test_an_untrusted_certificate_is_said_plainly(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    with FaultServer(ssl_context=ctx) as tls:
        url = tls.route("/jobs/tls", fault_status("completed"))
        p = cli("wait", url, *FAST, "--json")
        # What the message advises works: the command trusts the CA it is given.
        trusted = subprocess.run(
            [sys.executable, "-m", "progress_client", "wait", url, *FAST, "--json"],
            capture_output=True, text=True, timeout=60, check=False,
            env={**os.environ, "SSL_CERT_FILE": str(cert)},
        )
    assert p.returncode == 4
    out = json.loads(p.stdout)
    assert out["last_error"].startswith("TLS: certificate verify failed (self-signed")
    assert "SSL_CERT_FILE=ca.pem" in out["last_error"] and "verify=" not in p.stdout
    assert out["requests"] == 1 and out["answered"] == 0
    assert trusted.returncode == 0, trusted.stderr
    assert json.loads(trusted.stdout)["status"] == "completed"


# -- the Python clients say the same -------------------------------------------------------------


def test_both_clients_give_up_naming_the_last_error_and_cost_the_same() -> None:
    url = refused_url()
    policy = AdaptivePolicy(0.05, 0.05, 0.1)
    with ProgressClient(policy=policy, max_consecutive_errors=3) as client, pytest.raises(
        TooManyErrors
    ) as sync_info:
        client.wait(url, timeout=30)

    async def main(transport: str) -> TooManyErrors:
        async with AsyncProgressClient(policy=policy, max_consecutive_errors=3,
                                       transport=transport) as client:
            with pytest.raises(TooManyErrors) as info:
                await client.wait(url, timeout=30)
        return info.value

    errors = [sync_info.value, anyio.run(main, "httpx"), anyio.run(main, "aiohttp")]
    for err in errors:
        assert err.message == f"gave up after 3 failed requests in a row (last error: {REFUSED})"
        assert err.last_error == REFUSED
        assert err.report is not None
        assert (err.report.requests, err.report.answered, err.report.saved_requests) == (3, 0, 0)


def test_both_clients_time_out_naming_the_last_error() -> None:
    url = refused_url()
    policy = AdaptivePolicy(0.05, 0.05, 0.1)
    with ProgressClient(policy=policy) as client, pytest.raises(PollTimeout) as sync_info:
        client.wait(url, timeout=0.5)

    async def main() -> PollTimeout:
        async with AsyncProgressClient(policy=policy) as client:
            with pytest.raises(PollTimeout) as info:
                await client.wait(url, timeout=0.5)
        return info.value

    for err in (sync_info.value, anyio.run(main)):
        assert "no status seen" in err.message and "none answered" in err.message
        assert err.message.endswith(f"; last error: {REFUSED}")
        assert err.last_error == REFUSED and err.resume_token


def test_savings_count_only_the_answered_span() -> None:
    """Two answers, then the server is gone: the savings are counted over the answered
    0.1 s or so, not over the seconds of failures after it."""
    with FaultServer() as faults:
        url = faults.route("/jobs/gone", fault_status("running"), fault_status("running"),
                           reset_before_headers())
        with ProgressClient(policy=FixedPolicy(0.1), max_consecutive_errors=4) as client, \
                pytest.raises(TooManyErrors) as info:
            client.wait(url, timeout=30)
    report = info.value.report
    assert report is not None
    assert (report.requests, report.answered, report.unanswered) == (6, 2, 4)
    assert report.answered_elapsed < report.elapsed
    assert report.baseline_requests == int(report.answered_elapsed / 1.0) + 1 == 1
    assert report.saved_requests == 0
    assert info.value.message.endswith("(last error: network error (connection reset))")


def test_the_report_defines_savings_on_answers() -> None:
    none = PollReport(requests=10, answered=0, elapsed=62.0, answered_elapsed=0.0)
    assert (none.baseline_requests, none.saved_requests, none.saved_ratio) == (0, 0, 0.0)
    some = PollReport(requests=12, answered=10, elapsed=100.0, answered_elapsed=60.0)
    assert (some.baseline_requests, some.saved_requests, some.unanswered) == (61, 49, 2)
    d = some.to_dict()
    assert d["answered"] == 10 and d["unanswered"] == 2 and d["answered_elapsed_s"] == 60.0
    # The report's older fields are all still there.
    for key in ("requests", "baseline_requests", "saved_requests", "saved_percent",
                "elapsed_s", "errors", "mode"):
        assert key in d
    assert summary_line("done", PollReport(requests=1, answered=1)).startswith(
        "done after 1 request in ")
    assert summary_line("error", none, "timed out") == (
        "error after 10 requests in 1m02s, none answered; last error: timed out")
    assert "(2 not answered)" in summary_line("done", some)


# -- usage errors before any request ------------------------------------------------------------


@pytest.mark.parametrize(("args", "said"), [
    (["wait", "ftp://example.com/jobs/1"], "not an http(s) URL: 'ftp://example.com/jobs/1'"),
    (["wait", "example.com/jobs/1"], "did you mean https://example.com/jobs/1?"),
    (["wait", "http:///jobs/1"], "has no host"),
    (["wait", "{url}", "--events", "ftp://example.com/e"], "argument --events: not an http"),
    (["run", "ftp://example.com/start"], "not an http(s) URL"),
    (["run", "{url}", "--status-url", "ftp://example.com/jobs/{{id}}"], "--status-url takes"),
    (["wait", "{url}", "--initial", "0.01"], "--initial 0.01 is below the shortest interval"),
    (["wait", "{url}", "--max", "0.001"], "give --allow-fast-polling if you mean it"),
    (["run", "{url}", "--initial", "0.01"], "--initial 0.01 is below"),
    (["wait", "{url}", "--step", "-1"], "must be a finite number >= 0"),
    (["wait", "--long-poll", "{url}"], "write --long-poll=SECONDS"),
    (["wait", "{url}", "--max-body", "12Q"], "not a size: '12Q'"),
    (["wait", "{url}", "--max-errors", "0"], "must be at least 1"),
])
def test_usage_errors_exit_2_on_one_line_before_any_request(
    server: JobServer, args: list[str], said: str
) -> None:
    job = server.job("never", [(0, "done")], etag=False)
    p = cli(*[a.format(url=job.url) for a in args])
    assert p.returncode == 2, p.stderr
    [line] = p.stderr.strip().splitlines()
    assert said in line
    assert not server.requests("/jobs/never")
    clean(p)


def test_allow_fast_polling_lets_a_fast_wait_through(server: JobServer) -> None:
    url = server.job("fast", [(0, "running"), (1.0, "done")], etag=False).url
    p = cli("wait", url, "--initial", "0.01", "--step", "0", "--max", "0.01",
            "--allow-fast-polling", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["requests"] >= 5


def test_wait_config_has_the_same_floor() -> None:
    for policy in (FixedPolicy(0.01), AdaptivePolicy(0.01, 1, 8), FixedPolicy(0.0),
                   AdaptivePolicy(0.1, 1, 8, jitter=0.6)):
        with pytest.raises(ValueError, match="allow_fast_polling=True"):
            WaitConfig(policy=policy)
        assert WaitConfig(policy=policy, allow_fast_polling=True).policy is policy
        with pytest.raises(ValueError, match=r"below 0\.05 s"):
            ProgressClient(policy=policy)
        with pytest.raises(ValueError, match=r"below 0\.05 s"):
            AsyncProgressClient(policy=policy)
    WaitConfig(policy=FixedPolicy(0.05))
    WaitConfig()


def test_max_body_is_an_option_and_the_error_names_it(server: JobServer) -> None:
    doc = {"status": "done", "log": "x" * 3000}
    url = server.script("big", [Reply(200, doc)]).url
    small = cli("wait", url, *FAST, "--max-body", "1k")
    assert small.returncode == 4
    assert "raise --max-body (now 1kB)" in small.stderr and "max_body" not in small.stderr
    big = cli("wait", url, *FAST, "--max-body", "1MiB", "--json")
    assert big.returncode == 0, big.stderr
    assert json.loads(big.stdout)["status"] == "done"


def test_sizes() -> None:
    assert [byte_size(s) for s in ("1048576", "1MiB", "50M", "512k", "2GB", "1.5KiB", "7b")] \
        == [1 << 20, 1 << 20, 50_000_000, 512_000, 2_000_000_000, 1536, 7]
    for bad in ("", "0", "1 parsec", "-1k", "M"):
        with pytest.raises(Exception, match=r"size|at least"):
            byte_size(bad)
    assert [format_size(n) for n in (1 << 20, 50_000_000, 1000, 1234)] == [
        "1MiB", "50MB", "1kB", "1234 bytes"]


# -- how to go on --------------------------------------------------------------------------------


def test_a_timeout_prints_the_exact_command_that_resumes(server: JobServer) -> None:
    job = server.job("long", [(0, "running"), (2.5, "done")], etag=False)
    first = cli("wait", job.url, *FAST, "--timeout", "0.6")
    assert first.returncode == 3
    [hint] = [line for line in first.stderr.splitlines() if line.startswith("to go on")]
    command = shlex.split(hint.split(": ", 1)[1])
    assert command[:3] == ["progress-client", "wait", job.url] and command[3] == "--resume"
    before = len(server.requests("/jobs/long"))
    second = cli(*command[1:], "--json")
    assert second.returncode == 0, second.stderr
    out = json.loads(second.stdout)
    # The counts go on from the first run's: every request the server saw is in the report.
    assert out["requests"] == len(server.requests("/jobs/long")) > before


def test_ctrl_c_with_json_prints_the_resume_token(server: JobServer) -> None:
    job = server.job("held", [(0, "running")], etag=False)
    proc = subprocess.Popen(
        [sys.executable, "-m", "progress_client", "wait", job.url, "--initial", "5", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 20
    while not server.requests("/jobs/held") and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(1.0)  # the first answer read: the wait is asleep (5 s to the next poll)
    out, err = ctrl_c(proc)
    assert proc.returncode == 130, err
    data = json.loads(out)
    assert data["outcome"] == "interrupted" and data["status"] == "running"
    token = json.loads(data["resume_token"])
    assert token["url"] == job.url and token["state"]["requests"] >= 1


def test_the_sync_client_hands_a_token_with_ctrl_c(server: JobServer) -> None:
    job = server.job("stopped", [(0, "running"), (0.6, "done")], etag=False)
    seen: list[int] = []

    def hook(event: object) -> None:
        seen.append(1)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with ProgressClient(policy=FixedPolicy(0.05), on_request=hook) as client, pytest.raises(
        KeyboardInterrupt
    ) as info:
        client.wait(job.url, timeout=20)
    token = getattr(info.value, "resume_token", None)
    assert token is not None
    with ProgressClient(policy=FixedPolicy(0.05)) as client:
        result = client.wait(job.url, resume=token, timeout=20)
    assert result.status.status == "done"
    assert result.report.requests == len(server.requests("/jobs/stopped"))


# -- the user's own values ----------------------------------------------------------------------


def test_the_users_url_is_echoed_as_typed_minus_credentials() -> None:
    url = refused_url("/v1/jobs/42")
    port = url.split(":")[2].split("/")[0]
    typed = url.replace("http://", "http://alice:hunter2@") + "?token=s3cr3t&page=2&sig=abc"
    p = cli("wait", typed, *FAST, "--max-errors", "1", "-H", "X-Api-Key: k-123456789")
    assert p.returncode == 4
    shown = f"http://alice:***@127.0.0.1:{port}/v1/jobs/42?token=***&page=2&sig=***"
    assert p.stderr.splitlines()[0] == f"progress-client: {shown}: {REFUSED}"
    for secret in ("hunter2", "s3cr3t", "abc", "k-123456789"):
        assert secret not in p.stderr + p.stdout
    assert "[IP]" not in p.stderr and "[PATH]" not in p.stderr


def test_shown_url() -> None:
    assert shown_url("https://api.example.com:8443/v1/jobs/7?page=2") == (
        "https://api.example.com:8443/v1/jobs/7?page=2")
    assert shown_url("http://u:p@10.0.0.5/x?access_token=a&key=b&signature=c&q=d#frag") == (
        "http://u:***@10.0.0.5/x?access_token=***&key=***&signature=***&q=d#frag")
    assert shown_url("https://ghp_abc@github.com/o/r") == "https://***@github.com/o/r"
    assert shown_url("https://x.example/cb#access_token=t&state=s") == (
        "https://x.example/cb#access_token=***&state=s")
    assert shown_url("ftp://h/p?api_key=z") == "ftp://h/p?api_key=***"


# -- help -------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["wait", "run"])
def test_help_has_examples_exit_codes_and_one_duration_metavar(command: str) -> None:
    p = cli(command, "--help")
    assert p.returncode == 0
    text = p.stdout
    assert "examples:\n  progress-client " + command in text
    assert "exit codes:" in text
    for code in ("0 ", "1 ", "2 ", "3 ", "4 ", "130 "):
        assert f"\n  {code}" in text
    assert "--resume TOKEN" in text
    for flag in ("--timeout", "--initial", "--step", "--max", "--baseline"):
        assert f"{flag} SECONDS" in text, flag
    assert "--long-poll [SECONDS]" in text and "--max-body SIZE" in text
    for other in ("TIMEOUT", "INITIAL", "STEP", "MAXIMUM", "BASELINE", "LONG_POLL", "MAX_BODY"):
        assert other not in text, other


def test_usage_errors_echo_the_users_values_but_never_a_header_value(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-dir" / "out.mp4"
    body = tmp_path / "absent.json"
    p = cli("run", "http://127.0.0.1:9/start", "--output", str(missing))
    assert p.returncode == 2
    assert f"--output {missing}: cannot write in {missing.parent}" in p.stderr
    secret = "Bearer tok-" + "9" * 24
    p = cli("run", "http://127.0.0.1:9/start", "-d", f"@{body}", "-H",
            f"Authorization: {secret}", "-H", f"X-Echo: {body}")
    assert p.returncode == 2
    assert "[PATH]" not in p.stderr and secret not in p.stderr
    assert "-d @***: cannot read it" in p.stderr  # the header's value, hidden wherever it is


def test_on_a_terminal_the_first_failure_is_on_the_live_line() -> None:
    import pty
    import select

    url = refused_url()
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "progress_client", "wait", url, "--initial", "5",
         "--timeout", "60"],
        stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal,
    )
    os.close(terminal)
    seen = b""
    try:
        deadline = time.monotonic() + 30
        while b"connection refused" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.5)
            if ready:
                seen += os.read(controller, 4096)
        assert proc.poll() is None, "the failure was shown only when the wait ended"
        assert b"could not connect (connection refused)" in seen
        assert b"waiting for the first status" in seen  # the live line, not a log line
        assert f"progress-client: {url}".encode() not in seen
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
        os.close(controller)
    assert proc.returncode == 130


def test_the_async_client_hands_a_token_with_a_cancellation(server: JobServer) -> None:
    """The twin of the sync client's Ctrl-C token: a cancelled wait's exception carries it,
    and either client goes on from it, every request counted once."""
    import asyncio

    job = server.job("cancelled", [(0, "running"), (0.8, "done")], etag=False)
    tokens: list[str | None] = []

    answered: list[object] = []

    def hook(event: object) -> None:
        answered.append(event)
        if len(answered) == 2:  # cancelled at its next await: no request in flight
            task = asyncio.current_task()
            assert task is not None
            task.cancel()

    async def main() -> None:
        async with AsyncProgressClient(policy=FixedPolicy(0.05), on_request=hook) as client:

            async def waiter() -> None:
                try:
                    await client.wait(job.url, timeout=20)
                except asyncio.CancelledError as exc:
                    tokens.append(getattr(exc, "resume_token", None))
                    raise

            with pytest.raises(asyncio.CancelledError):
                await asyncio.create_task(waiter())

    asyncio.run(main())
    [token] = tokens
    assert token is not None
    with ProgressClient(policy=FixedPolicy(0.05)) as client:
        result = client.wait(job.url, resume=token, timeout=20)
    assert result.status.status == "done"
    assert result.report.requests == len(server.requests("/jobs/cancelled"))
