"""``progress-client profiles``: the listing, ``show`` of a built-in and of a file, and a bad
profile file given by path: exit 2, one line naming the file and the key, no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from progress_client.cli import main
from progress_client.profiles.profile import builtin_names

ROOT = Path(__file__).parents[1]


def test_the_listing_has_one_line_per_builtin(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(builtin_names())
    gh = next(line for line in lines if line.startswith("github-actions "))
    assert "status=status" in gh and "outcome+=conclusion" in gh
    assert "hints=retry-after,x-poll-interval" in gh and "start=body run_url" in gh
    azure = next(line for line in lines if line.startswith("azure "))
    assert "operation-location header" in azure and "location header on 201/202" in azure
    k8s = next(line for line in lines if line.startswith("kubernetes-job "))
    assert "outcome+=status.conditions" in k8s


def test_the_listing_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["profiles"]
    by_name = {r["name"]: r for r in rows}
    assert set(by_name) == set(builtin_names())
    assert by_name["replicate"]["failed"] == ["aborted", "canceled", "failed"]
    assert by_name["fal"]["outcome_fields"] == ["error"]
    assert by_name["stability"]["result"] == "body"
    assert by_name["fal"]["cancel"] == "PUT"


def test_show_prints_a_builtin_with_its_sources(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles", "show", "celery-flower"]) == 0
    out = capsys.readouterr().out
    assert out == (ROOT / "progress_client" / "profiles" / "celery-flower.toml").read_text()
    assert "mher/flower@e6cf8ef7" in out and 'failed = ["FAILURE", "REVOKED"]' in out


def test_show_checks_a_file_of_your_own(capsys: pytest.CaptureFixture[str]) -> None:
    path = ROOT / "tests" / "profiles" / "acme-render.toml"
    assert main(["profiles", "show", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(path.read_text())
    assert out.splitlines()[-1].startswith("# ok: status=job.phase")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[status]\npath = "state"\n[[outcome]]\nthen = "failed"\nwhen = { feild = "x" }\n',
         "outcome[0].when[0]: unknown key 'feild'"),
        ("[status\n", "not valid TOML"),
    ],
)
def test_a_bad_profile_file_exits_2_with_one_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(text)
    proc = subprocess.run(
        [sys.executable, "-m", "progress_client", "profiles", "show", str(path)],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"progress-client: profile file {path}: ")
    assert expected in lines[0] and "Traceback" not in proc.stderr


def test_unknown_names_and_missing_files_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["profiles", "show", "github"]) == 2
    err = capsys.readouterr().err
    assert "unknown profile 'github'" in err and "github-actions" in err
    assert main(["profiles", "show", str(tmp_path / "none.toml")]) == 2
    assert "none.toml: no such file" in capsys.readouterr().err
