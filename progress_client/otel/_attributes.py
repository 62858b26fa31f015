"""What a span or metric may say about a request: its URL scrubbed (no query, fragment or
credentials; each path segment through the sanitizer), a low-cardinality ``error.type``, when a
status document says it changed, the SDK's event limit. Pure: no OpenTelemetry import."""

from __future__ import annotations

import functools
import os
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from progress_client.core.sanitize import sanitize

__all__ = ["error_type", "event_limit", "http_keys", "url_attributes", "when_changed"]


@functools.lru_cache(maxsize=512)
def url_attributes(url: str) -> dict[str, Any]:
    """``url.full`` (no query, fragment or credentials; every path segment sanitized),
    ``url.scheme``, ``server.address`` and ``server.port`` of ``url``."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    except ValueError:
        return {}
    scheme = parts.scheme.lower()
    if port is None:
        port = 443 if scheme == "https" else 80
    shown = f"[{host}]" if ":" in host else host
    default = (scheme, port) in (("https", 443), ("http", 80))
    netloc = shown if default else f"{shown}:{port}"
    path = "/".join(sanitize(seg) if seg else seg for seg in parts.path.split("/"))
    return {"url.full": f"{scheme}://{netloc}{path}", "url.scheme": scheme,
            "server.address": host, "server.port": port}


def http_keys(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: attrs[k] for k in ("server.address", "server.port", "url.scheme") if k in attrs}


def error_type(error: str | None) -> str:
    """A low-cardinality ``error.type`` from a transport's error words."""
    text = (error or "").lower()
    if "timed out" in text or "timeout" in text:
        return "timeout"
    if "connect" in text or "refused" in text:
        return "connection_error"
    if "too large" in text or "limit" in text:
        return "response_too_large"
    return "transport_error"


def when_changed(extra: dict[str, Any]) -> float | None:
    """When the document says it changed: ``updated_at`` (RFC 3339 or epoch seconds)."""
    value = extra.get("updated_at")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.timestamp() if parsed.tzinfo is not None else None


def event_limit() -> int:
    """The SDK's limit of events per span (``OTEL_SPAN_EVENT_COUNT_LIMIT``, 128 unset)."""
    try:
        return max(2, int(os.environ.get("OTEL_SPAN_EVENT_COUNT_LIMIT", "128")))
    except ValueError:
        return 128
