"""The transport conformance suite: the same HTTP cases against every transport, identical
results. One set of rules (``progress_client.transports.rules``) is kept by httpx's ``Client``, its
``AsyncClient`` on asyncio and on trio, and the aiohttp fast path; each case runs the real
clients against real socket servers on 127.0.0.1 (``tests/faultserver.py``: two origins on two
ports, a TLS server with a throwaway self-signed certificate, a forward proxy) and compares
what each transport ended with (outcome, status or error wording, requests counted) and what
the servers received (method, path, credentials, cookies, body framing), hop by hop.

Cases: redirect chains on one origin and across origins carrying ``Authorization`` (``auth=``),
an API-key header and a cookie set on a redirect answer; the 301/302/303/307/308 method rules
for GET and for POST (each transport's request primitive); a redirect loop; user-info in a
URL; bodies at, under and over the limit, framed by Content-Length or by the connection's end;
a body that stalls; a refused connection; a TLS failure; a proxy from the environment.

respx cannot play this part: it mocks httpx only (see ``tests/conftest.py``).
"""

from __future__ import annotations

import re
import shutil
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest

from progress_client import AsyncProgressClient, FixedPolicy, PollError, ProgressClient
from progress_client.core.actions import Request as EngineRequest
from progress_client.transports.aiohttp import Exchange
from progress_client.transports.bodies import aread_body, read_body
from progress_client.transports.http import describe_transport_error

from .faultserver import (
    FaultServer,
    Request,
    raw,
    redirect,
    refused_url,
    stall_after_headers,
    status,
    with_body,
)
from .serving import make_certificate

pytestmark = pytest.mark.e2e

TRANSPORTS = ["httpx-sync", "httpx-asyncio", "httpx-trio", "aiohttp"]
POLICY = FixedPolicy(0.01)
AUTH = ("user", "pw")
BASIC = "Basic dXNlcjpwdw=="  # user:pw
API_KEY = {"X-Api-Key": "k-123"}
LIMIT = 64

#: What a transport ended with: outcome, status word or error wording, requests counted.
Outcome = tuple[str, str, int | None]
#: What a server received on one hop: origin, method, path, the credentials and body framing.
Hop = tuple[str, str, str, str | None, str | None, str | None, str | None]


@pytest.fixture(scope="module")
def origins() -> Iterator[dict[str, FaultServer]]:
    """Two origins: the same host on two ports."""
    with FaultServer() as a, FaultServer() as b:
        yield {"A": a, "B": b}


def wait_on(transport: str, url: str, **options: Any) -> Outcome:
    """``wait(url)`` on a fresh client of ``transport``; what it ended with."""
    timeout = options.pop("timeout", 30.0)
    opts: dict[str, Any] = {"policy": POLICY, "allow_fast_polling": True, **options}
    try:
        if transport == "httpx-sync":
            with ProgressClient(**opts) as client:
                result = client.wait(url, timeout=timeout)
        else:
            kind = "aiohttp" if transport == "aiohttp" else "httpx"

            async def main() -> Any:
                async with AsyncProgressClient(transport=kind, **opts) as client:
                    assert client.transport_for_polls == kind
                    return await client.wait(url, timeout=timeout)

            result = anyio.run(main, backend="trio" if transport == "httpx-trio" else "asyncio")
    except PollError as exc:
        requests = exc.report.requests if exc.report is not None else None
        return exc.outcome, _placeless(exc.message), requests
    return "succeeded", result.status.status, result.report.requests


def _placeless(text: str) -> str:
    """An error's words without the ports of this run's servers."""
    return re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)


def hops(origins: dict[str, FaultServer], prefix: str) -> list[Hop]:
    """What the servers received under ``prefix``, in order of arrival."""
    seen: list[tuple[float, Hop]] = []
    for label, server in origins.items():
        for r in list(server.requests):
            if r.path.startswith(prefix):
                seen.append((r.at, _hop(label, r, prefix)))
    return [h for _, h in sorted(seen)]


def _hop(label: str, r: Request, prefix: str) -> Hop:
    h = r.headers
    return (label, r.method, r.path.removeprefix(prefix), h.get("authorization"),
            h.get("x-api-key"), h.get("cookie"), h.get("content-length"))


def conform(
    name: str, case: Callable[[str, str], tuple[Outcome, list[Hop]]]
) -> tuple[Outcome, list[Hop]]:
    """Run ``case(transport, prefix)`` on every transport (each under paths of its own below
    ``/name``); assert that all ended alike and that the servers saw the same hops; return
    that result."""
    results = {t: case(t, f"/{name}/{t}") for t in TRANSPORTS}
    first = results[TRANSPORTS[0]]
    for transport, got in results.items():
        assert got == first, f"{transport} differs from {TRANSPORTS[0]}:\n{got}\n{first}"
    return first


def set_cookie_redirect(location: str, code: int = 302) -> Any:
    """A redirect answer that sets a session cookie (host-only, every path)."""
    return raw(f"HTTP/1.1 {code} Redirect\r\nConnection: close\r\nLocation: {location}\r\n"
               "Set-Cookie: sid=s3cret; Path=/\r\nContent-Length: 0\r\n\r\n".encode())


# -- redirects and credentials -----------------------------------------------------------------


def test_a_same_origin_chain_keeps_every_credential(origins: dict[str, FaultServer]) -> None:
    a = origins["A"]

    def case(t: str, p: str) -> tuple[Outcome, list[Hop]]:
        a.route(f"{p}/start", set_cookie_redirect(a.url(f"{p}/mid")))
        a.route(f"{p}/mid", redirect(a.url(f"{p}/job"), 307))
        a.route(f"{p}/job", status("done"))
        return wait_on(t, a.url(f"{p}/start"), auth=AUTH, headers=API_KEY), hops(origins, p)

    outcome, seen = conform("same-origin", case)
    assert outcome == ("succeeded", "done", 1)
    assert seen == [
        ("A", "GET", "/start", BASIC, "k-123", None, None),
        ("A", "GET", "/mid", BASIC, "k-123", "sid=s3cret", None),
        ("A", "GET", "/job", BASIC, "k-123", "sid=s3cret", None),
    ]


def test_credentials_and_cookies_stay_with_their_origin(origins: dict[str, FaultServer]) -> None:
    """A cookie origin A sets on a redirect answer does not go to origin B (the same host on
    another port: a cookie's domain ignores ports), nor do Authorization and the API key; back
    on A the jar's cookie is sent again, the dropped headers stay dropped."""
    a, b = origins["A"], origins["B"]

    def case(t: str, p: str) -> tuple[Outcome, list[Hop]]:
        a.route(f"{p}/start", set_cookie_redirect(b.url(f"{p}/there")))
        b.route(f"{p}/there", redirect(a.url(f"{p}/back"), 307))
        a.route(f"{p}/back", status("done"))
        return wait_on(t, a.url(f"{p}/start"), auth=AUTH, headers=API_KEY), hops(origins, p)

    outcome, seen = conform("cross-origin", case)
    assert outcome == ("succeeded", "done", 1)
    assert seen == [
        ("A", "GET", "/start", BASIC, "k-123", None, None),
        ("B", "GET", "/there", None, None, None, None),
        ("A", "GET", "/back", None, None, "sid=s3cret", None),
    ]


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_a_get_stays_a_get_through_every_redirect(
    origins: dict[str, FaultServer], code: int
) -> None:
    a = origins["A"]

    def case(t: str, p: str) -> tuple[Outcome, list[Hop]]:
        a.route(f"{p}/start", redirect(a.url(f"{p}/job"), code))
        a.route(f"{p}/job", status("done"))
        return wait_on(t, a.url(f"{p}/start"), headers=API_KEY), hops(origins, p)

    outcome, seen = conform(f"get_{code}", case)
    assert outcome == ("succeeded", "done", 1)
    assert [(m, path, key) for _, m, path, _, key, _, _ in seen] == [
        ("GET", "/start", "k-123"), ("GET", "/job", "k-123")]


def post_on(transport: str, url: str) -> tuple[int | None, str]:
    """A POST with a JSON body through the transport's own request primitive (the httpx
    client the drivers send with, or the fast path's ``fetch``): the final status code."""
    content, headers = b'{"a": 1}', {"Content-Type": "application/json"}
    request = EngineRequest("start", "POST", url, headers, 10.0, content)
    if transport == "httpx-sync":
        with ProgressClient() as client, client._http.stream(
            "POST", url, content=content, headers=headers, **_options(client, request)
        ) as response:
            read_body(response, LIMIT)
            return response.status_code, ""
    kind = "aiohttp" if transport == "aiohttp" else "httpx"

    async def main() -> tuple[int | None, str]:
        async with AsyncProgressClient(transport=kind) as client:
            if kind == "aiohttp":
                assert client._fast is not None
                got = Exchange()
                await client._fast.fetch("POST", url, headers, content, url, LIMIT, got,
                                         client._http.cookies)
                return got.code, ""
            async with client._http.stream(
                "POST", url, content=content, headers=headers, **_options(client, request)
            ) as response:
                await aread_body(response, LIMIT)
                return response.status_code, ""

    return anyio.run(main, backend="trio" if transport == "httpx-trio" else "asyncio")


def _options(client: Any, request: EngineRequest) -> dict[str, Any]:
    options: dict[str, Any] = client._options(request, request.url)
    options.pop("headers", None)
    options.pop("content", None)
    return options


@pytest.mark.parametrize(("code", "method", "body"), [
    (301, "GET", False), (302, "GET", False), (303, "GET", False),
    (307, "POST", True), (308, "POST", True),
])
def test_redirect_method_rules_for_a_post(
    origins: dict[str, FaultServer], code: int, method: str, body: bool
) -> None:
    """301 and 302 after a POST and 303 become a GET without the body; 307 and 308 keep the
    method and the body (RFC 9110 15.4)."""
    a = origins["A"]

    def case(t: str, p: str) -> tuple[Outcome, list[Hop]]:
        a.route(f"{p}/start", redirect(a.url(f"{p}/next"), code))
        a.route(f"{p}/next", status("done"))
        got, _ = post_on(t, a.url(f"{p}/start"))
        return ("sent", str(got), None), hops(origins, p)

    outcome, seen = conform(f"post_{code}", case)
    assert outcome == ("sent", "200", None)
    assert [(m, path, length) for _, m, path, _, _, _, length in seen] == [
        ("POST", "/start", "8"), (method, "/next", "8" if body else None)]


def test_a_redirect_loop_is_a_fatal_error(origins: dict[str, FaultServer]) -> None:
    a = origins["A"]

    def case(t: str, p: str) -> tuple[Outcome, list[Hop]]:
        a.route(f"{p}/loop", redirect(a.url(f"{p}/loop")))
        return wait_on(t, a.url(f"{p}/loop")), hops(origins, p)

    outcome, seen = conform("loop", case)
    assert outcome == ("error", "request failed: too many redirects (a redirect loop?)", 1)
    assert len(seen) == 6  # the request and max_redirects (5) hops, then no more


@pytest.mark.parametrize("auth", [None, ("other", "secret")], ids=["userinfo", "auth-wins"])
def test_user_info_in_a_url_is_basic_auth(
    origins: dict[str, FaultServer], auth: tuple[str, str] | None
) -> None:
    a = origins["A"]

    def case(t: str, p: str) -> tuple[Outcome, list[Hop]]:
        a.route(f"{p}/job", status("done"))
        url = a.url(f"{p}/job").replace("http://", "http://user:pw@")
        return wait_on(t, url, auth=auth), hops(origins, p)

    outcome, seen = conform(f"userinfo_{auth is None}", case)
    assert outcome == ("succeeded", "done", 1)
    want = BASIC if auth is None else "Basic b3RoZXI6c2VjcmV0"  # other:secret
    assert [h[3] for h in seen] == [want]


# -- bodies and the limit ----------------------------------------------------------------------


def _document(size: int) -> bytes:
    head = b'{"status": "done", "pad": "'
    return head + b"x" * (size - len(head) - 2) + b'"}'


def _unframed(body: bytes) -> Any:
    """A body with no Content-Length: it ends when the connection does."""
    return raw(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/json\r\n\r\n"
               + body)


@pytest.mark.parametrize("size", [LIMIT - 1, LIMIT, LIMIT + 1])
@pytest.mark.parametrize("framed", [True, False], ids=["content-length", "no-length"])
def test_body_limit(origins: dict[str, FaultServer], size: int, framed: bool) -> None:
    a = origins["A"]
    body = _document(size)
    assert len(body) == size

    def case(t: str, p: str) -> tuple[Outcome, list[Hop]]:
        a.route(f"{p}/job", with_body(200, body) if framed else _unframed(body))
        return wait_on(t, a.url(f"{p}/job"), max_body=LIMIT), hops(origins, p)

    outcome, _ = conform(f"body_{size}_{framed}", case)
    if size <= LIMIT:
        assert outcome == ("succeeded", "done", 1)
    else:
        assert outcome[0] == "error" and f"{LIMIT}" in outcome[1], outcome


# -- failures ----------------------------------------------------------------------------------


def test_a_stalled_body_times_out(origins: dict[str, FaultServer]) -> None:
    a = origins["A"]

    def case(t: str, p: str) -> tuple[Outcome, list[Hop]]:
        a.route(f"{p}/job", stall_after_headers())
        return (wait_on(t, a.url(f"{p}/job"), request_timeout=0.5, max_consecutive_errors=1),
                hops(origins, p))

    outcome, seen = conform("stall", case)
    assert outcome[0] == "error" and "timed out" in outcome[1], outcome
    assert len(seen) == 1


def test_a_refused_connection(origins: dict[str, FaultServer]) -> None:
    url = refused_url("/refused")

    def case(t: str, p: str) -> tuple[Outcome, list[Hop]]:
        return wait_on(t, url, max_consecutive_errors=1), []

    outcome, _ = conform("refused", case)
    assert outcome[0] == "error" and "could not connect" in outcome[1], outcome


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultServer]:
    """An HTTPS origin with a throwaway self-signed certificate (made with openssl)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl binary to make a throwaway certificate")
    cert, key = make_certificate(openssl, tmp_path_factory.mktemp("tls"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with FaultServer(ssl_context=context) as server:
        yield server


def test_a_tls_failure_is_fatal_and_worded_alike(tls_server: FaultServer) -> None:
    def case(t: str, p: str) -> tuple[Outcome, list[Hop]]:
        tls_server.route(f"{p}/job", status("done"))
        return wait_on(t, tls_server.url(f"{p}/job")), hops({"TLS": tls_server}, p)

    outcome, seen = conform("tls", case)
    assert outcome[0] == "error" and outcome[2] == 1
    assert "TLS: certificate verify failed (self-signed certificate)" in outcome[1], outcome
    assert seen == []  # no request got through


def test_a_proxy_from_the_environment(
    origins: dict[str, FaultServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """``HTTP_PROXY`` names a forward proxy on 127.0.0.1; the job's host exists only there."""
    proxy = origins["B"]
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")

    def case(t: str, p: str) -> tuple[Outcome, list[Hop]]:
        url = f"http://jobs.invalid{p}/job"
        proxy.route(url, status("done"))
        return wait_on(t, url), hops({"proxy": proxy}, f"http://jobs.invalid{p}")

    outcome, seen = conform("proxy", case)
    assert outcome == ("succeeded", "done", 1)
    assert [(who, m, path) for who, m, path, *_ in seen] == [("proxy", "GET", "/job")]


def test_transport_errors_are_described_by_one_function() -> None:
    # Both transports' exceptions go through the one description (no second wording).
    assert describe_transport_error(TimeoutError()) == ("timed out", False)
