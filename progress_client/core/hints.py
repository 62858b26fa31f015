"""Server hints, parsed without a clock: Retry-After and its vendor cousins, and the validators
for conditional requests.

``parse_retry_after(value, now_wall)`` follows RFC 9110 section 10.2.3: either delta-seconds
(ASCII digits only: ``-1``, ``+1``, ``1.0``, non-ASCII digits are garbage) or an HTTP-date,
which is turned into a delay against ``now_wall`` (seconds since the epoch, passed in by the
caller, never read here). Garbage, and dates in the past, give ``None``: a hint that cannot be
read is ignored, never an error. The caller clamps the result to its cap.

``read_hint(headers, names, now_wall)`` reads the first usable hint among ``names``:
``retry-after-ms``, ``x-ms-retry-after-ms`` (Azure) and ``openai-poll-after-ms`` (OpenAI) in
milliseconds, ``retry-after`` as above, and GitHub's ``x-poll-interval`` in seconds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from progress_client.core.value import Value, setslot

__all__ = ["DEFAULT_HINT_HEADERS", "Validators", "parse_retry_after", "read_hint"]

_MAX_HEADER = 256

#: The hint headers read on every response when a profile names none, most precise first.
DEFAULT_HINT_HEADERS: tuple[str, ...] = (
    "retry-after-ms",
    "x-ms-retry-after-ms",
    "openai-poll-after-ms",
    "retry-after",
    "x-poll-interval",
)


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
        import email.utils  # only for an HTTP-date (start-up time)

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


def parse_milliseconds(value: str | None) -> float | None:
    """Seconds from a millisecond hint (``1500``, ``1500.5``): ASCII digits with an optional
    fraction, nothing else."""
    if value is None:
        return None
    value = value.strip()
    whole, dot, frac = value.partition(".")
    if not _is_ascii_digits(whole) or (dot and not _is_ascii_digits(frac)) or len(value) > 24:
        return None
    return float(value[:24]) / 1000.0


def _parse_seconds(value: str | None) -> float | None:
    if value is None:
        return None
    value = value.strip()
    return float(int(value[:12])) if _is_ascii_digits(value) else None


def read_hint(
    headers: Mapping[str, str], names: tuple[str, ...], now_wall: float
) -> float | None:
    """The first usable hint among the lower-case header ``names`` of ``headers`` (whose keys
    are lower-case), in seconds, or ``None``."""
    for name in names:
        value = headers.get(name)
        if value is None:
            continue
        if name.endswith("-ms"):
            seconds = parse_milliseconds(value)
        elif name == "retry-after":
            seconds = parse_retry_after(value, now_wall)
        else:
            seconds = _parse_seconds(value)
        if seconds is not None:
            return seconds
    return None


class Validators(Value):
    """ETag and Last-Modified from a response, to send back as If-None-Match and
    If-Modified-Since."""

    __slots__ = __match_args__ = ("etag", "last_modified")
    etag: str | None
    last_modified: str | None

    def __init__(self, etag: str | None = None, last_modified: str | None = None) -> None:
        setslot(self, "etag", etag)
        setslot(self, "last_modified", last_modified)

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
