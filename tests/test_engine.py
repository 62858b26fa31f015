"""The sans-IO engine on a virtual clock: schedule, hints, deadline, errors, 304, the report."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

import pytest

from progress_client import (
    AdaptivePolicy,
    BadResponse,
    FixedPolicy,
    JobFailed,
    PollTimeout,
    RequestFailed,
    ResponseTooLarge,
    TooManyErrors,
    simulate,
)
from progress_client.core.simulate import evenly_spaced_timeline, percentile
from progress_client.engine import Request, Sleep, Stop
from tests.enginekit import Driven

WALL0 = 1_767_225_600.0
URL = "https://api.example.com/jobs/1"

Responder = Callable[[float, Mapping[str, str]], tuple[int, dict[str, str], bytes]]


def doc(status: str, **extra: object) -> bytes:
    return json.dumps({"status": status, **extra}).encode()


def drive(
    engine: Driven, respond: Responder, *, limit: int = 10_000
) -> tuple[Stop, list[float], list[float]]:
    """Run an engine to the end on a virtual clock. Returns the stop, the request times and the
    sleep targets."""
    now = 0.0
    sent: list[float] = []
    sleeps: list[float] = []
    action = engine.next_action(now)
    for _ in range(limit):
        if isinstance(action, Stop):
            return action, sent, sleeps
        if isinstance(action, Sleep):
            assert action.until >= now
            sleeps.append(action.until)
            now = action.until
            action = engine.next_action(now)
            continue
        assert isinstance(action, Request)
        sent.append(now)
        code, headers, body = respond(now, action.headers)
        action = engine.receive_response(now, code, headers, body, wall=WALL0 + now)
    raise AssertionError("engine did not stop")


def constant_then(status_until: float, final: str = "completed") -> Responder:
    def respond(now: float, _h: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        return 200, {}, doc("running" if now < status_until else final)

    return respond


def gaps(times: list[float]) -> list[float]:
    return [round(b - a, 9) for a, b in zip(times, times[1:])]


def test_constant_status_grows_3_4_5_6_7_8_8() -> None:
    stop, sent, _ = drive(Driven(AdaptivePolicy()), constant_then(60))
    assert sent[0] == 0.0
    assert gaps(sent)[:8] == [3, 4, 5, 6, 7, 8, 8, 8]
    assert stop.outcome == "succeeded"
    assert stop.report.changes == 1


def test_change_resets_to_initial() -> None:
    def respond(now: float, _h: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        if now < 20:
            return 200, {}, doc("queued")
        if now < 40:
            return 200, {}, doc("rendering")
        return 200, {}, doc("done")

    _, sent, _ = drive(Driven(AdaptivePolicy()), respond)
    # 0,3,7,12,18,25 (rendering seen at 25 -> reset) 28,32,37,43 (done seen at 43)
    assert sent == [0, 3, 7, 12, 18, 25, 28, 32, 37, 43]


def test_progress_change_only_counts_with_change_on() -> None:
    def respond(now: float, _h: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        return 200, {}, doc("running" if now < 30 else "done", step=int(now // 10))

    from progress_client import StatusSpec

    _, default_sent, _ = drive(Driven(AdaptivePolicy()), respond)
    by_step = StatusSpec(change_on=("status", "step"))
    _, step_sent, _ = drive(Driven(AdaptivePolicy(), by_step), respond)
    assert len(step_sent) > len(default_sent)


def test_retry_after_is_a_floor_and_clamped() -> None:
    def respond(now: float, _h: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        if now == 0:
            return 200, {"Retry-After": "20"}, doc("running")
        if now < 100:
            return 200, {"Retry-After": "1"}, doc("running")  # below the policy: ignored
        return 200, {}, doc("done")

    stop, sent, _ = drive(Driven(AdaptivePolicy()), respond)
    assert gaps(sent)[:3] == [20, 4, 5]
    assert stop.report.hint_waits == 1

    def huge(now: float, _h: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        if now == 0:
            return 503, {"Retry-After": "999999"}, b""
        return 200, {}, doc("done")

    stop, sent, _ = drive(Driven(AdaptivePolicy(), hint_cap=300), huge)
    assert sent == [0, 300]


def test_http_date_hint_on_429() -> None:
    def respond(now: float, _h: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        if now == 0:
            return 429, {"Retry-After": "Thu, 01 Jan 2026 00:00:45 GMT"}, b""
        return 200, {}, doc("done")

    stop, sent, _ = drive(Driven(AdaptivePolicy()), respond)
    assert sent == [0, 45]
    assert stop.report.errors == 1 and stop.report.hint_waits == 1


@pytest.mark.parametrize("value", ["-1", "+1", "1.0", "garbage", "Wed, 31 Dec 2025 23:00:00 GMT"])
def test_bad_hints_are_ignored(value: str) -> None:
    def respond(now: float, _h: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        if now == 0:
            return 503, {"Retry-After": value}, b""
        return 200, {}, doc("done")

    stop, sent, _ = drive(Driven(AdaptivePolicy()), respond)
    # A 503 counts as unchanged: the next delay is delay(1) = 4.
    assert sent == [0, 4] and stop.outcome == "succeeded" and stop.report.hint_waits == 0


def test_never_sleeps_past_the_deadline() -> None:
    engine = Driven(AdaptivePolicy(), deadline=10.0)
    stop, sent, sleeps = drive(engine, constant_then(1e9))
    assert sent == [0, 3, 7]
    assert max(sleeps) == 10.0
    assert stop.outcome == "timeout"
    assert isinstance(stop.error, PollTimeout)
    assert stop.error.status is not None and stop.error.status.status == "running"
    assert stop.error.report is not None and stop.error.report.requests == 3


def test_hint_beyond_deadline_ends_the_wait_at_once() -> None:
    # urllib3#1338: sleeping to the deadline only to time out helps nobody. The wait ends at
    # once, says when the server asked to be polled again, and can be resumed.
    def respond(now: float, _h: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        return 429, {"Retry-After": "100"}, b""

    stop, sent, sleeps = drive(Driven(AdaptivePolicy(), deadline=5.0, url=URL), respond)
    assert sent == [0] and sleeps == [] and stop.outcome == "timeout"
    assert isinstance(stop.error, PollTimeout)
    assert "asked to be polled again in 100s" in stop.error.message
    assert stop.error.resume_token is not None


def test_the_hint_past_the_deadline_is_said_as_the_server_gave_it() -> None:
    # A busy machine asks for the next action a moment after the answer came (here 0.15 s):
    # the message says what the server asked for (60 s), not what was left of it by then.
    engine = Driven(AdaptivePolicy(), deadline=5.0, url=URL)
    assert isinstance(engine.next_action(0.0), Request)
    engine.engine.receive_response(0.2, 429, {"Retry-After": "60"}, b"", wall=WALL0 + 0.2)
    stop = engine.next_action(0.35)
    assert isinstance(stop, Stop) and stop.outcome == "timeout"
    assert isinstance(stop.error, PollTimeout)
    assert "the server asked to be polled again in 60s, after the deadline" in (
        stop.error.message)


def test_send_timeout_is_time_left() -> None:
    engine = Driven(AdaptivePolicy(), deadline=10.0)
    action = engine.next_action(2.5)
    assert isinstance(action, Request) and action.timeout == 7.5
    assert isinstance(Driven().next_action(0), Request)
    # Without a deadline the request timeout bounds the exchange.
    assert Driven().next_action(0).timeout == 30.0  # type: ignore[union-attr]


def test_transient_errors_then_give_up() -> None:
    engine = Driven(AdaptivePolicy(), max_consecutive_errors=3)
    now = 0.0
    action = engine.next_action(now)
    times = []
    while not isinstance(action, Stop):
        if isinstance(action, Sleep):
            now = action.until
            action = engine.next_action(now)
            continue
        times.append(now)
        action = engine.receive_error(now, "could not connect (refused) to 10.1.2.3")
    assert times == [0, 4, 9]  # errors count as unchanged: delay(1), delay(2)
    assert isinstance(action.error, TooManyErrors)
    assert "10.1.2.3" not in str(action.error)
    assert action.report.errors == 3 and action.report.requests == 3


def test_errors_reset_by_a_good_response() -> None:
    calls = {"n": 0}

    def respond(now: float, _h: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        calls["n"] += 1
        n = calls["n"]
        if n > 20:
            return 200, {}, doc("done")
        return (502, {}, b"") if n % 2 else (200, {}, doc("running"))

    stop, _, _ = drive(Driven(FixedPolicy(1), max_consecutive_errors=2), respond)
    assert stop.outcome == "succeeded" and stop.report.errors == 10


@pytest.mark.parametrize(
    ("code", "cls", "match"),
    [
        (404, RequestFailed, "unknown or its record expired"),
        (410, RequestFailed, "expired"),
        (401, RequestFailed, "not authorized"),
        (403, RequestFailed, "not authorized"),
        (400, RequestFailed, "HTTP 400"),
        (302, RequestFailed, "redirect"),
    ],
)
def test_fatal_statuses(code: int, cls: type[Exception], match: str) -> None:
    stop, sent, _ = drive(Driven(), lambda now, h: (code, {}, b""))
    assert sent == [0]
    assert isinstance(stop.error, cls) and match in str(stop.error)
    assert stop.outcome == "error"


def test_404_mid_wait_says_so_and_error_detail_is_sanitized() -> None:
    def respond(now: float, _h: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        if now < 5:
            return 200, {}, doc("running")
        body = json.dumps({"error": "gone from /var/lib/jobs/42.json at 10.0.0.7"}).encode()
        return 404, {"Content-Type": "application/json"}, body

    stop, _, _ = drive(Driven(), respond)
    assert isinstance(stop.error, RequestFailed) and stop.error.status_code == 404
    text = str(stop.error)
    assert "disappeared mid-wait" in text
    assert "/var/lib" not in text and "10.0.0.7" not in text and "[PATH]" in text


@pytest.mark.parametrize(
    ("body", "headers", "match"),
    [
        (b"<html>hi</html>", {"content-type": "text/html"}, "not JSON (HTTP 200, text/html"),
        (b"[1,2]", {}, "an array"),
        (b'{"state": "x"}', {}, "no 'status' field"),
        (b"\xff\xfe\x00garbage", {}, "not JSON"),
        (b"", {}, "not JSON"),
    ],
)
def test_bad_bodies(body: bytes, headers: dict[str, str], match: str) -> None:
    stop, _, _ = drive(Driven(), lambda now, h: (200, headers, body))
    assert isinstance(stop.error, BadResponse) and match in str(stop.error)


def test_truncated_body_is_too_large() -> None:
    engine = Driven()
    assert isinstance(engine.next_action(0), Request)
    stop = engine.receive_response(0, 200, {}, b"x" * 100, truncated=True)
    assert isinstance(stop, Stop) and isinstance(stop.error, ResponseTooLarge)
    assert stop.report.bytes_received == 100


def test_failed_job_raises_jobfailed_with_sanitized_error() -> None:
    secret = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
    stop, _, _ = drive(
        Driven(), lambda now, h: (200, {}, doc("failed", error=f"card declined {secret}"))
    )
    assert stop.outcome == "failed"
    assert isinstance(stop.error, JobFailed)
    assert secret not in str(stop.error) and "[TOKEN]" in str(stop.error)
    assert stop.error.status is not None and stop.error.status.status == "failed"


def test_conditional_requests_and_304() -> None:
    seen_headers: list[dict[str, str]] = []

    def respond(now: float, h: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        seen_headers.append(dict(h))
        if now >= 30:
            return 200, {"ETag": '"v2"'}, doc("done")
        if h.get("If-None-Match") == '"v1"':
            return 304, {"ETag": '"v1"'}, b""
        return 200, {"ETag": '"v1"', "Last-Modified": "Thu, 01 Jan 2026 00:00:00 GMT"}, doc("run")

    stop, sent, _ = drive(Driven(AdaptivePolicy()), respond)
    assert seen_headers[0] == {}
    assert all(h.get("If-None-Match") == '"v1"' for h in seen_headers[1:])
    # 304s count as unchanged: the interval grows exactly as for an unchanged status.
    assert sent == [0, 3, 7, 12, 18, 25, 33]
    assert stop.report.not_modified == 5
    assert stop.report.changes == 1


def test_304_without_a_previous_status_is_bad() -> None:
    stop, _, _ = drive(Driven(), lambda now, h: (304, {}, b""))
    assert isinstance(stop.error, BadResponse) and "304" in str(stop.error)


def test_conditional_off() -> None:
    seen: list[dict[str, str]] = []

    def respond(now: float, h: Mapping[str, str]) -> tuple[int, dict[str, str], bytes]:
        seen.append(dict(h))
        return 200, {"ETag": '"a"'}, doc("running" if now < 5 else "done")

    drive(Driven(conditional=False), respond)
    assert all(h == {} for h in seen)


def test_updates_for_watch() -> None:
    engine = Driven(AdaptivePolicy())
    assert engine.pop_update() is None
    action = engine.next_action(0)
    assert isinstance(action, Request)
    action = engine.receive_response(0, 200, {}, doc("queued"))
    u = engine.pop_update()
    assert u is not None and u.changed and u.next_delay == 3 and not u.terminal
    assert engine.pop_update() is None
    assert isinstance(action, Sleep) and action.until == 3
    action = engine.next_action(3)
    engine.receive_response(3, 200, {}, doc("queued"))
    u = engine.pop_update()
    assert u is not None and not u.changed and u.next_delay == 4
    engine.next_action(7)
    engine.receive_response(7, 200, {}, doc("done"))
    u = engine.pop_update()
    assert u is not None and u.terminal and u.next_delay is None and u.changed


def test_report_counts_and_baseline() -> None:
    stop, sent, _ = drive(Driven(AdaptivePolicy()), constant_then(60))
    r = stop.report
    assert r.requests == len(sent)
    assert r.elapsed == sent[-1] - sent[0]
    assert r.baseline_requests == int(r.elapsed // 1.0) + 1
    assert r.saved_requests == r.baseline_requests - r.requests
    assert 0 < r.saved_ratio < 1
    d = r.to_dict()
    assert d["saved_percent"] == round(100 * r.saved_ratio, 1)
    assert d["mode"] == "poll"


def test_protocol_misuse_is_an_error() -> None:
    engine = Driven()
    with pytest.raises(RuntimeError):
        engine.receive_response(0, 200, {}, doc("x"))
    engine.next_action(0)
    with pytest.raises(RuntimeError):
        engine.next_action(0)


def test_invalid_engine_options() -> None:
    with pytest.raises(ValueError):
        Driven(max_consecutive_errors=0)
    with pytest.raises(ValueError):
        Driven(baseline=0)
    with pytest.raises(ValueError):
        Driven(hint_cap=float("inf"))


def test_simulate_the_write_up_video() -> None:
    timeline = evenly_spaced_timeline(300, 5)
    fixed = simulate(FixedPolicy(1.0), timeline)
    adaptive = simulate(AdaptivePolicy(), timeline)
    assert fixed.report.requests == 301  # 0..300 s inclusive
    assert fixed.mean_lag == 0.0
    assert adaptive.outcome == "succeeded"
    assert adaptive.report.requests <= 0.25 * fixed.report.requests
    assert adaptive.p95_lag <= 8.0
    assert len(adaptive.lags) == 5
    assert adaptive.report.changes == 5


def test_simulate_hours_quickly_and_hints() -> None:
    res = simulate(AdaptivePolicy(), [(0, "running"), (3600 * 6, "done")])
    # 6 hours at mostly 8 s: about 2,700 requests, computed without sleeping.
    assert 2600 < res.report.requests < 2800
    hinted = simulate(AdaptivePolicy(), [(0, "running"), (600, "done")], hint=60)
    assert hinted.report.requests == 11
    assert hinted.report.hint_waits == 10


def test_percentile() -> None:
    assert percentile([], 95) == 0.0
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5], 95) == 5
