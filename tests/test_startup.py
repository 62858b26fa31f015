"""Start-up of the command line: ``wait`` imports only what it uses (checked on a real run
against a server on 127.0.0.1), ``--version`` and the parsers import no client, deferred
modules still work when used, and the process-start clock behind ``--timeout``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks.startup import StartupResult, StubbornServer, startup
from progress_client.cli import COMMANDS, build_parser
from progress_client.cli import _started as started_mod
from progress_client.cli._started import process_started, time_left

ROOT = Path(__file__).resolve().parents[1]

#: Never on the path of a non-terminal ``wait``: the async client and its event-loop
#: libraries, the server and its dependencies, rich (the live line is for terminals only), the
#: event-stream extra (no --events given), httpx's own command line and plotting.
FORBIDDEN_ON_WAIT = (
    "anyio", "trio", "sniffio", "progress_client.drivers.aio", "progress_client.drivers.many",
    "progress_client.server", "progress_client.cli.demo", "progress_client.cli.serve",
    "progress_client.cli.plan", "progress_client.core.plan", "rich", "rich.live", "rich.table",
    "rich.console", "starlette", "uvicorn", "redis", "httpx_sse", "click", "pygments",
    "matplotlib",
)

#: Reports, as JSON, the exit code of ``main()`` run as the process's command line and which
#: of the given modules were imported for real by then (a deferred stand-in does not count).
PROBE = """
import json, sys
watch = json.loads(sys.argv[1])
sys.argv = ["progress-client", *sys.argv[2:]]
from progress_client.cli import main
from progress_client.cli._imports import is_loaded
try:
    code = main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "loaded": [m for m in watch if is_loaded(m)]}))
"""


def probe(*argv: str, watch: tuple[str, ...] = FORBIDDEN_ON_WAIT) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(watch), *argv],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def stubborn() -> Iterator[StubbornServer]:
    with StubbornServer() as server:
        yield server


@pytest.mark.e2e
def test_a_wait_run_imports_only_what_it_uses(stubborn: StubbornServer) -> None:
    url = stubborn.url("completed")
    out = probe("wait", url, watch=(*FORBIDDEN_ON_WAIT, "httpx", "progress_client.drivers.sync"))
    assert out["code"] == 0
    assert stubborn.arrivals(url), "the command sent no request"
    # The client it did use is loaded, and nothing on the forbidden list.
    assert out["loaded"] == ["httpx", "progress_client.drivers.sync"]


@pytest.mark.e2e
def test_a_wait_that_times_out_imports_no_more(stubborn: StubbornServer) -> None:
    url = stubborn.url("running")
    out = probe("wait", url, "--timeout", "0.3", "--json")
    assert out == {"code": 3, "loaded": []}


def test_importing_the_command_modules_imports_no_client() -> None:
    heavy = ("httpx", "pydantic", "rich", "anyio", "progress_client.drivers.sync",
             "progress_client.core.engine")
    code = (
        "import sys, progress_client.cli.wait, progress_client.cli.plan; "
        "from progress_client.cli import build_parser; build_parser('wait'); "
        "build_parser('plan'); build_parser(); "
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    assert proc.stdout.strip() == "[]"


def test_version_and_help_import_no_command() -> None:
    watch = ("httpx", "pydantic", "rich", "progress_client.cli.wait",
             "progress_client.cli.demo", "progress_client.cli.plan")
    for argv in (["--version"], ["--help"]):
        out = probe(*argv, watch=watch)
        assert out == {"code": 0, "loaded": []}, argv


def test_the_listing_says_what_each_command_says() -> None:
    for name, text in COMMANDS.items():
        parser = build_parser(name)
        sub = next(a for a in parser._actions if a.dest == "command")
        helps = {c.dest: c.help for c in sub._choices_actions}  # type: ignore[attr-defined]
        assert helps[name] == text


def test_deferred_modules_load_when_used() -> None:
    # A fresh process whose httpx client runs with anyio deferred, then uses anyio for real.
    code = "\n".join([
        "from progress_client.cli._imports import is_loaded, trim_imports",
        "trim_imports()",
        "import httpx",
        "httpx.Client().close()",
        "assert not is_loaded('anyio')",
        "import anyio",
        "async def main():",
        "    await anyio.sleep(0)",
        "    return 'ran'",
        "print(anyio.run(main), is_loaded('anyio'))",
    ])
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["ran", "True"]


def test_process_start_is_this_process_start() -> None:
    code = (
        "import time; t = time.monotonic(); "
        "from progress_client.cli._started import process_started; "
        "print(t - process_started())"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True)
    age_at_first_line = float(proc.stdout)
    # The interpreter's own start-up came before the first line: a few to tens of ms, never
    # negative beyond the kernel's tick (10 ms), never seconds.
    assert -0.011 <= age_at_first_line < 2.0


def test_process_start_falls_back_without_proc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(started_mod, "_kernel_age", lambda: None)
    monkeypatch.setattr(started_mod, "IMPORTED", time.monotonic() - 0.5)
    assert abs(time.monotonic() - 0.5 - process_started()) < 0.05
    # A program that calls main() long after it started: count from now, not from then.
    monkeypatch.setattr(started_mod, "_kernel_age", lambda: 3600.0)
    assert time.monotonic() - process_started() < 0.05


def test_time_left() -> None:
    now = time.monotonic()
    assert time_left(None, now) is None
    assert time_left(5.0, None) == 5.0
    left = time_left(5.0, now - 1.0)
    assert left is not None and 3.9 < left <= 4.0
    assert time_left(1.0, now - 10.0) == 0.0


@pytest.mark.e2e
def test_the_startup_benchmark_measures_both_commands() -> None:
    res = startup(runs=1)
    assert set(res.to_request) == {StartupResult.REFERENCE, StartupResult.WAIT,
                                   StartupResult.REFERENCE_CLEAN}
    assert all(0 < s < 10 for s in res.to_request.values())
    assert all(0 < s < 10 for s in res.to_exit.values())
    assert res.ratio > 0 and "ratio" in res.markdown()
