"""Server hints, parsed without a clock: Retry-After and the validators for conditional requests.

``parse_retry_after(value, now_wall)`` follows RFC 9110 section 10.2.3: either delta-seconds
(ASCII digits only: ``-1``, ``+1``, ``1.0``, non-ASCII digits are garbage) or an HTTP-date,
which is turned into a delay against ``now_wall`` (seconds since the epoch, passed in by the
caller, never read here). Garbage, and dates in the past, give ``None``: a hint that cannot be
read is ignored, never an error. The caller clamps the result to its cap.
"""

from __future__ import annotations

import email.utils
import math
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Validators", "parse_retry_after"]

_MAX_HEADER = 256


def _is_ascii_digits(s: str) -> bool:
    return bool(s) and s.isascii() and s.isdigit()


def parse_retry_after(value: str | None, now_wall: float) -> float | None:
    """Seconds to wait according to a ``Retry-After`` value, or ``None`` if it is unusable."""
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > _MAX_HEADER:
        return None
    if _is_ascii_digits(value):
        seconds = float(int(value[:12]))  # a 13-digit hint is already absurd; the cap applies
        return seconds
    if not value.isascii():
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:  # pragma: no cover - older Pythons returned None
        return None
    if when.tzinfo is None:
        # RFC 9110: HTTP-dates are always GMT; asctime and RFC 850 forms carry no zone.
        import datetime as _dt

        when = when.replace(tzinfo=_dt.timezone.utc)
    try:
        delta = when.timestamp() - now_wall
    except (OverflowError, OSError, ValueError):
        return None
    if not math.isfinite(delta) or delta <= 0:
        return None
    return delta


@dataclass(frozen=True)
class Validators:
    """ETag and Last-Modified from a response, to send back as If-None-Match and
    If-Modified-Since."""

    etag: str | None = None
    last_modified: str | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Validators:
        etag = _header_value(headers, "etag")
        last_modified = _header_value(headers, "last-modified")
        return cls(etag=etag, last_modified=last_modified)

    def request_headers(self) -> dict[str, str]:
        out: dict[str, str] = {}
        if self.etag is not None:
            out["If-None-Match"] = self.etag
        if self.last_modified is not None:
            out["If-Modified-Since"] = self.last_modified
        return out

    def __bool__(self) -> bool:
        return self.etag is not None or self.last_modified is not None


def _header_value(headers: Mapping[str, str], name: str) -> str | None:
    raw = headers.get(name)
    if raw is None:
        return None
    raw = raw.strip()
    # A validator is sent back verbatim, so refuse anything that could break a header.
    if not raw or len(raw) > _MAX_HEADER or not raw.isascii() or not raw.isprintable():
        return None
    return raw
