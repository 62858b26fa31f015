"""Property tests (hypothesis): the engine's invariants under any sequence of responses, and
every parser either parses or raises our typed error, never anything else.

Engine: every delay is within the policy's bounds or is a clamped Retry-After hint; no Sleep
and no request timeout reaches past the deadline; the report's counters agree with what was
fed in. Parsers: ``StatusSpec.read`` on any JSON value, ``receive_response`` on any body,
``parse_retry_after`` on any text, the SSE decoder on any bytes (and the same events however
the bytes are split), ``parse_retry_field``, resume tokens (round trip, and any text or any
alteration is refused with ``InvalidResumeToken``).
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from progress_client import (
    AdaptivePolicy,
    BadResponse,
    ExponentialPolicy,
    FixedPolicy,
    PollError,
    StatusSpec,
    parse_retry_after,
)
from progress_client.core.errors import InvalidResumeToken, ResponseTooLarge
from progress_client.core.policy import Policy
from progress_client.core.resume import decode_token, encode_token
from progress_client.core.sse import EventStreamDecoder, parse_retry_field
from progress_client.engine import Request, Sleep, Stop
from tests.enginekit import Driven

# Enough examples to matter (200 each, about 2,000 in all), few enough that the file runs in
# seconds; no example database written into the checkout.
FAST = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
EPS = 1e-9
WALL = 1_767_225_600.0

# -- strategies ----------------------------------------------------------------------------------

small = st.floats(min_value=0.0, max_value=20.0, allow_nan=False, allow_infinity=False)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    kind = draw(st.sampled_from(["adaptive", "fixed", "exponential"]))
    jitter = draw(st.sampled_from([0.0, 0.0, 0.3]))
    if kind == "adaptive":
        initial = draw(small)
        return AdaptivePolicy(initial, draw(small), initial + draw(small), jitter=jitter)
    if kind == "fixed":
        return FixedPolicy(draw(small), jitter=jitter)
    initial = draw(small)
    factor = draw(st.floats(min_value=1.0, max_value=4.0))
    return ExponentialPolicy(initial, factor, initial + draw(small), jitter=jitter)


retry_after_values = st.one_of(
    st.none(),
    st.integers(min_value=0, max_value=10**15).map(str),
    st.sampled_from(["-1", "+1", "1.0", "\u00b2", "soon", "", "Wed, 21 Oct 2015 07:28:00 GMT"]),
    st.text(max_size=30),
)

words = st.sampled_from(
    ["queued", "running", "rendering", "Rendering", "Zombie", "completed", "failed"]
)

# One step of a server's behaviour: what the engine is fed after a Request.
_KINDS = {
    "status": st.tuples(st.just("status"), words, retry_after_values),
    "304": st.tuples(st.just("304"), st.none(), retry_after_values),
    "http": st.tuples(st.just("http"), st.sampled_from([408, 425, 429, 500, 502, 503, 504]),
                      retry_after_values),
    "fatal": st.tuples(st.just("fatal"), st.sampled_from([301, 400, 401, 403, 404, 410, 418]),
                       st.none()),
    "network": st.tuples(st.just("network"), st.none(), st.none()),
    "garbage": st.tuples(st.just("garbage"), st.binary(max_size=40), st.none()),
}
# Weighted so that most runs go on for a while before a fatal answer ends them.
responses = st.sampled_from(
    ["status"] * 8 + ["304"] * 3 + ["http"] * 3 + ["network"] * 2 + ["fatal", "garbage"]
).flatmap(lambda kind: _KINDS[kind])


# -- the engine ----------------------------------------------------------------------------------


@FAST
@given(
    policy=policies(),
    script=st.lists(st.tuples(responses, small), min_size=1, max_size=30),
    deadline=st.one_of(st.none(), st.floats(min_value=0.0, max_value=200.0)),
    hint_cap=st.floats(min_value=0.0, max_value=60.0),
    baseline=st.floats(min_value=0.1, max_value=10.0),
    max_errors=st.integers(min_value=1, max_value=12),
)
def test_engine_invariants(
    policy: Policy,
    script: list[tuple[tuple[str, Any, str | None], float]],
    deadline: float | None,
    hint_cap: float,
    baseline: float,
    max_errors: int,
) -> None:
    engine = Driven(
        policy, deadline=deadline, baseline=baseline, hint_cap=hint_cap,
        max_consecutive_errors=max_errors, url="https://api.example.com/jobs/42",
    )
    lo, hi = policy.bounds
    now = 0.0
    sends = transient = not_modified = statuses = unanswered = 0
    first_send: float | None = None
    last_landing: float | None = None
    steps = iter(script)
    action = engine.next_action(now)
    while not isinstance(action, Stop):
        if isinstance(action, Sleep):
            assert action.until >= now - EPS
            if deadline is not None:
                assert action.until <= deadline + EPS, "a sleep past the deadline"
            now = max(now, action.until)
            action = engine.next_action(now)
            continue
        assert isinstance(action, Request)
        if deadline is not None:
            assert action.timeout is not None and action.timeout <= deadline - now + EPS
        sends += 1
        first_send = now if first_send is None else first_send
        step = next(steps, None)
        if step is None:
            unanswered += 1  # the deadline ended it: no answer came
            action = engine.expire(now)
            break
        (kind, value, retry_after), latency = step
        now += latency
        last_landing = now
        headers = {} if retry_after is None else {"Retry-After": retry_after}
        hint = parse_retry_after(retry_after, WALL)
        if kind == "status":
            statuses += 1
            body = json.dumps({"status": value}).encode()
            action = engine.receive_response(now, 200, headers, body, wall=WALL)
        elif kind == "304":
            had_status = engine.last_status is not None
            not_modified += had_status
            action = engine.receive_response(now, 304, headers, b"", wall=WALL)
        elif kind == "http":
            transient += 1
            action = engine.receive_response(now, value, headers, b"{}", wall=WALL)
        elif kind == "fatal":
            action = engine.receive_response(now, value, headers, b"", wall=WALL)
        elif kind == "network":
            transient += 1
            unanswered += 1
            hint = None
            action = engine.receive_error(now, "could not connect (refused)")
        else:
            action = engine.receive_response(now, 200, headers, value, wall=WALL)
        if not isinstance(action, Stop):
            delay = engine.state.next_delay
            assert delay >= lo - EPS, f"{delay} below the policy's floor {lo}"
            ceiling = hi if hint is None else max(hi, min(hint, hint_cap))
            assert delay <= ceiling + EPS, f"{delay} above {ceiling} (hint {hint})"
    stop = action
    assert isinstance(stop, Stop)
    if stop.error is not None:
        assert isinstance(stop.error, PollError)
    event(f"outcome: {stop.outcome}")
    report = stop.report
    assert report.requests == sends
    assert report.errors == transient
    assert report.not_modified == not_modified
    assert 0 <= report.changes <= max(0, statuses + not_modified - 1)
    assert report.hint_waits <= sends
    if first_send is not None and last_landing is not None:
        assert 0.0 <= report.elapsed <= last_landing - first_send + EPS
    # Savings count only the answered span (a network error is no answer).
    assert report.answered == sends - unanswered
    assert 0.0 <= report.answered_elapsed <= report.elapsed + EPS
    expected_base = (math.floor(report.answered_elapsed / baseline + 1e-9) + 1
                     if report.answered else 0)
    assert report.baseline_requests == expected_base
    assert report.saved_requests == max(0, expected_base - sends)
    assert 0.0 <= report.saved_ratio <= 1.0
    if deadline is not None and stop.outcome == "timeout":
        # Before the deadline only when a server hint reached past it (it ends at once).
        assert stop.error is not None
        hinted_past = "asked to be polled again" in stop.error.message
        assert now >= deadline - EPS or engine.finished or hinted_past


# -- parsers -------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(st.sampled_from(["status", "step", "progress", "error", "data", "x"])
                      | st.text(max_size=8), children, max_size=5),
    max_leaves=25,
)
specs = st.sampled_from(
    [StatusSpec(), StatusSpec(status_field="data.status"),
     StatusSpec(change_on=("status", "step")), StatusSpec(status_field="data.0.status")]
)


@FAST
@given(doc=json_values, spec=specs)
def test_status_read_parses_or_raises_bad_response(doc: Any, spec: StatusSpec) -> None:
    try:
        reading = spec.read(doc)
    except BadResponse as exc:
        assert str(exc)
        return
    assert isinstance(reading.status.status, str)
    assert reading.outcome in (None, "succeeded", "failed")
    # The change key: "s:<word>" for a lone string, else JSON; the same document, the same key.
    assert reading.key.startswith("s:") or json.loads(reading.key) is not Ellipsis
    assert spec.read(json.loads(json.dumps(doc))).key == reading.key


@FAST
@given(body=st.one_of(st.binary(max_size=200), json_values.map(lambda v: json.dumps(v).encode())),
       code=st.integers(min_value=100, max_value=599),
       ctype=st.sampled_from(["application/json", "text/html", "", "application/json; x=1"]))
def test_any_response_gives_an_action(body: bytes, code: int, ctype: str) -> None:
    engine = Driven(AdaptivePolicy(1, 1, 2), deadline=100.0, url="https://h.example/j/1")
    engine.next_action(0.0)
    action = engine.receive_response(1.0, code, {"content-type": ctype}, body, wall=WALL)
    assert isinstance(action, (Request, Sleep, Stop))
    if isinstance(action, Stop) and action.error is not None:
        assert isinstance(action.error, PollError)


@FAST
@given(value=st.one_of(st.text(max_size=300), retry_after_values),
       wall=st.floats(min_value=-1e12, max_value=1e12))
def test_retry_after_parses_or_is_ignored(value: str | None, wall: float) -> None:
    seconds = parse_retry_after(value, wall)
    assert seconds is None or (math.isfinite(seconds) and seconds >= 0)
    if value is not None and value.strip().isascii() and value.strip().isdigit():
        assert seconds == float(int(value.strip()[:12]))


@FAST
@given(value=st.text(max_size=30))
def test_sse_retry_field(value: str) -> None:
    ms = parse_retry_field(value)
    if value and value.isascii() and value.isdigit():
        assert ms == int(value[:12])
    else:
        assert ms is None


sse_lines = st.lists(
    st.one_of(
        st.builds(lambda d: f"data: {d}", st.text(max_size=20)),
        st.builds(lambda d: f"id: {d}", st.text(max_size=10)),
        st.sampled_from(["", "retry: 1500", "retry: +1", "retry: 1.5", "event: update", ": ping",
                         "id: a\0b", "data", "\ufeffdata: bom"]),
        st.text(max_size=15),
    ),
    max_size=20,
)


def _decode_all(chunks: list[bytes], max_event: int) -> tuple[list[Any], str, int | None]:
    decoder = EventStreamDecoder(max_event=max_event)
    events: list[Any] = []
    for chunk in chunks:
        events += decoder.feed(chunk)
    return events, decoder.last_event_id, decoder.retry_ms


@FAST
@given(lines=sse_lines, ending=st.sampled_from(["\n", "\r\n", "\r"]),
       cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=6),
       max_event=st.sampled_from([64, 1 << 20]))
def test_sse_decoder_is_split_invariant_or_raises_too_large(
    lines: list[str], ending: str, cuts: list[int], max_event: int
) -> None:
    data = ending.join(lines).encode() + ending.encode()
    points = sorted({c % (len(data) + 1) for c in cuts})
    chunks = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    outcomes: list[tuple[list[Any], str, int | None] | None] = []
    for feed in ([data], chunks):
        try:
            outcomes.append(_decode_all(feed, max_event))
        except ResponseTooLarge:
            outcomes.append(None)
    whole, split = outcomes
    # The limit counts whole events, so where the bytes are cut cannot change the verdict.
    assert split == whole
    if whole is None:
        return
    events, last_id, _ = whole
    assert "\0" not in last_id
    for ev in events:
        assert "\0" not in ev.last_event_id


@FAST
@given(data=st.binary(max_size=400))
def test_sse_decoder_on_any_bytes(data: bytes) -> None:
    decoder = EventStreamDecoder(max_event=128)
    try:
        for event in decoder.feed(data):
            assert isinstance(event.data, str)
    except ResponseTooLarge as exc:
        assert isinstance(exc, PollError)


URL = "https://render:pw-secret-1@api.example.com/jobs/42?token=tok-secret-2"
states = st.fixed_dictionaries(
    {
        "requests": st.integers(min_value=0, max_value=10**6),
        "unchanged": st.integers(min_value=0, max_value=100),
        "next_delay": st.floats(min_value=0, max_value=1e4),
        "last_document": st.one_of(st.none(), st.dictionaries(st.text(max_size=6),
                                                              st.text(max_size=12), max_size=3)),
        "etag": st.one_of(st.none(), st.text(max_size=12)),
    }
)


@FAST
@given(state=states)
def test_resume_token_round_trip_holds_no_credentials(state: dict[str, Any]) -> None:
    token = encode_token(URL, state)
    assert "pw-secret-1" not in token and "tok-secret-2" not in token
    back = decode_token(token, URL)
    assert back["requests"] == state["requests"] and back["etag"] == state["etag"]
    try:
        decode_token(token, URL.replace("42", "43"))
    except InvalidResumeToken:
        pass
    else:  # pragma: no cover - a token must be refused for another URL
        raise AssertionError("a token was accepted for another URL")


@FAST
@given(state=states, index=st.integers(min_value=0), char=st.characters())
def test_resume_token_alterations_are_refused(state: dict[str, Any], index: int, char: str) -> None:
    token = encode_token(URL, state)
    i = index % len(token)
    altered = token[:i] + char + token[i + 1:]
    try:
        back = decode_token(altered, URL)
    except InvalidResumeToken as exc:
        assert isinstance(exc, PollError)
        return
    # Only an edit JSON cannot see (e.g. whitespace, an escape of the same character) passes.
    assert back == decode_token(token, URL)


@FAST
@given(text=st.one_of(st.text(max_size=200), json_values.map(json.dumps)))
def test_resume_token_parser_on_any_text(text: str) -> None:
    # Nothing but a token this package wrote (with a matching checksum) is ever accepted.
    with pytest.raises(InvalidResumeToken):
        decode_token(text, URL)
