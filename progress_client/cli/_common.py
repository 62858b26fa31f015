"""Helpers shared by the subcommands: header parsing, durations, sizes, URLs as the user typed
them (credentials hidden), the summary line, the resume hint, JSON out.

Light on purpose: every command's parser uses it, so it imports nothing of the client at
module level (the types are for the type checker; the few run-time uses import inside)."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

# MIN_INTERVAL: the shortest polling interval the command line takes without
# --allow-fast-polling, the client's own (the options' declaration imports no client).
from progress_client.core.options import MIN_INTERVAL

from .. import PollReport, sanitize

if TYPE_CHECKING:
    from .. import JobStatus, PollError, PollReport

__all__ = [
    "MIN_INTERVAL",
    "byte_size",
    "emit_json",
    "format_duration",
    "format_size",
    "http_url",
    "parse_header",
    "plural",
    "positive_float",
    "result_dict",
    "resume_hint",
    "shown_url",
    "summary_line",
]

#: Query (and fragment) parameter names whose values are credentials: shown as ``***``.
_SECRET_NAME = re.compile(
    r"(?i)^(?:[a-z0-9]+[_-])*(?:access[_-]?token|refresh[_-]?token|id[_-]?token|token|"
    r"api[_-]?key|apikey|key|secret|password|passwd|pwd|pass|signature|sig|session|"
    r"sessionid|session[_-]?id|auth|code|credentials?|x-amz-signature|x-amz-credential|"
    r"x-amz-security-token)$"
)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0: {text!r}")
    return value


def plural(count: int, word: str) -> str:
    """``1 request``, ``3 requests``."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def shown_url(url: str) -> str:
    """The user's own URL as typed, for the user's own messages, minus its credentials: a
    user-info password (``user:***@``; a bare user-info, often a token, as ``***@``) and the
    values of query or fragment parameters named like secrets (``token``, ``key``,
    ``signature``, ``sig``, ``access_token`` ...: ``token=***``). Host, port, path and every
    other parameter stay as typed (the sanitizer, for text shown to others, would hide them)."""
    head, sep, rest = url.partition("://")
    if not sep:
        head, rest = "", url
    # The authority ends at the first /, ? or #.
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:cut], rest[cut:]
    if "@" in authority:
        userinfo, _, host = authority.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        authority = f"{user}:***@{host}" if colon and user else f"***@{host}"
    tail = re.sub(r"([?&;#])([^=&;#]*)=([^&;#]*)", _hide_param, tail)
    return f"{head}{sep}{authority}{tail}"


def _hide_param(m: re.Match[str]) -> str:
    name = m.group(2)
    return f"{m.group(1)}{name}=***" if _SECRET_NAME.match(name) else m.group(0)


def http_url(text: str) -> str:
    """An argparse type: an ``http://`` or ``https://`` URL with a host, else a usage error
    that echoes it (credentials hidden) and says what would do."""
    try:
        parts = urlsplit(text.strip())
        host = parts.hostname
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a valid URL: {shown_url(text)!r}") from None
    scheme = parts.scheme.lower()
    if scheme in ("http", "https") and host:
        return text.strip()
    if not scheme or "://" not in text:
        guess = shown_url("https://" + text.strip().lstrip("/"))
        raise argparse.ArgumentTypeError(
            f"not an http(s) URL: {shown_url(text)!r} has no scheme (did you mean {guess}?)")
    if scheme not in ("http", "https"):
        raise argparse.ArgumentTypeError(
            f"not an http(s) URL: {shown_url(text)!r} ({scheme}: is not HTTP; give an "
            "http:// or https:// URL)")
    raise argparse.ArgumentTypeError(f"not an http(s) URL: {shown_url(text)!r} has no host")


_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*")
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3,
          "gb": 1000**3, "ki": 1024, "kib": 1024, "mi": 1024**2, "mib": 1024**2,
          "gi": 1024**3, "gib": 1024**3}


def byte_size(text: str) -> int:
    """An argparse type: a size in bytes, ``1048576``, ``512k``, ``50M``, ``1MiB``, ``2GB``
    (k, M, G: powers of 1000; KiB, MiB, GiB: powers of 1024)."""
    m = _SIZE.fullmatch(text)
    unit = m.group(2).lower() if m else ""
    if m is None or unit not in _UNITS:
        raise argparse.ArgumentTypeError(
            f"not a size: {text!r} (give bytes, or a number with k, M, G, KiB, MiB or GiB)")
    value = float(m.group(1)) * _UNITS[unit]
    if not 1 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be at least 1 byte: {text!r}")
    return int(value)


def format_size(size: int) -> str:
    """``1048576`` -> ``1MiB``; ``50000000`` -> ``50MB``; else bytes."""
    for unit, name in ((1024**3, "GiB"), (1000**3, "GB"), (1024**2, "MiB"), (1000**2, "MB"),
                       (1024, "KiB"), (1000, "kB")):
        if size % unit == 0:
            return f"{size // unit}{name}"
    return f"{size} bytes"


def resume_hint(url: str, token: str | None) -> str:
    """The exact command that goes on with a timed-out or interrupted wait (``url`` as shown:
    where ``***`` hides a credential, the user puts it back)."""
    import shlex  # only a wait that ends without success says this

    hidden = " (put back the credentials shown as ***)" if "***" in url else ""
    if token is None:
        return f"to go on: progress-client wait {shlex.quote(url)}{hidden}"
    return (f"to go on where this wait stopped: progress-client wait {shlex.quote(url)} "
            f"--resume {shlex.quote(token)}{hidden}")


def parse_header(text: str) -> tuple[str, str]:
    """``"Name: value"`` to a pair; refuses what would break a request line."""
    name, sep, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not sep or not name:
        raise argparse.ArgumentTypeError("headers look like 'Name: value'")
    if not all(33 <= ord(c) < 127 and c not in '()<>@,;:\\"/[]?={}' for c in name):
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


def summary_line(status_word: str, report: PollReport, last_error: str | None = None) -> str:
    """``completed after 41 requests in 5m02s, 260 fewer than polling every 1s (86%)``.

    Savings are the report's: counted over the time the server answered only
    (``PollReport``), so a wait nobody answered claims none; it says so, and names the last
    error when one is given."""
    base = f"{report.baseline_interval:g}s"
    head = (f"{status_word} after {plural(report.requests, 'request')} in "
            f"{format_duration(report.elapsed)}")
    if report.requests and report.answered == 0:
        line = f"{head}, none answered"
    else:
        if report.unanswered:
            head += f" ({report.unanswered} not answered)"
        if report.saved_requests > 0:
            pct = round(100 * report.saved_ratio)
            line = f"{head}, {report.saved_requests} fewer than polling every {base} ({pct}%)"
        else:
            line = f"{head}, no fewer than polling every {base}"
    if last_error:
        line += f"; last error: {last_error}"
    return line


def result_dict(
    outcome: str,
    status: JobStatus | None,
    report: PollReport | None,
    error: PollError | None = None,
    last_error: str | None = None,
) -> dict[str, Any]:
    """The ``--json`` object's common fields. Fields are only ever added (``answered``,
    ``unanswered``, ``last_error``, ``resume_token`` ...), never renamed."""
    r = report if report is not None else PollReport()
    d = r.to_dict()
    return {
        "outcome": outcome,
        "status": status.status if status is not None else None,
        "step": status.step if status is not None else None,
        "progress": status.progress if status is not None else None,
        "error": sanitize(error.message) if error is not None else None,
        "requests": d["requests"],
        "answered": d["answered"],
        "unanswered": d["unanswered"],
        "last_error": sanitize(last_error) if last_error is not None else None,
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
        "budget_delays": d["budget_delays"],
        "budget_delay_ms": d["budget_delay_ms"],
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
