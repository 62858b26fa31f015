"""ProgressClient: the synchronous driver. A thin loop that carries out the engine's actions
with an ``httpx.Client`` and a ``Clock``: polls, or an event stream with fallback to polls.

``wait_many`` runs waits on a thread pool of ``max_concurrency`` threads over the one
``httpx.Client`` (which is thread-safe); for thousands of jobs, use ``AsyncProgressClient``."""

from __future__ import annotations

import socket
import threading
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from types import TracebackType
from typing import Any

import httpx

from ._client import (
    ClientBase,
    JobOutcome,
    WaitResult,
    check_url,
    describe_transport_error,
    finish,
    framed_within,
    import_httpx_sse,
    log_fallback,
    logger,
    strip_cross_origin_credentials,
)
from ._clock import Clock
from ._engine import Action, PollEngine, Send, Sleep, Stop, Update
from ._errors import PollError, ResponseTooLarge
from ._sanitize import sanitize
from ._sse import EventStreamDecoder, Reconnect, is_event_stream

__all__ = ["ProgressClient"]


class ProgressClient(ClientBase[httpx.Client]):
    """Wait on jobs over HTTP with adaptive polling (blocking).

    >>> with ProgressClient() as client:                      # doctest: +SKIP
    ...     result = client.wait("https://api.example.com/jobs/42", timeout=600)
    ...     print(result.status.status, result.report.saved_requests)
    """

    # -- lifecycle ---------------------------------------------------------------------------

    def close(self) -> None:
        if self._owns_client:
            self._http.close()

    def _make_http(self, kwargs: dict[str, Any]) -> httpx.Client:
        return httpx.Client(**kwargs, event_hooks={"request": [strip_cross_origin_credentials]})

    def __enter__(self) -> ProgressClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- public API --------------------------------------------------------------------------

    def wait(
        self,
        url: str,
        *,
        timeout: float | None = None,
        events_url: str | None = None,
        resume: str | None = None,
    ) -> WaitResult:
        """Wait until the job at ``url`` ends. Returns a ``WaitResult``; raises ``JobFailed``,
        ``PollTimeout`` (with ``.resume_token``) or another ``PollError``.

        ``events_url``: an SSE endpoint to listen on instead of polling (polling ``url`` is
        the fallback). ``resume``: a token from ``PollTimeout.resume_token`` or
        ``Update.resume_token`` to continue that wait's schedule and counts."""
        gen = self._run(url, timeout, events_url, resume)
        while True:
            try:
                next(gen)
            except StopIteration as done:
                return finish(done.value)

    def watch(
        self,
        url: str,
        *,
        timeout: float | None = None,
        events_url: str | None = None,
        resume: str | None = None,
    ) -> Iterator[Update]:
        """Yield an ``Update`` for every status seen; the last one is terminal. Raises like
        ``wait`` when the job fails or the wait cannot go on."""
        stop = yield from self._run(url, timeout, events_url, resume)
        finish(stop)

    def wait_many(
        self, urls: Iterable[str], *, timeout: float | None = None
    ) -> list[JobOutcome]:
        """Wait on every URL (each with its own ``timeout``) on up to ``max_concurrency``
        threads; one ``JobOutcome`` per URL, in order, errors included (never raised)."""
        todo = list(urls)
        if not todo:
            return []

        def one(u: str) -> JobOutcome:
            try:
                return JobOutcome(url=u, result=self.wait(u, timeout=timeout))
            except PollError as exc:
                return JobOutcome(url=u, error=exc)

        workers = min(self._max_concurrency, len(todo))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="progress") as pool:
            return list(pool.map(one, todo))

    # -- the loop ----------------------------------------------------------------------------

    def _run(
        self,
        url: str,
        timeout: float | None,
        events_url: str | None = None,
        resume: str | None = None,
    ) -> Generator[Update, None, Stop]:
        url = check_url(url)
        clock: Clock = self._clock
        start = clock.now()
        engine = self._opts.engine(url, None if timeout is None else start + timeout, resume)
        if events_url is not None:
            pushed = yield from self._stream(engine, url, check_url(events_url))
            if pushed is not None:
                return pushed
        action: Action = engine.next_action(clock.now())
        while True:
            if isinstance(action, Stop):
                return action
            if isinstance(action, Sleep):
                clock.sleep(action.until - clock.now())
                action = engine.next_action(clock.now())
                continue
            action = self._send(engine, url, action)
            update = engine.pop_update()
            if update is not None:
                self._observer.update(url, update)
                yield update

    def _stream(
        self, engine: PollEngine, url: str, events_url: str
    ) -> Generator[Update, None, Stop | None]:
        """Listen on the event stream until the job ends (a ``Stop``) or the stream cannot
        serve (``None``: the caller polls, every counter carried on)."""
        sse = import_httpx_sse()
        clock = self._clock
        deadline = engine.deadline
        rec = Reconnect(max_failures=self._opts.sse_max_failures)
        while True:
            now = clock.now()
            if deadline is not None and now >= deadline:
                return engine.expire(now)
            headers = dict(self._request_headers)
            if engine.state.last_event_id:
                headers["Last-Event-ID"] = engine.state.last_event_id
            kwargs = self._request_kwargs(events_url, None if deadline is None else deadline - now)
            engine.open_stream(now)
            delivered = False
            try:
                with sse.connect_sse(self._http, "GET", events_url, headers=headers,
                                     **kwargs) as source, _deadline_watchdog(
                    source.response, deadline, clock
                ):
                    response: httpx.Response = source.response
                    code = response.status_code
                    self._observer.request(engine, "stream", events_url, code,
                                           clock.now() - now, clock.now())
                    ctype = response.headers.get("content-type")
                    if code != 200 or not is_event_stream(ctype):
                        log_fallback(events_url, f"HTTP {code}, {ctype or 'no content type'}")
                        engine.fall_back(clock.now())
                        return None
                    engine.set_mode("sse")
                    decoder = EventStreamDecoder(
                        max_event=self._opts.max_body,
                        last_event_id=engine.state.last_event_id or "",
                    )
                    for chunk in response.iter_bytes():
                        for event in decoder.feed(chunk):
                            delivered = True
                            stop = engine.receive_event(
                                clock.now(), event.data, size=event.size,
                                last_event_id=event.last_event_id,
                            )
                            update = engine.pop_update()
                            if update is not None:
                                self._observer.update(url, update)
                                yield update
                            if stop is not None:
                                return stop
                        rec.server_retry(decoder.retry_ms)
                        if deadline is not None and clock.now() >= deadline:
                            return engine.expire(clock.now())
            except ResponseTooLarge as exc:
                log_fallback(events_url, exc.message)
                engine.fall_back(clock.now())
                return None
            except httpx.HTTPError as exc:
                description, fatal = describe_transport_error(exc)
                if deadline is not None and clock.now() >= deadline:
                    return engine.expire(clock.now())
                if not delivered:
                    self._observer.request(engine, "stream", events_url, None,
                                           clock.now() - now, clock.now(), description)
                if fatal:
                    log_fallback(events_url, description)
                    engine.fall_back(clock.now())
                    return None
            delay = rec.dropped(delivered=delivered)
            if delay is None:
                log_fallback(events_url, f"{rec.max_failures} connections in a row failed")
                engine.fall_back(clock.now())
                return None
            logger.debug("stream %s dropped; reconnecting in %.1fs", sanitize(events_url), delay)
            now = clock.now()
            if deadline is not None:
                delay = min(delay, max(0.0, deadline - now))
            clock.sleep(delay)

    def _send(self, engine: PollEngine, url: str, send: Send) -> Action:
        began = self._clock.now()
        action, code, error = self._exchange(engine, url, send)
        now = self._clock.now()
        self._observer.request(engine, "poll", url, code, now - began, now, error)
        return action

    def _exchange(
        self, engine: PollEngine, url: str, send: Send
    ) -> tuple[Action, int | None, str | None]:
        clock = self._clock
        headers = {**self._request_headers, **send.headers}
        kwargs = self._request_kwargs(url, send.timeout)
        limit = self._opts.max_body
        deadline = None if send.timeout is None else clock.now() + send.timeout
        try:
            with self._http.stream(
                "GET", url, headers=headers, **kwargs
            ) as response, _deadline_watchdog(response, deadline, clock):
                body = bytearray()
                truncated = False
                if framed_within(response, limit):
                    body += response.read()  # one read, as httpx.get() does
                else:
                    for chunk in response.iter_bytes():
                        body += chunk
                        if len(body) > limit:
                            truncated = True
                            del body[limit:]
                            break
                        if deadline is not None and clock.now() >= deadline:
                            return engine.expire(clock.now()), response.status_code, None
                action = engine.receive_response(
                    clock.now(),
                    response.status_code,
                    response.headers,
                    bytes(body),
                    wall=clock.wall(),
                    truncated=truncated,
                )
                return action, response.status_code, None
        except httpx.HTTPError as exc:
            description, fatal = describe_transport_error(exc)
            if deadline is not None and clock.now() >= deadline:
                return engine.expire(clock.now()), None, description
            return engine.receive_error(clock.now(), description, fatal=fatal), None, description


@contextmanager
def _deadline_watchdog(
    response: httpx.Response, deadline: float | None, clock: Clock
) -> Iterator[None]:
    """Shut the response's socket down when the deadline passes. httpx's read timeout restarts
    with every chunk, so a body that trickles in, or stalls after late headers, would overrun
    the deadline by up to a whole read timeout; a shut-down socket ends the blocked read at
    once (the read fails, and the engine is told the wait expired)."""
    stream = response.extensions.get("network_stream")
    get_extra_info = getattr(stream, "get_extra_info", None)
    sock = get_extra_info("socket") if deadline is not None and get_extra_info else None
    if deadline is None or not isinstance(sock, socket.socket):
        yield
        return
    timer = threading.Timer(max(0.0, deadline - clock.now()), _shutdown, (sock,))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _shutdown(sock: socket.socket) -> None:
    with suppress(OSError):  # already closed: the exchange ended as the timer fired
        sock.shutdown(socket.SHUT_RDWR)
