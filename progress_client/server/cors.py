"""Cross-origin access for browser frontends (CORS): which origins may read the status
server, as a small ASGI middleware in front of the app.

A frontend served from another origin (the app on one host, the API on another) can read job
status only if the server says so. For an origin in the list:

- a preflight (``OPTIONS`` with ``Access-Control-Request-Method``, which ``Authorization``,
  ``If-None-Match``, ``Prefer`` and ``Last-Event-ID`` trigger) is answered ``204`` with the
  allowed methods (``GET, HEAD, OPTIONS``), headers (those four) and a
  ``Max-Age`` (so a poller does not pay one preflight per poll);
- every other response carries ``Access-Control-Allow-Origin`` and exposes ``ETag``,
  ``Retry-After`` and ``Preference-Applied`` to the script.

An origin not in the list gets no CORS header at all (its preflight reaches the app, which
answers as it does to any ``OPTIONS``); requests without ``Origin`` are untouched. ``*``
allows every origin and is only for a server that takes no credentials: with
``allow_credentials`` it is refused, since browsers never send credentials to ``*``. When the
answer depends on the origin (a list, not ``*``), responses say ``Vary: Origin`` so no cache
hands one origin's answer to another.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "ALLOWED_HEADERS",
    "ALLOWED_METHODS",
    "EXPOSED_HEADERS",
    "CORSConfig",
    "CORSMiddleware",
    "cors_middleware",
    "normalize_origin",
]

ALLOWED_METHODS = ("GET", "HEAD", "OPTIONS")
ALLOWED_HEADERS = ("Authorization", "If-None-Match", "Last-Event-ID", "Prefer")
EXPOSED_HEADERS = ("ETag", "Retry-After", "Preference-Applied")
#: How long a browser may reuse a preflight (Chromium caps this at 2 hours).
MAX_AGE = 600


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]`` in lower case, or ``*``; ``ValueError`` for anything else (a
    path, a query, credentials, a scheme other than http/https)."""
    text = origin.strip()
    if text == "*":
        return text
    if not text.isascii() or any(c.isspace() for c in text):
        raise ValueError(f"invalid CORS origin {origin!r}: use scheme://host[:port]")
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"invalid CORS origin {origin!r}: bad port") from None
    if (
        parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.password is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or text.endswith("/")
    ):
        raise ValueError(
            f"invalid CORS origin {origin!r}: use scheme://host[:port], e.g. "
            "https://app.example.com (no path, no trailing slash) or *"
        )
    host = parts.hostname.lower()
    if ":" in host:  # an IPv6 literal keeps its brackets in an origin
        host = f"[{host}]"
    return f"{parts.scheme.lower()}://{host}" + (f":{port}" if port is not None else "")


@dataclass(frozen=True)
class CORSConfig:
    """The origins allowed to read the server from a browser."""

    origins: frozenset[str]
    allow_any: bool
    allow_credentials: bool = False

    @classmethod
    def build(cls, origins: Iterable[str], *, allow_credentials: bool = False) -> CORSConfig:
        if isinstance(origins, str):
            origins = [origins]
        normalized = frozenset(normalize_origin(o) for o in origins)
        allow_any = "*" in normalized
        if allow_any and allow_credentials:
            raise ValueError(
                "CORS origin '*' cannot be used with credentials: list the origins instead"
            )
        return cls(normalized - {"*"}, allow_any, allow_credentials)

    @property
    def enabled(self) -> bool:
        return self.allow_any or bool(self.origins)

    def allows(self, origin: str) -> bool:
        return self.allow_any or origin.lower() in self.origins

    def allow_origin_value(self, origin: str) -> str:
        return "*" if self.allow_any else origin


class CORSMiddleware:
    """Answers preflights of allowed origins and adds the CORS headers to their responses."""

    def __init__(self, app: ASGIApp, config: CORSConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        vary = not self.config.allow_any
        if origin is None or not self.config.allows(origin):
            await self.app(scope, receive, _with_headers(send, {}, vary))
            return
        cors = {"Access-Control-Allow-Origin": self.config.allow_origin_value(origin)}
        if self.config.allow_credentials:
            cors["Access-Control-Allow-Credentials"] = "true"
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(cors, vary, send)
            return
        cors["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)
        await self.app(scope, receive, _with_headers(send, cors, vary))

    @staticmethod
    async def _preflight(cors: dict[str, str], vary: bool, send: Send) -> None:
        headers = MutableHeaders(
            {
                **cors,
                "Access-Control-Allow-Methods": ", ".join(ALLOWED_METHODS),
                "Access-Control-Allow-Headers": ", ".join(ALLOWED_HEADERS),
                "Access-Control-Max-Age": str(MAX_AGE),
            }
        )
        if vary:
            headers.add_vary_header("Origin")
        await send({"type": "http.response.start", "status": 204, "headers": headers.raw})
        await send({"type": "http.response.body", "body": b""})


def _with_headers(send: Send, extra: dict[str, str], vary: bool) -> Send:
    """``send`` with ``extra`` headers (and ``Vary: Origin``) added to the response start."""
    if not extra and not vary:
        return send

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for name, value in extra.items():
                headers[name] = value
            if vary:
                headers.add_vary_header("Origin")
        await send(message)

    return wrapped


def cors_middleware(origins: Iterable[str], *, allow_credentials: bool = False) -> list[Middleware]:
    """The middleware list for ``Starlette(middleware=...)``: empty when no origin is allowed
    (the server then sends no CORS header at all). ``ValueError`` for an invalid origin."""
    config = CORSConfig.build(origins, allow_credentials=allow_credentials)
    return [Middleware(CORSMiddleware, config=config)] if config.enabled else []
