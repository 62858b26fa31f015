"""The schema's second round, on the vendors' imitations: request headers a profile sends
(never credentials), partial successes flagged in the report, ``--json`` and the summary."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import pytest

from progress_client import AdaptivePolicy, AsyncProgressClient, ProgressClient
from progress_client.profiles.profile import Profile, ProfileError, load_profile, parse_profile

from .serving import cli, fixture
from .vendors import PARTIAL_NOTES, SCENARIOS, START_BODIES, VendorServer

FAST = ["--initial", "0.05", "--step", "0.05", "--max", "0.2"]
POLICY = AdaptivePolicy(0.05, 0.05, 0.2)


server = fixture(VendorServer, scope="module")


# -- request headers -----------------------------------------------------------------------------


def test_profile_headers_go_with_every_request_of_the_job(server: VendorServer) -> None:
    # Anthropic refuses a request without anthropic-version (400); the profile sends it with
    # the start, every poll, the result's fetch and the cancel; the caller's key stays theirs.
    job = server.script("anthropic-batch", ["in_progress", "ended"])
    before = len(server.headers)
    with ProgressClient(policy=POLICY, headers={"x-api-key": "sk-ant-test"}) as client:
        done = client.run(server.start_url("anthropic-batch"),
                          json=START_BODIES["anthropic-batch"], profile="anthropic-batch",
                          timeout=20)
    assert done.status.status == "ended" and job.requests == 4  # start, 2 polls, results
    sent = server.headers[before:]
    assert len(sent) == 4
    assert all(h.get("anthropic-version") == "2023-06-01" for _, h in sent)
    assert all(h.get("x-api-key") == "sk-ant-test" for _, h in sent)
    # Without the profile, the imitation answers as Anthropic does.
    bare = server.script("anthropic-batch", ["in_progress"], started=True)
    p = cli("wait", server.status_url(bare), *FAST, "--timeout", "5", "--json")
    assert p.returncode == 4, p.stderr
    assert "HTTP 400" in json.loads(p.stdout)["error"]


@pytest.mark.anyio
async def test_profile_headers_async_and_on_the_cancel(server: VendorServer) -> None:
    job = server.script("openai-vector-store-batch", ["in_progress"])
    before = len(server.headers)
    async with AsyncProgressClient(policy=POLICY) as client:
        with pytest.raises(Exception) as caught:
            await client.run(server.start_url("openai-vector-store-batch"), json={},
                             profile="openai-vector-store-batch", timeout=0.6,
                             cancel_on_exit=True)
    assert getattr(caught.value, "cancelled_remote", None) is True and job.cancels == 1
    sent = server.headers[before:]
    assert len(sent) == job.requests
    assert all(h.get("openai-beta") == "assistants=v2" for _, h in sent)


@pytest.mark.parametrize("name", ["Authorization", "X-Api-Key", "Cookie", "api-key",
                                  "Ocp-Apim-Subscription-Key", "xi-api-key"])
def test_a_profile_never_holds_credentials(name: str) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile({"name": "x", "status": {"path": "s"}, "headers": {name: "secret"}},
                      where="profile file mine.toml")
    text = str(caught.value)
    assert "carries credentials" in text and "secret" not in text
    assert text.startswith("profile file mine.toml: headers:")


def test_profile_header_names_and_values_are_checked() -> None:
    with pytest.raises(ProfileError, match="not a header name"):
        parse_profile({"name": "x", "status": {"path": "s"}, "headers": {"bad name": "1"}})
    with pytest.raises(ProfileError, match="line break"):
        parse_profile({"name": "x", "status": {"path": "s"}, "headers": {"Accept": "a\r\nb"}})
    assert load_profile("anthropic-batch").headers == {"anthropic-version": "2023-06-01"}


# -- partial success -----------------------------------------------------------------------------

PARTIALS = sorted(PARTIAL_NOTES)


@pytest.fixture(scope="module")
def partial_runs(server: VendorServer) -> dict[tuple[str, str], tuple[str, str, int]]:
    def one(case: tuple[str, str]) -> tuple[str, str, int]:
        vendor, scenario = case
        phases, _ = SCENARIOS[vendor][scenario]
        text_job = server.script(vendor, phases, started=True)
        text = cli("wait", server.status_url(text_job), "--profile", vendor, *FAST)
        json_job = server.script(vendor, phases, started=True)
        data = cli("wait", server.status_url(json_job), "--profile", vendor, *FAST, "--json")
        assert text.returncode == 0 and data.returncode == 0, (text.stderr, data.stderr)
        return text.stdout + text.stderr, data.stdout, json_job.polls

    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip(PARTIALS, pool.map(one, PARTIALS)))


@pytest.mark.parametrize(("vendor", "scenario"), PARTIALS,
                         ids=[f"{v}-{s}" for v, s in PARTIALS])
def test_partial_success_is_flagged_in_the_summary_and_json(
    partial_runs: dict[tuple[str, str], tuple[str, str, int]], vendor: str, scenario: str
) -> None:
    text, data, polls = partial_runs[(vendor, scenario)]
    note = PARTIAL_NOTES[(vendor, scenario)]
    line = next(x for x in text.splitlines() if x.startswith("partial success: "))
    assert note in line
    out = json.loads(data)
    assert out["outcome"] == "succeeded" and out["partial"] is True
    assert out["note"] is not None and note in out["note"]
    assert out["requests"] == polls == len(SCENARIOS[vendor][scenario][0])


def test_a_full_success_is_not_partial(server: VendorServer) -> None:
    job = server.script("vertex-batch", SCENARIOS["vertex-batch"]["succeeded"][0], started=True)
    out = json.loads(cli("wait", server.status_url(job), "--profile", "vertex-batch", *FAST,
                         "--json").stdout)
    assert out["outcome"] == "succeeded" and out["partial"] is False and out["note"] is None


def test_partial_in_python_sync_and_async(server: VendorServer) -> None:
    phases, _ = SCENARIOS["mistral-batch"]["partial"]
    job = server.script("mistral-batch", phases)
    with ProgressClient(policy=POLICY) as client:
        done = client.run(server.start_url("mistral-batch"), json={}, profile="mistral-batch",
                          timeout=20)
    extra = done.status.model_extra or {}
    assert extra.get("partial") is True and "2 of 10 requests failed" in extra["note"]
    assert done.report.requests == job.requests == 4  # start, 2 polls, the output file

    async def main() -> dict[str, object]:
        again = server.script("mistral-batch", phases)
        async with AsyncProgressClient(policy=POLICY) as client:
            result = await client.run(server.start_url("mistral-batch"), json={},
                                      profile="mistral-batch", timeout=20)
        assert result.report.requests == again.requests == 4
        return dict(result.status.model_extra or {})

    for backend in ("asyncio", "trio"):
        assert anyio.run(main, backend=backend).get("partial") is True


def test_partial_goes_with_succeeded_only() -> None:
    with pytest.raises(ProfileError, match="'partial' goes with then = 'succeeded'"):
        parse_profile({"name": "x", "status": {"path": "s"}, "outcome": [
            {"when": {"status": ["done"]}, "then": "failed", "partial": True}]})


# -- needs a person ------------------------------------------------------------------------------


def test_needs_a_person_ends_with_exit_5_by_default(server: VendorServer) -> None:
    job = server.script("gitlab-pipeline", ["running", "manual"], started=True)
    p = cli("wait", server.status_url(job), "--profile", "gitlab-pipeline", *FAST)
    assert p.returncode == 5, p.stderr
    assert "needs_action: the job waits for a person (status 'manual')" in p.stderr
    assert "manual action" in p.stderr and "Traceback" not in p.stderr
    assert job.polls == 2 and job.cancels == 0
    again = server.script("buildkite-build", ["running", "blocked"], started=True)
    out = json.loads(cli("wait", server.status_url(again), "--profile", "buildkite-build",
                         *FAST, "--json", "--cancel-on-exit").stdout)
    assert out["outcome"] == "needs_action" and out["status"] == "blocked"
    assert out["requests"] == again.polls == 2 and again.cancels == 0  # a person may unblock


def test_on_needs_action_wait_keeps_waiting(server: VendorServer) -> None:
    # The approval comes: the pipeline goes on and succeeds, the wait with it.
    job = server.script("gitlab-pipeline", ["running", "manual", "manual", "running",
                                            "success"], started=True)
    p = cli("wait", server.status_url(job), "--profile", "gitlab-pipeline", *FAST,
            "--on-needs-action", "wait", "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["requests"] == job.polls == 5
    # Nobody comes: the deadline ends it, with the status the person is needed for.
    stuck = server.script("circleci-workflow", ["on_hold"], started=True)
    p = cli("wait", server.status_url(stuck), "--profile", "circleci-workflow", *FAST,
            "--on-needs-action", "wait", "--timeout", "3", "--json")
    out = json.loads(p.stdout)
    assert p.returncode == 3 and out["status"] == "on_hold", p.stderr
    assert out["requests"] == stuck.polls >= 2


def test_on_needs_action_goes_with_a_profile() -> None:
    p = cli("wait", "http://127.0.0.1:9/x", "--on-needs-action", "end")
    assert p.returncode == 2 and "--on-needs-action goes with --profile" in p.stderr


def test_needs_a_person_in_python_sync_and_async(server: VendorServer) -> None:
    from progress_client import NeedsAction

    phases, _ = SCENARIOS["prefect-flow-run"]["paused"]
    job = server.script("prefect-flow-run", phases)
    with ProgressClient(policy=POLICY) as client, pytest.raises(NeedsAction) as caught:
        client.run(server.start_url("prefect-flow-run"), json={},
                   profile="prefect-flow-run", timeout=20)
    err = caught.value
    assert err.exit_code == 5 and err.outcome == "needs_action"
    assert err.status is not None and err.status.status == "PAUSED"
    assert "approve the release" in err.message
    assert err.report is not None and err.report.requests == job.requests == 3

    async def main() -> int:
        again = server.script("prefect-flow-run", phases)
        waiting = parse_profile({"extends": "prefect-flow-run", "on_needs_action": "wait"})
        async with AsyncProgressClient(policy=POLICY) as client:
            with pytest.raises(NeedsAction):
                await client.run(server.start_url("prefect-flow-run"), json={},
                                 profile="prefect-flow-run", timeout=20)
            later = server.script("prefect-flow-run", ["PAUSED", "RUNNING", "COMPLETED"])
            done = await client.run(server.start_url("prefect-flow-run"), json={},
                                    profile=waiting, timeout=20)
        assert done.status.status == "COMPLETED" and later.polls == 3
        return again.requests

    for backend in ("asyncio", "trio"):
        assert anyio.run(main, backend=backend) == 3


def test_needs_action_words_are_checked() -> None:
    with pytest.raises(ProfileError, match="both an end and needs_action"):
        parse_profile({"name": "x", "status": {"path": "s", "succeeded": ["manual"],
                                               "needs_action": ["manual"]}})


# -- cancel bodies -------------------------------------------------------------------------------


def test_cancel_bodies_without_an_id_nested_ids_and_the_cancel_id() -> None:
    from progress_client.profiles.urls import Seen, cancel_request

    # Airflow: PATCH the run with {"state": "failed"}: no id in the body, sent as it is.
    run = Seen("http://a/api/v2/dags/etl/dagRuns/manual__1", 200, {},
               {"dag_run_id": "manual__1", "state": "running"})
    req = cancel_request(load_profile("airflow-dag-run"), start=None, status=run)
    assert req is not None and req.method == "PATCH" and req.json == {"state": "failed"}
    assert req.url == "http://a/api/v2/dags/etl/dagRuns/manual__1"
    # Prefect: a nested body with no id.
    flow = Seen("http://p/api/flow_runs/f1", 200, {}, {"id": "f1", "state": {"type": "RUNNING"}})
    req = cancel_request(load_profile("prefect-flow-run"), start=None, status=flow)
    assert req is not None and req.url == "http://p/api/flow_runs/f1/set_state"
    assert req.json == {"state": {"type": "CANCELLING", "name": "Cancelling"}, "force": True}
    # An id at any depth, read where [cancel] id says (the URL came from a template
    # without one).
    nested = parse_profile({"name": "n", "status": {"path": "s"}, "cancel": {
        "url": [{"template": "{status_url}/stop", "source": "status"}], "id": "meta.name",
        "json": {"target": {"names": ["{id}"], "why": "stop"}}}})
    doc = Seen("http://w/wf/9", 200, {}, {"s": "Running", "meta": {"name": 9}})
    req = cancel_request(nested, start=None, status=doc)
    assert req is not None and req.json == {"target": {"names": [9], "why": "stop"}}
    # No id where the body needs one: no cancel (it would cancel the wrong thing).
    assert cancel_request(nested, start=None, status=Seen("http://w/wf/9", 200, {},
                                                          {"s": "Running"})) is None


# -- run --json: the status URL after a failure --------------------------------------------------


def test_run_json_names_the_status_url_in_full_after_a_failure(server: VendorServer) -> None:
    job = server.script("runway", ["RUNNING", {"status": "FAILED", "failure": "bad input"}])
    p = cli("run", server.start_url("runway"), "-d", "{}", "--profile", "runway", *FAST,
            "--json")
    out = json.loads(p.stdout)
    assert p.returncode == 1 and out["outcome"] == "failed", p.stderr
    assert out["status_url"] == server.status_url(job)  # host and port kept
    # Credentials in the URL (userinfo, a token parameter) are removed, the rest is kept.
    creds = server.script("runpod", ["IN_QUEUE", "FAILED"])
    host = server.base.removeprefix("http://")
    template = f"http://user:pw@{host}/runpod/v2/ep1/status/{{id}}?access_token=s3cret&x=1"
    p = cli("run", server.start_url("runpod"), "-d", "{}", "--status-url", template, *FAST,
            "--json")
    out = json.loads(p.stdout)
    assert p.returncode == 1, p.stderr
    assert out["status_url"] == (f"{server.base}/runpod/v2/ep1/status/{creds.id}"
                                 "?access_token=%5BREDACTED%5D&x=1")
    assert "s3cret" not in p.stdout + p.stderr and "pw@" not in p.stdout + p.stderr


# -- two hops: Jenkins' queue item, then its build -----------------------------------------------


def _jenkins_paths(server: VendorServer, ident: str) -> list[str]:
    return [path for method, path in server.requests
            if f"/{ident}/" in path and path.startswith("/jenkins/") and method == "GET"]


def test_jenkins_queue_item_then_the_build_it_names(server: VendorServer) -> None:
    phases, _ = SCENARIOS["jenkins-build"]["succeeded"]
    job = server.script("jenkins-build", phases)
    with ProgressClient(policy=POLICY) as client:
        done = client.run(server.start_url("jenkins-build"), profile="jenkins-build",
                          timeout=20)
    assert done.status.status == "SUCCESS" and job.requests == done.report.requests == 5
    queue = f"/jenkins/queue/item/{job.id}/api/json"
    build = f"/jenkins/job/app/{job.id}/api/json"
    # The queue item twice (waiting, then naming its build), the build twice.
    assert _jenkins_paths(server, job.id) == [queue, queue, build, build]
    assert done.status_url == server.base + build

    async def main() -> list[str]:
        again = server.script("jenkins-build", phases)
        async with AsyncProgressClient(policy=POLICY) as client:
            result = await client.run(server.start_url("jenkins-build"),
                                      profile="jenkins-build", timeout=20)
        assert result.report.requests == again.requests == 5
        return _jenkins_paths(server, again.id)

    for backend in ("asyncio", "trio"):
        paths = anyio.run(main, backend=backend)
        assert [p.split("/")[2] for p in paths] == ["queue", "queue", "job", "job"]


def test_jenkins_through_the_cli_and_its_cancel(server: VendorServer) -> None:
    job = server.script("jenkins-build", ["left", "building", "FAILURE"])
    p = cli("run", server.start_url("jenkins-build"), "--profile", "jenkins-build", *FAST,
            "--json")
    out = json.loads(p.stdout)
    assert p.returncode == 1 and out["error"].endswith(f"build {job.id}: FAILURE"), p.stderr
    assert out["status_url"] == f"{server.base}/jenkins/job/app/{job.id}/api/json"
    assert out["requests"] == job.requests == 4
    # A build that runs on: --cancel-on-exit stops the build (POST {build}/stop).
    running = server.script("jenkins-build", ["left", "building"])
    p = cli("run", server.start_url("jenkins-build"), "--profile", "jenkins-build", *FAST,
            "--timeout", "4", "--cancel-on-exit", "--json")
    out = json.loads(p.stdout)
    assert p.returncode == 3 and out["cancelled_remote"] is True, p.stderr
    assert running.cancels == 1
    assert ("POST", f"/jenkins/job/app/{running.id}/stop") in server.requests


# -- a status asked for with a POST: Dagster's GraphQL -------------------------------------------


def test_dagster_polls_are_graphql_posts_naming_the_run(server: VendorServer) -> None:
    phases, _ = SCENARIOS["dagster-run"]["succeeded"]
    job = server.script("dagster-run", phases)
    before = len(server.requests)
    with ProgressClient(policy=POLICY) as client:
        done = client.run(server.start_url("dagster-run"),
                          json=START_BODIES["dagster-run"], profile="dagster-run", timeout=20)
    assert done.status.status == "SUCCESS" and done.result["id"] == job.id
    assert done.report.requests == job.requests == 1 + len(phases)
    sent = server.requests[before:]
    assert sent == [("POST", "/dagster/graphql")] + [
        ("POST", f"/dagster/graphql?runId={job.id}")] * len(phases)
    assert all(h.get("content-type") == "application/json"
               for _, h in server.headers[before:])
    assert done.status_url == f"{server.base}/dagster/graphql?runId={job.id}"

    # A wait on that URL (the run id in its query), asyncio and trio, the CLI.
    async def main() -> int:
        later = server.script("dagster-run", ["STARTED", "FAILURE"], started=True)
        async with AsyncProgressClient(policy=POLICY) as client:
            with pytest.raises(Exception) as caught:
                await client.wait(server.status_url(later), profile="dagster-run", timeout=20)
        assert "ended with FAILURE" in str(caught.value)
        return later.polls

    for backend in ("asyncio", "trio"):
        assert anyio.run(main, backend=backend) == 2
    gone = server.script("dagster-run", ["STARTED"], started=True)
    url = server.status_url(gone).replace(gone.id, "no-such-run")
    p = cli("wait", url, "--profile", "dagster-run", *FAST, "--json")
    out = json.loads(p.stdout)
    assert p.returncode == 1 and "RunNotFoundError: Run no-such-run could not be found" in (
        out["error"]), p.stderr


def test_a_graphql_wait_without_the_run_id_is_said_not_skipped(server: VendorServer) -> None:
    url = server.base + "/dagster/graphql"
    before = len(server.requests)
    p = cli("wait", url, "--profile", "dagster-run", *FAST)
    assert p.returncode == 2 and "add ?runId=ID to the URL" in p.stderr, p.stderr
    with ProgressClient(policy=POLICY) as client, pytest.raises(ValueError, match="runId"):
        client.wait(url, profile="dagster-run", timeout=5)

    async def main() -> None:
        async with AsyncProgressClient(policy=POLICY) as client:
            with pytest.raises(ValueError, match="runId"):
                await client.wait(url, profile="dagster-run", timeout=5)

    anyio.run(main)
    assert len(server.requests) == before  # nothing was sent
    with pytest.raises(ProfileError, match="needs 'id'"):
        parse_profile({"name": "g", "status": {"path": "s"}, "poll": {
            "json": {"variables": {"runId": "{id}"}}}})


# -- a generated idempotency key for starts that may be retried ----------------------------------


def _keyed() -> Profile:
    return parse_profile({"extends": "replicate", "start": {
        "idempotency_key": "Idempotency-Key"}}, where="test profile")


def _start_keys(server: VendorServer, before: int) -> list[str | None]:
    return [h.get("idempotency-key") for path, h in server.headers[before:]
            if path == "/replicate/v1/predictions"]


def test_a_generated_idempotency_key_makes_the_start_safe_to_retry(server: VendorServer) -> None:
    profile = _keyed()
    before = len(server.headers)
    job = server.script("replicate", ["starting", "succeeded"], drop_starts=1)
    with ProgressClient(policy=POLICY) as client:
        done = client.run(server.start_url("replicate"), json={}, profile=profile,
                          timeout=20)
        second = server.script("replicate", ["succeeded"])
        client.run(server.start_url("replicate"), json={}, profile=profile,
                   timeout=20)
        mine = server.script("replicate", ["succeeded"])
        client.run(server.start_url("replicate"), json={}, profile=profile,
                   headers={"Idempotency-Key": "order-7"}, timeout=20)
    keys = _start_keys(server, before)
    # The dropped start and its retry carry one key; the next start its own; a caller's stays.
    assert len(keys) == 4 and keys[0] == keys[1] and keys[0] and len(keys[0]) == 32
    assert keys[2] not in (None, keys[0]) and keys[3] == "order-7"
    assert job.starts == 2 and done.report.errors == 1 and done.report.requests == job.requests
    assert second.starts == 1 and mine.starts == 1

    async def main() -> list[str | None]:
        start = len(server.headers)
        again = server.script("replicate", ["succeeded"], drop_starts=1)
        async with AsyncProgressClient(policy=POLICY) as client:
            await client.run(server.start_url("replicate"), json={}, profile=profile,
                             timeout=20)
        assert again.starts == 2
        return _start_keys(server, start)

    for backend in ("asyncio", "trio"):
        got = anyio.run(main, backend=backend)
        assert len(got) == 2 and got[0] == got[1] and got[0]


# -- result decoding: a base64 field as bytes ----------------------------------------------------

STABILITY_JSON = """
extends = "stability"
# Stability's JSON mode: Accept: application/json, and the 200 is
# {"video": BASE64, "finish_reason": "SUCCESS", "seed": N}.
[headers]
Accept = "application/json"

[result]
kind = "document"
path = "video"
decode = "base64"
"""


def test_a_base64_field_is_the_result_as_bytes(server: VendorServer, tmp_path: Path) -> None:
    import base64
    import hashlib

    from .vendors import Step, video_bytes

    profile = tmp_path / "stability-json.toml"
    profile.write_text(STABILITY_JSON)
    video = video_bytes(300_000)
    done_doc = {"video": base64.b64encode(video).decode(), "finish_reason": "SUCCESS",
                "seed": 42}
    phases = ["in-progress", Step(done_doc, 200)]
    job = server.script("stability", phases)
    out = tmp_path / "video.mp4"
    p = cli("run", server.start_url("stability"), "-F", f"image=@{profile}",
            "--profile", str(profile), *FAST, "--output", str(out), "--json")
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert data["output"] == str(out) and data["result_bytes"] in (None, len(video))
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(video).digest()
    assert data["requests"] == job.requests == 3  # the start, two polls: nothing fetched again
    assert all(h.get("accept") == "application/json" for path, h in server.headers
               if path.startswith("/v2beta/"))
    # In Python, the bytes themselves.
    server.script("stability", phases)
    with ProgressClient(policy=POLICY) as client:
        done = client.run(server.start_url("stability"), data=b"x", profile=str(profile),
                          timeout=20)
    assert done.result == video
    with pytest.raises(ProfileError, match="'decode' goes with kind = 'document'"):
        parse_profile({"name": "x", "status": {"path": "s"}, "result": {
            "kind": "body", "decode": "base64"}})


def test_the_callers_header_wins_over_the_profiles(server: VendorServer) -> None:
    # Another API version given with -H is the one sent (Anthropic's imitation accepts only
    # 2023-06-01, so the wait fails on the first poll: the caller's value went out).
    job = server.script("anthropic-batch", ["in_progress", "ended"], started=True)
    before = len(server.headers)
    p = cli("wait", server.status_url(job), "--profile", "anthropic-batch", *FAST,
            "-H", "Anthropic-Version: 2099-01-01", "--json")
    assert p.returncode == 4 and "HTTP 400" in json.loads(p.stdout)["error"], p.stderr
    assert [h.get("anthropic-version") for _, h in server.headers[before:]] == ["2099-01-01"]
