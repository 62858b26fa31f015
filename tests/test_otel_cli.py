"""The CLI under ``opentelemetry-instrument``: the ``progress_client`` entry point instruments
``progress-client wait`` with no code change; the console exporters' spans and metrics (read
from the subprocess's output) carry the figures the CLI's own ``--json`` report gives, and the
server saw the span's trace id on every request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.kit import JobServer
from tests.serving import fixture

pytestmark = pytest.mark.e2e
BIN = Path(sys.executable).parent
SECRET = "Bearer sk_live_abcdefghijklmnop1234"


def documents(text: str) -> list[Any]:
    """The JSON documents printed one after another (the CLI's line, then the exporters')."""
    decoder, out, at = json.JSONDecoder(), [], 0
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return out
        doc, at = decoder.raw_decode(text, at)
        out.append(doc)


def data_points(docs: list[Any], name: str) -> list[dict[str, Any]]:
    return [p for d in docs if isinstance(d, dict) for rm in d.get("resource_metrics", ())
            for sm in rm["scope_metrics"] for m in sm["metrics"] if m["name"] == name
            for p in m["data"]["data_points"]]


server = fixture(JobServer)


def test_cli_wait_under_opentelemetry_instrument(server: JobServer) -> None:
    server.job("cli", [(0, "queued"), (0.2, "running"), (0.4, "done")])
    env = {
        **os.environ, "OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "console",
        "OTEL_LOGS_EXPORTER": "none", "OTEL_SERVICE_NAME": "progress-cli-test",
        "OTEL_METRIC_EXPORT_INTERVAL": "600000",  # one export, at exit
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "httpx,aiohttp-client,asyncio,threading",
    }
    out = subprocess.run(
        [str(BIN / "opentelemetry-instrument"), str(BIN / "progress-client"), "wait",
         server.url("cli") + "?token=t0psecretQ", "--initial", "0.1", "--step", "0.1",
         "--max", "0.2", "--json", "-H", f"Authorization: {SECRET}"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    docs = documents(out.stdout)
    report = docs[0]
    assert report["outcome"] == "succeeded"
    (span,) = [d for d in docs if isinstance(d, dict) and d.get("name") == "progress_client.wait"]
    attrs = span["attributes"]
    assert attrs["progress_client.requests"] == report["requests"]
    assert attrs["progress_client.saved_requests"] == report["saved_requests"]
    assert attrs["progress_client.outcome"] == "succeeded"
    assert attrs["url.full"] == f"http://127.0.0.1:{server.port}/jobs/cli"
    assert span["resource"]["attributes"]["service.name"] == "progress-cli-test"
    requests = [e for e in span["events"] if e["name"] == "progress_client.request"]
    assert len(requests) == report["requests"]
    trace_id = span["context"]["trace_id"].removeprefix("0x")
    seen = server.requests("/jobs/cli")
    assert len(seen) == report["requests"]
    assert all(s.headers["traceparent"].split("-")[1] == trace_id for s in seen)
    assert sum(p["value"] for p in data_points(docs, "progress_client.requests")) == (
        report["requests"]
    )
    (per_wait,) = data_points(docs, "progress_client.wait.requests")
    assert per_wait["count"] == 1 and per_wait["sum"] == report["requests"]
    assert sum(p["value"] for p in data_points(docs, "progress_client.not_modified")) == (
        report["not_modified"]
    )
    for secret in ("sk_live", "t0psecretQ"):
        assert secret not in out.stdout and secret not in out.stderr
