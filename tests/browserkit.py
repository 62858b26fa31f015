"""A real Chromium for the browser tests: Debian's ``chromium`` driven by Playwright.

Playwright's own browser builds cannot be downloaded here, so it is given the binary behind
Debian's ``/usr/bin/chromium`` (a shell wrapper: ``exec $LIBDIR/$APPNAME ...``) as
``executable_path``, with a fresh user-data-dir and the flags that keep Chromium from reaching
out to other hosts (it would try, and fail, without them). ``.ci/run`` installs ``chromium``
with apt-get; when it cannot be found the tests fail with a message saying so, never skip.

Also: ``RequestLog``, an ASGI middleware that records every request a server gets (time,
method, path, headers, status), so tests count requests where they arrive.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from progress_client.server import MemoryStore, RunningServer, create_app, serve_in_thread

from .serving import LoopbackHTTP

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext

__all__ = [
    "Api", "LoggedRequest", "PageServer", "RequestLog", "chromium", "find_chromium", "serve_api",
    "serve_pages",
]

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
#: Where distributions keep the real binary when ``chromium`` on PATH is a wrapper.
CANDIDATES = (
    "/usr/lib/chromium/chromium",
    "/usr/lib/chromium-browser/chromium-browser",
    "/usr/lib64/chromium-browser/chromium-browser",
)
MISSING = (
    "Chromium not found: the browser tests need Debian's chromium package "
    "(apt-get install chromium; bash .ci/run installs it), or PROGRESS_CLIENT_CHROMIUM set "
    "to a Chromium binary"
)


def _wrapped_binary(wrapper: Path) -> Path | None:
    """The binary a shell wrapper execs: Debian's sets ``APPNAME=chromium`` and
    ``LIBDIR=/usr/lib/$APPNAME`` and runs ``$LIBDIR/$APPNAME``."""
    try:
        text = wrapper.read_text("utf-8", errors="replace")
    except OSError:
        return None
    found: dict[str, str] = {}
    for m in re.finditer(r"^\s*([A-Z_]+)=['\"]?([^'\"\s;]+)['\"]?\s*$", text, re.M):
        value = re.sub(r"\$\{?([A-Z_]+)\}?", lambda v: found.get(v.group(1), "\0"), m.group(2))
        found.setdefault(m.group(1), value)
    if "LIBDIR" in found and "APPNAME" in found:
        path = Path(found["LIBDIR"]) / found["APPNAME"]
        if "\0" not in str(path) and path.is_file() and os.access(path, os.X_OK):
            return path
    return None


def _is_elf(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def find_chromium() -> Path | None:
    """The Chromium binary itself (not a wrapper script), or None."""
    explicit = os.environ.get("PROGRESS_CLIENT_CHROMIUM")
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    for name in ("chromium", "chromium-browser"):
        on_path = shutil.which(name)
        if on_path is None:
            continue
        real = Path(on_path).resolve()
        if _is_elf(real):
            return real
        behind = _wrapped_binary(real)
        if behind is not None:
            return behind
    for candidate in CANDIDATES:
        path = Path(candidate)
        if path.is_file() and os.access(path, os.X_OK) and _is_elf(path):
            return path
    return None


@contextmanager
def chromium() -> Iterator[BrowserContext]:
    """A headless Chromium with a fresh profile, as one Playwright browser context. Raises
    ``RuntimeError`` with a clear message when Chromium or Playwright is missing."""
    binary = find_chromium()
    if binary is None:
        raise RuntimeError(MISSING)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - the dev extra installs it
        raise RuntimeError(
            "the browser tests need Playwright: pip install -e '.[browser]'"
        ) from exc
    with tempfile.TemporaryDirectory(prefix="pc-chromium-") as profile, \
            sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile,
            executable_path=str(binary),
            headless=True,
            args=list(CHROMIUM_FLAGS),
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


# -- counting requests where they arrive ----------------------------------------------------


@dataclass(frozen=True)
class LoggedRequest:
    at: float
    method: str
    path: str
    headers: dict[str, str]
    status: int


class RequestLog:
    """ASGI middleware recording every HTTP request and the status it was answered with."""

    def __init__(self, app: Any, log: list[LoggedRequest]) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        at = time.monotonic()
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}

        async def record(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.log.append(LoggedRequest(at, scope["method"], scope["path"], headers,
                                              int(message["status"])))
            await send(message)

        await self.app(scope, receive, record)


@dataclass
class Api:
    """The reference server (a memory store) on a free loopback port, and every request it
    answered (``serve_api``)."""

    server: RunningServer
    store: MemoryStore
    log: list[LoggedRequest]

    def write(self, job: str, status: str, **fields: Any) -> None:
        """A worker's update of ``job``, on the server's loop."""
        self.server.call(_write, self.store, job, status, fields)

    def url(self, job: str) -> str:
        return f"{self.server.url}/jobs/{job}"

    def requests(self, job: str, *, since: float = 0.0) -> list[LoggedRequest]:
        """The requests for ``job`` and its sub-paths (its event stream) since ``since``."""
        prefix = f"/jobs/{job}"
        return [r for r in self.log
                if r.at >= since and (r.path == prefix or r.path.startswith(prefix + "/"))]

    def gets(self, job: str, *, since: float = 0.0) -> list[LoggedRequest]:
        """The GETs of ``job``'s status since ``since``."""
        return [r for r in self.log if r.method == "GET" and r.at >= since
                and r.path == f"/jobs/{job}"]


async def _write(store: MemoryStore, job: str, status: str, fields: dict[str, Any]) -> None:
    await store.update(job, status=status, **fields)


A = TypeVar("A", bound=Api)


@contextmanager
def serve_api(kind: type[A], **options: Any) -> Iterator[A]:
    """``create_app(MemoryStore(), **options)`` served on a free loopback port, every request
    logged: a ``kind`` (``Api`` or a test's own subclass) for it."""
    store = MemoryStore()
    log: list[LoggedRequest] = []
    app = create_app(store, **options)
    app.add_middleware(RequestLog, log=log)
    with serve_in_thread(app) as server:
        yield kind(server, store, log)


# -- a page on another origin ---------------------------------------------------------------


CONTENT_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


class PageServer(LoopbackHTTP):
    """Serves pages (HTML, or JavaScript for a path ending in .js) from memory on a free
    loopback port: a second origin."""

    def __init__(self, pages: Mapping[str, str] | None = None) -> None:
        self.pages: dict[str, str] = dict(pages or {})
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = pages.get(self.path.split("?")[0])
                if body is None:
                    self.send_error(404)
                    return
                data = body.encode("utf-8")
                self.send_response(200)
                path = self.path.split("?")[0]
                kind = CONTENT_TYPES.get(path[path.rfind("."):], "text/html; charset=utf-8")
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        super().__init__(Handler)


@contextmanager
def serve_pages(pages: Mapping[str, str]) -> Iterator[PageServer]:
    """``pages`` (path: text) served from memory on a free loopback port: a second origin."""
    with PageServer(pages) as served:
        yield served


# -- the npm package, as a consumer gets it -------------------------------------------------

JS_DIR = Path(__file__).resolve().parent.parent / "js"
NO_NODE = (
    "the package tests need Node >= 18 with npm, and js/node_modules (cd js && npm ci); "
    "bash .ci/run does both"
)


def _run(args: list[str], cwd: Path, timeout: float = 300) -> str:
    import subprocess

    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed in {cwd.name}: "
                           f"{(proc.stdout + proc.stderr)[-2000:]}")
    return proc.stdout


def pack_package(into: Path) -> Path:
    """``npm pack`` of js/ (which builds it first) into ``into``: the tarball's path."""
    if shutil.which("npm") is None or not (JS_DIR / "node_modules" / ".bin" / "esbuild").exists():
        raise RuntimeError(NO_NODE)
    out = _run(["npm", "pack", "--json", "--pack-destination", str(into)], JS_DIR)
    import json

    return into / json.loads(out)[0]["filename"]


def bundle_app(tarball: Path, entry_source: str, workdir: Path) -> str:
    """``entry_source`` (JSX importing ``progress-client``, React, TanStack Query and SWR) bundled
    with esbuild
against the package installed from ``tarball`` (npm install of the .tgz, not the
    source tree), React in its development build (StrictMode's double mount). The bundle's text."""
    # React and the data libraries at the versions js/ is developed with (npm ci put them in
    # npm's cache).
    libs = [f"{name}@{json_version(JS_DIR / 'node_modules' / name / 'package.json')}"
            for name in ("react", "react-dom", "@tanstack/react-query", "swr")]
    (workdir / "package.json").write_text(
        '{"name": "app", "private": true, "type": "module"}', "utf-8")
    _run(["npm", "install", "--no-audit", "--no-fund", "--prefer-offline", str(tarball), *libs],
         workdir)
    installed = workdir / "node_modules" / "progress-client"
    if installed.is_symlink() or not (installed / "dist" / "index.js").is_file():
        raise RuntimeError("progress-client was not installed from the tarball")
    (workdir / "app.jsx").write_text(entry_source, "utf-8")
    _run([str(JS_DIR / "node_modules" / ".bin" / "esbuild"), "app.jsx", "--bundle",
          "--format=esm", "--jsx=automatic", "--define:process.env.NODE_ENV=\"development\"",
          "--outfile=app.js", "--log-level=warning"], workdir)
    return (workdir / "app.js").read_text("utf-8")


def json_version(package_json: Path) -> str:
    import json

    return str(json.loads(package_json.read_text("utf-8"))["version"])
