"""Every ```python block of README.md and docs/**/*.md runs as written, each in a fresh
interpreter with a timeout, and exits 0 without a traceback: a sample that cannot run is not a
sample. Blocks that name the "try it locally" server (127.0.0.1:8000) get one, with job 42
going through its states (tests/samples.py says how). CI runs the README's blocks once more
from a clean virtual environment holding only the wheel (.ci/readme-proof)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.samples import LocalServer, Sample, python_samples, run_sample

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
SAMPLES = [sample for page in PAGES for sample in python_samples(page)]


@pytest.fixture(scope="module")
def local_server() -> Iterator[LocalServer]:
    with LocalServer() as server:
        yield server


def test_the_readme_has_python_samples_and_the_docs_have_pages() -> None:
    assert len(PAGES) > 5
    readme = [s for s in SAMPLES if s.path.name == "README.md"]
    assert len(readme) >= 2 and all(s.needs_server for s in readme)


@pytest.mark.e2e
@pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])
def test_the_sample_runs_as_written(sample: Sample, local_server: LocalServer) -> None:
    proc = run_sample(sample, server=local_server if sample.needs_server else None)
    assert proc.returncode == 0, f"{sample.name} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
