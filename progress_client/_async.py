"""AsyncProgressClient: the async driver (anyio: asyncio and trio). It carries out the engine's
actions with an ``httpx.AsyncClient`` on the event loop's clock; ``ProgressClient`` is its
twin, line for line.

Concurrent waits on one job share one loop (``_shared``). Requests in flight are bounded by a
FIFO limiter, so thousands of waits queue in order and never hit a pool timeout. A deadline
bounds every exchange through a cancel scope.

On asyncio the driver reads the loop's own clock (``loop.time()``, the clock anyio reads there)
and queues in an asyncio-native FIFO (``_fast.FifoLimiter``); with the ``fast`` extra, polls
go over aiohttp directly (``_fast.FastPolls``, ``transport=``)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, aclosing
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

import anyio
import httpx

from . import _deadlines, _fast, _many
from ._actions import ReadStream, Request, Sleep, Stop, Update
from ._async_fast import fast_polls, running_asyncio, send_fast, sleeping
from ._base import Call, ClientBase, ProfileArg
from ._bodies import aclose_stream, aread_body, aresult_of, asave, ashielded_close
from ._config import DEFAULT_MAX_BODY, DEFAULT_REQUEST_TIMEOUT
from ._errors import ResponseTooLarge
from ._http import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_REDIRECTS,
    astrip_cross_origin_credentials,
    describe_transport_error,
    import_httpx_sse,
)
from ._models import Reader
from ._observer import BeforeRequestHook, ChangeHook, RequestHook
from ._policy import Policy
from ._results import (
    JobOutcome,
    ResultNotWritten,
    WaitResult,
    error_of,
)
from ._shared import SharedWait, Subscriber

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ._budget import LimitsArg
    from .waitstore.aio import AsyncDurableWaits
    from .waitstore.aio import Handler as AsyncHandler
    from .waitstore.base import WaitStore
    from .webhooks.receiver import WebhookReceiver

__all__ = ["AsyncProgressClient"]


class AsyncProgressClient(ClientBase[httpx.AsyncClient]):
    """Wait on jobs over HTTP with adaptive polling, long-polling or SSE, from asyncio or trio.

    Time comes from the running event loop (``anyio.current_time()``), so trio's
    ``MockClock`` drives it virtually in tests; ``wall_clock`` (``time.time``) only reads
    HTTP-date hints. One client can wait on thousands of jobs at once (``wait_many``,
    ``as_completed``): at most ``max_concurrency`` requests are in flight, the rest queue in
    FIFO order.

    ``transport``: how polls travel on asyncio. ``"auto"`` (the default) sends them over
    aiohttp directly when the ``fast`` extra is installed, the client built its own HTTP client
    (no ``client=``), ``auth`` is ``None`` or a ``(user, password)`` tuple and no proxy is
    set in the environment; otherwise, and always on trio, over httpx. ``"httpx"`` never uses
    aiohttp; ``"aiohttp"`` insists (an ``ImportError`` without the extra). Starts, results,
    cancel requests and event streams always go over httpx. ``transport_for_polls`` says
    which was chosen.
    """

    def __init__(
        self,
        *,
        policy: Policy | None = None,
        baseline: float = 1.0,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        client: httpx.AsyncClient | None = None,
        spec: Reader | None = None,
        status_field: str | None = None,
        success: Iterable[str] | None = None,
        failure: Iterable[str] | None = None,
        change_on: Iterable[str] | str | None = None,
        model: type[BaseModel] | None = None,
        max_consecutive_errors: int = 10,
        hint_cap: float = 300.0,
        max_body: int = DEFAULT_MAX_BODY,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        conditional: bool = True,
        long_poll: float | bool | None = None,
        verify: Any = True,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        sse_max_failures: int = 3,
        allow_fast_polling: bool = False,
        event_types: Iterable[str] | str | None = None,
        on_request: RequestHook | None = None,
        on_change: ChangeHook | None = None,
        before_request: BeforeRequestHook | None = None,
        profile: ProfileArg | None = None,
        limits: LimitsArg = None,
        wall_clock: Callable[[], float] = time.time,
        transport: str = "auto",
    ) -> None:
        fast = fast_polls(transport, client, auth, headers, verify, max_redirects,
                           max_concurrency)
        super().__init__(
            _make_http, policy=policy, baseline=baseline, headers=headers, auth=auth,
            client=client, spec=spec, status_field=status_field, success=success,
            failure=failure, change_on=change_on, model=model,
            max_consecutive_errors=max_consecutive_errors, hint_cap=hint_cap,
            max_body=max_body, request_timeout=request_timeout, conditional=conditional,
            long_poll=long_poll, verify=verify, max_redirects=max_redirects,
            max_concurrency=max_concurrency, sse_max_failures=sse_max_failures,
            allow_fast_polling=allow_fast_polling,
            on_request=on_request, on_change=on_change, profile=profile,
            before_request=before_request,
            event_types=event_types,
        )
        self._wall = wall_clock
        self._limiter: anyio.CapacityLimiter | None = None
        self._fifo: _fast.FifoLimiter | None = None
        #: Request timeouts of the fast path: one timer for every poll in flight.
        self._deadlines = _deadlines.Deadlines()
        self._fast = fast
        #: The clock of the loop the last wait started on: ``loop.time`` on asyncio (what
        #: ``self._now()`` reads there, without finding the backend on every call).
        self._now: Callable[[], float] = anyio.current_time
        self._on_asyncio = False
        #: Rate budgets per origin (``limits=``); ``None``: no budget, nothing to pay.
        self._gate = None if limits is None else _gate().AsyncGate(
            limits, lambda: self._now(), lambda: self._wall())

    @property
    def transport_for_polls(self) -> str:
        """``"aiohttp"`` when polls on asyncio go over aiohttp directly, else ``"httpx"``."""
        return "httpx" if self._fast is None else "aiohttp"

    # -- lifecycle ---------------------------------------------------------------------------

    async def aclose(self) -> None:
        if self._fast is not None:
            await self._fast.aclose()
        if self._owns_client:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncProgressClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- public API --------------------------------------------------------------------------

    async def wait(
        self, url: str, *, timeout: float | None = None, events_url: str | None = None,
        resume: str | None = None, profile: ProfileArg | None = None,
        cancel_on_exit: bool = False,
    ) -> WaitResult:
        """Wait until the job at ``url`` ends; see ``ProgressClient.wait``."""
        call = self._wait_call(url, events_url, resume, profile, cancel_on_exit)
        return await self._complete(call, timeout)

    def watch(
        self, url: str, *, timeout: float | None = None, events_url: str | None = None,
        resume: str | None = None, profile: ProfileArg | None = None,
        cancel_on_exit: bool = False,
    ) -> AsyncIterator[Update]:
        """Yield an ``Update`` for every status seen; the last one is terminal. Raises like
        ``wait`` when the job fails or the wait cannot go on. (One async generator, the
        driver's own: an async generator cannot return its ``Stop`` as the sync twin's
        ``yield from`` does, so a watching caller's ends in ``finish`` itself.)"""
        call = self._wait_call(url, events_url, resume, profile, cancel_on_exit, watching=True)
        return cast("AsyncIterator[Update]", self._run(call, timeout))

    async def run(
        self, url: str, *, method: str = "POST", json: Any = None, data: Any = None,
        headers: Mapping[str, str] | None = None, profile: ProfileArg | None = None,
        status_url: str | None = None, timeout: float | None = None,
        output: str | os.PathLike[str] | None = None, cancel_on_exit: bool = False,
    ) -> WaitResult:
        """Start a job, wait on it, fetch its result; see ``ProgressClient.run``."""
        call = self._run_call(
            url, method=method, json=json, data=data, headers=headers, profile=profile,
            status_url=status_url, output=output, cancel_on_exit=cancel_on_exit,
        )
        return await self._complete(call, timeout)

    async def wait_many(
        self, urls: Iterable[str], *, timeout: float | None = None,
        profile: ProfileArg | None = None,
    ) -> list[JobOutcome]:
        """Wait on every URL at once (each with its own ``timeout``); one ``JobOutcome`` per
        URL, in order, errors included (never raised)."""
        wait = functools.partial(self.wait, timeout=timeout, profile=profile)
        return await _many.wait_many(wait, urls)

    def as_completed(
        self, urls: Iterable[str], *, timeout: float | None = None,
        profile: ProfileArg | None = None,
    ) -> AbstractAsyncContextManager[AsyncIterator[JobOutcome]]:
        """``async with client.as_completed(urls) as done: async for outcome in done: ...``
        gives each job's ``JobOutcome`` as it finishes; leaving the block cancels the rest."""
        wait = functools.partial(self.wait, timeout=timeout, profile=profile)
        return _many.as_completed(wait, urls)

    def durable(
        self, store: WaitStore, *, handler: AsyncHandler | None = None,
        checkpoint_every: float = 5.0, webhooks: WebhookReceiver | None = None,
    ) -> AsyncDurableWaits:
        """Waits of this client that survive a restart, kept in ``store`` (a
        ``waitstore.SQLiteWaitStore`` or ``RedisWaitStore``); see ``docs/durable-waits.md``.
        ``webhooks``: a ``webhooks.WebhookReceiver`` that wakes them (``docs/webhooks.md``)."""
        from .waitstore.aio import AsyncDurableWaits

        return AsyncDurableWaits(self, store, handler=handler, checkpoint_every=checkpoint_every,
                                 webhooks=webhooks)

    # -- one caller's loop over a shared wait ------------------------------------------------

    async def _complete(self, call: Call, timeout: float | None) -> WaitResult:
        stop: Stop | None = None
        async with aclosing(self._run(call, timeout)) as items:
            async for item in items:
                if isinstance(item, Stop):
                    stop = item
        assert stop is not None
        error = error_of(stop, call.status_url)
        if error is None:
            return self._finished(stop, call)
        # Raised from a frame that keeps no way back to it: a traceback keeps its frames'
        # locals, and an error reachable from them is a cycle only the collector frees
        # (thousands of waits may time out at once).
        del stop, item
        try:
            raise error
        finally:
            del error

    async def _run(
        self, call: Call, timeout: float | None
    ) -> AsyncGenerator[Update | Stop, None]:
        self._pick_clock()
        deadline = None if timeout is None else self._now() + timeout
        sub = _Waiter(deadline, call.watching, call.output)
        shared = self._waits.join(call.key, sub, call.make_engine, resume=call.resume)
        shared.trusted = call.trusted
        self._wait_started(call, sub, self._poll_transport())
        stop: Stop | None = None
        item: Update | Stop | None = None
        try:
            while stop is None:
                while sub.queue and stop is None:
                    item = sub.queue.popleft()
                    if isinstance(item, Stop):
                        stop = item
                    else:
                        yield item
                if stop is not None:
                    break
                if shared.driver is sub:
                    pause = await self._step(shared, sub)
                    if pause is not None and call.waker is not None:  # a push may wake it
                        if await call.waker.asleep(pause):
                            with shared.lock:
                                shared.engine.receive_wake(self._now())
                    elif pause is not None:  # slept here: nothing of the step lives across it
                        await (sleeping(pause) if self._on_asyncio else anyio.sleep(pause))
                        if deadline is not None and not sub.queue:
                            now = self._now()
                            if now >= deadline:
                                # Its deadline ended the sleep (thousands may end at once):
                                # its timeout straight from the engine, as the step would
                                # give it, with nothing to carry out or publish.
                                stop = shared.timeout(now, deadline)
                                break
                    continue
                if sub.queue or shared.driver is sub:
                    continue
                left = math.inf if deadline is None else deadline - self._now()
                if left <= 0:
                    stop = shared.timeout(self._now(), deadline)
                    break
                with anyio.move_on_after(left):
                    await sub.wait()
            if stop.outcome == "timeout" and call.cancel_on_exit and stop.error is not None:
                stop.error.cancelled_remote = await self._cancel_remote(shared, sub)
                stop.error.report = shared.engine.report()
        except BaseException as exc:
            if isinstance(exc, (KeyboardInterrupt, anyio.get_cancelled_exc_class())):
                # Ctrl-C or a cancellation: the token goes on from here, as the sync twin's.
                with contextlib.suppress(AttributeError):
                    exc.resume_token = shared.engine.resume_token(  # type: ignore[attr-defined]
                        self._now())
            if call.cancel_on_exit and not isinstance(exc, GeneratorExit):
                exc.cancelled_remote = await self._cancel_remote(  # type: ignore[attr-defined]
                    shared, sub
                )
            raise
        finally:
            call.status_url = shared.engine.url
            self._observer.wait_ended(sub, shared, stop)
            if shared.driver is sub and shared.connection is not None:
                await self._close_stream(shared)
            self._waits.leave(shared, sub)
        if call.watching:  # the job's error raised; a watch ends after its terminal update
            error = error_of(stop, call.status_url)
            if error is None:
                return
            del stop, item, sub, shared  # no cycle back to the error (``_complete``)
            try:
                raise error
            finally:
                del error
        yield stop

    async def _close_stream(self, shared: SharedWait) -> None:
        """The leaving driver's open event stream closed (the engine told it was cut)."""
        await aclose_stream(shared)
        with shared.lock:
            shared.engine.interrupt(self._now())

    async def _cancel_remote(self, shared: SharedWait, sub: Subscriber) -> bool | None:
        """Send the remote job's cancel request once (within 5 s), for the last caller,
        even while the caller is being cancelled."""
        with shared.lock:
            if shared.subscribers != [sub] or shared.connection is not None:
                return None
            if not shared.engine.cancel(self._now()):
                return None
            request = shared.engine.next_action(self._now())
        assert isinstance(request, Request)
        with anyio.CancelScope(shield=True):
            await self._send(shared, request, None)
        return shared.engine.cancelled_remote

    # -- the driver's steps ------------------------------------------------------------------

    async def _step(self, shared: SharedWait, sub: Subscriber) -> float | None:
        """Carry out the engine's next action and publish what came of it. A ``Sleep`` is
        handed back as its pause, for the caller to sleep: with thousands of waits, what lives
        across a sleep is what the garbage collector walks."""
        with shared.lock:
            action = shared.engine.next_action(self._now(), sub.deadline)
        if shared.connection is not None and not isinstance(action, ReadStream):
            await aclose_stream(shared)
        pause: float | None = None
        if isinstance(action, Sleep):  # the common action first
            pause = max(0.0, action.until - self._now())
        elif isinstance(action, Stop):
            shared.end(sub, action)
        elif isinstance(action, ReadStream):
            await self._read(shared, sub.deadline)
        elif self._gate is not None:
            await self._send_within_budget(shared, sub, action)
        else:
            await self._carry(shared, sub, action)
        with shared.lock:
            events = shared.engine.take_events()
        shared.publish(self._observer, events)
        return pause

    async def _send_within_budget(
        self, shared: SharedWait, sub: Subscriber, request: Request
    ) -> None:
        """Send ``request`` once its origin's rate budget has a slot; show the budget what came
        back. No slot before the deadline: nothing is sent (the engine takes it back)."""
        gate = self._gate
        assert gate is not None
        waited = await gate.acquire(request.url, sub.deadline)
        engine = shared.engine
        if waited is None:
            with shared.lock:
                engine.withdraw(self._now())
            return
        with shared.lock:
            engine.held(waited)
        try:
            await self._carry(shared, sub, request)
        finally:
            gate.observe(request.url, engine.answer)

    async def _carry(self, shared: SharedWait, sub: Subscriber, request: Request) -> None:
        """Send one of the engine's requests the way its purpose asks: a stream opened, a
        poll over the fast path when it serves, anything else over httpx."""
        if request.purpose == "stream":
            await self._open(shared, request, sub.deadline)
        elif request.purpose == "poll" and self._polls_fast():
            assert self._fast is not None
            await send_fast(self, self._fast, shared, request, sub.deadline)
        else:
            await self._send(shared, request, sub.deadline, getattr(sub, "output", None))

    def _poll_transport(self) -> str:
        """How this wait's polls travel: ``"aiohttp"`` (the fast path) or ``"httpx"``."""
        return "aiohttp" if self._fast is not None and self._on_asyncio else "httpx"

    def _polls_fast(self) -> bool:
        """Whether a poll goes over the aiohttp session (``send_fast``) rather than httpx."""
        fast = self._fast
        return (
            fast is not None and self._on_asyncio and fast.serves(asyncio.get_running_loop())
            and not _fast.holds_cookies(self._http)
        )

    async def _send(
        self, shared: SharedWait, request: Request, deadline: float | None,
        output: Path | None = None,
    ) -> None:
        engine = shared.engine
        limiter = self._acquire_limiter()
        # FIFO: with thousands of waits, requests queue here in order, not in the pool.
        # acquire_nowait() refuses while anyone queues, so trying it first keeps that order
        # and, when a token is free, skips acquire()'s checkpoints on every poll.
        try:
            limiter.acquire_nowait()
        except anyio.WouldBlock:
            if not await self._queue_for(limiter, shared, deadline):
                return
        request = self._observer.before(shared, request)
        began = self._now()
        code: int | None = None
        error: str | None = None
        fed = False
        try:
            with anyio.move_on_after(math.inf if request.timeout is None else request.timeout):
                try:
                    options = self._options(request, shared.trusted)
                    async with self._http.stream(
                        request.method, request.url, **options
                    ) as response:
                        code = response.status_code
                        body, truncated, result = b"", False, None
                        if request.purpose == "result" and 200 <= code < 300:
                            result = await (
                                asave(response, output) if output else aresult_of(response)
                            )
                        else:
                            body, truncated = await aread_body(response, self._config.max_body)
                        with shared.lock:
                            engine.receive_response(
                                self._now(), code, response.headers, body,
                                wall=self._wall(), truncated=truncated, result=result,
                            )
                        fed = True
                except (httpx.HTTPError, OSError) as exc:
                    error, fatal = describe_transport_error(exc)
                    self._failed(shared, self._now(), deadline, error, fatal)
                    fed = True
                except (ResponseTooLarge, ResultNotWritten) as exc:
                    error = exc.message  # fatal: fetching it again would not help
                    self._failed(shared, self._now(), deadline, error, True)
                    fed = True
            if not fed:  # the exchange's time ran out
                error = "timed out"
                self._failed(shared, self._now(), deadline, error, False)
        except BaseException:
            with shared.lock:
                engine.interrupt(self._now())
            raise
        finally:
            limiter.release()
        now = self._now()
        self._observer.request(engine, request, code, now - began, now, error)

    async def _open(self, shared: SharedWait, request: Request, deadline: float | None) -> None:
        engine = shared.engine
        request = self._observer.before(shared, request)
        began = self._now()
        code: int | None = None
        error: str | None = None
        stack = AsyncExitStack()
        try:
            with anyio.fail_after(math.inf if request.timeout is None else request.timeout):
                options = self._options(request, shared.trusted)
                source = await stack.enter_async_context(import_httpx_sse().aconnect_sse(
                    self._http, request.method, request.url, **options
                ))
            response: httpx.Response = source.response
            code = response.status_code
            shared.connection = (stack, response.aiter_bytes())
            with shared.lock:
                engine.receive_response(self._now(), code, response.headers)
        except (httpx.HTTPError, TimeoutError) as exc:
            await ashielded_close(stack)
            error, fatal = describe_transport_error(exc)
            self._failed(shared, self._now(), deadline, error, fatal)
        except BaseException:
            shared.connection = None
            await ashielded_close(stack)
            with shared.lock:
                engine.interrupt(self._now())
            raise
        now = self._now()
        self._observer.request(engine, request, code, now - began, now, error)

    async def _read(self, shared: SharedWait, deadline: float | None) -> None:
        engine = shared.engine
        _, chunks = shared.connection
        chunk: bytes | None = None
        with anyio.move_on_after(math.inf if deadline is None else deadline - self._now()):
            try:
                chunk = await chunks.__anext__()
            except StopAsyncIteration:
                with shared.lock:
                    engine.receive_end(self._now())
                return
            except httpx.HTTPError as exc:
                self._failed(shared, self._now(), deadline,
                             *describe_transport_error(exc))
                return
        if chunk is None:  # the caller's deadline passed mid-read
            self._failed(shared, self._now(), deadline, "timed out", False)
            return
        with shared.lock:
            engine.receive_data(self._now(), chunk)

    def _pick_clock(self) -> None:
        """Read the running loop's clock directly on asyncio, anyio's elsewhere."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None and running_asyncio():
            self._now, self._on_asyncio = loop.time, True
        else:
            self._now, self._on_asyncio = anyio.current_time, False

    def _fifo_limiter(self) -> _fast.FifoLimiter:
        if self._fifo is None:
            self._fifo = _fast.FifoLimiter(self._max_concurrency)
        return self._fifo

    def _acquire_limiter(self) -> Any:
        if self._on_asyncio:
            return self._fifo_limiter()
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self._max_concurrency)
        return self._limiter

    async def _queue_for(
        self, limiter: Any, shared: SharedWait, deadline: float | None
    ) -> bool:
        """Wait in the FIFO for a token, until the caller's deadline at the latest. A
        cancellation or the deadline there abandons the request (``False``: no token)."""
        left = math.inf if deadline is None else deadline - self._now()
        with anyio.move_on_after(left):
            try:
                await limiter.acquire()
            except BaseException:
                with shared.lock:
                    shared.engine.interrupt(self._now())
                raise
            return True
        with shared.lock:
            shared.engine.interrupt(self._now())
        return False


class _Waiter(Subscriber):
    """A subscriber woken through an ``anyio.Event`` (its caller's task waits on it)."""

    __slots__ = ("_ready", "output")

    def __init__(self, deadline: float | None, watching: bool, output: Path | None) -> None:
        super().__init__(deadline, watching)
        self._ready: anyio.Event | None = None
        self.output = output

    def wake(self) -> None:
        if self._ready is not None:
            self._ready.set()

    async def wait(self) -> None:
        self._ready = anyio.Event()
        try:
            await self._ready.wait()
        finally:
            self._ready = None


def _make_http(**kwargs: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        **kwargs, event_hooks={"request": [astrip_cross_origin_credentials]}
    )




def _gate() -> Any:
    """The rate budgets' module, loaded only by a client with ``limits=`` (start-up)."""
    from . import _gates

    return _gates
