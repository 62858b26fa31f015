"""HTTP helpers both drivers use: the httpx client this package builds, the per-request
timeout, the request hook that applies the credential rule on every hop, and the mapping of
transport failures to what the engine is fed. The rules themselves are ``transports.rules``'s."""

from __future__ import annotations

import errno
import functools
import socket
import ssl
from collections.abc import Mapping
from typing import Any

import httpx

from progress_client.core.options import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_REDIRECTS,
    DEFAULT_REQUEST_TIMEOUT,
)
from progress_client.core.sanitize import sanitize
from progress_client.transports.rules import (
    DEFAULT_HEADERS,
    USER_AGENT,
    CookieTracker,
    framed_within,
    is_credential_header,
    may_get_credentials,
    origin_of,
)

__all__ = [
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_MAX_REDIRECTS",
    "ORIGIN_EXTENSION",
    "USER_AGENT",
    "InvalidRedirect",
    "TooManyRedirects",
    "body_framed",
    "check_url",
    "client_kwargs",
    "describe_aiohttp_error",
    "describe_transport_error",
    "import_httpx_sse",
    "is_credential_header",
    "origin_of",
    "request_options",
    "strip_cross_origin_credentials",
]



@functools.lru_cache(maxsize=64)
def _timeout(seconds: float | None) -> httpx.Timeout:
    # pool=None: with many waits on one pool, a request queues for a connection rather than
    # failing; the engine's timeout still bounds the whole exchange.
    return httpx.Timeout(None if seconds is None else max(0.001, seconds), pool=None)


def request_options(
    url: str, timeout: float | None, auth: Any, trusted: str | None = None
) -> dict[str, Any]:
    """Per-request options: the timeout, the caller's own auth (for a client passed in), and
    the origin that may receive credentials: ``trusted``'s (the URL the caller named, for a
    URL a server named: a status, result or cancel URL) or ``url``'s own. A request, or a
    redirect, to any other origin goes without credential headers."""
    options: dict[str, Any] = {
        # The common timeouts (the full request timeout) repeat: build each once.
        "timeout": _timeout(timeout if timeout is None or timeout >= 1 else round(timeout, 3)),
        "extensions": {ORIGIN_EXTENSION: trusted or url},
    }
    if auth is not None:
        options["auth"] = auth
    return options


def client_kwargs(
    headers: Mapping[str, str] | None,
    auth: Any,
    verify: Any,
    max_redirects: int,
    max_connections: int = DEFAULT_MAX_CONCURRENCY,
) -> dict[str, Any]:
    """Keyword arguments for an httpx client this package creates itself."""
    merged = dict(DEFAULT_HEADERS)
    if headers:
        merged.update(headers)
    return {
        "headers": merged,
        "auth": auth,
        # One jar, httpx's, that says cheaply whether it ever got a cookie (transports.rules).
        "cookies": CookieTracker(),
        "verify": verify,
        "follow_redirects": True,
        "max_redirects": max_redirects,
        "timeout": httpx.Timeout(DEFAULT_REQUEST_TIMEOUT, pool=None),
        # Keep every connection alive: with many jobs, each poll reuses one instead of
        # opening a new TCP connection.
        "limits": httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
    }


#: The request extension that carries the URL the caller named (whose origin may get the
#: credentials), across redirect hops (httpx copies a request's extensions onto the next).
ORIGIN_EXTENSION = "progress_client.origin"

def strip_cross_origin_credentials(request: httpx.Request) -> None:
    """An httpx request hook: on a hop to another origin than the one the caller named,
    remove every credential-bearing header (a same-origin hop keeps them): the rule of
    ``transports.rules.may_get_credentials``, on each request httpx sends, redirects included."""
    trusted = request.extensions.get(ORIGIN_EXTENSION)
    if trusted is None or may_get_credentials(str(request.url), trusted):
        return
    for name in [n for n in request.headers if is_credential_header(n)]:
        del request.headers[name]


async def astrip_cross_origin_credentials(request: httpx.Request) -> None:
    """The same hook for ``httpx.AsyncClient`` (whose hooks must be coroutines)."""
    strip_cross_origin_credentials(request)


def body_framed(response: httpx.Response, limit: int) -> bool:
    """``transports.rules.framed_within`` for an httpx response (one pass over its raw headers:
    ``Headers.get`` decodes on every call, and this runs on every poll)."""
    lengths: list[bytes] = []
    codings: list[bytes] = []
    for name, value in response.headers.raw:
        lower = name.lower()
        if lower == b"content-length":
            lengths.append(value)
        elif lower == b"content-encoding":
            codings.append(value)
    return framed_within(lengths, codings, limit)


class TooManyRedirects(Exception):
    """More redirects than ``max_redirects`` on the aiohttp fast path (``transports.aiohttp``),
    which follows them itself."""


class InvalidRedirect(Exception):
    """A redirect on the aiohttp fast path to a URL that cannot be requested."""


def describe_transport_error(exc: BaseException) -> tuple[str, bool]:
    """A sanitized description of a failed request and whether it is fatal (not retried)."""
    if type(exc).__module__.startswith("aiohttp"):
        return describe_aiohttp_error(exc)
    if isinstance(exc, (httpx.TooManyRedirects, TooManyRedirects)):
        return "too many redirects (a redirect loop?)", True
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL, InvalidRedirect)):
        return f"invalid URL: {sanitize(exc)}", True
    if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
        return "timed out", False
    if isinstance(exc, httpx.ConnectError) and _certificate_failure(exc):
        return _tls_failure(exc), True
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect ({_connect_words(exc)})", False
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the server broke the HTTP protocol ({_short(exc)})", False
    if isinstance(exc, httpx.DecodingError):
        return f"the response could not be decoded ({_short(exc)})", False
    if isinstance(exc, httpx.HTTPError):
        return f"network error ({_network_words(exc)})", False
    if isinstance(exc, OSError):
        return f"network error ({type(exc).__name__})", False
    return f"unexpected error ({type(exc).__name__})", True


def describe_aiohttp_error(exc: BaseException) -> tuple[str, bool]:
    """``describe_transport_error`` for aiohttp's errors (the fast path), in the same words
    as httpx's: the engine and the caller cannot tell the transports apart."""
    import aiohttp  # optional extra [fast]: only the fast path's errors come here

    if isinstance(exc, TimeoutError):  # ServerTimeoutError, ConnectionTimeoutError ...
        return "timed out", False
    if isinstance(exc, aiohttp.InvalidURL):
        return f"invalid URL: {sanitize(exc)}", True
    if isinstance(exc, aiohttp.TooManyRedirects):
        return "too many redirects (a redirect loop?)", True
    if isinstance(exc, aiohttp.ClientConnectorCertificateError) or (
        isinstance(exc, aiohttp.ClientConnectorError) and _certificate_failure(exc)
    ):
        return _tls_failure(exc), True
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"could not connect ({_connect_words(exc.os_error)})", False
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server broke the HTTP protocol (Server disconnected without sending a " \
            "response.)", False
    if isinstance(exc, (aiohttp.ClientPayloadError, aiohttp.ClientResponseError)):
        return f"the server broke the HTTP protocol ({_short(exc)})", False
    if isinstance(exc, aiohttp.ClientError):
        return f"network error ({_network_words(exc)})", False
    if isinstance(exc, OSError):
        return f"network error ({type(exc).__name__})", False
    return f"unexpected error ({type(exc).__name__})", True


#: What a certificate failure advises a Python caller (the command line says its own way).
TLS_ADVICE = "trust the server's CA (verify= an ssl.SSLContext that trusts it)"


def _tls_failure(exc: BaseException) -> str:
    # Not transient: retrying cannot fix a certificate, and the user should hear at once.
    cert = _in_chain(exc, ssl.SSLCertVerificationError)
    why = getattr(cert, "verify_message", None) or _short(exc)
    return (
        f"TLS: certificate verify failed ({sanitize(why)[:200]}); {TLS_ADVICE}, never turn "
        "verification off"
    )


def _certificate_failure(exc: BaseException) -> bool:
    return _in_chain(exc, ssl.SSLCertVerificationError) is not None


def _in_chain(
    exc: BaseException | None, kind: type[BaseException], depth: int = 0
) -> BaseException | None:
    """The first exception of ``kind`` in ``exc``'s chain of causes (httpx -> httpcore ->
    the socket's own error), looking into exception groups (anyio's "all connection
    attempts failed" holds one error per address); bounded against cycles."""
    seen = exc
    for _ in range(8):
        if seen is None:
            return None
        inner = getattr(seen, "certificate_error", None)  # aiohttp wraps it (a subclass)
        if isinstance(inner, BaseException) and inner is not seen:
            seen = inner
            continue
        if isinstance(seen, kind) and not (
            kind is OSError and getattr(seen, "errno", None) is None
        ):
            return seen
        inners = getattr(seen, "exceptions", None)  # an exception group (3.11+, or backport)
        if depth < 2 and isinstance(inners, (tuple, list)):
            for inner in inners:
                found = _in_chain(inner, kind, depth + 1)
                if found is not None:
                    return found
        seen = seen.__cause__ or seen.__context__
    return None


#: A failed connection's cause in plain words, by errno.
_ERRNO_WORDS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.ETIMEDOUT: "timed out",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.EADDRNOTAVAIL: "address not available",
}


def _network_words(exc: BaseException) -> str:
    """A failed exchange's cause: ``connection reset`` and the like, else the error's type
    and its own (sanitized) text."""
    os_error = _in_chain(exc, OSError)
    if isinstance(os_error, OSError) and os_error.errno in _ERRNO_WORDS:
        return _ERRNO_WORDS[os_error.errno]
    return f"{type(exc).__name__}: {_short(exc)}"


def _connect_words(exc: BaseException | None) -> str:
    """Why a connection could not be made, in plain words: ``connection refused``, ``name
    not resolved``, ``host unreachable`` ...; else the error's own (sanitized) text."""
    if _in_chain(exc, socket.gaierror) is not None:
        return "name not resolved"
    os_error = _in_chain(exc, OSError)
    if isinstance(os_error, OSError) and os_error.errno in _ERRNO_WORDS:
        return _ERRNO_WORDS[os_error.errno]
    text = str(exc or "").lower()
    for words, said in (("name or service not known", "name not resolved"),
                        ("nodename nor servname", "name not resolved"),
                        ("temporary failure in name resolution", "name not resolved"),
                        ("no address associated", "name not resolved"),
                        ("connection refused", "connection refused"),
                        ("connect call failed", "connection refused")):
        if words in text:
            return said
    return _short(exc) if exc is not None else "unknown error"


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return sanitize(text)[:200]


def import_httpx_sse() -> Any:
    """httpx-sse, or a clear error when the ``sse`` extra is not installed."""
    try:
        import httpx_sse  # optional extra [sse]
    except ImportError:
        raise ImportError(
            "events_url= needs httpx-sse: pip install 'progress-client[sse]'"
        ) from None
    return httpx_sse


def check_url(url: str) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ValueError("url must be a non-empty string")
    return url.strip()
