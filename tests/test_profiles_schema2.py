"""The schema's second round, on the vendors' imitations: request headers a profile sends
(never credentials), partial successes flagged in the report, ``--json`` and the summary."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import anyio
import pytest

from progress_client import AdaptivePolicy, AsyncProgressClient, ProgressClient
from progress_client._profile import ProfileError, load_profile, parse_profile

from .vendors import PARTIAL_NOTES, SCENARIOS, START_BODIES, VendorServer

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--initial", "0.05", "--step", "0.05", "--max", "0.2"]
POLICY = AdaptivePolicy(0.05, 0.05, 0.2)


@pytest.fixture(scope="module")
def server() -> Iterator[VendorServer]:
    with VendorServer() as srv:
        yield srv


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "progress_client", *args],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


# -- request headers -----------------------------------------------------------------------------


def test_profile_headers_go_with_every_request_of_the_job(server: VendorServer) -> None:
    # Anthropic refuses a request without anthropic-version (400); the profile sends it with
    # the start, every poll, the result's fetch and the cancel; the caller's key stays theirs.
    job = server.script("anthropic-batch", ["in_progress", "ended"])
    before = len(server.headers)
    with ProgressClient(policy=POLICY, headers={"x-api-key": "sk-ant-test"}) as client:
        done = client.run(server.start_url("anthropic-batch"),
                          json=START_BODIES["anthropic-batch"], profile="anthropic-batch",
                          timeout=20)
    assert done.status.status == "ended" and job.requests == 4  # start, 2 polls, results
    sent = server.headers[before:]
    assert len(sent) == 4
    assert all(h.get("anthropic-version") == "2023-06-01" for _, h in sent)
    assert all(h.get("x-api-key") == "sk-ant-test" for _, h in sent)
    # Without the profile, the imitation answers as Anthropic does.
    bare = server.script("anthropic-batch", ["in_progress"], started=True)
    p = cli("wait", server.status_url(bare), *FAST, "--timeout", "5", "--json")
    assert p.returncode == 4, p.stderr
    assert "HTTP 400" in json.loads(p.stdout)["error"]


@pytest.mark.anyio
async def test_profile_headers_async_and_on_the_cancel(server: VendorServer) -> None:
    job = server.script("openai-vector-store-batch", ["in_progress"])
    before = len(server.headers)
    async with AsyncProgressClient(policy=POLICY) as client:
        with pytest.raises(Exception) as caught:
            await client.run(server.start_url("openai-vector-store-batch"), json={},
                             profile="openai-vector-store-batch", timeout=0.6,
                             cancel_on_exit=True)
    assert getattr(caught.value, "cancelled_remote", None) is True and job.cancels == 1
    sent = server.headers[before:]
    assert len(sent) == job.requests
    assert all(h.get("openai-beta") == "assistants=v2" for _, h in sent)


@pytest.mark.parametrize("name", ["Authorization", "X-Api-Key", "Cookie", "api-key",
                                  "Ocp-Apim-Subscription-Key", "xi-api-key"])
def test_a_profile_never_holds_credentials(name: str) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile({"name": "x", "status": {"path": "s"}, "headers": {name: "secret"}},
                      where="profile file mine.toml")
    text = str(caught.value)
    assert "carries credentials" in text and "secret" not in text
    assert text.startswith("profile file mine.toml: headers:")


def test_profile_header_names_and_values_are_checked() -> None:
    with pytest.raises(ProfileError, match="not a header name"):
        parse_profile({"name": "x", "status": {"path": "s"}, "headers": {"bad name": "1"}})
    with pytest.raises(ProfileError, match="line break"):
        parse_profile({"name": "x", "status": {"path": "s"}, "headers": {"Accept": "a\r\nb"}})
    assert load_profile("anthropic-batch").headers == {"anthropic-version": "2023-06-01"}


# -- partial success -----------------------------------------------------------------------------

PARTIALS = sorted(PARTIAL_NOTES)


@pytest.fixture(scope="module")
def partial_runs(server: VendorServer) -> dict[tuple[str, str], tuple[str, str, int]]:
    def one(case: tuple[str, str]) -> tuple[str, str, int]:
        vendor, scenario = case
        phases, _ = SCENARIOS[vendor][scenario]
        text_job = server.script(vendor, phases, started=True)
        text = cli("wait", server.status_url(text_job), "--profile", vendor, *FAST)
        json_job = server.script(vendor, phases, started=True)
        data = cli("wait", server.status_url(json_job), "--profile", vendor, *FAST, "--json")
        assert text.returncode == 0 and data.returncode == 0, (text.stderr, data.stderr)
        return text.stdout + text.stderr, data.stdout, json_job.polls

    with ThreadPoolExecutor(max_workers=3) as pool:
        return dict(zip(PARTIALS, pool.map(one, PARTIALS)))


@pytest.mark.parametrize(("vendor", "scenario"), PARTIALS,
                         ids=[f"{v}-{s}" for v, s in PARTIALS])
def test_partial_success_is_flagged_in_the_summary_and_json(
    partial_runs: dict[tuple[str, str], tuple[str, str, int]], vendor: str, scenario: str
) -> None:
    text, data, polls = partial_runs[(vendor, scenario)]
    note = PARTIAL_NOTES[(vendor, scenario)]
    assert f"partial success: {note}" in text
    out = json.loads(data)
    assert out["outcome"] == "succeeded" and out["partial"] is True
    assert out["note"] is not None and note in out["note"]
    assert out["requests"] == polls == len(SCENARIOS[vendor][scenario][0])


def test_a_full_success_is_not_partial(server: VendorServer) -> None:
    job = server.script("vertex-batch", SCENARIOS["vertex-batch"]["succeeded"][0], started=True)
    out = json.loads(cli("wait", server.status_url(job), "--profile", "vertex-batch", *FAST,
                         "--json").stdout)
    assert out["outcome"] == "succeeded" and out["partial"] is False and out["note"] is None


def test_partial_in_python_sync_and_async(server: VendorServer) -> None:
    phases, _ = SCENARIOS["mistral-batch"]["partial"]
    job = server.script("mistral-batch", phases)
    with ProgressClient(policy=POLICY) as client:
        done = client.run(server.start_url("mistral-batch"), json={}, profile="mistral-batch",
                          timeout=20)
    extra = done.status.model_extra or {}
    assert extra.get("partial") is True and "2 of 10 requests failed" in extra["note"]
    assert done.report.requests == job.requests == 4  # start, 2 polls, the output file

    async def main() -> dict[str, object]:
        again = server.script("mistral-batch", phases)
        async with AsyncProgressClient(policy=POLICY) as client:
            result = await client.run(server.start_url("mistral-batch"), json={},
                                      profile="mistral-batch", timeout=20)
        assert result.report.requests == again.requests == 4
        return dict(result.status.model_extra or {})

    for backend in ("asyncio", "trio"):
        assert anyio.run(main, backend=backend).get("partial") is True


def test_partial_goes_with_succeeded_only() -> None:
    with pytest.raises(ProfileError, match="'partial' goes with then = 'succeeded'"):
        parse_profile({"name": "x", "status": {"path": "s"}, "outcome": [
            {"when": {"status": ["done"]}, "then": "failed", "partial": True}]})
