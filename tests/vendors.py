"""Imitations of real job APIs on 127.0.0.1 for end-to-end tests: real HTTP, scripted timelines.

The first 18 vendors are below; the AI and media APIs (``tests/vendors_ai.py``) and the
workflow and CI APIs (``tests/vendors_ops.py``) are registered at the end of this module.

One ``VendorServer`` serves every vendor below, each at the paths its docs give (under a
prefix of its own where its profile allows one), with the documented start response
(status code, ``Operation-Location`` / ``Location`` / ``Retry-After``, ids and URLs in the
body), status documents with the vendor's own field names and words, its hint headers, the
result endpoint and the cancel endpoint. Each vendor cites the page or SDK file it follows.

A job is a script (``server.script(vendor, phases)``): a list of phases, one served per status
request (the last one repeats), or one per ``at`` second when the phases are
``Step(at=...)``. A phase is a word (the vendor's skeleton with that status), a dict merged
into the skeleton (a trap: ``{"status": "completed", "conclusion": "failure"}``), or a raw
``Step`` (a code, headers, bytes). Every request is counted: ``job.starts``, ``job.polls``,
``job.results``, ``job.cancels`` (``job.requests``: all of them), ``server.starts``,
``server.start_bodies``; ``job.times`` holds when each status request arrived, to measure
the gaps a client leaves. A job can add headers to its start response (``start_hints``) and
have its first start requests dropped without an answer (``drop_starts``: a transport error).
"""

from __future__ import annotations

import copy
import itertools
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .serving import LoopbackHTTP, QuietHandler


@dataclass
class Step:
    """One raw response: a dict or list is sent as JSON, bytes as they are."""

    body: Any = None
    code: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    #: Seconds after the start at which this step takes effect (time-driven scripts).
    at: float | None = None


@dataclass
class Job:
    vendor: str
    id: str
    phases: list[Any]
    hints: dict[str, str] = field(default_factory=dict)
    result: bytes | dict[str, Any] | None = None
    #: Headers added to the start response (a ``Retry-After`` before the first poll).
    start_hints: dict[str, str] = field(default_factory=dict)
    #: Start requests to drop without an answer (the connection closed), before one is served.
    drop_starts: int = 0
    #: Answer a cancel request 409 (the vendor refuses it).
    refuse_cancel: bool = False
    starts: int = 0
    polls: int = 0
    results: int = 0
    cancels: int = 0
    cancelled: bool = False
    started: float = field(default_factory=time.monotonic)
    #: ``time.monotonic()`` of each status request's arrival.
    times: list[float] = field(default_factory=list)
    #: The ``X-Client-Id`` header of each status request (who polled; ``None``: no header).
    pollers: list[str | None] = field(default_factory=list)

    @property
    def requests(self) -> int:
        """Every request this job got: starts, status requests, result fetches, cancels."""
        return self.starts + self.polls + self.results + self.cancels


@dataclass(frozen=True)
class Vendor:
    name: str
    #: The doc or SDK source the imitation follows.
    source: str
    #: The skeleton of a status document, and what a status word stands for: overrides
    #: merged into the skeleton, or a raw Step (a status carried by the HTTP code).
    skeleton: Callable[[Job, str], dict[str, Any]]
    word: Callable[[str, Job, str], dict[str, Any] | Step]
    #: (method, path) of the start request, relative to the server; None: no start.
    start: tuple[str, str] | None
    start_reply: Callable[[Job, str], Step] | None
    #: Regex of the status path; group "id" (or the query parameter ``id_query``).
    status: str
    id_query: str | None = None
    result: str | None = None
    cancel: tuple[str, str] | None = None
    cancel_reply: Callable[[Job], Step] | None = None
    #: The phase served after a cancel.
    cancelled: str | dict[str, Any] | None = None
    #: Headers the vendor rejects a request without (lower-case name: value), and its answer.
    requires: dict[str, str] = field(default_factory=dict)
    refusal: Callable[[str], Step] | None = None
    #: The start path names the job (Temporal: the caller picks the workflow id): the job
    #: started takes the start path's last segment as its id.
    start_names_job: bool = False
    #: One URL for everything (GraphQL): the request's body says what it is, ("start" |
    #: "status" | "cancel", the job's id or None).
    by_body: Callable[[bytes], tuple[str, str | None]] | None = None
    #: The answer for an id the vendor does not know (GraphQL answers 200 with an error type).
    unknown: Callable[[str | None], Step] | None = None


class VendorServer(LoopbackHTTP):
    """All the imitations on one port. ``script(vendor, phases)`` queues a job for the next
    start request of that vendor (or for a direct wait: ``status_url(job)``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.jobs: dict[tuple[str, str], Job] = {}
        self.pending: dict[str, list[Job]] = {}
        self.starts: Counter[str] = Counter()
        #: The bodies of the start requests each vendor received, in order.
        self.start_bodies: dict[str, list[bytes]] = {}
        self.requests: list[tuple[str, str]] = []
        #: The headers of each request, with its path (lower-case names).
        self.headers: list[tuple[str, dict[str, str]]] = []
        self._ids = itertools.count(1)
        outer = self

        class Handler(QuietHandler):
            def _any(self) -> None:
                outer._handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

        super().__init__(Handler, poll_interval=0.05)
        self.base = self.origin

    # ------------------------------------------------------------------------- scripting

    def script(
        self,
        vendor: str,
        phases: Sequence[Any],
        *,
        hints: dict[str, str] | None = None,
        result: bytes | dict[str, Any] | None = None,
        started: bool = False,
        start_hints: dict[str, str] | None = None,
        drop_starts: int = 0,
        refuse_cancel: bool = False,
    ) -> Job:
        """A job; the next start request of ``vendor`` takes it, unless ``started`` (a job
        that exists already, for a wait on ``status_url(job)``)."""
        spec = VENDORS[vendor]
        job = Job(vendor, _new_id(vendor, next(self._ids)), list(phases), dict(hints or {}),
                  result, dict(start_hints or {}), drop_starts, refuse_cancel)
        with self.lock:
            self.jobs[(spec.name, job.id)] = job
            if not started and spec.start is not None:
                self.pending.setdefault(spec.name, []).append(job)
        return job

    def discard(self, job: Job) -> None:
        """Take a job that was never (or not fully) started off its vendor's queue, so that
        the next start request gets the next job (after a dropped start, say)."""
        with self.lock:
            queue = self.pending.get(VENDORS[job.vendor].name, [])
            if job in queue:
                queue.remove(job)

    def start_url(self, vendor: str) -> str:
        spec = VENDORS[vendor]
        assert spec.start is not None, f"{vendor} has no start request"
        return self.base + spec.start[1]

    def status_url(self, job: Job) -> str:
        return self.base + _STATUS_PATHS[job.vendor](job)

    # -------------------------------------------------------------------------- serving

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        with self.lock:
            self.requests.append((h.command, h.path))
            self.headers.append((h.path, {k.lower(): v for k, v in h.headers.items()}))
            reply = self._route(h.command, parts.path, parse_qs(parts.query), raw,
                                self.headers[-1][1])
        if reply is None:  # a dropped request: the connection closes with no answer
            h.close_connection = True
            return
        _send(h, reply)

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], raw: bytes,
        headers: dict[str, str] | None = None,
    ) -> Step | None:
        for spec in VENDORS.values():
            if spec.by_body is not None and method == "POST" and re.fullmatch(spec.status, path):
                return self._by_body(spec, raw)
            if spec.requires and self._owns(spec, method, path, query, raw):
                for name, value in spec.requires.items():
                    if (headers or {}).get(name) != value:
                        assert spec.refusal is not None
                        return spec.refusal(name)
            if spec.start is not None and (method, path) == spec.start:
                self.start_bodies.setdefault(spec.name, []).append(raw)
                return self._start(spec)
            job = self._match(spec, spec.status, path, query)
            if job is not None and method == "GET":
                job.pollers.append((headers or {}).get("x-client-id"))
                return self._status(spec, job)
            if spec.result and method == "GET":
                job = self._match(spec, spec.result, path, query)
                if job is not None:
                    job.results += 1
                    return _result(job)
            if spec.cancel and method == spec.cancel[0]:
                job = self._match(spec, spec.cancel[1], path, query, raw)
                if job is not None:
                    job.cancels += 1
                    if job.refuse_cancel:
                        return Step({"error": {"message": "the job cannot be cancelled"}}, 409)
                    job.cancelled = True
                    assert spec.cancel_reply is not None
                    return spec.cancel_reply(job)
        return Step({"error": {"message": f"no route for {method} {path}"}}, 404)

    def _by_body(self, spec: Vendor, raw: bytes) -> Step | None:
        assert spec.by_body is not None and spec.unknown is not None
        kind, ident = spec.by_body(raw)
        if kind == "start":
            self.start_bodies.setdefault(spec.name, []).append(raw)
            return self._start(spec)
        job = self.jobs.get((spec.name, ident or ""))
        if job is None:
            return spec.unknown(ident)
        if kind == "cancel":
            job.cancels += 1
            job.cancelled = True
            assert spec.cancel_reply is not None
            return spec.cancel_reply(job)
        return self._status(spec, job)

    def _owns(
        self, spec: Vendor, method: str, path: str, query: dict[str, list[str]], raw: bytes
    ) -> bool:
        """Whether a request is for this vendor (its start, status, result or cancel path)."""
        if spec.start is not None and (method, path) == spec.start:
            return True
        patterns = [spec.status, spec.result, spec.cancel[1] if spec.cancel else None]
        return any(p is not None and re.fullmatch(p, path) for p in patterns)

    def _match(
        self, spec: Vendor, pattern: str, path: str, query: dict[str, list[str]],
        raw: bytes = b"",
    ) -> Job | None:
        m = re.fullmatch(pattern, path)
        if m is None:
            return None
        ident = m.groupdict().get("id")
        if ident is not None:
            ident = unquote(ident)  # an id quoted into the URL (Airflow's "+00:00")
        if ident is None and spec.id_query:
            values = query.get(spec.id_query)
            ident = values[0] if values else None
        if ident is None and raw:  # a JSON body naming the job (Databricks' runs/cancel)
            try:
                ident = str(json.loads(raw).get(spec.id_query or "id"))
            except (ValueError, AttributeError):
                return None
        return self.jobs.get((spec.name, str(ident)))

    def _start(self, spec: Vendor) -> Step | None:
        self.starts[spec.name] += 1
        queue = self.pending.get(spec.name) or []
        if not queue:
            return Step({"error": {"message": "no job scripted"}}, 500)
        job = queue[0]
        job.starts += 1
        if job.drop_starts > 0:
            job.drop_starts -= 1
            return None
        queue.pop(0)
        if spec.start_names_job and spec.start is not None:
            job.id = spec.start[1].rsplit("/", 1)[-1]
            self.jobs[(spec.name, job.id)] = job
        job.started = time.monotonic()
        assert spec.start_reply is not None
        reply = spec.start_reply(job, self.base)
        return Step(reply.body, reply.code, {**reply.headers, **job.start_hints})

    def _status(self, spec: Vendor, job: Job) -> Step:
        if job.cancelled and spec.cancelled is not None:
            phase: Any = spec.cancelled
        elif any(isinstance(p, Step) and p.at is not None for p in job.phases):
            elapsed = time.monotonic() - job.started
            phase = job.phases[0]
            for p in job.phases:
                if isinstance(p, Step) and p.at is not None and p.at <= elapsed:
                    phase = p
        else:
            phase = job.phases[min(job.polls, len(job.phases) - 1)]
        job.polls += 1
        job.times.append(time.monotonic())
        step = _render(spec, job, phase, self.base)
        return Step(step.body, step.code, {**job.hints, **step.headers})



@contextmanager
def vendor_server() -> Iterator[VendorServer]:
    with VendorServer() as server:
        yield server


def _send(h: BaseHTTPRequestHandler, step: Step) -> None:
    body = step.body
    ctype = "application/json"
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode()
    elif isinstance(body, bytes):
        data, ctype = body, step.headers.get("Content-Type", "application/octet-stream")
    else:
        data = b""
    h.send_response(step.code)
    headers = {"Content-Type": ctype, **step.headers} if data else dict(step.headers)
    for k, v in headers.items():
        h.send_header(k, v)
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    if data:
        h.wfile.write(data)


#: Vendors whose result is a JSON-lines file, and the Content-Type it is served with.
#: Anthropic: GET /v1/messages/batches/{id}/results "Streams the results of a Message Batch as
#: a .jsonl file", one {custom_id, result} per line
#: (https://docs.anthropic.com/en/api/retrieving-message-batch-results; its SDK asks for it
#: with "Accept: application/binary"). OpenAI: GET /v1/files/{id}/content is the file's raw
#: bytes, the batch output file one {id, custom_id, response, error} per line
#: (https://platform.openai.com/docs/guides/batch; openai/openai-python@e43b4224
#: src/openai/resources/files.py, which reads it as binary); Mistral, Together and Groq serve
#: their output files the same way. Neither documents a Content-Type: octet-stream here.
JSONL_RESULTS: dict[str, str] = {
    "openai-batch": "application/octet-stream",
    "anthropic-batch": "application/octet-stream",
    "mistral-batch": "application/octet-stream",
    "together-batch": "application/octet-stream",
    "openai-compatible-batch": "application/octet-stream",
}


def _result(job: Job) -> Step:
    jsonl = JSONL_RESULTS.get(job.vendor)
    if jsonl is not None:
        # A scripted dict is the file's one line; bytes are the file as they are.
        data = job.result if isinstance(job.result, bytes) else (
            json.dumps(job.result if job.result is not None else {"custom_id": "r1"}) + "\n"
        ).encode()
        return Step(data, 200, {"Content-Type": jsonl})
    if isinstance(job.result, bytes):
        return Step(job.result, 200, {"Content-Type": "video/mp4"})
    return Step(job.result if job.result is not None else {"images": [{"url": "x.png"}]})


def _render(spec: Vendor, job: Job, phase: Any, base: str) -> Step:
    if isinstance(phase, Step):
        return phase
    overrides = spec.word(phase, job, base) if isinstance(phase, str) else phase
    if isinstance(overrides, Step):
        return overrides
    return Step(_merge(spec.skeleton(job, base), overrides))


def _merge(doc: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    for k, v in overrides.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


_IDS: dict[str, str] = {}


def _new_id(vendor: str, n: int) -> str:
    if vendor in _IDS:
        return _IDS[vendor].format(n=n)
    return {
        "openai-batch": f"batch_{n:04d}", "openai-response": f"resp_{n:04d}",
        "replicate": f"p{n:04d}x", "github-actions": str(9000 + n),
        "databricks-run": str(500 + n), "kubernetes-job": f"pi-{n}",
        "ray-job": f"raysubmit_{n:04d}", "huggingface-job": f"68{n:022d}",
    }.get(vendor, f"{vendor.split('-')[0]}-{n:04d}")


def video_bytes(size: int) -> bytes:
    """A deterministic binary 'video' of ``size`` bytes (an MP4 ftyp box, then a pattern)."""
    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    pattern = bytes(range(256))
    body = (pattern * (size // 256 + 1))[: max(0, size - len(head))]
    return head + body


# ============================================================================ the vendors

def _ok(body: Any, code: int = 200, **headers: str) -> Callable[[Job], Step]:
    return lambda job: Step(body(job) if callable(body) else body, code, dict(headers))


_OPENAI = "openai/openai-python@e43b4224 src/openai/types/batch.py, resources/batches.py"
_OPENAI_R = "openai/openai-python@e43b4224 src/openai/types/responses/response.py"


def _batch(job: Job, base: str) -> dict[str, Any]:
    return {"id": job.id, "object": "batch", "endpoint": "/v1/chat/completions",
            "input_file_id": "file-in", "completion_window": "24h", "status": "validating",
            "created_at": 1767225600, "output_file_id": None, "error_file_id": None,
            "errors": None, "request_counts": {"completed": 0, "failed": 0, "total": 10}}


def _response(job: Job, base: str) -> dict[str, Any]:
    return {"id": job.id, "object": "response", "created_at": 1767225600, "status": "queued",
            "background": True, "error": None, "incomplete_details": None, "model": "o3",
            "output": []}


def _operation(job: Job, base: str) -> dict[str, Any]:
    return {"name": f"models/veo-3.0-generate-preview/operations/{job.id}",
            "metadata": {"@type": "type.googleapis.com/google.ai.generativelanguage.v1beta."
                         "PredictLongRunningMetadata"}}


def _google_word(word: str, job: Job, base: str) -> dict[str, Any]:
    if word != "done":
        return {}
    video = {"video": {"uri": f"{base}/files/{job.id}.mp4"}}
    return {"done": True, "response": {"generateVideoResponse": {"generatedSamples": [video]}}}


def _prediction(job: Job, base: str) -> dict[str, Any]:
    url = f"{base}/replicate/v1/predictions/{job.id}"
    return {"id": job.id, "model": "black-forest-labs/flux-schnell", "version": "v1",
            "status": "starting", "input": {"prompt": "a cat"}, "output": None, "logs": "",
            "error": None, "metrics": {}, "created_at": "2026-01-01T00:00:00Z",
            "urls": {"get": url, "cancel": f"{url}/cancel", "stream": f"{base}/stream/{job.id}"}}


def _fal_urls(job: Job, base: str) -> dict[str, str]:
    root = f"{base}/fal/fal-ai/fast-sdxl/requests/{job.id}"
    return {"request_id": job.id, "response_url": root, "status_url": f"{root}/status",
            "cancel_url": f"{root}/cancel"}


def _fal(job: Job, base: str) -> dict[str, Any]:
    return {"status": "IN_QUEUE", "queue_position": 2,
            "response_url": _fal_urls(job, base)["response_url"]}


def _fal_word(word: str, job: Job, base: str) -> dict[str, Any]:
    if word == "IN_QUEUE":
        return {"status": word, "queue_position": 0}
    extra: dict[str, Any] = {"logs": [{"message": "step 3/20", "level": "INFO"}]}
    if word == "COMPLETED":
        extra["metrics"] = {"inference_time": 1.8}
    return {"status": word, "queue_position": None, **extra}


def _task(job: Job, base: str) -> dict[str, Any]:
    return {"id": job.id, "createdAt": "2026-01-01T00:00:00.000Z", "status": "PENDING"}


def _runway_word(word: str, job: Job, base: str) -> dict[str, Any]:
    if word == "RUNNING":
        return {"status": word, "progress": 0.5}
    if word == "SUCCEEDED":
        return {"status": word, "output": ["https://dnznrvs05pmza.cloudfront.net/v.mp4"]}
    return {"status": word}


def _generation(job: Job, base: str) -> dict[str, Any]:
    return {"id": job.id, "generation_type": "video", "state": "queued", "failure_reason": None,
            "created_at": "2026-01-01T00:00:00Z", "assets": None,
            "model": "ray-2", "request": {"prompt": "a cat"}}


def _luma_word(word: str, job: Job, base: str) -> dict[str, Any]:
    if word == "completed":
        return {"state": word, "assets": {"video": f"{base}/luma-assets/{job.id}.mp4"}}
    if word == "failed":
        return {"state": word, "failure_reason": "400: prompt not allowed"}
    return {"state": word}


def _azure_op(job: Job, base: str) -> dict[str, Any]:
    return {"id": job.id, "status": "NotStarted", "createdDateTime": "2026-01-01T00:00:00Z"}


def _azure_word(word: str, job: Job, base: str) -> dict[str, Any]:
    if word == "Running":
        return {"status": word, "percentComplete": 50}
    if word == "Succeeded":
        return {"status": word, "resourceLocation": f"{base}/azure/results/{job.id}"}
    if word == "Failed":
        return {"status": word, "error": {"code": "InvalidImage", "message": "Unsupported format"}}
    if word == "Canceled":  # "The error object is returned when the status is Failed or Canceled"
        return {"status": word, "error": {"code": "OperationCanceled",
                                          "message": "The operation was canceled"}}
    return {"status": word}


def _azure_location_word(word: str, job: Job, base: str) -> Step:
    # Location polling: 202 with no body while it runs, then 200 with the resource.
    if word == "running":
        return Step(None, 202, {"Location": f"/azure/vms/vm1/ops/{job.id}", "Retry-After": "0"})
    return Step({"name": "vm1", "properties": {"powerState": "running"}}, 200)


def _stability_word(word: str, job: Job, base: str) -> Step:
    if word == "in-progress":
        return Step({"id": job.id, "status": "in-progress"}, 202)
    reason = "CONTENT_FILTERED" if word == "filtered" else "SUCCESS"
    data = job.result if isinstance(job.result, bytes) else video_bytes(1024)
    return Step(data, 200, {"Content-Type": "video/mp4", "finish-reason": reason, "seed": "42"})


def _batch_word(word: str, job: Job, base: str) -> dict[str, Any]:
    if word == "completed":
        return {"status": word, "output_file_id": f"file-out-{job.id}",
                "request_counts": {"completed": 10, "failed": 0, "total": 10}}
    if word == "in_progress":
        return {"status": word, "request_counts": {"completed": 4, "failed": 0, "total": 10}}
    if word == "failed":
        return {"status": word, "errors": {"object": "list", "data": [
            {"code": "invalid_json_line", "message": "line 3 is not JSON", "line": 3}]}}
    return {"status": word}


def _run(job: Job, base: str) -> dict[str, Any]:
    return {"id": int(job.id), "name": "CI", "run_attempt": 1, "event": "workflow_dispatch",
            "status": "queued", "conclusion": None,
            "url": f"{base}/github/repos/o/r/actions/runs/{job.id}",
            "html_url": f"https://github.com/o/r/actions/runs/{job.id}"}


def _flower(job: Job, base: str) -> dict[str, Any]:
    return {"task-id": job.id, "state": "PENDING", "result": None}


def _mlflow(job: Job, base: str) -> dict[str, Any]:
    return {"run": {"info": {"run_id": job.id, "experiment_id": "0", "status": "RUNNING",
                             "start_time": 1767225600000, "lifecycle_stage": "active"},
                    "data": {"metrics": [], "params": []}}}


def _sfn(job: Job, base: str) -> dict[str, Any]:
    return {"executionArn": f"arn:aws:states:us-east-1:1:execution:sm:{job.id}",
            "stateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:sm", "name": job.id,
            "status": "RUNNING", "startDate": 1767225600.0, "input": "{}",
            "redriveCount": 0, "redriveStatus": "NOT_REDRIVABLE"}


def _dbx(job: Job, base: str) -> dict[str, Any]:
    return {"job_id": 11, "run_id": int(job.id), "number_in_job": int(job.id),
            "state": {"life_cycle_state": "PENDING", "state_message": "Waiting for cluster",
                      "user_cancelled_or_timedout": False}}


def _dbx_word(word: str, job: Job, base: str) -> dict[str, Any]:
    life, _, result = word.partition(":")
    state: dict[str, Any] = {"life_cycle_state": life}
    if result:
        state["result_state"] = result
        state["state_message"] = "" if result == "SUCCESS" else "Task main failed"
    elif life == "INTERNAL_ERROR":
        state["state_message"] = "Run failed with an internal error: the cluster was lost"
    return {"state": state}


def _k8s(job: Job, base: str) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": job.id, "namespace": "default"},
            "spec": {"completions": 1, "backoffLimit": 6}, "status": {}}


def _k8s_word(word: str, job: Job, base: str) -> dict[str, Any]:
    if word == "Complete":
        return {"status": {"succeeded": 1, "conditions": [
            {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached"},
            {"type": "Complete", "status": "True", "reason": "CompletionsReached"}]}}
    if word == "Failed":
        return {"status": {"failed": 7, "conditions": [
            {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded"},
            {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
             "message": "Job has reached the specified backoff limit"}]}}
    return {"status": {"active": 1}}


def _ray(job: Job, base: str) -> dict[str, Any]:
    return {"type": "SUBMISSION", "job_id": None, "submission_id": job.id, "status": "PENDING",
            "entrypoint": "python train.py", "message": "Job has not started yet."}


def _runpod(job: Job, base: str) -> dict[str, Any]:
    return {"id": job.id, "status": "IN_QUEUE", "delayTime": 0}


def _hf(job: Job, base: str) -> dict[str, Any]:
    return {"id": job.id, "createdAt": "2026-01-01T00:00:00Z", "dockerImage": "python:3.12",
            "command": ["python", "-c", "print(1)"], "flavor": "cpu-basic",
            "status": {"stage": "SCHEDULING", "message": None},
            "owner": {"id": "1", "name": "ns", "type": "user"}}


def _word(key: str) -> Callable[[str, Job, str], dict[str, Any]]:
    return lambda w, j, b: {key: w}


_DOT = r"(?P<id>[^/]+)"
VENDORS: dict[str, Vendor] = {v.name: v for v in [
    Vendor("openai-batch", _OPENAI, _batch, _batch_word,
           ("POST", "/openai-batch/v1/batches"), lambda j, b: Step(_batch(j, b)),
           rf"/openai-batch/v1/batches/{_DOT}",
           result=r"/openai-batch/v1/files/file-out-(?P<id>[^/]+)/content",
           cancel=("POST", rf"/openai-batch/v1/batches/{_DOT}/cancel"),
           cancel_reply=_ok(lambda j: {"id": j.id, "object": "batch", "status": "cancelling"}),
           cancelled={"status": "cancelled"}),
    Vendor("openai-response", _OPENAI_R, _response, _word("status"),
           ("POST", "/openai-response/v1/responses"), lambda j, b: Step(_response(j, b)),
           rf"/openai-response/v1/responses/{_DOT}",
           cancel=("POST", rf"/openai-response/v1/responses/{_DOT}/cancel"),
           cancel_reply=_ok(lambda j: {"id": j.id, "object": "response", "status": "cancelled"}),
           cancelled={"status": "cancelled"}),
    Vendor("google-operation", "https://ai.google.dev/gemini-api/docs/video", _operation,
           _google_word,
           ("POST", "/v1beta/models/veo-3.0-generate-preview:predictLongRunning"),
           lambda j, b: Step({"name": _operation(j, b)["name"]}),
           r"/v1beta/models/veo-3\.0-generate-preview/operations/(?P<id>[^/:]+)",
           cancel=("POST",
                   r"/v1beta/models/veo-3\.0-generate-preview/operations/(?P<id>[^/:]+):cancel"),
           cancel_reply=_ok({}),
           cancelled={"done": True, "error": {"code": 1, "message": "Operation cancelled"}}),
    Vendor("replicate", "https://replicate.com/docs/topics/predictions/lifecycle", _prediction,
           _word("status"), ("POST", "/replicate/v1/predictions"),
           lambda j, b: Step(_prediction(j, b), 201), rf"/replicate/v1/predictions/{_DOT}",
           cancel=("POST", rf"/replicate/v1/predictions/{_DOT}/cancel"),
           cancel_reply=_ok(lambda j: {"id": j.id, "status": "canceled"}),
           cancelled={"status": "canceled"}),
    Vendor("fal", "https://docs.fal.ai/model-endpoints/queue", _fal, _fal_word,
           ("POST", "/fal/fal-ai/fast-sdxl"),
           lambda j, b: Step({**_fal_urls(j, b), "queue_position": 2}),
           rf"/fal/fal-ai/fast-sdxl/requests/{_DOT}/status",
           result=rf"/fal/fal-ai/fast-sdxl/requests/{_DOT}",
           cancel=("PUT", rf"/fal/fal-ai/fast-sdxl/requests/{_DOT}/cancel"),
           cancel_reply=_ok({"status": "CANCELLATION_REQUESTED"}, 202)),
    Vendor("runway", "runwayml/sdk-python@c604e0ea src/runwayml/types/task_retrieve_response.py",
           _task, _runway_word, ("POST", "/v1/image_to_video"),
           lambda j, b: Step({"id": j.id}), rf"/v1/tasks/{_DOT}",
           cancel=("DELETE", rf"/v1/tasks/{_DOT}"), cancel_reply=_ok(None, 204),
           cancelled={"status": "CANCELLED"}),
    Vendor("luma", "lumalabs/lumaai-python@c00ac171 src/lumaai/types/generation.py",
           _generation, _luma_word, ("POST", "/dream-machine/v1/generations/video"),
           lambda j, b: Step(_generation(j, b), 201),
           rf"/dream-machine/v1/generations/{_DOT}",
           result=r"/luma-assets/(?P<id>[^/]+)\.mp4"),
    Vendor("stability", "https://platform.stability.ai/docs/api-reference (image-to-video)",
           lambda j, b: {"id": j.id, "status": "in-progress"}, _stability_word,
           ("POST", "/v2beta/image-to-video"), lambda j, b: Step({"id": j.id}),
           rf"/v2beta/image-to-video/result/{_DOT}"),
    Vendor("azure", "https://github.com/microsoft/api-guidelines azure/Guidelines.md "
           "(long-running operations, Operation-Location)", _azure_op, _azure_word,
           ("POST", "/azure/documents:analyze"),
           lambda j, b: Step(None, 202, {"Operation-Location": f"{b}/azure/operations/{j.id}",
                                         "Retry-After": "0"}),
           rf"/azure/operations/{_DOT}", result=rf"/azure/results/{_DOT}"),
    Vendor("azure-location", "https://learn.microsoft.com/azure/azure-resource-manager/"
           "management/async-operations (202 + Location)", lambda j, b: {}, _azure_location_word,
           ("POST", "/azure/vms/vm1/restart"),
           lambda j, b: Step(None, 202, {"Location": f"/azure/vms/vm1/ops/{j.id}",
                                         "Retry-After": "0"}),
           rf"/azure/vms/vm1/ops/{_DOT}"),
    Vendor("github-actions", "https://docs.github.com/en/rest/actions/workflow-runs", _run,
           _word("status"), ("POST", "/github/repos/o/r/actions/workflows/ci.yml/"
                                              "dispatches"),
           lambda j, b: Step({"workflow_run_id": int(j.id),
                              "run_url": f"{b}/github/repos/o/r/actions/runs/{j.id}",
                              "html_url": f"https://github.com/o/r/actions/runs/{j.id}"}),
           rf"/github/repos/o/r/actions/runs/{_DOT}",
           cancel=("POST", rf"/github/repos/o/r/actions/runs/{_DOT}/cancel"),
           cancel_reply=_ok({}, 202), cancelled={"status": "completed",
                                                 "conclusion": "cancelled"}),
    Vendor("celery-flower", "mher/flower@e6cf8ef7 flower/api/tasks.py", _flower,
           _word("state"), ("POST", "/flower/api/task/async-apply/tasks.add"),
           lambda j, b: Step({"task-id": j.id, "state": "PENDING"}),
           rf"/flower/api/task/result/{_DOT}",
           cancel=("POST", rf"/flower/api/task/revoke/{_DOT}"),
           cancel_reply=_ok(lambda j: {"message": f"Revoked '{j.id}'"}),
           cancelled={"state": "REVOKED", "result": "TaskRevokedError('terminated')"}),
    Vendor("mlflow", "https://mlflow.org/docs/latest/rest-api.html", _mlflow,
           lambda w, j, b: {"run": {"info": {"status": w}}},
           ("POST", "/mlflow/api/2.0/mlflow/runs/create"), lambda j, b: Step(_mlflow(j, b)),
           r"/mlflow/api/2\.0/mlflow/runs/get", id_query="run_id"),
    Vendor("step-functions", "https://docs.aws.amazon.com/step-functions/latest/apireference/"
           "API_DescribeExecution.html", _sfn, _word("status"), None, None,
           rf"/sfn/executions/{_DOT}"),
    Vendor("databricks-run", "databricks/databricks-sdk-py@9ae22415 "
           "databricks/sdk/service/jobs.py", _dbx, _dbx_word,
           ("POST", "/databricks/api/2.2/jobs/run-now"),
           lambda j, b: Step({"run_id": int(j.id), "number_in_job": int(j.id)}),
           r"/databricks/api/2\.2/jobs/runs/get", id_query="run_id",
           cancel=("POST", r"/databricks/api/2\.2/jobs/runs/cancel"), cancel_reply=_ok({}),
           cancelled="TERMINATED:CANCELED"),
    Vendor("kubernetes-job", "kubernetes/api@10b39a39 batch/v1/types.go", _k8s, _k8s_word,
           ("POST", "/k8s/apis/batch/v1/namespaces/default/jobs"),
           lambda j, b: Step(_k8s(j, b), 201),
           rf"/k8s/apis/batch/v1/namespaces/default/jobs/{_DOT}",
           cancel=("DELETE", rf"/k8s/apis/batch/v1/namespaces/default/jobs/{_DOT}"),
           cancel_reply=_ok({"kind": "Status", "apiVersion": "v1", "status": "Success"})),
    Vendor("ray-job", "https://docs.ray.io/en/latest/cluster/running-applications/"
           "job-submission/rest.html", _ray, _word("status"), ("POST", "/ray/api/jobs/"),
           lambda j, b: Step({"job_id": j.id, "submission_id": j.id}),
           rf"/ray/api/jobs/{_DOT}", cancel=("POST", rf"/ray/api/jobs/{_DOT}/stop"),
           cancel_reply=_ok({"stopped": True}),
           cancelled={"status": "STOPPED", "message": "Job was intentionally stopped."}),
    Vendor("runpod", "runpod/runpod-python@07fc6e2b runpod/endpoint/runner.py", _runpod,
           _word("status"), ("POST", "/runpod/v2/ep1/run"),
           lambda j, b: Step({"id": j.id, "status": "IN_QUEUE"}),
           rf"/runpod/v2/ep1/status/{_DOT}", cancel=("POST", rf"/runpod/v2/ep1/cancel/{_DOT}"),
           cancel_reply=_ok(lambda j: {"id": j.id, "status": "CANCELLED"}),
           cancelled={"status": "CANCELLED"}),
    Vendor("huggingface-job", "huggingface/huggingface_hub@ee0a4510 "
           "src/huggingface_hub/_jobs_api.py", _hf, lambda w, j, b: {"status": {"stage": w}},
           ("POST", "/hf/api/jobs/ns"), lambda j, b: Step(_hf(j, b)),
           rf"/hf/api/jobs/ns/{_DOT}", cancel=("POST", rf"/hf/api/jobs/ns/{_DOT}/cancel"),
           cancel_reply=_ok({}), cancelled={"status": {"stage": "CANCELED"}}),
]}

_STATUS_PATHS: dict[str, Callable[[Job], str]] = {
    "openai-batch": lambda j: f"/openai-batch/v1/batches/{j.id}",
    "openai-response": lambda j: f"/openai-response/v1/responses/{j.id}",
    "google-operation": lambda j: f"/v1beta/models/veo-3.0-generate-preview/operations/{j.id}",
    "replicate": lambda j: f"/replicate/v1/predictions/{j.id}",
    "fal": lambda j: f"/fal/fal-ai/fast-sdxl/requests/{j.id}/status",
    "runway": lambda j: f"/v1/tasks/{j.id}",
    "luma": lambda j: f"/dream-machine/v1/generations/{j.id}",
    "stability": lambda j: f"/v2beta/image-to-video/result/{j.id}",
    "azure": lambda j: f"/azure/operations/{j.id}",
    "azure-location": lambda j: f"/azure/vms/vm1/ops/{j.id}",
    "github-actions": lambda j: f"/github/repos/o/r/actions/runs/{j.id}",
    "celery-flower": lambda j: f"/flower/api/task/result/{j.id}",
    "mlflow": lambda j: f"/mlflow/api/2.0/mlflow/runs/get?run_id={j.id}",
    "step-functions": lambda j: f"/sfn/executions/{j.id}",
    "databricks-run": lambda j: f"/databricks/api/2.2/jobs/runs/get?run_id={j.id}",
    "kubernetes-job": lambda j: f"/k8s/apis/batch/v1/namespaces/default/jobs/{j.id}",
    "ray-job": lambda j: f"/ray/api/jobs/{j.id}",
    "runpod": lambda j: f"/runpod/v2/ep1/status/{j.id}",
    "huggingface-job": lambda j: f"/hf/api/jobs/ns/{j.id}",
}

#: The built-in profile each imitation is read with.
PROFILE_OF: dict[str, str] = {name: name for name in VENDORS} | {"azure-location": "azure"}

_GH_DONE = {"status": "completed", "conclusion": "success"}
_DBX_FAILED = {"state": {"life_cycle_state": "TERMINATED", "result_state": "FAILED",
                         "state_message": "Task main failed with exit code 1"}}

#: For every imitation: named scripts (phases) and the outcome each must end in. The traps
#: are the cases a reader of the status word alone gets wrong.
SCENARIOS: dict[str, dict[str, tuple[list[Any], str]]] = {
    "openai-batch": {
        "succeeded": (["validating", "in_progress", "finalizing", "completed"], "succeeded"),
        "failed": (["validating", "failed"], "failed"),
        "expired": (["in_progress", "expired"], "failed"),
        "partial": (["in_progress", {"status": "completed", "request_counts": {
            "completed": 7, "failed": 3, "total": 10}}], "succeeded"),
    },
    "openai-response": {
        "succeeded": (["queued", "in_progress", {"status": "completed", "output": [
            {"type": "message", "content": [{"type": "output_text", "text": "hi"}]}]}],
                      "succeeded"),
        "failed": (["queued", {"status": "failed", "error": {
            "code": "server_error", "message": "The model failed to respond"}}], "failed"),
        "incomplete": (["in_progress", {"status": "incomplete", "incomplete_details": {
            "reason": "max_output_tokens"}}], "failed"),
    },
    "google-operation": {
        "succeeded": ([{}, {"done": False}, "done"], "succeeded"),
        "done-with-error": ([{}, {"done": True, "error": {
            "code": 3, "message": "The prompt was blocked"}}], "failed"),
    },
    "replicate": {
        "succeeded": (["starting", "processing", {"status": "succeeded",
                                                  "output": ["https://x/out.png"]}],
                      "succeeded"),
        "failed": (["starting", {"status": "failed", "error": "CUDA out of memory"}], "failed"),
        "aborted": (["starting", "aborted"], "failed"),
    },
    "fal": {
        "succeeded": (["IN_QUEUE", "IN_PROGRESS", "COMPLETED"], "succeeded"),
        "completed-with-error": (["IN_QUEUE", {"status": "COMPLETED", "logs": [],
                                               "error": "Runner crashed",
                                               "error_type": "runner_error"}], "failed"),
    },
    "runway": {
        "succeeded": (["PENDING", "THROTTLED", "RUNNING", "SUCCEEDED"], "succeeded"),
        "failed": (["RUNNING", {"status": "FAILED", "failure": "Moderation rejected the input",
                                "failureCode": "SAFETY.INPUT.TEXT"}], "failed"),
    },
    "luma": {
        "succeeded": (["queued", "dreaming", "completed"], "succeeded"),
        "failed": (["queued", "failed"], "failed"),
    },
    "stability": {
        "succeeded": (["in-progress", "in-progress", "done"], "succeeded"),
        "content-filtered": (["in-progress", "filtered"], "failed"),
    },
    "azure": {
        "succeeded": (["NotStarted", "Running", "Succeeded"], "succeeded"),
        "failed": (["Running", "Failed"], "failed"),
        "canceled": (["Running", "Canceled"], "failed"),
    },
    "azure-location": {
        "succeeded": (["running", "running", "done"], "succeeded"),
    },
    "github-actions": {
        "succeeded": (["queued", "in_progress", _GH_DONE], "succeeded"),
        "completed-failure": (["queued", "in_progress", {"status": "completed",
                                                         "conclusion": "failure"}], "failed"),
        "skipped": (["queued", {"status": "completed", "conclusion": "skipped"}], "succeeded"),
        "requeued": (["queued", "in_progress", "queued", _GH_DONE], "succeeded"),
    },
    "celery-flower": {
        "succeeded": (["PENDING", "STARTED", {"state": "SUCCESS", "result": 3}], "succeeded"),
        "failure": (["STARTED", {"state": "FAILURE", "result": "ValueError('boom')",
                                 "traceback": "Traceback (most recent call last):\n  ..."}],
                    "failed"),
        "revoked": (["STARTED", {"state": "REVOKED",
                                 "result": "TaskRevokedError('terminated')"}], "failed"),
    },
    "mlflow": {
        "succeeded": (["RUNNING", "FINISHED"], "succeeded"),
        "killed": (["RUNNING", "KILLED"], "failed"),
    },
    "step-functions": {
        "succeeded": (["RUNNING", {"status": "SUCCEEDED", "output": "{\"ok\": true}"}],
                      "succeeded"),
        "timed-out": (["RUNNING", {"status": "TIMED_OUT", "error": "States.Timeout",
                                   "cause": "The execution timed out"}], "failed"),
        "aborted": (["RUNNING", "ABORTED"], "failed"),
    },
    "databricks-run": {
        "succeeded": (["PENDING", "RUNNING", "TERMINATING", "TERMINATED:SUCCESS"], "succeeded"),
        "terminated-failed": (["RUNNING", _DBX_FAILED], "failed"),
        "internal-error": (["RUNNING", "INTERNAL_ERROR"], "failed"),
    },
    "kubernetes-job": {
        "succeeded": (["running", "running", "Complete"], "succeeded"),
        "failed": (["running", "Failed"], "failed"),
    },
    "ray-job": {
        "succeeded": (["PENDING", "RUNNING", "SUCCEEDED"], "succeeded"),
        "stopped": (["RUNNING", {"status": "STOPPED",
                                 "message": "Job was intentionally stopped."}], "failed"),
    },
    "runpod": {
        "succeeded": (["IN_QUEUE", "IN_PROGRESS", {"status": "COMPLETED", "output": {"x": 1},
                                                   "executionTime": 900}], "succeeded"),
        "timed-out": (["IN_QUEUE", "TIMED_OUT"], "failed"),
    },
    "huggingface-job": {
        "succeeded": (["SCHEDULING", "RUNNING", "COMPLETED"], "succeeded"),
        "error": (["RUNNING", {"status": {"stage": "ERROR", "message": "OOM"}}], "failed"),
    },
}

#: The documented body of each start request.
START_BODIES: dict[str, Any] = {
    "openai-batch": {"input_file_id": "file-in", "endpoint": "/v1/chat/completions",
                     "completion_window": "24h"},
    "openai-response": {"model": "o3", "input": "Write a haiku", "background": True},
    "google-operation": {"instances": [{"prompt": "a cat in the rain"}]},
    "replicate": {"version": "v1", "input": {"prompt": "a cat"}},
    "fal": {"prompt": "a cat"},
    "runway": {"model": "gen4_turbo", "promptImage": "https://x/cat.png", "ratio": "1280:720"},
    "luma": {"prompt": "a cat", "model": "ray-2"},
    "azure": {"urlSource": "https://x/invoice.pdf"},
    "azure-location": None,
    "github-actions": {"ref": "main", "return_run_details": True},
    "celery-flower": {"args": [1, 2]},
    "mlflow": {"experiment_id": "0"},
    "databricks-run": {"job_id": 11},
    "kubernetes-job": {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi"}},
    "ray-job": {"entrypoint": "python train.py"},
    "runpod": {"input": {"prompt": "a cat"}},
    "huggingface-job": {"dockerImage": "python:3.12", "command": ["python", "-c", "print(1)"],
                        "flavor": "cpu-basic"},
}

#: The failure's reason each trap must carry (read from where the vendor puts it).
REASONS = {
    ("openai-batch", "failed"): "invalid_json_line: line 3 is not JSON",
    ("openai-response", "incomplete"): "max_output_tokens",
    ("google-operation", "done-with-error"): "The prompt was blocked",
    ("replicate", "aborted"): "deadline",
    ("fal", "completed-with-error"): "runner_error: Runner crashed",
    ("runway", "failed"): "SAFETY.INPUT.TEXT",
    ("luma", "failed"): "prompt not allowed",
    ("stability", "content-filtered"): "CONTENT_FILTERED",
    ("azure", "failed"): "InvalidImage: Unsupported format",
    ("github-actions", "completed-failure"): "conclusion: failure",
    ("celery-flower", "failure"): "ValueError('boom')",
    ("celery-flower", "revoked"): "TaskRevokedError('terminated')",
    ("step-functions", "timed-out"): "States.Timeout: The execution timed out",
    ("databricks-run", "terminated-failed"): "FAILED: Task main failed with exit code 1",
    ("databricks-run", "internal-error"): "Run failed with an internal error",
    ("kubernetes-job", "failed"): "BackoffLimitExceeded",
    ("ray-job", "stopped"): "Job was intentionally stopped.",
    ("huggingface-job", "error"): "OOM",
}

#: A job that does not end (for cancel and timeout tests).
RUNNING: dict[str, Any] = {
    "openai-batch": "in_progress", "openai-response": "in_progress", "google-operation": {},
    "replicate": "processing", "fal": "IN_PROGRESS", "runway": "RUNNING", "luma": "dreaming",
    "stability": "in-progress", "azure": "Running", "azure-location": "running",
    "github-actions": "in_progress", "celery-flower": "STARTED", "mlflow": "RUNNING",
    "step-functions": "RUNNING", "databricks-run": "RUNNING", "kubernetes-job": "running",
    "ray-job": "RUNNING", "runpod": "IN_PROGRESS", "huggingface-job": "RUNNING",
}


# The second set of imitations (AI and media APIs), registered with the first.
from . import vendors_ai as _ai  # noqa: E402

VENDORS.update({v.name: v for v in _ai.VENDORS_AI})
_STATUS_PATHS.update(_ai.STATUS_PATHS_AI)
PROFILE_OF.update({v.name: v.name for v in _ai.VENDORS_AI})
SCENARIOS.update(_ai.SCENARIOS_AI)
START_BODIES.update(_ai.START_BODIES_AI)
REASONS.update(_ai.REASONS_AI)
RUNNING.update(_ai.RUNNING_AI)
PARTIAL_NOTES = dict(_ai.PARTIAL_NOTES)
_IDS.update(_ai.IDS_AI)

# The third: workflow and CI APIs.
from . import vendors_ops as _ops  # noqa: E402

VENDORS.update({v.name: v for v in _ops.VENDORS_OPS})
_STATUS_PATHS.update(_ops.STATUS_PATHS_OPS)
PROFILE_OF.update({v.name: v.name for v in _ops.VENDORS_OPS})
SCENARIOS.update(_ops.SCENARIOS_OPS)
START_BODIES.update(_ops.START_BODIES_OPS)
REASONS.update(_ops.REASONS_OPS)
RUNNING.update(_ops.RUNNING_OPS)
_IDS.update(_ops.IDS_OPS)
PARTIAL_NOTES.update(_ops.PARTIAL_NOTES_OPS)
