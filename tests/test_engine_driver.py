"""The docs' "drive the engine yourself" loop (docs/development.md), run as written against a
real server: the engine is public API, and a driver of one's own is a short loop."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from progress_client import FixedPolicy, WaitConfig
from progress_client.engine import Stop
from tests.kit import JobServer, Reply

PAGE = Path(__file__).resolve().parent.parent / "docs" / "development.md"


def _readme_driver() -> Any:
    text = PAGE.read_text()
    section = text[text.index("## Drive the engine yourself"):]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None, "the docs lost their driver example"
    namespace: dict[str, Any] = {}
    exec(compile(code.group(1), "docs-driver", "exec"), namespace)
    return namespace["wait"]


@pytest.mark.e2e
def test_the_docs_driver_waits_on_a_real_server() -> None:
    wait = _readme_driver()
    with JobServer() as server:
        job = server.script("drv", [
            Reply(200, {"status": "queued"}),
            Reply(503, b"", {"Retry-After": "0"}),
            Reply(200, {"status": "running"}),
            Reply(200, {"status": "completed"}),
        ])
        stop = wait(job.url, 60.0, WaitConfig(policy=FixedPolicy(0.02), allow_fast_polling=True))
    assert isinstance(stop, Stop)
    assert stop.outcome == "succeeded" and stop.status is not None
    assert stop.status.status == "completed"
    assert stop.report.requests == 4 and stop.report.errors == 1
