"""The vendor imitations themselves, driven with plain httpx and read with the built-in
profiles: the documented start responses lead to the status URL, every scripted timeline ends
in its outcome (the traps included), results come back (a multi-MiB binary streamed), a cancel
is counted once, hint headers are sent, and every request is counted."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from progress_client.profiles.profile import compile_profile, load_profile
from progress_client.profiles.urls import (
    Seen,
    cancel_request,
    poll_request,
    result_request,
    status_url,
)

from .serving import fixture
from .vendors import (
    PROFILE_OF,
    REASONS,
    RUNNING,
    SCENARIOS,
    START_BODIES,
    VENDORS,
    Job,
    Step,
    VendorServer,
    video_bytes,
)

server = fixture(VendorServer, scope="module")


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c


def seen(r: httpx.Response) -> Seen:
    body = None
    if r.content and r.headers.get("content-type", "").startswith("application/json"):
        body = r.json()
    return Seen(str(r.url), r.status_code, dict(r.headers), body)


def start(server: VendorServer, client: httpx.Client, vendor: str) -> Seen:
    method, _ = VENDORS[vendor].start or ("", "")
    if vendor == "stability":  # multipart, as the docs show
        r = client.post(server.start_url(vendor), files={"image": ("cat.png", b"\x89PNG")},
                        data={"seed": "0"})
    else:
        r = client.request(method, server.start_url(vendor), json=START_BODIES[vendor],
                           headers=sent(vendor))
    assert r.is_success, (vendor, r.status_code, r.text)
    return seen(r)


def follow(server: VendorServer, client: httpx.Client, vendor: str, job: Job
           ) -> tuple[Seen | None, str]:
    if VENDORS[vendor].start is None:
        return None, server.status_url(job)
    first = start(server, client, vendor)
    url = status_url(load_profile(PROFILE_OF[vendor]), first)
    assert url == server.status_url(job), (vendor, url)
    return first, url


def ask(client: httpx.Client, vendor: str, url: str, first: Seen | None) -> httpx.Response:
    """One status request as the profile asks it: a GET, or its [poll] (a GraphQL POST)."""
    planned = poll_request(load_profile(PROFILE_OF[vendor]), first, url)
    if planned is not None:
        return client.request(planned.method, url, json=planned.json, headers=sent(vendor))
    return client.get(url, headers=sent(vendor))


def poll(client: httpx.Client, vendor: str, url: str, limit: int, first: Seen | None = None
         ) -> tuple[Any, Seen, int]:
    reader = compile_profile(load_profile(PROFILE_OF[vendor]))
    for n in range(1, limit + 1):
        r = ask(client, vendor, url, first)
        if r.status_code == 429 and "retry-after" in r.headers:
            continue  # a rate limit (Ideogram's), waited out: not the job's status
        assert r.is_success, (vendor, r.status_code, r.text)
        last = seen(r)
        reading = reader.read(last.body, status_code=r.status_code, headers=r.headers)
        if reading.outcome is not None:
            return reading, last, n
    raise AssertionError(f"{vendor}: no outcome after {limit} polls")


ALL = [(v, name) for v, scripts in SCENARIOS.items() for name in scripts]


def sent(vendor: str) -> dict[str, str]:
    """The headers the vendor's profile sends with every request (an API version)."""
    return dict(load_profile(PROFILE_OF[vendor]).headers)


def test_every_profile_has_an_imitation_and_a_success_and_a_failure() -> None:
    assert set(PROFILE_OF.values()) == set(load_names())
    for vendor, scripts in SCENARIOS.items():
        outcomes = {outcome for _, outcome in scripts.values()}
        assert "succeeded" in outcomes, vendor
        assert "failed" in outcomes or vendor == "azure-location", vendor
        assert VENDORS[vendor].source


def load_names() -> set[str]:
    from progress_client.profiles.profile import builtin_names

    return set(builtin_names())


@pytest.mark.parametrize(("vendor", "scenario"), ALL, ids=[f"{v}-{s}" for v, s in ALL])
def test_scripted_timelines_end_as_documented(
    server: VendorServer, client: httpx.Client, vendor: str, scenario: str
) -> None:
    phases, expected = SCENARIOS[vendor][scenario]
    starts = server.starts[vendor]
    job = server.script(vendor, phases)
    first, url = follow(server, client, vendor, job)
    reading, _last, polls = poll(client, vendor, url, len(phases) + 2, first)
    assert reading.outcome == expected, (vendor, scenario, reading.status)
    assert polls == len(phases) and job.polls == polls  # one phase per request, all counted
    assert server.starts[vendor] == starts + (1 if first is not None else 0)
    reason = REASONS.get((vendor, scenario))
    if reason is not None:
        assert reading.status.error is not None and reason in reading.status.error


@pytest.mark.parametrize("vendor", [v for v in SCENARIOS if v != "stability"])
def test_results_come_from_where_the_profile_says(
    server: VendorServer, client: httpx.Client, vendor: str
) -> None:
    phases, _ = SCENARIOS[vendor]["succeeded"]
    job = server.script(vendor, phases, result={"answer": 42})
    first, url = follow(server, client, vendor, job)
    _reading, last, _ = poll(client, vendor, url, len(phases) + 2, first)
    profile = load_profile(PROFILE_OF[vendor])
    request = result_request(profile, start=first, status=last)
    if profile.result.kind != "url" or vendor == "azure-location":
        if request is not None:  # azure-location: the final GET is the Location URL again
            assert client.get(request.url).is_success
        assert job.results == 0
        return
    assert request is not None, vendor
    r = client.get(request.url, headers=sent(vendor))
    assert r.status_code == 200 and job.results == 1, (vendor, request.url, r.text)
    if vendor in ("fal", "azure", "openai-batch"):
        assert r.json() == {"answer": 42}


def test_stability_202_then_200_streams_a_binary_result(
    server: VendorServer, client: httpx.Client
) -> None:
    video = video_bytes(5 * 1024 * 1024 + 123)
    job = server.script("stability", ["in-progress", "in-progress", "done"], result=video)
    _first, url = follow(server, client, "stability", job)
    reader = compile_profile(load_profile("stability"))
    outcomes = []
    digest = hashlib.sha256()
    size = 0
    for _ in range(3):
        with client.stream("GET", url) as r:
            if r.status_code == 202:
                doc = json.loads(r.read())
                outcomes.append(reader.read(doc, status_code=202, headers=r.headers).outcome)
                continue
            assert r.headers["content-type"] == "video/mp4"
            assert reader.accepts_body(r.status_code, r.headers["content-type"])
            for chunk in r.iter_bytes():
                digest.update(chunk)
                size += len(chunk)
            outcomes.append(reader.read(None, status_code=200, headers=r.headers).outcome)
    assert outcomes == [None, None, "succeeded"]
    assert size == len(video) and digest.hexdigest() == hashlib.sha256(video).hexdigest()
    assert job.polls == 3


@pytest.mark.parametrize("vendor", [v for v in VENDORS if VENDORS[v].cancel is not None])
def test_cancel_goes_where_the_profile_says_and_is_counted_once(
    server: VendorServer, client: httpx.Client, vendor: str
) -> None:
    job = server.script(vendor, [RUNNING[vendor]])
    first, url = follow(server, client, vendor, job)
    r = ask(client, vendor, url, first)
    assert r.is_success
    reader = compile_profile(load_profile(PROFILE_OF[vendor]))
    assert reader.read(seen(r).body, status_code=r.status_code, headers=r.headers).outcome is None
    request = cancel_request(load_profile(PROFILE_OF[vendor]), start=first, status=seen(r))
    assert request is not None, vendor
    answer = client.request(request.method, request.url, json=request.json,
                            headers=sent(vendor))
    assert answer.is_success, (vendor, request, answer.text)
    assert job.cancels == 1
    if VENDORS[vendor].cancelled is not None:
        after = ask(client, vendor, url, first)
        reading = reader.read(seen(after).body, status_code=after.status_code,
                              headers=after.headers)
        assert reading.outcome == "failed", (vendor, reading.status)


def test_cancel_without_a_start_response(server: VendorServer, client: httpx.Client) -> None:
    # A plain wait on a status URL can still cancel: the URL is found from the status alone.
    for vendor in ("fal", "databricks-run", "celery-flower", "runpod", "github-actions"):
        job = server.script(vendor, [RUNNING[vendor]], started=True)
        r = client.get(server.status_url(job))
        request = cancel_request(load_profile(vendor), start=None, status=seen(r))
        assert request is not None, vendor
        assert client.request(request.method, request.url, json=request.json).is_success
        assert job.cancels == 1, vendor


def test_hint_headers_are_sent_on_every_status_response(
    server: VendorServer, client: httpx.Client
) -> None:
    cases = {
        "openai-batch": {"openai-poll-after-ms": "1500"},
        "azure": {"retry-after-ms": "250", "x-ms-retry-after-ms": "300", "Retry-After": "1"},
        "github-actions": {"X-Poll-Interval": "60"},
        "replicate": {"Retry-After": "2"},
    }
    for vendor, hints in cases.items():
        job = server.script(vendor, [RUNNING[vendor]], hints=hints, started=True)
        r = client.get(server.status_url(job))
        reader = compile_profile(load_profile(vendor))
        for name, value in hints.items():
            assert r.headers[name] == value
            assert name.lower() in (reader.hint_headers or ()), (vendor, name)
    job = server.script("azure", ["Running"])
    r = client.post(server.start_url("azure"), json=START_BODIES["azure"])
    assert r.status_code == 202 and r.headers["retry-after"] == "0"
    assert r.headers["operation-location"] == server.status_url(job)


def test_time_driven_scripts_and_unknown_routes(
    server: VendorServer, client: httpx.Client
) -> None:
    job = server.script("step-functions", [
        Step({"status": "RUNNING"}, at=0.0), Step({"status": "SUCCEEDED"}, at=3600.0)])
    assert client.get(server.status_url(job)).json() == {"status": "RUNNING"}
    late = server.script("step-functions", [
        Step({"status": "RUNNING"}, at=0.0), Step({"status": "SUCCEEDED"}, at=0.0)])
    assert client.get(server.status_url(late)).json() == {"status": "SUCCEEDED"}
    assert client.get(server.base + "/nope").status_code == 404
    assert client.get(server.base + "/v1/tasks/unknown").status_code == 404
    assert server.requests[-1] == ("GET", "/v1/tasks/unknown")


def test_start_requests_are_recorded(server: VendorServer, client: httpx.Client) -> None:
    before = len(server.start_bodies.get("runpod", []))
    server.script("runpod", ["IN_QUEUE"])
    start(server, client, "runpod")
    bodies = server.start_bodies["runpod"]
    assert len(bodies) == before + 1 and json.loads(bodies[-1]) == START_BODIES["runpod"]
    # No job scripted: the imitation answers 500, as a vendor would fail a start.
    assert client.post(server.start_url("runpod"), json={}).status_code == 500
