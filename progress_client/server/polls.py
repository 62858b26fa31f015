"""Reading a job for ``GET /jobs/{id}``: the entity tag, the long-poll hold, and catching up
when this process is behind what the client has already seen.

**The ETag names the update.** ``"<epoch>.<version>.<hash>"`` (hex): the hash of the body
makes it a strong validator, the epoch and version (``ProgressRecord.order``) say which update
it is. Behind a load balancer a client may poll process A, which has just heard of update 8,
then process B, which will hear of it a moment later: B sees from ``If-None-Match`` that the
client holds update 8 while its cache says 7, and waits (up to ``CATCH_UP`` seconds) for the
update to reach it instead of answering the older state; if it does not come, B reads Redis
(what Redis holds is the answer, even if older: Redis was restored). Holding and catching up
wait on the process's subscription and read its cache: no Redis command.

**Long-polling** (``Prefer: wait=N``, ``prefer.py``): a request whose ``If-None-Match`` holds
the current tag waits until the job changes or N seconds pass; a terminal job, another tag or
no tag answers at once. While held, a job that vanished (Redis came back empty) or a store
that is down waits for the next update or the end of the hold (then a plain read answers).
When the server shuts down (``shutdown.py``) a held poll answers at once with the job's
state at that moment.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING

import anyio

from .records import ProgressRecord, StoreUnavailable, Subscription
from .shutdown import Closing
from .store import Store

if TYPE_CHECKING:
    from .metrics import ServerMetrics

__all__ = ["CATCH_UP", "JobReader", "body_of", "claimed_order", "etag_for", "if_none_match",
           "job_etag"]

#: Seconds a process that is behind the client waits for the update before reading Redis.
CATCH_UP = 1.0

_TAG = re.compile(r'(?:W/)?"([0-9a-f]{1,16})\.([0-9a-f]{1,16})\.[0-9a-f]{32}"')


def body_of(record: ProgressRecord) -> bytes:
    """The JSON body served for a record (compact, UTF-8)."""
    return json.dumps(record.public(), separators=(",", ":"), ensure_ascii=False).encode()


def etag_for(body: bytes) -> str:
    """A strong entity tag for a response body (RFC 9110: quoted)."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def job_etag(record: ProgressRecord, body: bytes | None = None) -> str:
    """The tag of a job's status: ``"<epoch>.<version>.<hash of the body>"`` (hex)."""
    digest = etag_for(body_of(record) if body is None else body)[1:]
    return f'"{record.epoch:x}.{record.version:x}.{digest}'


def claimed_order(header: str | None) -> tuple[int, int] | None:
    """The newest ``(epoch, version)`` named by the job tags in an ``If-None-Match`` header
    (None when it holds none of ours)."""
    if not header or len(header) > 4096:
        return None
    found = [(int(e, 16), int(v, 16)) for e, v in _TAG.findall(header)]
    return max(found) if found else None


def if_none_match(header: str | None, etag: str) -> bool:
    """Whether an ``If-None-Match`` header matches ``etag`` (weak comparison, as RFC 9110
    asks for this header): ``*``, one tag, or a comma-separated list."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    opaque = etag.removeprefix("W/")
    for part in header.split(","):
        tag = part.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag == opaque:
            return True
    return False


class JobReader:
    """``read()`` a job for one request; see the module docstring."""

    def __init__(self, store: Store, catch_up: float = CATCH_UP,
                 closing: Closing | None = None,
                 metrics: ServerMetrics | None = None) -> None:
        self.store = store
        self.catch_up = catch_up
        self.closing = closing if closing is not None else Closing()
        #: ``/metrics`` (``create_app(metrics=True)``): held polls, delivery latency.
        self.metrics = metrics

    async def read(self, job_id: str, match: str | None, wait: float | None
                   ) -> ProgressRecord | None:
        """The record to answer with (None: unknown job). ``match``: the ``If-None-Match``
        header; ``wait``: the long-poll preference in seconds (None or 0: do not hold)."""
        claimed = claimed_order(match)
        record = await self.store.get(job_id)
        if record is None:
            return None
        behind = claimed is not None and record.order < claimed
        if not behind and not wait:
            return record
        # Subscribe, then read again in the loops below: no update slips in between.
        sub = self.closing.watch(self.store.subscribe(job_id))
        try:
            if behind:
                assert claimed is not None
                record = await self._catch_up(sub, job_id, claimed)
            if wait and record is not None:
                record = await self._hold(sub, job_id, record, match, wait)
            return record
        finally:
            sub.close()

    async def _catch_up(self, sub: Subscription, job_id: str, claimed: tuple[int, int]
                        ) -> ProgressRecord | None:
        deadline = anyio.current_time() + self.catch_up
        while True:
            record = await self.store.get(job_id)
            if record is None or record.order >= claimed:
                return record
            left = deadline - anyio.current_time()
            if left <= 0 or sub.ended:
                return await self.store.refresh(job_id)
            await sub.receive(left)
            sub.take_resync()

    async def _hold(self, sub: Subscription, job_id: str, record: ProgressRecord | None,
                    match: str | None, wait: float) -> ProgressRecord | None:
        metrics = self.metrics
        if metrics is None:
            return await self._held(sub, job_id, record, match, wait)
        before = record
        metrics.held.inc()
        try:
            record = await self._held(sub, job_id, record, match, wait)
        finally:
            metrics.held.dec()
        if record is not None and before is not None and record.order > before.order:
            metrics.delivered(record, "long_poll")  # a change the hold waited for
        return record

    async def _held(self, sub: Subscription, job_id: str, record: ProgressRecord | None,
                    match: str | None, wait: float) -> ProgressRecord | None:
        deadline = anyio.current_time() + wait
        while not (record is not None
                   and (record.terminal or not if_none_match(match, job_etag(record)))):
            left = deadline - anyio.current_time()
            if left <= 0 or sub.ended:
                return await self.store.get(job_id)
            await sub.receive(left)  # an update, a resync, the end of the hold or of the server
            sub.take_resync()
            try:
                record = await self.store.get(job_id)
            except StoreUnavailable:
                record = None
        return record
