"""The ``Prefer`` request header (RFC 7240), read for the one preference the status server
applies: ``wait=N``, hold a ``GET /jobs/{id}`` up to N seconds for a change (long-polling).

Grammar (RFC 7240, section 2; RFC 9110 for token, quoted-string and whitespace)::

    Prefer     = 1#preference
    preference = token [ BWS "=" BWS word ] *( OWS ";" [ OWS parameter ] )
    parameter  = token [ BWS "=" BWS word ]
    word       = token / quoted-string

Several ``Prefer`` headers are one comma-separated list. Names are case-insensitive; when a
preference appears more than once only the first counts. ``wait``'s value is delta-seconds
(digits; a quoted form is accepted, and, leniently, a decimal fraction such as ``2.5``). A
preference that does not parse is ignored, as are the ones this server does not know
(``return=minimal``, ``respond-async`` ...), parameters, and a header longer than 4 KiB.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MAX_WAIT", "applied_wait", "parse_prefer", "prefer_wait"]

#: The longest hold the server grants, in seconds; a longer ``wait`` is cut to this.
MAX_WAIT = 60

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED = r'"(?:[^"\\\x00-\x08\x0a-\x1f\x7f]|\\[\t\x20-\x7e\x80-\xff])*"'
_WORD = rf"(?:{_TOKEN}|{_QUOTED})"
_OWS = r"[ \t]*"
# One preference with its parameters, anchored at the start of what is left of the list.
_PREFERENCE = re.compile(
    rf"{_OWS}(?P<name>{_TOKEN})(?:{_OWS}={_OWS}(?P<value>{_WORD}))?"
    rf"(?P<params>(?:{_OWS};(?:{_OWS}{_TOKEN}(?:{_OWS}={_OWS}{_WORD})?)?)*){_OWS}"
    rf"(?:,|\Z)"
)
# A malformed element is skipped to the next comma (a comma inside its quotes included: linear
# time whatever the input; the rest is then read as the next element).
_GARBAGE = re.compile(r"[^,]*(?:,|\Z)")
_SECONDS = re.compile(r"(?P<whole>[0-9]+)(?:\.(?P<fraction>[0-9]{1,6}))?")
_MAX_HEADER = 4096


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def parse_prefer(headers: Iterable[str]) -> dict[str, str | None]:
    """Every well-formed preference in ``headers`` (the ``Prefer`` field values), by
    lower-cased name, first occurrence first; values unquoted, ``None`` when absent. A
    malformed element is skipped up to the next comma."""
    out: dict[str, str | None] = {}
    for text in headers:
        if len(text) > _MAX_HEADER:
            continue  # no real preference list is this long: ignored whole, not cut
        pos = 0
        while pos < len(text):
            match = _PREFERENCE.match(text, pos)
            if match is None:
                skip = _GARBAGE.match(text, pos)
                if skip is None or skip.end() == pos:
                    break
                pos = skip.end()
                continue
            if match.end() == pos:
                break
            pos = match.end()
            name = match.group("name").lower()
            value = match.group("value")
            out.setdefault(name, None if value is None else _unquote(value))
    return out


def prefer_wait(headers: Iterable[str], cap: float = MAX_WAIT) -> float | None:
    """The ``wait`` preference in seconds, cut to ``cap``; ``None`` when absent or not a
    number of seconds (the first ``wait`` decides, as RFC 7240 asks)."""
    value = parse_prefer(headers).get("wait")
    found = None if value is None else _SECONDS.fullmatch(value)
    if found is None:
        return None
    whole = found.group("whole").lstrip("0") or "0"
    if len(whole) > 9:
        return cap
    seconds = int(whole) + float("0." + (found.group("fraction") or "0"))
    return min(seconds, cap)


def applied_wait(seconds: float) -> str:
    """The ``Preference-Applied`` value for a wait: ``wait=60``, ``wait=2.5``."""
    text = f"{seconds:.6f}".rstrip("0").rstrip(".")
    return f"wait={text}"
