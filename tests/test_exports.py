"""The public API: __all__ is sorted, complete, and every name resolves; the names load lazily
(``import progress_client`` imports none of the client) and type checkers see the same names
from the same modules; the core install imports no server or plotting dependency (the pure
core's own imports: tests/test_layout.py)."""

from __future__ import annotations

import ast
import inspect
import pathlib
import subprocess
import sys

import pytest

import progress_client

PKG = pathlib.Path(progress_client.__file__).parent


def test_all_is_sorted_and_resolves() -> None:
    names = progress_client.__all__
    assert list(names) == sorted(names)
    assert len(set(names)) == len(names)
    for name in names:
        assert hasattr(progress_client, name), name


def test_every_public_class_or_function_is_exported() -> None:
    for name in progress_client.__all__:
        getattr(progress_client, name)  # load them all: the names are lazy
    public = {
        name
        for name, obj in vars(progress_client).items()
        if not name.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and getattr(obj, "__module__", "").startswith("progress_client")
    }
    assert public <= set(progress_client.__all__)


def test_lazy_names_come_from_their_modules() -> None:
    import importlib

    exports = progress_client._EXPORTS
    assert set(exports) == set(progress_client.__all__) - {"__version__"}
    for name, module in exports.items():
        assert getattr(progress_client, name) is getattr(
            importlib.import_module(module, "progress_client"), name
        ), name
    assert set(dir(progress_client)) >= set(progress_client.__all__)
    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        progress_client.NoSuchName  # noqa: B018
    from progress_client import ProgressClient  # the from-import form goes the same way

    assert ProgressClient.__name__ == "ProgressClient"


def test_type_checkers_see_the_same_names_from_the_same_modules() -> None:
    tree = ast.parse((PKG / "__init__.py").read_text())
    seen: dict[str, str] = {}
    for node in ast.walk(tree):
        if (isinstance(node, ast.If) and isinstance(node.test, ast.Name)
                and node.test.id == "TYPE_CHECKING"):
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom) and stmt.level == 1, ast.dump(stmt)
                for alias in stmt.names:
                    seen[alias.asname or alias.name] = f".{stmt.module}"
    assert seen == progress_client._EXPORTS


def test_importing_the_package_imports_none_of_the_client() -> None:
    code = (
        "import sys, progress_client; progress_client.__version__; dir(progress_client); "
        "print(sorted(m for m in sys.modules if m.startswith(('progress_client.', 'httpx', "
        "'pydantic', 'anyio', 'rich'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_core_import_is_light() -> None:
    code = (
        "import sys, progress_client; progress_client.AsyncProgressClient; "
        "progress_client.ProgressClient; "
        "bad = [m for m in ('starlette', 'uvicorn', 'redis', 'matplotlib', 'httpx_sse') "
        "if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_exported_names_show_the_package_as_their_module() -> None:
    for name in progress_client.__all__:
        value = getattr(progress_client, name)
        if hasattr(value, "__module__"):
            assert value.__module__ == "progress_client", (name, value.__module__)
