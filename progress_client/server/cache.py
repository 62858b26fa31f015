"""The jobs a status-server process serves, kept in memory and exact through its pub/sub
subscription, so that a poll, a 304 or a held long poll of a known job costs Redis nothing.

The rules that keep it exact (``RedisStore`` drives them):

- **live only while subscribed.** The cache answers only while the store's subscription is
  confirmed (``go_live()``); while it is down, every read goes to Redis and nothing is kept.
  When the subscription drops, ``drop()`` forgets every entry at once (updates published while
  it was down were missed) and bumps the generation, so a read in flight is not kept either.
- **subscribe before the first read.** An entry is created, then ``prepare`` runs (Redis
  Cluster: the job's shard channel is subscribed and confirmed), then the record is read; an
  update published after the subscription is either in that read or arrives as a message, and
  the newer of the two (by ``(epoch, version)``) is kept.
- **one read per job.** Readers that arrive while an entry loads wait for that load (single
  flight); if it fails they get the same error, without a second read.
- **newer only.** A message older than the entry (by ``(epoch, version)``) is ignored.
- **expires with the key.** An entry lives until its record's write time plus the progress TTL
  (less a margin for clock skew), and never longer than a TTL from when it was learned; every
  update refreshes it. A job that does not exist is cached as such (its first update is
  published, so the entry stays exact) and lives until evicted.
- **bounded.** At most ``max_entries``; the least recently used go first, except jobs someone
  is waiting on (``pinned``: an open event stream or a held long poll) and loads in flight.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio

from .records import ProgressRecord, StoreUnavailable, newest

__all__ = ["DEFAULT_CACHE_SIZE", "SKEW_MARGIN", "JobCache"]

DEFAULT_CACHE_SIZE = 10_000
#: Seconds an entry gives up before its key's expiry: writers' and servers' clocks may differ.
SKEW_MARGIN = 5.0

Loader = Callable[[str], Awaitable[ProgressRecord | None]]


@dataclass
class _Entry:
    record: ProgressRecord | None = None
    deadline: float = math.inf
    loading: bool = True
    error: str | None = None
    done: anyio.Event = field(default_factory=anyio.Event)


class JobCache:
    """Records of the jobs this process serves. One event loop; see the module docstring.

    ``load`` reads a job from the store; ``prepare`` (optional) runs before the first read of
    a job; ``release`` (optional) is told when a job leaves the cache (not on ``drop()``);
    ``pinned`` says whether a job has readers waiting on it. ``clock`` is monotonic seconds,
    ``wall`` the Unix time (compared with a record's write time)."""

    def __init__(
        self,
        load: Loader,
        *,
        ttl: float,
        prepare: Callable[[str], Awaitable[None]] | None = None,
        release: Callable[[str], None] | None = None,
        pinned: Callable[[str], bool] = lambda job_id: False,
        max_entries: int = DEFAULT_CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._load = load
        self._ttl = ttl
        self._prepare = prepare
        self._release = release
        self._pinned = pinned
        self.max_entries = max_entries
        self._clock = clock
        self._wall = wall
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self.live = False
        self.generation = 0
        #: Reads answered from memory, and reads that went to the store.
        self.hits = 0
        self.loads = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._entries

    # -- the subscription's side ---------------------------------------------------------------

    def go_live(self) -> None:
        """The subscription is confirmed: from now on every update reaches ``apply()``."""
        self._entries.clear()
        self.live = True

    def drop(self) -> None:
        """The subscription dropped: forget everything, stop caching until ``go_live()``."""
        self.live = False
        self.generation += 1
        for entry in self._entries.values():
            if entry.loading:
                entry.done.set()  # its waiters read for themselves
        self._entries.clear()

    def apply(self, job_id: str, record: ProgressRecord) -> None:
        """An update arrived through the subscription; kept if the job is cached and the
        record is newer than the entry's."""
        entry = self._entries.get(job_id)
        if entry is None or not self.live:
            return
        if entry.record is None or record.order > entry.record.order:
            entry.record = record
            if not entry.loading:
                entry.deadline = self._deadline(record)

    # -- the readers' side ---------------------------------------------------------------------

    async def get(self, job_id: str) -> ProgressRecord | None:
        """The job's record: from memory when cached and live, else read once (concurrent
        readers of the same job share that read)."""
        if not self.live:
            self.loads += 1
            return await self._load(job_id)
        entry = self._entries.get(job_id)
        if entry is not None and entry.loading:
            await entry.done.wait()
            if entry.error is not None:
                raise StoreUnavailable(entry.error)
            if self._entries.get(job_id) is not entry:  # dropped meanwhile
                self.loads += 1
                return await self._load(job_id)
        if entry is not None and not entry.loading:
            if entry.deadline > self._clock():
                self._entries.move_to_end(job_id)
                self.hits += 1
                return entry.record
            del self._entries[job_id]
            entry = None
        return await self._fill(job_id)

    async def _fill(self, job_id: str) -> ProgressRecord | None:
        entry = _Entry()
        self._entries[job_id] = entry
        generation = self.generation
        self.loads += 1
        if self._prepare is not None:
            try:
                await self._prepare(job_id)
            except StoreUnavailable:
                # No subscription for this job: read it, keep nothing (waiters read too).
                if self._entries.get(job_id) is entry:
                    del self._entries[job_id]
                entry.done.set()
                return await self._load(job_id)
        try:
            record = await self._load(job_id)
        except BaseException as exc:
            if self._entries.get(job_id) is entry:
                del self._entries[job_id]
            if isinstance(exc, Exception):  # a failed read fails its waiters too
                entry.error = str(exc) if isinstance(exc, StoreUnavailable) else (
                    "store read failed")
            entry.done.set()  # a cancelled one lets them read for themselves
            raise
        if generation != self.generation or self._entries.get(job_id) is not entry:
            entry.done.set()
            return record  # read while the subscription was lost: true, but not kept
        entry.record = newest(record, entry.record)
        entry.deadline = self._deadline(entry.record)
        entry.loading = False
        entry.done.set()
        self._evict()
        return entry.record

    def _deadline(self, record: ProgressRecord | None) -> float:
        now = self._clock()
        if record is None:
            return math.inf
        if record.at <= 0:
            return now  # no write time: not kept
        left = record.at / 1000 + self._ttl - self._wall()
        return now + min(self._ttl, left) - SKEW_MARGIN

    def _evict(self) -> None:
        budget = len(self._entries)
        while len(self._entries) > self.max_entries and budget > 0:
            budget -= 1
            job_id, entry = next(iter(self._entries.items()))
            if entry.loading or self._pinned(job_id):
                self._entries.move_to_end(job_id)
                continue
            del self._entries[job_id]
            if self._release is not None:
                self._release(job_id)
