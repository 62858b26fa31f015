"""The shared schedule vectors (tests/vectors/schedule.json) through the Python client: each
case's responses are served by an httpx mock transport to a ``ProgressClient`` on a virtual
clock, and the gaps between its requests must be the case's delays. The browser module runs
the same file in a real Chromium (tests/test_browser.py), so the two clients keep one rule."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import httpx
import pytest

from progress_client import AdaptivePolicy, ProgressClient, StatusSpec, VirtualClock

VECTORS = json.loads((Path(__file__).parent / "vectors" / "schedule.json").read_text("utf-8"))
URL = "http://jobs.test/jobs/1"


def _cases(long_poll: bool) -> list[Any]:
    return [pytest.param(c, id=c["name"][:60]) for c in VECTORS["cases"]
            if ("long_poll" in c) == long_poll]


class VectorServer:
    """Serves one case's responses in order, then ``completed``; records when each request
    came (virtual time) and what it carried."""

    def __init__(self, case: dict[str, Any], clock: VirtualClock) -> None:
        self.responses = [*case["responses"], {"kind": "final"}]
        self.clock = clock
        self.times: list[float] = []
        self.requests: list[httpx.Request] = []
        self.word: str | None = None
        self.version = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        step = self.responses[len(self.times)]
        self.times.append(self.clock.now())
        self.requests.append(request)
        headers: dict[bytes, bytes] = {}
        if "retry_after" in step:
            # UTF-8 on the wire, so a hint of non-ASCII digits arrives as it is written.
            headers[b"Retry-After"] = step["retry_after"].encode("utf-8")
        if step.get("preference_applied") and "prefer" in request.headers:
            headers[b"Preference-Applied"] = request.headers["prefer"].encode("ascii")
        kind = step["kind"]
        if kind == "network":
            raise httpx.ConnectError("connection refused", request=request)
        if kind == "error":
            return httpx.Response(step["status"], headers=headers)
        if kind in ("changed", "final"):
            self.version += 1
            self.word = "completed" if kind == "final" else f"step-{self.version}"
        headers[b"ETag"] = f'"v{self.version}"'.encode("ascii")
        if kind == "not_modified":
            return httpx.Response(304, headers=headers)
        return httpx.Response(200, json={"status": self.word}, headers=headers)


def _run(case: dict[str, Any], **options: Any) -> VectorServer:
    clock = VirtualClock(wall_start=float(VECTORS["wall_start"]))
    server = VectorServer(case, clock)
    policy = AdaptivePolicy(**{"maximum" if k == "max" else k: v
                               for k, v in case["policy"].items()})
    transport = httpx.MockTransport(server)
    with httpx.Client(transport=transport) as http, ProgressClient(
        client=http, clock=clock, policy=policy, **options
    ) as client:
        result = client.wait(URL)
    assert result.status.status == "completed"
    return server


def _gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:])]


@pytest.mark.parametrize("case", _cases(long_poll=False))
def test_python_client_follows_the_shared_vectors(case: dict[str, Any]) -> None:
    server = _run(case)
    gaps = _gaps(server.times)
    assert len(gaps) == len(case["delays"])
    for got, want in zip(gaps, case["delays"]):
        assert math.isclose(got, want, abs_tol=1e-9), (gaps, case["delays"])
    # If-None-Match with the last ETag on every poll once a status has been read.
    seen_status = False
    for request, step in zip(server.requests, server.responses):
        assert ("if-none-match" in request.headers) == seen_status
        seen_status = seen_status or step["kind"] in ("changed", "unchanged")


@pytest.mark.parametrize("case", _cases(long_poll=True))
def test_python_client_follows_the_long_poll_vectors(case: dict[str, Any]) -> None:
    server = _run(case, long_poll=True)
    # Prefer: wait on every poll until the first answer that says the poll was not held.
    asking = True
    for request, step in zip(server.requests, server.responses):
        assert ("prefer" in request.headers) == asking
        if step["kind"] in ("changed", "unchanged", "not_modified"):
            asking = asking and bool(step.get("preference_applied"))
    gaps = _gaps(server.times)
    for got, want in zip(gaps, case["delays"], strict=True):
        assert math.isclose(got, want, abs_tol=1e-9), (gaps, case["delays"])


def test_the_vectors_cover_every_rule() -> None:
    kinds = {r["kind"] for c in VECTORS["cases"] for r in c["responses"]}
    assert kinds == {"changed", "unchanged", "not_modified", "error", "network"}
    statuses = {r["status"] for c in VECTORS["cases"] for r in c["responses"] if "status" in r}
    assert statuses == {408, 425, 429, 500, 502, 503, 504}
    assert any("retry_after" in r for c in VECTORS["cases"] for r in c["responses"])
    assert any(c.get("long_poll") for c in VECTORS["cases"])
    for case in VECTORS["cases"]:
        assert len(case["responses"]) == len(case["delays"]), case["name"]


def test_browser_module_words_match_the_python_defaults() -> None:
    """The npm package's terminal words (its source, js/src/schedule.ts, built into the module
    the server serves) are the Python client's defaults."""
    source = (Path(__file__).parents[1] / "js" / "src" / "schedule.ts").read_text("utf-8")

    def words(name: str) -> set[str]:
        prefix = f"export const {name}: readonly string[] = "
        start = source.index(prefix) + len(prefix)
        body = source[source.index("[", start) + 1 : source.index("]", start)]
        return {w.strip().strip('"') for w in body.replace("\n", " ").split(",") if w.strip()}

    spec = StatusSpec()
    assert words("SUCCESS") == set(spec.success)
    assert words("FAILURE") == set(spec.failure)
