"""ProgressClient: the blocking driver. It carries out the engine's actions with an
``httpx.Client`` and a ``Clock``; ``AsyncProgressClient`` is its twin, line for line.

Concurrent waits on one job share one loop (``_shared``), across threads: ``wait_many`` runs
waits on up to ``max_concurrency`` threads over the one thread-safe ``httpx.Client``.
A deadline bounds every exchange, a trickling body or stream included, through one watchdog
thread per client (``_watchdog``), not a thread per request."""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from ._actions import ReadStream, Request, Sleep, Stop, Update
from ._base import Call, ClientBase, ProfileArg
from ._bodies import close_stream, read_body, result_of, save
from ._clock import Clock, SystemClock
from ._config import DEFAULT_MAX_BODY, DEFAULT_REQUEST_TIMEOUT
from ._errors import PollError, ResponseTooLarge
from ._http import (
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_REDIRECTS,
    describe_transport_error,
    import_httpx_sse,
    strip_cross_origin_credentials,
)
from ._models import Reader
from ._observer import BeforeRequestHook, ChangeHook, RequestHook
from ._policy import Policy
from ._results import (
    MAX_RESULT,
    JobOutcome,
    ResultNotWritten,
    WaitResult,
    error_of,
    outcome_error,
)
from ._shared import SharedWait, Subscriber
from ._watchdog import Watchdog

if TYPE_CHECKING:
    from pydantic import BaseModel

    from ._budget import LimitsArg
    from .waitstore.base import WaitStore
    from .waitstore.sync import DurableWaits, Handler
    from .webhooks.receiver import WebhookReceiver

__all__ = ["ProgressClient"]


class ProgressClient(ClientBase[httpx.Client]):
    """Wait on jobs over HTTP with adaptive polling, long-polling or SSE (blocking).

    >>> with ProgressClient() as client:                      # doctest: +SKIP
    ...     result = client.wait("https://api.example.com/jobs/42", timeout=600)
    ...     print(result.status.status, result.report.saved_requests)
    """

    def __init__(
        self,
        *,
        policy: Policy | None = None,
        baseline: float = 1.0,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        client: httpx.Client | None = None,
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
        clock: Clock | None = None,
    ) -> None:
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
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._watchdog = Watchdog(self._clock.now)
        #: Rate budgets per origin (``limits=``); ``None``: no budget, nothing to pay.
        clock = self._clock
        self._gate = None if limits is None else _gate().SyncGate(
            limits, clock.now, clock.wall, clock.sleep)

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        self._watchdog.close()
        if self._owns_client:
            self._http.close()

    def __enter__(self) -> ProgressClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- public API --------------------------------------------------------------------------

    def wait(
        self, url: str, *, timeout: float | None = None, events_url: str | None = None,
        resume: str | None = None, profile: ProfileArg | None = None,
        cancel_on_exit: bool = False,
    ) -> WaitResult:
        """Wait until the job at ``url`` ends. Returns a ``WaitResult``; raises ``JobFailed``,
        ``PollTimeout`` (with ``.resume_token``) or another ``PollError``.

        ``events_url``: an SSE endpoint to listen on instead of polling (polling ``url`` is
        the fallback). ``resume``: a token from ``PollTimeout.resume_token`` or
        ``Update.resume_token`` to continue that wait's schedule and counts (an error if a
        wait on the same job is already running in this client). ``profile``: how this job
        API is read (a built-in's name, a file, a ``Profile``). ``cancel_on_exit``: when the
        wait ends by its timeout or an interruption, send the profile's cancel request once
        (``PollError.cancelled_remote`` says whether it was accepted)."""
        call = self._wait_call(url, events_url, resume, profile, cancel_on_exit)
        return self._complete(call, timeout)

    def watch(
        self, url: str, *, timeout: float | None = None, events_url: str | None = None,
        resume: str | None = None, profile: ProfileArg | None = None,
        cancel_on_exit: bool = False,
    ) -> Iterator[Update]:
        """Yield an ``Update`` for every status seen; the last one is terminal. Raises like
        ``wait`` when the job fails or the wait cannot go on."""
        call = self._wait_call(url, events_url, resume, profile, cancel_on_exit, watching=True)
        stop = yield from self._run(call, timeout)
        # The job's error raised; a watch ends after its terminal update.
        error = error_of(stop, call.status_url)
        if error is not None:
            del stop  # no cycle back to the error (``_complete``)
            try:
                raise error
            finally:
                del error

    def run(
        self, url: str, *, method: str = "POST", json: Any = None, data: Any = None,
        headers: Mapping[str, str] | None = None, profile: ProfileArg | None = None,
        status_url: str | None = None, timeout: float | None = None,
        output: str | os.PathLike[str] | None = None, cancel_on_exit: bool = False,
    ) -> WaitResult:
        """Start a job (``method`` ``url`` with ``json=`` or ``data=``, sent once), find its
        status URL in the answer (``Operation-Location``, ``Azure-AsyncOperation``,
        ``Location``, a URL in the body, or an id put into the ``status_url`` template such as
        ``https://api.example.com/v1/jobs/{id}``), wait on it, and fetch its result where the
        profile says: ``WaitResult.result`` (parsed JSON or bytes, or the path of ``output``,
        which a large result is streamed to)."""
        call = self._run_call(
            url, method=method, json=json, data=data, headers=headers, profile=profile,
            status_url=status_url, output=output, cancel_on_exit=cancel_on_exit,
        )
        return self._complete(call, timeout)

    def wait_many(
        self, urls: Iterable[str], *, timeout: float | None = None,
        profile: ProfileArg | None = None,
    ) -> list[JobOutcome]:
        """Wait on every URL (each with its own ``timeout``) on up to ``max_concurrency``
        threads; one ``JobOutcome`` per URL, in order, errors included (never raised)."""
        todo = list(urls)
        if not todo:
            return []
        wait = functools.partial(self.wait, timeout=timeout, profile=profile)
        from concurrent.futures import ThreadPoolExecutor  # start-up: only wait_many needs it

        workers = min(self._max_concurrency, len(todo))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="progress") as pool:
            return list(pool.map(functools.partial(_outcome, wait), todo))

    def durable(
        self, store: WaitStore, *, handler: Handler | None = None,
        checkpoint_every: float = 5.0, webhooks: WebhookReceiver | None = None,
    ) -> DurableWaits:
        """Waits of this client that survive a restart, kept in ``store`` (a
        ``waitstore.SQLiteWaitStore`` or ``RedisWaitStore``); see ``docs/durable-waits.md``.
        ``webhooks``: a ``webhooks.WebhookReceiver`` that wakes them (``docs/webhooks.md``)."""
        from .waitstore.sync import DurableWaits

        return DurableWaits(self, store, handler=handler, checkpoint_every=checkpoint_every,
                            webhooks=webhooks)

    # -- one caller's loop over a shared wait ------------------------------------------------

    def _complete(self, call: Call, timeout: float | None) -> WaitResult:
        gen = self._run(call, timeout)
        while True:
            try:
                next(gen)
            except StopIteration as done:
                stop: Stop = done.value
                break
        error = error_of(stop, call.status_url)
        if error is None:
            return self._finished(stop, call)
        # Raised from a frame that keeps no way back to it: a traceback keeps its frames'
        # locals, and an error reachable from them is a cycle only the collector frees.
        del stop
        try:
            raise error
        finally:
            del error

    def _run(self, call: Call, timeout: float | None) -> Generator[Update, None, Stop]:
        clock = self._clock
        deadline = None if timeout is None else clock.now() + timeout
        sub = _Waiter(deadline, call.watching, call.output)
        shared = self._waits.join(call.key, sub, call.make_engine, resume=call.resume)
        shared.trusted = call.trusted
        self._wait_started(call, sub, "httpx")
        stop: Stop | None = None
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
                    pause = self._step(shared, sub)
                    if pause is not None and call.waker is not None:  # a push may wake it
                        if call.waker.sleep(pause):
                            with shared.lock:
                                shared.engine.receive_wake(clock.now())
                    elif pause is not None:  # slept here, as the async twin does
                        clock.sleep(pause)
                    continue
                sub.ready.clear()
                if sub.queue or shared.driver is sub:
                    continue
                left = None if deadline is None else deadline - clock.now()
                if left is not None and left <= 0:
                    stop = shared.timeout(clock.now(), deadline)
                    break
                sub.ready.wait(left)
            if stop.outcome == "timeout" and call.cancel_on_exit and stop.error is not None:
                stop.error.cancelled_remote = self._cancel_remote(shared, sub)
                stop.error.report = shared.engine.report()
        except (Exception, KeyboardInterrupt) as exc:
            if isinstance(exc, KeyboardInterrupt):  # Ctrl-C: say how to go on (the CLI does)
                exc.resume_token = shared.engine.resume_token(  # type: ignore[attr-defined]
                    clock.now())
            if call.cancel_on_exit:
                exc.cancelled_remote = self._cancel_remote(shared, sub)  # type: ignore[union-attr]
            raise
        finally:
            call.status_url = shared.engine.url
            self._observer.wait_ended(sub, shared, stop)
            self._leave(shared, sub)
        return stop

    def _leave(self, shared: SharedWait, sub: Subscriber) -> None:
        if shared.driver is sub and shared.connection is not None:
            close_stream(shared)
            with shared.lock:
                shared.engine.interrupt(self._clock.now())
        self._waits.leave(shared, sub)

    def _cancel_remote(self, shared: SharedWait, sub: Subscriber) -> bool | None:
        """Send the remote job's cancel request once (within 5 s), for the last caller."""
        clock = self._clock
        with shared.lock:
            if shared.subscribers != [sub] or shared.connection is not None:
                return None
            if not shared.engine.cancel(clock.now()):
                return None
            request = shared.engine.next_action(clock.now())
        assert isinstance(request, Request)
        self._send(shared, request, None)
        return shared.engine.cancelled_remote

    # -- the driver's steps ------------------------------------------------------------------

    def _step(self, shared: SharedWait, sub: Subscriber) -> float | None:
        """Carry out the engine's next action and publish what came of it. A ``Sleep`` is
        handed back as its pause, for the caller to sleep."""
        clock = self._clock
        with shared.lock:
            action = shared.engine.next_action(clock.now(), sub.deadline)
        if shared.connection is not None and not isinstance(action, ReadStream):
            close_stream(shared)
        pause: float | None = None
        if isinstance(action, Sleep):  # the common action first
            pause = max(0.0, action.until - clock.now())
        elif isinstance(action, Stop):
            shared.end(sub, action)
        elif isinstance(action, ReadStream):
            self._read(shared, sub.deadline)
        elif self._gate is not None:
            self._send_within_budget(shared, sub, action)
        else:
            self._carry(shared, sub, action)
        with shared.lock:
            events = shared.engine.take_events()
        shared.publish(self._observer, events)
        return pause

    def _send_within_budget(self, shared: SharedWait, sub: Subscriber, request: Request) -> None:
        """Send ``request`` once its origin's rate budget has a slot; show the budget what came
        back. No slot before the deadline: nothing is sent (the engine takes it back)."""
        gate = self._gate
        assert gate is not None
        waited = gate.acquire(request.url, sub.deadline)
        engine = shared.engine
        if waited is None:
            with shared.lock:
                engine.withdraw(self._clock.now())
            return
        with shared.lock:
            engine.held(waited)
        try:
            self._carry(shared, sub, request)
        finally:
            gate.observe(request.url, engine.answer)

    def _carry(self, shared: SharedWait, sub: Subscriber, request: Request) -> None:
        """Send one of the engine's requests the way its purpose asks: a stream opened,
        anything else sent."""
        if request.purpose == "stream":
            self._open(shared, request, sub.deadline)
        else:
            self._send(shared, request, sub.deadline, getattr(sub, "output", None))

    def _send(
        self, shared: SharedWait, request: Request, deadline: float | None,
        output: Path | None = None,
    ) -> None:
        engine, clock = shared.engine, self._clock
        request = self._observer.before(shared, request)
        began = clock.now()
        code: int | None = None
        error: str | None = None
        bound = None if request.timeout is None else began + request.timeout
        try:
            with self._http.stream(
                request.method, request.url, **self._options(request, shared.trusted),
            ) as response, ExitStack() as guarded:
                guarded.enter_context(self._watchdog.guard(response, bound))
                code = response.status_code
                body, truncated, result, carries = b"", False, None, None
                if request.purpose == "poll" and engine.job is not None:
                    with shared.lock:
                        carries = engine.result_answer(code, response.headers)
                if carries is not None:
                    # The poll's answer carries the result (a video): read as a result is,
                    # bounded by the caller's deadline, not by the poll's time.
                    guarded.close()
                    guarded.enter_context(self._watchdog.guard(response, deadline))
                streamed = carries == "body"
                if streamed or (request.purpose == "result" and 200 <= code < 300):
                    result = save(response, output) if output else result_of(response)
                else:
                    limit = MAX_RESULT if carries == "document" else self._config.max_body
                    body, truncated = read_body(response, limit)
                with shared.lock:
                    engine.receive_response(
                        clock.now(), code, response.headers, body, wall=clock.wall(),
                        truncated=truncated, result=result, streamed=streamed,
                    )
        except (httpx.HTTPError, OSError) as exc:
            error, fatal = describe_transport_error(exc)
            if bound is not None and clock.now() >= bound:
                error, fatal = "timed out", False  # the watchdog ended it: the time ran out
            self._failed(shared, clock.now(), deadline, error, fatal)
        except (ResponseTooLarge, ResultNotWritten) as exc:
            error = exc.message  # fatal: fetching it again would not help
            self._failed(shared, clock.now(), deadline, error, True)
        except BaseException:
            with shared.lock:
                engine.interrupt(clock.now())
            raise
        now = clock.now()
        self._observer.request(engine, request, code, now - began, now, error)

    def _open(self, shared: SharedWait, request: Request, deadline: float | None) -> None:
        engine, clock = shared.engine, self._clock
        request = self._observer.before(shared, request)
        began = clock.now()
        code: int | None = None
        error: str | None = None
        stack = ExitStack()
        try:
            options = self._options(request, shared.trusted)
            source = stack.enter_context(import_httpx_sse().connect_sse(
                self._http, request.method, request.url, **options
            ))
            response: httpx.Response = source.response
            stack.enter_context(self._watchdog.guard(response, deadline))
            code = response.status_code
            shared.connection = (stack, response.iter_bytes())
            with shared.lock:
                engine.receive_response(clock.now(), code, response.headers)
        except httpx.HTTPError as exc:
            stack.close()
            error, fatal = describe_transport_error(exc)
            self._failed(shared, clock.now(), deadline, error, fatal)
        except BaseException:
            stack.close()
            shared.connection = None
            with shared.lock:
                engine.interrupt(clock.now())
            raise
        now = clock.now()
        self._observer.request(engine, request, code, now - began, now, error)

    def _read(self, shared: SharedWait, deadline: float | None) -> None:
        engine, clock = shared.engine, self._clock
        _, chunks = shared.connection
        try:
            chunk = next(chunks)
        except StopIteration:
            with shared.lock:
                engine.receive_end(clock.now())
            return
        except httpx.HTTPError as exc:
            self._failed(shared, clock.now(), deadline, *describe_transport_error(exc))
            return
        with shared.lock:
            engine.receive_data(clock.now(), chunk)


class _Waiter(Subscriber):
    """A subscriber woken through a ``threading.Event`` (its caller's thread waits on it)."""

    __slots__ = ("output", "ready")

    def __init__(self, deadline: float | None, watching: bool, output: Path | None) -> None:
        super().__init__(deadline, watching)
        self.ready = threading.Event()
        self.output = output

    def wake(self) -> None:
        self.ready.set()


def _make_http(**kwargs: Any) -> httpx.Client:
    return httpx.Client(**kwargs, event_hooks={"request": [strip_cross_origin_credentials]})


def _outcome(wait: Callable[[str], WaitResult], url: str) -> JobOutcome:
    try:
        return JobOutcome(url=url, result=wait(url))
    except (PollError, ValueError) as exc:
        return JobOutcome(url=url, error=outcome_error(exc))


def _gate() -> Any:
    """The rate budgets' module, loaded only by a client with ``limits=`` (start-up)."""
    from . import _gates

    return _gates
