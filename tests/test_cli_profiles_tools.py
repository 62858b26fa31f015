"""``progress-client profiles lint | test | export``: tools for people who write their own
profiles, and for the browser package (every profile as data)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from progress_client.cli import main
from progress_client.profiles.profile import builtin_names, load_profile, parse_profile

from .serving import fixture
from .vendors import VendorServer

ROOT = Path(__file__).resolve().parents[1]


server = fixture(VendorServer, scope="module")


BAD = """\
name = "mine"
[status]
path = "state"
sucess = ["done"]
failed = ["done"]

[progres]
path = "pct"

[[outcome]]
when = { stauts = ["x"] }
then = "won"

[headers]
Authorization = "Bearer sk-live-abcdefghijklmnop"
"""


def test_lint_lists_every_problem_with_its_key_and_a_guess(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(BAD)
    assert main(["profiles", "lint", str(path)]) == 2
    lines = capsys.readouterr().out.splitlines()
    where = f"profile file {path}: "
    assert all(line.startswith(where) for line in lines), lines
    text = "\n".join(lines)
    assert "status: unknown key 'sucess' (did you mean 'succeeded'?)" in text
    assert "unknown key 'progres' (did you mean 'progress'?)" in text
    assert "outcome[0].when[0]: unknown key 'stauts' (did you mean 'status'?)" in text
    assert "outcome[0].then:" in text
    assert "headers: 'Authorization' carries credentials" in text
    assert "sk-live" not in text
    assert len(lines) >= 5


def test_lint_passes_a_good_file_and_every_builtin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = ROOT / "tests" / "profiles" / "acme-render.toml"
    builtins = [str(ROOT / "progress_client" / "profiles" / f"{n}.toml") for n in builtin_names()]
    assert main(["profiles", "lint", str(good), *builtins]) == 0
    out = capsys.readouterr().out
    assert out.count(": ok") == 1 + len(builtins)
    bad_toml = tmp_path / "broken.toml"
    bad_toml.write_text("[status\npath = 1")
    assert main(["profiles", "lint", str(bad_toml), str(tmp_path / "none.json")]) == 2
    out = capsys.readouterr().out
    assert "not valid TOML" in out and "cannot read it" in out


def test_wait_and_run_say_did_you_mean_for_a_profile_file(tmp_path: Path) -> None:
    path = tmp_path / "typo.toml"
    path.write_text('[status]\npath = "state"\n\n[[outcome]]\nwhen = { feild = 1 }\n'
                    'then = "failed"\n')
    for command in (["wait", "http://127.0.0.1:9/x"], ["run", "http://127.0.0.1:9/x"]):
        p = subprocess.run([sys.executable, "-m", "progress_client", *command, "--profile",
                            str(path)], capture_output=True, text=True, timeout=60, cwd=ROOT)
        assert p.returncode == 2, p.stderr
        assert "outcome[0].when[0]: unknown key 'feild'" in p.stderr
        assert "Traceback" not in p.stderr


def test_profiles_test_reads_one_status(
    server: VendorServer, capsys: pytest.CaptureFixture[str]
) -> None:
    job = server.script("mistral-batch", ["RUNNING"], started=True, hints={"Retry-After": "2"})
    assert main(["profiles", "test", "mistral-batch", server.status_url(job)]) == 0
    out = capsys.readouterr().out
    assert f"GET {server.status_url(job)} -> HTTP 200 (application/json" in out
    assert "status: RUNNING" in out and "outcome: running" in out and "progress: 40%" in out
    assert "hint: retry-after: 2" in out
    assert f"cancel would be: POST {server.status_url(job)}/cancel" in out
    assert job.polls == 1 and job.cancels == 0  # one request, nothing else sent
    # A trap, as JSON: GitLab's manual is a person's job; Anthropic's header is sent.
    manual = server.script("gitlab-pipeline", ["manual"], started=True)
    assert main(["profiles", "test", "gitlab-pipeline", server.status_url(manual), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["outcome"] == "needs_action" and data["status"] == "manual"
    batch = server.script("anthropic-batch", ["ended:partial"], started=True)
    assert main(["profiles", "test", "anthropic-batch", server.status_url(batch), "--json",
                 "-H", "x-api-key: sk-ant-test"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["outcome"] == "succeeded" and data["partial"] is True
    assert data["result"]["url"].endswith(f"/{batch.id}/results")


def test_profiles_test_problems(
    server: VendorServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job = server.script("kling", ["processing"], started=True)
    # The wrong profile for this API: not a status document for it.
    assert main(["profiles", "test", "runway", server.status_url(job)]) == 4
    assert "problem: not a status document for this profile" in capsys.readouterr().out
    assert main(["profiles", "test", "kling", server.base + "/nope"]) == 4
    assert "HTTP 404" in capsys.readouterr().out
    assert main(["profiles", "test", "nope", server.base]) == 2
    assert main(["profiles", "test", "kling", server.base, "-H", "bad header"]) == 2


def test_export_gives_every_profile_as_data(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles", "export", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["version"] == 1
    names = [p["name"] for p in data["profiles"]]
    assert names == list(builtin_names()) and len(names) >= 40
    for item in data["profiles"]:
        # Each one is the profile itself: it loads back to the same.
        assert parse_profile(dict(item)) == load_profile(item["name"]), item["name"]
        assert item["sources"]
    anthropic = next(p for p in data["profiles"] if p["name"] == "anthropic-batch")
    assert anthropic["headers"] == {"anthropic-version": "2023-06-01"}


def test_the_docs_page_lists_every_builtin_with_its_sources() -> None:
    text = (ROOT / "docs" / "profiles-catalog.md").read_text()
    rows = {line.split("|")[1].strip().strip("`"): line for line in text.splitlines()
            if line.startswith("| `")}
    assert set(rows) == set(builtin_names())
    for name in builtin_names():
        profile = load_profile(name)
        path = profile.status.path or "(none)"
        if len(path) <= 40 and "|" not in path:
            assert f"`{path}`" in rows[name], name
        for source in profile.sources:
            assert source in rows[name], (name, source)
