"""Resume tokens: a wait's schedule and counters as a versioned JSON string, and back.

A token looks like ``{"v":1,"url":...,"url_sha256":...,"state":{...},"sum":...}``:

- ``url`` is the status URL with its credentials removed (userinfo, the values of token-like
  query parameters, the fragment), for people reading the token; ``url_sha256`` is the SHA-256
  of the full URL, so a token is refused for any other URL without ever holding a secret;
- ``state`` is the engine's ``EngineState`` (counters, schedule, last status, validators,
  the SSE last event id), with every string of the last status document sanitized;
- ``sum`` is the SHA-256 of the canonical JSON of everything else. It catches truncation and
  casual edits. It is **not** a signature: anyone can recompute it, so a token is exactly as
  trustworthy as the place it was kept.

Pure: json and hashlib only. Any defect raises ``InvalidResumeToken``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from progress_client.core.errors import InvalidResumeToken
from progress_client.core.sanitize import public_url, sanitize

__all__ = [
    "MAX_TOKEN_CHARS",
    "TOKEN_VERSION",
    "decode_token",
    "encode_token",
    "public_url",
]

TOKEN_VERSION = 1
#: Longer tokens are refused unread: a token is a few hundred bytes plus one status document.
MAX_TOKEN_CHARS = 256 * 1024

def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _scrub(value: Any, depth: int = 0) -> Any:
    """Every string of a JSON value sanitized (a status document may carry signed URLs)."""
    if depth > 32:
        return None
    if isinstance(value, str):
        return sanitize(value)
    if isinstance(value, dict):
        return {sanitize(str(k)): _scrub(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, depth + 1) for v in value]
    return value


def encode_token(url: str, state: dict[str, Any]) -> str:
    """A token for a wait on ``url`` with engine state ``state`` (``EngineState.to_dict()``)."""
    state = dict(state)
    if state.get("last_document") is not None:
        state["last_document"] = _scrub(state["last_document"])
    body: dict[str, Any] = {
        "v": TOKEN_VERSION,
        "url": public_url(url),
        "url_sha256": _digest(url),
        "state": state,
    }
    text = _canonical(body)
    # The token is that text with its checksum as the key "sum", which sorts between "state"
    # and "url": spliced in, not serialized twice (a token is built for every wait a Ctrl-C
    # cancels). The top-level "url" is the text's last ',"url":"' (JSON escapes any quote
    # inside a string, and the state comes first); tests decode what this writes.
    at = text.rindex(',"url":"')
    return f'{text[:at]},"sum":"{_digest(text)}"{text[at:]}'


def decode_token(token: str, url: str) -> dict[str, Any]:
    """The state dict of ``token``, checked for version, integrity and URL. Raises
    ``InvalidResumeToken`` with a message that says which check failed."""
    if not isinstance(token, str) or not token.strip():
        raise InvalidResumeToken("the resume token is empty")
    if len(token) > MAX_TOKEN_CHARS:
        raise InvalidResumeToken(f"the resume token is longer than {MAX_TOKEN_CHARS} characters")
    try:
        body = json.loads(token)
    except (ValueError, RecursionError):
        raise InvalidResumeToken(
            "the resume token is not valid JSON (truncated, or not a progress-client token)"
        ) from None
    if not isinstance(body, dict) or "v" not in body:
        raise InvalidResumeToken("the resume token is not a progress-client token")
    if body.get("v") != TOKEN_VERSION:
        raise InvalidResumeToken(
            f"the resume token has version {sanitize(str(body.get('v')))[:20]}, "
            f"this progress-client reads version {TOKEN_VERSION}"
        )
    claimed = body.pop("sum", None)
    try:
        actual = _digest(_canonical(body))
    except (ValueError, TypeError):
        raise InvalidResumeToken("the resume token holds values JSON cannot carry") from None
    if not isinstance(claimed, str) or claimed != actual:
        raise InvalidResumeToken("the resume token was altered or truncated (checksum mismatch)")
    if body.get("url_sha256") != _digest(url):
        raise InvalidResumeToken(
            f"the resume token belongs to another URL ({sanitize(str(body.get('url')))[:200]})"
        )
    state = body.get("state")
    if not isinstance(state, dict):
        raise InvalidResumeToken("the resume token has no state")
    return state
