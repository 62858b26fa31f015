"""A profile as the engine's ``Lifecycle`` (start, result, cancel) and ``Reader``, and the one
place a client turns its ``profile=`` argument into both.

``resolve_profile(profile, success=, failure=)`` accepts a built-in's name, a file's path or a
loaded ``Profile``, and returns ``(reader, lifecycle)``; compiled readers are cached per name,
so a profile named on every call costs one load.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import os
from collections.abc import Iterable
from typing import Any

from progress_client.core.lifecycle import CancelPlan, DefaultLifecycle, Lifecycle, ResultPlan, Seen
from progress_client.core.models import Reader
from progress_client.profiles import urls
from progress_client.profiles.expr import MISSING, compile_expr
from progress_client.profiles.profile import Profile, compile_profile, load_profile

__all__ = ["ProfileLifecycle", "resolve_profile"]


class ProfileLifecycle:
    """A job's life as a profile describes it (``profiles.urls`` finds the URLs)."""

    def __init__(self, profile: Profile) -> None:
        self.profile = profile

    @property
    def start_idempotent(self) -> bool:
        start = self.profile.start
        return start is not None and (start.idempotent or start.idempotency_key is not None)

    @property
    def idempotency_header(self) -> str | None:
        """The header whose generated key makes a start safe to send again, or None."""
        return self.profile.start.idempotency_key if self.profile.start is not None else None

    @property
    def start_has_status(self) -> bool:
        # A profile that says how its jobs start says whether that answer is a status
        # (Stability's start is a 200 {"id"}, which its HTTP-code rules would read as done).
        return self.profile.start is None or self.profile.start.status_in_body

    def status_url(self, start: Seen, template: str | None) -> str | None:
        found = urls.status_url(self.profile, _urls_seen(start))
        if found is None and (template is not None or self.profile.start is None):
            return DefaultLifecycle().status_url(start, template)
        return found

    def result(self, start: Seen | None, final: Seen, status_url: str) -> ResultPlan:
        section = self.profile.result
        if section.kind == "document":
            value = final.body
            if section.path is not None and isinstance(final.body, dict):
                found = compile_expr(section.path).search(final.body)
                value = None if found is MISSING else found
            if section.decode == "base64" and isinstance(value, str):
                value = _base64(value)
            return ResultPlan("document", value=value)
        if section.kind == "url":
            planned = urls.result_request(
                self.profile, start=_urls_seen(start), status=_urls_seen(final)
            )
            if planned is None:  # no URL (an Azure status carries its result itself)
                return ResultPlan("document", value=final.body)
            if planned.url == status_url:
                # The URL polled (Azure's Location polling): its final answer is in hand.
                if final.body is not None:
                    return ResultPlan("document", value=final.body)
                return ResultPlan("body")
            return ResultPlan("url", url=planned.url)
        return ResultPlan(section.kind)

    @property
    def result_format(self) -> str | None:
        """``jsonl`` when the result body is JSON lines (a list of them in memory)."""
        return self.profile.result.format

    def result_at_status_url(self, start: Seen | None, status_url: str) -> str | None:
        """Where the result is when it is in the final answer of the URL polled: ``body``,
        that answer's body itself (``kind = "body"``: Stability; a result URL that is the
        status URL: Azure's Location polling); ``document``, a part of that answer's JSON
        document, on an API whose HTTP code can say the job is done (``any_body_on``:
        Stability's JSON mode, its video in base64); else None."""
        section = self.profile.result
        if section.kind == "body":
            return "body"
        if section.kind == "document":
            return "document" if self.profile.status.any_body_on else None
        if section.kind != "url" or not status_url:
            return None
        planned = urls.result_request(self.profile, start=_urls_seen(start), status=None)
        return "body" if planned is not None and planned.url == status_url else None

    def poll_request(
        self, start: Seen | None, status_url: str
    ) -> tuple[str, bytes | None] | None:
        """The method and JSON body of a status request when not a plain GET (GraphQL)."""
        if self.profile.poll is None:
            return None
        planned = urls.poll_request(self.profile, _urls_seen(start), status_url)
        if planned is None:
            return None
        if planned.json is None:
            return planned.method, None
        return planned.method, json.dumps(planned.json, separators=(",", ":")).encode()

    def check_status_url(self, url: str) -> str | None:
        """Why a wait on ``url`` cannot ask for its status as the profile says (a GraphQL
        poll whose run id is neither known nor in the URL), or None."""
        if self.profile.poll is None or urls.poll_request(self.profile, None, url) is not None:
            return None
        name = self.profile.poll.url_id
        where = f"add ?{name}=ID to the URL" if name else "start the job with run"
        return (f"profile {self.profile.name}: its status request names the job, and this URL "
                f"does not say which: {where}")

    def follow(self, status: Seen) -> str | None:
        """The URL this status says the job goes on at (a queue item's build), or None."""
        seen = _urls_seen(status)
        return urls.follow_url(self.profile, seen) if seen is not None else None

    def cancel(
        self, start: Seen | None, last: Seen | None, status_url: str | None
    ) -> CancelPlan | None:
        planned = urls.cancel_request(
            self.profile, start=_urls_seen(start), status=_urls_seen(last)
        )
        if planned is None:
            return None
        if planned.json is None:
            return CancelPlan(planned.method, planned.url)
        content = json.dumps(planned.json, separators=(",", ":")).encode()
        return CancelPlan(planned.method, planned.url, content, "application/json")


def _base64(text: str) -> bytes | str:
    """Base64 text (standard or URL-safe alphabet) as bytes; other text as it is."""
    try:
        alphabet = b"-_" if ("-" in text or "_" in text) else None
        return base64.b64decode(text, altchars=alphabet, validate=True)
    except (binascii.Error, ValueError):
        return text


def _urls_seen(seen: Seen | None) -> urls.Seen | None:
    if seen is None:
        return None
    return urls.Seen(seen.url, seen.status_code, seen.headers, seen.body)


ProfileArg = str | os.PathLike[str] | Profile


def resolve_profile(
    profile: ProfileArg,
    *,
    success: Iterable[str] | None = None,
    failure: Iterable[str] | None = None,
    given: frozenset[str] = frozenset(),
) -> tuple[Reader, Lifecycle]:
    """The reader and the lifecycle of ``profile`` (``ProfileError`` when it cannot be
    loaded), with ``success``/``failure`` words added to its own. ``given``: the (lower-case)
    header names the caller sets, which the profile's own headers leave to the caller."""
    loaded = profile if isinstance(profile, Profile) else _load(os.fspath(profile))
    if any(name.lower() in given for name in loaded.headers):
        kept = {k: v for k, v in loaded.headers.items() if k.lower() not in given}
        loaded = loaded.model_copy(update={"headers": kept})
    reader: Any = compile_profile(
        loaded, success=tuple(success or ()), failure=tuple(failure or ())
    )
    return reader, ProfileLifecycle(loaded)


@functools.lru_cache(maxsize=64)
def _load(name: str) -> Profile:
    return load_profile(name)
