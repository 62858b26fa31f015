"""The README, proved from the outside (run by .ci/readme-proof with the python of a fresh
virtual environment that holds nothing yet).

1. The README's first command, read from its first ```bash block: the extras its ``pip install``
   names are installed from the built wheel (the wheel stands for ``.``), then the rest of the
   command (``progress-client demo``) runs exactly as written, in an empty directory. It must
   exit 0 with no traceback on stderr.
2. The README's ```python blocks, read from README.md now, run as written in this environment,
   against the "try it locally" server (tests/samples.py: ``progress-client serve`` with a
   worker token and ``PUT /jobs/42``; the reference server in a helper process where the
   package has no write API), each exiting 0 with no traceback.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DEMO_TIMEOUT = 300


def say(message: str) -> None:
    print(f"readme-proof: {message}", flush=True)


def fail(message: str) -> None:
    print(f"readme-proof: FAILED: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def first_command() -> tuple[str, str]:
    """The README's first command: (what ``pip install`` installs, what runs after it)."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"^```bash\n(.*?)^```", text, re.S | re.M)
    if block is None:
        fail("the README has no ```bash block")
    line = next(ln for ln in block.group(1).splitlines() if ln.strip())
    command = line.split(" #", 1)[0].strip()
    install, sep, rest = command.partition("&&")
    words = shlex.split(install)
    if not sep or words[:2] != ["pip", "install"] or len(words) != 3:
        fail(f"the README's first command is not 'pip install X && ...': {command!r}")
    return words[2], rest.strip()


def _load(name: str, path: Path) -> object:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_samples_kit() -> object:
    # Loaded by path, not imported from the checkout: this environment's progress_client must
    # be the wheel's. The kit's process helpers (standard library only) come by path too.
    _load("benchmarks", ROOT / "benchmarks" / "__init__.py")
    _load("benchmarks.procs", ROOT / "benchmarks" / "procs.py")
    return _load("samples", ROOT / "tests" / "samples.py")


def main() -> None:
    wheel = Path(sys.argv[1]).resolve()
    target, command = first_command()
    extras = re.fullmatch(r"\.(\[[a-z0-9,_-]+\])?", target)
    if extras is None:
        fail(f"the README installs {target!r}, not the checkout ('.' or '.[extras]')")
    requirement = f"{wheel}{extras.group(1) or ''}"
    say(f"README's first command: pip install {target} && {command}")
    say(f"installing {wheel.name}{extras.group(1) or ''} into {sys.prefix}")
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", requirement], check=True)

    bindir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
    env["VIRTUAL_ENV"] = sys.prefix
    with tempfile.TemporaryDirectory() as cwd:
        started = time.monotonic()
        proc = subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=DEMO_TIMEOUT, check=False,
                              stdin=subprocess.DEVNULL)
        took = time.monotonic() - started
    if proc.returncode != 0 or "Traceback" in proc.stderr:
        fail(f"{command!r} exited {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\n"
             f"stderr:\n{proc.stderr[-3000:]}")
    say(f"{command!r}: exit 0 in {took:.1f} s, no traceback; its last line: "
        f"{proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else '(none)'}")

    kit = load_samples_kit()
    samples = kit.python_samples(README)  # type: ignore[attr-defined]
    if not samples:
        fail("the README has no ```python block")
    needs_server = any(s.needs_server for s in samples)
    server = kit.LocalServer(python=sys.executable) if needs_server else None  # type: ignore[attr-defined]
    if server is not None:
        server.__enter__()
        say("local server: " + ("progress-client serve --worker-token, PUT /jobs/42"
                                if server.write_api else
                                "no write API in this package: the reference server in a "
                                "helper process, job 42 written through its store"))
    try:
        for sample in samples:
            started = time.monotonic()
            proc = kit.run_sample(sample, python=sys.executable, server=server)  # type: ignore[attr-defined]
            if proc.returncode != 0 or "Traceback" in proc.stderr:
                fail(f"README sample {sample.name} exited {proc.returncode}\n"
                     f"stdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}")
            out = " | ".join(proc.stdout.strip().splitlines()[-3:])
            say(f"README sample {sample.name}: exit 0 in {time.monotonic() - started:.1f} s: {out}")
    finally:
        if server is not None:
            server.__exit__(None, None, None)
    say(f"the README's first command and its {len(samples)} Python samples pass from a clean "
        "environment")


if __name__ == "__main__":
    main()
