"""ProgressClient: the synchronous driver. A thin loop that carries out the engine's actions
with an ``httpx.Client`` and a ``Clock``."""

from __future__ import annotations

from collections.abc import Generator, Iterator
from types import TracebackType
from typing import Any

import httpx

from ._client import (
    ClientBase,
    WaitResult,
    check_url,
    describe_transport_error,
    finish,
)
from ._clock import Clock
from ._engine import Action, PollEngine, Send, Sleep, Stop, Update

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
        return httpx.Client(**kwargs)

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

    def wait(self, url: str, *, timeout: float | None = None) -> WaitResult:
        """Poll ``url`` until the job ends. Returns a ``WaitResult``; raises ``JobFailed``,
        ``PollTimeout`` or another ``PollError``."""
        gen = self._run(url, timeout)
        while True:
            try:
                next(gen)
            except StopIteration as done:
                return finish(done.value)

    def watch(self, url: str, *, timeout: float | None = None) -> Iterator[Update]:
        """Yield an ``Update`` for every status seen; the last one is terminal. Raises like
        ``wait`` when the job fails or the wait cannot go on."""
        stop = yield from self._run(url, timeout)
        finish(stop)

    # -- the loop ----------------------------------------------------------------------------

    def _run(self, url: str, timeout: float | None) -> Generator[Update, None, Stop]:
        url = check_url(url)
        clock: Clock = self._clock
        start = clock.now()
        engine = self._opts.engine(url, None if timeout is None else start + timeout)
        action: Action = engine.next_action(start)
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
                yield update

    def _send(self, engine: PollEngine, url: str, send: Send) -> Action:
        clock = self._clock
        headers = {**self._request_headers, **send.headers}
        kwargs: dict[str, Any] = {"timeout": self._opts.request_timeout_for(send.timeout)}
        if self._auth is not None:
            kwargs["auth"] = self._auth
        limit = self._opts.max_body
        deadline = None if send.timeout is None else clock.now() + send.timeout
        try:
            with self._http.stream("GET", url, headers=headers, **kwargs) as response:
                body = bytearray()
                truncated = False
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > limit:
                        truncated = True
                        del body[limit:]
                        break
                    if deadline is not None and clock.now() >= deadline:
                        return engine.expire(clock.now())
                return engine.receive_response(
                    clock.now(),
                    response.status_code,
                    response.headers,
                    bytes(body),
                    wall=clock.wall(),
                    truncated=truncated,
                )
        except httpx.HTTPError as exc:
            if deadline is not None and clock.now() >= deadline:
                return engine.expire(clock.now())
            description, fatal = describe_transport_error(exc)
            return engine.receive_error(clock.now(), description, fatal=fatal)
