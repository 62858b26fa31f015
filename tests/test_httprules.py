"""The HTTP rules as pure functions (``progress_client.transports.rules``): the one copy every
transport calls. The conformance suite (``test_transport_conformance.py``) runs them over real
sockets on every transport; these pin each rule down on its own."""

from __future__ import annotations

import httpx
import pytest

from progress_client.transports.rules import (
    CookieTracker,
    cookie_header,
    cut,
    default_headers,
    framed_within,
    holds_cookies,
    is_credential_header,
    keep_cookies,
    may_get_credentials,
    redirect_headers,
    redirect_method,
    userinfo_auth,
)

A = "http://127.0.0.1:8000/jobs/1"


@pytest.mark.parametrize(("code", "method", "after"), [
    (301, "GET", "GET"), (302, "GET", "GET"), (303, "GET", "GET"), (307, "GET", "GET"),
    (308, "GET", "GET"), (301, "POST", "GET"), (302, "POST", "GET"), (303, "POST", "GET"),
    (307, "POST", "POST"), (308, "POST", "POST"), (303, "HEAD", "HEAD"), (303, "PUT", "GET"),
    (302, "PUT", "PUT"),
])
def test_redirect_method(code: int, method: str, after: str) -> None:
    assert redirect_method(code, method) == after


def test_redirect_headers() -> None:
    sent = {"authorization": "Bearer t", "x-api-key": "k", "cookie": "sid=1",
            "content-length": "8", "content-type": "application/json", "accept": "*/*"}
    same = redirect_headers(sent, rewritten=False, hop="http://127.0.0.1:8000/b", trusted=A)
    assert same == {k: v for k, v in sent.items() if k != "cookie"}  # the jar rebuilds it
    other = redirect_headers(sent, rewritten=True, hop="http://127.0.0.1:9000/b", trusted=A)
    assert other == {"content-type": "application/json", "accept": "*/*"}


def test_credentials_and_origins() -> None:
    for name in ("Authorization", "Cookie", "X-Api-Key", "X-Auth-Token", "Session-Id",
                 "Proxy-Authorization", "X-Amz-Signature"):
        assert is_credential_header(name), name
    assert not is_credential_header("Accept") and not is_credential_header("Prefer")
    assert may_get_credentials(A, None) and may_get_credentials(A, A)
    assert may_get_credentials("http://127.0.0.1:8000/other", A)
    assert not may_get_credentials("http://127.0.0.1:9000/jobs/1", A)  # another port
    assert not may_get_credentials("https://127.0.0.1:8000/jobs/1", A)  # another scheme


def test_basic_auth_and_default_headers() -> None:
    assert userinfo_auth("user", "pw", have_auth=False) == "Basic dXNlcjpwdw=="
    assert userinfo_auth("user", "pw", have_auth=True) is None  # auth= wins
    assert userinfo_auth(None, None, have_auth=False) is None
    merged = default_headers({"ACCEPT": "text/plain", "Authorization": "Bearer x"},
                             ("user", "pw"))
    assert merged["accept"] == "text/plain" and merged["authorization"].startswith("Basic ")
    assert merged["user-agent"].startswith("progress-client/")


@pytest.mark.parametrize(("lengths", "codings", "framed"), [
    (["64"], [], True), (["63"], [], True), (["65"], [], False), ([], [], False),
    (["64"], ["gzip"], False), (["64"], ["identity"], True), (["64", "64"], [], True),
    (["64", "12"], [], False), (["-1"], [], False), ([b"64"], [b""], True),
])
def test_framed_within(lengths: list[str], codings: list[str], framed: bool) -> None:
    assert framed_within(lengths, codings, 64) is framed


def test_cut() -> None:
    body = bytearray(b"x" * 64)
    assert cut(body, 64) is False and len(body) == 64
    body += b"y"
    assert cut(body, 64) is True and bytes(body) == b"x" * 64


def test_cookies_stay_with_their_origin() -> None:
    jar = CookieTracker()
    cookies = httpx.Cookies(jar)
    assert not holds_cookies(cookies)
    keep_cookies(cookies, "GET", A, 302, [("Set-Cookie", "sid=s3cret; Path=/"),
                                          ("Content-Type", "text/plain")])
    assert holds_cookies(cookies) and jar.holds
    assert cookie_header(cookies, "GET", "http://127.0.0.1:8000/next", A) == "sid=s3cret"
    # The jar alone would send it to another port of the host (a cookie's domain has none).
    assert cookie_header(cookies, "GET", "http://127.0.0.1:9000/next", None) == "sid=s3cret"
    assert cookie_header(cookies, "GET", "http://127.0.0.1:9000/next", A) is None
    jar.clear()
    assert not holds_cookies(cookies)
    # A jar of another kind is asked through its public interface.
    plain = httpx.Cookies()
    assert not holds_cookies(plain)
    plain.set("a", "1", domain="127.0.0.1")
    assert holds_cookies(plain)
