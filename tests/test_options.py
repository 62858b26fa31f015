"""The clients' options are declared once (``progress_client/core/options.py``): both signatures,
``WaitConfig``, the command line's flags and the docs' table follow the declaration, and a
test here fails, saying what to do, when one drifts. Every option is checked there when a
client is built: a bad value is a ``ValueError`` or ``TypeError`` naming the option, before
any request."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import ssl
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import pytest

import progress_client
from progress_client import AsyncProgressClient, ProgressClient, StatusSpec, WaitConfig
from progress_client.cli import build_parser, main
from progress_client.core.options import OPTIONS, option, options_of
from tools import options_codegen as declared

ROOT = Path(__file__).resolve().parents[1]
CLIENTS = {"sync": ProgressClient, "async": AsyncProgressClient}
REGENERATE = "run `python -m tools.options_codegen` to regenerate it from the declaration"


# -- the signatures ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_each_signature_is_the_declaration(kind: str) -> None:
    params = list(inspect.signature(CLIENTS[kind].__init__).parameters.values())[1:]
    wanted = options_of(kind)
    assert [p.name for p in params] == [o.name for o in wanted], REGENERATE
    for p, o in zip(params, wanted, strict=True):
        assert p.kind is inspect.Parameter.KEYWORD_ONLY, p.name
        assert p.default == o.default, f"{p.name}'s default; {REGENERATE}"
        assert p.annotation == o.annotation(kind), f"{p.name}'s type; {REGENERATE}"


def test_the_generated_blocks_and_the_docs_table_are_current() -> None:
    for path, text in declared.generated_files(str(ROOT)).items():
        assert (ROOT / path).read_text(encoding="utf-8") == text, f"{path}: {REGENERATE}"


def test_regenerating_rewrites_a_drifted_block(tmp_path: Path) -> None:
    # What a developer gets after adding an option to the table: the block, rewritten.
    for path in ("progress_client/drivers/sync.py", "progress_client/drivers/aio.py",
                 "progress_client/core/config.py", "docs/usage.md"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text((ROOT / path).read_text(encoding="utf-8"),
                                     encoding="utf-8")
    sync = tmp_path / "progress_client/drivers/sync.py"
    sync.write_text(sync.read_text(encoding="utf-8").replace(
        "        hint_cap: float = 300.0,\n", ""), encoding="utf-8")
    assert "hint_cap" not in sync.read_text(encoding="utf-8")
    fixed = declared.generated_files(str(tmp_path))
    sync_path = "progress_client/drivers/sync.py"
    assert fixed[sync_path] == (ROOT / sync_path).read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="markers"):
        declared.replace_between("no markers here", declared.BEGIN, declared.END, "x")


def test_mypy_sees_every_keyword_and_its_type(tmp_path: Path) -> None:
    snippet = tmp_path / "uses_options.py"
    snippet.write_text(textwrap.dedent("""\
        from progress_client import AsyncProgressClient, ProgressClient

        ProgressClient(max_redirects=3, max_body=1 << 16, conditional=False)
        AsyncProgressClient(transport="httpx", max_concurrency=10)
        ProgressClient(max_redirect=3)
        AsyncProgressClient(max_concurrency="10")
        ProgressClient(transport="httpx")
        """), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(snippet)],
        capture_output=True, text=True, timeout=300, cwd=ROOT, check=False,
    )
    errors = [line for line in proc.stdout.splitlines() if ": error:" in line]
    # The three wrong calls, and nothing else: the right ones type-check.
    assert [e.split(":")[1] for e in errors] == ["5", "6", "7"], proc.stdout + proc.stderr
    assert 'Unexpected keyword argument "max_redirect"' in errors[0]
    assert '"max_concurrency"' in errors[1] and 'expected "int"' in errors[1]
    assert 'Unexpected keyword argument "transport" for "ProgressClient"' in errors[2]


# -- WaitConfig -------------------------------------------------------------------------------

#: WaitConfig's fields that are not options of the same name: ``policy`` (the option's
#: ``None`` becomes an ``AdaptivePolicy``) and ``reader`` (built from ``spec``,
#: ``status_field``, ``success``, ``failure``, ``change_on``, ``model`` or ``profile``).
BUILT_FIELDS = {"policy", "reader"}


def test_waitconfig_has_a_field_for_each_config_option() -> None:
    fields = {f.name: f for f in dataclasses.fields(WaitConfig) if f.init}
    config = {o.name for o in OPTIONS if o.config}
    assert set(fields) - BUILT_FIELDS == config, (
        f"WaitConfig lacks {sorted(config - set(fields))}, has {sorted(set(fields) - config)}"
        f" not marked config=True: {REGENERATE}")
    for name in config:
        assert fields[name].default == option(name).default, f"WaitConfig.{name}'s default"


@pytest.mark.parametrize("name", sorted(o.name for o in OPTIONS if o.config))
def test_waitconfig_runs_the_declared_check(name: str) -> None:
    assert name in BAD, f"{name}: add a bad value to BAD in this test"
    bad = BAD[name][0]
    if name == "long_poll":
        bad = 61.0
    with pytest.raises((ValueError, TypeError), match=name):
        WaitConfig(**{name: bad})


# -- every option checked, once, before any request ---------------------------------------------

#: A bad value for every option, and the error it is.
BAD: dict[str, tuple[Any, type[Exception]]] = {
    "policy": (3.0, TypeError),
    "baseline": (0, ValueError),
    "headers": (["Authorization: x"], TypeError),
    "auth": ("user:password", TypeError),
    "client": (object(), TypeError),
    "spec": ({"status_field": "state"}, TypeError),
    "status_field": (5, TypeError),
    "success": (7, TypeError),
    "failure": ([1, 2], TypeError),
    "change_on": (3, TypeError),
    "model": (dict(), TypeError),
    "max_consecutive_errors": (True, ValueError),
    "hint_cap": (float("inf"), ValueError),
    "max_body": (0, ValueError),
    "request_timeout": (-1, ValueError),
    "conditional": ("no", TypeError),
    "long_poll": (61, ValueError),
    "verify": (1, TypeError),
    "max_redirects": (-1, ValueError),
    "max_concurrency": ("10", ValueError),
    "sse_max_failures": (0, ValueError),
    "allow_fast_polling": (1, TypeError),
    "event_types": ([""], ValueError),
    "on_request": ("print", TypeError),
    "on_change": (42, TypeError),
    "before_request": (object(), TypeError),
    "profile": (42, TypeError),
    "limits": (60, TypeError),
    "clock": ("monotonic", TypeError),
    "wall_clock": (0.0, TypeError),
    "transport": ("curl", ValueError),
}


def test_every_option_has_a_check_and_a_bad_value_here() -> None:
    for o in OPTIONS:
        assert o.check is not None, f"{o.name}: declare its check"
        assert o.name in BAD, f"{o.name}: add a bad value to BAD in this test"
    assert set(BAD) == {o.name for o in OPTIONS}


@pytest.mark.parametrize(
    ("kind", "name"),
    [(k, o.name) for k in ("sync", "async") for o in options_of(k)],
)
def test_a_bad_value_is_refused_at_construction(
    kind: str, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[httpx.Request] = []
    monkeypatch.setattr(httpx.HTTPTransport, "handle_request",
                        lambda self, request: sent.append(request))
    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request",
                        lambda self, request: sent.append(request))
    assert name in BAD, f"{name}: add a bad value to BAD in this test"
    value, error = BAD[name]
    with pytest.raises(error, match=name):
        CLIENTS[kind](**{name: value})
    assert sent == []


def test_good_values_pass() -> None:
    ctx = ssl.create_default_context()
    with ProgressClient(max_redirects=0, verify=ctx, headers={b"X-Id": b"1"},
                        auth=("user", "pw"), success="done,ok", event_types="progress",
                        long_poll=True, spec=None, limits="60/m") as client:
        assert client.config.long_poll == 60 and client.config.event_types == {"progress"}
    with httpx.Client() as http, ProgressClient(
        spec=StatusSpec(status_field="state"), auth=httpx.BasicAuth("a", "b"), client=http,
    ) as client:
        assert client.config.reader.status_field == "state"  # type: ignore[attr-defined]
    with ProgressClient(status_field="") as client:  # as before: the default field
        assert client.config.reader.status_field == "status"  # type: ignore[attr-defined]

    async def both_transports() -> set[str]:
        used = set()
        for kind in ("httpx", "auto"):
            async with AsyncProgressClient(transport=kind) as client:
                used.add(client.transport_for_polls)
        return used

    assert asyncio.run(both_transports()) <= {"httpx", "aiohttp"}


def test_a_sync_client_refuses_an_async_httpx_client() -> None:
    async def build() -> None:
        async with httpx.AsyncClient() as http:
            with pytest.raises(TypeError, match=r"client must be an httpx\.Client"):
                ProgressClient(client=http)
        with httpx.Client() as sync_http, pytest.raises(
            TypeError, match=r"client must be an httpx\.AsyncClient"
        ):
            AsyncProgressClient(client=sync_http)

    asyncio.run(build())


# -- the command line -------------------------------------------------------------------------

WITH_FLAGS = [o for o in OPTIONS if o.cli]


def _flags(command: str) -> dict[str, Any]:
    parser = build_parser(command)
    sub = next(a for a in parser._actions if a.dest == "command")
    p = sub.choices[command]  # type: ignore[index]
    return {s: a for a in p._actions for s in a.option_strings}


@pytest.mark.parametrize("command", ["wait", "run"])
def test_the_cli_flags_are_the_declared_ones(command: str) -> None:
    flags = _flags(command)
    for o in WITH_FLAGS:
        present = [f for f in o.cli if f in flags]
        if command == "wait":
            assert present == list(o.cli), f"wait lacks {o.cli} ({o.name})"
        for f in present:
            default = flags[f].default
            # None (or no header): the client's own default applies.
            assert default in (None, [], o.default), f"{f}'s default is not {o.name}'s"
    # A flag named after an option mirrors it: declare it there.
    names = {f"--{o.name.replace('_', '-')}": o for o in OPTIONS}
    for flag in flags:
        if flag in names:
            assert flag in names[flag].cli, f"{flag}: declare it as {names[flag].name}'s cli="


#: What each declared flag gives the client, checked on a real ``wait`` command line.
CLI_SAMPLES: dict[str, tuple[list[str], Any]] = {
    "baseline": (["--baseline", "2.5"], 2.5),
    "headers": (["-H", "X-Trace: 1"], {"X-Trace": "1"}),
    "status_field": (["--status-field", "data.state"], "data.state"),
    "success": (["--success", "ok,fine"], ["ok", "fine"]),
    "failure": (["--failure", "bad"], ["bad"]),
    "change_on": (["--change-on", "step"], ["step"]),
    "max_consecutive_errors": (["--max-errors", "7"], 7),
    "max_body": (["--max-body", "2KiB"], 2048),
    "long_poll": (["--long-poll=20"], 20.0),
    "allow_fast_polling": (["--allow-fast-polling"], True),
    "event_types": (["--event-type", "progress"], ["progress"]),
    "profile": (["--profile", "github-actions"], "github-actions"),
}


def test_every_cli_flag_has_a_sample_here() -> None:
    assert set(CLI_SAMPLES) == {o.name for o in WITH_FLAGS}, (
        "add the new flag's sample to CLI_SAMPLES")


@pytest.mark.parametrize("name", sorted(CLI_SAMPLES))
def test_each_flag_reaches_its_option(name: str, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    got: dict[str, Any] = {}

    def capture(**kwargs: Any) -> None:
        got.update(kwargs)
        raise ValueError("captured")

    monkeypatch.setattr(progress_client, "ProgressClient", capture, raising=False)
    argv, wanted = CLI_SAMPLES[name]
    assert main(["wait", "http://127.0.0.1:9/jobs/1", "--quiet", *argv]) == 2
    assert "captured" in capsys.readouterr().err
    value = got[name]
    if name == "profile":
        value = value.name
    assert value == wanted
    # Every other declared flag left alone gives the client's default (or nothing).
    for o in WITH_FLAGS:
        if o.name != name and o.name in got:
            assert got[o.name] in (None, o.default, {}), o.name


# -- start-up ---------------------------------------------------------------------------------


def test_the_declaration_imports_nothing_heavy() -> None:
    heavy = ("httpx", "pydantic", "anyio", "ssl", "progress_client.core.config",
             "progress_client.drivers.sync")
    code = (f"import sys, progress_client.core.options; "
            f"print([m for m in {heavy!r} if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=True, cwd=ROOT)
    assert proc.stdout.strip() == "[]"
