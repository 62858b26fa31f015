"""``progress-client serve --access-log``: one line per request on stderr.

``<client> "<METHOD> <path>[?<query>] HTTP/<version>" <status> <ms> ms``, written when the
response starts (an event stream is logged when it opens, not when it ends). Nothing secret
reaches the log: request headers are never logged (so no ``Authorization``), the path is
logged as sent (percent-encoded, so no line breaks), and every query value is replaced by
``***`` (a token or a signature in a URL stays out; the parameter names stay in).
"""

from __future__ import annotations

import logging
import sys
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["LOGGER", "AccessLog", "enable_access_log", "request_line"]

LOGGER = "progress_client.server.access"
_MAX_PATH = 512


def request_line(scope: Scope) -> str:
    """``METHOD /path?name=***`` for a request scope, with no query value."""
    raw = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "replace")
    path = bytes(raw).decode("ascii", "backslashreplace")
    path = "".join(c if 32 < ord(c) < 127 else "?" for c in path)[:_MAX_PATH]
    query = bytes(scope.get("query_string") or b"").decode("ascii", "backslashreplace")
    if query:
        names = [part.partition("=")[0] for part in query.split("&") if part]
        safe = "&".join(
            "".join(c if 32 < ord(c) < 127 and c not in "&=" else "?" for c in name)[:64]
            + "=***" for name in names[:16]
        )
        path = f"{path}?{safe}"
    method = str(scope.get("method", "?"))[:16]
    return f"{method} {path}"


class AccessLog:
    """ASGI middleware logging each HTTP request to ``LOGGER`` at INFO."""

    def __init__(self, app: ASGIApp, logger: logging.Logger | None = None) -> None:
        self.app = app
        self.logger = logger or logging.getLogger(LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: list[int] = []

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start" and not status:
                status.append(int(message["status"]))
                self._log(scope, status[0], started)
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            if not status:
                self._log(scope, None, started)

    def _log(self, scope: Scope, status: int | None, started: float) -> None:
        client = scope.get("client")
        who = f"{client[0]}:{client[1]}" if client else "-"
        version = scope.get("http_version", "1.1")
        took = (time.perf_counter() - started) * 1000
        self.logger.info('%s "%s HTTP/%s" %s %.1f ms', who, request_line(scope), version,
                         "-" if status is None else status, took)


def enable_access_log(app: ASGIApp) -> AccessLog:
    """Wrap ``app`` and send the log's lines to stderr (once per process)."""
    logger = logging.getLogger(LOGGER)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return AccessLog(app, logger)
