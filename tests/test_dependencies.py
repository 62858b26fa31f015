"""The package imports only what the install that imports it declares.

Two guards against a crash like a default install's first async wait importing ``sniffio``
(no dependency of ours, nor of current anyio or httpx):

- at run time: an ``AsyncProgressClient`` wait and ``watch`` (asyncio over httpx, and
  asyncio over the aiohttp fast path) in a process where ``import sniffio`` and ``import
  trio`` fail, against a real server on 127.0.0.1;
- statically: every third-party module any module of the package imports is a declared
  dependency (pyproject.toml); a module of the core install imports, at its top level and
  through the package modules it imports at their top level, only core dependencies; an
  extra's modules are imported only lazily (inside a function) or guarded by ``except
  ImportError``.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .kit import JobServer
from .serving import fixture

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "progress_client"

#: Package modules that belong to an extra: they import its dependencies at their top level,
#: so a core module may import them only lazily. (A module under ``server/`` is the server's.)
EXTRA_MODULES: dict[str, str] = {
    "progress_client.cli.serve": "server",
    "progress_client.cli.demo": "server",
    "progress_client.cli.demo_web": "server",
}

#: A process where sniffio and trio cannot be imported, waiting on a real server.
BLOCKED = r"""
import asyncio, importlib.abc, json, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("sniffio", "trio"):
            # What a missing module raises (anyio looks for sniffio and copes without it).
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Block())
for name in [m for m in sys.modules if m.split(".")[0] in ("sniffio", "trio")]:
    del sys.modules[name]

from progress_client import AdaptivePolicy, AsyncProgressClient

transport, wait_url, watch_url = sys.argv[1:4]

async def main():
    policy = AdaptivePolicy(initial=0.05, step=0.05, maximum=0.1)
    async with AsyncProgressClient(policy=policy, transport=transport) as client:
        done = await client.wait(wait_url, timeout=20)
        seen = [u.status.status async for u in client.watch(watch_url, timeout=20)]
        fast = client.transport_for_polls
    print(json.dumps({"wait": done.status.status, "watch": seen, "transport": fast,
                      "sniffio": "sniffio" in sys.modules, "trio": "trio" in sys.modules}))

asyncio.run(main())
"""


server = fixture(JobServer)


@pytest.mark.e2e
@pytest.mark.parametrize(("transport", "polls_over"), [("httpx", "httpx"),
                                                       ("aiohttp", "aiohttp")])
def test_async_wait_and_watch_need_no_sniffio(
    server: JobServer, transport: str, polls_over: str
) -> None:
    waited = server.job(f"w-{transport}", [(0, "queued"), (0.2, "done")], etag=False)
    watched = server.job(f"s-{transport}", [(0, "queued"), (0.1, "running"), (0.3, "done")],
                         etag=False)
    proc = subprocess.run(
        [sys.executable, "-c", BLOCKED, transport, waited.url, watched.url],
        capture_output=True, text=True, timeout=60, cwd=ROOT, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["wait"] == "done"
    assert out["watch"][0] == "queued" and out["watch"][-1] == "done"
    assert out["transport"] == polls_over
    assert out["sniffio"] is False and out["trio"] is False
    assert server.requests(f"/jobs/w-{transport}") and server.requests(f"/jobs/s-{transport}")


# -- the static check -----------------------------------------------------------------------


def _requirement_name(spec: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    assert match is not None, spec
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def _declared() -> tuple[set[str], dict[str, set[str]]]:
    """The core distributions, and each extra's (``all`` expanded)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    core = {_requirement_name(r) for r in project["dependencies"]}
    extras: dict[str, set[str]] = {}
    for name, reqs in project["optional-dependencies"].items():
        extras[name] = {_requirement_name(r) for r in reqs if not r.startswith(project["name"])}
    return core, extras


@functools.cache
def _installed() -> dict[str, list[str]]:
    """Top-level modules and the distributions that install them: read once (reading every
    installed distribution's metadata takes a second or more)."""
    return dict(importlib.metadata.packages_distributions())


def _distributions_of(module: str) -> set[str]:
    """The distributions that install the top-level module ``module`` (none: not installed)."""
    found = _installed().get(module, [])
    # Not installed here (a dependency of another Python version, like tomli): its own name.
    return {re.sub(r"[-_.]+", "-", d).lower() for d in found or [module]}


class _Imports(ast.NodeVisitor):
    """A module's imports, each marked eager (runs when the module is imported) or not
    (inside a function, under ``if TYPE_CHECKING``, or guarded by ``except ImportError``)."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.module = module
        self.package = module if is_package else module.rpartition(".")[0]
        self.found: list[tuple[str, bool, int]] = []
        self._lazy = 0

    def _add(self, name: str, line: int) -> None:
        self.found.append((name, self._lazy == 0, line))

    def _nested(self, node: ast.AST) -> None:
        self._lazy += 1
        self.generic_visit(node)
        self._lazy -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _nested

    def visit_If(self, node: ast.If) -> None:
        test = ast.unparse(node.test)
        if "TYPE_CHECKING" in test:
            self._lazy += 1
            for child in node.body:
                self.visit(child)
            self._lazy -= 1
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Try(self, node: ast.Try) -> None:
        guarded = any(
            h.type is not None and any(
                name in ast.unparse(h.type)
                for name in ("ImportError", "ModuleNotFoundError", "Exception")
            )
            for h in node.handlers
        )
        if guarded:
            self._lazy += 1
            for child in node.body:
                self.visit(child)
            self._lazy -= 1
            for child in [*node.handlers, *node.orelse, *node.finalbody]:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0:
            base = node.module or ""
        else:
            parts = self.package.split(".")
            parts = parts[: len(parts) - (node.level - 1)]
            base = ".".join(parts + ([node.module] if node.module else []))
        if base.startswith("progress_client"):
            for alias in node.names:  # ``from ..transports import aiohttp``: a module
                candidate = f"{base}.{alias.name}"
                self._add(candidate if _module_file(candidate) else base, node.lineno)
        else:
            self._add(base, node.lineno)


def _module_file(module: str) -> Path | None:
    rel = Path(*module.split("."))
    for path in (ROOT / rel.with_suffix(".py"), ROOT / rel / "__init__.py"):
        if path.is_file():
            return path
    return None


def _modules() -> dict[str, list[tuple[str, bool, int]]]:
    out: dict[str, list[tuple[str, bool, int]]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        name = ".".join(parts)
        visitor = _Imports(name, is_package)
        visitor.visit(ast.parse(path.read_text("utf-8"), str(path)))
        out[name] = visitor.found
    return out


def _extra_of(module: str) -> str | None:
    """The extra a module belongs to: ``server+metrics`` is both (its import needs both)."""
    if module.startswith("progress_client.server.metrics"):
        return "server+metrics"
    if module.startswith("progress_client.server"):
        return "server"
    if module == "progress_client.otel" or module.startswith("progress_client.otel."):
        return "otel"
    return EXTRA_MODULES.get(module)


def _allowed(extra: str | None, extras: dict[str, set[str]]) -> set[str]:
    return set().union(*(extras[e] for e in extra.split("+"))) if extra else set()


def _third_party(name: str) -> str | None:
    top = name.split(".")[0]
    if not top or top == "progress_client" or top in sys.stdlib_module_names:
        return None
    return top


def test_every_third_party_import_is_declared() -> None:
    core, extras = _declared()
    anywhere = core.union(*extras.values())
    wrong = []
    for module, imports in _modules().items():
        for name, _, line in imports:
            top = _third_party(name)
            if top is None:
                continue
            dists = _distributions_of(top)
            if not dists & anywhere:
                wrong.append(f"{module}:{line} imports {top} ({sorted(dists) or 'not installed'}"
                             "), declared nowhere in pyproject.toml")
    assert not wrong, "\n".join(wrong)


def test_core_modules_import_only_core_dependencies_eagerly() -> None:
    core, extras = _declared()
    modules = _modules()
    wrong = []
    for module, imports in modules.items():
        extra = _extra_of(module)
        allowed = core | _allowed(extra, extras)
        for name, eager, line in imports:
            if not eager:
                continue
            top = _third_party(name)
            if top is not None and not _distributions_of(top) & allowed:
                wrong.append(f"{module}:{line} imports {top} at its top level, which the "
                             f"{extra or 'core'} install does not declare")
            if top is None and name.startswith("progress_client") and name in modules:
                theirs = _extra_of(name)
                if theirs is not None and not set(theirs.split("+")) <= set(
                    (extra or "").split("+")
                ):
                    wrong.append(f"{module}:{line} imports {name} (the {theirs} extra's) at "
                                 "its top level")
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_what_it_must() -> None:
    """The checker itself: a lazy sniffio import is found and marked lazy, a top-level one
    eager, TYPE_CHECKING and guarded imports lazy, relative module imports resolved."""
    source = (
        "from typing import TYPE_CHECKING\nimport httpx\nfrom ..transports import aiohttp\n"
        "if TYPE_CHECKING:\n    import trio\n"
        "try:\n    import uvloop\nexcept ImportError:\n    uvloop = None\n"
        "def f():\n    import sniffio\n"
    )
    visitor = _Imports("progress_client.drivers.x", False)
    visitor.visit(ast.parse(source))
    eager = {name: e for name, e, _ in visitor.found}
    assert eager == {"typing": True, "httpx": True, "progress_client.transports.aiohttp": True,
                     "trio": False, "uvloop": False, "sniffio": False}
    core, extras = _declared()
    assert "httpx" in core and "sniffio" not in core.union(*extras.values())
    assert "aiohttp" in extras["fast"] and "aiohttp" not in core
