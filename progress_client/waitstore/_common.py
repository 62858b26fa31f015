"""What the blocking and async durable waits share: building a record, the engine that
continues it, the checkpoint after the start's answer and after each status, and the outcome.

A durable wait runs on the client's own driver: its engine is a ``PollEngine`` that reports
every status (not only changes), so that counters are checkpointed however quiet the job; a
run's start request is sent by the driver's own ``_send`` and its answer checkpointed before
anything else is sent (no second start after a restart).
"""

from __future__ import annotations

import base64
import json as _json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from progress_client.core.engine import PollEngine
from progress_client.core.errors import PollError
from progress_client.core.lifecycle import DefaultLifecycle, Job, Seen
from progress_client.core.policy import FixedPolicy
from progress_client.core.sanitize import public_url, sanitize
from progress_client.core.state import EngineState
from progress_client.drivers.base import Call
from progress_client.drivers.shared import SharedWait
from progress_client.drivers.wake import Waker
from progress_client.transports.http import check_url

from ..webhooks.vendors import add_webhook, vendor_hooks
from .records import MAX_STORED_RESULT, DurableOutcome, WaitRecord, check_key, check_metadata

if TYPE_CHECKING:
    from progress_client.core.actions import Stop, Update
    from progress_client.drivers.base import ClientBase
    from progress_client.drivers.wake import Waker

    from ..webhooks.receiver import WebhookReceiver

__all__ = ["Prepared", "logger", "new_run_record", "new_wait_record", "prepare"]

logger = logging.getLogger("progress_client.waitstore")

#: The start answer's headers kept in the store: those that name URLs (no cookie, no token).
_START_HEADERS = frozenset({
    "location", "operation-location", "azure-asyncoperation", "retry-after", "content-type",
})


class DurableEngine(PollEngine):
    """A ``PollEngine`` that hands out an update for every status seen (``watch``'s way), so
    that a durable wait can checkpoint its counters even when the status does not change."""

    __slots__ = ()

    @property
    def every_update(self) -> bool:
        return True

    @every_update.setter
    def every_update(self, value: bool) -> None:
        return None  # always on: a shared wait's subscribers cannot turn it off


class DurableCall(Call):
    """A ``Call`` whose engine is built beforehand (it may have sent the start already)."""

    __slots__ = ("engine",)
    engine: DurableEngine

    def make_engine(self) -> PollEngine:
        return self.engine


def _profile_name(profile: Any) -> str | None:
    if profile is None:
        return None
    if isinstance(profile, (str, os.PathLike)):
        return os.fspath(profile)
    raise TypeError("a durable wait's profile= is a built-in's name or a file's path (it is "
                    "loaded again when the wait is resumed), not a loaded Profile")


def new_wait_record(
    url: str, *, key: str, profile: Any, events_url: str | None, timeout: float | None,
    metadata: Any, owner: str,
) -> WaitRecord:
    return WaitRecord(
        key=check_key(key), kind="wait", url=check_url(url), profile=_profile_name(profile),
        events_url=check_url(events_url) if events_url is not None else None,
        metadata=check_metadata(metadata), deadline=_deadline(timeout), phase="waiting",
        owner=owner,
    )


def new_run_record(
    url: str, *, key: str, method: str, json: Any, data: Any, content_type: str | None,
    profile: Any, status_url: str | None, timeout: float | None, metadata: Any, owner: str,
) -> WaitRecord:
    if json is not None and data is not None:
        raise TypeError("give json= or data=, not both")
    content: bytes | None = None
    if json is not None:
        content = _json.dumps(json, separators=(",", ":")).encode()
        content_type = content_type or "application/json"
    elif isinstance(data, str):
        content = data.encode()
    elif data is not None:
        content = bytes(data)
    return WaitRecord(
        key=check_key(key), kind="run", url=check_url(url), profile=_profile_name(profile),
        method=method.upper(),
        body_b64=None if content is None else base64.b64encode(content).decode(),
        content_type=content_type, status_template=status_url,
        metadata=check_metadata(metadata), deadline=_deadline(timeout), phase="starting",
        owner=owner,
    )


def _deadline(timeout: float | None) -> float | None:
    if timeout is None:
        return None
    if not timeout >= 0:
        raise ValueError("timeout must be a number of seconds >= 0")
    return time.time() + timeout


class Prepared:
    """A record made ready to go on: its call (and engine); ``start`` is the start request
    still to send (a run whose start has no checkpointed answer), ``outcome`` an outcome
    known without any request (a run stopped while its start was on its way)."""

    def __init__(self, call: DurableCall, engine: DurableEngine) -> None:
        self.call = call
        self.engine = engine
        self.start_pending = False
        self.outcome: DurableOutcome | None = None
        self.last_checkpoint = time.monotonic()
        #: The wait's wake-up when it takes webhooks.
        self.waker: Waker | None = None

    def shared_for_start(self) -> SharedWait:
        shared = SharedWait(self.call.key, self.engine)
        shared.trusted = self.call.trusted
        return shared


def prepare(client: ClientBase[Any], record: WaitRecord, *, fresh: bool = False,
            webhooks: WebhookReceiver | None = None) -> Prepared:
    """The call that continues ``record`` where its last checkpoint left it (``fresh``: a
    run just registered, whose start is to be sent). With ``webhooks`` a run whose vendor
    takes a webhook URL gets one in its start, a waker, and the slow safety schedule."""
    config, lifecycle = client._with_profile(record.profile)
    life = lifecycle or DefaultLifecycle()
    hooked = (webhooks is not None and record.hook_token is not None
              and webhooks.takes(record.profile))
    start_url, body = record.url, record.body
    if hooked:
        assert webhooks is not None and record.hook_token is not None

        config = replace(config, policy=FixedPolicy(webhooks.safety_interval))
        hooks = vendor_hooks(record.profile)
        assert hooks is not None
        start_url, body = add_webhook(hooks, record.url, body,
                                      webhooks.hook_url(record.hook_token),
                                      webhooks.shared_secret(record.profile))
    prepared = _prepare(config, life, record, fresh, start_url, body)
    if hooked:
        prepared.waker = prepared.call.waker = Waker()
    return prepared


def _prepare(config: Any, life: Any, record: WaitRecord, fresh: bool, start_url: str,
             body: bytes | None) -> Prepared:
    tag = f"durable:{record.key}"
    if record.kind == "wait":
        state = EngineState.from_token(record.token, record.url) if record.token else None
        engine = DurableEngine(config, url=record.url, events_url=record.events_url,
                               state=state, lifecycle=life)
        call = DurableCall((record.url, record.events_url, tag), config, url=record.url,
                           events_url=record.events_url, lifecycle=life, trusted=record.url)
        call.engine = engine
        return Prepared(call, engine)
    headers = {"Content-Type": record.content_type} if record.content_type else {}
    job = Job(record.method, start_url, life, headers, body, record.status_template)
    if record.status_url is None:  # not started, or the start's answer never checkpointed
        engine = DurableEngine(config, job=job)
        call = DurableCall((f"durable-run:{record.key}:{record.url}", None, tag), config,
                           job=job, trusted=record.url)
        call.engine = engine
        prepared = Prepared(call, engine)
        # A new run sends its start; a run found "starting" in the store may have sent it
        # before its process stopped: sent again only where the API deduplicates starts.
        prepared.start_pending = fresh or life.start_idempotent
        if not prepared.start_pending:
            prepared.outcome = DurableOutcome(
                key=record.key, outcome="error", exit_code=4, metadata=record.metadata,
                error="the process stopped while the start request was on its way; it was not "
                      "sent again, since it may have started a job",
            )
        return prepared
    state = EngineState.from_token(record.token, record.status_url) if record.token else None
    engine = DurableEngine(config, job=job, url=record.status_url, state=state)
    if record.start is not None:  # the result and cancel may be named by the start's answer
        start = record.start
        engine._start = Seen(record.url, int(start.get("code", 200)),
                             dict(start.get("headers") or {}), start.get("body"))
    call = DurableCall((record.status_url, None, tag), config, job=job, trusted=record.url)
    call.engine = engine
    return Prepared(call, engine)


def started(record: WaitRecord, engine: PollEngine, now: float) -> bool:
    """The start's answer into ``record`` (``True``), or ``False`` when the start failed (the
    engine has stopped; its outcome follows)."""
    if engine.url is None:
        return False
    seen = engine._start
    record.status_url = engine.url
    if seen is not None:
        record.start = {
            "code": seen.status_code,
            "headers": {k: v for k, v in seen.headers.items() if k in _START_HEADERS},
            "body": seen.body,
        }
    record.body_b64 = None  # the start's body is no longer needed: it goes no further
    record.phase = "waiting"
    record.token = engine.resume_token(now)
    record.requests = engine.state.tally.requests
    return True


def note_update(prepared: Prepared, record: WaitRecord, update: Update,
                every: float) -> bool:
    """Take an update into ``record``; whether it is due to be written (a change, the first
    status after a start, or ``every`` seconds since the last write)."""
    if update.terminal:
        return False
    now = time.monotonic()
    due = update.changed or now - prepared.last_checkpoint >= every
    token = update.resume_token
    if not due or token is None:
        return False
    prepared.last_checkpoint = now
    record.token = token
    record.requests = update.report.requests
    record.last_status = update.status.status
    return True


def outcome_of(record: WaitRecord, client: ClientBase[Any], stop: Stop,
               call: DurableCall) -> DurableOutcome:
    """How the wait ended, as plain data (the JSON result kept when it is small)."""
    status_url = call.status_url or record.poll_url
    safe_url = public_url(status_url) if status_url else None
    try:
        result = client._finished(stop, call)
    except PollError as exc:
        status = exc.status
        return DurableOutcome(
            key=record.key, outcome=exc.outcome, status=status.status if status else None,
            progress=status.progress if status else None, error=sanitize(exc.message),
            exit_code=exc.exit_code, status_url=safe_url, report=exc.report or stop.report,
            metadata=record.metadata,
        )
    value, size = result.result, None
    if isinstance(value, (bytes, bytearray)):
        value, size = None, len(result.result)
    elif value is not None:
        try:
            text = _json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            value = None
        else:
            if len(text) > MAX_STORED_RESULT:
                value, size = None, len(text)
    return DurableOutcome(
        key=record.key, outcome="succeeded", status=result.status.status,
        progress=result.status.progress, status_url=safe_url, result=value,
        result_bytes=size, report=result.report, metadata=record.metadata,
    )


def ended(record: WaitRecord, outcome: DurableOutcome) -> None:
    record.phase = "delivering"
    record.outcome = outcome.to_dict()
    record.requests = outcome.report.requests
    record.last_status = outcome.status


def stored_outcome(record: WaitRecord) -> DurableOutcome | None:
    if record.phase == "delivering" and record.outcome is not None:
        outcome = DurableOutcome.from_dict(record.outcome)
        outcome.redelivered = True
        return outcome
    return None


def headers_arg(headers: Mapping[str, str] | None) -> dict[str, str]:
    return dict(headers or {})
