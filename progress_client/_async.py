"""AsyncProgressClient: the async driver (anyio: asyncio and trio). It carries out the engine's
actions with an ``httpx.AsyncClient`` on the event loop's clock: polls, or an event stream with
fallback to polls. Concurrent waits on one job share one loop (``_many.SharedWait``); requests
in flight are bounded by a FIFO ``CapacityLimiter`` so thousands of waits queue, never fail."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, aclosing
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import anyio
import httpx

from . import _many
from ._client import (
    ClientBase,
    JobOutcome,
    WaitResult,
    astrip_cross_origin_credentials,
    check_url,
    describe_transport_error,
    finish,
    framed_within,
    import_httpx_sse,
    log_fallback,
    logger,
)
from ._engine import Action, PollEngine, Send, Sleep, Stop, Update
from ._errors import ResponseTooLarge
from ._many import SharedWait, Subscriber
from ._sanitize import sanitize
from ._sse import EventStreamDecoder, Reconnect, is_event_stream

__all__ = ["AsyncProgressClient"]


@dataclass
class _Stream:
    """An open event stream of a shared wait: its response context and byte iterator."""

    stack: AsyncExitStack
    chunks: AsyncIterator[bytes]
    decoder: EventStreamDecoder
    delivered: bool = False


class AsyncProgressClient(ClientBase[httpx.AsyncClient]):
    """Wait on jobs over HTTP with adaptive polling or SSE, from asyncio or trio.

    Time comes from the running event loop (``anyio.current_time()``), so trio's ``MockClock``
    drives it virtually in tests; the ``clock=`` option is for the sync client only.
    One client can wait on thousands of jobs at once (``wait_many``, ``as_completed``):
    at most ``max_concurrency`` requests are in flight, the rest queue in FIFO order.
    """

    _accepts_clock = False

    def _make_http(self, kwargs: dict[str, Any]) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            **kwargs, event_hooks={"request": [astrip_cross_origin_credentials]}
        )

    def _init_driver(self) -> None:
        #: The waits running now, by (status URL, events URL): concurrent callers share one.
        self._shared: dict[tuple[str, str | None], SharedWait] = {}
        # Created on first use: it needs a running event loop.
        self._limiter: anyio.CapacityLimiter | None = None

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

    # -- public API --------------------------------------------------------------------------

    async def wait(
        self,
        url: str,
        *,
        timeout: float | None = None,
        events_url: str | None = None,
        resume: str | None = None,
    ) -> WaitResult:
        """Wait until the job at ``url`` ends. Returns a ``WaitResult``; raises ``JobFailed``,
        ``PollTimeout`` (with ``.resume_token``) or another ``PollError``. Cancellation
        stops it at once. ``events_url`` and ``resume`` work as in ``ProgressClient.wait``;
        a wait that joins one already running on the same job ignores ``resume``."""
        stop: Stop | None = None
        async with aclosing(self._run(url, timeout, events_url, resume)) as items:
            async for item in items:
                if isinstance(item, Stop):
                    stop = item
        assert stop is not None
        return finish(stop)

    async def watch(
        self,
        url: str,
        *,
        timeout: float | None = None,
        events_url: str | None = None,
        resume: str | None = None,
    ) -> AsyncIterator[Update]:
        """Yield an ``Update`` for every status seen; the last one is terminal. Raises like
        ``wait`` when the job fails or the wait cannot go on."""
        stop: Stop | None = None
        async with aclosing(self._run(url, timeout, events_url, resume)) as items:
            async for item in items:
                if isinstance(item, Stop):
                    stop = item
                else:
                    yield item
        assert stop is not None
        finish(stop)

    async def wait_many(
        self, urls: Iterable[str], *, timeout: float | None = None
    ) -> list[JobOutcome]:
        """Wait on every URL at once (each with its own ``timeout``); one ``JobOutcome`` per
        URL, in order, errors included (never raised)."""
        return await _many.wait_many(lambda u: self.wait(u, timeout=timeout), urls)

    def as_completed(
        self, urls: Iterable[str], *, timeout: float | None = None
    ) -> AbstractAsyncContextManager[AsyncIterator[JobOutcome]]:
        """``async with client.as_completed(urls) as done: async for outcome in done: ...``
        gives each job's ``JobOutcome`` as it finishes; leaving the block cancels the rest."""
        return _many.as_completed(lambda u: self.wait(u, timeout=timeout), urls)

    # -- one caller's loop over a shared wait ------------------------------------------------

    async def _run(
        self,
        url: str,
        timeout: float | None,
        events_url: str | None = None,
        resume: str | None = None,
    ) -> AsyncGenerator[Update | Stop, None]:
        url = check_url(url)
        events = check_url(events_url) if events_url is not None else None
        if events is not None:
            import_httpx_sse()  # a missing extra is a clear error before any request
        start = anyio.current_time()
        deadline = math.inf if timeout is None else start + timeout
        shared = self._join(url, events, resume)
        sub = shared.join()
        try:
            while True:
                while sub.queue:
                    item = sub.queue.popleft()
                    yield item
                    if isinstance(item, Stop):
                        return
                now = anyio.current_time()
                if now >= deadline:
                    # This caller's deadline: the shared engine goes on for the others.
                    yield shared.engine.timeout_stop(now)
                    return
                with anyio.move_on_after(deadline - now):
                    if shared.driver is sub:
                        await self._step(shared)
                    else:
                        await sub.wait()
        finally:
            await self._leave(shared, sub)

    def _join(self, url: str, events: str | None, resume: str | None) -> SharedWait:
        registry = self._shared
        key = (url, events)
        shared = registry.get(key)
        if shared is None or shared.stop is not None:
            engine = self._opts.engine(url, None, resume)
            reconnect = (
                Reconnect(max_failures=self._opts.sse_max_failures) if events is not None else None
            )
            shared = SharedWait(key, engine, reconnect)
            registry[key] = shared
        return shared

    async def _leave(self, shared: SharedWait, sub: Subscriber) -> None:
        was_driver = shared.driver is sub
        stream: _Stream | None = shared.stream if was_driver else None
        if stream is not None:
            # Detach before handing over, so the next driver reconnects instead of reading
            # a stream that is being closed.
            shared.stream = None
            shared.reconnect_at = -math.inf
        orphaned = shared.leave(sub)
        if (orphaned or shared.stop is not None) and self._shared.get(shared.key) is shared:
            del self._shared[shared.key]
        if stream is not None:
            await _close_stream(stream)

    # -- the driver's steps ------------------------------------------------------------------

    async def _step(self, shared: SharedWait) -> None:
        if shared.reconnect is not None:
            await self._stream_step(shared)
            return
        engine = shared.engine
        # A response can answer with the next Send at once (a zero delay): the engine then
        # counts it as in flight, so it is kept and carried out by the next step.
        action: Action
        if shared.pending is not None:
            action, shared.pending = shared.pending, None
        else:
            action = engine.next_action(anyio.current_time())
        if isinstance(action, Sleep):
            await anyio.sleep(max(0.0, action.until - anyio.current_time()))
            return
        if isinstance(action, Send):
            try:
                action = await self._send(engine, shared.url, action)
            except BaseException:
                shared.pending = None
                engine.abandon(anyio.current_time())
                raise
            update = engine.pop_update()
            if update is not None:
                self._observer.update(shared.url, update)
                shared.broadcast(update)
            if isinstance(action, Send):
                shared.pending = action
        if isinstance(action, Stop):
            shared.broadcast(action)

    async def _stream_step(self, shared: SharedWait) -> None:
        stream: _Stream | None = shared.stream
        if stream is None:
            wait = shared.reconnect_at - anyio.current_time()
            if wait > 0:
                await anyio.sleep(wait)
                return
            await self._open_stream(shared)
            return
        engine = shared.engine
        try:
            chunk = await stream.chunks.__anext__()
            events = stream.decoder.feed(chunk)
        except StopAsyncIteration:
            await self._dropped(shared, stream)
            return
        except httpx.HTTPError as exc:
            logger.debug("stream %s failed: %s", sanitize(shared.events_url),
                         describe_transport_error(exc)[0])
            await self._dropped(shared, stream)
            return
        except ResponseTooLarge as exc:
            await self._fall_back(shared, stream, exc.message)
            return
        for event in events:
            stream.delivered = True
            stop = engine.receive_event(
                anyio.current_time(), event.data, size=event.size,
                last_event_id=event.last_event_id,
            )
            update = engine.pop_update()
            if update is not None:
                self._observer.update(shared.url, update)
                shared.broadcast(update)
            if stop is not None:
                shared.stream = None
                await _close_stream(stream)
                shared.broadcast(stop)
                return
        assert shared.reconnect is not None
        shared.reconnect.server_retry(stream.decoder.retry_ms)

    async def _open_stream(self, shared: SharedWait) -> None:
        assert shared.events_url is not None
        sse = import_httpx_sse()
        engine = shared.engine
        began = anyio.current_time()
        headers = dict(self._request_headers)
        if engine.state.last_event_id:
            headers["Last-Event-ID"] = engine.state.last_event_id
        kwargs = self._request_kwargs(shared.events_url, None)
        engine.open_stream(began)
        stack = AsyncExitStack()
        try:
            source = await stack.enter_async_context(
                sse.aconnect_sse(self._http, "GET", shared.events_url, headers=headers, **kwargs)
            )
        except httpx.HTTPError as exc:
            await _shielded_close(stack)
            description, fatal = describe_transport_error(exc)
            now = anyio.current_time()
            self._observer.request(engine, "stream", shared.events_url, None, now - began, now,
                                   description)
            if fatal:
                await self._fall_back(shared, None, description)
            else:
                await self._dropped(shared, None)
            return
        except BaseException:
            await _shielded_close(stack)
            raise
        response: httpx.Response = source.response
        now = anyio.current_time()
        code = response.status_code
        self._observer.request(engine, "stream", shared.events_url, code, now - began, now)
        ctype = response.headers.get("content-type")
        if code != 200 or not is_event_stream(ctype):
            await _shielded_close(stack)
            await self._fall_back(shared, None, f"HTTP {code}, {ctype or 'no content type'}")
            return
        engine.set_mode("sse")
        shared.stream = _Stream(
            stack=stack,
            chunks=response.aiter_bytes(),
            decoder=EventStreamDecoder(
                max_event=self._opts.max_body, last_event_id=engine.state.last_event_id or ""
            ),
        )

    async def _dropped(self, shared: SharedWait, stream: _Stream | None) -> None:
        """The stream ended or could not connect: reconnect later, or fall back."""
        delivered = stream.delivered if stream is not None else False
        if stream is not None:
            shared.stream = None
            await _close_stream(stream)
        assert shared.reconnect is not None
        delay = shared.reconnect.dropped(delivered=delivered)
        if delay is None:
            await self._fall_back(
                shared, None, f"{shared.reconnect.max_failures} connections in a row failed"
            )
            return
        logger.debug("stream %s dropped; reconnecting in %.1fs", sanitize(shared.events_url),
                     delay)
        shared.reconnect_at = anyio.current_time() + delay

    async def _fall_back(self, shared: SharedWait, stream: _Stream | None, why: str) -> None:
        if stream is not None:
            shared.stream = None
            await _close_stream(stream)
        log_fallback(shared.events_url or "", why)
        shared.reconnect = None
        shared.engine.fall_back(anyio.current_time())

    async def _send(self, engine: PollEngine, url: str, send: Send) -> Action:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self._max_concurrency)
        limiter = self._limiter
        # FIFO: with thousands of waits, requests queue here in order, not in the pool.
        # acquire_nowait() refuses while anyone queues, so trying it first keeps that order
        # and, when a token is free, skips acquire()'s two checkpoints (one a full trip
        # round the event loop) on every poll.
        try:
            limiter.acquire_nowait()
        except anyio.WouldBlock:
            await limiter.acquire()
        try:
            began = anyio.current_time()
            action, code, error = await self._exchange(engine, url, send)
        finally:
            limiter.release()
        now = anyio.current_time()
        self._observer.request(engine, "poll", url, code, now - began, now, error)
        return action

    async def _exchange(
        self, engine: PollEngine, url: str, send: Send
    ) -> tuple[Action, int | None, str | None]:
        headers = {**self._request_headers, **send.headers}
        kwargs = self._request_kwargs(url, send.timeout)
        limit = self._opts.max_body
        # The deadline bounds the whole exchange, a slow trickle of a body included.
        with anyio.move_on_after(send.timeout if send.timeout is not None else float("inf")):
            try:
                async with self._http.stream("GET", url, headers=headers, **kwargs) as response:
                    body = bytearray()
                    truncated = False
                    if framed_within(response, limit):
                        body += await response.aread()  # one read, as httpx.get() does
                    else:
                        # Stop at the limit by cancelling, not by ``break``: a cancellation
                        # unwinds httpx's nested async generators from the inside, where a
                        # break leaves them to the garbage collector (a ResourceWarning on
                        # trio).
                        with anyio.CancelScope() as reading:
                            async for chunk in response.aiter_bytes():
                                if truncated:
                                    continue
                                body += chunk
                                if len(body) > limit:
                                    truncated = True
                                    del body[limit:]
                                    reading.cancel()
                    action = engine.receive_response(
                        anyio.current_time(),
                        response.status_code,
                        response.headers,
                        bytes(body),
                        wall=time.time(),
                        truncated=truncated,
                    )
                    return action, response.status_code, None
            except httpx.HTTPError as exc:
                description, fatal = describe_transport_error(exc)
                action = engine.receive_error(anyio.current_time(), description, fatal=fatal)
                return action, None, description
        return engine.expire(anyio.current_time()), None, "timed out"


async def _shielded_close(stack: AsyncExitStack) -> None:
    with anyio.CancelScope(shield=True):
        await stack.aclose()


async def _close_stream(stream: _Stream) -> None:
    """Close an open stream, its connection back to the pool, even mid-cancellation.

    The byte iterator is first run to its end under a cancelled scope: the cancellation unwinds
    httpx's nested async generators from the inside (an ``aclose()`` of the outer one would
    leave the inner ones to the garbage collector)."""
    with anyio.CancelScope(shield=True):
        with anyio.CancelScope() as drain:
            drain.cancel()
            try:
                while True:
                    await stream.chunks.__anext__()
            except (StopAsyncIteration, httpx.HTTPError):
                pass
        await stream.stack.aclose()
