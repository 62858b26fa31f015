"""``progress-client job set|get`` against a real ``progress-client serve`` on 127.0.0.1, the
worker token it keeps for this user (found with nothing copied between terminals), the exit
codes and messages for every failure, ``serve --access-log``, ``--read-only``, a non-loopback
bind, and serve's messages showing the user's own --redis-url (password hidden)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from benchmarks.procs import free_port
from progress_client.cli import _worker_token as wt
from progress_client.cli.serve import _redis_label
from tests.kit import wait_healthy
from tests.serving import cli

ROOT = Path(__file__).resolve().parents[1]


def _env(runtime: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != wt.ENV_TOKEN}
    return {**env, "XDG_RUNTIME_DIR": str(runtime), "PYTHONUNBUFFERED": "1", **extra}


def _cli(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return cli(*argv, env=env)


class Served:
    def __init__(self, proc: subprocess.Popen[str], port: int, env: dict[str, str]) -> None:
        self.proc, self.port, self.env = proc, port, env
        self.base = f"http://127.0.0.1:{port}"

    def job(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return _cli(self.env, "job", *argv, "--server", self.base)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=20)
        return err


def _serve(runtime: Path, *argv: str, host: str = "127.0.0.1", **env: str) -> Served:
    port = free_port()
    full = _env(runtime, **env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "progress_client", "serve", "--host", host, "--port", str(port),
         *argv], cwd=ROOT, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    served = Served(proc, port, full)
    try:
        wait_healthy(served.base, "progress-client serve")
    except AssertionError:
        proc.kill()
        raise AssertionError(proc.communicate()[1]) from None
    return served


@pytest.fixture
def runtime(tmp_path: Path) -> Path:
    path = tmp_path / "run"
    path.mkdir(mode=0o700)
    return path


@pytest.fixture
def served(runtime: Path) -> Iterator[Served]:
    s = _serve(runtime)
    try:
        yield s
    finally:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.communicate()


# -- the token file ---------------------------------------------------------------------------


def test_token_file_is_this_users_alone(runtime: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    token = wt.new_token()
    path = wt.write_token("127.0.0.1", 8123, token)
    assert path.parent == runtime / "progress-client"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert wt.read_token("127.0.0.1", 8123) == token
    assert wt.read_token("127.0.0.1", 8124) is None
    assert wt.read_token("localhost", 8123) is None  # keyed by the host as written
    path.chmod(0o644)  # readable by others: not trusted
    assert wt.read_token("127.0.0.1", 8123) is None
    path.chmod(0o600)
    wt.remove_token(path, "another-servers-token")
    assert path.exists()
    wt.remove_token(path, token)
    assert not path.exists()
    path.parent.chmod(0o755)
    with pytest.raises(OSError, match="not this user's alone"):
        wt.write_token("127.0.0.1", 8123, token)


def test_token_file_without_runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert wt.token_path("::1", 80) == (tmp_path / ".cache" / "progress-client" / "run"
                                        / "worker-token-__1-80")


def test_loopback_addresses() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert wt.is_loopback(host), host
    for host in ("0.0.0.0", "192.168.1.10", "example.com", "::", ""):
        assert not wt.is_loopback(host), host


def test_redis_label_shows_the_users_url_without_the_password() -> None:
    assert _redis_label("redis://10.1.2.3:6379/0") == "redis://10.1.2.3:6379/0"
    assert _redis_label("redis://:hunter2@cache.internal:6380/2") == (
        "redis://:***@cache.internal:6380/2")
    assert _redis_label("rediss://app:hunter2@[::1]/0") == "rediss://app:***@[::1]/0"
    assert _redis_label("redis://app@h/0?password=hunter2") == "redis://app@h/0?..."


def test_serve_usage_errors_show_what_was_typed(capsys: pytest.CaptureFixture[str]) -> None:
    from progress_client.cli import main

    assert main(["serve", "--port", "0", "--cors-origin", "http://10.0.0.5:3000/app"]) == 2
    assert "'http://10.0.0.5:3000/app'" in capsys.readouterr().err
    assert main(["serve", "--port", "0", "--cors-origin", "http://u:hunter2@10.0.0.5"]) == 2
    err = capsys.readouterr().err
    assert "'http://u:***@10.0.0.5'" in err and "hunter2" not in err
    assert main(["serve", "--port", "0", "--worker-token", "too-short"]) == 2
    err = capsys.readouterr().err
    assert "worker token must be 16-512 characters" in err and "too-short" not in err


# -- job set / get against serve ------------------------------------------------------------


@pytest.mark.e2e
def test_job_set_and_get_with_the_kept_token(served: Served, runtime: Path) -> None:
    token_file = runtime / "progress-client" / (
        f"worker-token-127.0.0.1-{served.port}")
    assert token_file.exists() and stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = token_file.read_text()

    done = served.job("set", "42", "--status", "running", "--progress", "40", "--step", "render")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "job 42: running, 40%, step render"
    got = served.job("get", "42")
    assert got.returncode == 0 and json.loads(got.stdout)["progress"] == 40.0
    done = served.job("set", "42", "--status", "completed", "--completed-step", "render",
                      "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["status"] == "completed"
    assert httpx.get(f"{served.base}/jobs/42").json()["status"] == "completed"

    err = served.stop()
    assert served.proc.returncode == 0
    assert token not in err and "Traceback" not in err
    assert not token_file.exists(), "serve left its token behind"


@pytest.mark.e2e
def test_job_errors_and_exit_codes(served: Served) -> None:
    wrong = _cli(served.env, "job", "set", "1", "--status", "x", "--server", served.base,
                 "--token", "not-the-servers-token-at-all")
    assert wrong.returncode == 4
    assert "refused the worker token from --token" in wrong.stderr
    assert "not-the-servers" not in wrong.stderr

    env_wrong = _cli({**served.env, wt.ENV_TOKEN: "not-the-servers-token-either"},
                     "job", "set", "1", "--status", "x", "--server", served.base)
    assert env_wrong.returncode == 4 and f"${wt.ENV_TOKEN}" in env_wrong.stderr

    refused = served.job("set", "1", "--status", "running", "--error", "x" * 20_000)
    assert refused.returncode == 2 and "over 16384 bytes" in refused.stderr

    bad = served.job("set", "1", "--status", " ")
    assert bad.returncode == 2
    assert "the server refused the update: status must be" in bad.stderr

    unknown = served.job("get", "nope")
    assert unknown.returncode == 4 and "unknown or expired" in unknown.stderr

    usage = served.job("set", "1", "--status", "running", "--progress", "0.4x")
    assert usage.returncode == 2 and "not a number" in usage.stderr
    usage = served.job("set", "1", "--status", "running", "--progress", "140")
    assert usage.returncode == 2 and "0 to 100" in usage.stderr
    usage = served.job("set", "a/b", "--status", "running")
    assert usage.returncode == 2 and "job id" in usage.stderr
    served.stop()

    down = served.job("set", "1", "--status", "running")
    assert down.returncode == 4
    assert f"cannot reach 127.0.0.1:{served.port}: connection refused" in down.stderr
    for out in (wrong, env_wrong, refused, bad, unknown, usage, down):
        assert "Traceback" not in out.stderr


@pytest.mark.e2e
def test_a_loopback_server_with_its_own_token(runtime: Path) -> None:
    token = "my-own-worker-token-0123456789"
    s = _serve(runtime, **{wt.ENV_TOKEN: token})
    try:
        assert not list(runtime.glob("progress-client/worker-token-*"))  # nothing to keep
        none = _cli({k: v for k, v in s.env.items() if k != wt.ENV_TOKEN},
                    "job", "set", "7", "--status", "running", "--server", s.base)
        assert none.returncode == 4 and "pass --token or set" in none.stderr
        ok = s.job("set", "7", "--status", "running")
        assert ok.returncode == 0, ok.stderr
    finally:
        err = s.stop()
    assert token not in err


@pytest.mark.e2e
def test_read_only_and_non_loopback_take_no_writes(runtime: Path) -> None:
    ro = _serve(runtime, "--read-only")
    try:
        out = ro.job("set", "7", "--status", "running")
        assert out.returncode == 4 and "takes no writes" in out.stderr
    finally:
        err = ro.stop()
    assert "no writes over HTTP (--read-only)" in err
    wide = _serve(runtime, host="0.0.0.0")
    try:
        r = httpx.put(f"{wide.base}/jobs/7", json={"status": "running"})
        assert r.status_code == 405 and r.json()["error"] == "writes_disabled"
        assert not list(runtime.glob("progress-client/worker-token-*"))
    finally:
        err = wide.stop()
    assert "not a loopback address" in err


@pytest.mark.e2e
def test_access_log_has_a_line_per_request_and_no_secret(runtime: Path) -> None:
    s = _serve(runtime, "--access-log")
    try:
        secret = "s3cr3t-query-value"
        httpx.get(f"{s.base}/jobs/9?token={secret}&wait=5")
        assert s.job("set", "9", "--status", "running").returncode == 0
        httpx.put(f"{s.base}/jobs/9", json={"status": "x"},
                  headers={"Authorization": "Bearer wrong-token-for-the-log"})
    finally:
        err = s.stop()
    token_lines = [ln for ln in err.splitlines() if '"' in ln and "HTTP/1.1" in ln]
    assert any('"GET /jobs/9?token=***&wait=*** HTTP/1.1" 404' in ln for ln in token_lines), err
    assert any('"PUT /jobs/9 HTTP/1.1" 201' in ln for ln in token_lines), err
    assert any('"PUT /jobs/9 HTTP/1.1" 401' in ln for ln in token_lines), err
    assert any('"GET /healthz HTTP/1.1" 200' in ln for ln in token_lines), err
    assert secret not in err and "wrong-token-for-the-log" not in err
    assert "Bearer" not in err and "uthorization" not in err


def test_job_imports_only_what_it_uses() -> None:
    from tests.test_startup import FORBIDDEN_ON_WAIT, probe

    watch = (*FORBIDDEN_ON_WAIT, "pydantic", "progress_client.core.engine",
             "progress_client.drivers.sync")
    out = probe("job", "set", "1", "--status", "x", "--server",
                f"http://127.0.0.1:{free_port()}", watch=watch)
    assert out == {"code": 4, "loaded": []}


def test_serve_on_a_port_in_use_is_a_clean_error(runtime: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = _cli(_env(runtime), "serve", "--port", str(port))
    assert out.returncode == 4
    assert f"cannot listen on 127.0.0.1:{port} (in use?" in out.stderr
    assert "Traceback" not in out.stderr
    assert not list(runtime.glob("progress-client/worker-token-*"))
