"""One source for the browser module: the file the reference server serves at
/static/progress-client.js (committed in progress_client/server/static/, so a wheel and a
fresh clone's ``pip install .`` carry it) is the npm package's build of js/src, byte for byte.
Needs Node and js/node_modules (``cd js && npm ci``; bash .ci/run does it), so it is in the
``slow`` group: the README's test command needs Python alone."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from progress_client.server.browser import companion_module

JS = Path(__file__).resolve().parent.parent / "js"

pytestmark = pytest.mark.slow


def test_the_served_module_is_the_package_build() -> None:
    node = shutil.which("node")
    if node is None or not (JS / "node_modules" / "esbuild").is_dir():
        pytest.fail("needs Node and js/node_modules: cd js && npm ci", pytrace=False)
    proc = subprocess.run([node, "scripts/build.mjs", "--check"], cwd=JS, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert companion_module() == (JS.parent / "progress_client" / "server" / "static"
                                  / "progress-client.js").read_bytes()
    assert companion_module().startswith(b"// progress-client (the npm package), built from")
