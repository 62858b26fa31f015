"""What an event stream and a held long poll do when the store says updates may have been
missed (``Subscription.resync()``: its Redis subscription dropped and came back): they read the
job again and go on from what the store holds, even when its versions started again at 1.
Deterministic: the memory store's updates are made silently, then the resync is sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest

from progress_client.server import (
    MemoryStore,
    ProgressRecord,
    RunningServer,
    create_app,
    serve_in_thread,
)


@pytest.fixture
def served() -> Iterator[tuple[RunningServer, MemoryStore]]:
    store = MemoryStore()
    with serve_in_thread(create_app(store, keepalive=0.2)) as server:
        yield server, store


def _events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    event: dict[str, Any] = {}
    for line in lines:
        if line.startswith("id: "):
            event["id"] = int(line[4:])
        elif line.startswith("data: "):
            event["data"] = json.loads(line[6:])
        elif line == "" and "data" in event:
            yield event
            event = {}


def test_a_resync_delivers_missed_updates_even_with_restarted_versions(
    served: tuple[RunningServer, MemoryStore],
) -> None:
    server, store = served

    async def update(status: str, progress: int) -> ProgressRecord:
        return await store.update("job", status=status, progress=progress)

    async def silently(empty_first: bool, status: str, progress: int) -> ProgressRecord:
        """An update nobody hears of (published while the subscription was down); with
        ``empty_first`` the store lost everything before it (Redis came back empty)."""
        if empty_first:
            store._data.clear()
        deliver = store._deliver
        store._deliver = lambda job_id, record: None  # type: ignore[method-assign]
        try:
            return await store.update("job", status=status, progress=progress)
        finally:
            store._deliver = deliver  # type: ignore[method-assign]

    async def resync() -> None:
        await anyio.sleep(0.05)
        store._resync_all()

    server.call(update, "running", 10)
    server.call(update, "running", 20)
    base = f"{server.url}/jobs/job"
    with httpx.Client(timeout=10) as http:
        tag = http.get(base).headers["etag"]
        with http.stream("GET", f"{base}/events") as stream:
            events = _events(stream.iter_lines())
            assert next(events)["id"] == 2

            # Missed, same epoch, newer version: the resync delivers it.
            server.call(silently, False, "running", 30)
            server.call(resync)
            got = next(events)
            assert (got["id"], got["data"]["progress"]) == (3, 30)

            # Redis came back empty: the job starts again at version 1 (a new epoch).
            restarted = server.call(silently, True, "rendering", 60)
            assert restarted.version == 1
            server.call(resync)
            got = next(events)
            assert (got["id"], got["data"]["status"]) == (1, "rendering")

            # Later updates of the new epoch are delivered (2 is not "at or below 3").
            server.call(update, "completed", 100)
            got = next(events)
            assert (got["id"], got["data"]["status"]) == (2, "completed")

        # A held long poll wakes on a resync, reads again, and answers the change.
        server.call(silently, True, "running", 5)
        current = http.get(base)
        holder: list[httpx.Response] = []

        def hold() -> None:
            holder.append(http.get(base, headers={
                "Prefer": "wait=10", "If-None-Match": current.headers["etag"]}))

        thread = threading.Thread(target=hold)
        thread.start()
        anyio.run(anyio.sleep, 0.3)
        assert not holder
        server.call(silently, True, "running", 6)
        server.call(resync)
        thread.join(5)
        assert holder and holder[0].status_code == 200
        assert holder[0].json()["progress"] == 6
        assert holder[0].headers["etag"] not in (tag, current.headers["etag"])


def test_a_resync_while_the_job_is_gone_keeps_the_stream_waiting(
    served: tuple[RunningServer, MemoryStore],
) -> None:
    server, store = served

    async def write(status: str) -> None:
        await store.update("job", status=status)

    async def lose_everything_and_resync() -> None:
        store._data.clear()
        store._resync_all()

    server.call(write, "running")
    with httpx.Client(timeout=10) as http, \
            http.stream("GET", f"{server.url}/jobs/job/events") as stream:
        events = _events(stream.iter_lines())
        assert next(events)["data"]["status"] == "running"
        server.call(lose_everything_and_resync)
        # Nothing to send (the job is gone until its worker writes again): keep-alives only.
        server.call(write, "completed")
        got = next(events)
        assert (got["id"], got["data"]["status"]) == (1, "completed")
