"""What a command's process need not import: applied by ``main()`` for the process's own command
line (never in a program that calls ``main(argv)``), before anything imports httpx.

httpx and httpcore import optional packages eagerly, whenever they are installed, for features
a command like ``wait`` never uses:

- ``httpx._main``, httpx's own command line: click, pygments and rich's tables (about 30 ms
  where click is installed); httpx imports it under ``try``/``except ImportError`` and falls
  back to a stub, so it is blocked;
- ``anyio`` and ``trio``, imported by ``httpcore._synchronization`` for its async locks (trio:
  about 50 ms where it is installed). These are deferred, not blocked: a stand-in module takes
  their place in ``sys.modules`` and imports the real one the first time anything looks up one
  of its attributes, so a program that does use them gets the real module. (The standard
  ``importlib.util.LazyLoader`` cannot do this: the ``import`` statement reads ``__spec__``
  of a module already in ``sys.modules``, which loads a lazy module at once.)
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
import types
from typing import Any

__all__ = ["DEFERRED", "is_loaded", "trim_imports"]

#: Imported only when used, on the sync commands' path.
DEFERRED = ("anyio", "trio")


class _OnFirstUse(types.ModuleType):
    """Stands in ``sys.modules`` for a module not imported yet."""

    def __init__(self, spec: importlib.machinery.ModuleSpec) -> None:
        super().__init__(spec.name)
        # The import statement checks __spec__ (and its _initializing) of a module found in
        # sys.modules: a real attribute, so that check imports nothing.
        self.__spec__ = spec

    def __getattr__(self, attr: str) -> Any:  # only for attributes this object lacks
        return getattr(_load(self.__name__), attr)


def _load(name: str) -> types.ModuleType:
    module = sys.modules.get(name)
    if isinstance(module, _OnFirstUse) or module is None:
        sys.modules.pop(name, None)
        module = importlib.import_module(name)
    return module


def _defer(name: str) -> None:
    if name in sys.modules:
        return
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return
    if spec is not None:  # not installed: leave the ImportError to whoever imports it
        sys.modules[name] = _OnFirstUse(spec)


def trim_imports() -> None:
    """Block httpx's command line and defer anyio and trio, unless httpx is imported already
    (then it is too late to matter, and the process is not a fresh command)."""
    if "httpx" in sys.modules:
        return
    if "httpx._main" not in sys.modules:
        sys.modules["httpx._main"] = None  # type: ignore[assignment]  # "import blocked"
    for name in DEFERRED:
        _defer(name)


def is_loaded(name: str) -> bool:
    """Whether ``name`` is imported for real (a stand-in does not count)."""
    module = sys.modules.get(name)
    return module is not None and not isinstance(module, _OnFirstUse)
