"""Helpers shared by the subcommands: header parsing, durations, the summary line, JSON out.

Light on purpose: every command's parser uses it, so it imports nothing of the client at
module level (the types are for the type checker; the few run-time uses import inside)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .. import JobStatus, PollError, PollReport

__all__ = [
    "emit_json",
    "format_duration",
    "parse_header",
    "positive_float",
    "result_dict",
    "summary_line",
]


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0: {text!r}")
    return value


def parse_header(text: str) -> tuple[str, str]:
    """``"Name: value"`` to a pair; refuses what would break a request line."""
    name, sep, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not sep or not name:
        raise argparse.ArgumentTypeError("headers look like 'Name: value'")
    if not all(33 <= ord(c) < 127 and c not in '()<>@,;:\\"/[]?={}' for c in name):
        from .. import sanitize

        raise argparse.ArgumentTypeError(f"invalid header name {sanitize(name)!r}")
    if any(c in value for c in "\r\n\0"):
        raise argparse.ArgumentTypeError(f"header {name} has a line break in its value")
    return name, value


def format_duration(seconds: float) -> str:
    """``41.2`` -> ``41.2s``; ``302`` -> ``5m02s``; ``3700`` -> ``1h01m40s``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    total = round(seconds)
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


def summary_line(status_word: str, report: PollReport) -> str:
    """``completed after 41 requests in 5m02s, 260 fewer than polling every 1s (86%)``."""
    base = f"{report.baseline_interval:g}s"
    plural = "request" if report.requests == 1 else "requests"
    head = f"{status_word} after {report.requests} {plural} in {format_duration(report.elapsed)}"
    if report.saved_requests > 0:
        pct = round(100 * report.saved_ratio)
        return f"{head}, {report.saved_requests} fewer than polling every {base} ({pct}%)"
    return f"{head}, no fewer than polling every {base}"


def result_dict(
    outcome: str,
    status: JobStatus | None,
    report: PollReport | None,
    error: PollError | None = None,
) -> dict[str, Any]:
    from .. import PollReport, sanitize

    r = report if report is not None else PollReport()
    d = r.to_dict()
    return {
        "outcome": outcome,
        "status": status.status if status is not None else None,
        "step": status.step if status is not None else None,
        "progress": status.progress if status is not None else None,
        "error": sanitize(error.message) if error is not None else None,
        "requests": d["requests"],
        "baseline_requests": d["baseline_requests"],
        "saved_requests": d["saved_requests"],
        "saved_percent": d["saved_percent"],
        "elapsed_s": d["elapsed_s"],
        "changes": d["changes"],
        "errors": d["errors"],
        "hint_waits": d["hint_waits"],
        "not_modified": d["not_modified"],
        "bytes_received": d["bytes_received"],
        "mode": d["mode"],
        # A profile's remark on the outcome; partial: a success with parts missing.
        "note": _extra(status, "note"),
        "partial": _extra(status, "partial") is True,
    }


def _extra(status: JobStatus | None, name: str) -> Any:
    extra = status.model_extra if status is not None else None
    return (extra or {}).get(name)


def partial_line(status: JobStatus | None) -> str | None:
    """The summary's line for a success with parts missing (a profile's ``partial`` rule)."""
    if _extra(status, "partial") is not True:
        return None
    note = _extra(status, "note")
    return "partial success" + (f": {note}" if note else "")


def emit_json(data: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    sys.stdout.flush()
