"""Who may write over HTTP: the worker token.

A server started with a worker token takes ``PUT /jobs/{id}`` from requests that carry it as
``Authorization: Bearer <token>`` (RFC 6750), compared in constant time
(``hmac.compare_digest``). Without the header, or with another token, the answer is ``401``
with ``WWW-Authenticate: Bearer``. A server without a worker token takes no writes at all: it
answers ``405 Method Not Allowed`` (``Allow: GET, HEAD``; error ``writes_disabled``), as it did
before HTTP writes existed. No answer and no message ever contains a token.
"""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse

__all__ = ["MIN_TOKEN_CHARS", "WorkerAuth", "bearer_token", "check_token"]

MIN_TOKEN_CHARS = 16
MAX_TOKEN_CHARS = 512
_NO_STORE = {"Cache-Control": "no-store"}


def check_token(token: str) -> str:
    """``token`` if it can be a worker token, else ``ValueError`` (the message never holds
    it): 16-512 visible ASCII characters, none of them a space."""
    if not isinstance(token, str) or not (MIN_TOKEN_CHARS <= len(token) <= MAX_TOKEN_CHARS):
        raise ValueError(
            f"the worker token must be {MIN_TOKEN_CHARS}-{MAX_TOKEN_CHARS} characters (make "
            "one with: python -c 'import secrets; print(secrets.token_urlsafe())')"
        )
    if not all(33 <= ord(c) < 127 for c in token):
        raise ValueError("the worker token must be visible ASCII characters, without spaces")
    return token


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (None for any other)."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > MAX_TOKEN_CHARS:
        return None
    return value


class WorkerAuth:
    """The write check of one app: ``refusal(request)`` is None when the request may write,
    else the response to send."""

    def __init__(self, token: str | None) -> None:
        self._token = None if token is None else check_token(token).encode()

    @property
    def enabled(self) -> bool:
        return self._token is not None

    def refusal(self, request: Request) -> JSONResponse | None:
        if self._token is None:
            return JSONResponse(
                {"error": "writes_disabled",
                 "detail": "this server takes no writes over HTTP; start it with a worker "
                           "token (progress-client serve --worker-token, or the environment "
                           "variable PROGRESS_CLIENT_WORKER_TOKEN)"},
                status_code=405, headers={"Allow": "GET, HEAD", **_NO_STORE},
            )
        given = bearer_token(request.headers.get("authorization"))
        if given is None:
            return _unauthorized("missing_token",
                                 "send the worker token as 'Authorization: Bearer <token>'")
        try:
            raw = given.encode("ascii")
        except UnicodeEncodeError:
            raw = b""
        if not hmac.compare_digest(raw, self._token):
            return _unauthorized("invalid_token", "the worker token is not this server's")
        return None


def _unauthorized(code: str, detail: str) -> JSONResponse:
    # RFC 6750 section 3: the challenge, with the error code for a token that did not match.
    challenge = 'Bearer realm="progress-client"'
    if code == "invalid_token":
        challenge += ', error="invalid_token"'
    return JSONResponse({"error": code, "detail": detail}, status_code=401,
                        headers={"WWW-Authenticate": challenge, **_NO_STORE})
