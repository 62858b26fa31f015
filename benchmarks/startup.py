"""Start-up and wall-time deadlines of ``progress-client wait``, measured from outside the
process: wall clock from just before ``Popen`` (exec) to an event seen by a local server or to
the process's exit. Both clocks are ``time.monotonic()``, which is one clock for every process
on the machine.

- **Start-up**: exec to the first request's arrival at the server (the request head complete),
  for ``progress-client wait URL`` and for the reference, a bare
  ``python -c "import httpx; httpx.get(URL)"``; runs interleaved, medians, and their ratio.
  Both run from bytecode, as installed: pip compiles a wheel's modules to ``.pyc`` when it
  installs them (httpx's are), so this package's modules are compiled first too
  (``compile_package``); a checkout run with ``PYTHONDONTWRITEBYTECODE`` set would otherwise
  compile its ~30 modules from source on every start (about 20 ms here) while httpx's load.
  The reference runs twice: as is, and as on a default install of this package, where click
  and trio are absent (a development environment has both; httpx imports its own command line
  when click is there, httpcore imports trio when it is there: about 80 ms together, which
  ``wait`` does not pay either way). The second ratio is the one that counts.
  Also exec to exit for ``progress-client --version`` and ``python -c pass`` (the interpreter
  alone).
- **Overshoot**: ``progress-client wait URL --timeout T`` exec to exit, minus T, against a job
  that never ends, a server that accepts and never answers, one that sends the headers and then
  stalls the body, and one that answers 500 forever (exit code 3 expected in every case).

``StubbornServer`` serves all of these from one port (the first path segment picks the case);
the end-to-end tests use it too. ``python -m benchmarks.startup`` prints both tables.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

__all__ = [
    "CASES",
    "OvershootResult",
    "StartupResult",
    "StubbornServer",
    "WaitRun",
    "cli_command",
    "compile_package",
    "overshoot",
    "run_wait",
    "startup",
]

ROOT = Path(__file__).resolve().parents[1]

#: The deadline cases: label -> first path segment on ``StubbornServer``.
CASES: dict[str, str] = {
    "job never ends": "running",
    "server never answers": "silent",
    "headers, then the body stalls": "stall-body",
    "HTTP 500 forever": "error",
}

_ids = itertools.count()


def _reply(code: int, reason: str, body: bytes, length: int | None = None) -> bytes:
    n = len(body) if length is None else length
    return (f"HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {n}\r\n\r\n").encode() + body


class StubbornServer:
    """A threaded HTTP/1.1 server on 127.0.0.1 whose first path segment chooses its behaviour:

    - ``/completed/...``: ``{"status": "completed"}``;
    - ``/running/...``: ``{"status": "running"}``, forever;
    - ``/silent/...``: reads the request and never answers (the connection stays open);
    - ``/stall-body/...``: the headers and 9 bytes of a 64-byte body, then nothing;
    - ``/error/...``: HTTP 500 with a JSON error, forever.

    ``arrivals(path)`` lists when (``time.monotonic()``) each request head for ``path`` was
    complete. Closing the server ends every connection at once."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self._sock.settimeout(0.1)
        self.port: int = self._sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._arrivals: dict[str, list[float]] = {}
        self._conns: list[socket.socket] = []
        self._threads: list[threading.Thread] = []

    def url(self, case: str) -> str:
        """A fresh URL (its own path) for one of the cases."""
        return f"{self.base}/{case}/{next(_ids)}"

    def arrivals(self, url_or_path: str) -> list[float]:
        path = url_or_path.removeprefix(self.base)
        with self._lock:
            return list(self._arrivals.get(path, []))

    def wait_for_arrival(self, url: str, timeout: float) -> float | None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            seen = self.arrivals(url)
            if seen:
                return seen[0]
            time.sleep(0.002)
        return None

    def __enter__(self) -> StubbornServer:
        t = threading.Thread(target=self._accept, name="stubborn-accept", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._closed.set()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
        for t in self._threads:
            t.join(timeout=2)
        self._sock.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._conns.append(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, conn: socket.socket) -> None:
        buf = b""
        with conn:
            while not self._closed.is_set():
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buf += data
                while b"\r\n\r\n" in buf:
                    head, buf = buf.split(b"\r\n\r\n", 1)
                    at = time.monotonic()
                    line = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
                    path = line[1] if len(line) > 1 else "/"
                    with self._lock:
                        self._arrivals.setdefault(path, []).append(at)
                    if not self._answer(conn, path.strip("/").split("/")[0]):
                        return

    def _answer(self, conn: socket.socket, case: str) -> bool:
        """Answer one request; False when the connection is to be left hanging."""
        try:
            if case == "completed":
                conn.sendall(_reply(200, "OK", b'{"status": "completed"}'))
            elif case == "running":
                conn.sendall(_reply(200, "OK", b'{"status": "running"}'))
            elif case == "error":
                conn.sendall(_reply(500, "Internal Server Error", b'{"error": "boom"}'))
            elif case == "stall-body":
                conn.sendall(_reply(200, "OK", b'{"status"', length=64))
                self._closed.wait()
                return False
            elif case == "silent":
                self._closed.wait()
                return False
            else:
                conn.sendall(_reply(404, "Not Found", b'{"error": "no such case"}'))
        except OSError:
            return False
        return True


def cli_command() -> list[str]:
    """The installed ``progress-client`` script beside this interpreter, else ``-m``."""
    script = Path(sys.executable).with_name("progress-client")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "progress_client"]


def compile_package() -> None:
    """Compile the package's modules to bytecode, as ``pip install`` does for a wheel."""
    import compileall

    compileall.compile_dir(ROOT / "progress_client", quiet=1)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", str(ROOT))}


def _launch(argv: Sequence[str]) -> tuple[float, subprocess.Popen[bytes]]:
    t0 = time.monotonic()
    proc = subprocess.Popen(list(argv), cwd=ROOT, env=_env(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return t0, proc


def _exit_time(argv: Sequence[str]) -> float:
    t0, proc = _launch(argv)
    proc.wait()
    return time.monotonic() - t0


def _first_request(server: StubbornServer, argv_for: str) -> tuple[float, float, int]:
    """(exec to the request's arrival, exec to exit, exit code) of one run."""
    url = server.url("completed")
    argv = [part.replace("{url}", url) for part in argv_for.split("\0")]
    t0, proc = _launch(argv)
    rc = proc.wait(timeout=60)
    done = time.monotonic() - t0
    seen = server.arrivals(url)
    if not seen:
        raise RuntimeError(f"{' '.join(argv)} sent no request (exit code {rc})")
    return seen[0] - t0, done, rc


@dataclass(frozen=True)
class StartupResult:
    runs: int
    #: Median seconds from exec to the first request's arrival, per contender.
    to_request: dict[str, float]
    #: Median seconds from exec to exit, per contender.
    to_exit: dict[str, float]

    REFERENCE = 'python -c "import httpx; httpx.get(URL)"'
    REFERENCE_CLEAN = "the same, on a default install (no click, no trio)"
    WAIT = "progress-client wait URL"

    @property
    def ratio(self) -> float:
        """``wait``'s time to its first request over the bare httpx call's, on a default
        install (the target's ratio)."""
        return self.to_request[self.WAIT] / self.to_request[self.REFERENCE_CLEAN]

    @property
    def ratio_here(self) -> float:
        """The same over the bare httpx call in this environment, as it is."""
        return self.to_request[self.WAIT] / self.to_request[self.REFERENCE]

    def markdown(self) -> str:
        lines = [
            f"Median of {self.runs} interleaved runs; wall time from exec (just before "
            "`Popen`) to the request head's arrival at a server on 127.0.0.1, and to exit.",
            "",
            "| command | to first request (ms) | to exit (ms) | ratio to the httpx call "
            "(default install) | ratio to the httpx call (as is) |",
            "|---|---:|---:|---:|---:|",
        ]
        clean = self.to_request[self.REFERENCE_CLEAN]
        ref = self.to_request[self.REFERENCE]
        for name, exit_s in self.to_exit.items():
            req = self.to_request.get(name)
            cells = ["-", "-", "-"] if req is None else [
                f"{1000 * req:.0f}", f"{req / clean:.2f}x", f"{req / ref:.2f}x"]
            label = name if name == self.REFERENCE_CLEAN else f"`{name}`"
            lines.append(f"| {label} | {cells[0]} | {1000 * exit_s:.0f} | {cells[1]} | "
                         f"{cells[2]} |")
        return "\n".join(lines)


def startup(runs: int = 15) -> StartupResult:
    """Start-up of ``wait`` against the bare httpx call, and of ``--version``."""
    cli = cli_command()
    compile_package()
    with_request = {
        StartupResult.REFERENCE: "\0".join([sys.executable, "-c",
                                            "import httpx; httpx.get('{url}')"]),
        # As if click and trio were not installed: their imports fail, as they would there.
        StartupResult.REFERENCE_CLEAN: "\0".join([
            sys.executable, "-c",
            "import sys; sys.modules.update(click=None, trio=None); "
            "import httpx; httpx.get('{url}')"]),
        StartupResult.WAIT: "\0".join([*cli, "wait", "{url}"]),
    }
    exit_only = {
        "progress-client --version": [*cli, "--version"],
        "python -c pass": [sys.executable, "-c", "pass"],
    }
    req: dict[str, list[float]] = {name: [] for name in with_request}
    ext: dict[str, list[float]] = {name: [] for name in [*with_request, *exit_only]}
    with StubbornServer() as server:
        for argv in with_request.values():  # warm-up: caches, bytecode
            _first_request(server, argv)
        names = [*with_request, *exit_only]
        for r in range(runs):
            for name in names[r % len(names):] + names[: r % len(names)]:
                if name in with_request:
                    to_req, to_exit, rc = _first_request(server, with_request[name])
                    if rc != 0:
                        raise RuntimeError(f"{name} exited {rc}")
                    req[name].append(to_req)
                    ext[name].append(to_exit)
                else:
                    ext[name].append(_exit_time(exit_only[name]))
    return StartupResult(
        runs=runs,
        to_request={k: statistics.median(v) for k, v in req.items()},
        to_exit={k: statistics.median(v) for k, v in ext.items()},
    )


@dataclass(frozen=True)
class OvershootResult:
    timeout: float
    #: Per case, wall seconds from exec to exit of each run.
    elapsed: dict[str, list[float]]
    #: Per case, the exit code of each run.
    codes: dict[str, list[int]]

    def worst(self, case: str) -> float:
        return max(self.elapsed[case]) - self.timeout

    def markdown(self) -> str:
        runs = len(next(iter(self.elapsed.values())))
        lines = [
            f"`progress-client wait URL --timeout {self.timeout:g}`, {runs} runs per case; wall "
            "time from exec to exit, minus the timeout (target: at most 0.3 s).",
            "",
            "| case | exit codes | overshoot median (ms) | overshoot max (ms) |",
            "|---|---|---:|---:|",
        ]
        for case, xs in self.elapsed.items():
            codes = ", ".join(str(c) for c in sorted(set(self.codes[case])))
            med = 1000 * (statistics.median(xs) - self.timeout)
            lines.append(f"| {case} | {codes} | {med:.0f} | {1000 * self.worst(case):.0f} |")
        return "\n".join(lines)


@dataclass(frozen=True)
class WaitRun:
    elapsed: float  # wall seconds from exec to exit
    code: int
    stdout: str
    stderr: str


def run_wait(url: str, timeout: float, *extra: str) -> WaitRun:
    """Run ``progress-client wait URL --timeout T [extra...]`` and time it from outside."""
    argv = [*cli_command(), "wait", url, "--timeout", f"{timeout:g}", *extra]
    t0 = time.monotonic()
    proc = subprocess.run(argv, cwd=ROOT, env=_env(), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout + 30, check=False)
    return WaitRun(time.monotonic() - t0, proc.returncode, proc.stdout, proc.stderr)


def overshoot(timeout: float = 1.5, runs: int = 3) -> OvershootResult:
    elapsed: dict[str, list[float]] = {case: [] for case in CASES}
    codes: dict[str, list[int]] = {case: [] for case in CASES}
    with StubbornServer() as server:
        for _ in range(runs):
            for case, segment in CASES.items():
                run = run_wait(server.url(segment), timeout)
                elapsed[case].append(run.elapsed)
                codes[case].append(run.code)
    return OvershootResult(timeout=timeout, elapsed=elapsed, codes=codes)


if __name__ == "__main__":
    print(startup().markdown())
    print()
    print(overshoot().markdown())
