"""``PUT /jobs/{id}``: a worker writes its job's status over HTTP.

The body is the job's status document, the same fields the Python worker API takes
(``Store.update``), as one JSON object::

    {"status": "running", "step": "render", "progress": 40,
     "error": null, "completed_step": "upload", "owner": null,
     "metadata": {"model": "v2", "duration": 30}}

``status`` is required; every other field is optional. ``progress`` is a percentage, 0 to
100. The write goes through the same path as the Python API: ``store.update()`` (errors
sanitized, TTLs refreshed, event streams and held long polls told at once), then, with
``metadata``, ``store.set_metadata()`` (personal data and credentials refused). Everything is
checked before anything is written.

PUT replaces the status document, as ``update()`` does: a field left out is stored as null.
There is no PATCH: a partial update would read the job and write it back, and two writers
could interleave; send every field you want kept.

Answers: ``201`` (the job's first write) or ``200`` with the stored document and its ``ETag``;
``400`` for a body that is not a JSON object (or over 16 KiB: ``413``); ``422`` for a field
that is unknown, missing or out of range, and for refused metadata (``pii_refused`` names the
field, never the value); ``401`` (no token, or another) and ``405`` (a server without a
worker token) from ``worker_auth.py``; ``503`` when the store is down. Error bodies are
``{"error": code, "detail": message}``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from progress_client.core.sanitize import sanitize

from .pii import InvalidMetadata, PIIRefused, check_metadata
from .polls import body_of, job_etag
from .records import StoreUnavailable
from .store import Store
from .worker_auth import WorkerAuth

__all__ = ["MAX_BODY", "JobWrite", "write_routes"]

#: The largest request body taken, in bytes.
MAX_BODY = 16 * 1024
_NO_STORE = {"Cache-Control": "no-store"}


class JobWrite(BaseModel):
    """The body of ``PUT /jobs/{id}``; the store checks the values further."""

    model_config = ConfigDict(extra="forbid", strict=True)

    status: str
    step: str | int | None = None
    progress: float | None = Field(default=None, ge=0, le=100)
    error: str | None = None
    completed_step: str | int | None = None
    owner: str | None = None
    metadata: dict[str, Any] | None = None


def write_routes(store: Store, worker_token: str | None) -> list[Route]:
    """The write route (PUT), and a 405 that says so for the other write methods."""
    writes = _Writes(store, WorkerAuth(worker_token))
    return [Route("/jobs/{job_id}", writes.handle, methods=["PUT", "PATCH", "POST", "DELETE"])]


def _problem(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail, **extra}, status_code=status,
                        headers=_NO_STORE)


def _field_errors(exc: ValidationError) -> str:
    """One line naming each bad field and what is wrong, never a value."""
    parts = []
    for err in exc.errors(include_input=False, include_url=False, include_context=False):
        where = ".".join(str(p) for p in err["loc"])
        where = sanitize(where)[:64] or "body"
        kind = err["type"]
        if kind == "extra_forbidden":
            parts.append(f"unknown field {where!r}")
        elif kind == "missing":
            parts.append(f"{where} is required")
        else:
            parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts[:8])


class _Writes:
    def __init__(self, store: Store, auth: WorkerAuth) -> None:
        self.store = store
        self.auth = auth

    async def handle(self, request: Request) -> Response:
        refused = self.auth.refusal(request)
        if refused is not None and not self.auth.enabled:
            return refused  # 405: this server takes no writes
        if request.method != "PUT":
            return JSONResponse(
                {"error": "method_not_allowed",
                 "detail": "write a job with PUT and the whole status document (no PATCH: "
                           "send every field you want kept)"},
                status_code=405, headers={"Allow": "GET, HEAD, PUT", **_NO_STORE},
            )
        if refused is not None:
            return refused
        body = await _read_body(request)
        if body is None:
            return _problem(413, "too_large", f"the body is over {MAX_BODY} bytes")
        try:
            write = JobWrite.model_validate_json(body)
        except ValidationError as exc:
            kinds = {e["type"] for e in exc.errors()}
            if "json_invalid" in kinds:
                return _problem(400, "invalid_json", "the body is not valid JSON")
            if "model_type" in kinds or "model_attributes_type" in kinds:
                return _problem(400, "invalid_body", "the body must be a JSON object")
            return _problem(422, "invalid", _field_errors(exc))
        return await self._write(request.path_params["job_id"], write)

    async def _write(self, job_id: str, write: JobWrite) -> Response:
        try:
            meta = None if write.metadata is None else check_metadata(write.metadata)
        except PIIRefused as exc:
            return _problem(422, "pii_refused", str(exc), field=sanitize(exc.field)[:64])
        except InvalidMetadata as exc:
            return _problem(422, "invalid_metadata", str(exc))
        try:
            record = await self.store.update(
                job_id, status=write.status, step=write.step, progress=write.progress,
                error=write.error, completed_step=write.completed_step, owner=write.owner,
            )
            if meta is not None:
                await self.store.set_metadata(job_id, **meta.model_dump(exclude_none=True))
        except StoreUnavailable as exc:
            return _problem(503, "store_unavailable", str(exc))
        except ValueError as exc:
            return _problem(422, "invalid", sanitize(str(exc)))
        body = body_of(record)
        return Response(body, status_code=201 if record.version == 1 else 200,
                        media_type="application/json",
                        headers={"ETag": job_etag(record, body), **_NO_STORE})


async def _read_body(request: Request) -> bytes | None:
    """The request body, or None when it is over ``MAX_BODY`` (read no further)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
