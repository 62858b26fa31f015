"""``progress-client profiles test NAME|FILE URL``: one status read with a profile.

Sends one GET to URL (the profile's headers, then the caller's ``-H``) and shows what the
profile makes of the answer: the status word, whether the job ended and how (or waits for a
person), progress, the failure's reason, a note or partial flag, the hint headers it would
honour, and the cancel and result requests it would send. Nothing else is sent. Exit 0 when
the answer was read, 2 for a bad profile or header, 4 when the answer could not be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import httpx

from progress_client.core.errors import BadResponse
from progress_client.core.sanitize import public_url
from progress_client.profiles.profile import ProfileError, compile_profile, load_profile
from progress_client.profiles.urls import Seen, cancel_request, result_request

from .. import sanitize
from . import EXIT_ERROR, EXIT_OK, EXIT_USAGE
from ._common import parse_header

__all__ = ["read_once"]

_MAX_BODY = 1024 * 1024


def read_once(name: str, url: str, raw_headers: list[str], as_json: bool) -> int:
    try:
        profile = load_profile(name)
        headers = dict(profile.headers)
        for text in raw_headers:
            key, value = parse_header(text)
            headers[key] = value
    except (ProfileError, ValueError, argparse.ArgumentTypeError) as exc:
        print(f"progress-client profiles test: {sanitize(exc)}", file=sys.stderr)
        return EXIT_USAGE
    shown = public_url(url)
    try:
        with httpx.Client(timeout=30, headers=headers) as client:
            response = client.get(url)
            body = response.content[:_MAX_BODY]
    except (httpx.HTTPError, ValueError) as exc:
        print(f"progress-client profiles test: GET {shown}: {sanitize(exc)}", file=sys.stderr)
        return EXIT_ERROR
    ctype = response.headers.get("content-type", "")
    out: dict[str, Any] = {"url": shown, "http_status": response.status_code,
                           "content_type": ctype or None, "bytes": len(response.content)}
    doc: Any = None
    if "json" in ctype.lower() or body[:1] in (b"{", b"["):
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
    if response.status_code >= 400:
        out["problem"] = f"HTTP {response.status_code}: not a status (a wait would stop here)"
        return _show(out, as_json, EXIT_ERROR)
    reader = compile_profile(profile)
    lower = {k.lower(): v for k, v in response.headers.items()}
    try:
        reading = reader.read(doc, status_code=response.status_code, headers=lower)
    except BadResponse as exc:
        out["problem"] = f"not a status document for this profile: {exc.message}"
        return _show(out, as_json, EXIT_ERROR)
    status = reading.status
    extra = status.model_extra or {}
    ending: str | None = reading.outcome
    if ending is None and extra.get("needs_action") is True:
        ending = "needs_action (the profile waits on)"
    out.update({
        "status": status.status,
        "outcome": ending or "running",
        "progress": status.progress,
        "error": status.error,
        "note": extra.get("note"),
        "partial": extra.get("partial") is True,
        "hints": {h: lower[h] for h in (reader.hint_headers or ()) if h in lower},
    })
    seen = Seen(str(response.url), response.status_code, lower, doc)
    cancel = cancel_request(profile, start=None, status=seen) if reading.outcome is None else None
    out["cancel"] = (
        {"method": cancel.method, "url": public_url(cancel.url), "json": cancel.json}
        if cancel is not None else None
    )
    result = result_request(profile, start=None, status=seen) if ending == "succeeded" else None
    out["result"] = {"method": "GET", "url": public_url(result.url)} if result else None
    return _show(out, as_json, EXIT_OK)


def _show(out: dict[str, Any], as_json: bool, code: int) -> int:
    clean: dict[str, Any] = {k: sanitize(v) if isinstance(v, str) else v
                             for k, v in out.items()}
    if as_json:
        sys.stdout.write(json.dumps(clean, ensure_ascii=False) + "\n")
        return code
    print(f"GET {out['url']} -> HTTP {out['http_status']} "
          f"({out['content_type'] or 'no content type'}, {out['bytes']} bytes)")
    if "problem" in clean:
        print(f"problem: {clean['problem']}")
        return code
    for key in ("status", "outcome", "progress", "error", "note"):
        if clean.get(key) is not None:
            value = f"{clean[key]:g}%" if key == "progress" else clean[key]
            print(f"{key}: {value}")
    if clean.get("partial"):
        print("partial: yes (a success with parts missing)")
    for name, value in (clean.get("hints") or {}).items():
        print(f"hint: {name}: {sanitize(value)}")
    if clean.get("cancel"):
        c = clean["cancel"]
        body = f" {json.dumps(c['json'])}" if c["json"] is not None else ""
        print(f"cancel would be: {c['method']} {c['url']}{body}")
    if clean.get("result"):
        print(f"result would be fetched: GET {clean['result']['url']}")
    return code
