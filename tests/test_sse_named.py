"""Named SSE events: a stream's events are status documents by what their data is, not by their
name. ``event: progress`` / ``event: status`` streams cost one request, with heartbeats and
comments between the events or not, on the CLI, the sync client and the async client on asyncio
and trio (a real SSE server on 127.0.0.1); heartbeats never count as a connection that brought
an event; ``event_types=`` (``--event-type``) restricts the names when a server mixes streams."""

from __future__ import annotations

import json

import pytest

from progress_client import AsyncProgressClient, FixedPolicy, ProgressClient
from progress_client.cli import main
from progress_client.core.actions import FellBack, ReadStream, Request, Sleep
from progress_client.core.config import WaitConfig
from progress_client.core.engine import PollEngine
from tests.kit import JobServer
from tests.serving import fixture

FAST = FixedPolicy(0.05)
WORDS = ["queued", "running", "done"]
#: Between the status events: a comment and an ``event: ping`` whose data is no status.
CHATTY = {"heartbeat": 0.03}
#: After each status event: an event of another stream whose data reads like a status.
LOG = b'event: log\ndata: {"status": "compiling"}\n\n'


server = fixture(JobServer)


def _job(server: JobServer, name: str, event: str, chatty: bool, **options: object) -> None:
    server.job(name, [(0, "queued"), (0.2, "running"), (0.4, "done")], event_name=event,
               **(CHATTY if chatty else {}), **options)


# -- end to end: one request for a stream of named events ------------------------------------


@pytest.mark.e2e
@pytest.mark.parametrize("chatty", [False, True], ids=["plain", "heartbeats"])
@pytest.mark.parametrize("event", ["progress", "status"])
def test_cli_named_events_cost_one_request(
    server: JobServer, capsys: pytest.CaptureFixture[str], event: str, chatty: bool
) -> None:
    _job(server, "a", event, chatty)
    code = main(["wait", server.url("a"), "--events", server.events_url("a"), "--json",
                 "--timeout", "60"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and out["status"] == "done" and out["mode"] == "sse"
    assert out["requests"] == 1 and out["changes"] == 2
    assert len(server.requests("/jobs/a/events")) == 1
    assert server.requests("/jobs/a") == []  # not one poll


@pytest.mark.e2e
@pytest.mark.parametrize("chatty", [False, True], ids=["plain", "heartbeats"])
def test_sync_named_events_cost_one_request(server: JobServer, chatty: bool) -> None:
    _job(server, "b", "progress", chatty)
    with ProgressClient(policy=FAST) as client:
        updates = list(client.watch(server.url("b"), events_url=server.events_url("b"),
                                    timeout=60))
    assert [u.status.status for u in updates] == WORDS
    report = updates[-1].report
    assert report.requests == 1 and report.mode == "sse" and report.changes == 2
    assert len(server.requests("/jobs/b/events")) == 1 and server.requests("/jobs/b") == []


@pytest.mark.e2e
@pytest.mark.anyio
@pytest.mark.parametrize("chatty", [False, True], ids=["plain", "heartbeats"])
async def test_async_named_events_cost_one_request(server: JobServer, chatty: bool) -> None:
    _job(server, "c", "status", chatty)
    async with AsyncProgressClient(policy=FAST) as client:
        updates = [u async for u in client.watch(server.url("c"),
                                                 events_url=server.events_url("c"), timeout=60)]
    assert [u.status.status for u in updates] == WORDS
    report = updates[-1].report
    assert report.requests == 1 and report.mode == "sse" and report.changes == 2
    assert len(server.requests("/jobs/c/events")) == 1 and server.requests("/jobs/c") == []


# -- event_types: the names to read when a server mixes streams --------------------------------


@pytest.mark.e2e
def test_sync_event_types_restricts_the_names(server: JobServer) -> None:
    _job(server, "d", "status", True, noise=LOG)
    with ProgressClient(policy=FAST, event_types=["status"]) as client:
        updates = list(client.watch(server.url("d"), events_url=server.events_url("d"),
                                    timeout=60))
    assert [u.status.status for u in updates] == WORDS
    assert updates[-1].report.requests == 1
    # Without the restriction the data decides: the log's status-like event is read too.
    _job(server, "e", "status", False, noise=LOG)
    with ProgressClient(policy=FAST) as client:
        seen = [u.status.status for u in client.watch(
            server.url("e"), events_url=server.events_url("e"), timeout=60)]
    assert "compiling" in seen


@pytest.mark.e2e
@pytest.mark.anyio
async def test_async_event_types_restricts_the_names(server: JobServer) -> None:
    _job(server, "f", "progress", True, noise=LOG)
    async with AsyncProgressClient(policy=FAST, event_types="progress") as client:
        updates = [u async for u in client.watch(server.url("f"),
                                                 events_url=server.events_url("f"), timeout=60)]
    assert [u.status.status for u in updates] == WORDS
    assert updates[-1].report.requests == 1


@pytest.mark.e2e
def test_cli_event_type_flag_restricts_the_names(
    server: JobServer, capsys: pytest.CaptureFixture[str]
) -> None:
    _job(server, "g", "status", False, noise=LOG)
    code = main(["wait", server.url("g"), "--events", server.events_url("g"), "--json",
                 "--timeout", "60", "--event-type", "status", "--event-type", "progress"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and out["status"] == "done" and out["requests"] == 1
    assert out["changes"] == 2  # queued -> running -> done; the log's "compiling" unread


# -- the engine: a heartbeat is no sign of life -----------------------------------------------


def _open(engine: PollEngine, now: float) -> None:
    action = engine.next_action(now)
    assert isinstance(action, Request) and action.purpose == "stream"
    engine.receive_response(now, 200, {"Content-Type": "text/event-stream"})
    assert isinstance(engine.next_action(now), ReadStream)


@pytest.mark.parametrize("chatter", [
    b": keep-alive\n\n",
    b'event: ping\ndata: {"type": "ping"}\n\n',
    b"event: ping\ndata: ping\n\n",
    b'data: {"no": "status"}\n\n',
])
def test_connections_bringing_only_heartbeats_fall_back(chatter: bytes) -> None:
    engine = PollEngine(WaitConfig(sse_max_failures=3), url="http://h/j",
                        events_url="http://h/j/events")
    now, delays = 0.0, []
    for _ in range(2):
        _open(engine, now)
        for _ in range(5):
            engine.receive_data(now, chatter)
        engine.receive_end(now)
        action = engine.next_action(now)
        assert isinstance(action, Sleep)
        delays.append(action.until - now)
        now = action.until
    assert delays == [2.0, 4.0]  # backing off: neither connection brought a status
    _open(engine, now)
    engine.receive_data(now, chatter)
    engine.receive_end(now)
    assert any(isinstance(e, FellBack) for e in engine.take_events())
    action = engine.next_action(now)
    assert isinstance(action, Request) and action.purpose == "poll"
    assert engine.report().requests == 4


def test_a_status_resets_the_failures_and_event_types_filters() -> None:
    engine = PollEngine(WaitConfig(event_types=frozenset({"status"})), url="http://h/j",
                        events_url="http://h/j/events")
    _open(engine, 0.0)
    engine.receive_data(0.0, b'event: log\ndata: {"status": "compiling"}\n\n')
    assert engine.last_status is None  # another stream's event: not read
    engine.receive_data(0.0, b'event: status\ndata: {"status": "running"}\n\n')
    assert engine.last_status is not None and engine.last_status.status == "running"
    engine.receive_end(0.0)
    action = engine.next_action(0.0)
    assert isinstance(action, Sleep) and action.until == 1.0  # the plain retry: no failure


def test_event_types_option() -> None:
    assert WaitConfig(event_types=frozenset()).event_types is None
    with ProgressClient(event_types="progress") as client:
        assert client.config.event_types == frozenset({"progress"})
    with pytest.raises(ValueError, match="event_types"):
        WaitConfig(event_types=frozenset({""}))
