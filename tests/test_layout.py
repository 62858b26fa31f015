"""The layout shows the design, and these tests hold it to that.

- ``core/`` is pure: its modules import (anywhere, eagerly or lazily) only the core itself,
  pydantic, and standard-library modules that do no I/O and read no clock.
- The layers point down: ``core`` < ``profiles`` < ``transports`` < ``drivers``; nothing
  below imports what is above it, but for the one lazy import the layers name.
- The public API: ``progress_client`` exports what users call; the engine's vocabulary is in
  ``progress_client.engine``; the names that moved there still resolve, with a warning.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import progress_client
import progress_client.engine

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "progress_client"

#: Standard-library modules a pure module may use: no sockets, files, threads, processes,
#: clocks or loggers. (``time`` is allowed in ``core/options.py`` only, to name ``time.time``
#: as a default that the drivers call; ``random`` only in ``core/policy.py``, for jitter.)
PURE_STDLIB = {
    "__future__", "base64", "binascii", "collections", "dataclasses", "enum", "functools",
    "hashlib", "heapq", "itertools", "json", "math", "operator", "re", "statistics", "string",
    "typing", "urllib", "warnings", "abc", "types", "email", "datetime",  # HTTP dates
}
PURE_EXCEPTIONS = {
    # time.time named as a default; os.PathLike; httpx and ssl for the isinstance checks of
    # http_client= and verify=, when a client is built
    "progress_client/core/options.py": {"time", "os", "httpx", "ssl"},
    "progress_client/core/policy.py": {"random"},  # jitter, seeded by the caller in tests
    "progress_client/core/sanitize.py": {"logging"},  # the RedactingFilter type: no handler
}
PURE_THIRD_PARTY = {"pydantic", "pydantic_core"}

#: Which subpackage may import which (lazily or not). The layers, bottom up.
MAY_IMPORT = {
    "core": {"core"},
    "profiles": {"core", "profiles", "transports"},  # transports.rules: credential headers
    "transports": {"core", "transports"},
    "drivers": {"core", "profiles", "transports", "drivers",
                # client.durable(store) and webhook receivers: lazy, on that call only
                "waitstore", "webhooks"},
}


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every absolute module name ``path`` imports, anywhere in it but under
    ``if TYPE_CHECKING:`` (which loads nothing), with its line."""
    rel = path.relative_to(ROOT).with_suffix("").parts
    package = list(rel[:-1])
    out: list[tuple[str, int]] = []
    tree = ast.parse(path.read_text("utf-8"), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            node.body = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.append((name, node.lineno))
    return out


def _files(sub: str) -> list[Path]:
    return sorted((PACKAGE / sub).rglob("*.py"))


@pytest.mark.parametrize("path", _files("core"), ids=lambda p: p.name)
def test_the_core_is_pure(path: Path) -> None:
    rel = str(path.relative_to(ROOT))
    allowed = PURE_STDLIB | PURE_THIRD_PARTY | PURE_EXCEPTIONS.get(rel, set())
    for name, line in _imports(path):
        top = name.split(".")[0]
        if top == "progress_client":
            assert name.startswith("progress_client.core"), f"{rel}:{line} imports {name}"
        else:
            assert top in allowed, f"{rel}:{line} imports {name}: not pure"


@pytest.mark.parametrize("sub", sorted(MAY_IMPORT))
def test_the_layers_point_down(sub: str) -> None:
    for path in _files(sub):
        for name, line in _imports(path):
            parts = name.split(".")
            if parts[0] != "progress_client" or len(parts) < 2:
                continue
            target = parts[1]
            if (PACKAGE / target).is_dir():
                assert target in MAY_IMPORT[sub], (
                    f"{path.relative_to(ROOT)}:{line} imports {name}: {sub} may import only "
                    f"{sorted(MAY_IMPORT[sub])}")


def test_the_core_loads_no_io_library() -> None:
    """Importing every core module loads no socket, thread, event-loop or HTTP library."""
    mods = [".".join(p.relative_to(ROOT).with_suffix("").parts) for p in _files("core")
            if p.name != "__init__.py"]
    code = ("import sys\n" + "".join(f"import {m}\n" for m in mods) +
            "print(sorted(m for m in ('httpx', 'anyio', 'asyncio', 'socket', 'ssl', "
            "'threading', 'aiohttp', 'sqlite3', 'redis') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=60, check=True).stdout.strip()
    # threading and socket may come with the interpreter's own start (site, encodings): only
    # the libraries that would mean I/O count.
    loaded = set(ast.literal_eval(out)) - {"threading"}
    assert not loaded & {"httpx", "anyio", "asyncio", "aiohttp", "sqlite3", "redis", "ssl"}, out


def test_the_public_api_is_what_users_call() -> None:
    engine_names = set(progress_client.engine.__all__)
    assert {"PollEngine", "EngineState", "Counters", "ReadStream", "Request", "Sleep", "Stop",
            "Phase"} <= engine_names
    assert not {"PollEngine", "EngineState", "Counters", "ReadStream", "Request", "Sleep",
                "Stop", "Phase"} & set(progress_client.__all__)
    for name in progress_client.__all__:
        value = getattr(progress_client, name)
        assert value is not None
        if isinstance(value, type):
            assert value.__module__ == "progress_client", (name, value.__module__)
    for name in engine_names - set(progress_client.__all__):
        value = getattr(progress_client.engine, name)
        assert value.__module__ == "progress_client.engine", (name, value.__module__)


@pytest.mark.parametrize("name", ["PollEngine", "EngineState", "Counters", "ReadStream",
                                  "Request", "Sleep", "Stop"])
def test_a_moved_name_still_resolves_with_a_warning(name: str) -> None:
    with pytest.warns(DeprecationWarning, match=f"progress_client.engine.{name}"):
        value = getattr(progress_client, name)
    assert value is getattr(progress_client.engine, name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(AttributeError):
            progress_client.NoSuchName  # noqa: B018




def _inner_imports(path: Path) -> list[tuple[int, str, bool]]:
    """Each import inside a function: its line, its text, whether it says why (a comment on
    its line, or a comment line just above it; one comment line above a group of imports on
    consecutive lines covers the group)."""
    lines = path.read_text("utf-8").splitlines()
    found: list[tuple[int, str, bool]] = []

    def walk(node: ast.AST, inside: bool) -> None:
        group_says = False  # the import just before this one, on the line before, said why
        previous_end = -1
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)) and inside:
                text = lines[child.lineno - 1]
                above = lines[child.lineno - 2].strip() if child.lineno > 1 else ""
                end = lines[(child.end_lineno or child.lineno) - 1]
                in_group = group_says and child.lineno == previous_end + 1
                says = "#" in text or "#" in end or above.startswith("#") or in_group
                found.append((child.lineno, text.strip(), says))
                group_says = above.startswith("#") or in_group
                previous_end = child.end_lineno or child.lineno
            else:
                group_says = False
            walk(child, inside or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))

    walk(ast.parse("\n".join(lines)), False)
    return found


def test_an_import_inside_a_function_says_why() -> None:
    """Imports are at the top of modules, but where start-up (the ``wait`` command loads only
    what it uses), an optional extra or an import cycle needs otherwise; each such import says
    which, in one line."""
    silent = [f"{p.relative_to(ROOT)}:{line}: {text}"
              for p in sorted(PACKAGE.rglob("*.py"))
              for line, text, says in _inner_imports(p) if not says]
    assert not silent, "\n".join(silent[:40]) + f"\n({len(silent)} in all)"


def test_the_check_of_inner_imports_sees_what_it_should(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(
        "import os\n"
        "def f():\n"
        "    import json\n"
        "    import re  # why\n"
        "    # why, for both\n"
        "    import sys\n"
        "    import time\n"
        "    x = 1\n"
        "    import math\n"
        "    def g():\n"
        "        from a import (\n"
        "            b,\n"
        "        )  # why\n",
        "utf-8")
    assert [(line, says) for line, _, says in _inner_imports(path)] == [
        (3, False), (4, True), (6, True), (7, True), (9, False), (11, True)]
