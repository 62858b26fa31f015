"""Resume tokens: the schedule and counters carried across a restart (engine on a virtual
clock, and end to end), no secret inside, and every defect a clear ``InvalidResumeToken``."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from progress_client import (
    AdaptivePolicy,
    AsyncProgressClient,
    FixedPolicy,
    InvalidResumeToken,
    PollTimeout,
    ProgressClient,
)
from progress_client.cli import main
from progress_client.core.resume import _canonical, decode_token, encode_token, public_url
from progress_client.engine import EngineState, Request, Sleep, Stop
from tests.enginekit import Driven
from tests.kit import JobServer
from tests.serving import fixture

URL = "https://api.example.test/jobs/42"
SECRET_URL = "https://alice:hunter2@api.example.test/jobs/42?token=s3cr3t&page=1"


server = fixture(JobServer)


def _drive(engine: Driven, now: float, statuses: list[str]) -> float:
    """Answer each Request with the next status; sleep virtually; return the clock."""
    for word in statuses:
        action = engine.next_action(now)
        while isinstance(action, Sleep):
            now = action.until
            action = engine.next_action(now)
        assert isinstance(action, Request)
        engine.receive_response(now, 200, {"ETag": '"e1"'}, json.dumps({"status": word}).encode())
    return now


# -- the engine on a virtual clock -------------------------------------------------------------


def test_resumed_engine_continues_schedule_and_counts() -> None:
    policy = AdaptivePolicy(initial=3, step=1, maximum=8)
    first = Driven(policy, url=URL, deadline=20.0)
    now = _drive(first, 0.0, ["queued", "queued", "queued"])  # polls at 0, 3, 7
    assert now == 7.0
    stop = first.next_action(now)
    assert isinstance(stop, Sleep) and stop.until == 12.0  # 7 + 5: two unchanged so far
    stop = first.next_action(20.0)
    assert isinstance(stop, Stop) and stop.outcome == "timeout"
    assert isinstance(stop.error, PollTimeout)
    token = stop.error.resume_token
    assert token is not None

    second = Driven(policy, url=URL, state=EngineState.from_token(token, URL))
    # Restarted at t=100: the poll that was due at 12 (before the deadline cut the wait at
    # 20) is overdue, so it goes at once, conditional on the remembered ETag.
    action = second.next_action(100.0)
    assert isinstance(action, Request) and action.headers == {"If-None-Match": '"e1"'}
    second.receive_response(100.0, 304, {}, b"")
    action = second.next_action(100.0)
    assert isinstance(action, Sleep) and action.until == 106.0  # 3 unchanged: 3 + 1 * 3
    _drive(second, 106.0, ["done"])
    report = second.report()
    assert report.requests == 5 and report.not_modified == 1 and report.changes == 1
    assert report.elapsed == pytest.approx(7.0 + 6.0)  # both parts, not the pause between


def test_update_tokens_resume_mid_schedule() -> None:
    engine = Driven(FixedPolicy(10), url=URL)
    _drive(engine, 0.0, ["queued"])
    update = engine.pop_update()
    assert update is not None and update.resume_token is not None
    state = EngineState.from_token(update.resume_token, URL)
    assert state.counts.requests == 1 and state.next_delay == 10.0 and state.last_key is not None
    resumed = Driven(FixedPolicy(10), url=URL, state=state)
    action = resumed.next_action(50.0)
    assert isinstance(action, Sleep) and action.until == 60.0  # what was left of the delay


# -- what a token holds ------------------------------------------------------------------------


def test_token_holds_no_credentials() -> None:
    engine = Driven(FixedPolicy(1), url=SECRET_URL, deadline=5.0)
    engine.next_action(0.0)
    doc = {"status": "running", "download": "https://x.test/f?sig=abcdef123&token=zzz9",
           "note": "key sk_live_abcdefghijklmnop"}
    engine.receive_response(0.0, 200, {}, json.dumps(doc).encode())
    token = engine.resume_token(0.0)
    assert token is not None
    for secret in ("alice", "hunter2", "s3cr3t", "abcdef123", "zzz9", "sk_live_abcdefghijklmnop"):
        assert secret not in token
    body = json.loads(token)
    assert body["v"] == 1 and body["url"] == "https://api.example.test/jobs/42?token=%5BREDACTED%5D&page=1"
    assert public_url("https://u:p@[::1]:8080/a?x=1#frag") == "https://[::1]:8080/a?x=1"
    # The token still resumes the wait on the full URL.
    state = EngineState.from_token(token, SECRET_URL)
    assert state.counts.requests == 1


def test_foreign_tampered_and_broken_tokens_are_refused() -> None:
    token = encode_token(URL, {"requests": 3})
    assert decode_token(token, URL) == {"requests": 3}
    with pytest.raises(InvalidResumeToken, match="another URL"):
        decode_token(token, URL + "?x=1")
    with pytest.raises(InvalidResumeToken, match="altered or truncated"):
        decode_token(token.replace('"requests":3', '"requests":4'), URL)
    with pytest.raises(InvalidResumeToken, match="not valid JSON"):
        decode_token(token[:-5], URL)
    body = json.loads(token)
    body["v"] = 2
    with pytest.raises(InvalidResumeToken, match="version 2"):
        decode_token(json.dumps(body), URL)
    for junk in ("", "[]", '"x"', "{}", "x" * 300_000):
        with pytest.raises(InvalidResumeToken):
            decode_token(junk, URL)
    # A well-formed token whose state is not an engine state.
    for bad in ({"requests": -1}, {"requests": "3"}, {"mode": "carrier-pigeon"},
                {"next_delay": -1.0}, {"surprise": 1}, {"last_document": [1]}):
        with pytest.raises(InvalidResumeToken):
            EngineState.from_token(encode_token(URL, bad), URL)


@given(st.data())
def test_any_edit_is_refused_or_harmless(data: st.DataObject) -> None:
    engine = Driven(FixedPolicy(1), url=URL)
    engine.next_action(0.0)
    engine.receive_response(0.0, 200, {"ETag": '"a"'}, b'{"status": "r\\u00e9sum\\u00e9"}')
    token = engine.resume_token(0.0)
    assert token is not None
    i = data.draw(st.integers(min_value=0, max_value=len(token) - 1))
    ch = data.draw(st.characters(codec="ascii"))
    edited = token[:i] + ch + token[i + 1:]
    try:
        state = EngineState.from_token(edited, URL)
    except InvalidResumeToken:
        return
    # Only an edit JSON cannot see (the case of a \\u escape's hex digit) may pass.
    assert state == EngineState.from_token(token, URL)


# -- end to end --------------------------------------------------------------------------------


@pytest.mark.e2e
def test_timed_out_wait_resumed_reports_both_parts(server: JobServer) -> None:
    server.job("r", [(0, "queued"), (0.5, "done")])
    with ProgressClient(policy=FixedPolicy(0.1)) as client:
        with pytest.raises(PollTimeout) as cut:
            client.wait(server.url("r"), timeout=0.25)
        first = cut.value.report
        assert first is not None and cut.value.resume_token is not None
        result = client.wait(server.url("r"), resume=cut.value.resume_token, timeout=10)
    total = len(server.requests("/jobs/r"))
    assert first.requests < total
    assert result.report.requests == total  # both parts, counted once each
    assert result.report.not_modified == sum(1 for s in server.requests("/jobs/r")
                                             if s.code == 304)
    assert result.report.elapsed > first.elapsed


@pytest.mark.e2e
def test_cli_prints_the_token_and_resumes(
    server: JobServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.job("c", [(0, "queued"), (0.5, "done")])
    args = ["wait", server.url("c"), "--json", "--initial", "0.1", "--step", "0", "--max", "0.1"]
    assert main([*args, "--timeout", "0.2"]) == 3
    cut = json.loads(capsys.readouterr().out)
    assert cut["outcome"] == "timeout" and cut["resume_token"]
    assert main([*args, "--resume", cut["resume_token"]]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["requests"] == len(server.requests("/jobs/c")) > cut["requests"]
    # A token for another job is a usage error with a clear message, not a traceback.
    assert main(["wait", server.url("other"), "--resume", cut["resume_token"]]) == 2
    assert "another URL" in capsys.readouterr().err


@pytest.mark.e2e
@pytest.mark.anyio
async def test_async_sse_resume_sends_last_event_id(server: JobServer) -> None:
    server.job("s", [(0, "queued"), (0.4, "done")])
    url, events = server.url("s"), server.events_url("s")
    async with AsyncProgressClient() as client:
        with pytest.raises(PollTimeout) as cut:
            await client.wait(url, events_url=events, timeout=0.15)
        token = cut.value.resume_token
        assert token is not None and json.loads(token)["state"]["last_event_id"] == "0"
        result = await client.wait(url, events_url=events, resume=token, timeout=10)
    conns = server.requests("/jobs/s/events")
    assert len(conns) == 2 and conns[1].headers["last-event-id"] == "0"
    assert result.report.requests == 2 and result.report.mode == "sse"
    assert result.status.status == "done"


def test_a_token_written_by_version_0_1_still_resumes() -> None:
    # 0.1 wrote the state flat with an always-empty "extra"; the counters' names are the same.
    old_state = {
        "requests": 7, "changes": 2, "errors": 1, "hint_waits": 0, "not_modified": 3,
        "bytes_received": 512, "elapsed_before": 21.5, "unchanged": 2,
        "consecutive_errors": 0, "last_key": "s:running",
        "last_document": {"status": "running"}, "etag": '"e7"', "last_modified": None,
        "last_event_id": None, "mode": "poll", "next_delay": 5.0, "extra": {},
    }
    state = EngineState.from_token(encode_token(URL, old_state), URL)
    assert state.counts.requests == 7 and state.counts.not_modified == 3
    assert (state.etag, state.next_delay, state.elapsed_before) == ('"e7"', 5.0, 21.5)


@given(st.dictionaries(st.sampled_from(["url", "status", "sum", "v", "state", "a"]),
                       st.one_of(st.text(max_size=20), st.integers(),
                                 st.dictionaries(st.sampled_from(["url", "sum"]),
                                                 st.text(max_size=10), max_size=2)),
                       max_size=5))
def test_a_token_is_the_canonical_json_of_its_body_and_checksum(document: dict) -> None:
    """The checksum is spliced into the canonical text rather than serialized twice: the
    token is still exactly that text with "sum" in its sorted place, whatever the document
    holds (keys named url or sum, quotes and ',"url":"' in strings), and it decodes."""
    state = EngineState().to_dict()
    state["last_document"] = document
    url = 'https://api.example.test/jobs/1?token=s3cret&x=",\"url\":\"'
    token = encode_token(url, state)
    body = json.loads(token)
    assert _canonical(body) == token
    assert decode_token(token, url)["requests"] == 0
