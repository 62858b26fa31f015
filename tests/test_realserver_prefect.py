"""The prefect-flow-run profile against a real Prefect server (``prefect server start``), not an
imitation: a deployment's flow run is started with ``run``, moved through its states by the
test (as a worker would: ``POST /api/flow_runs/{id}/set_state``), and read, ended, paused and
cancelled as Prefect itself reports them.

Marked ``realserver`` and left out of the default run (Prefect is a large install, not a
dependency); ``.ci/run`` installs it in a venv of its own and runs ``pytest -m realserver``
with ``PROGRESS_CLIENT_PREFECT`` naming its ``prefect`` executable."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from benchmarks.procs import free_port
from progress_client import (
    AdaptivePolicy,
    AsyncProgressClient,
    JobFailed,
    PollTimeout,
    ProgressClient,
)

pytestmark = pytest.mark.realserver

ROOT = Path(__file__).resolve().parents[1]
POLICY = AdaptivePolicy(0.1, 0.1, 0.4)
FAST = ["--initial", "0.1", "--step", "0.1", "--max", "0.4"]


def _prefect() -> str:
    found = os.environ.get("PROGRESS_CLIENT_PREFECT") or shutil.which("prefect")
    if not found:
        pytest.fail("the realserver tests need Prefect: set PROGRESS_CLIENT_PREFECT to a "
                    "'prefect' executable (.ci/run installs one)")
    return found


@pytest.fixture(scope="module")
def prefect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prefect server on 127.0.0.1 (its own home, no UI, no analytics); its API URL."""
    home = tmp_path_factory.mktemp("prefect-home")
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_UI_ENABLED": "false",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    log = (home / "server.log").open("wb")
    proc = subprocess.Popen(
        [_prefect(), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    api = f"http://127.0.0.1:{port}/api"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the Prefect server did not start: "
                            + (home / "server.log").read_text(errors="replace")[-2000:])
            time.sleep(0.5)
        yield api
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def deployment(api: str, name: str) -> str:
    """A new deployment of its own (so its flow runs are the test's alone); its id."""
    flow = httpx.post(f"{api}/flows/", json={"name": f"etl-{name}"}).json()
    made = httpx.post(f"{api}/deployments/", json={"name": name, "flow_id": flow["id"]})
    assert made.status_code in (200, 201), made.text
    return str(made.json()["id"])


def the_run(api: str, dep: str, timeout: float = 30) -> str:
    """The id of the one flow run of deployment ``dep``, once it exists."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = httpx.post(f"{api}/flow_runs/filter",
                          json={"deployments": {"id": {"any_": [dep]}}}).json()
        if runs:
            return str(runs[0]["id"])
        time.sleep(0.1)
    raise AssertionError("no flow run was created")


def set_state(api: str, run: str, kind: str, name: str, message: str | None = None) -> None:
    body: dict[str, Any] = {"state": {"type": kind, "name": name, "message": message},
                            "force": True}
    r = httpx.post(f"{api}/flow_runs/{run}/set_state", json=body)
    assert r.status_code in (200, 201) and r.json()["status"] == "ACCEPT", r.text


def drive(api: str, dep: str, states: list[tuple[str, str, str | None]]) -> threading.Thread:
    """A worker of sorts: once the run exists, move it through ``states``, 0.3 s apart."""
    def work() -> None:
        run = the_run(api, dep)
        for kind, name, message in states:
            time.sleep(0.3)
            set_state(api, run, kind, name, message)

    t = threading.Thread(target=work, daemon=True)
    t.start()
    return t


def test_a_flow_run_started_and_completed_sync(prefect: str) -> None:
    dep = deployment(prefect, "completes")
    worker = drive(prefect, dep, [("PENDING", "Pending", None), ("RUNNING", "Running", None),
                                  ("COMPLETED", "Completed", None)])
    with ProgressClient(policy=POLICY) as client:
        done = client.run(f"{prefect}/deployments/{dep}/create_flow_run",
                          json={"parameters": {}}, profile="prefect-flow-run", timeout=60)
    worker.join(10)
    assert done.status.status == "COMPLETED"
    assert isinstance(done.result, dict) and done.result["type"] == "COMPLETED"
    assert done.status_url == f"{prefect}/flow_runs/{the_run(prefect, dep)}"
    assert done.report.requests >= 3  # the start, then the polls that saw the changes


def test_a_crashed_flow_run_fails_with_prefects_message_async(prefect: str) -> None:
    dep = deployment(prefect, "crashes")
    worker = drive(prefect, dep, [("RUNNING", "Running", None),
                                  ("CRASHED", "Crashed", "the worker's pod was evicted")])

    async def main() -> JobFailed:
        async with AsyncProgressClient(policy=POLICY) as client:
            with pytest.raises(JobFailed) as caught:
                await client.run(f"{prefect}/deployments/{dep}/create_flow_run", json={},
                                 profile="prefect-flow-run", timeout=60)
        return caught.value

    err = anyio.run(main)
    worker.join(10)
    assert err.status is not None and err.status.status == "CRASHED"
    assert "the worker's pod was evicted" in err.message


def test_a_paused_flow_run_needs_a_person_cli(prefect: str) -> None:
    dep = deployment(prefect, "pauses")
    worker = drive(prefect, dep, [("RUNNING", "Running", None),
                                  ("PAUSED", "Suspended", "approve the release")])
    p = subprocess.run(
        [sys.executable, "-m", "progress_client", "run",
         f"{prefect}/deployments/{dep}/create_flow_run", "-d", "{}",
         "--profile", "prefect-flow-run", *FAST, "--timeout", "60", "--json"],
        capture_output=True, text=True, timeout=90, cwd=ROOT,
    )
    worker.join(10)
    assert p.returncode == 5, p.stderr
    out = json.loads(p.stdout)
    assert out["outcome"] == "needs_action" and out["status"] == "PAUSED"
    assert "approve the release" in out["error"]
    assert out["status_url"] == f"{prefect}/flow_runs/{the_run(prefect, dep)}"


def test_cancel_on_exit_is_accepted_by_prefect(prefect: str) -> None:
    dep = deployment(prefect, "cancelled")
    worker = drive(prefect, dep, [("RUNNING", "Running", None)])
    with ProgressClient(policy=POLICY) as client, pytest.raises(PollTimeout) as caught:
        client.run(f"{prefect}/deployments/{dep}/create_flow_run", json={},
                   profile="prefect-flow-run", timeout=4, cancel_on_exit=True)
    worker.join(10)
    assert caught.value.cancelled_remote is True
    state = httpx.get(f"{prefect}/flow_runs/{the_run(prefect, dep)}").json()["state"]
    assert state["type"] in ("CANCELLING", "CANCELLED")
