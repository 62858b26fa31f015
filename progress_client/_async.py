"""AsyncProgressClient: the async driver (anyio: asyncio and trio). A thin loop that carries out
the engine's actions with an ``httpx.AsyncClient`` on the event loop's clock."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator
from types import TracebackType
from typing import Any

import anyio
import httpx

from ._client import ClientBase, WaitResult, check_url, describe_transport_error, finish
from ._engine import Action, PollEngine, Send, Sleep, Stop, Update

__all__ = ["AsyncProgressClient"]


class AsyncProgressClient(ClientBase[httpx.AsyncClient]):
    """Wait on jobs over HTTP with adaptive polling, from asyncio or trio.

    Time comes from the running event loop (``anyio.current_time()``), so trio's ``MockClock``
    drives it virtually in tests; the ``clock=`` option is for the sync client only.
    """

    def _make_http(self, kwargs: dict[str, Any]) -> httpx.AsyncClient:
        return httpx.AsyncClient(**kwargs)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncProgressClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def wait(self, url: str, *, timeout: float | None = None) -> WaitResult:
        """Poll ``url`` until the job ends. Returns a ``WaitResult``; raises ``JobFailed``,
        ``PollTimeout`` or another ``PollError``. Cancellation stops it at once."""
        stop: Stop | None = None
        async for item in self._run(url, timeout):
            if isinstance(item, Stop):
                stop = item
        assert stop is not None
        return finish(stop)

    async def watch(self, url: str, *, timeout: float | None = None) -> AsyncIterator[Update]:
        """Yield an ``Update`` for every status seen; the last one is terminal. Raises like
        ``wait`` when the job fails or the wait cannot go on."""
        stop: Stop | None = None
        async for item in self._run(url, timeout):
            if isinstance(item, Stop):
                stop = item
            else:
                yield item
        assert stop is not None
        finish(stop)

    async def _run(
        self, url: str, timeout: float | None
    ) -> AsyncGenerator[Update | Stop, None]:
        url = check_url(url)
        start = anyio.current_time()
        engine = self._opts.engine(url, None if timeout is None else start + timeout)
        action: Action = engine.next_action(start)
        while True:
            if isinstance(action, Stop):
                yield action
                return
            if isinstance(action, Sleep):
                await anyio.sleep(max(0.0, action.until - anyio.current_time()))
                action = engine.next_action(anyio.current_time())
                continue
            action = await self._send(engine, url, action)
            update = engine.pop_update()
            if update is not None:
                yield update

    async def _send(self, engine: PollEngine, url: str, send: Send) -> Action:
        headers = {**self._request_headers, **send.headers}
        kwargs: dict[str, Any] = {"timeout": self._opts.request_timeout_for(send.timeout)}
        if self._auth is not None:
            kwargs["auth"] = self._auth
        limit = self._opts.max_body
        # The deadline bounds the whole exchange, a slow trickle of a body included.
        with anyio.move_on_after(send.timeout if send.timeout is not None else float("inf")):
            try:
                async with self._http.stream("GET", url, headers=headers, **kwargs) as response:
                    body = bytearray()
                    truncated = False
                    # Stop at the limit by cancelling, not by ``break``: a cancellation
                    # unwinds httpx's nested async generators from the inside, where a break
                    # leaves them to the garbage collector (a ResourceWarning on trio).
                    with anyio.CancelScope() as reading:
                        async for chunk in response.aiter_bytes():
                            if truncated:
                                continue
                            body += chunk
                            if len(body) > limit:
                                truncated = True
                                del body[limit:]
                                reading.cancel()
                    return engine.receive_response(
                        anyio.current_time(),
                        response.status_code,
                        response.headers,
                        bytes(body),
                        wall=time.time(),
                        truncated=truncated,
                    )
            except httpx.HTTPError as exc:
                description, fatal = describe_transport_error(exc)
                return engine.receive_error(anyio.current_time(), description, fatal=fatal)
        return engine.expire(anyio.current_time())
