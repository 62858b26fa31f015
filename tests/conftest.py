"""Shared fixtures: the anyio backends, and a real redis-server.

``redis_url`` uses ``REDIS_URL`` when set (``.ci/run`` starts a throwaway server and sets it);
otherwise it starts a redis-server of its own on a free loopback port if the binary is on PATH
(the same helper the benchmarks use), and skips with a visible reason only when no
redis-server can be had at all.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Iterator

import pytest

from benchmarks.procs import free_port, redis_server

__all__ = ["free_port"]


def pytest_configure(config: pytest.Config) -> None:
    """Ctrl-C reaches the CLI processes the tests start, however pytest was started.

    A shell without job control (a script, ``nohup``, a CI step that backgrounds the suite)
    starts a background command with SIGINT ignored, and an ignored signal stays ignored in
    every child: each ``progress-client`` the tests interrupt would then go on waiting instead
    of exiting 130. With Python's own handler here (the one pytest has when started from a
    terminal), a child starts with SIGINT at its default, as a user's process does."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(autouse=True)
def _httpx_under_respx(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """respx mocks httpx only: a module that mocks with it keeps its async clients' polls on
    httpx (the documented switch), where an installed ``fast`` extra would send them over
    aiohttp to the network.

    Why those tests cannot run on aiohttp: respx patches httpx's transports, and the fast
    path's polls never touch httpx (they go through an ``aiohttp.ClientSession``), so a mocked
    route would not be seen and the poll would go out to the real network. What the respx tests
    check of HTTP (redirects, credentials, cookies, body limits, failures) the transport
    conformance suite (``test_transport_conformance.py``) checks on every transport, aiohttp
    included, against real sockets on 127.0.0.1."""
    if "respx" in vars(request.module):
        monkeypatch.setenv("PROGRESS_CLIENT_TRANSPORT", "httpx")


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    if not os.environ.get("REDIS_URL") and shutil.which("redis-server") is None:
        pytest.skip("no redis-server: set REDIS_URL or install redis-server (bash .ci/run does)")
    with redis_server() as url:
        yield url
