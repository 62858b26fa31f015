"""Reading one HTTP response: a pure function from a status code, headers and a body to what
they mean for the wait. The engine calls it; it keeps no state and does no I/O.

A response is one of four things:

- a **status** (``Verdict.reading``): a 2xx whose body the reader turned into a ``Reading``;
- **not modified**: a 304 to a conditional request (the last status still holds);
- **transient**: 408, 425, 429, 500, 502, 503, 504: retried on the schedule;
- **fatal** (``Verdict.error``): any other status, a body that is not a status document,
  a body over the size limit, a 304 nobody asked for.

Every message is written for whoever called the library (no CLI flags in it) and passes
through ``sanitize()``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from progress_client.core.errors import BadResponse, PollError, RequestFailed, ResponseTooLarge
from progress_client.core.models import Reader, Reading
from progress_client.core.sanitize import sanitize
from progress_client.core.value import Value, setslot

__all__ = ["TRANSIENT_STATUS_CODES", "Verdict", "error_detail", "read_response"]

#: HTTP statuses retried on the policy's schedule (plus hints) rather than raised at once.
TRANSIENT_STATUS_CODES: frozenset[int] = frozenset({408, 425, 429, 500, 502, 503, 504})

Kind = Literal["status", "not_modified", "transient", "fatal"]


class Verdict(Value):
    """What one response means. ``reading`` for a status, ``error`` for a fatal one,
    ``description`` for a transient one."""

    __slots__ = __match_args__ = ("kind", "reading", "error", "description")
    kind: Kind
    reading: Reading | None
    error: PollError | None
    description: str

    def __init__(
        self, kind: Kind, reading: Reading | None = None, error: PollError | None = None,
        description: str = "",
    ) -> None:
        setslot(self, "kind", kind)
        setslot(self, "reading", reading)
        setslot(self, "error", error)
        setslot(self, "description", description)


_NOT_MODIFIED = Verdict("not_modified")


def read_response(
    reader: Reader,
    status_code: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    truncated: bool = False,
    have_status: bool = True,
    url: str | None = None,
) -> Verdict:
    """Read a response. ``headers`` has lower-case keys; ``truncated`` means the body passed
    the size limit and was not read further; ``have_status`` whether an earlier status exists
    (a 304 without one is an error)."""
    if status_code == 304:
        if have_status:
            return _NOT_MODIFIED
        return _fatal(BadResponse(
            "the server answered 304 Not Modified to a request that was not conditional",
            status_code=304, url=url,
        ))
    if status_code in TRANSIENT_STATUS_CODES:
        return Verdict("transient", description=f"HTTP {status_code}")
    if not 200 <= status_code < 300:
        return _fatal(fatal_status(status_code, body, headers, have_status=have_status, url=url))
    content_type = headers.get("content-type")
    if truncated:
        if reader.accepts_body(status_code, content_type) and "json" not in (
            content_type or ""
        ):
            # A result in the body itself (a video): the code says the status; the body is
            # fetched whole when the result is asked for.
            return _read(reader, None, status_code, headers, url)
        return _fatal(ResponseTooLarge(
            f"the response body is larger than the limit ({len(body)} bytes read); raise "
            "max_body if this endpoint is known to send large documents",
            status_code=status_code, url=url,
        ))
    try:
        doc = json.loads(body) if body else _NO_JSON
    except (ValueError, RecursionError):
        doc = _NO_JSON
    if doc is _NO_JSON:
        if not reader.accepts_body(status_code, content_type):
            return _fatal(_not_json(status_code, content_type, len(body), url))
        doc = None
    return _read(reader, doc, status_code, headers, url)


_NO_JSON = object()


def _read(
    reader: Reader, doc: Any, code: int, headers: Mapping[str, str], url: str | None
) -> Verdict:
    try:
        reading = reader.read(doc, status_code=code, headers=headers)
    except BadResponse as exc:
        return _fatal(BadResponse(exc.message, status_code=code, url=url))
    return Verdict("status", reading=reading)


def _fatal(error: PollError) -> Verdict:
    return Verdict("fatal", error=error)


def _not_json(code: int, content_type: str | None, size: int, url: str | None) -> BadResponse:
    ctype = (content_type or "no content type").split(";")[0].strip()
    return BadResponse(
        f"the response is not JSON (HTTP {code}, {sanitize(ctype)[:60]}, {size} bytes): "
        "is this the job's status URL?",
        status_code=code,
        url=url,
    )


def fatal_status(
    code: int, body: bytes, headers: Mapping[str, str], *, have_status: bool, url: str | None
) -> RequestFailed:
    """The error for a status that is neither a success nor retried."""
    if code in (404, 410):
        what = (
            "the job's record disappeared mid-wait (expired?)"
            if have_status
            else "the job is unknown or its record expired"
        )
        msg = f"HTTP {code}: {what}"
    elif code in (401, 403):
        msg = f"HTTP {code}: not authorized; check the credentials sent with the request"
    elif 300 <= code < 400:
        msg = f"HTTP {code}: a redirect that was not followed"
    else:
        msg = f"HTTP {code}"
    detail = error_detail(body, headers)
    if detail:
        msg += f" ({detail})"
    return RequestFailed(msg, status_code=code, url=url)


def error_detail(body: bytes, headers: Mapping[str, str]) -> str:
    """A short, sanitized hint from an error body: its JSON ``error``/``detail``/``message``."""
    if not body or "json" not in headers.get("content-type", ""):
        return ""
    try:
        doc = json.loads(body[:65536])
    except (ValueError, RecursionError):
        return ""
    if isinstance(doc, dict):
        for key in ("error", "detail", "message"):
            val = doc.get(key)
            if isinstance(val, str) and val:
                return sanitize(val)[:200]
    return ""
