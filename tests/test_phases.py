"""The engine's named phases: the transition table the theory of operation prints is the one in
``core.phases``; every move engines make through every kind of wait (a plain poll, a job started
and its result fetched, a stream that falls back, long-polling, a cancel, a failure) is in the
table; and ``next_action`` is the only producer of actions and the only place a request is
counted."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from progress_client import FixedPolicy, WaitConfig
from progress_client.core import engine as engine_module
from progress_client.core.actions import ReadStream, Request, Sleep, Stop
from progress_client.core.lifecycle import Job
from progress_client.core.phases import TRANSITIONS, Phase, table
from progress_client.engine import PollEngine
from progress_client.profiles.lifecycle import ProfileLifecycle
from progress_client.profiles.profile import compile_profile, load_profile

BASE = "http://vendor.test"
JSON = {"Content-Type": "application/json"}


def test_the_theory_of_operation_prints_the_table() -> None:
    assert engine_module.__doc__ is not None
    assert table() in engine_module.__doc__
    assert set(TRANSITIONS) == set(Phase)
    assert TRANSITIONS[Phase.DONE] == frozenset()  # the end
    for phase in Phase:
        if phase is not Phase.DONE:
            assert Phase.CANCELLING in TRANSITIONS[phase] or phase is Phase.CANCELLING
            assert Phase.DONE in TRANSITIONS[phase]  # every wait can end


class Recorder:
    """Drives one engine and holds it to the rules: every phase change is in the table, and
    the request count moves only inside ``next_action``."""

    def __init__(self, engine: PollEngine) -> None:
        self.engine = engine
        self.phases = [engine.phase]
        self.now = 0.0

    def _check(self) -> None:
        phase = self.engine.phase
        if phase is not self.phases[-1]:
            assert phase in TRANSITIONS[self.phases[-1]], (self.phases, phase)
            self.phases.append(phase)

    def feed(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        before = self.engine.report().requests
        out = method(*args, **kwargs)
        assert self.engine.report().requests == before, f"{method.__name__} counted a request"
        assert not isinstance(out, (Request, Sleep, Stop, ReadStream)), method.__name__
        self._check()
        return out

    def act(self, deadline: float | None = None) -> Any:
        action = self.engine.next_action(self.now, deadline)
        if isinstance(action, Sleep):
            self.now = action.until
            action = self.engine.next_action(self.now, deadline)
        self._check()
        return action

    def respond(self, code: int, body: Any = None, headers: dict[str, str] | None = None,
                **kwargs: Any) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        self.feed(self.engine.receive_response, self.now, code, {**JSON, **(headers or {})},
                  data, wall=0.0, **kwargs)


def _profile_engine(name: str, **kwargs: Any) -> PollEngine:
    loaded = load_profile(name)
    config = WaitConfig(policy=FixedPolicy(1.0), reader=compile_profile(loaded),
                        long_poll=kwargs.pop("long_poll", None))
    lifecycle = ProfileLifecycle(loaded)
    start = kwargs.pop("start", None)
    if start is not None:
        return PollEngine(config, job=Job("POST", start, lifecycle, {}, b"{}"))
    return PollEngine(config, lifecycle=lifecycle, **kwargs)


def test_a_plain_poll() -> None:
    r = Recorder(PollEngine(WaitConfig(policy=FixedPolicy(1.0)), url=f"{BASE}/j"))
    for word in ("queued", "running", "done"):
        assert r.act().purpose == "poll"
        r.respond(200, {"status": word})
    assert isinstance(r.act(), Stop)
    assert r.phases == [Phase.POLLING, Phase.DONE]


def test_a_job_started_polled_and_its_result_fetched() -> None:
    r = Recorder(_profile_engine("fal", start=f"{BASE}/fal-ai/fast-sdxl"))
    root = f"{BASE}/fal-ai/fast-sdxl/requests/r2"
    assert r.act().purpose == "start"
    r.respond(200, {"request_id": "r2", "status_url": f"{root}/status", "response_url": root})
    assert r.act().purpose == "poll"
    r.respond(200, {"status": "COMPLETED", "response_url": root})
    assert r.act().purpose == "result"
    r.respond(200, {"images": []}, result={"images": []})
    stop = r.act()
    assert isinstance(stop, Stop) and stop.outcome == "succeeded"
    assert r.phases == [Phase.STARTING, Phase.POLLING, Phase.FETCHING_RESULT, Phase.DONE]


def test_a_stream_that_falls_back_to_long_polling() -> None:
    config = WaitConfig(policy=FixedPolicy(1.0), long_poll=10)
    r = Recorder(PollEngine(config, url=f"{BASE}/j", events_url=f"{BASE}/j/events"))
    assert r.act().purpose == "stream"
    r.feed(r.engine.receive_response, r.now, 404, {})  # refused: poll instead
    poll = r.act()
    assert poll.purpose == "poll" and poll.headers["Prefer"] == "wait=10"
    r.respond(200, {"status": "running"})  # not held: long-polling off
    assert r.act().purpose == "poll"
    r.respond(200, {"status": "done"})
    assert isinstance(r.act(), Stop)
    assert r.phases == [Phase.STREAMING, Phase.LONG_POLLING, Phase.POLLING, Phase.DONE]


def test_a_stream_read_to_its_end() -> None:
    r = Recorder(PollEngine(WaitConfig(), url=f"{BASE}/j", events_url=f"{BASE}/j/events"))
    assert r.act().purpose == "stream"
    r.feed(r.engine.receive_response, r.now, 200, {"Content-Type": "text/event-stream"})
    assert isinstance(r.act(), ReadStream)
    r.feed(r.engine.receive_data, r.now, b'event: ping\ndata: {}\n\ndata: {"status": "done"}\n\n')
    assert isinstance(r.act(), Stop)
    assert r.phases == [Phase.STREAMING, Phase.DONE]


@pytest.mark.parametrize("accepted", [True, False])
def test_a_cancel_is_asked_for_then_sent_and_counted_by_next_action(accepted: bool) -> None:
    url = f"{BASE}/fal-ai/fast-sdxl/requests/r1/status"
    r = Recorder(_profile_engine("fal", url=url))
    assert r.act().purpose == "poll"
    r.respond(200, {"status": "IN_PROGRESS", "logs": []})
    stop = r.act(deadline=0.5)  # the caller's deadline passed: its timeout, from next_action
    assert isinstance(stop, Stop) and stop.outcome == "timeout"
    assert r.feed(r.engine.cancel, r.now) is True  # asked for: not sent, not counted
    assert r.engine.report().requests == 1
    cancel = r.act()
    assert isinstance(cancel, Request) and cancel.purpose == "cancel"
    assert r.engine.report().requests == 2  # counted where it came out
    r.respond(202 if accepted else 409, {"status": "CANCELLATION_REQUESTED"})
    assert r.engine.cancelled_remote is accepted
    assert r.feed(r.engine.cancel, r.now) is False  # once
    assert r.phases == [Phase.POLLING, Phase.CANCELLING, Phase.DONE]


def test_a_timeout_while_another_callers_request_is_in_flight() -> None:
    # A waiting caller's deadline passes while the driver's poll is out: its Stop still comes
    # from next_action, and the engine goes on for the driver.
    r = Recorder(PollEngine(WaitConfig(), url=f"{BASE}/j"))
    assert r.act().purpose == "poll"
    stop = r.engine.next_action(5.0, deadline=4.0)
    assert isinstance(stop, Stop) and stop.outcome == "timeout"
    with pytest.raises(RuntimeError, match="in flight"):
        r.engine.next_action(5.0, deadline=None)
    r.now = 5.0
    r.respond(200, {"status": "done"})
    assert isinstance(r.act(), Stop)


def test_a_failure_ends_in_done() -> None:
    r = Recorder(PollEngine(WaitConfig(), url=f"{BASE}/j"))
    assert r.act().purpose == "poll"
    r.feed(r.engine.receive_error, r.now, "invalid URL", fatal=True)
    stop = r.act()
    assert isinstance(stop, Stop) and stop.outcome == "error"
    assert r.phases == [Phase.POLLING, Phase.DONE]


_ACTIONS = re.compile(r"\b(Action|Request|Sleep|Stop|ReadStream)\b")


def test_next_action_is_the_only_producer_of_actions() -> None:
    """No public method of the engine but ``next_action`` is declared to return an action
    (``timeout()`` and ``cancel_request()`` did; both are gone)."""
    producers = []
    for name, member in inspect.getmembers(PollEngine):
        if name.startswith("_"):
            continue
        fn = member.fget if isinstance(member, property) else member
        if not callable(fn):
            continue
        returns = str(inspect.signature(fn).return_annotation)
        if _ACTIONS.search(returns):
            producers.append(name)
    assert producers == ["next_action"]
    assert not hasattr(PollEngine, "timeout") and not hasattr(PollEngine, "cancel_request")
