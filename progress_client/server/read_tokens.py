"""Read tokens: with a read secret, a job's status (poll, long poll, stream) is served only to
a bearer of a token for that job that has not expired.

A token is minted by the application that starts the job and hands it to the browser (the
server never sees a user): ``mint_read_token(secret, job_id, ttl)`` gives
``v1.<job id, base64url>.<expiry, epoch seconds>.<HMAC-SHA256, base64url>``, the HMAC keyed with
the secret over the version, the job id and the expiry. The browser sends it as
``Authorization: Bearer <token>``. Every ``GET``/``HEAD`` under ``/jobs/`` then needs a token
for the job named by the path; without one, with a malformed, forged, another job's or an
expired token, the answer is the same ``401`` (it says nothing, not even whether the job
exists), with ``WWW-Authenticate: Bearer``. Signatures are compared in constant time. The CORS
middleware sits outside this one, so a browser on an allowed origin can read the 401.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import time

from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "MIN_SECRET_BYTES",
    "READ_SECRET_ENV",
    "ReadTokenMiddleware",
    "check_read_token",
    "mint_read_token",
    "read_token_middleware",
]

#: The environment variable ``progress-client serve`` reads the secret from.
READ_SECRET_ENV = "PROGRESS_CLIENT_READ_SECRET"
#: A shorter secret is refused: it could be guessed offline from one token.
MIN_SECRET_BYTES = 16
_VERSION = "v1"
_MAX_TOKEN = 2048


def _key(secret: str | bytes) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(f"the read secret must be at least {MIN_SECRET_BYTES} bytes long")
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(key: bytes, job_id: str, expires: int) -> bytes:
    message = f"{_VERSION}\n{job_id}\n{expires}".encode()
    return hmac.new(key, message, hashlib.sha256).digest()


def mint_read_token(
    secret: str | bytes, job_id: str, ttl: float, *, now: float | None = None
) -> str:
    """A token to read job ``job_id`` for ``ttl`` seconds (from ``now``, default the clock)."""
    if not (isinstance(ttl, (int, float)) and math.isfinite(ttl) and ttl > 0):
        raise ValueError("ttl must be a finite number of seconds > 0")
    if not job_id:
        raise ValueError("job_id must not be empty")
    key = _key(secret)
    expires = math.ceil((time.time() if now is None else now) + ttl)
    sig = _signature(key, job_id, expires)
    return f"{_VERSION}.{_b64(job_id.encode('utf-8'))}.{expires}.{_b64(sig)}"


def check_read_token(
    secret: str | bytes, token: str, job_id: str, *, now: float | None = None
) -> bool:
    """Whether ``token`` grants reading ``job_id`` at ``now``: well formed, signed with
    ``secret``, for this job, not expired."""
    key = _key(secret)
    parts = token.split(".")
    if len(token) > _MAX_TOKEN or len(parts) != 4 or parts[0] != _VERSION:
        return False
    _, job_part, expires_part, sig_part = parts
    if not (expires_part.isascii() and expires_part.isdigit() and len(expires_part) < 16):
        return False
    try:
        token_job = _unb64(job_part).decode("utf-8")
        sig = _unb64(sig_part)
    except (binascii.Error, ValueError):
        return False
    expires = int(expires_part)
    expected = _signature(key, token_job, expires)
    # Every check runs, whatever fails first: the time taken says nothing about which.
    good_sig = hmac.compare_digest(sig, expected)
    same_job = hmac.compare_digest(token_job.encode("utf-8"), job_id.encode("utf-8"))
    fresh = (time.time() if now is None else now) < expires
    return good_sig and same_job and fresh


_UNAUTHORIZED = json.dumps(
    {"error": "unauthorized", "detail": "a valid read token is required"}
).encode()


class ReadTokenMiddleware:
    """Refuses reads of ``/jobs/{id}...`` without a valid token for ``{id}``."""

    def __init__(self, app: ASGIApp, secret: bytes) -> None:
        self.app = app
        self.secret = secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or not scope["path"].startswith("/jobs/")
        ):
            await self.app(scope, receive, send)
            return
        # The path is already percent-decoded (as the router reads it): the same job id.
        job_id = scope["path"][len("/jobs/"):].split("/", 1)[0]
        auth = Headers(scope=scope).get("authorization", "")
        scheme, _, token = auth.strip().partition(" ")
        if scheme.lower() == "bearer" and check_read_token(self.secret, token.strip(), job_id):
            await self.app(scope, receive, send)
            return
        await send({
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(_UNAUTHORIZED)).encode()),
                (b"cache-control", b"no-store"),
                (b"www-authenticate", b'Bearer realm="progress-client"'),
            ],
        })
        await send({"type": "http.response.body",
                    "body": b"" if scope["method"] == "HEAD" else _UNAUTHORIZED})


def read_token_middleware(secret: str | bytes | None) -> list[Middleware]:
    """The middleware list for ``Starlette(middleware=...)``: empty without a secret.
    ``ValueError`` for a secret that is too short."""
    if secret is None:
        return []
    return [Middleware(ReadTokenMiddleware, secret=_key(secret))]
