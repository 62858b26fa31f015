"""Profiles: every built-in on its vendor's documented documents (pending, succeeded, failed and
the traps), the loader's errors, a profile written as a data file only, the URL finders, and
a property: the reader raises nothing but BadResponse on any JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from progress_client import BadResponse
from progress_client.profiles.profile import (
    ProfileError,
    builtin_names,
    compile_profile,
    load_profile,
    parse_profile,
)
from progress_client.profiles.urls import Seen, cancel_request, result_request, status_url

DATA = Path(__file__).parent / "profiles"

FIRST_NAMES = {
    "openai-batch", "openai-response", "google-operation", "replicate", "fal", "runway", "luma",
    "stability", "azure", "github-actions", "celery-flower", "mlflow", "step-functions",
    "databricks-run", "kubernetes-job", "ray-job", "runpod", "huggingface-job",
}
#: The second set ("Profiles 2"): read on their imitations in tests/test_vendors*.py.
SECOND_NAMES = {
    "anthropic-batch", "assemblyai", "openai-fine-tuning", "openai-vector-store-batch",
    "gemini-batch", "vertex-batch", "mistral-batch", "together-batch",
    "openai-compatible-batch", "elevenlabs-dubbing", "ideogram", "speechmatics", "kling",
    "azure-document-intelligence", "airflow-dag-run", "prefect-flow-run", "argo-workflow",
    "gitlab-pipeline", "circleci-workflow", "buildkite-build", "temporal-workflow",
    "cloud-build", "huggingface-endpoint", "jenkins-build", "dagster-run",
}
EXPECTED_NAMES = FIRST_NAMES | SECOND_NAMES


def read(name: str, doc: Any, code: int = 200, headers: dict[str, str] | None = None) -> Any:
    return compile_profile(load_profile(name)).read(doc, status_code=code, headers=headers or {})


def test_builtin_names_are_exactly_the_issues() -> None:
    assert set(builtin_names()) == EXPECTED_NAMES


@pytest.mark.parametrize("name", sorted(EXPECTED_NAMES))
def test_every_builtin_cites_its_sources(name: str) -> None:
    profile = load_profile(name)
    assert profile.name == name
    assert profile.sources, name
    text = (Path(__file__).parents[1] / "progress_client" / "profiles" / f"{name}.toml").read_text()
    assert "Sources (checked):" in text


# (profile, document, HTTP code, headers, outcome, status word, a piece of the error message)
K8S_FAILED = {
    "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi"},
    "spec": {"completions": 1},
    "status": {"failed": 7, "conditions": [
        {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded"},
        {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
         "message": "Job has reached the specified backoff limit"}]},
}
CASES: list[tuple[str, Any, int, dict[str, str], str | None, str, str | None]] = [
    # OpenAI Batch (types/batch.py)
    ("openai-batch", {"id": "batch_1", "object": "batch", "status": "validating",
                      "request_counts": {"completed": 0, "failed": 0, "total": 10}},
     200, {}, None, "validating", None),
    ("openai-batch", {"id": "batch_1", "status": "completed",
                      "request_counts": {"completed": 10, "failed": 0, "total": 10}},
     200, {}, "succeeded", "completed", None),
    ("openai-batch", {"id": "batch_1", "status": "failed", "errors": {"object": "list", "data": [
        {"code": "invalid_json_line", "message": "line 3 is not JSON", "line": 3}]}},
     200, {}, "failed", "failed", "invalid_json_line: line 3 is not JSON"),
    ("openai-batch", {"id": "batch_1", "status": "expired"}, 200, {}, "failed", "expired",
     "expired"),
    ("openai-batch", {"id": "batch_1", "status": "cancelling"}, 200, {}, None, "cancelling", None),
    # OpenAI Responses, background mode
    ("openai-response", {"id": "resp_1", "object": "response", "status": "queued",
                         "background": True, "error": None, "output": []},
     200, {}, None, "queued", None),
    ("openai-response", {"id": "resp_1", "status": "completed", "output": [{"type": "message"}]},
     200, {}, "succeeded", "completed", None),
    ("openai-response", {"id": "resp_1", "status": "failed",
                         "error": {"code": "server_error", "message": "The model failed"}},
     200, {}, "failed", "failed", "server_error: The model failed"),
    ("openai-response", {"id": "resp_1", "status": "incomplete",
                         "incomplete_details": {"reason": "max_output_tokens"}},
     200, {}, "failed", "incomplete", "incomplete: max_output_tokens"),
    # Google operations: done absent = running; done + error = failed
    ("google-operation", {"name": "models/veo-3.0/operations/abc"}, 200, {}, None, "running",
     None),
    ("google-operation", {"name": "operations/abc", "done": False}, 200, {}, None, "running",
     None),
    ("google-operation", {"name": "operations/abc", "done": True,
                          "error": {"code": 3, "message": "Prompt was blocked"}},
     200, {}, "failed", "failed", "Prompt was blocked"),
    ("google-operation", {"name": "operations/abc", "done": True, "response": {
        "generateVideoResponse": {"generatedSamples": [{"video": {"uri": "https://x/v.mp4"}}]}}},
     200, {}, "succeeded", "done", None),
    ("google-operation", {"name": "operations/abc", "done": True, "response": {
        "generateVideoResponse": {"raiMediaFilteredCount": 1,
                                  "raiMediaFilteredReasons": ["celebrity likeness"]}}},
     200, {}, "failed", "filtered", "celebrity likeness"),
    # Replicate: aborted is a failure
    ("replicate", {"id": "p1", "status": "starting", "urls": {"get": "https://r/p1"}},
     200, {}, None, "starting", None),
    ("replicate", {"id": "p1", "status": "succeeded", "output": ["https://r/out.png"]},
     200, {}, "succeeded", "succeeded", None),
    ("replicate", {"id": "p1", "status": "failed", "error": "CUDA out of memory"},
     200, {}, "failed", "failed", "CUDA out of memory"),
    ("replicate", {"id": "p1", "status": "aborted", "error": None},
     200, {}, "failed", "aborted", "deadline before it could start"),
    ("replicate", {"id": "p1", "status": "canceled"}, 200, {}, "failed", "canceled", None),
    # fal: COMPLETED + error is a failure
    ("fal", {"status": "IN_QUEUE", "queue_position": 3, "response_url": "https://q/r"},
     202, {}, None, "IN_QUEUE", None),
    ("fal", {"status": "IN_PROGRESS", "logs": [{"message": "step 1"}]},
     202, {}, None, "IN_PROGRESS", None),
    ("fal", {"status": "COMPLETED", "logs": [], "metrics": {"inference_time": 2.1}},
     200, {}, "succeeded", "COMPLETED", None),
    ("fal", {"status": "COMPLETED", "logs": [], "error": "Runner crashed",
             "error_type": "runner_error"},
     200, {}, "failed", "COMPLETED", "runner_error: Runner crashed"),
    # Runway
    ("runway", {"id": "t1", "status": "THROTTLED", "createdAt": "2026-01-01T00:00:00Z"},
     200, {}, None, "THROTTLED", None),
    ("runway", {"id": "t1", "status": "RUNNING", "progress": 0.4}, 200, {}, None, "RUNNING", None),
    ("runway", {"id": "t1", "status": "SUCCEEDED", "output": ["https://r/v.mp4"]},
     200, {}, "succeeded", "SUCCEEDED", None),
    ("runway", {"id": "t1", "status": "FAILED", "failure": "Moderation rejected the input",
                "failureCode": "SAFETY.INPUT.TEXT"},
     200, {}, "failed", "FAILED", "SAFETY.INPUT.TEXT: Moderation rejected the input"),
    # Luma: the word is in "state"
    ("luma", {"id": "g1", "state": "dreaming"}, 200, {}, None, "dreaming", None),
    ("luma", {"id": "g1", "state": "completed", "assets": {"video": "https://l/v.mp4"}},
     200, {}, "succeeded", "completed", None),
    ("luma", {"id": "g1", "state": "failed", "failure_reason": "400: prompt not allowed"},
     200, {}, "failed", "failed", "prompt not allowed"),
    # Stability: the HTTP code is the status; 200 + finish-reason CONTENT_FILTERED fails
    ("stability", {"id": "abc", "status": "in-progress"}, 202, {}, None, "in-progress", None),
    ("stability", None, 200, {"content-type": "video/mp4", "finish-reason": "SUCCESS"},
     "succeeded", "succeeded", None),
    ("stability", None, 200, {"Finish-Reason": "CONTENT_FILTERED"}, "failed",
     "content-filtered", "CONTENT_FILTERED"),
    ("stability", {"video": "AAAA", "finish_reason": "CONTENT_FILTERED", "seed": 1},
     200, {}, "failed", "content-filtered", "CONTENT_FILTERED"),
    # Azure: words case-insensitive, Location polling by HTTP code
    ("azure", {"id": "op1", "status": "Running", "percentComplete": 40}, 200, {}, None,
     "Running", None),
    ("azure", {"id": "op1", "status": "succeeded"}, 200, {}, "succeeded", "succeeded", None),
    ("azure", {"id": "op1", "status": "Failed", "error": {"code": "Conflict",
                                                          "message": "Disk in use"}},
     200, {}, "failed", "Failed", "Conflict: Disk in use"),
    ("azure", {"status": "Canceled"}, 200, {}, "failed", "Canceled", None),
    ("azure", None, 202, {}, None, "InProgress", None),
    ("azure", None, 204, {}, "succeeded", "Succeeded", None),
    ("azure", {"name": "vm1", "properties": {"provisioningState": "Creating"}}, 200, {}, None,
     "Creating", None),
    ("azure", {"name": "vm1", "properties": {"osType": "Linux"}}, 200, {}, "succeeded",
     "Succeeded", None),
    # GitHub Actions: completed + conclusion failure is a failure
    ("github-actions", {"id": 1, "status": "queued", "conclusion": None}, 200, {}, None,
     "queued", None),
    ("github-actions", {"id": 1, "status": "completed", "conclusion": "success"}, 200, {},
     "succeeded", "completed", None),
    ("github-actions", {"id": 1, "status": "completed", "conclusion": "failure"}, 200, {},
     "failed", "completed", "conclusion: failure"),
    ("github-actions", {"id": 1, "status": "completed", "conclusion": "timed_out"}, 200, {},
     "failed", "completed", "conclusion: timed_out"),
    ("github-actions", {"id": 1, "status": "completed", "conclusion": "skipped"}, 200, {},
     "succeeded", "completed", None),
    ("github-actions", {"id": 1, "status": "completed", "conclusion": "neutral"}, 200, {},
     "succeeded", "completed", None),
    ("github-actions", {"id": 1, "status": "completed", "conclusion": "startup_failure"},
     200, {}, "failed", "completed", "startup_failure"),
    # Celery Flower: REVOKED fails, the reason is in result / exception
    ("celery-flower", {"task-id": "t1", "state": "STARTED"}, 200, {}, None, "STARTED", None),
    ("celery-flower", {"task-id": "t1", "state": "SUCCESS", "result": 3}, 200, {}, "succeeded",
     "SUCCESS", None),
    ("celery-flower", {"task-id": "t1", "state": "FAILURE", "result": "ValueError('boom')",
                       "traceback": "Traceback (most recent call last):\n..."},
     200, {}, "failed", "FAILURE", "ValueError('boom')"),
    ("celery-flower", {"task-id": "t1", "state": "REVOKED",
                       "result": "TaskRevokedError('terminated')"},
     200, {}, "failed", "REVOKED", "TaskRevokedError('terminated')"),
    ("celery-flower", {"task-id": "t1", "state": "FAILURE", "exception": "KeyError('x')",
                       "result": None, "traceback": "Traceback ..."},
     200, {}, "failed", "FAILURE", "KeyError('x')"),
    # MLflow: run.info.status
    ("mlflow", {"run": {"info": {"run_id": "r1", "status": "RUNNING"}}}, 200, {}, None,
     "RUNNING", None),
    ("mlflow", {"run": {"info": {"run_id": "r1", "status": "FINISHED"}}}, 200, {}, "succeeded",
     "FINISHED", None),
    ("mlflow", {"run": {"info": {"run_id": "r1", "status": "KILLED"}}}, 200, {}, "failed",
     "KILLED", None),
    # Step Functions
    ("step-functions", {"executionArn": "arn:x", "status": "PENDING_REDRIVE"}, 200, {}, None,
     "PENDING_REDRIVE", None),
    ("step-functions", {"executionArn": "arn:x", "status": "SUCCEEDED", "output": "{}"}, 200,
     {}, "succeeded", "SUCCEEDED", None),
    ("step-functions", {"executionArn": "arn:x", "status": "TIMED_OUT",
                        "error": "States.Timeout", "cause": "took too long"},
     200, {}, "failed", "TIMED_OUT", "States.Timeout: took too long"),
    ("step-functions", {"status": "ABORTED"}, 200, {}, "failed", "ABORTED", None),
    # Databricks: TERMINATED + result_state FAILED is a failure
    ("databricks-run", {"run_id": 5, "state": {"life_cycle_state": "RUNNING"}}, 200, {}, None,
     "RUNNING", None),
    ("databricks-run", {"run_id": 5, "state": {"life_cycle_state": "TERMINATED",
                                               "result_state": "SUCCESS"}},
     200, {}, "succeeded", "TERMINATED", None),
    ("databricks-run", {"run_id": 5, "state": {"life_cycle_state": "TERMINATED",
                                               "result_state": "FAILED",
                                               "state_message": "Task notebook failed"}},
     200, {}, "failed", "TERMINATED", "FAILED: Task notebook failed"),
    ("databricks-run", {"run_id": 5, "state": {"life_cycle_state": "INTERNAL_ERROR",
                                               "state_message": "Cluster lost"}},
     200, {}, "failed", "INTERNAL_ERROR", "Cluster lost"),
    # Kubernetes: conditions, no status word
    ("kubernetes-job", {"kind": "Job", "status": {"active": 1}}, 200, {}, None, "running", None),
    ("kubernetes-job", {"kind": "Job", "status": {"succeeded": 1, "conditions": [
        {"type": "SuccessCriteriaMet", "status": "True"},
        {"type": "Complete", "status": "True"}]}}, 200, {}, "succeeded", "Complete", None),
    ("kubernetes-job", K8S_FAILED, 200, {}, "failed", "Failed",
     "BackoffLimitExceeded: Job has reached the specified backoff limit"),
    ("kubernetes-job", {"status": {"conditions": [{"type": "Failed", "status": "False"}]}},
     200, {}, None, "running", None),
    # Ray
    ("ray-job", {"job_id": "j1", "status": "PENDING"}, 200, {}, None, "PENDING", None),
    ("ray-job", {"status": "SUCCEEDED", "message": "Job finished successfully."}, 200, {},
     "succeeded", "SUCCEEDED", None),
    ("ray-job", {"status": "STOPPED", "message": "Job was intentionally stopped."}, 200, {},
     "failed", "STOPPED", "intentionally stopped"),
    ("ray-job", {"status": "FAILED", "message": "exit code 1", "error_type": "JOB_ENTRYPOINT"},
     200, {}, "failed", "FAILED", "JOB_ENTRYPOINT: exit code 1"),
    # RunPod
    ("runpod", {"id": "j1", "status": "IN_QUEUE"}, 200, {}, None, "IN_QUEUE", None),
    ("runpod", {"id": "j1", "status": "COMPLETED", "output": {"x": 1}}, 200, {}, "succeeded",
     "COMPLETED", None),
    ("runpod", {"id": "j1", "status": "TIMED_OUT"}, 200, {}, "failed", "TIMED_OUT", None),
    ("runpod", {"id": "j1", "status": "FAILED", "error": "handler raised"}, 200, {}, "failed",
     "FAILED", "handler raised"),
    # Hugging Face Jobs: status.stage
    ("huggingface-job", {"id": "h1", "status": {"stage": "SCHEDULING", "message": None}},
     200, {}, None, "SCHEDULING", None),
    ("huggingface-job", {"id": "h1", "status": {"stage": "COMPLETED"}}, 200, {}, "succeeded",
     "COMPLETED", None),
    ("huggingface-job", {"id": "h1", "status": {"stage": "ERROR", "message": "OOM killed"}},
     200, {}, "failed", "ERROR", "OOM killed"),
]


@pytest.mark.parametrize(
    ("name", "doc", "code", "headers", "outcome", "word", "error"),
    CASES,
    ids=[f"{c[0]}-{c[5]}-{c[4]}-{i}" for i, c in enumerate(CASES)],
)
def test_builtin_reads_vendor_documents(
    name: str, doc: Any, code: int, headers: dict[str, str], outcome: str | None, word: str,
    error: str | None,
) -> None:
    reading = read(name, doc, code, headers)
    assert reading.outcome == outcome
    assert reading.status.status == word
    if error is None:
        assert reading.status.error is None or outcome == "failed"
    else:
        assert reading.status.error is not None and error in reading.status.error
    assert reading.raw == (doc if isinstance(doc, dict) else {})


def test_every_builtin_is_covered_by_a_pending_a_success_and_a_failure() -> None:
    seen: dict[str, set[str | None]] = {}
    for name, *_rest, outcome, _word, _err in CASES:
        seen.setdefault(name, set()).add(outcome)
    for name in FIRST_NAMES:
        assert seen.get(name) == {None, "succeeded", "failed"}, name


def test_progress_queue_position_and_notes() -> None:
    assert read("azure", {"status": "Running", "percentComplete": 40}).status.progress == 40.0
    assert read("runway", {"status": "RUNNING", "progress": 0.25}).status.progress == 25.0
    batch = read("openai-batch", {"status": "in_progress", "request_counts": {
        "completed": 3, "failed": 1, "total": 8}})
    assert batch.status.progress == 50.0
    fal = read("fal", {"status": "IN_QUEUE", "queue_position": 4}, 202)
    assert fal.status.model_extra is not None and fal.status.model_extra["queue_position"] == 4
    done = read("openai-batch", {"status": "completed", "request_counts": {
        "completed": 7, "failed": 3, "total": 10}})
    assert done.outcome == "succeeded"
    assert done.status.model_extra is not None
    assert done.status.model_extra["note"] == "3 of 10 requests failed (see error_file_id)"
    k8s = read("kubernetes-job", {"spec": {"completions": 4}, "status": {"succeeded": 1}})
    assert k8s.status.progress == 25.0
    # A total of 0 gives no progress rather than a division by zero.
    empty = read("openai-batch", {"status": "validating", "request_counts": {
        "completed": 0, "failed": 0, "total": 0}})
    assert empty.status.progress is None


def test_change_keys_follow_the_word_and_the_profiles_change_fields() -> None:
    a = read("github-actions", {"status": "queued"})
    b = read("github-actions", {"status": "QUEUED"})
    c = read("github-actions", {"status": "in_progress"})
    assert a.key == b.key == "s:queued" and c.key != a.key
    k1 = read("kubernetes-job", {"status": {"succeeded": 1}})
    k2 = read("kubernetes-job", {"status": {"succeeded": 2}})
    assert k1.key != k2.key


def test_hint_headers_and_accepts_body() -> None:
    azure = compile_profile(load_profile("azure"))
    assert azure.hint_headers == ("retry-after", "retry-after-ms", "x-ms-retry-after-ms")
    assert compile_profile(load_profile("github-actions")).hint_headers == (
        "retry-after", "x-poll-interval")
    assert "openai-poll-after-ms" in compile_profile(load_profile("openai-batch")).hint_headers
    assert azure.accepts_body(202, None) and azure.accepts_body(204, None)
    stability = compile_profile(load_profile("stability"))
    assert stability.accepts_body(200, "video/mp4") and not stability.accepts_body(202, None)
    assert not compile_profile(load_profile("replicate")).accepts_body(200, "text/html")


def test_success_and_failure_words_add_to_the_profiles_own() -> None:
    profile = load_profile("celery-flower")
    reader = compile_profile(profile, failure=["IGNORED"])
    assert reader.read({"state": "IGNORED"}).outcome == "failed"
    assert reader.read({"state": "FAILURE"}).outcome == "failed"  # the profile's words stay
    assert reader.read({"state": "SUCCESS"}).outcome == "succeeded"
    moved = compile_profile(profile, success="revoked")
    assert moved.read({"state": "REVOKED"}).outcome == "succeeded"
    replaced = compile_profile(profile, success=["done"], failure=["bad"], replace_words=True)
    assert replaced.read({"state": "SUCCESS"}).outcome is None
    assert replaced.read({"state": "done"}).outcome == "succeeded"
    with pytest.raises(ValueError, match="both success and failure"):
        compile_profile(profile, success=["x"], failure=["X"])


@pytest.mark.parametrize(
    ("name", "doc", "code", "message"),
    [
        ("github-actions", {"conclusion": "success"}, 200, "no 'status' field"),
        ("github-actions", [1, 2], 200, "got an array"),
        ("github-actions", "done", 200, "got a string"),
        ("github-actions", None, 200, "no JSON body"),
        ("github-actions", {"status": {"nested": 1}}, 200, "not a status word"),
        ("stability", {"id": "x"}, 201, "no 'status' field"),
    ],
)
def test_bad_documents_are_bad_responses(name: str, doc: Any, code: int, message: str) -> None:
    with pytest.raises(BadResponse, match=message):
        read(name, doc, code)


# A profile of an API of our own, written as a data file only (tests/profiles/acme-render.toml).
def test_a_profile_written_as_a_data_file_only() -> None:
    profile = load_profile(DATA / "acme-render.toml")
    assert profile.name == "acme-render"
    reader = compile_profile(profile)
    running = reader.read({"job": {"phase": "Rendering", "pct": 0.5, "line": 2}},
                          status_code=200, headers={})
    assert running.outcome is None and running.status.progress == 50.0
    assert running.status.model_extra is not None
    assert running.status.model_extra["queue_position"] == 2
    ok = reader.read({"job": {"phase": "Done", "frames_failed": 0}})
    assert ok.outcome == "succeeded"
    partial = reader.read({"job": {"phase": "Done", "frames_failed": 3,
                                   "problems": [{"detail": "frame 7: missing texture"}]}})
    assert partial.outcome == "failed"
    assert partial.status.error == "frame 7: missing texture"
    gone = reader.read({"job": {"phase": "Evicted"}})
    assert gone.outcome == "failed" and gone.status.error == "the render node was reclaimed"
    assert reader.hint_headers == ("retry-after", "x-acme-poll-after")
    start = Seen("https://render.example.com/v2/renders", 202,
                 {"Location": "/v2/renders/r-17"}, {"render": {"id": "r-17"}})
    assert status_url(profile, start) == "https://render.example.com/v2/renders/r-17"
    nohdr = Seen("https://render.example.com/v2/renders", 200, {}, {"render": {"id": "r-18"}})
    assert status_url(profile, nohdr) == "https://render.example.com/v2/renders/r-18/status"
    final = Seen("https://render.example.com/v2/renders/r-17", 200, {},
                 {"job": {"phase": "Done", "output": {"href": "/files/r-17.mp4"}}})
    got = result_request(profile, start=start, status=final)
    assert got is not None and got.url == "https://render.example.com/files/r-17.mp4"
    cancel = cancel_request(profile, start=start, status=final)
    assert cancel is not None and cancel.method == "DELETE"
    assert cancel.url == "https://render.example.com/v2/renders/r-17"


def test_a_profile_can_extend_a_builtin() -> None:
    profile = parse_profile({
        "extends": "openai-batch",
        "name": "strict-batch",
        "outcome": [{
            "when": [{"status": ["completed"]}, {"path": "request_counts.failed", "above": 0}],
            "then": "failed",
            "message": ["join('', [to_string(request_counts.failed), ' requests failed'])"],
        }],
    })
    reader = compile_profile(profile)
    doc = {"status": "completed", "request_counts": {"completed": 7, "failed": 3, "total": 10}}
    reading = reader.read(doc)
    assert reading.outcome == "failed" and reading.status.error == "3 requests failed"
    assert reader.hint_headers == load_profile("openai-batch").hints
    with pytest.raises(ProfileError, match="extends: unknown built-in profile 'nope'"):
        parse_profile({"extends": "nope"}, where="profile file x.toml")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


GOOD = '[status]\npath = "state"\nsucceeded = ["ok"]\n'


@pytest.mark.parametrize(
    ("filename", "text", "expected"),
    [
        ("syntax.toml", '[status\npath = "x"\n', "syntax.toml: not valid TOML: "),
        ("unknown.toml", GOOD + '[[outcome]]\nthen = "failed"\nwhen = [{ status = ["x"] }]\n'
         '[[outcome]]\nthen = "failed"\nwhen = [{ status = ["y"] }]\n'
         '[[outcome]]\nthen = "failed"\nwhen = [{ feild = "x" }]\n',
         "unknown.toml: outcome[2].when[0]: unknown key 'feild'"),
        ("jmes.toml", '[status]\npath = "status.conditions[?type==\'Failed\'"\n',
         "jmes.toml: status.path: bad JMESPath expression"),
        ("lit.toml", '[status]\npath = "status.conditions[?type==`Failed`].status"\n',
         "lit.toml: status.path: bad JMESPath expression"),
        ("top.toml", 'colour = "blue"\n' + GOOD, "top.toml: unknown key 'colour'"),
        ("sub.toml", GOOD + 'colour = "blue"\n', "sub.toml: status: unknown key 'colour'"),
        ("then.toml", GOOD + '[[outcome]]\nwhen = { status = ["x"] }\nthen = "finished"\n',
         "then.toml: outcome[0].then: Input should be"),
        ("two.toml", GOOD + '[[outcome]]\nwhen = { status = ["x"], path = "y", is = [1] }\n'
         'then = "failed"\n', "two.toml: outcome[0].when[0]: a condition names exactly one"),
        ("pred.toml", GOOD + '[[outcome]]\nwhen = { path = "y" }\nthen = "failed"\n',
         "pred.toml: outcome[0].when[0]: 'path' takes exactly one of is"),
        ("words.toml", '[status]\npath = "s"\nsucceeded = ["Done"]\nfailed = ["done"]\n',
         "words.toml: status: words both succeeded and failed"),
        ("noword.toml", "[status]\n", "noword.toml: status: give 'path'"),
        ("tpl.toml", GOOD + '[start]\nstatus_url = [{ template = "/jobs/{job}" }]\n',
         "tpl.toml: start.status_url[0]: template '/jobs/{job}': unknown placeholder {job}"),
        ("tplid.toml", GOOD + '[start]\nstatus_url = [{ template = "/jobs/{id}" }]\n',
         "tplid.toml: start.status_url[0]: a template with {id} needs 'id'"),
        ("miss.toml", GOOD + '[start]\nmethod = "POST"\n',
         "miss.toml: start: missing key 'status_url'"),
        ("hdr.toml", 'hints = ["retry after"]\n' + GOOD, "hdr.toml: hints[0]: not a header name"),
        ("res.toml", GOOD + '[result]\nkind = "url"\n', "res.toml: result: kind = 'url' needs"),
        ("arr.json", "[1, 2]", "arr.json: the file must hold a table"),
        ("bad.json", '{"status": ', "bad.json: not valid JSON: Expecting value (at line 1"),
    ],
)
def test_loader_errors_name_the_file_and_the_key(
    tmp_path: Path, filename: str, text: str, expected: str
) -> None:
    path = write(tmp_path, filename, text)
    with pytest.raises(ProfileError) as info:
        load_profile(path)
    message = str(info.value)
    assert message.startswith(f"profile file {path}")
    assert expected in message, message
    assert "\n" not in message
    assert isinstance(info.value, ValueError) and info.value.exit_code == 2


def test_loader_errors_for_missing_files_and_names(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ProfileError, match=r"nope\.toml: no such file"):
        load_profile(missing)
    with pytest.raises(ProfileError, match="cannot read it"):
        load_profile(str(tmp_path) + "/")
    with pytest.raises(ProfileError, match=r"unknown profile 'github'.*github-actions"):
        load_profile("github")


def test_a_json_profile_loads_like_toml(tmp_path: Path) -> None:
    path = write(tmp_path, "mine.json", json.dumps({
        "status": {"path": "data.state", "succeeded": ["ok"], "failed": ["ko"]},
        "error": {"paths": ["data.why"]},
    }))
    reader = compile_profile(load_profile(path))
    assert reader.profile.name == "mine"
    reading = reader.read({"data": {"state": "KO", "why": "disk full"}})
    assert reading.outcome == "failed" and reading.status.error == "disk full"


# ---------------------------------------------------------------------------------- URLs


def test_status_urls_from_every_start_pattern() -> None:
    azure = load_profile("azure")
    op = Seen("https://eu.api.example/docs:analyze", 202,
              {"Operation-Location": "https://eu.api.example/operations/9", "Location": "/x"})
    assert status_url(azure, op) == "https://eu.api.example/operations/9"
    loc = Seen("https://m.example/sub/vm1/restart", 202, {"location": "/sub/ops/7",
                                                          "retry-after": "3"})
    assert status_url(azure, loc) == "https://m.example/sub/ops/7"
    assert status_url(azure, Seen("https://m.example/x", 200, {"location": "/y"})) is None
    rep = Seen("https://api.replicate.com/v1/predictions", 201, {}, {
        "id": "p1", "status": "starting", "urls": {"get": "https://api.replicate.com/v1/predictions/p1",
                                                   "cancel": "https://api.replicate.com/v1/predictions/p1/cancel"}})
    assert status_url(load_profile("replicate"), rep) == "https://api.replicate.com/v1/predictions/p1"
    google = Seen("https://g.example/v1beta/models/veo-3.0:predictLongRunning", 200, {},
                  {"name": "models/veo-3.0/operations/abc"})
    assert (status_url(load_profile("google-operation"), google)
            == "https://g.example/v1beta/models/veo-3.0/operations/abc")
    batch = Seen("https://o.example/v1/batches", 200, {}, {"id": "batch_1"})
    assert status_url(load_profile("openai-batch"), batch) == "https://o.example/v1/batches/batch_1"
    runpod = Seen("https://r.example/v2/ep1/run", 200, {}, {"id": "j 1", "status": "IN_QUEUE"})
    assert status_url(load_profile("runpod"), runpod) is None  # an id with a space is refused
    runpod = Seen("https://r.example/v2/ep1/run", 200, {}, {"id": "j1", "status": "IN_QUEUE"})
    assert status_url(load_profile("runpod"), runpod) == "https://r.example/v2/ep1/status/j1"
    flower = Seen("http://f.example/api/task/async-apply/tasks.add", 200, {},
                  {"task-id": "t1", "state": "PENDING"})
    assert (status_url(load_profile("celery-flower"), flower)
            == "http://f.example/api/task/result/t1")
    dbx = Seen("https://w.example/api/2.2/jobs/run-now", 200, {}, {"run_id": 42})
    assert (status_url(load_profile("databricks-run"), dbx)
            == "https://w.example/api/2.2/jobs/runs/get?run_id=42")
    evil = Seen("https://o.example/v1/batches", 200, {}, {"id": "../../admin"})
    assert status_url(load_profile("openai-batch"), evil) is None
    assert status_url(load_profile("step-functions"), batch) is None


def test_result_and_cancel_requests() -> None:
    fal = load_profile("fal")
    start = Seen("https://queue.example/fal-ai/x", 200, {}, {
        "request_id": "r1", "status_url": "https://queue.example/fal-ai/x/requests/r1/status",
        "response_url": "https://queue.example/fal-ai/x/requests/r1",
        "cancel_url": "https://queue.example/fal-ai/x/requests/r1/cancel"})
    final = Seen("https://queue.example/fal-ai/x/requests/r1/status", 200, {},
                 {"status": "COMPLETED"})
    got = result_request(fal, start=start, status=final)
    assert got is not None and got.url == "https://queue.example/fal-ai/x/requests/r1"
    cancel = cancel_request(fal, start=start, status=final)
    assert cancel is not None and (cancel.method, cancel.url) == (
        "PUT", "https://queue.example/fal-ai/x/requests/r1/cancel")
    # Without the start response (a plain wait), the cancel URL is next to the status URL.
    cancel = cancel_request(fal, start=None, status=final)
    assert cancel is not None and cancel.url == "https://queue.example/fal-ai/x/requests/r1/cancel"
    dbx = cancel_request(load_profile("databricks-run"), start=None, status=Seen(
        "https://w.example/api/2.2/jobs/runs/get?run_id=42", 200, {}, {"run_id": 42}))
    assert dbx is not None
    assert (dbx.method, dbx.url, dbx.json) == (
        "POST", "https://w.example/api/2.2/jobs/runs/cancel", {"run_id": 42})
    gh = cancel_request(load_profile("github-actions"), start=None, status=Seen(
        "https://api.github.example/repos/o/r/actions/runs/7?x=1", 200, {}, {"status": "queued"}))
    assert gh is not None and gh.url == "https://api.github.example/repos/o/r/actions/runs/7/cancel"
    assert cancel_request(load_profile("luma"), start=None, status=final) is None
    azure = load_profile("azure")
    done = Seen("https://m.example/ops/7", 200, {}, {
        "status": "Succeeded", "resourceLocation": "https://m.example/vms/vm1"})
    got = result_request(azure, start=None, status=done)
    assert got is not None and got.url == "https://m.example/vms/vm1"
    assert result_request(azure, start=None, status=Seen("https://m.example/ops/7", 200)) is None
    assert result_request(load_profile("stability"), start=None, status=done) is None
    batch = result_request(load_profile("openai-batch"), start=None, status=Seen(
        "https://o.example/v1/batches/batch_1", 200, {}, {"output_file_id": "file-9"}))
    assert batch is not None and batch.url == "https://o.example/v1/files/file-9/content"


# ------------------------------------------------------------------------------ property

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(
        st.sampled_from(["status", "state", "done", "error", "conclusion", "request_counts",
                         "failed", "total", "conditions", "type", "progress", "run", "info",
                         "properties", "provisioningState", "model_config", "_x", "response",
                         "queue_position", "stage", "life_cycle_state", "result_state"])
        | st.text(max_size=6),
        children, max_size=5),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(sorted(EXPECTED_NAMES)),
    doc=JSON,
    code=st.sampled_from([200, 201, 202, 204]),
    finish=st.sampled_from(["", "SUCCESS", "CONTENT_FILTERED"]),
)
def test_reader_raises_only_bad_response(name: str, doc: Any, code: int, finish: str) -> None:
    reader = compile_profile(load_profile(name))
    headers = {"finish-reason": finish} if finish else {}
    try:
        reading = reader.read(doc, status_code=code, headers=headers)
    except BadResponse:
        return
    assert reading.outcome in (None, "succeeded", "failed")
    assert isinstance(reading.status.status, str) and isinstance(reading.key, str)
    assert reading.status.progress is None or 0.0 <= reading.status.progress <= 100.0


# ----------------------------------------------------------------------------- the docs

PAGE = Path(__file__).parents[1] / "docs" / "profiles.md"


def test_the_docs_worked_profile_is_the_tested_file() -> None:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    section = PAGE.read_text()
    block = section[section.index("```toml\n") + 8:]
    block = block[: block.index("```")]
    from_readme = parse_profile({"name": "acme-render", **tomllib.loads(block)})
    assert from_readme == load_profile(DATA / "acme-render.toml")


def test_the_docs_table_lists_every_builtin_with_its_status_path() -> None:
    text = PAGE.read_text()
    rows = {line.split("|")[1].strip().strip("`"): line for line in text.splitlines()
            if line.startswith("| `")}
    for name in FIRST_NAMES:  # every one is listed in docs/profiles-catalog.md
        assert name in rows, name
        path = load_profile(name).status.path
        if path is not None and "||" not in path:
            assert f"`{path}`" in rows[name].split("|")[2], (name, path)
