"""Every built-in profile end to end, against its vendor's imitation on 127.0.0.1
(``tests/vendors.py``): each scripted outcome driven four ways, through the command line (a real
``progress-client`` process: ``run`` where the API is started, ``wait`` where it is not), through
``ProgressClient``, and through ``AsyncProgressClient`` on asyncio and on trio. Checked for each:
the exit code or the exception, the failure's reason, the result in hand, and the requests
per job counted at the imitation (one per phase of the script, the start, the result's fetch;
the client's own count agrees). The traps are also waited on with ``wait --profile`` as a user
would. The closing table (``benchmarks/results/profiles.md``) is rendered from the same runs
and checked to be in step; ``PROGRESS_CLIENT_PROFILE_TABLE=PATH`` writes it there instead.

Fast on purpose: the policy is 0.05 s, +0.05 s, at most 0.2 s, and each driver runs the
vendors side by side (one vendor's scenarios in order: its start requests take its jobs in
turn)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest

from progress_client import AdaptivePolicy, AsyncProgressClient, PollError, ProgressClient

from .serving import cli, fixture
from .vendors import (
    JSONL_RESULTS,
    PROFILE_OF,
    REASONS,
    RUNNING,
    SCENARIOS,
    START_BODIES,
    VENDORS,
    Job,
    Step,
    VendorServer,
    video_bytes,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "benchmarks" / "results" / "profiles.md"
FAST = ["--initial", "0.05", "--step", "0.05", "--max", "0.2"]
POLICY = AdaptivePolicy(0.05, 0.05, 0.2)
EXIT = {"succeeded": 0, "failed": 1, "timeout": 3, "error": 4, "needs_action": 5}
#: What a result fetched by its own request is, at the imitation.
RESULT = {"answer": 42}
DRIVERS = ("cli", "sync", "asyncio", "trio")
ALL = [(v, s) for v, scripts in SCENARIOS.items() for s in scripts]


@dataclass
class Ran:
    """One scenario driven one way: how it ended, the client's count, the imitation's job."""

    outcome: str
    code: int | None
    requests: int | None
    message: str | None
    result: Any
    job: Job
    stderr: str = ""


def body_args(vendor: str, image: Path) -> list[str]:
    if vendor == "stability":  # multipart, as Stability's docs show
        return ["-F", f"image=@{image}", "-F", "seed=0"]
    body = START_BODIES.get(vendor)
    return [] if body is None else ["-d", json.dumps(body)]


def script(server: VendorServer, vendor: str, scenario: str) -> Job:
    phases, _ = SCENARIOS[vendor][scenario]
    return server.script(vendor, phases, result=RESULT,
                         started=VENDORS[vendor].start is None)


def run_cli(server: VendorServer, vendor: str, scenario: str, image: Path) -> Ran:
    job = script(server, vendor, scenario)
    if VENDORS[vendor].start is not None:
        args = ["run", server.start_url(vendor), *body_args(vendor, image)]
    else:
        args = ["wait", server.status_url(job)]
    p = cli(*args, "--profile", PROFILE_OF[vendor], *FAST, "--json")
    out = json.loads(p.stdout) if p.stdout.strip() else {}
    result = out.get("result") if out.get("result") is not None else out.get("result_bytes")
    return Ran(out.get("outcome", "?"), p.returncode, out.get("requests"), out.get("error"),
               result, job, p.stderr)


def run_sync(client: ProgressClient, server: VendorServer, vendor: str, scenario: str) -> Ran:
    job = script(server, vendor, scenario)
    profile = PROFILE_OF[vendor]
    try:
        if VENDORS[vendor].start is None:
            done = client.wait(server.status_url(job), profile=profile, timeout=20)
        else:
            done = client.run(server.start_url(vendor), json=START_BODIES.get(vendor),
                              profile=profile, timeout=20)
    except PollError as exc:
        requests = exc.report.requests if exc.report else None
        return Ran(exc.outcome, None, requests, exc.message, None, job)
    return Ran("succeeded", None, done.report.requests, None, done.result, job)


async def run_async(
    client: AsyncProgressClient, server: VendorServer, vendor: str, scenario: str
) -> Ran:
    job = script(server, vendor, scenario)
    profile = PROFILE_OF[vendor]
    try:
        if VENDORS[vendor].start is None:
            done = await client.wait(server.status_url(job), profile=profile, timeout=20)
        else:
            done = await client.run(server.start_url(vendor), json=START_BODIES.get(vendor),
                                    profile=profile, timeout=20)
    except PollError as exc:
        requests = exc.report.requests if exc.report else None
        return Ran(exc.outcome, None, requests, exc.message, None, job)
    return Ran("succeeded", None, done.report.requests, None, done.result, job)


def by_vendor(each: Callable[[str, str], Ran], workers: int) -> dict[tuple[str, str], Ran]:
    """``each(vendor, scenario)`` for every scenario: vendors side by side, a vendor's own
    scenarios in order."""
    def vendor_runs(vendor: str) -> list[tuple[tuple[str, str], Ran]]:
        return [((vendor, s), each(vendor, s)) for s in SCENARIOS[vendor]]

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return {k: r for runs in pool.map(vendor_runs, SCENARIOS) for k, r in runs}


async def by_vendor_async(server: VendorServer) -> dict[tuple[str, str], Ran]:
    found: dict[tuple[str, str], Ran] = {}
    async with AsyncProgressClient(policy=POLICY) as client:

        async def vendor_runs(vendor: str) -> None:
            for s in SCENARIOS[vendor]:
                found[(vendor, s)] = await run_async(client, server, vendor, s)

        async with anyio.create_task_group() as tg:
            for vendor in SCENARIOS:
                tg.start_soon(vendor_runs, vendor)
    return found


server = fixture(VendorServer, scope="module")


@pytest.fixture(scope="module")
def matrix(
    server: VendorServer, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[tuple[str, str], Ran]]:
    """Every scenario, each driver in turn (two drivers at once would share the imitation's
    queue of scripted starts)."""
    image = tmp_path_factory.mktemp("start") / "cat.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    runs: dict[str, dict[tuple[str, str], Ran]] = {}
    runs["cli"] = by_vendor(lambda v, s: run_cli(server, v, s, image), workers=4)
    with ProgressClient(policy=POLICY) as client:
        runs["sync"] = by_vendor(lambda v, s: run_sync(client, server, v, s), workers=8)
    for backend in ("asyncio", "trio"):
        runs[backend] = anyio.run(by_vendor_async, server, backend=backend)
    return runs


def expected_requests(vendor: str, scenario: str, ran: Ran) -> int:
    """At the imitation: the start (where there is one), one status request per phase, and
    the result's fetch where the profile fetches one."""
    phases, _ = SCENARIOS[vendor][scenario]
    return (1 if VENDORS[vendor].start else 0) + len(phases) + ran.job.results


CASES = [(d, v, s) for d in DRIVERS for v, s in ALL]


@pytest.mark.parametrize(("driver", "vendor", "scenario"), CASES,
                         ids=[f"{d}-{v}-{s}" for d, v, s in CASES])
def test_every_scripted_outcome(
    matrix: dict[str, dict[tuple[str, str], Ran]], driver: str, vendor: str, scenario: str
) -> None:
    ran = matrix[driver][(vendor, scenario)]
    phases, expected = SCENARIOS[vendor][scenario]
    assert ran.outcome == expected, (ran.message, ran.stderr)
    if driver == "cli":
        assert ran.code == EXIT[expected], ran.stderr
        assert "Traceback" not in ran.stderr
    job = ran.job
    # Every phase seen once, nothing sent twice, nothing cancelled; the client's count is
    # the imitation's.
    assert job.polls == len(phases)
    assert job.starts == (1 if VENDORS[vendor].start else 0)
    assert job.cancels == 0 and job.results <= (1 if expected == "succeeded" else 0)
    assert ran.requests == job.requests == expected_requests(vendor, scenario, ran)
    reason = REASONS.get((vendor, scenario))
    if reason is not None:
        assert ran.message is not None and reason in ran.message
    if expected == "succeeded" and VENDORS[vendor].start is not None:
        assert ran.result is not None  # run() ends with the result in hand
    if job.results and vendor in JSONL_RESULTS:  # a JSON-lines file: one line, parsed
        assert ran.result == [RESULT]
    elif job.results:
        assert ran.result in (RESULT, len(json.dumps(RESULT)))


def test_the_results_in_hand(matrix: dict[str, dict[tuple[str, str], Ran]]) -> None:
    # The documented results: Azure's resourceLocation and fal's response_url fetched,
    # Replicate's output from the final prediction, Stability's video (bytes), Azure's
    # Location polling's final 200 body.
    for driver in DRIVERS:
        runs = matrix[driver]
        assert runs[("azure", "succeeded")].result == RESULT
        assert runs[("fal", "succeeded")].result == RESULT
        assert runs[("replicate", "succeeded")].result == ["https://x/out.png"]
        assert runs[("azure-location", "succeeded")].result == {
            "name": "vm1", "properties": {"powerState": "running"}}
        stability = runs[("stability", "succeeded")].result
        assert stability == 1024 if driver == "cli" else len(stability) == 1024


#: The traps, waited on with 'progress-client wait STATUS_URL --profile NAME' (text mode).
TRAPS = [
    ("github-actions", "completed-failure", 1, "conclusion: failure"),
    ("fal", "completed-with-error", 1, "runner_error: Runner crashed"),
    ("google-operation", "done-with-error", 1, "The prompt was blocked"),
    ("replicate", "aborted", 1, "exceeded its deadline"),
    ("kubernetes-job", "failed", 1, "BackoffLimitExceeded"),
    ("databricks-run", "terminated-failed", 1, "FAILED: Task main failed with exit code 1"),
    ("celery-flower", "revoked", 1, "TaskRevokedError('terminated')"),
    ("openai-batch", "partial", 0, "completed after 2 requests"),
]


@pytest.fixture(scope="module")
def trap_runs(server: VendorServer) -> dict[str, tuple[subprocess.CompletedProcess[str], Job]]:
    def one(case: tuple[str, str, int, str]) -> tuple[subprocess.CompletedProcess[str], Job]:
        vendor, scenario, _, _ = case
        phases, _ = SCENARIOS[vendor][scenario]
        job = server.script(vendor, phases, started=True)
        return cli("wait", server.status_url(job), "--profile", vendor, *FAST), job

    with ThreadPoolExecutor(max_workers=4) as pool:
        return {case[0]: ran for case, ran in zip(TRAPS, pool.map(one, TRAPS))}


@pytest.mark.parametrize(("vendor", "scenario", "code", "said"), TRAPS,
                         ids=[f"{v}-{s}" for v, s, _, _ in TRAPS])
def test_traps_with_wait_and_a_profile(
    trap_runs: dict[str, tuple[subprocess.CompletedProcess[str], Job]],
    vendor: str, scenario: str, code: int, said: str,
) -> None:
    p, job = trap_runs[vendor]
    assert p.returncode == code, p.stderr
    assert said in p.stderr + p.stdout
    assert "Traceback" not in p.stderr
    assert job.polls == len(SCENARIOS[vendor][scenario][0])


def test_google_without_done_is_still_running(server: VendorServer) -> None:
    # An operation has no 'done' while it runs: that is "running", not a bad response.
    job = server.script("google-operation", [{}], started=True)
    # The CLI's deadline counts from its process start: 4 s leave a busy machine's start-up
    # (over 0.8 s with both cores taken) time for the polls that read the status.
    p = cli("wait", server.status_url(job), "--profile", "google-operation", *FAST,
            "--timeout", "4", "--json")
    assert p.returncode == 3, p.stderr
    out = json.loads(p.stdout)
    assert out["outcome"] == "timeout" and out["status"] == "running"
    assert job.polls >= 3 and out["requests"] == job.polls


# -- the closing table --------------------------------------------------------------------------


def render_table(runs: dict[str, dict[tuple[str, str], Ran]]) -> str:
    lines = [
        "# Built-in profiles, tested end to end",
        "",
        "Every built-in profile against its vendor's imitation on 127.0.0.1 "
        "(`tests/vendors.py`), each scripted outcome driven through the command line "
        "(`progress-client run` where the API is started, `wait` where it is not), "
        "`ProgressClient`, and `AsyncProgressClient` on asyncio and trio. Written by "
        "`tests/test_vendors_e2e.py` (`PROGRESS_CLIENT_PROFILE_TABLE=benchmarks/results/"
        "profiles.md python -m pytest tests/test_vendors_e2e.py`), which checks that this "
        "file is in step with what it measured.",
        "",
        "Requests per job are counted at the imitation: the start request (where the API is "
        "started), one status request per phase of the script (each is seen once: no phase "
        "skipped, none polled twice), and the result's own request where the profile fetches "
        "one; the client's report counts the same. The same figures came out on all four "
        "drivers.",
        "",
        "| profile | scenario | timeline (one phase per status request) | CLI exit | "
        "sync / asyncio / trio | requests per job | the failure's reason, or the result |",
        "|---|---|---|---:|---|---:|---|",
    ]
    for vendor, scenario in ALL:
        phases, _ = SCENARIOS[vendor][scenario]
        cli_run = runs["cli"][(vendor, scenario)]
        ends = {runs[d][(vendor, scenario)].outcome for d in ("sync", "asyncio", "trio")}
        counts = {runs[d][(vendor, scenario)].job.requests for d in DRIVERS}
        name = PROFILE_OF[vendor] + (" (Location)" if vendor == "azure-location" else "")
        command = "run" if VENDORS[vendor].start else "wait"
        lines.append(
            f"| `{name}` | {scenario} | {' → '.join(_phase(p) for p in phases)} | "
            f"{cli_run.code} ({command}) | {'/'.join(sorted(ends))} | "
            f"{'/'.join(str(c) for c in sorted(counts))} | {_said(vendor, scenario, cli_run)} |"
        )
    lines += [
        "",
        "Also checked (`tests/test_vendors_e2e.py`, `tests/test_cli_run.py`): the traps with "
        "`progress-client wait STATUS_URL --profile NAME`; Google's absent `done` is still "
        "running (exit 3 at the deadline); each hint header (`retry-after-ms`, "
        "`x-ms-retry-after-ms`, `openai-poll-after-ms`, `X-Poll-Interval`, `Retry-After`, and "
        "`Retry-After` on the start response) measured as the gap at the imitation; a hint "
        "past the deadline ends the wait at once (exit 3, a resume token); `--cancel-on-exit` "
        "sends exactly one cancel on timeout and on Ctrl-C and reports `cancelled_remote`; "
        "the start request is not sent again after a transport error unless the profile says "
        "it is idempotent; a Stability video of several MiB streamed to `run --output` "
        "(SHA-256 checked).",
        "",
        "And (`tests/test_profiles_schema2.py`): a profile's headers (`anthropic-version`, "
        "`OpenAI-Beta`) on every request of the job, the cancel included (Anthropic's "
        "imitation refuses a request without it, as Anthropic does); partial successes "
        "flagged in the summary and `--json`; a status that needs a person ends with exit 5, "
        "or is waited on with `--on-needs-action wait`; Jenkins' queue item then its build "
        "(two hops, the build's URL in `status_url`); Dagster's GraphQL polls (POSTs naming "
        "the run); cancel bodies; a generated idempotency key the same on a retried start; "
        "a base64 result decoded to `--output`; `run --json`'s `status_url` in full after a "
        "failure. `prefect-flow-run` also runs against a real Prefect server "
        "(`pytest -m realserver`).",
        "",
    ]
    return "\n".join(lines)


def _phase(phase: Any) -> str:
    if isinstance(phase, Step):
        return f"HTTP {phase.code}"
    if isinstance(phase, str):
        return f"`{phase}`"
    if not phase:
        return "`{}`"
    return "`" + ", ".join(_flat(phase)) + "`"


def _flat(doc: dict[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for key, value in doc.items():
        if isinstance(value, dict):
            out += _flat(value, f"{prefix}{key}.")
        elif key not in ("logs", "traceback", "output"):
            text = json.dumps(value) if not isinstance(value, str) else value
            out.append(f"{prefix}{key}={text if len(text) <= 28 else text[:25] + '...'}")
    return out


def _said(vendor: str, scenario: str, ran: Ran) -> str:
    """The failure's reason as the message gave it, or what the result in hand was (ids are
    left out: they depend on the order the imitation handed them out)."""
    if ran.outcome != "succeeded":
        text = (ran.message or ran.outcome).removeprefix("the job ended with ")
        text = re.sub(rf"\b{re.escape(ran.job.id)}\b", "N", text)  # a build's number
        return f"{text if len(text) <= 70 else text[:67] + '...'}"
    if vendor == "stability":
        return f"{ran.result} bytes (video/mp4)"
    if ran.job.results:
        return "fetched: `" + json.dumps(RESULT) + "`"
    if not VENDORS[vendor].start:
        return "(wait: no result)"
    # An id in the result (an endpoint's URL) is left out too, as in a failure's reason.
    return "in hand: " + re.sub(rf"\b{re.escape(ran.job.id)}\b", "ID", _shape(ran.result))


def _shape(value: Any) -> str:
    if isinstance(value, dict):
        keys = list(value)
        return "object {" + ", ".join(keys[:3]) + (", ...}" if len(keys) > 3 else "}")
    if isinstance(value, list):
        return f"array of {len(value)}"
    return f"`{json.dumps(value)}`"


def test_the_closing_table_is_in_step(matrix: dict[str, dict[tuple[str, str], Ran]]) -> None:
    text = render_table(matrix)
    target = os.environ.get("PROGRESS_CLIENT_PROFILE_TABLE")
    if target:
        Path(target).write_text(text, encoding="utf-8")
    assert TABLE.read_text(encoding="utf-8") == text, (
        "benchmarks/results/profiles.md is out of step: PROGRESS_CLIENT_PROFILE_TABLE="
        "benchmarks/results/profiles.md python -m pytest tests/test_vendors_e2e.py"
    )


# -- a job's life through both clients -----------------------------------------------------------

#: Every imitation whose profile names a cancel request.
CANCELLABLE = [v for v in VENDORS if VENDORS[v].cancel is not None and PROFILE_OF[v] == v]


def _start_or_wait(client: Any, server: VendorServer, vendor: str, job: Job, **kw: Any) -> Any:
    """The call that follows ``job``: ``run`` where the API is started and the job waits
    for its start, else ``wait`` on its status URL."""
    if VENDORS[vendor].start is None or job not in server.pending.get(vendor, []):
        return client.wait(server.status_url(job), profile=PROFILE_OF[vendor], **kw)
    return client.run(server.start_url(vendor), json=START_BODIES.get(vendor),
                      profile=PROFILE_OF[vendor], **kw)


#: The callers' deadline in the cancel tests: long enough for every vendor's start and first
#: polls side by side on a busy machine (both cores taken by other processes), so that each job
#: is started, and its cancel URL known, before it. A job whose start is still unanswered at
#: the deadline cannot be cancelled (no id yet): that is the client being right, and the test
#: being too hasty. All the waits run at once, so the test lasts about one deadline.
DEADLINE = 8.0
#: The cancel tests' schedule: a few polls per job before the deadline, not the dozens of
#: ``POLICY``: 34 waits polling every 0.2 s keep the in-process imitation (and the client's
#: threads, under one GIL) busy enough on a loaded machine to hold the starts back.
CANCEL_POLICY = AdaptivePolicy(0.5, 0.5, 1.0)


def test_cancel_on_timeout_sync(server: VendorServer) -> None:
    jobs = {v: server.script(v, [RUNNING[v]]) for v in CANCELLABLE}
    refused = server.script("runpod", [RUNNING["runpod"]], started=True, refuse_cancel=True)
    nothing = server.script("mlflow", [RUNNING["mlflow"]])

    def one(vendor: str, job: Job) -> PollError:
        with pytest.raises(PollError) as caught:
            _start_or_wait(client, server, vendor, job, timeout=DEADLINE, cancel_on_exit=True)
        return caught.value

    with ProgressClient(policy=CANCEL_POLICY) as client, \
            ThreadPoolExecutor(len(jobs) + 2) as pool:
        # Vendors side by side: each its own start, so its own job.
        late_run = pool.submit(one, "runpod", refused)
        none_run = pool.submit(one, "mlflow", nothing)
        errors = dict(zip(jobs, pool.map(one, jobs, jobs.values())))
        late, none = late_run.result(), none_run.result()
    for vendor, job in jobs.items():
        err = errors[vendor]
        assert err.outcome == "timeout" and err.cancelled_remote is True, (vendor, err)
        assert job.cancels == 1 and err.report is not None
        assert err.report.requests == job.requests, vendor
    assert late.cancelled_remote is False and refused.cancels == 1
    assert none.cancelled_remote is None and nothing.cancels == 0


@pytest.mark.anyio
async def test_cancel_on_timeout_and_on_cancellation_async(server: VendorServer) -> None:
    jobs = {v: server.script(v, [RUNNING[v]]) for v in CANCELLABLE}
    errors: dict[str, BaseException] = {}
    async with AsyncProgressClient(policy=CANCEL_POLICY) as client:

        async def one(vendor: str) -> None:
            try:
                await _start_or_wait(client, server, vendor, jobs[vendor], timeout=DEADLINE,
                                     cancel_on_exit=True)
            except PollError as exc:
                errors[vendor] = exc

        async with anyio.create_task_group() as tg:
            for vendor in jobs:
                tg.start_soon(one, vendor)
        # A cancelled caller (a cancel scope, Ctrl-C in a bot) cancels the remote job too,
        # its cancel request shielded from the cancellation.
        scoped = server.script("fal", ["IN_PROGRESS"])

        async def cancel_once_polled() -> None:
            with anyio.fail_after(30):
                while scoped.polls < 1:  # started and polled, however busy the machine
                    await anyio.sleep(0.01)
            scope.cancel()

        with anyio.CancelScope() as scope:
            async with anyio.create_task_group() as tg:
                tg.start_soon(cancel_once_polled)
                await client.run(server.start_url("fal"), json={}, profile="fal",
                                 cancel_on_exit=True)
    assert scope.cancelled_caught and scoped.cancels == 1 and scoped.polls >= 1
    for vendor, job in jobs.items():
        err = errors[vendor]
        assert isinstance(err, PollError) and err.outcome == "timeout", (vendor, err)
        assert err.cancelled_remote is True and job.cancels == 1, vendor


def test_a_hint_past_the_deadline_sync(server: VendorServer) -> None:
    job = server.script("github-actions", ["in_progress"], hints={"X-Poll-Interval": "60"},
                        started=True)
    with ProgressClient(policy=POLICY) as client:
        started = time.monotonic()
        with pytest.raises(PollError) as caught:
            client.wait(server.status_url(job), profile="github-actions", timeout=10)
        took = time.monotonic() - started
    err = caught.value
    # Ends once the hint is read, not at the 10 s deadline (about 0.1 s; half of the deadline
    # on however busy a machine: the time itself is not the point).
    assert err.outcome == "timeout" and took < 5.0 and job.polls == 1
    assert "asked to be polled again in 60s" in err.message
    assert getattr(err, "resume_token", None)


@pytest.mark.anyio
async def test_a_hint_past_the_deadline_async(server: VendorServer) -> None:
    job = server.script("azure", ["Running"], hints={"retry-after-ms": "45000"}, started=True)
    async with AsyncProgressClient(policy=POLICY) as client:
        started = anyio.current_time()
        with pytest.raises(PollError) as caught:
            await client.wait(server.status_url(job), profile="azure", timeout=10)
        took = anyio.current_time() - started
    err = caught.value
    # Ends once the hint is read, not at the 10 s deadline (about 0.1 s; half of the deadline
    # on however busy a machine: the time itself is not the point).
    assert err.outcome == "timeout" and took < 5.0 and job.polls == 1
    assert "asked to be polled again in 45s" in err.message
    assert getattr(err, "resume_token", None)


def _idempotent_replicate() -> Any:
    from progress_client.profiles.profile import parse_profile

    return parse_profile({"extends": "replicate", "start": {"idempotent": True}},
                         where="test profile")


def test_the_start_is_sent_once_sync(server: VendorServer) -> None:
    once = server.script("replicate", ["starting", "succeeded"], drop_starts=1)
    with ProgressClient(policy=POLICY) as client:
        with pytest.raises(PollError) as caught:
            client.run(server.start_url("replicate"), json={}, profile="replicate", timeout=10)
        server.discard(once)
        again = server.script("replicate", ["starting", "succeeded"], drop_starts=1)
        done = client.run(server.start_url("replicate"), json={},
                          profile=_idempotent_replicate(), timeout=10)
    assert caught.value.outcome == "error" and "not sent again" in caught.value.message
    assert once.starts == 1 and once.polls == 0
    assert done.status.status == "succeeded" and again.starts == 2
    assert done.report.errors == 1 and done.report.requests == again.requests


@pytest.mark.anyio
async def test_the_start_is_sent_once_async(server: VendorServer) -> None:
    once = server.script("replicate", ["starting", "succeeded"], drop_starts=1)
    async with AsyncProgressClient(policy=POLICY) as client:
        with pytest.raises(PollError) as caught:
            await client.run(server.start_url("replicate"), json={}, profile="replicate",
                             timeout=10)
        server.discard(once)
        again = server.script("replicate", ["starting", "succeeded"], drop_starts=1)
        done = await client.run(server.start_url("replicate"), json={},
                                profile=_idempotent_replicate(), timeout=10)
    assert "not sent again" in caught.value.message
    assert once.starts == 1 and once.polls == 0
    assert again.starts == 2 and done.report.requests == again.requests


VIDEO_SIZE = 5 * 1024 * 1024 + 321


def test_a_video_of_several_mib_is_streamed_to_output_sync(
    server: VendorServer, tmp_path: Path
) -> None:
    video = video_bytes(VIDEO_SIZE)
    job = server.script("stability", ["in-progress", "in-progress", "done"], result=video)
    out = tmp_path / "video.mp4"
    with ProgressClient(policy=POLICY) as client:
        done = client.run(server.start_url("stability"), data=b"--multipart--",
                          headers={"Content-Type": "multipart/form-data; boundary=x"},
                          profile="stability", output=out, timeout=20)
    assert done.result == out
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(video).digest()
    assert done.report.requests == job.requests == 4  # start, 3 polls: the last is the video


@pytest.mark.anyio
async def test_a_video_of_several_mib_is_streamed_to_output_async(
    server: VendorServer, tmp_path: Path
) -> None:
    video = video_bytes(VIDEO_SIZE)
    job = server.script("stability", ["in-progress", "done"], result=video)
    out = tmp_path / "video.mp4"
    async with AsyncProgressClient(policy=POLICY) as client:
        done = await client.run(server.start_url("stability"), data=b"x", profile="stability",
                                output=out, timeout=20)
    assert done.result == out
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(video).digest()
    assert done.report.requests == job.requests == 3  # start, 2 polls: the last is the video
