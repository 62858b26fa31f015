"""The source distribution runs its own tests: built from this tree (offline, with the installed
hatchling), it holds the package with its data files, the tests and everything they import
(the benchmarks' process helpers), and a quick subset of its tests passes from the unpacked
tree, with that tree's package first on the path."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Quick and import-heavy enough: conftest (and so benchmarks.procs), the engine, the policy.
SUBSET = ["tests/test_engine.py", "tests/test_policy.py"]
#: Run in the unpacked tree: take every other source tree of the project off ``sys.path``
#: (an editable install puts the repository there, where a module the sdist lacks would be
#: found instead), say where the package, the kit and the benchmarks' helpers come from, then
#: run pytest.
DRIVER = """
import os, sys
here = os.getcwd()
sys.path[:] = [p for p in sys.path if os.path.realpath(p or here) == here or not (
    os.path.isfile(os.path.join(p, "pyproject.toml"))
    and os.path.isdir(os.path.join(p, "progress_client")))]
import benchmarks.procs, progress_client, tests.kit
for module in (progress_client, tests.kit, benchmarks.procs):
    print(module.__file__)
import pytest
sys.exit(pytest.main(["-q", *sys.argv[1:]]))
"""
TOP_LEVEL = {"PKG-INFO", "pyproject.toml", ".gitignore", "README.md", "SECURITY.md", "LICENSE",
             "CHANGELOG.md", "docs", "mkdocs.yml", "progress_client", "tests", "benchmarks",
             "js", "examples", "tools"}


@pytest.fixture(scope="module")
def sdist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--no-isolation", "--outdir", str(out),
         str(ROOT)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (archive,) = out.glob("*.tar.gz")
    return archive


def _names(archive: Path) -> set[str]:
    with tarfile.open(archive) as tar:
        return {m.name.partition("/")[2] for m in tar.getmembers() if m.isfile()}


def _shipped(*dirs: str, pattern: str) -> set[str]:
    """The files of this tree the sdist must hold (no caches)."""
    return {
        p.relative_to(ROOT).as_posix()
        for d in dirs for p in (ROOT / d).rglob(pattern)
        if "__pycache__" not in p.parts
    }


def test_the_sdist_holds_the_package_the_tests_and_what_they_import(sdist: Path) -> None:
    names = _names(sdist)
    assert {n.partition("/")[0] for n in names} == TOP_LEVEL
    must = {
        "progress_client/py.typed",
        "progress_client/server/static/progress-client.js",
        "tests/conftest.py",
        "tests/kit.py",
        "tests/faultserver.py",
        "tests/vectors/schedule.json",
        "benchmarks/__init__.py",
        "benchmarks/procs.py",
    }
    must |= _shipped("progress_client", "tests", "benchmarks", pattern="*.py")
    must |= _shipped("progress_client/profiles", "tests/profiles", pattern="*.toml")
    assert must <= names, sorted(must - names)
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_the_unpacked_sdist_runs_its_tests(sdist: Path, tmp_path: Path) -> None:
    with tarfile.open(sdist) as tar:
        if hasattr(tarfile, "data_filter"):  # Python 3.10.12+, 3.11.4+
            tar.extractall(tmp_path, filter="data")
        else:  # pragma: no cover - an older 3.10 or 3.11
            tar.extractall(tmp_path)
    (tree,) = tmp_path.iterdir()
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, *SUBSET], cwd=tree, capture_output=True, text=True,
        timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    imported = proc.stdout.splitlines()[:3]
    assert len(imported) == 3 and all(Path(f).is_relative_to(tree) for f in imported), imported
    assert " passed" in proc.stdout


def test_the_version_is_written_once(sdist: Path) -> None:
    """The sdist's metadata, ``__version__``, ``--version`` and the User-Agent say one version."""
    import progress_client
    from progress_client.transports.http import USER_AGENT

    version = progress_client.__version__
    with tarfile.open(sdist) as tar:
        (member,) = [m for m in tar.getmembers() if m.name.count("/") == 1
                     and m.name.endswith("/PKG-INFO")]
        handle = tar.extractfile(member)
        assert handle is not None
        metadata = handle.read().decode()
    assert f"\nVersion: {version}\n" in metadata
    assert sdist.name == f"progress_client-{version}.tar.gz"
    assert f"progress-client/{version}" == USER_AGENT
    proc = subprocess.run([sys.executable, "-m", "progress_client", "--version"],
                          capture_output=True, text=True, timeout=60, check=True)
    assert proc.stdout.split() == ["progress-client", version]


def test_the_npm_package_has_the_same_version() -> None:
    """The npm package (js/) is released with the Python package: one version for both."""
    import json

    import progress_client

    root = Path(__file__).resolve().parents[1] / "js"
    package = json.loads((root / "package.json").read_text())
    lock = json.loads((root / "package-lock.json").read_text())
    assert package["version"] == lock["version"] == lock["packages"][""]["version"] == (
        progress_client.__version__)

