"""Redirects on 127.0.0.1: credential headers never follow a hop to another origin (httpx
itself drops only Authorization); a same-origin hop keeps them; harmless headers always pass."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from progress_client import AsyncProgressClient, ProgressClient

from .kit import JobServer, Reply

SECRET_HEADERS = {
    "Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
    "X-Api-Key": "key-0123456789abcdef",
    "Cookie": "session=0123456789abcdef",
    "X-Session-Token": "tok-0123456789abcdef",
    "Proxy-Authorization": "Basic dXNlcjpwYXNz",
}
HARMLESS = {"X-Trace-Id": "trace-42", "Accept-Language": "en"}


@pytest.fixture
def two_origins() -> Iterator[tuple[JobServer, JobServer]]:
    with JobServer() as a, JobServer() as b:
        yield a, b


def _setup(a: JobServer, b: JobServer, name: str, *, cross: bool) -> str:
    target = b if cross else a
    final = target.script(f"{name}-final", [Reply(200, {"status": "done"})]).url
    return a.script(name, [Reply(302, b"", {"Location": final})]).url


def _check(a: JobServer, b: JobServer, name: str, *, cross: bool) -> None:
    first = a.requests(f"/jobs/{name}")[0].headers
    target = b if cross else a
    hop = target.requests(f"/jobs/{name}-final")[0].headers
    for header, value in SECRET_HEADERS.items():
        assert first[header.lower()] == value
        if cross:
            assert header.lower() not in hop, header
        elif header == "Cookie":
            # httpx rebuilds Cookie from its cookie jar on every redirect, same origin too.
            assert header.lower() not in hop
        else:
            assert hop[header.lower()] == value
    for header, value in HARMLESS.items():
        assert hop[header.lower()] == value


@pytest.mark.parametrize("cross", [True, False], ids=["cross-origin", "same-origin"])
def test_sync_redirect(two_origins: tuple[JobServer, JobServer], cross: bool) -> None:
    a, b = two_origins
    url = _setup(a, b, "sync", cross=cross)
    with ProgressClient(headers={**SECRET_HEADERS, **HARMLESS}) as client:
        assert client.wait(url, timeout=10).status.status == "done"
    _check(a, b, "sync", cross=cross)


@pytest.mark.anyio
@pytest.mark.parametrize("cross", [True, False], ids=["cross-origin", "same-origin"])
async def test_async_redirect(
    two_origins: tuple[JobServer, JobServer], cross: bool, anyio_backend: str
) -> None:
    a, b = two_origins
    name = f"async-{anyio_backend}"
    url = _setup(a, b, name, cross=cross)
    async with AsyncProgressClient(headers={**SECRET_HEADERS, **HARMLESS}) as client:
        assert (await client.wait(url, timeout=10)).status.status == "done"
    _check(a, b, name, cross=cross)
