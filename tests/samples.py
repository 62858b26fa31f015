"""The documentation's Python samples, found and run as written.

Used by ``tests/test_docs_samples.py`` (the development environment) and by ``.ci/readme-proof``
(a clean virtual environment holding only the built wheel), so it needs nothing beyond the
standard library and, for the local server, the installed package with its ``server`` extra.

The one convention (docs/development.md, "Code samples"): every fenced ```python block is a
program, run in a fresh interpreter with a timeout. A block that names ``127.0.0.1:8000`` (the
"try it locally" server) gets one: the harness starts the reference server (memory store) on a
free loopback port, puts job ``42`` through ``queued`` -> ``running`` (progress 40) ->
``completed`` while the block runs, and replaces ``127.0.0.1:8000`` with that port. Nothing
else in a block is changed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks.procs import free_port, stop

__all__ = [
    "JOB_ID",
    "LOCAL",
    "TIMEOUT",
    "LocalServer",
    "Sample",
    "python_samples",
    "run_sample",
]

#: The address the samples name for the "try it locally" server, and its job.
LOCAL = "127.0.0.1:8000"
JOB_ID = "42"
#: Seconds a sample may take (a local job lasts about 4 s; the adaptive schedule sees its end
#: within 8 s of it).
TIMEOUT = 60.0
#: The job's life, in seconds after the sample starts: (when, status, progress).
SCHEDULE: tuple[tuple[float, str, float], ...] = (
    (1.5, "running", 40.0),
    (4.0, "completed", 100.0),
)
#: What a sample's interpreter does not inherit: a user running it would not have them.
_NOT_PASSED = {"PYTHONPATH", "PYTHONSTARTUP", "PROGRESS_CLIENT_TRANSPORT"}
_FENCE = re.compile(r"^```python[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)


@dataclass(frozen=True)
class Sample:
    """One ```python block: where it is and what it says."""

    path: Path
    line: int
    code: str

    @property
    def name(self) -> str:
        return f"{self.path.name}:{self.line}"

    @property
    def needs_server(self) -> bool:
        return LOCAL in self.code


def python_samples(path: Path) -> list[Sample]:
    """The ```python blocks of a Markdown file, in order."""
    text = path.read_text(encoding="utf-8")
    return [
        Sample(path, text.count("\n", 0, m.start()) + 1, m.group(1))
        for m in _FENCE.finditer(text)
    ]


#: Where the server's processes run: not a checkout, whose package ``python -m`` would import
#: in place of the installed one.
_NEUTRAL = tempfile.gettempdir()


def _has_write_api(python: str) -> bool:
    """Does the installed ``serve`` take a worker token (``PUT /jobs/{id}``)?"""
    proc = subprocess.run(
        [python, "-m", "progress_client", "serve", "--help"],
        capture_output=True, text=True, timeout=60, check=False, cwd=_NEUTRAL,
    )
    return proc.returncode == 0 and "--worker-token" in proc.stdout


#: Without the write API: the reference server in a thread of a small process of its own,
#: fed the job's updates as JSON lines on stdin (``store.update`` on the server's loop).
_HELPER = """
import json, sys
from progress_client.server import MemoryStore, create_app, serve_in_thread
store = MemoryStore()
with serve_in_thread(create_app(store), port=int(sys.argv[1])) as server:
    print("ready", flush=True)
    for line in sys.stdin:
        fields = json.loads(line)
        server.call(lambda: store.update(fields.pop("job"), **fields))
        print("ok", flush=True)
"""


class LocalServer:
    """The "try it locally" server for the samples: ``progress-client serve`` (memory store)
    written to with the worker API when the package has it, else the reference server in a
    helper process written to through its store."""

    def __init__(self, python: str = sys.executable) -> None:
        self.python = python
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = os.urandom(16).hex()
        self.write_api = _has_write_api(python)
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        # The server's stderr goes to a file: a pipe nobody reads could fill and stall it.
        self._log = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 (closed on exit)

    def __enter__(self) -> LocalServer:
        if self.write_api:
            self._proc = subprocess.Popen(
                [self.python, "-m", "progress_client", "serve", "--port", str(self.port),
                 "--worker-token", self.token],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._log,
                text=True, cwd=_NEUTRAL,
            )
            self._wait_healthy()
        else:
            self._proc = subprocess.Popen(
                [self.python, "-c", _HELPER, str(self.port)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
                text=True, cwd=_NEUTRAL,
            )
            assert self._proc.stdout is not None
            line = self._proc.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError(f"the local server did not start: {self._stderr()}")
        return self

    def __exit__(self, *exc: object) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None:
            proc.stdin.close()
        stop(proc)
        if proc.stdout is not None:
            proc.stdout.close()
        self._log.close()

    def _stderr(self) -> str:
        """What the server said on stderr (after stopping it)."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=10)
        self._log.seek(0)
        return self._log.read()[-2000:]

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise RuntimeError(f"progress-client serve exited: {self._stderr()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("progress-client serve did not answer /healthz within 30 s")

    def set(self, status: str, progress: float, job: str = JOB_ID) -> None:
        """Write the job's state, as a worker does."""
        with self._lock:
            if self.write_api:
                request = urllib.request.Request(
                    f"{self.url}/jobs/{job}", method="PUT",
                    data=json.dumps({"status": status, "progress": progress}).encode(),
                    headers={"Authorization": f"Bearer {self.token}",
                             "Content-Type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=10) as r:
                    if r.status >= 300:
                        raise RuntimeError(f"PUT /jobs/{job} answered {r.status}")
                return
            proc = self._proc
            assert proc is not None and proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(json.dumps({"job": job, "status": status, "progress": progress})
                             + "\n")
            proc.stdin.flush()
            if proc.stdout.readline().strip() != "ok":
                raise RuntimeError(f"the local server refused an update: {self._stderr()}")

    @contextmanager
    def job(self) -> Iterator[None]:
        """Job 42 from ``queued``, through its schedule, in a thread, while the block runs."""
        self.set("queued", 0.0)
        stop = threading.Event()
        failed: list[BaseException] = []

        def play() -> None:
            start = time.monotonic()
            try:
                for at, status, progress in SCHEDULE:
                    if stop.wait(max(0.0, start + at - time.monotonic())):
                        return
                    self.set(status, progress)
            except BaseException as exc:  # reported by the caller
                failed.append(exc)

        thread = threading.Thread(target=play, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=15)
        if failed:
            raise failed[0]


def run_sample(
    sample: Sample, *, python: str = sys.executable, server: LocalServer | None = None,
    timeout: float = TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run one sample as a program in a fresh interpreter (in an empty directory), with the
    local server's port put in where it names ``127.0.0.1:8000``."""
    code = sample.code
    if sample.needs_server:
        if server is None:
            raise ValueError(f"{sample.name} needs the local server")
        code = code.replace(LOCAL, f"127.0.0.1:{server.port}")
    with tempfile.TemporaryDirectory() as cwd:
        script = Path(cwd) / "sample.py"
        script.write_text(code, encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if k not in _NOT_PASSED}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        if sample.needs_server and server is not None:
            with server.job():
                return _run(python, script, cwd, env, timeout)
        return _run(python, script, cwd, env, timeout)


def _run(
    python: str, script: Path, cwd: str, env: dict[str, str], timeout: float,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, str(script)], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=timeout, check=False, stdin=subprocess.DEVNULL,
    )
