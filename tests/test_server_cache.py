"""The status server's job cache (``server/cache.py``) on its own: one read per job however
many readers, updates newer only, nothing kept while the subscription is down or across a drop,
expiry with the key's TTL, LRU bound with pinned jobs kept. Fake clocks; no sleeping."""

from __future__ import annotations

import anyio
import pytest

from progress_client.server import ProgressRecord, StoreUnavailable
from progress_client.server.cache import SKEW_MARGIN, JobCache

pytestmark = pytest.mark.anyio

TTL = 100.0


def rec(status: str, version: int, epoch: int = 1, at: int = 0) -> ProgressRecord:
    return ProgressRecord(status=status, updated_at="2026-01-01T00:00:00.000Z",
                          version=version, epoch=epoch, at=at)


class Backend:
    """What Redis holds, and how often it was read; ``gate`` holds reads until set."""

    def __init__(self) -> None:
        self.records: dict[str, ProgressRecord | None] = {}
        self.reads = 0
        self.gate: anyio.Event | None = None
        self.fail = False
        self.now = 1000.0  # monotonic seconds
        self.wall = 1_800_000_000.0  # Unix seconds

    async def load(self, job_id: str) -> ProgressRecord | None:
        self.reads += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise StoreUnavailable("Redis unreachable during read (ConnectionError)")
        return self.records.get(job_id)

    def fresh(self, status: str, version: int, epoch: int = 1) -> ProgressRecord:
        """A record written just now (by the wall clock)."""
        return rec(status, version, epoch, at=int(self.wall * 1000))

    def cache(self, **kw: object) -> JobCache:
        cache = JobCache(self.load, ttl=TTL, clock=lambda: self.now, wall=lambda: self.wall,
                         **kw)  # type: ignore[arg-type]
        cache.go_live()
        return cache


async def test_not_live_reads_every_time_and_keeps_nothing() -> None:
    b = Backend()
    b.records["j"] = b.fresh("running", 1)
    cache = JobCache(b.load, ttl=TTL)
    for _ in range(3):
        assert (await cache.get("j")) == b.records["j"]
    assert b.reads == 3 and len(cache) == 0


async def test_one_read_then_memory_and_updates_keep_it_exact() -> None:
    b = Backend()
    b.records["j"] = b.fresh("running", 1)
    cache = b.cache()
    for _ in range(10):
        got = await cache.get("j")
        assert got is not None and got.status == "running"
    assert (b.reads, cache.loads, cache.hits) == (1, 1, 9)
    cache.apply("j", b.fresh("rendering", 2))
    got = await cache.get("j")
    assert got is not None and (got.status, got.version) == ("rendering", 2)
    # An older message (a late duplicate) is ignored; a newer epoch wins over a higher version.
    cache.apply("j", b.fresh("running", 1))
    assert (await cache.get("j")).version == 2  # type: ignore[union-attr]
    cache.apply("j", b.fresh("queued", 1, epoch=2))
    assert (await cache.get("j")).status == "queued"  # type: ignore[union-attr]
    # Messages for jobs nobody read are not kept.
    cache.apply("other", b.fresh("running", 5))
    assert "other" not in cache
    assert b.reads == 1


async def test_simultaneous_first_reads_are_one_read() -> None:
    b = Backend()
    b.records["j"] = b.fresh("running", 3)
    b.gate = anyio.Event()
    cache = b.cache()
    got: list[ProgressRecord | None] = []

    async def reader() -> None:
        got.append(await cache.get("j"))

    async with anyio.create_task_group() as tg:
        for _ in range(50):
            tg.start_soon(reader)
        await anyio.wait_all_tasks_blocked()
        b.gate.set()
    assert b.reads == 1 and len(got) == 50 and all(r == b.records["j"] for r in got)


async def test_a_failed_read_fails_every_waiter_once_and_is_not_kept() -> None:
    b = Backend()
    b.gate, b.fail = anyio.Event(), True
    cache = b.cache()
    errors: list[str] = []

    async def reader() -> None:
        try:
            await cache.get("j")
        except StoreUnavailable as exc:
            errors.append(str(exc))

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(reader)
        await anyio.wait_all_tasks_blocked()
        b.gate.set()
    assert b.reads == 1 and len(errors) == 5 and "j" not in cache
    b.fail, b.gate = False, None
    b.records["j"] = b.fresh("running", 1)
    assert (await cache.get("j")) == b.records["j"]


async def test_an_update_during_the_first_read_is_not_lost() -> None:
    b = Backend()
    b.records["j"] = b.fresh("running", 1)
    b.gate = anyio.Event()
    cache = b.cache()
    result: list[ProgressRecord | None] = []

    async def reader() -> None:
        result.append(await cache.get("j"))

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        await anyio.wait_all_tasks_blocked()
        # Published after the subscription, before the read returned an older state.
        cache.apply("j", b.fresh("rendering", 2))
        b.gate.set()
    assert result[0] is not None and result[0].version == 2
    assert (await cache.get("j")).version == 2  # type: ignore[union-attr]


async def test_a_drop_forgets_everything_and_a_read_in_flight_is_not_kept() -> None:
    b = Backend()
    b.records["a"] = b.fresh("running", 1)
    b.records["b"] = b.fresh("running", 1)
    cache = b.cache()
    await cache.get("a")
    b.gate = anyio.Event()
    result: list[ProgressRecord | None] = []

    async def reader() -> None:
        result.append(await cache.get("b"))

    async with anyio.create_task_group() as tg:
        tg.start_soon(reader)
        await anyio.wait_all_tasks_blocked()
        cache.drop()  # the subscription dropped while "b" was being read
        assert not cache.live and len(cache) == 0
        cache.apply("a", b.fresh("rendering", 2))  # nothing is kept while down
        b.gate.set()
    assert result[0] == b.records["b"]
    assert len(cache) == 0
    b.gate = None
    # Down: every read goes to the store.
    reads = b.reads
    await cache.get("a")
    await cache.get("a")
    assert b.reads == reads + 2
    cache.go_live()
    await cache.get("a")
    await cache.get("a")
    assert b.reads == reads + 3


async def test_an_entry_expires_with_its_key() -> None:
    b = Backend()
    b.records["j"] = b.fresh("running", 1)
    cache = b.cache()
    await cache.get("j")
    b.now += TTL - SKEW_MARGIN - 1
    b.wall += TTL - SKEW_MARGIN - 1
    await cache.get("j")
    assert b.reads == 1
    b.now += 2
    b.wall += 2
    b.records["j"] = None  # Redis expired the key
    assert await cache.get("j") is None
    assert b.reads == 2
    # A record written long ago (the worker has been quiet) lives only what is left of its TTL.
    b.records["old"] = rec("running", 4, at=int((b.wall - TTL + 10) * 1000))
    await cache.get("old")
    b.now += 6
    await cache.get("old")
    assert b.reads == 4
    # No write time: never kept.
    b.records["legacy"] = rec("running", 1, at=0)
    await cache.get("legacy")
    await cache.get("legacy")
    assert b.reads == 6


async def test_an_unknown_job_is_cached_until_its_first_update() -> None:
    b = Backend()
    cache = b.cache()
    assert await cache.get("j") is None
    assert await cache.get("j") is None
    assert b.reads == 1
    cache.apply("j", b.fresh("queued", 1))
    assert (await cache.get("j")).status == "queued"  # type: ignore[union-attr]
    assert b.reads == 1


async def test_lru_bound_keeps_pinned_jobs_and_releases_the_rest() -> None:
    b = Backend()
    for name in "abcd":
        b.records[name] = b.fresh("running", 1)
    released: list[str] = []
    cache = b.cache(max_entries=2, release=released.append, pinned=lambda job: job == "a")
    for name in "abcd":
        await cache.get(name)
    assert "a" in cache and "d" in cache and len(cache) == 2
    assert released == ["b", "c"]
    with pytest.raises(ValueError):
        JobCache(b.load, ttl=TTL, max_entries=0)


async def test_a_job_that_cannot_be_subscribed_is_read_but_not_kept() -> None:
    b = Backend()
    b.records["j"] = b.fresh("running", 1)

    async def prepare(job_id: str) -> None:
        raise StoreUnavailable("Redis Cluster: cannot subscribe (ConnectionError)")

    cache = b.cache(prepare=prepare)
    assert (await cache.get("j")) == b.records["j"]
    assert (await cache.get("j")) == b.records["j"]
    assert b.reads == 2 and "j" not in cache
