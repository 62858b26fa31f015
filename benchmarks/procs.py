"""Starting and stopping the benchmark's helper processes (the tiny server, redis-server, a
Redis Cluster, the reference server) on free loopback ports, and recording the machine they
ran on. The tests use the same helpers."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "RedisProcess",
    "free_port",
    "machine",
    "redis_cluster",
    "redis_server",
    "spawn",
    "stop",
    "tinyserver",
    "wait_for_port",
]

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop(proc: subprocess.Popen[Any], grace: float = 10) -> None:
    """End a helper process: SIGTERM, then SIGKILL if it is still running ``grace`` s later
    (a busy machine takes a while to shut a server down; a hung one is not waited on)."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:g} s")


@contextlib.contextmanager
def spawn(argv: Sequence[str], port: int) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` until the block ends; wait until it listens on ``port``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(list(argv), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield proc
    finally:
        stop(proc)


@contextlib.contextmanager
def tinyserver(timeline: str | None = None, speed: float = 1.0) -> Iterator[str]:
    """The tiny status endpoint in its own process; yields its base URL."""
    port = free_port()
    argv = [sys.executable, "-m", "benchmarks.tinyserver", "--port", str(port),
            "--speed", str(speed)]
    if timeline is not None:
        argv += ["--timeline", timeline]
    with spawn(argv, port):
        yield f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """REDIS_URL if set, else a throwaway redis-server; yields its URL."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("no redis-server on PATH and no REDIS_URL")
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp, spawn(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly",
         "no", "--dir", tmp], port
    ):
        yield f"redis://127.0.0.1:{port}/0"


def _redis_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("no redis-server on PATH")
    return binary


class RedisProcess:
    """A throwaway redis-server on one loopback port that can be killed (SIGKILL, as a crash)
    and started again on the same port, empty (no persistence). ``extra`` are more
    ``redis-server`` options, e.g. ``("--requirepass", "...")``."""

    def __init__(self, port: int | None = None, extra: Sequence[str] = ()) -> None:
        self.port = port or free_port()
        self.extra = list(extra)
        self.proc: subprocess.Popen[bytes] | None = None
        self._tmp = tempfile.TemporaryDirectory()

    def start(self) -> None:
        argv = [_redis_binary(), "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                "--appendonly", "no", "--dir", self._tmp.name, *self.extra]
        self.proc = subprocess.Popen(argv, cwd=self._tmp.name, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)
        self.proc = None

    def close(self) -> None:
        self.stop()
        self._tmp.cleanup()

    def __enter__(self) -> RedisProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _cluster_ports(n: int) -> list[tuple[int, int]]:
    """``n`` (client port, cluster-bus port) pairs, all free and distinct."""
    seen: set[int] = set()
    pairs: list[tuple[int, int]] = []
    while len(pairs) < n:
        a, b = free_port(), free_port()
        if len({a, b} | seen) == len(seen) + 2:
            seen |= {a, b}
            pairs.append((a, b))
    return pairs


@contextlib.contextmanager
def redis_cluster(masters: int = 3, timeout: float = 30.0) -> Iterator[list[int]]:
    """A throwaway Redis Cluster on loopback: ``masters`` redis-servers with
    ``--cluster-enabled yes`` joined by ``redis-cli --cluster create`` (no replicas); yields
    their ports once every node reports ``cluster_state:ok``."""
    cli = shutil.which("redis-cli")
    if cli is None:
        raise RuntimeError("no redis-cli on PATH (it comes with redis-server)")
    nodes: list[RedisProcess] = []
    try:
        for port, bus in _cluster_ports(masters):
            node = RedisProcess(port, ["--cluster-enabled", "yes", "--cluster-port", str(bus),
                                       "--cluster-config-file", f"nodes-{port}.conf",
                                       "--cluster-node-timeout", "2000"])
            nodes.append(node)
            node.start()
        created = subprocess.run(
            [cli, "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in nodes),
             "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True, text=True, timeout=timeout, check=False,
        )
        if created.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed: {created.stdout[-300:]}"
                               f"{created.stderr[-300:]}")
        deadline = time.monotonic() + timeout
        for node in nodes:
            while True:
                info = subprocess.run([cli, "-p", str(node.port), "cluster", "info"],
                                      capture_output=True, text=True, check=False).stdout
                if "cluster_state:ok" in info:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("the Redis Cluster did not reach cluster_state:ok")
                time.sleep(0.05)
        yield [n.port for n in nodes]
    finally:
        for node in nodes:
            node.close()


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        import psutil

        return f"{psutil.virtual_memory().total / 2**30:.1f} GiB"
    except Exception:
        return "unknown"


def machine() -> dict[str, str]:
    """The machine and the versions a result was measured with."""
    info = {
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": _memory(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }
    for dist in ("progress-client", "httpx", "anyio", "pydantic", "tenacity", "backoff",
                 "polling2", "redis", "starlette", "uvicorn", "matplotlib", "psutil"):
        try:
            info[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            info[dist] = "not installed"
    redis_bin = shutil.which("redis-server")
    if redis_bin:
        out = subprocess.run([redis_bin, "--version"], capture_output=True, text=True,
                             check=False).stdout
        info["redis-server"] = next((w[2:] for w in out.split() if w.startswith("v=")), "?")
    return info
