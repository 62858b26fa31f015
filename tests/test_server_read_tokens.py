"""Read tokens on the reference server (``server/read_tokens.py``), over real HTTP on
127.0.0.1: with a read secret every job read (poll, long poll, stream) needs a Bearer token for
that job, unexpired; anything else is one and the same 401 that reveals nothing, not even
whether the job exists, with CORS headers for an allowed origin; the preflight allows
``Authorization``; ``progress-client serve`` takes the secret from ``--read-secret`` or the
environment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from benchmarks.procs import free_port
from progress_client.server import (
    MemoryStore,
    RunningServer,
    check_read_token,
    create_app,
    mint_read_token,
    serve_in_thread,
)
from tests.kit import wait_healthy

SECRET = "a-read-secret-of-enough-bytes"
ORIGIN = "http://127.0.0.1:9"  # the app's origin (only its name matters to CORS)
pytestmark = pytest.mark.e2e


def test_tokens_are_scoped_to_one_job_and_expire() -> None:
    token = mint_read_token(SECRET, "job-1", 60, now=1000.0)
    assert check_read_token(SECRET, token, "job-1", now=1000.0)
    assert check_read_token(SECRET, token, "job-1", now=1059.0)
    assert not check_read_token(SECRET, token, "job-1", now=1060.0)  # expired
    assert not check_read_token(SECRET, token, "job-2", now=1000.0)  # another job's
    assert not check_read_token("another-secret-of-16+bytes", token, "job-1", now=1000.0)
    version, job, expires, sig = token.split(".")
    forged = ".".join([version, job, str(int(expires) + 3600), sig])  # a longer life
    assert not check_read_token(SECRET, forged, "job-1", now=1000.0)
    for garbage in ("", "v1", "v1.a.b.c", "v2.am9iLTE.1060.xx", token + ".x", "é" * 10,
                    "v1.!!!.1060.!!!", "v1.am9iLTE.-5.abc"):
        assert not check_read_token(SECRET, garbage, "job-1", now=1000.0), garbage


def test_bad_secrets_and_ttls_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        mint_read_token("short", "job", 60)
    with pytest.raises(ValueError, match="at least 16 bytes"):
        create_app(MemoryStore(), read_secret="short")
    for ttl in (0, -1, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="ttl"):
            mint_read_token(SECRET, "job", ttl)


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    store = MemoryStore()
    app = create_app(store, read_secret=SECRET, cors_origins=[ORIGIN], keepalive=1.0)
    with serve_in_thread(app) as running:
        running.call(_write, store, "job-1", "running")
        running.call(_write, store, "job-2", "running")
        yield running


async def _write(store: MemoryStore, job: str, status: str) -> None:
    await store.update(job, status=status)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Origin": ORIGIN}


def test_reads_need_a_token_for_the_job(server: RunningServer) -> None:
    base = server.url
    good = mint_read_token(SECRET, "job-1", 60)
    answers: dict[str, Any] = {}
    with httpx.Client(base_url=base, timeout=10) as client:
        ok = client.get("/jobs/job-1", headers=_bearer(good))
        assert ok.status_code == 200 and ok.json()["status"] == "running"
        # Long poll with the token: held, then 304 with Preference-Applied.
        held = client.get("/jobs/job-1", headers={**_bearer(good), "Prefer": "wait=1",
                                                  "If-None-Match": ok.headers["ETag"]})
        assert held.status_code == 304 and held.headers["Preference-Applied"] == "wait=1"
        with client.stream("GET", "/jobs/job-1/events", headers=_bearer(good)) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            first = next(line for line in stream.iter_lines() if line.startswith("data:"))
            assert '"running"' in first
        cases = {
            "none": {"Origin": ORIGIN},
            "not bearer": {"Authorization": f"Basic {good}", "Origin": ORIGIN},
            "garbage": _bearer("not-a-token"),
            "another job's": _bearer(mint_read_token(SECRET, "job-2", 60)),
            "expired": _bearer(mint_read_token(SECRET, "job-1", 1, now=1.0)),
            "another secret's": _bearer(mint_read_token("x" * 16, "job-1", 60)),
        }
        for name, headers in cases.items():
            for path in ("/jobs/job-1", "/jobs/job-1/events", "/jobs/never-was"):
                answers[f"{name} {path}"] = client.get(path, headers=headers)
    bodies = {(r.status_code, r.content, r.headers["www-authenticate"]) for r in answers.values()}
    assert bodies == {(401, b'{"error": "unauthorized", "detail": "a valid read token is '
                            b'required"}', 'Bearer realm="progress-client"')}
    for name, r in answers.items():
        assert r.headers["access-control-allow-origin"] == ORIGIN, name
        assert r.headers["cache-control"] == "no-store", name
        assert "job" not in r.text and "never-was" not in r.text


def test_a_token_for_an_unknown_job_learns_only_that_job(server: RunningServer) -> None:
    token = mint_read_token(SECRET, "never-was", 60)
    r = httpx.get(f"{server.url}/jobs/never-was", headers=_bearer(token), timeout=10)
    assert r.status_code == 404


def test_the_token_names_the_job_the_router_reads(server: RunningServer) -> None:
    # /jobs/job%2D1 is job "job-1" (decoded once, as the router decodes it); /jobs/job%252D1
    # is "job%2D1", another job (an invalid id), which a token for "job-1" does not open.
    token = _bearer(mint_read_token(SECRET, "job-1", 60))
    r = httpx.get(f"{server.url}/jobs/job%2D1", headers=token, timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "running"
    r = httpx.get(f"{server.url}/jobs/job%252D1", headers=token, timeout=10)
    assert r.status_code == 401


def test_preflight_allows_authorization_and_health_needs_no_token(server: RunningServer) -> None:
    r = httpx.options(f"{server.url}/jobs/job-1", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization,if-none-match"}, timeout=10)
    assert r.status_code == 204
    allowed = {h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "if-none-match", "prefer", "last-event-id"} <= allowed
    assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200


@pytest.mark.parametrize("how", ["flag", "env"])
def test_serve_takes_the_secret_from_the_flag_or_the_environment(how: str) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PROGRESS_CLIENT_READ_SECRET"}
    args = [sys.executable, "-m", "progress_client", "serve", "--port", str(port)]
    if how == "flag":
        args += ["--read-secret", SECRET]
    else:
        env["PROGRESS_CLIENT_READ_SECRET"] = SECRET
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base, "progress-client serve")
        assert httpx.get(f"{base}/jobs/a", timeout=10).status_code == 401
        token = mint_read_token(SECRET, "a", 60)
        r = httpx.get(f"{base}/jobs/a", headers={"Authorization": f"Bearer {token}"}, timeout=10)
        assert r.status_code == 404  # authorized; the job was never written
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    assert SECRET not in err and "Traceback" not in err


def test_serve_refuses_a_short_secret_cleanly() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "progress_client", "serve", "--port", str(free_port()),
         "--read-secret", "short"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "at least 16 bytes" in proc.stderr and "Traceback" not in proc.stderr
