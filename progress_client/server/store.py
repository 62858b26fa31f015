"""Where workers write job progress and the status server reads it: the interface, the
records, and ``MemoryStore`` (one process, the default). ``RedisStore`` (any number of
processes, single Redis or Redis Cluster) is in ``redis_store.py``.

What is kept, and for how long (no explicit delete anywhere: TTLs expire everything):

- progress (status, step, progress, sanitized error, updated_at, version, optional opaque
  owner id): 1 h, refreshed by every update;
- checkpoint (completed-step flags and the last completed step): 2 h;
- metadata (technical settings only, see ``pii.JobMetadata``): 24 h.

``update()`` writes the progress, the checkpoint and the change notification in one round trip
(Redis: one atomic script that runs ``SET ... EX``, ``HSET``/``EXPIRE`` and ``PUBLISH``). Every
update bumps a per-job ``version``, which the server uses as the SSE event id; ``epoch`` (when
the job's record was first written) tells a job that started again (its key expired, or Redis
came back empty) from the one before, so records order by ``(epoch, version)``. Readers get
``ProgressRecord.public()``, which never includes the owner id.
"""

from __future__ import annotations

import math
import re
import time
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from typing import Any

import anyio
import anyio.lowlevel

from progress_client.core.sanitize import sanitize

from .pii import JobMetadata, check_metadata
from .records import (
    Checkpoint,
    ProgressRecord,
    StoreUnavailable,
    Subscription,
    is_terminal,
)

__all__ = [
    "CHECKPOINT_TTL",
    "METADATA_TTL",
    "PROGRESS_TTL",
    "Checkpoint",
    "MemoryStore",
    "ProgressRecord",
    "Store",
    "StoreUnavailable",
    "Subscription",
    "is_terminal",
]

PROGRESS_TTL = 3600
CHECKPOINT_TTL = 7200
METADATA_TTL = 86_400
DEFAULT_PREFIX = "progress"
MAX_ERROR_CHARS = 1000

_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
_OWNER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$")
_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$")


def _check_job_id(job_id: str) -> str:
    if not isinstance(job_id, str) or not _JOB_ID.match(job_id):
        raise ValueError(
            "job_id must be 1-128 characters of letters, digits, '_', '.', '-', "
            "starting with a letter or digit"
        )
    return job_id


def valid_job_id(job_id: str) -> bool:
    return isinstance(job_id, str) and bool(_JOB_ID.match(job_id))


def _ms(wall: float) -> int:
    return int(wall * 1000)


def _iso(wall: float) -> str:
    dt = datetime.fromtimestamp(wall, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _step_text(value: str | int, label: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f"{label} must be a string or an integer")
    text = str(value).strip()
    if not text or len(text) > 128:
        raise ValueError(f"{label} must be 1-128 characters")
    return text


class Store:
    """The interface both stores share. Subclasses implement the ``_``-prefixed I/O."""

    kind = "abstract"

    def __init__(self, *, prefix: str = DEFAULT_PREFIX, wall: Callable[[], float] = time.time):
        if not _PREFIX.match(prefix):
            raise ValueError("prefix must be 1-64 characters of letters, digits, '_.:-'")
        self.prefix = prefix
        self._wall = wall
        self._subscribers: dict[str, weakref.WeakSet[Subscription]] = {}

    # -- key names (Redis uses them; the braces keep one job's keys in one cluster slot) ----

    def progress_key(self, job_id: str) -> str:
        return f"{self.prefix}:{{{job_id}}}:progress"

    def checkpoint_key(self, job_id: str) -> str:
        return f"{self.prefix}:{{{job_id}}}:checkpoint"

    def metadata_key(self, job_id: str) -> str:
        return f"{self.prefix}:{{{job_id}}}:metadata"

    def channel(self, job_id: str) -> str:
        return f"{self.prefix}:events:{job_id}"

    # -- the worker's API ----------------------------------------------------------------------

    async def update(
        self,
        job_id: str,
        *,
        status: str,
        step: str | int | None = None,
        progress: float | None = None,
        error: str | None = None,
        completed_step: str | int | None = None,
        owner: str | None = None,
    ) -> ProgressRecord:
        """Write the job's progress (TTL 1 h) and, with ``completed_step``, its checkpoint
        (TTL 2 h), and notify readers: one round trip. ``error`` is sanitized before it is
        stored. ``owner`` is an opaque id (a UUID, never an e-mail or a name), kept for the
        worker (later updates without one keep it) and never served. Returns the record as
        stored, with its new version."""
        _check_job_id(job_id)
        if not isinstance(status, str) or not status.strip() or len(status) > 64:
            raise ValueError("status must be a non-empty string of at most 64 characters")
        step_value: str | int | None = None
        if step is not None:
            step_value = step if isinstance(step, int) and not isinstance(step, bool) else (
                _step_text(step, "step")
            )
        if progress is not None:
            if isinstance(progress, bool) or not isinstance(progress, (int, float)):
                raise ValueError("progress must be a number from 0 to 100")
            progress = float(progress)
            if not (math.isfinite(progress) and 0.0 <= progress <= 100.0):
                raise ValueError("progress must be a number from 0 to 100")
        clean_error = None
        if error is not None:
            clean_error = sanitize(error)[:MAX_ERROR_CHARS]
        done = None if completed_step is None else _step_text(completed_step, "completed_step")
        if owner is not None and (not isinstance(owner, str) or not _OWNER.match(owner)
                                  or "@" in owner):
            raise ValueError("owner must be an opaque id such as a UUID (no e-mail, no name)")
        wall = self._wall()
        record = ProgressRecord(
            status=status.strip(),
            step=step_value,
            progress=progress,
            error=clean_error,
            updated_at=_iso(wall),
            epoch=_ms(wall),  # kept only if the job has no record yet
            at=_ms(wall),
            owner=owner,
        )
        return await self._write_update(job_id, record, done)

    async def set_metadata(self, job_id: str, **fields: Any) -> JobMetadata:
        """Store the job's technical settings (TTL 24 h), replacing earlier ones. Personal
        data (``PIIRefused``) and unknown fields (``InvalidMetadata``) are refused before
        anything is written."""
        _check_job_id(job_id)
        meta = check_metadata(fields)
        await self._write_metadata(job_id, meta.model_dump_json(exclude_none=True))
        return meta

    async def get(self, job_id: str) -> ProgressRecord | None:
        """The job's progress, or None for an unknown or expired job (or an invalid id)."""
        if not valid_job_id(job_id):
            return None
        raw = await self._read(self.progress_key(job_id))
        return None if raw is None else ProgressRecord.model_validate_json(raw)

    async def refresh(self, job_id: str) -> ProgressRecord | None:
        """The job's progress as the store holds it now, past any cache (see
        ``RedisStore``); the same as ``get()`` here."""
        return await self.get(job_id)

    async def get_checkpoint(self, job_id: str) -> Checkpoint | None:
        _check_job_id(job_id)
        flags = await self._read_checkpoint(job_id)
        if not flags:
            return None
        completed = frozenset(k[5:] for k in flags if k.startswith("done:"))
        return Checkpoint(completed=completed, last_step=flags.get("last_step"))

    async def get_metadata(self, job_id: str) -> JobMetadata | None:
        _check_job_id(job_id)
        raw = await self._read(self.metadata_key(job_id))
        return None if raw is None else JobMetadata.model_validate_json(raw)

    # -- the server's API ----------------------------------------------------------------------

    async def ping(self) -> bool:
        return True

    @asynccontextmanager
    async def events(self) -> AsyncIterator[None]:
        """Run whatever delivers updates to subscribers (the status app's lifespan)."""
        yield

    def subscribe(self, job_id: str) -> Subscription:
        """Start receiving the job's updates; call ``close()`` when done (an abandoned
        subscription is dropped when it is garbage-collected)."""
        sub = Subscription(job_id, self._unsubscribe)
        self._subscribers.setdefault(job_id, weakref.WeakSet()).add(sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        subs = self._subscribers.get(sub.job_id)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subscribers[sub.job_id]

    def _deliver(self, job_id: str, record: ProgressRecord) -> None:
        for sub in list(self._subscribers.get(job_id, ())):
            sub.put(record)

    def _resync_all(self) -> None:
        """Updates may have been missed: every reader should read its job again."""
        for subs in list(self._subscribers.values()):
            for sub in list(subs):
                sub.resync()

    def has_readers(self, job_id: str) -> bool:
        return bool(self._subscribers.get(job_id))

    @property
    def readers(self) -> int:
        """Open subscriptions in this process (event streams, held long polls)."""
        return sum(len(subs) for subs in self._subscribers.values())

    async def aclose(self) -> None:
        return None

    # -- I/O, per store ------------------------------------------------------------------------

    async def _write_update(
        self, job_id: str, record: ProgressRecord, done: str | None
    ) -> ProgressRecord:
        """Store ``record`` with the next version (and the previous epoch, and owner when it
        has none), write the checkpoint, notify; return the record as stored."""
        raise NotImplementedError

    async def _write_metadata(self, job_id: str, payload: str) -> None:
        raise NotImplementedError

    async def _read(self, key: str) -> str | None:
        raise NotImplementedError

    async def _read_checkpoint(self, job_id: str) -> dict[str, str]:
        raise NotImplementedError


class MemoryStore(Store):
    """The embedded store: one process, one event loop, TTLs honoured on every access.

    ``clock`` (monotonic seconds) and ``wall`` (epoch seconds, for ``updated_at``) are
    injectable so tests can jump past a TTL without sleeping."""

    kind = "memory"

    def __init__(
        self,
        *,
        prefix: str = DEFAULT_PREFIX,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(prefix=prefix, wall=wall)
        self._clock = clock
        self._data: dict[str, tuple[float, Any]] = {}

    def ttls(self) -> dict[str, float]:
        """Every live key and its remaining time to live, in seconds."""
        self._purge()
        now = self._clock()
        return {key: deadline - now for key, (deadline, _) in self._data.items()}

    def _purge(self) -> None:
        now = self._clock()
        for key in [k for k, (deadline, _) in self._data.items() if deadline <= now]:
            del self._data[key]

    def _live(self, key: str) -> Any:
        entry = self._data.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._data[key]
            return None
        return entry[1]

    async def _write_update(
        self, job_id: str, record: ProgressRecord, done: str | None
    ) -> ProgressRecord:
        await anyio.lowlevel.checkpoint()
        self._purge()
        now = self._clock()
        key = self.progress_key(job_id)
        raw = self._live(key)
        prev = ProgressRecord.model_validate_json(raw) if raw else None
        stored = record.model_copy(update={
            "version": prev.version + 1 if prev else 1,
            "epoch": prev.epoch if prev else record.epoch,
            "owner": record.owner if record.owner is not None or prev is None else prev.owner,
        })
        self._data[key] = (now + PROGRESS_TTL, stored.model_dump_json())
        if done is not None:
            ck = self.checkpoint_key(job_id)
            flags: dict[str, str] = dict(self._live(ck) or {})
            flags[f"done:{done}"] = "1"
            flags["last_step"] = done
            self._data[ck] = (now + CHECKPOINT_TTL, flags)
        self._deliver(job_id, stored.model_copy(update={"owner": None}))
        return stored

    async def _write_metadata(self, job_id: str, payload: str) -> None:
        await anyio.lowlevel.checkpoint()
        self._purge()
        self._data[self.metadata_key(job_id)] = (self._clock() + METADATA_TTL, payload)

    async def _read(self, key: str) -> str | None:
        await anyio.lowlevel.checkpoint()
        value = self._live(key)
        return value if isinstance(value, str) else None

    async def _read_checkpoint(self, job_id: str) -> dict[str, str]:
        await anyio.lowlevel.checkpoint()
        value = self._live(self.checkpoint_key(job_id))
        return dict(value) if isinstance(value, dict) else {}
