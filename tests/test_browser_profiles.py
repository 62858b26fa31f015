"""The npm package reads the same profile data as the Python client: js/profiles/profiles.json
is the built-in profiles as progress_client's own loader reads them (a fresh export must equal
it), and the shared vendor cases (tests/vectors/profiles.json) give the same status word and
outcome here as in Node (js/test/profiles.test.mjs runs the same file)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from progress_client.profiles.profile import load_profile
from progress_client.profiles.reader import compile_profile

ROOT = Path(__file__).resolve().parent.parent
CASES = json.loads((ROOT / "tests" / "vectors" / "profiles.json").read_text("utf-8"))["cases"]


def _exporter() -> Any:
    spec = importlib.util.spec_from_file_location("export_profiles",
                                                  ROOT / "js" / "scripts" / "export_profiles.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_packaged_profiles_are_a_fresh_export() -> None:
    committed = json.loads((ROOT / "js" / "profiles" / "profiles.json").read_text("utf-8"))
    assert committed == _exporter().export(), (
        "js/profiles/profiles.json is stale: python js/scripts/export_profiles.py > "
        "js/profiles/profiles.json")


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['profile']}:{c['outcome']}")
def test_python_reads_each_shared_case_as_the_vector_says(case: dict[str, Any]) -> None:
    reading = compile_profile(load_profile(case["profile"])).read(case["document"])
    assert (reading.status.status, reading.outcome) == (case["status"], case["outcome"])
