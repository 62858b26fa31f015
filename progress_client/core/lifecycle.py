"""A job's life around its status: how it is started, where its status URL, its result and its
cancel request are. Pure decisions on what responses said; the engine calls them.

``Lifecycle`` is what the engine asks; ``DefaultLifecycle`` answers for any API that follows
the common patterns (a compiled profile answers for a vendor's own):

- the status URL, from a start response: ``Operation-Location``, ``Azure-AsyncOperation``, or
  ``Location`` on a 201/202 (resolved against the start URL); else a URL in the body
  (``urls.get``, ``status_url``); else an ``id`` in the body put into the caller's template
  (``https://api.example.com/v1/jobs/{id}``);
- the result: the final status document;
- the cancel request: a URL in the body (``urls.cancel``, ``cancel_url``), POSTed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import quote, urljoin

__all__ = [
    "CancelPlan",
    "DefaultLifecycle",
    "Job",
    "Lifecycle",
    "ResultPlan",
    "Seen",
    "fill_template",
]


@dataclass(frozen=True)
class Seen:
    """One response as the lifecycle reads it: the URL that answered, the status code,
    lower-case headers and the decoded JSON body (``None`` when there was none)."""

    url: str
    status_code: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None


@dataclass(frozen=True, slots=True)
class ResultPlan:
    """Where a succeeded job's result is. ``document``: ``value`` (taken from the final status
    document); ``url``: a GET of ``url``; ``body``: the final 200 body of the status URL;
    ``none``: no result."""

    kind: Literal["document", "url", "body", "none"]
    value: Any = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class CancelPlan:
    """The one request that cancels the remote job."""

    method: str
    url: str
    content: bytes | None = None
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class Job:
    """A job to start and follow: the start request (``method``, ``url``, ``headers``,
    ``content``), how its status URL is found (``lifecycle``, ``status_template``) and whether
    its result is fetched at the end."""

    method: str
    url: str
    lifecycle: Lifecycle
    headers: Mapping[str, str]
    content: bytes | None = None
    status_template: str | None = None
    fetch_result: bool = True


class Lifecycle(Protocol):
    """What the engine asks about a job's start, result and cancel."""

    @property
    def start_idempotent(self) -> bool:
        """Whether the start request may be sent again after a transport error."""
        ...

    @property
    def start_has_status(self) -> bool:
        """Whether the start response's body may be read as the first status document."""
        ...

    def status_url(self, start: Seen, template: str | None) -> str | None:
        """The status URL a start response names (absolute), or ``None``."""
        ...

    def result(self, start: Seen | None, final: Seen, status_url: str) -> ResultPlan: ...

    def cancel(
        self, start: Seen | None, last: Seen | None, status_url: str | None
    ) -> CancelPlan | None: ...


_STATUS_HEADERS = ("operation-location", "azure-asyncoperation")
_BODY_STATUS = (("urls", "get"), ("status_url",), ("statusUrl",))
_BODY_CANCEL = (("urls", "cancel"), ("cancel_url",), ("cancelUrl",))
_BODY_ID = (("id",), ("job_id",), ("task_id",), ("request_id",), ("run_id",))


class DefaultLifecycle:
    """The common patterns (see the module's docstring)."""

    start_idempotent = False
    #: Read the start response as a status when it reads as one (else the first poll does).
    start_has_status = True

    def status_url(self, start: Seen, template: str | None) -> str | None:
        for name in _STATUS_HEADERS:
            value = start.headers.get(name)
            if value:
                return absolute(start.url, value)
        if start.status_code in (201, 202) and start.headers.get("location"):
            return absolute(start.url, start.headers["location"])
        if template is not None:
            ident = _first(start.body, _BODY_ID)
            if isinstance(ident, (str, int)) and not isinstance(ident, bool):
                return fill_template(template, id=ident, start_url=start.url)
            return None
        url = _first(start.body, _BODY_STATUS)
        return absolute(start.url, url) if isinstance(url, str) and url else None

    def result(self, start: Seen | None, final: Seen, status_url: str) -> ResultPlan:
        return ResultPlan("document", value=final.body)

    def cancel(
        self, start: Seen | None, last: Seen | None, status_url: str | None
    ) -> CancelPlan | None:
        for seen in (last, start):
            url = _first(seen.body, _BODY_CANCEL) if seen is not None else None
            if isinstance(url, str) and url:
                return CancelPlan("POST", absolute(seen.url if seen else "", url))
        return None


def absolute(base: str, url: str) -> str:
    """``url`` resolved against ``base`` (a relative Location header, a path in a body)."""
    return urljoin(base, url.strip())


def fill_template(template: str, *, id: str | int, start_url: str = "") -> str:
    """A status URL template with ``{id}`` (percent-encoded) filled in."""
    return template.replace("{id}", quote(str(id), safe=""))


def _first(doc: Any, paths: tuple[tuple[str, ...], ...]) -> Any:
    for path in paths:
        cur = doc
        for part in path:
            cur = cur.get(part) if isinstance(cur, dict) else None
        if cur is not None:
            return cur
    return None
