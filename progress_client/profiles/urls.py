"""Where a profile's URLs are: the status URL after a start request, the result, the cancel.

Pure functions over what the engine saw (``Seen``: a response's URL, HTTP code, headers and
decoded JSON body). A profile's locators are tried in order; the first that yields an
``http(s)`` URL wins. Templates take ``{id}`` (URL-quoted, ``/`` kept for Google operation
names), ``{start_url}`` and ``{status_url}`` (without their query) and ``{origin}``; a
template or header value without a scheme is resolved against the URL of the response it was
read from (``Location: /jobs/7``, ``../cancel/{id}``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote, urljoin, urlsplit, urlunsplit

from progress_client.profiles.expr import MISSING, compile_expr
from progress_client.profiles.schema import Locator, Profile

__all__ = [
    "PlannedRequest",
    "Seen",
    "cancel_request",
    "find_url",
    "follow_url",
    "poll_request",
    "result_request",
    "status_url",
]


@dataclass(frozen=True)
class Seen:
    """One response as the engine saw it."""

    url: str
    status_code: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None


@dataclass(frozen=True)
class PlannedRequest:
    """A request the driver should send: a result fetch or a cancel."""

    method: str
    url: str
    json: Any = None


def status_url(profile: Profile, start: Seen | None) -> str | None:
    """The status URL found in the start response (None: the profile cannot follow it)."""
    if profile.start is None or start is None:
        return None
    return find_url(profile.start.status_url, start=start, status=None)


def result_request(
    profile: Profile, *, start: Seen | None, status: Seen | None
) -> PlannedRequest | None:
    """The GET that fetches the result (``kind = "url"``), or None: then the result is the final
    status document (``document``), the final body itself (``body``), or nothing (``none``)."""
    if profile.result.kind != "url":
        return None
    url = find_url(profile.result.url, start=start, status=status)
    return PlannedRequest("GET", url) if url is not None else None


def cancel_request(
    profile: Profile, *, start: Seen | None, status: Seen | None
) -> PlannedRequest | None:
    """The cancel request, or None when the profile has none or its URL cannot be found."""
    cancel = profile.cancel
    if cancel is None:
        return None
    for loc in cancel.url:
        url = find_url((loc,), start=start, status=status)
        if url is None:
            continue
        body: Any = cancel.body_json
        if body is not None and _names_id(body):
            # "{id}" at any depth becomes the id (keeping its JSON type); a body without it
            # is sent as it is.
            if cancel.id is not None:
                ident = _id_in(cancel.id, status) if status is not None else None
                if ident is None:
                    ident = _id_in(cancel.id, start)
            else:
                ident = _id(loc, _pick(loc, start, status))
            if ident is None:
                continue
            body = _fill_id(body, ident)
        return PlannedRequest(cancel.method, url, body)
    return None


def _names_id(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_names_id(v) for v in value.values())
    if isinstance(value, list):
        return any(_names_id(v) for v in value)
    return isinstance(value, str) and value == "{id}"


def _fill_id(value: Any, ident: str | int) -> Any:
    if isinstance(value, dict):
        return {k: _fill_id(v, ident) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill_id(v, ident) for v in value]
    return ident if value == "{id}" else value


def find_url(
    locators: tuple[Locator, ...], *, start: Seen | None, status: Seen | None
) -> str | None:
    for loc in locators:
        seen = _pick(loc, start, status)
        if seen is None or (loc.on and seen.status_code not in loc.on):
            continue
        if loc.when is not None and not _truthy(loc.when, seen):
            continue
        url = _locate(loc, seen, start, status)
        if url is not None and loc.append:
            url = url.split("?", 1)[0].rstrip("/") + "/" + loc.append.lstrip("/")
        if url is not None:
            return url
    return None


def poll_request(profile: Profile, start: Seen | None, status_url: str) -> PlannedRequest | None:
    """The request that reads a status when the profile says how (``[poll]``: a POST with a
    JSON body naming the job); None for a plain GET, or when the job's id is not known."""
    poll = profile.poll
    if poll is None:
        return None
    body: Any = poll.body_json
    if body is not None and _names_id(body):
        ident: str | int | None = None
        if poll.id is not None:
            ident = _id_in(poll.id, start)
        if ident is None and poll.url_id is not None:
            values = parse_qs(urlsplit(status_url).query).get(poll.url_id)
            ident = values[0] if values else None
        if ident is None:
            return None
        body = _fill_id(body, ident)
    return PlannedRequest(poll.method, status_url, body)


def follow_url(profile: Profile, status: Seen) -> str | None:
    """The URL a status says the job goes on at (``[follow]``), or None."""
    if not profile.follow:
        return None
    return find_url(profile.follow, start=None, status=status)


def _truthy(expr: str, seen: Seen) -> bool:
    if not isinstance(seen.body, dict):
        return False
    value = compile_expr(expr).search(seen.body)
    if value is MISSING or value is None or value is False:
        return False
    return not (isinstance(value, (str, list, dict)) and not value)


def _pick(loc: Locator, start: Seen | None, status: Seen | None) -> Seen | None:
    return start if loc.source == "start" else status


def _locate(loc: Locator, seen: Seen, start: Seen | None, status: Seen | None) -> str | None:
    if loc.header is not None:
        return _absolute(seen.url, _header(seen.headers, loc.header))
    if loc.body is not None:
        value = compile_expr(loc.body).search(seen.body) if isinstance(seen.body, dict) else None
        return _absolute(seen.url, value if isinstance(value, str) else None)
    assert loc.template is not None
    values = {"origin": _origin(seen.url)}
    if start is not None:
        values["start_url"] = _bare(start.url)
    if status is not None:
        values["status_url"] = _bare(status.url)
    if "{id}" in loc.template:
        ident = _id(loc, seen)
        if ident is None:
            return None
        values["id"] = quote(str(ident), safe="/:@")
    try:
        filled = loc.template.format(**values)
    except (KeyError, IndexError):  # a placeholder with no value here (no start, no status)
        return None
    return _absolute(seen.url, filled)


def _id(loc: Locator, seen: Seen | None) -> str | int | None:
    return None if loc.id is None else _id_in(loc.id, seen)


def _id_in(expr: str, seen: Seen | None) -> str | int | None:
    if seen is None or not isinstance(seen.body, dict):
        return None
    value = compile_expr(expr).search(seen.body)
    if value is MISSING or isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = str(value)
    # An id is a name, never a way out of the URL it goes into.
    if not text or any(c in text for c in "?#\\ \t\r\n") or any(
        part in (".", "..") for part in text.split("/")
    ):
        return None
    return value


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value.strip() if value else None


def _absolute(base: str, value: str | None) -> str | None:
    if not value or any(c in value for c in "\r\n\0"):
        return None
    url = urljoin(base, value)
    parts = urlsplit(url)
    return url if parts.scheme in ("http", "https") and parts.netloc else None


def _bare(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "", "", ""))
