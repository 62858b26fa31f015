"""One kit for the tests' HTTP servers and CLI runs, so that each test file does not write them
again.

- ``LoopbackHTTP``: an ``http.server`` on 127.0.0.1 with a free port, served from a daemon
  thread, that takes a burst of connections (a deep backlog) and keeps quiet about clients that
  hang up. The scripted servers (``kit.JobServer``, ``vendors.VendorServer``,
  ``ratelimited.RateLimitedApi``...) and the small imitations in test files build on it.
- ``QuietHandler``: the base of their handlers (HTTP/1.1, no request log);
  ``send_json``: one JSON answer from a ``BaseHTTPRequestHandler``.
- ``fixture(JobServer)``: a pytest fixture that serves one for a test (or a module):
  ``server = fixture(JobServer)`` in a test module stands for the four lines each wrote.
- ``cli(...)``: ``python -m progress_client ...`` in a subprocess, from the checkout's root;
  ``ctrl_c(proc)``: a Ctrl-C to one the test started, and its output once it has exited.
- ``free_port()``: a loopback port nothing listens on (the benchmarks' helper).
- ``make_certificate(openssl, folder)``: a throwaway self-signed certificate for 127.0.0.1.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest

from benchmarks.procs import free_port

__all__ = [
    "ROOT", "LoopbackHTTP", "QuietHandler", "cli", "ctrl_c", "fixture", "free_port",
    "make_certificate", "send_json",
]

#: The checkout's root (the CLI runs from there, as a developer runs it).
ROOT = Path(__file__).resolve().parent.parent

S = TypeVar("S", bound="LoopbackHTTP")
T = TypeVar("T")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default backlog of 5 resets connections when many clients start at once
    # (every vendor side by side, 300 waits), each a 1 s SYN retry that would distort timing
    # and scale tests; a real front end takes them all.
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (a cancelled wait, a closed stream, a body cut at its size
        # limit) is part of the tests: not worth a traceback on stderr.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class QuietHandler(BaseHTTPRequestHandler):
    """A handler for the test servers: HTTP/1.1 keep-alive, no request log on stderr."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle's algorithm and the peer's
    # delayed ACK hold every keep-alive response back by ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        return


class LoopbackHTTP:
    """``handler`` served on 127.0.0.1 (a free port) from a daemon thread once started:
    ``with LoopbackHTTP(Handler) as http: http.origin``, or a subclass that builds its handler
    and calls ``super().__init__(Handler)``. ``poll_interval``: how often the serving thread
    looks for a shutdown (a short one ends a test's server sooner)."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], *,
                 poll_interval: float = 0.5) -> None:
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.port = int(self.httpd.server_address[1])
        self.origin = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": poll_interval}, daemon=True)

    def start(self: S) -> S:
        self.thread.start()
        return self

    def close(self) -> None:
        if self.thread.is_alive():
            self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def send_json(h: BaseHTTPRequestHandler, code: int, doc: Any,
              headers: Mapping[str, str] | None = None) -> None:
    """Answer ``doc`` as JSON with ``code`` (and ``headers``), its length stated."""
    data = json.dumps(doc).encode()
    h.send_response(code)
    h.send_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        h.send_header(name, value)
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)


def fixture(serve: Callable[[], AbstractContextManager[T]], scope: str = "function") -> Any:
    """A pytest fixture that yields ``serve()`` entered, for each test (``scope="function"``)
    or once for a module: ``server = fixture(JobServer)``."""

    def served() -> Iterator[T]:
        with serve() as running:
            yield running

    return pytest.fixture(scope=scope)(served)  # type: ignore[call-overload]


def cli(*args: str, timeout: float = 60, stdin: str | None = None,
        env: Mapping[str, str] | None = None, cwd: Path = ROOT, clean: bool = False
        ) -> subprocess.CompletedProcess[str]:
    """``python -m progress_client ARGS`` in a subprocess, its output as text; ``timeout``
    only ends a run that went wrong (the test's own deadline is the CLI's ``--timeout``).
    ``clean``: assert that neither output holds a traceback (an expected failure is a line)."""
    p = subprocess.run([sys.executable, "-m", "progress_client", *args], input=stdin,
                       capture_output=True, text=True, timeout=timeout, check=False,
                       cwd=cwd, env=None if env is None else dict(env))
    if clean:
        assert "Traceback" not in p.stderr + p.stdout, p.stderr
    return p


def ctrl_c(proc: subprocess.Popen[str], timeout: float = 30) -> tuple[str, str]:
    """SIGINT (a user's Ctrl-C) to a CLI process the test started, then its stdout and stderr
    once it has exited. One still running ``timeout`` s later fails the test, killed first: left
    running, it would go on polling the next test's server."""
    proc.send_signal(signal.SIGINT)
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        raise AssertionError(f"still running {timeout:g} s after Ctrl-C: {err[-2000:]}") from None


def make_certificate(openssl: str, folder: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 (a day's), made with the ``openssl``
    binary in ``folder``: the certificate's and the key's paths."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key
