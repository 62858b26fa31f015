"""The HTTP rules every transport follows, as pure functions: one copy, called by the httpx
path (``transports.http``'s request hook, ``drivers.base``'s request options,
``transports.bodies``) and by the aiohttp fast path (``transports.aiohttp``) alike. No I/O here;
``tests/test_transport_conformance.py`` runs the same cases over every transport on real sockets
and expects identical results.

- **Redirects** (``redirect_method``, ``redirect_headers``): 301, 302, 303, 307 and 308 are
  followed up to ``max_redirects``; 303 (but a HEAD) and 301/302 after a POST become a GET
  without a body (and without its Content-Length); 307 and 308 keep method and body.
  httpx follows redirects itself by the same rule; the fast path asks this module.
- **Credentials stay with their origin** (``may_get_credentials``, ``is_credential_header``):
  only the origin (scheme, host, port) of the URL the caller named gets the caller's
  credentials: Authorization, Proxy-Authorization, Cookie and every header whose name says
  token, secret, password, API key, auth, session, signature or credential. A request or a
  redirect hop to any other origin goes without them, and a chain that left the origin does not
  get them back (a cookie, rebuilt from the jar on each hop, comes back on the origin's own).
- **User-info in a URL** (``userinfo_auth``) is Basic auth, unless ``auth=`` was given.
- **Default headers** (``default_headers``): ``User-Agent`` and ``Accept: application/json``,
  the caller's headers over them (names compared without case), ``auth=`` over an
  Authorization header.
- **Body limit** (``framed_within``, ``cut``): a body framed by a Content-Length within the limit
  and not compressed is read in one go; anything else is read in chunks and cut at the limit
  (then not read further: the response says it was truncated).
- **Cookies** (``CookieTracker``, ``holds_cookies``, ``cookie_header``, ``keep_cookies``): one
  jar, httpx's, through its public interface; a cookie goes only where the jar's rules *and*
  the origin rule allow.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Iterable, Mapping
from http.cookiejar import Cookie, CookieJar

import httpx

from progress_client import __version__

__all__ = [
    "DEFAULT_HEADERS",
    "REDIRECT_STATUSES",
    "USER_AGENT",
    "CookieTracker",
    "basic_auth",
    "cookie_header",
    "cut",
    "default_headers",
    "framed_within",
    "holds_cookies",
    "is_credential_header",
    "keep_cookies",
    "may_get_credentials",
    "origin_of",
    "redirect_headers",
    "redirect_method",
    "userinfo_auth",
    "without_credentials",
]

USER_AGENT = f"progress-client/{__version__}"
#: What every request carries unless the caller's headers say otherwise.
DEFAULT_HEADERS: Mapping[str, str] = {"User-Agent": USER_AGENT, "Accept": "application/json"}
REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))

#: Request headers that carry credentials. httpx drops only ``Authorization`` when a redirect
#: leaves the origin; an API key, a cookie or a session header must not follow either.
_CREDENTIAL_HEADER = re.compile(
    r"(?i)^(?:authorization|proxy-authorization|cookie|[a-z0-9-]*"
    r"(?:token|secret|passw|api-?key|apikey|auth|session|signature|credential)[a-z0-9-]*)$"
)
#: What a body that is no longer sent takes with it on a rewritten redirect (as httpx: the
#: framing headers; a Content-Type stays, harmless on a GET).
_BODY_HEADERS = frozenset(("content-length", "transfer-encoding"))


# -- origins and credentials -----------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def origin_of(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port (``None`` for the scheme's default) of a URL."""
    parsed = httpx.URL(url)
    return (parsed.scheme, parsed.host, parsed.port)


def is_credential_header(name: str) -> bool:
    """Whether a request header carries credentials (``Authorization``, a cookie, an API
    key, a session or signature header ...)."""
    return _CREDENTIAL_HEADER.match(name) is not None


def may_get_credentials(url: str, trusted: str | None) -> bool:
    """Whether a request to ``url`` may carry the caller's credentials: ``trusted`` is the URL
    the caller named (``None``: ``url`` is it); only its origin may."""
    return trusted is None or url == trusted or origin_of(url) == origin_of(trusted)


def without_credentials(headers: Mapping[str, str]) -> dict[str, str]:
    """``headers`` less every credential-bearing one."""
    return {k: v for k, v in headers.items() if not is_credential_header(k)}


# -- redirects -------------------------------------------------------------------------------


def redirect_method(code: int, method: str) -> str:
    """The method of the request a redirect answer leads to (RFC 9110 15.4, as browsers and
    httpx do): 303 turns anything but HEAD into GET, 301 and 302 turn a POST into GET; 307 and
    308 keep the method (and the body). A method that changes drops the body."""
    if code == 303 and method != "HEAD":
        return "GET"
    if code in (301, 302) and method == "POST":
        return "GET"
    return method


def redirect_headers(
    headers: Mapping[str, str], *, rewritten: bool, hop: str, trusted: str | None
) -> dict[str, str]:
    """The headers that go on to a redirect hop to ``hop``: without the body's own headers
    when the method was rewritten (the body is dropped), without any credential when ``hop``
    is not on the trusted origin, and without ``Cookie`` at all (the jar rebuilds it for the
    hop: ``cookie_header``)."""
    out: dict[str, str] = {}
    keep_credentials = may_get_credentials(hop, trusted)
    for name, value in headers.items():
        lower = name.lower()
        if lower == "cookie" or (rewritten and lower in _BODY_HEADERS):
            continue
        if not keep_credentials and is_credential_header(name):
            continue
        out[name] = value
    return out


# -- headers and Basic auth ------------------------------------------------------------------


def basic_auth(user: str, password: str) -> str:
    """The ``Authorization`` value of HTTP Basic auth (RFC 7617, UTF-8)."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def userinfo_auth(user: str | None, password: str | None, *, have_auth: bool) -> str | None:
    """The Basic ``Authorization`` a URL's user-info stands for, or ``None`` (no user-info, or
    ``auth=`` given: it wins, as on httpx)."""
    if have_auth or (user is None and password is None):
        return None
    return basic_auth(user or "", password or "")


def default_headers(
    headers: Mapping[str, str] | None, auth: tuple[str, str] | None = None
) -> dict[str, str]:
    """Every request's headers, names in lower case: the defaults, the caller's over them
    (compared without case, as ``httpx.Headers``), and ``auth=`` (a user and a password) as
    Basic auth over any Authorization header."""
    merged = {k.lower(): v for k, v in DEFAULT_HEADERS.items()}
    for name, value in (headers or {}).items():
        merged[name.lower()] = value
    if auth is not None:
        merged["authorization"] = basic_auth(*auth)
    return merged


# -- the body limit --------------------------------------------------------------------------


def framed_within(
    lengths: Iterable[bytes | str], encodings: Iterable[bytes | str], limit: int
) -> bool:
    """Whether a body can be read in one go: one ``Content-Length`` (repeated values must
    agree) of at most ``limit``, and no content coding. The HTTP parser then frames the body
    by that length (a longer body is not read, a shorter one is a protocol error), so one read
    cannot pass the limit. Anything else (chunked, compressed, no length, too large) is read in
    chunks and ``cut``."""
    seen: bytes | None = None
    for value in lengths:
        raw = (value.encode("latin-1") if isinstance(value, str) else value).strip()
        if seen is not None and raw != seen:
            return False  # two different lengths: let the parser refuse it while streaming
        seen = raw
    for coding in encodings:
        raw = (coding.encode("latin-1") if isinstance(coding, str) else coding).strip()
        if raw.lower() not in (b"", b"identity"):
            return False
    return seen is not None and seen.isdigit() and int(seen) <= limit


def cut(body: bytearray, limit: int) -> bool:
    """Cut a body read in chunks at ``limit``; whether it was longer (then read no further)."""
    if len(body) > limit:
        del body[limit:]
        return True
    return False


# -- cookies ---------------------------------------------------------------------------------


class CookieTracker(CookieJar):
    """httpx's cookie jar (a standard ``http.cookiejar.CookieJar``) that remembers whether it
    was ever given a cookie, so that asking costs an attribute read on every poll, not a walk
    of the jar under its lock."""

    def __init__(self) -> None:
        super().__init__()
        self.holds = False

    def set_cookie(self, cookie: Cookie) -> None:
        self.holds = True
        super().set_cookie(cookie)

    def clear(self, domain: str | None = None, path: str | None = None,
              name: str | None = None) -> None:
        super().clear(domain, path, name)
        if domain is None:
            self.holds = False


def holds_cookies(cookies: httpx.Cookies) -> bool:
    """Whether a client's jar may hold a cookie (``CookieTracker``'s word, else the jar's)."""
    jar = cookies.jar
    return jar.holds if isinstance(jar, CookieTracker) else bool(cookies)


def cookie_header(
    cookies: httpx.Cookies, method: str, url: str, trusted: str | None
) -> str | None:
    """The ``Cookie`` header for a request to ``url``: what the jar's rules give it (domain,
    path, secure, expiry), and only on the trusted origin. A cookie's domain ignores ports
    (RFC 6265 8.5), so without the origin rule a cookie 127.0.0.1:A set would go to :B."""
    if not may_get_credentials(url, trusted):
        return None
    request = httpx.Request(method, url)
    cookies.set_cookie_header(request)
    value: str | None = request.headers.get("cookie")
    return value


def keep_cookies(
    cookies: httpx.Cookies, method: str, url: str, code: int,
    set_cookies: Iterable[tuple[str, str]],
) -> None:
    """Put a response's ``Set-Cookie`` headers (name, value pairs) into the jar, by the jar's
    rules (the response's URL decides the defaults of domain and path)."""
    raw = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in set_cookies]
    if raw:
        cookies.extract_cookies(
            httpx.Response(code, headers=raw, request=httpx.Request(method, url))
        )
