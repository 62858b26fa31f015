"""The status server (Starlette): a job's status as JSON with an ETag, the same as a
Server-Sent Events stream, and a health check. Workers write through the store API, or over
HTTP with a worker token (``PUT /jobs/{id}``, off unless configured).

- ``GET /jobs/{id}``: ``{"status", "step", "progress", "error", "updated_at"}``, a strong
  ``ETag`` (``"<epoch>.<version>.<hash of the body>"``; ``If-None-Match`` with it, a list
  holding it, or ``*`` gives 304), ``Cache-Control: no-store``, and ``Retry-After`` when
  configured and the job is not over. 404 with a JSON body for an unknown or expired job.
  Long-polling: with ``Prefer: wait=N`` (RFC 7240, ``prefer.py``; N cut to 60) and
  ``If-None-Match`` holding the current ETag, the answer waits until the job changes (200) or
  N seconds pass (304); a terminal job or another ETag answers at once. Every answer to such a
  request carries ``Preference-Applied: wait=N``. A process behind the client's tag waits for
  the update instead of answering an older state (``polls.py``). Holding costs the store
  nothing: the request waits on the process's subscription and reads its cache
  (``cache.py``).
- ``GET /jobs/{id}/events``: ``text/event-stream``. The current state first, then every
  update; each event has ``id: <version>`` (``Last-Event-ID: N`` resumes after N),
  ``retry: <ms>`` and one JSON status document in ``data:``. A ``: keep-alive`` comment every
  ``keepalive`` seconds; the stream ends after a terminal status. If the store's
  subscription dropped (Redis restarted), the stream reads the job again once it is back and
  goes on from what the store holds then, even when its versions started again at 1.
  A reconnect with nothing
  left to send (after the terminal event, or to an unknown job) gets 204 (``streams.py``).
- ``GET /healthz``: ``{"status": "ok", "store": "memory" | "redis" | "redis-cluster"}``, 503
  if the store does not answer (1.5 s at most).
- ``PUT /jobs/{id}``: a worker writes the job's status through ``store.update()``, with a
  bearer token; only when ``worker_token`` is given (``writes.py``, ``worker_auth.py``).

When the server shuts down, open event streams end and held long polls answer at once
(``shutdown.py``).
- ``GET /metrics`` with ``metrics=True``: Prometheus metrics (``metrics.py``).
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from .browser import browser_routes
from .cors import cors_middleware
from .polls import JobReader, body_of, etag_for, if_none_match, job_etag
from .prefer import applied_wait, prefer_wait
from .read_tokens import read_token_middleware
from .shutdown import Closing
from .store import PROGRESS_TTL, ProgressRecord, Store, StoreUnavailable, Subscription
from .streams import no_more_events, stream_is_over
from .writes import write_routes

if TYPE_CHECKING:
    from .metrics import ServerMetrics

__all__ = ["create_app", "etag_for", "if_none_match"]

_NO_STORE = {"Cache-Control": "no-store"}


def _not_found() -> JSONResponse:
    return JSONResponse(
        {"error": "not_found", "detail": "unknown or expired job"},
        status_code=404,
        headers=_NO_STORE,
    )


def _unavailable(exc: StoreUnavailable) -> JSONResponse:
    return JSONResponse(
        {"error": "store_unavailable", "detail": str(exc)}, status_code=503, headers=_NO_STORE
    )


def _sse_event(record: ProgressRecord, retry_ms: int) -> str:
    data = json.dumps(record.public(), separators=(",", ":"), ensure_ascii=False)
    return f"id: {record.version}\nretry: {retry_ms}\ndata: {data}\n\n"


def _last_event_id(request: Request) -> int | None:
    raw = request.headers.get("last-event-id", "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else None


def create_app(
    store: Store,
    *,
    retry_after: float | None = None,
    keepalive: float = 15.0,
    sse_retry: float = 3.0,
    close_store: bool = False,
    cors_origins: Iterable[str] = (),
    cors_credentials: bool = False,
    worker_token: str | None = None,
    metrics: bool = False,
    read_secret: str | bytes | None = None,
) -> Starlette:
    """The status server over ``store``. ``retry_after`` (seconds) is sent as a hint on
    responses for running jobs; ``keepalive`` is the SSE comment interval; ``sse_retry`` the
    reconnection delay the stream advertises. ``close_store`` closes the store at shutdown.
    ``cors_origins`` lists the browser origins (``scheme://host[:port]``, or ``*`` without
    ``cors_credentials``) allowed to read the server from another origin (``cors.py``).
    ``worker_token`` turns on ``PUT /jobs/{id}`` for workers that send it as a bearer token
    (without it the server takes no writes over HTTP: 405).
    ``metrics``: serve Prometheus metrics at ``/metrics`` (the ``metrics`` extra); the app's
    ``state.metrics`` is then its ``ServerMetrics``.
    ``read_secret``: job reads need a read token minted with it (``read_tokens.py``)."""
    middleware = cors_middleware(cors_origins, allow_credentials=cors_credentials)
    middleware += read_token_middleware(read_secret)
    if retry_after is not None and not (math.isfinite(retry_after) and retry_after >= 0):
        raise ValueError("retry_after must be a finite number >= 0")
    if not (math.isfinite(keepalive) and keepalive > 0):
        raise ValueError("keepalive must be a finite number > 0")
    served: ServerMetrics | None = None
    if metrics:
        from .metrics import ServerMetrics  # optional extra [metrics]: prometheus_client

        served = ServerMetrics(store)
    h = _Handlers(store, retry_after=retry_after, keepalive=keepalive, sse_retry=sse_retry,
                  close_store=close_store, metrics=served)
    extra = [Route("/metrics", served.endpoint, methods=["GET"])] if served else []
    app = Starlette(
        routes=[
            Route("/healthz", h.healthz, methods=["GET"]),
            Route("/jobs/{job_id}", h.job, methods=["GET"]),
            Route("/jobs/{job_id}/events", h.events, methods=["GET"]),
            *write_routes(store, worker_token),
            *extra,
            *browser_routes(),
        ],
        middleware=middleware,
        lifespan=h.lifespan,
        exception_handlers={404: _route_not_found},
    )
    app.state.closing = h.closing
    app.state.metrics = served
    return app


class _Handlers:
    """The routes of one app over one store."""

    def __init__(
        self, store: Store, *, retry_after: float | None, keepalive: float, sse_retry: float,
        close_store: bool, metrics: ServerMetrics | None = None,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.keepalive = keepalive
        self.close_store = close_store
        self.retry_ms = max(0, round(sse_retry * 1000))
        self.hint = None if retry_after is None else str(math.ceil(retry_after))
        self.closing = Closing()
        self.reader = JobReader(store, closing=self.closing, metrics=metrics)

    async def job(self, request: Request) -> Response:
        wait = prefer_wait(request.headers.getlist("prefer"))
        response = await self._job(request, wait)
        if self.metrics is not None:
            self.metrics.poll(response.status_code, bool(wait))
        return response

    async def _job(self, request: Request, wait: float | None) -> Response:
        match = request.headers.get("if-none-match")
        try:
            record = await self.reader.read(request.path_params["job_id"], match, wait)
        except StoreUnavailable as exc:
            return _unavailable(exc)
        if record is None:
            return _not_found()
        body = body_of(record)
        tag = job_etag(record, body)
        headers = {"ETag": tag, **_NO_STORE}
        if self.hint is not None and not record.terminal:
            headers["Retry-After"] = self.hint
        if wait is not None:
            headers["Preference-Applied"] = applied_wait(wait)
        if if_none_match(match, tag):
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    async def events(self, request: Request) -> Response:
        job_id = request.path_params["job_id"]
        # Subscribe before reading: an update that lands in between is then in the read or
        # in the mailbox, never lost (duplicates are dropped by version).
        sub = self.closing.watch(self.store.subscribe(job_id))
        try:
            current = await self.store.get(job_id)
        except StoreUnavailable as exc:
            sub.close()
            return _unavailable(exc)
        if stream_is_over(current, request.headers.get("last-event-id")):
            sub.close()
            return no_more_events()
        if current is None:
            sub.close()
            return _not_found()
        return StreamingResponse(
            self._stream(sub, current, _last_event_id(request)),
            media_type="text/event-stream",
            headers={**_NO_STORE, "X-Accel-Buffering": "no"},
        )

    async def _stream(
        self, sub: Subscription, current: ProgressRecord, last_id: int | None
    ) -> AsyncIterator[str]:
        retry_ms = self.retry_ms
        metrics = self.metrics
        if metrics is not None:
            metrics.streams.inc()
            metrics.streams_opened.inc()
        try:
            sent = current.order
            if last_id is None or last_id != current.version:
                yield _sse_event(current, retry_ms)
            else:
                yield f"retry: {retry_ms}\n\n"
            if current.terminal:
                return
            # With no update for a progress TTL the job has expired: end the stream.
            expires = anyio.current_time() + PROGRESS_TTL
            while True:
                left = expires - anyio.current_time()
                if left <= 0:
                    return
                record = await sub.receive(min(self.keepalive, left))
                if record is None and sub.ended:
                    return  # the server is shutting down
                if record is None and sub.take_resync():
                    # Updates may have been missed: what the store holds now is the truth,
                    # even older by (epoch, version) than what was sent (a restored Redis).
                    record = await self._reread(sub.job_id)
                    if record is None or record.order == sent:
                        continue
                elif record is None:
                    yield ": keep-alive\n\n"
                    continue
                elif record.order <= sent:
                    continue
                sent = record.order
                expires = anyio.current_time() + PROGRESS_TTL
                if metrics is not None:
                    metrics.delivered(record, "sse")
                    metrics.events_sent.inc()
                yield _sse_event(record, retry_ms)
                if record.terminal:
                    return
        finally:
            sub.close()
            if metrics is not None:
                metrics.streams.dec()

    async def _reread(self, job_id: str) -> ProgressRecord | None:
        try:
            return await self.store.get(job_id)
        except StoreUnavailable:
            return None  # still down: the next resync reads again

    async def healthz(self, request: Request) -> Response:
        ok = await self.store.ping()
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "store": self.store.kind},
            status_code=200 if ok else 503,
            headers=_NO_STORE,
        )

    @asynccontextmanager
    async def lifespan(self, app: Starlette) -> AsyncIterator[None]:
        self.closing.reopen()
        try:
            async with self.store.events():
                yield
        finally:
            if self.close_store:
                await self.store.aclose()


async def _route_not_found(request: Request, exc: Exception) -> Response:
    # Paths no route matches (``/jobs/a/b``, ``/jobs/``) answer like an unknown job.
    return _not_found()
