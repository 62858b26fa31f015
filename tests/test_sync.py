"""ProgressClient over respx with a virtual clock: results, errors, watch, options, secrets."""

from __future__ import annotations

import logging

import httpx
import pytest
import respx

from progress_client import (
    AdaptivePolicy,
    BadResponse,
    FixedPolicy,
    JobFailed,
    PollTimeout,
    ProgressClient,
    RequestFailed,
    ResponseTooLarge,
    TooManyErrors,
    VirtualClock,
)

URL = "https://api.example.test/jobs/42"


def statuses(*words: str) -> list[httpx.Response]:
    return [httpx.Response(200, json={"status": w}) for w in words]


@respx.mock
def test_wait_success_on_virtual_clock() -> None:
    respx.get(URL).mock(side_effect=statuses("queued", "queued", "running", "running", "done"))
    clock = VirtualClock()
    with ProgressClient(clock=clock) as client:
        result = client.wait(URL)
    assert result.status.status == "done"
    assert clock.sleeps == [3, 4, 3, 4]
    assert result.report.requests == 5
    assert result.report.changes == 2
    assert result.report.elapsed == 14
    assert result.report.baseline_requests == 15
    assert result.report.saved_requests == 10


@respx.mock
def test_watch_yields_every_update() -> None:
    respx.get(URL).mock(side_effect=statuses("queued", "running", "running", "completed"))
    with ProgressClient(clock=VirtualClock()) as client:
        updates = list(client.watch(URL))
    assert [u.status.status for u in updates] == ["queued", "running", "running", "completed"]
    assert [u.changed for u in updates] == [True, True, False, True]
    assert [u.next_delay for u in updates] == [3, 3, 4, None]
    assert updates[-1].terminal and updates[-1].report.requests == 4


@respx.mock
def test_job_failed() -> None:
    respx.get(URL).mock(
        return_value=httpx.Response(200, json={"status": "failed", "error": "boom at 10.0.0.9"})
    )
    with ProgressClient(clock=VirtualClock()) as client, pytest.raises(JobFailed) as info:
        client.wait(URL)
    assert info.value.status is not None and info.value.status.status == "failed"
    assert info.value.report is not None and info.value.report.requests == 1
    assert "10.0.0.9" not in str(info.value)


@respx.mock
def test_watch_raises_after_terminal_failure_update() -> None:
    respx.get(URL).mock(side_effect=statuses("running", "cancelled"))
    seen = []
    with ProgressClient(clock=VirtualClock()) as client, pytest.raises(JobFailed):
        for u in client.watch(URL):
            seen.append(u.status.status)
    assert seen == ["running", "cancelled"]


@respx.mock
def test_timeout_carries_last_status_and_report() -> None:
    respx.get(URL).mock(return_value=httpx.Response(200, json={"status": "running"}))
    clock = VirtualClock()
    with ProgressClient(clock=clock) as client, pytest.raises(PollTimeout) as info:
        client.wait(URL, timeout=20)
    assert clock.now() == 20
    err = info.value
    assert err.status is not None and err.status.status == "running"
    assert err.report is not None and err.report.requests == 5  # 0, 3, 7, 12, 18; 25 is past it


@respx.mock
def test_transient_errors_are_retried() -> None:
    respx.get(URL).mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.Response(503, headers={"Retry-After": "10"}),
            httpx.Response(429),
            httpx.ReadTimeout("slow"),
            httpx.Response(200, json={"status": "done"}),
        ]
    )
    clock = VirtualClock()
    with ProgressClient(clock=clock) as client:
        result = client.wait(URL)
    assert clock.sleeps == [4, 10, 6, 7]
    assert result.report.errors == 4 and result.report.hint_waits == 1
    assert result.report.requests == 5


@respx.mock
def test_too_many_errors() -> None:
    respx.get(URL).mock(side_effect=httpx.ConnectError("[Errno 111] Connection refused"))
    client = ProgressClient(clock=VirtualClock(), max_consecutive_errors=3)
    with client, pytest.raises(TooManyErrors, match="3 failed requests in a row"):
        client.wait(URL)


@pytest.mark.parametrize(
    ("response", "cls"),
    [
        (httpx.Response(404, json={"error": "not found"}), RequestFailed),
        (httpx.Response(401), RequestFailed),
        (httpx.Response(200, text="<html></html>", headers={"content-type": "text/html"}),
         BadResponse),
        (httpx.Response(200, json={"state": "x"}), BadResponse),
        (httpx.Response(200, json=[{"status": "done"}]), BadResponse),
    ],
)
@respx.mock
def test_fatal_responses(response: httpx.Response, cls: type[Exception]) -> None:
    route = respx.get(URL).mock(return_value=response)
    with ProgressClient(clock=VirtualClock()) as client, pytest.raises(cls):
        client.wait(URL)
    assert route.call_count == 1


@respx.mock
def test_body_size_limit() -> None:
    big = b'{"status": "running", "pad": "' + b"x" * 5000 + b'"}'
    respx.get(URL).mock(return_value=httpx.Response(200, content=big))
    client = ProgressClient(clock=VirtualClock(), max_body=1000)
    with client, pytest.raises(ResponseTooLarge) as info:
        client.wait(URL)
    assert info.value.report is not None and info.value.report.bytes_received == 1000


@respx.mock
def test_headers_auth_and_no_secret_in_errors(caplog: pytest.LogCaptureFixture) -> None:
    token = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"
    route = respx.get(URL).mock(return_value=httpx.Response(403))
    caplog.set_level(logging.DEBUG)
    with ProgressClient(
        clock=VirtualClock(), headers={"Authorization": f"Bearer {token}"}
    ) as client:
        with pytest.raises(RequestFailed) as info:
            client.wait(URL)
        assert token not in repr(client)
    assert route.calls.last.request.headers["authorization"] == f"Bearer {token}"
    for text in (str(info.value), repr(info.value), caplog.text):
        assert token not in text


@respx.mock
def test_url_credentials_never_in_errors() -> None:
    url = "https://alice:hunter2secret@api.example.test/jobs/42?token=abcdef123456"
    respx.get(url__startswith="https://api.example.test/jobs/42").mock(
        return_value=httpx.Response(404)
    )
    with ProgressClient(clock=VirtualClock()) as client, pytest.raises(RequestFailed) as info:
        client.wait(url)
    text = f"{info.value} {info.value!r} {info.value.url}"
    assert "hunter2secret" not in text and "abcdef123456" not in text


@respx.mock
def test_reuses_a_user_client_and_its_pool() -> None:
    respx.get(URL).mock(side_effect=statuses("running", "done"))
    with httpx.Client() as http:
        client = ProgressClient(client=http, clock=VirtualClock(), headers={"X-Trace": "1"})
        result = client.wait(URL)
        client.close()  # not ours to close
        assert not http.is_closed
    assert result.status.status == "done"
    assert respx.calls.last.request.headers["x-trace"] == "1"


@respx.mock
def test_status_field_and_custom_words() -> None:
    respx.get(URL).mock(
        side_effect=[
            httpx.Response(200, json={"data": {"state": "working"}}),
            httpx.Response(200, json={"data": {"state": "OK"}}),
        ]
    )
    with ProgressClient(
        clock=VirtualClock(), status_field="data.state", success=["ok"], failure=["bad"]
    ) as client:
        assert client.wait(URL).status.status == "OK"


@respx.mock
def test_fixed_zero_policy_sends_back_to_back() -> None:
    respx.get(URL).mock(side_effect=statuses(*(["running"] * 9), "done"))
    clock = VirtualClock()
    with ProgressClient(policy=FixedPolicy(0.0), allow_fast_polling=True, clock=clock) as client:
        result = client.wait(URL)
    assert result.report.requests == 10 and clock.now() == 0


def test_invalid_options() -> None:
    with pytest.raises(ValueError):
        ProgressClient(max_body=0)
    with pytest.raises(ValueError):
        ProgressClient(baseline=-1)
    with ProgressClient() as client, pytest.raises(ValueError):
        client.wait("  ")


@respx.mock
def test_redirect_loop_is_fatal() -> None:
    respx.get(URL).mock(return_value=httpx.Response(302, headers={"Location": URL}))
    with ProgressClient(clock=VirtualClock()) as client, pytest.raises(RequestFailed,
                                                                        match="redirect"):
        client.wait(URL)


def test_repr_names_the_policy() -> None:
    assert repr(ProgressClient(policy=AdaptivePolicy(1, 1, 2))) == (
        "ProgressClient(policy=adaptive(1,+1,2))"
    )
