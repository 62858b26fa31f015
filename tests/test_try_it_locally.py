"""docs/try-it-locally.md run as written: its ```bash blocks, in order, each command in a
process of its own as a reader would run them in three terminals (``serve`` and ``wait`` keep
running while the ``job set`` commands write), with nothing carried from one command's output
to another's. On 127.0.0.1:8000 as the page says when that port is free; on a free port
otherwise, which is then the only change (``serve --port P``, ``--server`` for ``job``, the
URL of ``wait``).

The runtime directory is the test's own (``XDG_RUNTIME_DIR``), as each user's is their own."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.procs import free_port

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "try-it-locally.md"
DOC_PORT = 8000
_BASH = re.compile(r"^```bash[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)


def walkthrough() -> list[list[str]]:
    """The page's commands up to its first section after the walk-through, as argv lists."""
    text = PAGE.read_text(encoding="utf-8")
    text = text[text.index("## Three terminals"):text.index("## Why no token to copy")]
    commands = []
    for block in _BASH.findall(text):
        for line in block.splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                commands.append(shlex.split(line))
    return commands


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _on_port(argv: list[str], port: int) -> list[str]:
    if port == DOC_PORT:
        return argv
    out = [a.replace(f"127.0.0.1:{DOC_PORT}", f"127.0.0.1:{port}") for a in argv]
    if argv[:2] == ["progress-client", "serve"]:
        out += ["--port", str(port)]
    if argv[:2] == ["progress-client", "job"]:
        out += ["--server", f"http://127.0.0.1:{port}"]
    return out


def _popen(argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    assert argv[0] == "progress-client"
    return subprocess.Popen([sys.executable, "-m", "progress_client", *argv[1:]], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.e2e
def test_the_walkthrough_runs_as_written(tmp_path: Path) -> None:
    commands = walkthrough()
    assert [c[:3] for c in commands] == [
        ["progress-client", "serve"],
        ["progress-client", "job", "set"],
        ["progress-client", "wait", f"http://127.0.0.1:{DOC_PORT}/jobs/42"],
        ["progress-client", "job", "set"],
        ["progress-client", "job", "set"],
    ]
    assert commands[-1][-4:] == ["--status", "completed", "--progress", "100"]
    port = DOC_PORT if _port_free(DOC_PORT) else free_port()
    print(f"\nthe walk-through on 127.0.0.1:{port}" + (" (as written)" if port == DOC_PORT
                                                     else f" ({DOC_PORT} is taken here)"))
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if k != "PROGRESS_CLIENT_WORKER_TOKEN"}
    env.update(XDG_RUNTIME_DIR=str(runtime), PYTHONUNBUFFERED="1")

    running: list[subprocess.Popen[str]] = []
    try:
        for argv in (_on_port(c, port) for c in commands):
            if argv[1] == "serve":
                server = _popen(argv, env)
                running.append(server)
                assert server.stderr is not None
                line = server.stderr.readline()  # what the reader waits for in terminal 1
                assert f"http://127.0.0.1:{port}" in line, line
            elif argv[1] == "wait":
                waiter = _popen(argv, env)
                running.append(waiter)
                time.sleep(0.5)  # the reader switches terminals: the wait has started
            else:
                done = _popen(argv, env)
                out, err = done.communicate(timeout=60)
                assert done.returncode == 0, (argv, err)
                assert out.startswith("job 42: "), out
        out, err = waiter.communicate(timeout=60)
        assert waiter.returncode == 0, err
        assert "completed after" in out + err
        server.send_signal(signal.SIGINT)  # Ctrl-C in terminal 1
        _, err = server.communicate(timeout=20)
        assert server.returncode == 0 and "Traceback" not in err, err
        assert not list(runtime.glob("progress-client/worker-token-*"))
    finally:
        for proc in running:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
