"""The public API: __all__ is sorted, complete, and every name resolves; the core imports no
server or plotting dependency, and the sans-IO modules import no I/O or clock."""

from __future__ import annotations

import ast
import inspect
import pathlib
import subprocess
import sys

import progress_client

PKG = pathlib.Path(progress_client.__file__).parent


def test_all_is_sorted_and_resolves() -> None:
    names = progress_client.__all__
    assert list(names) == sorted(names)
    assert len(set(names)) == len(names)
    for name in names:
        assert hasattr(progress_client, name), name


def test_every_public_class_or_function_is_exported() -> None:
    public = {
        name
        for name, obj in vars(progress_client).items()
        if not name.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and getattr(obj, "__module__", "").startswith("progress_client")
    }
    assert public <= set(progress_client.__all__)


def test_core_import_is_light() -> None:
    code = (
        "import sys, progress_client; "
        "bad = [m for m in ('starlette', 'uvicorn', 'redis', 'matplotlib', 'httpx_sse') "
        "if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_sans_io_core_imports_no_io_or_clock() -> None:
    forbidden = {"httpx", "anyio", "time", "asyncio", "trio", "socket"}
    for name in ("_engine.py", "_policy.py", "_models.py", "_hints.py", "_sanitize.py",
                 "_simulate.py"):
        tree = ast.parse((PKG / name).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                mods = {node.module.split(".")[0]}
            else:
                continue
            assert not mods & forbidden, (name, mods)
