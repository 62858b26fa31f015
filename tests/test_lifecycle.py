"""A job's life in the engine, read with the built-in profiles: what a start response counts
for, where a cancel goes on a plain wait, what the report counts once a result is fetched, a
result the last poll already holds, and ``output=`` for a result that came in hand.

Sans-IO for the engine (a conversation of actions and feeds, no clock, no network); the
drivers through httpx's ``MockTransport`` (no network, no real sleep)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from progress_client import (
    AsyncProgressClient,
    FixedPolicy,
    ProgressClient,
    RequestFailed,
    WaitConfig,
)
from progress_client.core.lifecycle import Job
from progress_client.engine import PollEngine, Request, Sleep, Stop
from progress_client.profiles.lifecycle import ProfileLifecycle
from progress_client.profiles.profile import compile_profile, load_profile

BASE = "http://vendor.test"


def engine(profile: str, *, start: str | None = None, url: str | None = None) -> PollEngine:
    loaded = load_profile(profile)
    config = WaitConfig(policy=FixedPolicy(1.0), reader=compile_profile(loaded))
    lifecycle = ProfileLifecycle(loaded)
    if start is None:
        return PollEngine(config, url=url, lifecycle=lifecycle)
    return PollEngine(config, job=Job("POST", start, lifecycle, {}, b"{}"))


def send(e: PollEngine, now: float = 0.0) -> Request:
    action = e.next_action(now)
    assert isinstance(action, Request), action
    return action


def feed(e: PollEngine, code: int, body: Any = None, headers: dict[str, str] | None = None,
         now: float = 0.0, raw: bytes | None = None) -> None:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    hdrs = {"Content-Type": "application/json", **(headers or {})} if body is not None else (
        headers or {})
    e.receive_response(now, code, hdrs, data, wall=0.0)


def test_a_start_answer_is_a_status_only_where_the_profile_says() -> None:
    # Stability starts with 200 {"id"}; its rules read a 200 as done. The start answer is
    # not a status there: the first poll is.
    e = engine("stability", start=f"{BASE}/v2beta/image-to-video")
    assert send(e).purpose == "start"
    feed(e, 200, {"id": "abc"})
    poll = send(e)
    assert poll.purpose == "poll" and poll.url == f"{BASE}/v2beta/image-to-video/result/abc"
    assert not e.take_events()
    # Replicate's start answer is a prediction (status_in_body): it is the first status.
    e = engine("replicate", start=f"{BASE}/v1/predictions")
    send(e)
    url = f"{BASE}/v1/predictions/p1"
    feed(e, 201, {"id": "p1", "status": "starting", "urls": {"get": url}})
    [update] = e.take_events()
    assert update.status.status == "starting"  # type: ignore[union-attr]
    assert isinstance(e.next_action(0.0), Sleep)


def test_a_start_hint_past_the_deadline_ends_the_wait_at_once() -> None:
    # Azure's 202 + Operation-Location + Retry-After: 60, with 10 s left: no sleep to the
    # deadline, a timeout that says when to come back, with a token for the status URL.
    e = engine("azure", start=f"{BASE}/documents:analyze")
    send(e)
    feed(e, 202, None, {"Operation-Location": f"{BASE}/operations/o1", "Retry-After": "60"})
    stop = e.next_action(0.0, 10.0)
    assert isinstance(stop, Stop) and stop.outcome == "timeout"
    assert stop.error is not None
    assert "asked to be polled again in 60s, after the deadline" in stop.error.message
    token = getattr(stop.error, "resume_token", None)
    assert token is not None and json.loads(token)["url"] == f"{BASE}/operations/o1"
    # Within the deadline it is honoured: the first poll waits for it.
    e = engine("azure", start=f"{BASE}/documents:analyze")
    send(e)
    feed(e, 202, None, {"Operation-Location": f"{BASE}/operations/o2", "Retry-After": "3"})
    assert e.next_action(0.0, 10.0) == Sleep(3.0)
    assert e.report().hint_waits == 1


def test_a_plain_wait_cancels_where_its_last_status_says() -> None:
    # No start response: fal's cancel URL is found from the status URL and its document.
    url = f"{BASE}/fal-ai/fast-sdxl/requests/r1/status"
    e = engine("fal", url=url)
    send(e)
    feed(e, 200, {"status": "IN_PROGRESS", "logs": []})
    assert e.cancel(0.5) and e.report().requests == 1  # asked for, not yet counted
    cancel = e.next_action(0.5)
    assert isinstance(cancel, Request) and cancel.purpose == "cancel"
    assert (cancel.method, cancel.url) == ("PUT", f"{BASE}/fal-ai/fast-sdxl/requests/r1/cancel")
    feed(e, 202, {"status": "CANCELLATION_REQUESTED"}, now=0.6)
    assert e.cancelled_remote is True
    assert e.report().requests == 2
    assert e.cancel(0.7) is False  # once
    # Celery's revoke URL needs the task id from the document.
    e = engine("celery-flower", url=f"{BASE}/api/task/result/t-1")
    send(e)
    feed(e, 200, {"task-id": "t-1", "state": "STARTED", "result": None})
    assert e.cancel(0.5)
    cancel = e.next_action(0.5)
    assert isinstance(cancel, Request)
    assert cancel.url == f"{BASE}/api/task/revoke/t-1?terminate=true"


def test_the_result_request_is_in_the_report() -> None:
    e = engine("fal", start=f"{BASE}/fal-ai/fast-sdxl")
    send(e)
    root = f"{BASE}/fal-ai/fast-sdxl/requests/r2"
    feed(e, 200, {"request_id": "r2", "status_url": f"{root}/status", "response_url": root})
    assert send(e).purpose == "poll"
    feed(e, 200, {"status": "COMPLETED", "response_url": root})
    fetch = send(e)
    assert (fetch.purpose, fetch.url) == ("result", root)
    e.receive_response(2.0, 200, {"Content-Type": "application/json"}, b"", wall=0.0,
                       result={"images": []})
    stop = e.next_action(2.0)
    assert isinstance(stop, Stop) and stop.outcome == "succeeded"
    assert stop.result == {"images": []}
    assert stop.report.requests == 3 and stop.report.elapsed == 2.0


def test_a_result_the_last_poll_holds_is_not_fetched_again() -> None:
    # Azure's Location polling: 202 while it runs, then 200 with the resource, at the URL
    # polled. That answer is the result; no second GET.
    e = engine("azure", start=f"{BASE}/vms/vm1/restart")
    send(e)
    feed(e, 202, None, {"Location": "/vms/vm1/ops/o1"})
    poll = send(e)
    assert poll.url == f"{BASE}/vms/vm1/ops/o1"
    feed(e, 202, None, {"Location": "/vms/vm1/ops/o1"}, now=1.0)
    assert isinstance(e.next_action(1.0), Sleep)
    send(e, 2.0)
    feed(e, 200, {"name": "vm1", "properties": {"powerState": "running"}}, now=2.0)
    stop = e.next_action(2.0)
    assert isinstance(stop, Stop) and stop.outcome == "succeeded"
    assert stop.result == {"name": "vm1", "properties": {"powerState": "running"}}
    assert stop.report.requests == 3


def _stability(request: httpx.Request) -> httpx.Response:
    if request.method == "POST":
        return httpx.Response(200, json={"id": "v1"})
    return httpx.Response(200, content=b"\x00\x01mp4", headers={"Content-Type": "video/mp4"})


def _replicate(request: httpx.Request) -> httpx.Response:
    url = f"{BASE}/v1/predictions/p9"
    doc = {"id": "p9", "status": "succeeded", "output": ["a.png"], "urls": {"get": url}}
    return httpx.Response(201 if request.method == "POST" else 200, json=doc)


@pytest.mark.parametrize(("profile", "handler", "written"), [
    ("stability", _stability, b"\x00\x01mp4"),  # the final poll's own body
    ("replicate", _replicate, b'["a.png"]'),     # a part of the final document
])
def test_output_gets_a_result_that_came_in_hand(
    tmp_path: Path, profile: str, handler: Any, written: bytes
) -> None:
    out = tmp_path / "result.bin"
    http = httpx.Client(transport=httpx.MockTransport(handler))
    with ProgressClient(client=http, policy=FixedPolicy(0.0), allow_fast_polling=True) as client:
        result = client.run(f"{BASE}/start", profile=profile, output=out)
    assert result.result == out and out.read_bytes() == written
    assert not (tmp_path / "result.bin.part").exists()


@pytest.mark.anyio
async def test_output_gets_a_result_that_came_in_hand_async(tmp_path: Path) -> None:
    out = tmp_path / "video.mp4"
    http = httpx.AsyncClient(transport=httpx.MockTransport(_stability))
    async with AsyncProgressClient(client=http, policy=FixedPolicy(0.0),
                                   allow_fast_polling=True) as client:
        result = await client.run(f"{BASE}/start", profile="stability", output=out)
    assert result.result == out and out.read_bytes() == b"\x00\x01mp4"


class _Fal:
    """fal's queue in a MockTransport: the start, a COMPLETED status, the result; counted."""

    def __init__(self) -> None:
        self.fetches = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        root = f"{BASE}/fal-ai/x/requests/r1"
        if request.method == "POST":
            return httpx.Response(200, json={"request_id": "r1", "status_url": f"{root}/status",
                                             "response_url": root})
        if request.url.path.endswith("/status"):
            return httpx.Response(200, json={"status": "COMPLETED", "response_url": root})
        self.fetches += 1
        return httpx.Response(200, json={"images": []})


@pytest.mark.parametrize("handler", [_Fal, lambda: _stability])
def test_an_output_that_cannot_be_written_ends_the_wait_once(
    tmp_path: Path, handler: Any
) -> None:
    # A result fetched to a file that cannot be written is not fetched again (10 times, as a
    # network error would be): one RequestFailed that says so. Nor is one that came in hand.
    transport = handler()
    out = tmp_path / "missing" / "result.json"
    http = httpx.Client(transport=httpx.MockTransport(transport))
    profile = "fal" if handler is _Fal else "stability"
    with ProgressClient(client=http, policy=FixedPolicy(0.0),
                        allow_fast_polling=True) as client, pytest.raises(
        RequestFailed
    ) as caught:
        client.run(f"{BASE}/start", profile=profile, output=out)
    assert "the result could not be written" in caught.value.message
    assert caught.value.report is not None
    if isinstance(transport, _Fal):
        assert transport.fetches == 1 and caught.value.report.requests == 3
    assert not out.parent.exists()


@pytest.mark.anyio
async def test_an_output_that_cannot_be_written_ends_the_wait_once_async(tmp_path: Path) -> None:
    fal = _Fal()
    http = httpx.AsyncClient(transport=httpx.MockTransport(fal))
    async with AsyncProgressClient(client=http, policy=FixedPolicy(0.0),
                                   allow_fast_polling=True) as client:
        with pytest.raises(RequestFailed) as caught:
            await client.run(f"{BASE}/start", profile="fal", output=tmp_path / "no" / "r.json")
    assert "the result could not be written" in caught.value.message and fal.fetches == 1
