"""Where workers write job progress and the status server reads it: ``MemoryStore`` (one
process, the default) and ``RedisStore`` (any number of processes), one async interface.

What is kept, and for how long (no explicit delete anywhere: TTLs expire everything):

- progress (status, step, progress, sanitized error, updated_at, version, optional opaque
  owner id): 1 h, refreshed by every update;
- checkpoint (completed-step flags and the last completed step): 2 h;
- metadata (technical settings only, see ``pii.JobMetadata``): 24 h.

``update()`` writes the progress, the checkpoint and the change notification in one round trip
(Redis: one atomic script that runs ``SET ... EX``, ``HSET``/``EXPIRE`` and ``PUBLISH``). Every
update bumps a per-job ``version``, which the server uses as the SSE event id. Readers get
``ProgressRecord.public()``, which never includes the owner id.
"""

from __future__ import annotations

import json
import math
import re
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import anyio.lowlevel
from pydantic import BaseModel, ConfigDict

from .._models import DEFAULT_FAILURE, DEFAULT_SUCCESS
from .._sanitize import sanitize
from .pii import JobMetadata, check_metadata

if TYPE_CHECKING:
    import redis.asyncio

__all__ = [
    "CHECKPOINT_TTL",
    "METADATA_TTL",
    "PROGRESS_TTL",
    "Checkpoint",
    "MemoryStore",
    "ProgressRecord",
    "RedisStore",
    "Store",
    "StoreUnavailable",
    "Subscription",
    "is_terminal",
]

PROGRESS_TTL = 3600
CHECKPOINT_TTL = 7200
METADATA_TTL = 86_400
DEFAULT_PREFIX = "progress"
#: Updates a slow SSE reader may fall behind by; older ones are dropped (ids stay increasing).
MAILBOX_SIZE = 64
MAX_ERROR_CHARS = 1000

_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
_OWNER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$")
_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$")
_TERMINAL = frozenset(w.casefold() for w in DEFAULT_SUCCESS | DEFAULT_FAILURE)


class StoreUnavailable(RuntimeError):
    """The backing store could not be reached; the message holds no URL or credential."""


class ProgressRecord(BaseModel):
    """A job's progress as stored. ``public()`` is what readers see."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    status: str
    step: str | int | None = None
    progress: float | None = None
    error: str | None = None
    updated_at: str
    version: int = 0
    owner: str | None = None

    def public(self) -> dict[str, Any]:
        """The status document served over HTTP and SSE: no owner, no version."""
        return {
            "status": self.status,
            "step": self.step,
            "progress": self.progress,
            "error": self.error,
            "updated_at": self.updated_at,
        }

    @property
    def terminal(self) -> bool:
        return is_terminal(self.status)


def is_terminal(status: str) -> bool:
    """Whether ``status`` ends a job, by the same words the clients use."""
    return status.casefold() in _TERMINAL


@dataclass(frozen=True)
class Checkpoint:
    """The steps a job has completed, for a worker that resumes after a crash."""

    completed: frozenset[str]
    last_step: str | None


class Subscription:
    """The updates of one job, for one reader (an SSE stream). Not thread-safe: one event
    loop. If the reader falls more than ``MAILBOX_SIZE`` updates behind, the oldest drop."""

    def __init__(self, job_id: str, on_close: Callable[[Subscription], None]) -> None:
        self.job_id = job_id
        self._items: deque[ProgressRecord] = deque(maxlen=MAILBOX_SIZE)
        self._event = anyio.Event()
        self._on_close = on_close

    def put(self, record: ProgressRecord) -> None:
        self._items.append(record)
        self._event.set()

    async def receive(self, timeout: float) -> ProgressRecord | None:
        """The next update, or None when none came within ``timeout`` seconds."""
        with anyio.move_on_after(max(0.0, timeout)):
            while not self._items:
                await self._event.wait()
                self._event = anyio.Event()
            return self._items.popleft()
        return None

    def close(self) -> None:
        self._on_close(self)


def _check_job_id(job_id: str) -> str:
    if not isinstance(job_id, str) or not _JOB_ID.match(job_id):
        raise ValueError(
            "job_id must be 1-128 characters of letters, digits, '_', '.', '-', "
            "starting with a letter or digit"
        )
    return job_id


def valid_job_id(job_id: str) -> bool:
    return isinstance(job_id, str) and bool(_JOB_ID.match(job_id))


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
        record = ProgressRecord(
            status=status.strip(),
            step=step_value,
            progress=progress,
            error=clean_error,
            updated_at=_iso(self._wall()),
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

    async def aclose(self) -> None:
        return None

    # -- I/O, per store ------------------------------------------------------------------------

    async def _write_update(
        self, job_id: str, record: ProgressRecord, done: str | None
    ) -> ProgressRecord:
        """Store ``record`` with the next version (and the previous owner when it has none),
        write the checkpoint, notify; return the record as stored."""
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


# One atomic round trip per update: read the version, write the progress with its TTL, the
# checkpoint with its TTL, and publish the versioned public document. A MULTI/EXEC pipeline
# cannot put the new version into the published message; a script can, in the same single
# request.
_UPDATE_LUA = """
local version = 1
local record = cjson.decode(ARGV[1])
local prev = redis.call('GET', KEYS[1])
if prev then
  local ok, doc = pcall(cjson.decode, prev)
  if ok and type(doc) == 'table' then
    if tonumber(doc['version']) then version = tonumber(doc['version']) + 1 end
    if record['owner'] == cjson.null and type(doc['owner']) == 'string' then
      record['owner'] = doc['owner']
    end
  end
end
record['version'] = version
local stored = cjson.encode(record)
redis.call('SET', KEYS[1], stored, 'EX', tonumber(ARGV[2]))
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[2], 'done:' .. ARGV[5], '1', 'last_step', ARGV[5])
  redis.call('EXPIRE', KEYS[2], tonumber(ARGV[6]))
end
local event = cjson.decode(ARGV[4])
event['version'] = version
redis.call('PUBLISH', ARGV[3], cjson.encode(event))
return stored
"""


class RedisStore(Store):
    """The shared store: Redis (``redis.asyncio``, so asyncio only). Updates reach every
    status-server process through pub/sub (one pattern subscription per process).

    ``RedisStore("redis://127.0.0.1:6379/0")`` or ``RedisStore(client=redis.asyncio.Redis(...))``
    (a client must use ``decode_responses=True``)."""

    kind = "redis"

    def __init__(
        self,
        url: str | None = None,
        *,
        client: redis.asyncio.Redis | None = None,
        prefix: str = DEFAULT_PREFIX,
        wall: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(prefix=prefix, wall=wall)
        import redis.asyncio as aioredis

        if (url is None) == (client is None):
            raise ValueError("give exactly one of url= or client=")
        if client is None:
            assert url is not None
            client = aioredis.from_url(url, decode_responses=True)
            self._owns_client = True
        else:
            self._owns_client = False
        self._redis: redis.asyncio.Redis = client
        self._script = client.register_script(_UPDATE_LUA)
        self._listening = False

    @property
    def client(self) -> redis.asyncio.Redis:
        return self._redis

    async def _call(self, what: str, coro: Any) -> Any:
        import redis.exceptions

        try:
            return await coro
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
            raise StoreUnavailable(
                f"Redis unreachable during {what} ({type(exc).__name__})"
            ) from None

    async def _write_update(
        self, job_id: str, record: ProgressRecord, done: str | None
    ) -> ProgressRecord:
        stored = record.model_dump(mode="json", exclude={"version"})
        raw = await self._call(
            "update",
            self._script(
                keys=[self.progress_key(job_id), self.checkpoint_key(job_id)],
                args=[
                    json.dumps(stored),
                    PROGRESS_TTL,
                    self.channel(job_id),
                    json.dumps(record.public()),
                    done if done is not None else "",
                    CHECKPOINT_TTL,
                ],
            ),
        )
        return ProgressRecord.model_validate_json(str(raw))

    async def _write_metadata(self, job_id: str, payload: str) -> None:
        await self._call(
            "set_metadata", self._redis.set(self.metadata_key(job_id), payload, ex=METADATA_TTL)
        )

    async def _read(self, key: str) -> str | None:
        value = await self._call("read", self._redis.get(key))
        return None if value is None else str(value)

    async def _read_checkpoint(self, job_id: str) -> dict[str, str]:
        value = await self._call("read", self._redis.hgetall(self.checkpoint_key(job_id)))
        return {str(k): str(v) for k, v in dict(value).items()}

    async def ping(self) -> bool:
        try:
            return bool(await self._call("ping", self._redis.ping()))
        except StoreUnavailable:
            return False

    @asynccontextmanager
    async def events(self) -> AsyncIterator[None]:
        """Listen on ``<prefix>:events:*`` and hand every update to this process's readers."""
        if self._listening:
            raise RuntimeError("this RedisStore is already listening for events")
        async with anyio.create_task_group() as tg:
            await tg.start(self._listen)
            self._listening = True
            try:
                yield
            finally:
                self._listening = False
                tg.cancel_scope.cancel()

    def subscribe(self, job_id: str) -> Subscription:
        if not self._listening:
            raise RuntimeError("subscribe() needs `async with store.events():` running")
        return super().subscribe(job_id)

    async def _listen(self, *, task_status: anyio.abc.TaskStatus[None]) -> None:
        import redis.exceptions

        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        head = f"{self.prefix}:events:"
        try:
            await self._call("subscribe", pubsub.psubscribe(head + "*"))
            task_status.started()
            while True:
                try:
                    message = await pubsub.get_message(timeout=None)
                except (redis.exceptions.ConnectionError, OSError):
                    # redis-py reconnects and re-subscribes on the next read; back off a bit.
                    await anyio.sleep(0.5)
                    continue
                if not message or message.get("type") != "pmessage":
                    continue
                channel = str(message["channel"])
                if not channel.startswith(head):
                    continue
                try:
                    record = ProgressRecord.model_validate_json(str(message["data"]))
                except ValueError:
                    continue
                self._deliver(channel[len(head):], record)
        finally:
            with anyio.CancelScope(shield=True):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def aclose(self) -> None:
        if self._owns_client:
            await self._redis.aclose()
