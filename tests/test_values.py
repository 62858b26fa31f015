"""The engine's small values (``core.value.Value``: actions, updates, verdicts, validators): what a
frozen dataclass gave them still holds (equality, hash, repr, ``match``, no assignment,
pickling), and an update's report and resume token, built from its snapshot when first read,
are the ones the engine's state gives at that moment."""

from __future__ import annotations

import copy
import dataclasses
import json
import pickle

import pytest

from progress_client import FellBack, FixedPolicy, PollReport, Update
from progress_client.core.hints import Validators
from progress_client.core.reading import Verdict
from progress_client.core.report import Tally
from progress_client.core.state import STATE_NAMES, snapshot_report
from progress_client.engine import EngineState, ReadStream, Request, Sleep, Stop
from tests.enginekit import Driven

URL = "https://api.example.test/jobs/7"


def test_equality_hash_and_repr_read_the_public_fields() -> None:
    assert Sleep(3.0) == Sleep(3.0) and Sleep(3.0) != Sleep(4.0)
    assert Sleep(3.0) != ReadStream(3.0)  # another type, the same field
    assert hash(Sleep(3.0)) == hash(Sleep(3.0))
    assert len({Validators("a", None), Validators("a", None), Validators(None, "b")}) == 2
    assert repr(Sleep(2.5)) == "Sleep(until=2.5)"
    request = Request("poll", "GET", URL, {"If-None-Match": '"e"'}, 10.0)
    assert repr(request) == (
        f"Request(purpose='poll', method='GET', url='{URL}', "
        "headers={'If-None-Match': '\"e\"'}, timeout=10.0, content=None)"
    )
    assert request == Request("poll", "GET", URL, {"If-None-Match": '"e"'}, 10.0, None)
    assert Verdict("transient", description="HTTP 503") == Verdict("transient", None, None,
                                                                   "HTTP 503")
    assert FellBack("no stream") == FellBack("no stream")


def test_values_are_immutable_as_frozen_dataclasses_were() -> None:
    sleep = Sleep(1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sleep.until = 2.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del sleep.until  # type: ignore[misc]
    with pytest.raises(AttributeError):
        sleep.other = 1  # type: ignore[attr-defined]
    assert sleep.until == 1.0


def test_match_by_position_and_keyword() -> None:
    action = Request("poll", "GET", URL, {}, None)
    match action:
        case Request("poll", method, url):
            assert (method, url) == ("GET", URL)
        case _:
            pytest.fail("a Request did not match by position")
    match Sleep(5.0):
        case Sleep(until=t):
            assert t == 5.0
        case _:
            pytest.fail("a Sleep did not match by keyword")


def test_pickle_and_copy_round_trip() -> None:
    report = PollReport(requests=2)
    stop = Stop("succeeded", None, None, None, report, result={"url": "x"})
    for value in (Sleep(1.5), Request("poll", "GET", URL, {"a": "b"}, 3.0, b"{}"), stop,
                  Validators('"e"', None)):
        assert pickle.loads(pickle.dumps(value)) == value
        assert copy.copy(value) == value and copy.deepcopy(value) == value
    assert stop.with_result(5).result == 5 and stop.with_result(5).report is report


def test_an_update_needs_a_report_or_a_snapshot() -> None:
    with pytest.raises(TypeError):
        Update(None, None, True, False, False, 1.0)  # type: ignore[arg-type]


def test_snapshot_values_follow_the_state_names() -> None:
    """``EngineState.snapshot`` lists its values by hand, in ``STATE_NAMES`` order: every
    field distinct, so a value in the wrong place shows."""
    tally = Tally(requests=1, changes=2, errors=3, hint_waits=4, not_modified=5,
                  bytes_received=6, answered=13, budget_delays=14, budget_delay_ms=15)
    state = EngineState(
        tally=tally, elapsed_before=7.5, answered_elapsed_before=6.5, unchanged=8,
        consecutive_errors=9, last_key="k",
        last_document={"status": "s"}, etag='"e"', last_modified="lm", last_event_id="id",
        mode="sse", next_delay=10.5,
    )
    snap = state.snapshot(URL, 2.0, 11.5, 12.5, 10.0)
    values = dict(zip(STATE_NAMES, snap[2:], strict=True))
    expected = {**{n: getattr(tally, n) for n in ("requests", "changes", "errors",
                                                    "hint_waits", "not_modified",
                                                    "bytes_received", "answered",
                                                    "budget_delays", "budget_delay_ms")},
                "elapsed_before": 11.5, "answered_elapsed_before": 10.0, "unchanged": 8,
                "consecutive_errors": 9,
                "last_key": "k", "last_document": {"status": "s"}, "etag": '"e"',
                "last_modified": "lm", "last_event_id": "id", "mode": "sse",
                "next_delay": 12.5}
    assert values == expected
    assert state.to_dict() == {**expected, "elapsed_before": 7.5,
                               "answered_elapsed_before": 6.5, "next_delay": 10.5}
    report = snapshot_report(snap)
    assert (report.requests, report.bytes_received, report.elapsed, report.mode,
            report.baseline_interval, report.answered, report.answered_elapsed) == (
        1, 6, 11.5, "sse", 2.0, 13, 10.0)


def test_an_updates_report_and_token_are_the_state_when_it_was_made() -> None:
    """Built lazily, after the engine has gone on, they still tell the moment of the
    update, as eagerly built ones did."""
    engine = Driven(FixedPolicy(10), url=URL)
    action = engine.next_action(0.0)
    assert isinstance(action, Request)
    engine.receive_response(1.0, 200, {}, json.dumps({"status": "queued"}).encode())
    first = engine.pop_update()
    assert first is not None
    # The engine goes on: two more polls, the counts grow.
    now = 1.0
    for word in ("running", "running"):
        action = engine.next_action(now)
        while isinstance(action, Sleep):
            now = action.until
            action = engine.next_action(now)
        engine.receive_response(now + 1.0, 200, {}, json.dumps({"status": word}).encode())
    report = first.report
    assert report.requests == 1 and report.changes == 0 and report.elapsed == 1.0
    assert first.report is report  # built once
    token = first.resume_token
    assert token is not None and token == first.resume_token
    state = EngineState.from_token(token, URL)
    assert state.counts.requests == 1 and state.last_key is not None
    assert state.next_delay == 10.0
    # Equality and repr read the report like a field.
    assert "report=PollReport(requests=1" in repr(first)
    assert first == first and first != engine.pop_update()


def test_an_updates_status_is_built_when_first_read() -> None:
    """A watch whose caller reads only ``next_delay`` (a scheduler, a progress bar of its
    own) never builds a ``JobStatus``; one that reads it gets the document's status."""
    engine = Driven(FixedPolicy(10), url=URL)
    engine.next_action(0.0)
    engine.receive_response(1.0, 200, {}, json.dumps({"status": "queued", "step": 2}).encode())
    update = engine.pop_update()
    assert update is not None
    reading = update._reading
    assert reading is not None and reading._status is None  # not built yet
    assert update.status.status == "queued" and update.status.step == 2
    assert update.document is update.status and reading._status is update.status
    with pytest.raises(TypeError):
        Update(None, None, True, False, False, 1.0, PollReport())
