"""How a job's result is fetched and written, against the vendors' imitations on 127.0.0.1
(``tests/vendors.py``): a final poll whose answer IS the result (Stability's 200 with the
video, Azure's Location polling) streamed with no status body limit and never fetched twice;
JSON-lines results (Anthropic's ``results_url``, OpenAI's output file) streamed to ``--output``
as they come and parsed into a list in memory; Temporal's CONTINUED_AS_NEW followed from a
status URL that names a run. Each through the command line, ``ProgressClient`` and
``AsyncProgressClient`` (asyncio and trio), which must cost the imitation the same requests."""

from __future__ import annotations

import base64
import hashlib
import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from progress_client import (
    AdaptivePolicy,
    AsyncProgressClient,
    JobFailed,
    ProfileError,
    ProgressClient,
    load_profile,
)

from .serving import cli, fixture
from .vendors import START_BODIES, Step, VendorServer, video_bytes
from .vendors_ops import TemporalRuns

pytestmark = pytest.mark.e2e

FAST = ["--initial", "0.05", "--step", "0.05", "--max", "0.2"]
POLICY = AdaptivePolicy(0.05, 0.05, 0.2)
MIB3 = 3 * 1024 * 1024 + 77  # past the status body limit (1 MiB) three times over
LINES = 50_000


server = fixture(VendorServer, scope="module")


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def status_gets(server: VendorServer, path: str) -> int:
    return sum(1 for method, p in server.requests if method == "GET" and p == path)


# -- a final poll that is the result ------------------------------------------------------------

STABILITY = ["in-progress", "in-progress", "done"]


def test_a_3_mib_video_answered_by_the_final_poll_streams_to_output_cli(
    server: VendorServer, tmp_path: Path
) -> None:
    video = video_bytes(MIB3)
    job = server.script("stability", STABILITY, result=video)
    image, out = tmp_path / "cat.png", tmp_path / "video.mp4"
    image.write_bytes(b"\x89PNG\r\n")
    p = cli("run", server.start_url("stability"), "-F", f"image=@{image}", "-F", "seed=0",
            "--profile", "stability", "--output", str(out), "--json", *FAST)
    assert p.returncode == 0, p.stderr
    shown = json.loads(p.stdout)
    assert sha(out.read_bytes()) == sha(video) and shown["result_bytes"] == MIB3
    # The start, three polls (the last one's body is the video), no second GET of it.
    assert job.results == 0 and job.polls == 3
    assert shown["requests"] == job.requests == 4
    assert status_gets(server, f"/v2beta/image-to-video/result/{job.id}") == 3
    assert not list(tmp_path.glob("*.part"))


def test_a_3_mib_video_from_the_final_poll_sync(server: VendorServer, tmp_path: Path) -> None:
    video = video_bytes(MIB3)
    to_file = server.script("stability", STABILITY, result=video)
    in_memory = server.script("stability", STABILITY, result=video)
    out = tmp_path / "video.mp4"
    with ProgressClient(policy=POLICY) as client:
        written = client.run(server.start_url("stability"), data=b"x", profile="stability",
                             output=out, timeout=30)
        held = client.run(server.start_url("stability"), data=b"x", profile="stability",
                          timeout=30)
    assert written.result == out and sha(out.read_bytes()) == sha(video)
    assert isinstance(held.result, bytes) and sha(held.result) == sha(video)
    for job, done in ((to_file, written), (in_memory, held)):
        assert job.results == 0 and job.polls == 3
        assert done.report.requests == job.requests == 4


@pytest.mark.anyio
async def test_a_3_mib_video_from_the_final_poll_async(
    server: VendorServer, tmp_path: Path
) -> None:
    video = video_bytes(MIB3)
    to_file = server.script("stability", STABILITY, result=video)
    in_memory = server.script("stability", STABILITY, result=video)
    out = tmp_path / "video.mp4"
    async with AsyncProgressClient(policy=POLICY) as client:
        written = await client.run(server.start_url("stability"), data=b"x",
                                   profile="stability", output=out, timeout=30)
        held = await client.run(server.start_url("stability"), data=b"x",
                                profile="stability", timeout=30)
    assert written.result == out and sha(out.read_bytes()) == sha(video)
    assert isinstance(held.result, bytes) and sha(held.result) == sha(video)
    for job, done in ((to_file, written), (in_memory, held)):  # the sync twin's count
        assert job.results == 0 and job.polls == 3
        assert done.report.requests == job.requests == 4


def test_a_filtered_video_is_still_read_as_a_failure(server: VendorServer) -> None:
    # The head decides: finish-reason CONTENT_FILTERED is a failure, its body never a result.
    job = server.script("stability", ["in-progress", "filtered"])
    with ProgressClient(policy=POLICY) as client, pytest.raises(JobFailed, match="CONTENT_F"):
        client.run(server.start_url("stability"), data=b"x", profile="stability", timeout=30)
    assert job.results == 0 and job.polls == 2


STABILITY_JSON = """
extends = "stability"
# Stability's JSON mode (https://platform.stability.ai/docs/api-reference): with
# Accept: application/json the 200 is {"video": BASE64, "finish_reason": "SUCCESS", "seed"}.
[headers]
Accept = "application/json"

[result]
kind = "document"
path = "video"
decode = "base64"
"""


@pytest.mark.parametrize("driver", ["cli", "sync", "asyncio", "trio"])
def test_a_base64_video_of_3_mib_in_the_final_document(
    server: VendorServer, tmp_path: Path, driver: str
) -> None:
    # Its JSON document (4 MiB of base64) is past the status limit: read whole under the
    # result limit, once, since the head (200) already says the job is done.
    import anyio

    video = video_bytes(MIB3)
    done_doc = {"video": base64.b64encode(video).decode(), "finish_reason": "SUCCESS",
                "seed": 42}
    job = server.script("stability", ["in-progress", Step(done_doc, 200)])
    profile, out = tmp_path / "stability-json.toml", tmp_path / "video.mp4"
    profile.write_text(STABILITY_JSON)
    url = server.start_url("stability")
    if driver == "cli":
        p = cli("run", url, "-F", f"image=@{profile}", "--profile", str(profile),
                "--output", str(out), "--json", *FAST)
        assert p.returncode == 0, p.stderr
        requests = json.loads(p.stdout)["requests"]
        assert sha(out.read_bytes()) == sha(video)
    elif driver == "sync":
        with ProgressClient(policy=POLICY) as client:
            done = client.run(url, data=b"x", profile=str(profile), timeout=30)
        requests = done.report.requests
        assert sha(done.result) == sha(video)
    else:
        async def run() -> Any:
            async with AsyncProgressClient(policy=POLICY) as client:
                return await client.run(url, data=b"x", profile=str(profile), timeout=30)

        done = anyio.run(run, backend=driver)
        requests = done.report.requests
        assert sha(done.result) == sha(video)
    assert job.results == 0 and requests == job.requests == 3  # the start, two polls


def _big_resource() -> dict[str, Any]:
    # An ARM resource of 3 MiB (a VM with a long list of data disks, say).
    return {"name": "vm1", "type": "Microsoft.Compute/virtualMachines",
            "properties": {"dataDisks": [{"lun": i, "name": f"disk-{i:06d}-" + "x" * 40}
                                         for i in range(MIB3 // 70)]}}


def _location_phases(resource: dict[str, Any]) -> list[Any]:
    # azure-core's LocationPolling: 202 (+ Location) while it runs, then the resource with 200
    # (Azure/azure-sdk-for-python@00aa8dba sdk/core/azure-core/azure/core/polling/
    # base_polling.py; https://learn.microsoft.com/azure/azure-resource-manager/management/
    # async-operations).
    return ["running", "running", Step(resource, 200)]


def test_azure_location_polling_streams_a_3_mib_resource_cli(
    server: VendorServer, tmp_path: Path
) -> None:
    resource = _big_resource()
    job = server.script("azure-location", _location_phases(resource))
    out = tmp_path / "vm.json"
    p = cli("run", server.start_url("azure-location"), "--profile", "azure",
            "--output", str(out), "--json", *FAST)
    assert p.returncode == 0, p.stderr
    assert json.loads(out.read_bytes()) == resource
    assert out.stat().st_size > 3 * 1024 * 1024
    assert job.results == 0 and job.polls == 3
    assert json.loads(p.stdout)["requests"] == job.requests == 4


@pytest.mark.parametrize("driver", ["sync", "asyncio", "trio"])
def test_azure_location_polling_streams_a_3_mib_resource(
    server: VendorServer, tmp_path: Path, driver: str
) -> None:
    import anyio

    resource = _big_resource()
    to_file = server.script("azure-location", _location_phases(resource))
    in_memory = server.script("azure-location", _location_phases(resource))
    out = tmp_path / "vm.json"
    url = server.start_url("azure-location")
    if driver == "sync":
        with ProgressClient(policy=POLICY) as client:
            written = client.run(url, profile="azure", output=out, timeout=30)
            held = client.run(url, profile="azure", timeout=30)
    else:
        async def both() -> tuple[Any, Any]:
            async with AsyncProgressClient(policy=POLICY) as client:
                return (await client.run(url, profile="azure", output=out, timeout=30),
                        await client.run(url, profile="azure", timeout=30))

        written, held = anyio.run(both, backend=driver)
    assert written.result == out and json.loads(out.read_bytes()) == resource
    assert held.result == resource
    for job, done in ((to_file, written), (in_memory, held)):
        assert job.results == 0 and job.polls == 3
        assert done.report.requests == job.requests == 4


# -- JSON lines -------------------------------------------------------------------------------

ANTHROPIC = ["in_progress", "in_progress", "ended"]


def _jsonl(n: int) -> bytes:
    """An Anthropic Message Batch results file: one {custom_id, result} per line
    (https://docs.anthropic.com/en/api/retrieving-message-batch-results)."""
    line = ('{"custom_id":"req-%06d","result":{"type":"succeeded","message":{"id":"msg_%06d",'
            '"type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":'
            '"text","text":"ok"}],"stop_reason":"end_turn","usage":{"input_tokens":9,'
            '"output_tokens":1}}}}\n')
    return "".join(line % (i, i) for i in range(n)).encode()


def test_a_jsonl_result_streams_to_output_cli(server: VendorServer, tmp_path: Path) -> None:
    body = _jsonl(LINES)
    job = server.script("anthropic-batch", ANTHROPIC, result=body)
    out = tmp_path / "results.jsonl"
    p = cli("run", server.start_url("anthropic-batch"), "--profile", "anthropic-batch",
            "-d", json.dumps(START_BODIES["anthropic-batch"]), "--output", str(out),
            "--json", *FAST)
    assert p.returncode == 0, p.stderr
    assert sha(out.read_bytes()) == sha(body)
    assert len(out.read_bytes().splitlines()) == LINES
    assert job.results == 1 and json.loads(p.stdout)["requests"] == job.requests == 5


def test_a_jsonl_result_in_memory_is_a_list_of_the_lines(server: VendorServer) -> None:
    body = _jsonl(LINES)
    job = server.script("anthropic-batch", ANTHROPIC, result=body)
    with ProgressClient(policy=POLICY) as client:
        done = client.run(server.start_url("anthropic-batch"),
                          json=START_BODIES["anthropic-batch"], profile="anthropic-batch",
                          timeout=30)
    assert isinstance(done.result, list) and len(done.result) == LINES
    assert done.result[0]["custom_id"] == "req-000000"
    assert done.result[-1]["result"]["message"]["id"] == f"msg_{LINES - 1:06d}"
    assert done.report.requests == job.requests == 5


@pytest.mark.anyio
async def test_a_jsonl_result_async(server: VendorServer, tmp_path: Path) -> None:
    body = _jsonl(1000)
    to_file = server.script("anthropic-batch", ANTHROPIC, result=body)
    in_memory = server.script("anthropic-batch", ANTHROPIC, result=body)
    out = tmp_path / "results.jsonl"
    async with AsyncProgressClient(policy=POLICY) as client:
        written = await client.run(server.start_url("anthropic-batch"),
                                   json=START_BODIES["anthropic-batch"],
                                   profile="anthropic-batch", output=out, timeout=30)
        held = await client.run(server.start_url("anthropic-batch"),
                                json=START_BODIES["anthropic-batch"],
                                profile="anthropic-batch", timeout=30)
    assert written.result == out and sha(out.read_bytes()) == sha(body)
    assert [r["custom_id"] for r in held.result] == [f"req-{i:06d}" for i in range(1000)]
    for job, done in ((to_file, written), (in_memory, held)):  # the sync twin's count
        assert done.report.requests == job.requests == 5


def test_the_openai_batch_output_file_is_json_lines(server: VendorServer) -> None:
    # GET /v1/files/{output_file_id}/content: one {id, custom_id, response, error} per line
    # (https://platform.openai.com/docs/guides/batch).
    lines = [{"id": f"batch_req_{i}", "custom_id": f"request-{i}", "error": None,
              "response": {"status_code": 200, "request_id": f"r{i}", "body": {"id": i}}}
             for i in range(3)]
    body = "".join(json.dumps(x) + "\n" for x in lines).encode()
    job = server.script("openai-batch", ["in_progress", "completed"], result=body)
    with ProgressClient(policy=POLICY) as client:
        done = client.run(server.start_url("openai-batch"), json=START_BODIES["openai-batch"],
                          profile="openai-batch", timeout=30)
    assert done.result == lines and job.results == 1


def test_a_large_jsonl_result_is_never_held_whole_on_the_output_path(
    server: VendorServer, tmp_path: Path
) -> None:
    body = _jsonl(LINES)  # built before tracing: the imitation sends these bytes as they are
    server.script("anthropic-batch", ANTHROPIC, result=body)
    out = tmp_path / "results.jsonl"
    with ProgressClient(policy=POLICY) as client:
        tracemalloc.start()
        try:
            done = client.run(server.start_url("anthropic-batch"),
                              json=START_BODIES["anthropic-batch"], profile="anthropic-batch",
                              output=out, timeout=30)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert done.result == out and sha(out.read_bytes()) == sha(body)
    # Chunks pass through; the file's lines are never all in memory at once.
    assert peak < len(body) // 4, (peak, len(body))


def test_format_goes_with_a_fetched_body(tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text('extends = "openai-response"\n[result]\nkind = "document"\n'
                    'format = "jsonl"\n')
    with pytest.raises(ProfileError, match="'format' goes with kind = 'url' or 'body'"):
        load_profile(mine)
    assert load_profile("anthropic-batch").result.format == "jsonl"
    assert load_profile("openai-compatible-batch").result.format == "jsonl"  # extends it


# -- Temporal: CONTINUED_AS_NEW from a run's URL ------------------------------------------------

RUNS = {"run-1": ["RUNNING", "CONTINUED_AS_NEW"], "run-2": ["RUNNING", "RUNNING", "COMPLETED"]}


def _followed(t: TemporalRuns) -> None:
    # The first run by its id until it continued as new, then the workflow's newest run.
    assert [run for _, run in t.requests] == ["run-1", "run-1", "run-2", "run-2", "run-2"]
    assert all("run_id" in path for path, run in t.requests if run == "run-1")
    assert not any("run_id" in path for path, run in t.requests if run == "run-2")


@pytest.mark.parametrize("driver", ["cli", "sync", "asyncio", "trio"])
def test_continued_as_new_is_followed_from_a_run_url(driver: str) -> None:
    import anyio

    with TemporalRuns("order-7", RUNS) as t:
        url = t.url + "?execution.run_id=run-1"
        if driver == "cli":
            p = cli("wait", url, "--profile", "temporal-workflow", "--json", "--timeout", "30",
                    *FAST)
            assert p.returncode == 0, p.stderr
            shown = json.loads(p.stdout)
            status, requests = shown["status"], shown["requests"]
        elif driver == "sync":
            with ProgressClient(policy=POLICY, profile="temporal-workflow") as client:
                done = client.wait(url, timeout=30)
            status, requests = done.status.status, done.report.requests
        else:
            async def wait() -> Any:
                async with AsyncProgressClient(policy=POLICY,
                                               profile="temporal-workflow") as client:
                    return await client.wait(url, timeout=30)

            done = anyio.run(wait, backend=driver)
            status, requests = done.status.status, done.report.requests
        assert status == "WORKFLOW_EXECUTION_STATUS_COMPLETED"
        assert requests == len(t.requests) == 5
        _followed(t)


def test_a_workflow_url_without_a_run_is_not_moved() -> None:
    with TemporalRuns("order-8", RUNS) as t, ProgressClient(
        policy=POLICY, profile="temporal-workflow"
    ) as client:
        done = client.wait(t.url, timeout=30)
    assert done.status.status == "WORKFLOW_EXECUTION_STATUS_COMPLETED"
    assert {path for path, _ in t.requests} == {"/temporal/api/v1/namespaces/default/"
                                                "workflows/order-8"}
    assert done.report.requests == len(t.requests) == 5


def test_a_locator_applies_only_when_its_test_holds() -> None:
    from progress_client.profiles.schema import Locator
    from progress_client.profiles.urls import Seen, find_url

    loc = Locator(template="{status_url}", source="status", when="n")
    url = "https://t.example/w/7?execution.run_id=r1"
    for n, found in ((0, True), (1, True), ("x", True), (None, False), (False, False),
                     ("", False), ([], False), ({}, False)):
        seen = Seen(url, 200, {}, {"n": n})
        assert (find_url((loc,), start=None, status=seen) == "https://t.example/w/7") is found
    assert find_url((loc,), start=None, status=Seen(url, 200, {}, {})) is None  # absent
    with pytest.raises(ValueError, match="when"):
        Locator(template="{status_url}", source="status", when="a[")
