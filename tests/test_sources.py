"""The engine's sources of statuses (``core.sources``): each module on its own, and the seam
itself, proved by a source the package does not ship (``tests/watch_source.py``, a
Kubernetes-style watch) driving whole waits on a virtual clock without an engine edit."""

from __future__ import annotations

import json
from typing import Any

import pytest

from progress_client import FellBack, FixedPolicy, Update, WaitConfig
from progress_client.core.actions import ReadStream, Request, Sleep, Stop
from progress_client.core.sources import POLL, initial, polling
from progress_client.core.sources.long_poll import LONG_POLL, LongPollSource
from progress_client.core.sources.poll import PollSource
from progress_client.core.sources.push import wake
from progress_client.core.sources.stream import StreamSource
from progress_client.engine import Phase, PollEngine
from tests.test_phases import Recorder
from tests.watch_source import REOPEN, WatchSource

BASE = "http://jobs.test"
JSON = {"Content-Type": "application/json"}
SSE = {"Content-Type": "text/event-stream"}


def _config(**kwargs: Any) -> WaitConfig:
    return WaitConfig(policy=FixedPolicy(2.0), **kwargs)


def _body(status: str) -> bytes:
    return json.dumps({"status": status}).encode()


def _request(engine: PollEngine, now: float = 0.0) -> Request:
    action = engine.next_action(now)
    assert isinstance(action, Request), action
    return action


# -- choosing ---------------------------------------------------------------------------------


def test_the_options_choose_the_source_a_wait_starts_with() -> None:
    assert initial(_config(), None) is POLL
    assert initial(_config(long_poll=10), None) is LONG_POLL
    assert polling(_config(long_poll=10)) is LONG_POLL
    stream = initial(_config(long_poll=10), f"{BASE}/j/events")
    assert isinstance(stream, StreamSource)
    assert stream.fallback is LONG_POLL and stream.url == f"{BASE}/j/events"
    assert isinstance(initial(_config(), f"{BASE}/e"), StreamSource)


def test_sources_keep_no_dict() -> None:
    # Thousands of waits at once: every source is slotted (the stateless ones are shared).
    for source in (POLL, LONG_POLL, StreamSource(_config(), f"{BASE}/e", POLL),
                   WatchSource(f"{BASE}/w", POLL)):
        assert not hasattr(source, "__dict__"), type(source).__name__


# -- poll.py ----------------------------------------------------------------------------------


def test_polling_asks_the_status_url_with_the_last_validators() -> None:
    engine = PollEngine(_config(), url=f"{BASE}/j")
    assert engine.phase is Phase.POLLING
    first = _request(engine)
    assert (first.purpose, first.method, first.url, first.headers) == (
        "poll", "GET", f"{BASE}/j", {})
    engine.receive_response(0.0, 200, {**JSON, "ETag": '"v1"'}, _body("running"))
    again = _request(engine, 2.0)
    assert again.headers == {"If-None-Match": '"v1"'}
    assert again.timeout == engine.config.request_timeout
    engine.receive_response(2.0, 304, {"ETag": '"v1"'})
    assert engine.report().not_modified == 1
    assert engine.phase is Phase.POLLING


def test_polling_never_gives_way() -> None:
    engine = PollEngine(_config(), url=f"{BASE}/j")
    _request(engine)
    assert POLL.answered(engine, {}) == "poll"
    assert engine._source is POLL
    assert POLL.open is False and isinstance(POLL, PollSource)


# -- long_poll.py -----------------------------------------------------------------------------


def test_long_polling_asks_to_be_held_while_the_server_holds() -> None:
    engine = PollEngine(_config(long_poll=25), url=f"{BASE}/j")
    assert engine.phase is Phase.LONG_POLLING
    poll = _request(engine)
    assert poll.headers["Prefer"] == "wait=25"
    assert poll.timeout == engine.config.request_timeout + 25
    engine.receive_response(30.0, 200, {**JSON, "Preference-Applied": "wait=25"},
                            _body("running"))
    assert engine.phase is Phase.LONG_POLLING
    assert _request(engine, 30.0).purpose == "poll"  # held: asked again at once


def test_long_polling_gives_way_to_polling_at_the_first_answer_not_held() -> None:
    engine = PollEngine(_config(long_poll=25), url=f"{BASE}/j")
    _request(engine)
    assert isinstance(engine._source, LongPollSource)
    assert LONG_POLL.answered(engine, {"preference-applied": "wait=25"}) == "long-poll"
    assert LONG_POLL.answered(engine, {}) == "poll"
    assert engine._source is POLL  # quietly: no FellBack
    engine.receive_response(0.5, 200, JSON, _body("running"))
    assert engine.phase is Phase.POLLING
    assert not any(isinstance(e, FellBack) for e in engine.take_events())
    assert isinstance(engine.next_action(0.5), Sleep)  # the policy's schedule rules
    assert "Prefer" not in _request(engine, 2.5).headers


# -- stream.py --------------------------------------------------------------------------------


def test_the_stream_asks_for_events_and_resumes_from_the_last_id() -> None:
    engine = PollEngine(_config(), url=f"{BASE}/j", events_url=f"{BASE}/j/events")
    assert engine.phase is Phase.STREAMING
    opening = _request(engine)
    assert (opening.purpose, opening.url) == ("stream", f"{BASE}/j/events")
    assert opening.headers == {"Accept": "text/event-stream"}
    engine.receive_response(0.0, 200, SSE)
    assert isinstance(engine.next_action(0.0), ReadStream)
    engine.receive_data(0.1, b'retry: 500\nid: 7\ndata: {"status": "running"}\n\n')
    assert [type(e) for e in engine.take_events()] == [Update]
    engine.receive_end(0.2)  # the connection ended: reopened after the server's retry
    assert engine.next_action(0.2) == Sleep(0.7)
    again = _request(engine, 0.7)
    assert again.headers == {"Accept": "text/event-stream", "Last-Event-ID": "7"}


def test_the_stream_skips_heartbeats_and_other_names_when_told() -> None:
    config = _config(event_types=frozenset({"status"}))
    engine = PollEngine(config, url=f"{BASE}/j", events_url=f"{BASE}/j/events")
    _request(engine)
    engine.receive_response(0.0, 200, SSE)
    engine.receive_data(0.1, b': heartbeat\n\nevent: log\ndata: {"status": "done"}\n\n'
                        b'event: status\ndata: not json\n\n')
    assert engine.take_events() == [] and engine.report().requests == 1
    engine.receive_data(0.2, b'event: status\ndata: {"status": "done"}\n\n')
    stop = engine.next_action(0.2)
    assert isinstance(stop, Stop) and stop.outcome == "succeeded"
    assert engine.report().mode == "sse" and not engine._source.open


@pytest.mark.parametrize("how", ["refused", "fatal", "too large", "keeps failing"])
def test_the_stream_gives_way_to_its_fallback(how: str) -> None:
    config = _config(long_poll=10, max_body=64, sse_max_failures=2)
    engine = PollEngine(config, url=f"{BASE}/j", events_url=f"{BASE}/j/events")
    now = 0.0
    _request(engine)
    if how == "refused":
        engine.receive_response(now, 404, JSON)
    elif how == "fatal":
        engine.receive_error(now, "certificate verify failed", fatal=True)
    elif how == "too large":
        engine.receive_response(now, 200, SSE)
        engine.receive_data(now, b"data: " + b"x" * 100)
    else:
        for _ in range(2):  # two connections in a row that brought no status
            engine.receive_response(now, 200, SSE)
            engine.receive_data(now, b": heartbeat\n\n")
            engine.receive_end(now)
            if engine.phase is Phase.STREAMING:
                sleep = engine.next_action(now)
                assert isinstance(sleep, Sleep)
                now = sleep.until
                _request(engine, now)
    fell = [e for e in engine.take_events() if isinstance(e, FellBack)]
    assert len(fell) == 1
    assert engine._source is LONG_POLL and engine.phase is Phase.LONG_POLLING
    poll = _request(engine, now)  # at once
    assert poll.purpose == "poll" and poll.headers["Prefer"] == "wait=10"


# -- push.py ----------------------------------------------------------------------------------


def test_a_wake_brings_the_next_poll_forward() -> None:
    engine = PollEngine(_config(), url=f"{BASE}/j")
    _request(engine)
    assert wake(engine, 0.1) is False  # a request in flight: its answer serves
    engine.receive_response(0.1, 200, JSON, _body("running"))
    assert engine.next_poll_at == pytest.approx(2.1)
    assert wake(engine, 0.5) is True
    assert engine.next_poll_at == 0.5
    assert wake(engine, 0.5) is False  # already due
    assert _request(engine, 0.5).purpose == "poll"  # one confirming GET
    engine.receive_response(0.6, 200, JSON, _body("done"))
    assert wake(engine, 0.7) is False  # the end


def test_a_wake_leaves_an_open_stream_alone_and_reopens_a_dropped_one() -> None:
    engine = PollEngine(_config(), url=f"{BASE}/j", events_url=f"{BASE}/j/events")
    _request(engine)
    engine.receive_response(0.0, 200, SSE)
    engine.receive_wake(0.1)
    assert isinstance(engine.next_action(0.1), ReadStream)
    engine.receive_end(0.2)
    assert engine.next_poll_at is not None and engine.next_poll_at > 0.2
    engine.receive_wake(0.3)
    assert _request(engine, 0.3).purpose == "stream"


# -- the seam: a source from outside the package -------------------------------------------------


def _watch_line(kind: str, version: int, status: str | None = None) -> bytes:
    obj: dict[str, Any] = {"metadata": {"name": "job-1", "resourceVersion": str(version)}}
    if status is not None:
        obj["status"] = {"status": status}
    return json.dumps({"type": kind, "object": obj}).encode() + b"\n"


def test_a_new_source_drives_a_whole_wait_without_an_engine_edit() -> None:
    watch = WatchSource(f"{BASE}/jobs/job-1", POLL)
    r = Recorder(PollEngine(_config(), url=f"{BASE}/jobs/job-1", source=watch))
    assert r.engine.phase is Phase.STREAMING
    opening = r.act()
    assert isinstance(opening, Request)
    assert (opening.purpose, opening.url) == ("stream", f"{BASE}/jobs/job-1?watch=1")
    r.feed(r.engine.receive_response, r.now, 200, {"Content-Type": "application/json"})
    assert isinstance(r.act(), ReadStream)
    first = _watch_line("ADDED", 10, "queued") + _watch_line("MODIFIED", 11, "running")
    r.feed(r.engine.receive_data, r.now, first[:30])  # a line split across chunks
    r.feed(r.engine.receive_data, r.now, first[30:] + _watch_line("BOOKMARK", 12))
    updates = [e for e in r.engine.take_events() if isinstance(e, Update)]
    assert [u.status.status for u in updates if u.status] == ["queued", "running"]
    assert watch.version == "12"
    # The API server ends the watch; the source reopens it from where it stood, on the
    # virtual clock (the Sleep is the engine's, at the time the source asked for).
    r.feed(r.engine.receive_end, r.now)
    assert r.engine.next_action(r.now) == Sleep(r.now + REOPEN)
    reopened = r.act()
    assert isinstance(reopened, Request) and r.now == REOPEN
    assert reopened.url == f"{BASE}/jobs/job-1?watch=1&resourceVersion=12"
    r.feed(r.engine.receive_response, r.now, 200, {"Content-Type": "application/json"})
    r.now += 3.0
    r.feed(r.engine.receive_data, r.now, _watch_line("MODIFIED", 13, "succeeded"))
    stop = r.act()
    assert isinstance(stop, Stop) and stop.outcome == "succeeded"
    assert stop.status is not None and stop.status.status == "succeeded"
    report = r.engine.report()
    assert (report.requests, report.changes, report.mode) == (2, 2, "sse")
    assert report.elapsed == pytest.approx(REOPEN + 3.0)
    assert watch.opened_count == 2 and not watch.open
    assert r.phases == [Phase.STREAMING, Phase.DONE]


@pytest.mark.parametrize("how", ["refused", "gone"])
def test_a_new_source_gives_way_to_polling_and_the_wait_goes_on(how: str) -> None:
    watch = WatchSource(f"{BASE}/jobs/job-1", POLL)
    r = Recorder(PollEngine(_config(), url=f"{BASE}/jobs/job-1", source=watch))
    assert r.act().purpose == "stream"
    if how == "refused":  # RBAC forbids the watch verb
        r.respond(403, {"kind": "Status", "reason": "Forbidden"})
    else:
        r.feed(r.engine.receive_response, r.now, 200, {"Content-Type": "application/json"})
        gone = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}}
        r.feed(r.engine.receive_data, r.now, json.dumps(gone).encode() + b"\n")
    events = r.engine.take_events()
    assert [type(e) for e in events] == [FellBack]
    assert r.engine.phase is Phase.POLLING
    for status in ("running", "done"):
        poll = r.act()
        assert isinstance(poll, Request) and poll.purpose == "poll"
        assert poll.url == f"{BASE}/jobs/job-1"
        r.respond(200, {"status": status})
    stop = r.act()
    assert isinstance(stop, Stop) and stop.outcome == "succeeded"
    assert r.engine.report().requests == 3
    assert r.phases == [Phase.STREAMING, Phase.POLLING, Phase.DONE]


def test_a_new_source_keeps_the_callers_deadline() -> None:
    watch = WatchSource(f"{BASE}/jobs/job-1", POLL)
    engine = PollEngine(_config(), url=f"{BASE}/jobs/job-1", source=watch)
    opening = engine.next_action(0.0, deadline=4.0)
    assert isinstance(opening, Request) and opening.timeout == 4.0
    engine.receive_response(0.0, 200, {"Content-Type": "application/json"})
    assert engine.next_action(1.0, deadline=4.0) == ReadStream(until=4.0)
    engine.interrupt(4.0)  # the read was cut at the deadline
    stop = engine.next_action(4.0, deadline=4.0)
    assert isinstance(stop, Stop) and stop.outcome == "timeout"
    assert not watch.open
