"""Imitations of AI and media job APIs (the second set of built-in profiles), in the style of
``tests/vendors.py``, which registers them: each vendor's documented start answer, status
document, words, headers and status codes, at the paths its docs give (under a prefix of its
own where the profile allows one), with the traps its profile is written for. Each cites the
page or SDK file it follows.
"""

from __future__ import annotations

from typing import Any

from .vendors import _DOT, Job, Step, Vendor, _ok, _word

# -- Anthropic Message Batches ------------------------------------------------------------------
# https://docs.anthropic.com/en/api/retrieving-message-batches (MessageBatch: id, type,
# processing_status, request_counts, ended_at, cancel_initiated_at, results_url);
# https://docs.anthropic.com/en/api/versioning ("anthropic-version" is required; without it the
# API answers 400 invalid_request_error).

_ANTHROPIC = "/anthropic/v1/messages/batches"


def _msgbatch(job: Job, base: str) -> dict[str, Any]:
    return {"id": job.id, "type": "message_batch", "processing_status": "in_progress",
            "request_counts": {"processing": 10, "succeeded": 0, "errored": 0, "canceled": 0,
                               "expired": 0},
            "ended_at": None, "created_at": "2026-01-01T00:00:00Z",
            "expires_at": "2026-01-02T00:00:00Z", "archived_at": None,
            "cancel_initiated_at": None, "results_url": None}


def _msgbatch_word(word: str, job: Job, base: str) -> dict[str, Any]:
    state, _, how = word.partition(":")
    if state != "ended":
        return {"processing_status": state}
    counts = {"ok": (10, 0, 0, 0), "partial": (7, 2, 1, 0), "errored": (0, 9, 1, 0),
              "canceled": (2, 0, 0, 8)}[how or "ok"]
    doc: dict[str, Any] = {
        "processing_status": "ended", "ended_at": "2026-01-01T01:00:00Z",
        "results_url": f"{base}{_ANTHROPIC}/{job.id}/results",
        "request_counts": dict(zip(("succeeded", "errored", "expired", "canceled"), counts),
                               processing=0)}
    if how == "canceled":
        doc["cancel_initiated_at"] = "2026-01-01T00:30:00Z"
    return doc


def _anthropic_refusal(name: str) -> Step:
    return Step({"type": "error", "error": {"type": "invalid_request_error",
                                            "message": f"{name}: header is required"}}, 400)


# -- AssemblyAI ---------------------------------------------------------------------------------
# https://www.assemblyai.com/docs/api-reference/transcripts/get


def _transcript(job: Job, base: str) -> dict[str, Any]:
    return {"id": job.id, "status": "queued", "audio_url": "https://x/call.mp3",
            "language_code": "en_us", "text": None, "words": None, "confidence": None,
            "audio_duration": None, "webhook_url": None}


def _transcript_word(word: str, job: Job, base: str) -> dict[str, Any]:
    if word == "completed":
        return {"status": word, "text": "Hello world.", "confidence": 0.97,
                "audio_duration": 2, "words": [{"text": "Hello", "start": 0, "end": 400}]}
    return {"status": word}


# -- OpenAI fine-tuning and vector store file batches -------------------------------------------
# openai/openai-python@e43b4224 src/openai/types/fine_tuning/fine_tuning_job.py,
# src/openai/types/vector_stores/vector_store_file_batch.py


def _ftjob(job: Job, base: str) -> dict[str, Any]:
    return {"id": job.id, "object": "fine_tuning.job", "model": "gpt-4o-mini-2024-07-18",
            "created_at": 1767225600, "status": "validating_files", "fine_tuned_model": None,
            "finished_at": None, "error": None, "result_files": [], "trained_tokens": None,
            "training_file": "file-train", "hyperparameters": {"n_epochs": "auto"},
            "estimated_finish": None}


def _vsfb(job: Job, base: str) -> dict[str, Any]:
    return {"id": job.id, "object": "vector_store.files_batch", "created_at": 1767225600,
            "vector_store_id": "vs_1", "status": "in_progress",
            "file_counts": {"in_progress": 10, "completed": 0, "failed": 0, "cancelled": 0,
                            "total": 10}}


def _vsfb_word(word: str, job: Job, base: str) -> dict[str, Any]:
    if word == "completed":
        return {"status": word, "file_counts": {"in_progress": 0, "completed": 10}}
    if word == "in_progress":
        return {"status": word, "file_counts": {"in_progress": 6, "completed": 4}}
    return {"status": word}


# -- Gemini Batch Mode and Vertex AI batch prediction ------------------------------------------
# https://ai.google.dev/gemini-api/docs/batch-mode;
# https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.batchPredictionJobs

_BATCH_META = "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch"
_VERTEX = "/v1/projects/p/locations/us-central1/batchPredictionJobs"


def _gemini(job: Job, base: str) -> dict[str, Any]:
    return {"name": f"batches/{job.id}",
            "metadata": {"@type": _BATCH_META, "model": "models/gemini-2.5-flash",
                         "displayName": "nightly", "name": f"batches/{job.id}",
                         "state": "BATCH_STATE_PENDING",
                         "batchStats": {"requestCount": "10", "pendingRequestCount": "10"}}}


def _gemini_word(word: str, job: Job, base: str) -> dict[str, Any]:
    doc: dict[str, Any] = {"metadata": {"state": word}}
    if word == "BATCH_STATE_RUNNING":
        doc["metadata"]["batchStats"] = {"successfulRequestCount": "4"}
    if word in ("BATCH_STATE_SUCCEEDED", "BATCH_STATE_FAILED", "BATCH_STATE_EXPIRED"):
        doc["done"] = True
    if word == "BATCH_STATE_SUCCEEDED":
        doc["response"] = {"@type": "type.googleapis.com/google.ai.generativelanguage.v1main."
                                    "GenerateContentBatchOutput",
                           "inlinedResponses": {"inlinedResponses": [
                               {"response": {"candidates": [{"content": {"parts": [
                                   {"text": "hi"}]}}]}}]}}
    return doc


def _vertex(job: Job, base: str) -> dict[str, Any]:
    return {"name": f"projects/p/locations/us-central1/batchPredictionJobs/{job.id}",
            "displayName": "nightly", "model": "publishers/google/models/gemini-2.5-flash",
            "state": "JOB_STATE_PENDING", "createTime": "2026-01-01T00:00:00Z",
            "inputConfig": {"instancesFormat": "jsonl"},
            "outputConfig": {"predictionsFormat": "jsonl"}}


def _vertex_word(word: str, job: Job, base: str) -> dict[str, Any]:
    if word == "JOB_STATE_RUNNING":
        return {"state": word, "completionStats": {"successfulCount": "4",
                                                   "incompleteCount": "6"}}
    if word == "JOB_STATE_SUCCEEDED":
        return {"state": word, "completionStats": {"successfulCount": "10"},
                "outputInfo": {"gcsOutputDirectory": "gs://b/out/prediction-1"}}
    return {"state": word}


# -- Mistral, Together, an OpenAI-compatible host (Groq) ----------------------------------------
# https://docs.mistral.ai/api/#tag/batch; https://docs.together.ai/docs/batch-inference;
# https://console.groq.com/docs/batch


def _mistral(job: Job, base: str) -> dict[str, Any]:
    return {"id": job.id, "object": "batch", "input_files": ["file-in"],
            "endpoint": "/v1/chat/completions", "model": "mistral-small-latest",
            "errors": [], "status": "QUEUED", "created_at": 1767225600,
            "total_requests": 10, "completed_requests": 0, "succeeded_requests": 0,
            "failed_requests": 0, "output_file": None, "error_file": None}


def _mistral_word(word: str, job: Job, base: str) -> dict[str, Any]:
    if word == "RUNNING":
        return {"status": word, "completed_requests": 4, "succeeded_requests": 4}
    if word == "SUCCESS":
        return {"status": word, "completed_requests": 10, "succeeded_requests": 10,
                "output_file": f"file-out-{job.id}"}
    if word == "SUCCESS:partial":  # finished, 2 requests failed (their errors: error_file)
        return {"status": "SUCCESS", "completed_requests": 10, "succeeded_requests": 8,
                "failed_requests": 2, "output_file": f"file-out-{job.id}",
                "error_file": f"file-err-{job.id}"}
    return {"status": word}


def _together_job(job: Job, base: str) -> dict[str, Any]:
    return {"id": job.id, "user_id": "u1", "input_file_id": "file-in",
            "file_size_bytes": 2048, "status": "VALIDATING", "job_deadline":
            "2026-01-02T00:00:00Z", "created_at": "2026-01-01T00:00:00Z",
            "endpoint": "/v1/chat/completions", "progress": 0.0, "model_id": "m",
            "output_file_id": None, "error_file_id": None, "error": None,
            "completed_at": None}


def _together_word(word: str, job: Job, base: str) -> dict[str, Any]:
    if word == "IN_PROGRESS":
        return {"status": word, "progress": 40.0}
    if word == "COMPLETED":
        return {"status": word, "progress": 100.0, "output_file_id": f"file-out-{job.id}"}
    if word == "COMPLETED:partial":  # "COMPLETED may carry an error file"
        return {"status": "COMPLETED", "progress": 100.0,
                "output_file_id": f"file-out-{job.id}", "error_file_id": "file-err-1"}
    return {"status": word}


def _groq(job: Job, base: str) -> dict[str, Any]:
    return {"id": job.id, "object": "batch", "endpoint": "/v1/chat/completions",
            "input_file_id": "file_in", "completion_window": "24h", "status": "validating",
            "created_at": 1767225600, "output_file_id": None, "error_file_id": None,
            "errors": None, "request_counts": {"completed": 0, "failed": 0, "total": 10}}


def _groq_word(word: str, job: Job, base: str) -> dict[str, Any]:
    if word == "completed":
        return {"status": word, "output_file_id": f"file-out-{job.id}",
                "request_counts": {"completed": 10, "failed": 0, "total": 10}}
    return {"status": word}


# -- ElevenLabs dubbing, Ideogram, Speechmatics, Kling ------------------------------------------
# https://elevenlabs.io/docs/api-reference/dubbing/get;
# https://developer.ideogram.ai/ideogram-api/responses-and-metadata;
# https://docs.speechmatics.com/api-ref/batch/get-job-details;
# https://app.klingai.com/global/dev/document-api/apiReference/model/textToVideo


def _dubbing(job: Job, base: str) -> dict[str, Any]:
    return {"dubbing_id": job.id, "name": "launch video", "status": "dubbing",
            "target_languages": ["es"], "media_metadata": {"content_type": "video/mp4",
                                                           "duration": 127.5},
            "error": None}


def _ideogram(job: Job, base: str) -> dict[str, Any]:
    return {"generation_id": job.id, "status": "pending", "created": "2026-01-01T00:00:00Z"}


def _ideogram_word(word: str, job: Job, base: str) -> dict[str, Any] | Step:
    if word == "rate-limited":  # "a 429 response carries a Retry-After header"
        return Step({"detail": "Too many requests"}, 429, {"Retry-After": "0"})
    if word == "completed":
        return {"status": word, "response_type": "image", "data": [
            {"url": f"{base}/ideogram-cdn/{job.id}.png", "prompt": "a cat", "seed": 7,
             "resolution": "1024x1024", "is_image_safe": True}]}
    return {"status": word}


def _speechmatics(job: Job, base: str) -> dict[str, Any]:
    return {"job": {"id": job.id, "created_at": "2026-01-01T00:00:00.000Z",
                    "data_name": "call.mp3", "duration": 62, "status": "running",
                    "config": {"type": "transcription",
                               "transcription_config": {"language": "en"}}}}


def _kling(job: Job, base: str) -> dict[str, Any]:
    return {"code": 0, "message": "SUCCEED", "request_id": f"req-{job.id}",
            "data": {"task_id": job.id, "task_status": "submitted",
                     "created_at": 1767225600000, "updated_at": 1767225600000}}


def _kling_word(word: str, job: Job, base: str) -> dict[str, Any]:
    data: dict[str, Any] = {"task_status": word, "updated_at": 1767225660000}
    if word == "succeed":
        data["task_result"] = {"videos": [{"id": f"v-{job.id}", "duration": "5.1",
                                           "url": f"{base}/kling-cdn/{job.id}.mp4"}]}
    return {"data": data}


# -- Azure AI Document Intelligence ------------------------------------------------------------
# https://learn.microsoft.com/rest/api/aiservices/document-models/analyze-document (202 +
# Operation-Location); .../get-analyze-result (status, analyzeResult, error.innererror)

_DI = "/docintel/documentintelligence/documentModels/prebuilt-invoice"


def _di(job: Job, base: str) -> dict[str, Any]:
    return {"status": "notStarted", "createdDateTime": "2026-01-01T00:00:00Z",
            "lastUpdatedDateTime": "2026-01-01T00:00:00Z"}


def _di_word(word: str, job: Job, base: str) -> dict[str, Any]:
    if word == "succeeded":
        return {"status": word, "analyzeResult": {
            "apiVersion": "2024-11-30", "modelId": "prebuilt-invoice", "content": "INVOICE",
            "documents": [{"docType": "invoice", "fields": {}, "confidence": 0.99}]}}
    return {"status": word}


VENDORS_AI = [
    Vendor("anthropic-batch", "https://docs.anthropic.com/en/api/retrieving-message-batches",
           _msgbatch, _msgbatch_word, ("POST", _ANTHROPIC),
           lambda j, b: Step(_msgbatch(j, b)), rf"{_ANTHROPIC}/{_DOT}",
           result=rf"{_ANTHROPIC}/{_DOT}/results",
           cancel=("POST", rf"{_ANTHROPIC}/{_DOT}/cancel"),
           cancel_reply=_ok(lambda j: {**_msgbatch(j, ""), "processing_status": "canceling",
                                       "cancel_initiated_at": "2026-01-01T00:30:00Z"}),
           cancelled="ended:canceled", requires={"anthropic-version": "2023-06-01"},
           refusal=_anthropic_refusal),
    Vendor("assemblyai", "https://www.assemblyai.com/docs/api-reference/transcripts/get",
           _transcript, _transcript_word, ("POST", "/assemblyai/v2/transcript"),
           lambda j, b: Step(_transcript(j, b)), rf"/assemblyai/v2/transcript/{_DOT}"),
    Vendor("openai-fine-tuning", "openai/openai-python@e43b4224 "
           "src/openai/types/fine_tuning/fine_tuning_job.py", _ftjob, _word("status"),
           ("POST", "/openai-ft/v1/fine_tuning/jobs"), lambda j, b: Step(_ftjob(j, b)),
           rf"/openai-ft/v1/fine_tuning/jobs/{_DOT}",
           cancel=("POST", rf"/openai-ft/v1/fine_tuning/jobs/{_DOT}/cancel"),
           cancel_reply=_ok(lambda j: {**_ftjob(j, ""), "status": "cancelled"}),
           cancelled={"status": "cancelled"}),
    Vendor("openai-vector-store-batch", "openai/openai-python@e43b4224 "
           "src/openai/resources/vector_stores/file_batches.py", _vsfb, _vsfb_word,
           ("POST", "/openai-vs/v1/vector_stores/vs_1/file_batches"),
           lambda j, b: Step(_vsfb(j, b)), rf"/openai-vs/v1/vector_stores/vs_1/file_batches/{_DOT}",
           cancel=("POST", rf"/openai-vs/v1/vector_stores/vs_1/file_batches/{_DOT}/cancel"),
           cancel_reply=_ok(lambda j: {**_vsfb(j, ""), "status": "cancelling"}),
           cancelled={"status": "cancelled"}),
    Vendor("gemini-batch", "https://ai.google.dev/gemini-api/docs/batch-mode", _gemini,
           _gemini_word, ("POST", "/v1beta/models/gemini-2.5-flash:batchGenerateContent"),
           lambda j, b: Step(_gemini(j, b)), r"/v1beta/batches/(?P<id>[^/:]+)",
           cancel=("POST", r"/v1beta/batches/(?P<id>[^/:]+):cancel"), cancel_reply=_ok({}),
           cancelled={"done": True, "metadata": {"state": "BATCH_STATE_CANCELLED"}}),
    Vendor("vertex-batch", "https://cloud.google.com/vertex-ai/docs/reference/rest/v1/"
           "projects.locations.batchPredictionJobs", _vertex, _vertex_word,
           ("POST", _VERTEX), lambda j, b: Step(_vertex(j, b)),
           rf"{_VERTEX}/(?P<id>[^/:]+)", cancel=("POST", rf"{_VERTEX}/(?P<id>[^/:]+):cancel"),
           cancel_reply=_ok({}), cancelled="JOB_STATE_CANCELLED"),
    Vendor("mistral-batch", "https://docs.mistral.ai/api/#tag/batch", _mistral, _mistral_word,
           ("POST", "/mistral/v1/batch/jobs"), lambda j, b: Step(_mistral(j, b)),
           rf"/mistral/v1/batch/jobs/{_DOT}",
           result=r"/mistral/v1/files/file-out-(?P<id>[^/]+)/content",
           cancel=("POST", rf"/mistral/v1/batch/jobs/{_DOT}/cancel"),
           cancel_reply=_ok(lambda j: {**_mistral(j, ""), "status": "CANCELLATION_REQUESTED"}),
           cancelled="CANCELLED"),
    Vendor("together-batch", "togethercomputer/together-py "
           "src/together/types/batch_create_response.py", _together_job, _together_word,
           ("POST", "/together/v1/batches"),
           lambda j, b: Step({"job": _together_job(j, b), "warning": None}),
           rf"/together/v1/batches/{_DOT}",
           result=r"/together/v1/files/file-out-(?P<id>[^/]+)/content",
           cancel=("POST", rf"/together/v1/batches/{_DOT}/cancel"),
           cancel_reply=_ok(lambda j: {**_together_job(j, ""), "status": "CANCELLED"}),
           cancelled="CANCELLED"),
    Vendor("openai-compatible-batch", "https://console.groq.com/docs/batch", _groq, _groq_word,
           ("POST", "/groq/openai/v1/batches"), lambda j, b: Step(_groq(j, b)),
           rf"/groq/openai/v1/batches/{_DOT}",
           result=r"/groq/openai/v1/files/file-out-(?P<id>[^/]+)/content",
           cancel=("POST", rf"/groq/openai/v1/batches/{_DOT}/cancel"),
           cancel_reply=_ok(lambda j: {**_groq(j, ""), "status": "cancelling"}),
           cancelled={"status": "cancelled"}),
    Vendor("elevenlabs-dubbing", "https://elevenlabs.io/docs/api-reference/dubbing/get",
           _dubbing, _word("status"), ("POST", "/elevenlabs/v1/dubbing"),
           lambda j, b: Step({"dubbing_id": j.id, "expected_duration_sec": 127.5}),
           rf"/elevenlabs/v1/dubbing/{_DOT}", result=rf"/elevenlabs/v1/dubbing/{_DOT}/audio/es"),
    Vendor("ideogram", "https://developer.ideogram.ai/ideogram-api/responses-and-metadata",
           _ideogram, _ideogram_word, ("POST", "/v1/ideogram-v4/async/generate"),
           lambda j, b: Step({"generation_id": j.id}), rf"/v1/generations/{_DOT}"),
    Vendor("speechmatics", "https://docs.speechmatics.com/api-ref/batch/get-job-details",
           _speechmatics, lambda w, j, b: {"job": {"status": w}},
           ("POST", "/speechmatics/v2/jobs"), lambda j, b: Step({"id": j.id}, 201),
           rf"/speechmatics/v2/jobs/{_DOT}", result=rf"/speechmatics/v2/jobs/{_DOT}/transcript",
           cancel=("DELETE", rf"/speechmatics/v2/jobs/{_DOT}"),
           cancel_reply=_ok(lambda j: {"job": {**_speechmatics(j, "")["job"],
                                               "status": "deleted"}}),
           cancelled={"job": {"status": "deleted"}}),
    Vendor("kling", "https://app.klingai.com/global/dev/document-api/apiReference/model/"
           "textToVideo", _kling, _kling_word, ("POST", "/kling/v1/videos/text2video"),
           lambda j, b: Step(_kling(j, b)), rf"/kling/v1/videos/text2video/{_DOT}",
           result=r"/kling-cdn/(?P<id>[^/.]+)\.mp4"),
    Vendor("azure-document-intelligence", "https://learn.microsoft.com/rest/api/aiservices/"
           "document-models/get-analyze-result", _di, _di_word, ("POST", f"{_DI}:analyze"),
           lambda j, b: Step(None, 202, {"Operation-Location": f"{b}{_DI}/analyzeResults/"
                                                               f"{j.id}?api-version=2024-11-30"}),
           rf"{_DI}/analyzeResults/{_DOT}"),
]

STATUS_PATHS_AI = {
    "anthropic-batch": lambda j: f"{_ANTHROPIC}/{j.id}",
    "assemblyai": lambda j: f"/assemblyai/v2/transcript/{j.id}",
    "openai-fine-tuning": lambda j: f"/openai-ft/v1/fine_tuning/jobs/{j.id}",
    "openai-vector-store-batch": lambda j: f"/openai-vs/v1/vector_stores/vs_1/file_batches/{j.id}",
    "gemini-batch": lambda j: f"/v1beta/batches/{j.id}",
    "vertex-batch": lambda j: f"{_VERTEX}/{j.id}",
    "mistral-batch": lambda j: f"/mistral/v1/batch/jobs/{j.id}",
    "together-batch": lambda j: f"/together/v1/batches/{j.id}",
    "openai-compatible-batch": lambda j: f"/groq/openai/v1/batches/{j.id}",
    "elevenlabs-dubbing": lambda j: f"/elevenlabs/v1/dubbing/{j.id}",
    "ideogram": lambda j: f"/v1/generations/{j.id}",
    "speechmatics": lambda j: f"/speechmatics/v2/jobs/{j.id}",
    "kling": lambda j: f"/kling/v1/videos/text2video/{j.id}",
    "azure-document-intelligence": lambda j: f"{_DI}/analyzeResults/{j.id}"
                                             "?api-version=2024-11-30",
}

IDS_AI = {"anthropic-batch": "msgbatch_{n:04d}", "openai-fine-tuning": "ftjob-{n:04d}",
          "openai-vector-store-batch": "vsfb_{n:04d}", "gemini-batch": "b{n:04d}",
          "vertex-batch": "{n}", "kling": "{n}0000", "openai-compatible-batch": "batch_{n:04d}"}

_DI_FAILED = {"status": "failed", "error": {
    "code": "InvalidRequest", "message": "Invalid request.",
    "innererror": {"code": "InvalidContent",
                   "message": "The file is corrupted or format is unsupported."}}}

SCENARIOS_AI: dict[str, dict[str, tuple[list[Any], str]]] = {
    "anthropic-batch": {
        "succeeded": (["in_progress", {"request_counts": {"processing": 6, "succeeded": 4}},
                       "ended"], "succeeded"),
        "partial": (["in_progress", "ended:partial"], "succeeded"),
        "all-errored": (["in_progress", "ended:errored"], "failed"),
        "canceled": (["in_progress", "canceling", "ended:canceled"], "failed"),
    },
    "assemblyai": {
        "succeeded": (["queued", "processing", "completed"], "succeeded"),
        "error": (["processing", {"status": "error", "error": "Download error, unable to "
                                  "download https://x/call.mp3"}], "failed"),
    },
    "openai-fine-tuning": {
        "succeeded": (["validating_files", "queued", "running", {
            "status": "succeeded", "fine_tuned_model": "ft:gpt-4o-mini:acme::abc123"}],
                      "succeeded"),
        "failed": (["running", {"status": "failed", "error": {
            "code": "invalid_training_file", "param": "training_file",
            "message": "The file has 3 lines that are not JSON"}}], "failed"),
    },
    "openai-vector-store-batch": {
        "succeeded": (["in_progress", "completed"], "succeeded"),
        "partial": (["in_progress", {"status": "completed", "file_counts": {
            "in_progress": 0, "completed": 8, "failed": 2}}], "succeeded"),
        "failed": (["in_progress", {"status": "failed", "file_counts": {
            "in_progress": 0, "failed": 10}}], "failed"),
    },
    "gemini-batch": {
        "succeeded": (["BATCH_STATE_PENDING", "BATCH_STATE_RUNNING", "BATCH_STATE_SUCCEEDED"],
                      "succeeded"),
        "done-with-error": (["BATCH_STATE_RUNNING", {"done": True, "error": {
            "code": 3, "message": "The input file is not valid JSON lines"}}], "failed"),
        "expired": (["BATCH_STATE_RUNNING", "BATCH_STATE_EXPIRED"], "failed"),
    },
    "vertex-batch": {
        "succeeded": (["JOB_STATE_QUEUED", "JOB_STATE_RUNNING", "JOB_STATE_SUCCEEDED"],
                      "succeeded"),
        "partially-succeeded": (["JOB_STATE_RUNNING", {
            "state": "JOB_STATE_PARTIALLY_SUCCEEDED", "completionStats": {
                "successfulCount": "8", "failedCount": "2"},
            "outputInfo": {"gcsOutputDirectory": "gs://b/out/prediction-1"}}], "succeeded"),
        "failed": (["JOB_STATE_RUNNING", {"state": "JOB_STATE_FAILED", "error": {
            "code": 3, "message": "Invalid input: instance 4 has no contents"}}], "failed"),
    },
    "mistral-batch": {
        "succeeded": (["QUEUED", "RUNNING", "SUCCESS"], "succeeded"),
        "partial": (["RUNNING", "SUCCESS:partial"], "succeeded"),
        "cancellation-requested": (["RUNNING", "CANCELLATION_REQUESTED", "CANCELLED"],
                                   "failed"),
        "timeout-exceeded": (["RUNNING", {"status": "TIMEOUT_EXCEEDED", "errors": [
            {"message": "The batch did not finish within its timeout", "count": 1}]}],
                             "failed"),
    },
    "together-batch": {
        "succeeded": (["VALIDATING", "IN_PROGRESS", "COMPLETED"], "succeeded"),
        "partial": (["IN_PROGRESS", "COMPLETED:partial"], "succeeded"),
        "failed": (["VALIDATING", {"status": "FAILED",
                                   "error": "Input file line 2 is not valid JSON"}], "failed"),
    },
    "openai-compatible-batch": {
        "succeeded": (["validating", "in_progress", "finalizing", "completed"], "succeeded"),
        "expired": (["in_progress", "expired"], "failed"),
    },
    "elevenlabs-dubbing": {
        "succeeded": (["dubbing", "dubbing", "dubbed"], "succeeded"),
        "failed": (["dubbing", {"status": "failed",
                                "error": "The source file has no audio track"}], "failed"),
    },
    "ideogram": {
        "succeeded": (["pending", "rate-limited", "pending", "completed"], "succeeded"),
        "failed": (["pending", {"status": "failed",
                                "failure_reason": "The prompt was flagged by moderation"}],
                   "failed"),
    },
    "speechmatics": {
        "succeeded": (["running", "running", "done"], "succeeded"),
        "rejected": (["running", {"job": {"status": "rejected", "errors": [
            {"timestamp": "2026-01-01T00:00:05Z",
             "message": "The file is not a supported audio format"}]}}], "failed"),
    },
    "kling": {
        "succeeded": (["submitted", "processing", "succeed"], "succeeded"),
        "failed": (["processing", {"data": {
            "task_status": "failed",
            "task_status_msg": "Failure to pass the risk control system"}}], "failed"),
    },
    "azure-document-intelligence": {
        "succeeded": (["notStarted", "running", "succeeded"], "succeeded"),
        "failed": (["running", _DI_FAILED], "failed"),
    },
}

START_BODIES_AI: dict[str, Any] = {
    "anthropic-batch": {"requests": [{"custom_id": "r1", "params": {
        "model": "claude-sonnet-4-5", "max_tokens": 64,
        "messages": [{"role": "user", "content": "Hello"}]}}]},
    "assemblyai": {"audio_url": "https://x/call.mp3"},
    "openai-fine-tuning": {"model": "gpt-4o-mini-2024-07-18", "training_file": "file-train"},
    "openai-vector-store-batch": {"file_ids": ["file-1", "file-2"]},
    "gemini-batch": {"batch": {"display_name": "nightly", "input_config": {
        "file_name": "files/in"}}},
    "vertex-batch": {"displayName": "nightly",
                     "model": "publishers/google/models/gemini-2.5-flash",
                     "inputConfig": {"instancesFormat": "jsonl", "gcsSource": {
                         "uris": ["gs://b/in.jsonl"]}},
                     "outputConfig": {"predictionsFormat": "jsonl", "gcsDestination": {
                         "outputUriPrefix": "gs://b/out"}}},
    "mistral-batch": {"input_files": ["file-in"], "endpoint": "/v1/chat/completions",
                      "model": "mistral-small-latest"},
    "together-batch": {"input_file_id": "file-in", "endpoint": "/v1/chat/completions",
                       "completion_window": "24h"},
    "openai-compatible-batch": {"input_file_id": "file_in", "endpoint": "/v1/chat/completions",
                                "completion_window": "24h"},
    "elevenlabs-dubbing": {"source_url": "https://x/launch.mp4", "target_lang": "es"},
    "ideogram": {"prompt": "a cat", "rendering_speed": "TURBO"},
    "speechmatics": {"type": "transcription", "transcription_config": {"language": "en"}},
    "kling": {"model_name": "kling-v2-1", "prompt": "a cat", "duration": "5"},
    "azure-document-intelligence": {"urlSource": "https://x/invoice.pdf"},
}

REASONS_AI = {
    ("anthropic-batch", "all-errored"): "no request succeeded: 9 errored, 1 expired",
    ("anthropic-batch", "canceled"): "the batch was canceled: 8 requests canceled",
    ("assemblyai", "error"): "Download error",
    ("openai-fine-tuning", "failed"): "invalid_training_file: The file has 3 lines",
    ("openai-vector-store-batch", "failed"): "10 of 10 files failed",
    ("gemini-batch", "done-with-error"): "3: The input file is not valid JSON lines",
    ("vertex-batch", "failed"): "3: Invalid input: instance 4 has no contents",
    ("mistral-batch", "timeout-exceeded"): "did not finish within its timeout",
    ("together-batch", "failed"): "line 2 is not valid JSON",
    ("elevenlabs-dubbing", "failed"): "no audio track",
    ("ideogram", "failed"): "flagged by moderation",
    ("speechmatics", "rejected"): "not a supported audio format",
    ("kling", "failed"): "risk control",
    ("azure-document-intelligence", "failed"): "InvalidContent: The file is corrupted",
}

#: The notes of the partial successes (the summary's "partial success: ..." line).
PARTIAL_NOTES = {
    ("anthropic-batch", "partial"): "3 of 10 requests errored or expired",
    ("openai-vector-store-batch", "partial"): "2 of 10 files failed",
    ("vertex-batch", "partially-succeeded"): "partially succeeded: 2 failed, 8 succeeded",
    ("mistral-batch", "partial"): "2 of 10 requests failed",
    ("together-batch", "partial"): "some requests failed (see error_file_id file-err-1)",
}

RUNNING_AI: dict[str, Any] = {
    "anthropic-batch": "in_progress", "assemblyai": "processing",
    "openai-fine-tuning": "running", "openai-vector-store-batch": "in_progress",
    "gemini-batch": "BATCH_STATE_RUNNING", "vertex-batch": "JOB_STATE_RUNNING",
    "mistral-batch": "RUNNING", "together-batch": "IN_PROGRESS",
    "openai-compatible-batch": "in_progress", "elevenlabs-dubbing": "dubbing",
    "ideogram": "pending", "speechmatics": "running", "kling": "processing",
    "azure-document-intelligence": "running",
}
