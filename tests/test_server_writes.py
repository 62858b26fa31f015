"""``PUT /jobs/{id}``: the worker write API of the reference server. Auth (bearer token,
constant-time, 401; 405 without one), body validation (400/413/422 that name fields, never
values), the same store path as the Python worker API (sanitized errors, TTLs, checkpoint,
metadata PII refusal), and readers told at once (an event stream and a held long poll over
real HTTP)."""

from __future__ import annotations

import json

import anyio
import httpx
import pytest

from progress_client.server import (
    CHECKPOINT_TTL,
    METADATA_TTL,
    PROGRESS_TTL,
    MemoryStore,
    create_app,
    serve_in_thread,
)
from progress_client.server.worker_auth import bearer_token, check_token
from progress_client.server.writes import MAX_BODY

TOKEN = "test-worker-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _asgi(store: MemoryStore, token: str | None = TOKEN) -> httpx.AsyncClient:
    app = create_app(store, worker_token=token)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://app")


def test_token_rules() -> None:
    assert check_token(TOKEN) == TOKEN
    for bad in ("short", "x" * 513, "has a space in it, long enough"):
        with pytest.raises(ValueError) as info:
            check_token(bad)
        assert bad not in str(info.value)
    with pytest.raises(ValueError):
        create_app(MemoryStore(), worker_token="short")
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer   abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer") is None
    assert bearer_token(None) is None


@pytest.mark.anyio
async def test_put_writes_through_the_store() -> None:
    clock = [1000.0]
    store = MemoryStore(clock=lambda: clock[0])
    async with _asgi(store) as http:
        first = await http.put("/jobs/42", headers=AUTH, json={
            "status": "running", "step": "render", "progress": 40, "completed_step": "upload",
            "owner": "5f0d2a9e-owner", "metadata": {"model": "v2", "duration": 30}})
        assert first.status_code == 201
        assert first.headers["cache-control"] == "no-store"
        assert first.json()["status"] == "running"
        assert "5f0d2a9e-owner" not in first.text
        again = await http.put("/jobs/42", headers=AUTH,
                               json={"status": "failed", "error": "boom at /home/alice/x.py"})
        assert again.status_code == 200
        read = await http.get("/jobs/42")
        assert read.headers["etag"] == again.headers["etag"]
        doc = read.json()
    # PUT replaces the document (step and progress not sent: null); the error is sanitized.
    assert (doc["status"], doc["step"], doc["progress"]) == ("failed", None, None)
    assert "alice" not in doc["error"] and "boom" in doc["error"]
    stored = await store.get("42")
    assert stored is not None and stored.version == 2 and stored.owner == "5f0d2a9e-owner"
    checkpoint = await store.get_checkpoint("42")
    assert checkpoint is not None and checkpoint.completed == {"upload"}
    meta = await store.get_metadata("42")
    assert meta is not None and meta.model == "v2"
    # The same TTLs as the Python worker API.
    ttls = store.ttls()
    assert ttls[store.progress_key("42")] == PROGRESS_TTL
    assert ttls[store.checkpoint_key("42")] == CHECKPOINT_TTL
    assert ttls[store.metadata_key("42")] == METADATA_TTL


@pytest.mark.anyio
async def test_auth_refusals() -> None:
    store = MemoryStore()
    body = {"status": "running"}
    async with _asgi(store) as http:
        none = await http.put("/jobs/1", json=body)
        assert none.status_code == 401 and none.json()["error"] == "missing_token"
        assert none.headers["www-authenticate"].startswith("Bearer")
        wrong = await http.put("/jobs/1", json=body,
                               headers={"Authorization": "Bearer not-the-token-at-all"})
        assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_token"
        assert "not-the-token" not in wrong.text and TOKEN not in wrong.text
        basic = await http.put("/jobs/1", json=body, headers={"Authorization": f"Basic {TOKEN}"})
        assert basic.status_code == 401
        latin = "Bearer t\xe9l\xe9phone-long-enough".encode("latin-1")
        odd = await http.put("/jobs/1", json=body, headers={"Authorization": latin})
        assert odd.status_code == 401
    async with _asgi(store, token=None) as http:
        off = await http.put("/jobs/1", json=body, headers=AUTH)
        assert off.status_code == 405 and off.json()["error"] == "writes_disabled"
        assert off.headers["allow"] == "GET, HEAD"
        assert "--worker-token" in off.json()["detail"]
    assert await store.get("1") is None


@pytest.mark.anyio
async def test_bodies_refused_with_clear_messages() -> None:
    store = MemoryStore()
    async with _asgi(store) as http:
        async def put(content: bytes) -> httpx.Response:
            return await http.put("/jobs/7", headers=AUTH, content=content)

        r = await put(b"{not json")
        assert (r.status_code, r.json()["error"]) == (400, "invalid_json")
        r = await put(b"[1, 2]")
        assert (r.status_code, r.json()["error"]) == (400, "invalid_body")
        r = await put(json.dumps({"progress": 40}).encode())
        assert r.status_code == 422 and "status is required" in r.json()["detail"]
        r = await put(json.dumps({"status": "running", "progress": 140}).encode())
        assert r.status_code == 422 and "progress" in r.json()["detail"]
        r = await put(json.dumps({"status": "running", "progress": "40"}).encode())
        assert r.status_code == 422 and "progress" in r.json()["detail"]
        r = await put(json.dumps({"status": "running", "colour": "red"}).encode())
        assert r.status_code == 422 and "unknown field 'colour'" in r.json()["detail"]
        assert "red" not in r.json()["detail"]
        r = await put(json.dumps({"status": " "}).encode())
        assert r.status_code == 422 and "status" in r.json()["detail"]
        r = await put(json.dumps({"status": "x", "owner": "alice@example.com"}).encode())
        assert r.status_code == 422 and "alice" not in r.text
        r = await put(b'{"status": "running", "error": "' + b"x" * MAX_BODY + b'"}')
        assert r.status_code == 413
        # Personal data in metadata: refused by field name, the value never echoed.
        r = await put(json.dumps({"status": "running",
                                  "metadata": {"format": "bob@example.com"}}).encode())
        assert r.status_code == 422
        assert r.json()["error"] == "pii_refused" and r.json()["field"] == "format"
        assert "bob" not in r.text
        r = await put(json.dumps({"status": "running", "metadata": {"email": "x"}}).encode())
        assert r.status_code == 422 and r.json()["field"] == "email"
        r = await put(json.dumps({"status": "running", "metadata": {"fps": 9999}}).encode())
        assert r.status_code == 422 and r.json()["error"] == "invalid_metadata"
        r = await http.put("/jobs/bad id!", headers=AUTH, json={"status": "running"})
        assert r.status_code == 422 and "job_id" in r.json()["detail"]
        r = await http.patch("/jobs/7", headers=AUTH, json={"status": "running"})
        assert r.status_code == 405 and "PUT" in r.headers["allow"]
    # Nothing was written by any refused request.
    assert await store.get("7") is None and await store.get_metadata("7") is None


@pytest.mark.e2e
def test_a_put_reaches_a_stream_and_a_held_poll_at_once() -> None:
    store = MemoryStore()
    with serve_in_thread(create_app(store, worker_token=TOKEN)) as server:
        base = server.url

        async def scenario() -> None:
            async with httpx.AsyncClient(base_url=base, timeout=10) as http:
                r = await http.put("/jobs/9", headers=AUTH, json={"status": "queued"})
                tag = r.headers["etag"]
                results: dict[str, object] = {}

                async def hold() -> None:
                    got = await http.get("/jobs/9", headers={"If-None-Match": tag,
                                                             "Prefer": "wait=20"})
                    results["poll"] = (got.status_code, got.json()["status"])

                async def stream() -> None:
                    async with http.stream("GET", "/jobs/9/events") as s:
                        seen = []
                        async for line in s.aiter_lines():
                            if line.startswith("data:"):
                                seen.append(json.loads(line[5:])["status"])
                            if len(seen) == 2:
                                break
                        results["stream"] = seen

                with anyio.fail_after(5):  # the hold is 20 s: only the write ends it
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(hold)
                        tg.start_soon(stream)
                        while store.readers < 2:
                            await anyio.sleep(0.01)
                        w = await http.put("/jobs/9", headers=AUTH, json={"status": "running"})
                        assert w.status_code == 200
                assert results == {"poll": (200, "running"), "stream": ["queued", "running"]}

        anyio.run(scenario)


@pytest.mark.anyio
async def test_closing_ends_held_subscriptions_at_once() -> None:
    from progress_client.server.shutdown import Closing

    store = MemoryStore()
    closing = Closing()
    held = closing.watch(store.subscribe("a"))
    got: list[object] = []

    async def receive() -> None:
        got.append(await held.receive(3600))  # only close() can end this in time

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(receive)
            await anyio.wait_all_tasks_blocked()
            closing.close()
    assert got == [None] and held.ended
    late = closing.watch(store.subscribe("a"))  # a request that arrives while closing
    assert late.ended and await late.receive(3600) is None
    closing.reopen()
    assert not closing.watch(store.subscribe("b")).ended
