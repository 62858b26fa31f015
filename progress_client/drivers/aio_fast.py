"""The async driver's asyncio side: a poll over aiohttp directly (``send_fast``: the same
feeding of the engine as ``AsyncProgressClient._send``, on the loop's own clock and an asyncio
FIFO), and the choice of that transport (``fast_polls``). The aiohttp session itself is
``transports.aiohttp``; the sleeps between polls, ``drivers.deadlines.Sleeps``."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from progress_client.core.actions import Request
from progress_client.drivers.shared import SharedWait
from progress_client.transports import aiohttp as _fast
from progress_client.transports.http import describe_transport_error

if TYPE_CHECKING:
    from progress_client.drivers.aio import AsyncProgressClient

__all__ = ["fast_polls", "running_asyncio", "send_fast"]


async def send_fast(
    driver: AsyncProgressClient, fast: _fast.FastPolls, shared: SharedWait, request: Request,
    deadline: float | None,
) -> None:
    """``_send`` for a poll over aiohttp: the same feeding of the engine, the whole
    exchange bounded by ``request.timeout`` on the loop's clock."""
    engine = shared.engine
    now = driver._now
    limiter = driver._fifo_limiter()
    if not limiter.try_acquire() and not await _queue_fast(driver, limiter, shared, deadline):
        return
    request = driver._observer.before(shared, request)
    began = now()
    got = _fast.Exchange()
    error: str | None = None
    deadlines = driver._deadlines
    try:
        entry = deadlines.enter(request.timeout)
        try:
            await fast.fetch(
                request.method, request.url, request.headers, request.content,
                shared.trusted or request.url, driver._config.max_body, got,
                driver._http.cookies,
            )
        except asyncio.CancelledError:
            if not deadlines.leave(entry, cancelled=True):
                raise
            # The request's deadline passed: worded as any transport's timeout.
            error, fatal = describe_transport_error(TimeoutError())
            driver._failed(shared, now(), deadline, error, fatal)
        except Exception as exc:  # a transport's failure, worded as on httpx
            deadlines.leave(entry)
            error, fatal = describe_transport_error(exc)
            driver._failed(shared, now(), deadline, error, fatal)
        else:
            deadlines.leave(entry)
            assert got.code is not None
            with shared.lock:
                engine.receive_response(now(), got.code, got.headers, got.body,
                                        wall=driver._wall(), truncated=got.truncated)
    except BaseException:
        with shared.lock:
            engine.interrupt(now())
        raise
    finally:
        limiter.release()
    if driver._observer.listens(request):
        t = now()
        driver._observer.request(engine, request, got.code, t - began, t, error)


async def _queue_fast(
    driver: AsyncProgressClient, limiter: _fast.FifoLimiter, shared: SharedWait,
    deadline: float | None,
) -> bool:
    """``_queue_for`` on asyncio's own timeout."""
    left = None if deadline is None else max(0.0, deadline - driver._now())
    try:
        async with _fast.timeout_after(left):
            await limiter.acquire()
        return True
    except TimeoutError:
        with shared.lock:
            shared.engine.interrupt(driver._now())
        return False
    except BaseException:
        with shared.lock:
            shared.engine.interrupt(driver._now())
        raise


def running_asyncio() -> bool:
    """Whether this code runs in an asyncio task (not trio, not trio in guest mode on asyncio).

    Asked of asyncio itself: sniffio is not a dependency (current anyio and httpx do not bring
    it), and trio sets no running asyncio loop; in trio's guest mode its code runs in the host
    loop's callbacks, never in an asyncio task.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return asyncio.current_task() is not None


def fast_polls(
    transport: str, client: httpx.AsyncClient | None, auth: Any,
    headers: Mapping[str, str] | None, verify: Any, max_redirects: int, max_concurrency: int,
) -> _fast.FastPolls | None:
    """The aiohttp session for polls that ``transport`` asks for, or ``None`` (httpx).
    ``transport`` is one of ``core.options.TRANSPORTS``, checked with every option."""
    if transport == "httpx":
        return None
    simple_auth = auth is None or (
        isinstance(auth, tuple) and len(auth) == 2 and all(isinstance(a, str) for a in auth)
    )
    if transport == "aiohttp":
        if client is not None:
            raise ValueError("transport='aiohttp' sends polls itself: it cannot use client=")
        if not simple_auth:
            raise ValueError("transport='aiohttp' takes auth= only as a (user, password) tuple")
        if not _fast.aiohttp_installed():
            raise ImportError(
                "transport='aiohttp' needs aiohttp: pip install 'progress-client[fast]'"
            )
    elif (
        client is not None or not simple_auth or os.environ.get("PROGRESS_CLIENT_TRANSPORT")
        == "httpx" or not _fast.aiohttp_installed() or _fast.proxies_configured()
    ):
        return None
    return _fast.FastPolls(
        headers=headers, auth=auth, verify=verify, max_redirects=max_redirects,
        max_connections=max_concurrency,
    )
