"""Credentials stay with the origin the caller named. A URL that a server names (``run``'s
status URL from a start response, a result or cancel URL from a status document) may point
anywhere: the caller's Authorization, API keys and cookies go there only when it is the same
origin, whether the client built its own httpx client or was given one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from progress_client import AsyncProgressClient, FixedPolicy, ProgressClient
from tests.kit import JobServer, Reply

SECRETS = {"Authorization": "Bearer sekrit-token", "X-Api-Key": "key-123", "Cookie": "s=1"}
FAST = FixedPolicy(0.02)


@pytest.fixture
def servers() -> Iterator[tuple[JobServer, JobServer]]:
    with JobServer() as home, JobServer() as elsewhere:
        yield home, elsewhere


def _start(home: JobServer, elsewhere: JobServer, name: str) -> str:
    """A start on the caller's origin whose answer names a status URL on another origin."""
    status = elsewhere.script(f"{name}-status", [
        Reply(200, {"status": "running"}), Reply(200, {"status": "completed"}),
    ])
    start = home.script(name, [Reply(202, b"", {"Operation-Location": status.url})])
    return start.url


def _credentials_seen(server: JobServer) -> list[set[str]]:
    return [{k for k in s.headers if k in {h.lower() for h in SECRETS}} for s in server.seen]


def _check(home: JobServer, elsewhere: JobServer) -> None:
    assert _credentials_seen(home) == [{"authorization", "x-api-key", "cookie"}]
    assert len(elsewhere.seen) == 2 and _credentials_seen(elsewhere) == [set(), set()]


@pytest.mark.parametrize("own_client", [False, True], ids=["built", "passed-in"])
def test_sync_run_keeps_credentials_home(
    servers: tuple[JobServer, JobServer], own_client: bool
) -> None:
    home, elsewhere = servers
    url = _start(home, elsewhere, "sync")
    http = httpx.Client() if own_client else None
    with ProgressClient(policy=FAST,
                        allow_fast_polling=True, headers=SECRETS, client=http) as client:
        result = client.run(url, method="GET", timeout=10)
    if http is not None:
        http.close()
    assert result.status.status == "completed" and result.status_url is not None
    _check(home, elsewhere)


@pytest.mark.anyio
@pytest.mark.parametrize("own_client", [False, True], ids=["built", "passed-in"])
async def test_async_run_keeps_credentials_home(
    servers: tuple[JobServer, JobServer], own_client: bool, anyio_backend: Any
) -> None:
    home, elsewhere = servers
    url = _start(home, elsewhere, f"async-{anyio_backend}")
    http = httpx.AsyncClient() if own_client else None
    async with AsyncProgressClient(policy=FAST,
                                   allow_fast_polling=True, headers=SECRETS, client=http) as client:
        result = await client.run(url, method="GET", timeout=10)
    if http is not None:
        await http.aclose()
    assert result.status.status == "completed"
    _check(home, elsewhere)


def test_a_status_url_on_the_same_origin_gets_the_credentials(
    servers: tuple[JobServer, JobServer],
) -> None:
    home, _ = servers
    status = home.script("same-status", [Reply(200, {"status": "completed"})])
    start = home.script("same", [Reply(202, b"", {"Operation-Location": status.url})])
    with ProgressClient(policy=FAST, allow_fast_polling=True, headers=SECRETS) as client:
        client.run(start.url, method="GET", timeout=10)
    assert _credentials_seen(home) == [{"authorization", "x-api-key", "cookie"}] * 2
