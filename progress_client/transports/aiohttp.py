"""The fast path of ``AsyncProgressClient`` on asyncio: polls over an ``aiohttp.ClientSession``
directly (the ``fast`` extra), an asyncio-native FIFO limiter and a timeout on the loop's clock
for a poll that queues for it (the exchanges themselves are bounded by ``drivers.deadlines``).

Only polls take it (the hot path of thousands of waits); a start, a result, a cancel request and
an event stream stay on httpx. The engine decides everything, as on httpx: this module only
carries out one ``Request`` and hands back the status code, the headers and the body (cut at the
body limit), or raises. It keeps the HTTP rules of ``transports.rules`` (the one copy, which the
httpx path keeps too; ``tests/test_transport_conformance.py`` proves the results identical):

- redirects are followed here (``allow_redirects=False`` to aiohttp), up to ``max_redirects``,
  with ``redirect_method`` and ``redirect_headers``: credentials only on the trusted origin
  (the URL the caller named), and once dropped they stay dropped;
- TLS verification is on by default, with httpx's own context (``verify=False`` or an
  ``ssl.SSLContext`` are honoured alike);
- ``default_headers``; a ``(user, password)`` tuple and a URL's user-info are Basic auth;
- the body limit: ``framed_within``, else read in chunks and ``cut``;
- cookies: the session keeps none. A response's cookies go to the httpx client's jar
  (``keep_cookies``), a hop's ``Cookie`` header comes from it (``cookie_header``: the jar's
  rules and the origin rule), and a wait whose jar holds cookies polls over httpx;
- proxies from the environment: ``"auto"`` does not choose this path when any is set; an
  explicit ``transport="aiohttp"`` then reads them as httpx does (``trust_env``).

aiohttp is imported when a client that uses it is made, never at import time.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import ssl
import sys
import urllib.request
import weakref
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import anyio
import httpx

from progress_client.core.options import TRANSPORTS
from progress_client.transports.http import DEFAULT_MAX_REDIRECTS, InvalidRedirect, TooManyRedirects
from progress_client.transports.rules import (
    REDIRECT_STATUSES,
    cookie_header,
    cut,
    default_headers,
    framed_within,
    is_credential_header,
    keep_cookies,
    may_get_credentials,
    redirect_headers,
    redirect_method,
    userinfo_auth,
    without_credentials,
)
from progress_client.transports.rules import (
    holds_cookies as jar_holds_cookies,
)

if TYPE_CHECKING:
    import aiohttp
    from yarl import URL

__all__ = [
    "TRANSPORTS",
    "Exchange",
    "FastPolls",
    "FifoLimiter",
    "aiohttp_installed",
    "proxies_configured",
    "timeout_after",
]


_URL_CACHE = 16384

if sys.version_info >= (3, 11):
    timeout_after = asyncio.timeout
else:  # pragma: no cover - Python 3.10: only the fast path times out here, and aiohttp
    # depends on async-timeout there.

    def timeout_after(delay: float | None) -> Any:
        from async_timeout import timeout  # type: ignore[import-not-found,unused-ignore]

        return timeout(delay)


def holds_cookies(http: Any) -> bool:
    """Whether the httpx client's jar may hold a cookie (then polls go over httpx, which
    sends them): ``transports.rules.holds_cookies``, an attribute read on our own clients."""
    return jar_holds_cookies(http.cookies)


def aiohttp_installed() -> bool:
    """Whether aiohttp can be imported (without importing it)."""
    return importlib.util.find_spec("aiohttp") is not None


def proxies_configured() -> bool:
    """Whether the environment names a proxy (httpx honours it; this path would not)."""
    return any(k != "no" for k in urllib.request.getproxies())


class FifoLimiter:
    """At most ``total`` holders; the others wait in FIFO order (asyncio only).

    The same small interface as ``anyio.CapacityLimiter`` as the driver uses it, with no
    checkpoint when a token is free and nobody queues."""

    __slots__ = ("_free", "_waiters")

    def __init__(self, total: int) -> None:
        self._free = total
        self._waiters: deque[asyncio.Future[None]] = deque()

    def try_acquire(self) -> bool:
        if self._free and not self._waiters:
            self._free -= 1
            return True
        return False

    def acquire_nowait(self) -> None:
        """Take a token now or raise ``anyio.WouldBlock`` (anyio's interface)."""
        if not self.try_acquire():
            raise anyio.WouldBlock

    async def acquire(self) -> None:
        if self.try_acquire():
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release()  # the token came as the waiter was cancelled: pass it on
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the token goes straight to the next in line
                return
        self._free += 1


class Exchange:
    """What one poll got: the final response's status code (set as soon as its head came, so
    a body that times out still reports it), headers and body."""

    __slots__ = ("body", "code", "headers", "truncated")

    def __init__(self) -> None:
        self.code: int | None = None
        self.headers: Mapping[str, str] = {}
        self.body = b""
        self.truncated = False


class FastPolls:
    """The aiohttp session of one client and how a poll goes through it."""

    def __init__(
        self,
        *,
        headers: Mapping[str, str] | None,
        auth: tuple[str, str] | None,
        verify: Any,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        max_connections: int,
    ) -> None:
        # Lower-case names: merged case-insensitively, as httpx.Headers does.
        merged = default_headers(headers, auth)
        self._has_auth = auth is not None
        #: Our headers without credentials (every origin's share), and the credentials: the
        #: session sends the public ones itself, a request adds the credentials only for the
        #: trusted origin (most polls then pass no headers of their own to aiohttp, which
        #: spares it merging two header sets on every request).
        self.public = {k: v for k, v in merged.items() if not is_credential_header(k)}
        self.private = {k: v for k, v in merged.items() if is_credential_header(k)}
        self._verify = verify
        self._max_redirects = max_redirects
        self._max_connections = max_connections
        #: Parsed URLs of the polls (one per running wait; cleared when it grows past
        #: ``_URL_CACHE``): a poll's URL is parsed once per wait, not once per poll.
        self._urls: dict[str, URL] = {}
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # aiohttp and yarl load with the client (about 0.15 s), not inside its first wait.
        import aiohttp  # noqa: F401
        import yarl  # noqa: F401

    def serves(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Whether this session can carry requests on ``loop``: the loop it was opened on
        (a client used on a second loop polls over httpx there)."""
        return self._loop is None or self._loop is loop

    def _open(self) -> aiohttp.ClientSession:
        if self._session is not None:
            return self._session
        import aiohttp  # optional extra [fast]

        verify = self._verify
        context: ssl.SSLContext | bool
        if isinstance(verify, ssl.SSLContext):
            context = verify
        elif verify is False:
            context = False
        else:  # httpx's own default context: the same CA bundle as the httpx path

            context = httpx.create_ssl_context(verify=verify)
        connector = aiohttp.TCPConnector(
            limit=self._max_connections, limit_per_host=0, ssl=context
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers=self.public,
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None),  # the driver bounds the exchange
            auto_decompress=True,
            # Proxies from the environment, as httpx: read only when there are any (asked
            # once here, so that no poll pays for the lookup when there are none).
            trust_env=proxies_configured(),
        )
        self._loop = asyncio.get_running_loop()
        # A client dropped without aclose(): its sockets close quietly, as httpx's do (aiohttp
        # would report an unclosed session through the loop's exception handler).
        weakref.finalize(self, _abandon, self._session)
        return self._session

    async def aclose(self) -> None:
        session, self._session = self._session, None
        loop, self._loop = self._loop, None
        if session is not None and loop is asyncio.get_running_loop():
            await session.close()

    async def fetch(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None,
        trusted: str,
        max_body: int,
        into: Exchange,
        cookies: Any = None,
    ) -> None:
        """One exchange, redirects followed, into ``into``: the final status code, headers,
        body (at most ``max_body`` bytes) and whether the body was longer (then not read
        further).
        ``trusted``: the URL whose origin may get credentials. ``cookies``: the httpx client's
        jar, which a response's ``Set-Cookie`` goes to."""
        session = self._open()
        # Beside the session's public headers: the credentials for the trusted origin (a poll
        # of the URL the caller named, the common case, needs no parsing here), and the
        # request's own.
        if may_get_credentials(url, trusted):
            sent = _merge(self.private, headers)
        else:
            sent = without_credentials(_merge({}, headers))
        target = self._urls.get(url)
        if target is None:
            from yarl import URL  # optional extra [fast]

            if len(self._urls) >= _URL_CACHE:
                self._urls.clear()
            target = self._urls[url] = URL(url)
        if target.user is not None or target.password is not None:
            basic = userinfo_auth(target.user, target.password, have_auth=self._has_auth)
            if basic is not None:
                sent = {**sent, "authorization": basic}
            target = target.with_user(None)
        hops = 0
        while True:
            response = await session.request(
                method, target, headers=sent or None, data=content, allow_redirects=False
            )
            try:
                code = response.status
                if cookies is not None and "Set-Cookie" in response.headers:
                    keep_cookies(cookies, method, str(target), code,
                                 response.headers.items())
                location = (response.headers.get("Location") if code in REDIRECT_STATUSES
                            else None)
                if location is None:
                    into.code, into.headers = code, response.headers
                    into.body, into.truncated = await _read_within(response, max_body)
                    return
            finally:
                response.release()
            if hops >= self._max_redirects:
                raise TooManyRedirects(f"more than {self._max_redirects} redirects")
            hops += 1
            target = _next_url(target, location)
            hop = str(target)
            after = redirect_method(code, method)
            rewritten = after != method
            if rewritten:
                method, content = after, None
            sent = redirect_headers(sent, rewritten=rewritten, hop=hop, trusted=trusted)
            if cookies is not None and jar_holds_cookies(cookies):
                value = cookie_header(cookies, method, hop, trusted)
                if value is not None:
                    sent["cookie"] = value


def _abandon(session: aiohttp.ClientSession) -> None:
    if session.closed:
        return
    connector = session.connector
    session.detach()
    if connector is not None:
        with contextlib.suppress(Exception):  # its loop may be closed already
            connector._close()


def _merge(base: dict[str, str], more: Mapping[str, str]) -> dict[str, str]:
    """``base`` (lower-case names) updated with ``more``, names compared without case."""
    if not more:
        return base
    merged = dict(base)
    for name, value in more.items():
        merged[name.lower()] = value
    return merged


def _next_url(current: Any, location: str) -> Any:
    from yarl import URL  # optional extra [fast]

    try:
        target = current.join(URL(location))
    except ValueError:
        raise InvalidRedirect("a redirect to an invalid URL") from None
    if target.scheme not in ("http", "https") or not target.host:
        raise InvalidRedirect(f"a redirect to an unsupported URL scheme {target.scheme!r}")
    return target.with_fragment(None)


async def _read_within(response: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """The body up to ``limit`` bytes, and whether it was longer (then not read further)."""
    headers = response.headers
    if framed_within(headers.getall("Content-Length", ()),
                     headers.getall("Content-Encoding", ()), limit):
        return await response.read(), False  # framed by its length: one read
    body = bytearray()
    stream = response.content
    while True:
        chunk = await stream.read(limit + 1 - len(body))
        if not chunk:
            return bytes(body), False
        body += chunk
        if cut(body, limit):
            response.close()  # read no further: the connection is not reused
            return bytes(body), True
