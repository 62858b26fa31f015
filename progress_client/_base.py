"""What ``ProgressClient`` and ``AsyncProgressClient`` share: building the configuration, the
httpx client, the engine of a wait, and the few decisions a driver makes itself. The drivers
keep only their send loops, as httpx's ``Client`` and ``AsyncClient`` do."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel

from ._actions import Request
from ._config import WaitConfig, config_from_options
from ._engine import PollEngine
from ._http import check_url, client_kwargs, import_httpx_sse, request_options
from ._models import Reader
from ._observer import ChangeHook, Observer, RequestHook
from ._policy import Policy
from ._sanitize import install_log_redaction
from ._shared import Registry, SharedWait
from ._state import EngineState

__all__ = ["ClientBase"]

H = TypeVar("H", httpx.Client, httpx.AsyncClient)


class ClientBase(Generic[H]):
    """The options, the httpx client and the running waits of a client."""

    def __init__(
        self,
        http: Any,
        *,
        policy: Policy | None,
        baseline: float,
        headers: Mapping[str, str] | None,
        auth: httpx.Auth | tuple[str, str] | None,
        client: H | None,
        spec: Reader | None,
        status_field: str | None,
        success: Iterable[str] | None,
        failure: Iterable[str] | None,
        change_on: Iterable[str] | str | None,
        model: type[BaseModel] | None,
        max_consecutive_errors: int,
        hint_cap: float,
        max_body: int,
        request_timeout: float,
        conditional: bool,
        long_poll: float | bool | None,
        verify: Any,
        max_redirects: int,
        max_concurrency: int,
        sse_max_failures: int,
        on_request: RequestHook | None,
        on_change: ChangeHook | None,
    ) -> None:
        self._config: WaitConfig = config_from_options(
            policy=policy, spec=spec, status_field=status_field, success=success,
            failure=failure, change_on=change_on, model=model, long_poll=long_poll,
            baseline=baseline, max_consecutive_errors=max_consecutive_errors,
            hint_cap=hint_cap, max_body=max_body, request_timeout=request_timeout,
            conditional=conditional, sse_max_failures=sse_max_failures,
        )
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or (
            max_concurrency < 1
        ):
            raise ValueError("max_concurrency must be an integer >= 1")
        self._max_concurrency = max_concurrency
        self._observer = Observer(on_request, on_change)
        self._waits = Registry()
        # httpx logs each request URL at INFO: keep URL passwords and ?token= out of logs.
        install_log_redaction()
        self._owns_client = client is None
        if client is None:
            self._http: H = http(**client_kwargs(headers, auth, verify, max_redirects,
                                                 max_concurrency))
            self._headers: dict[str, str] = {}
            self._auth: Any = None
        else:
            # A user's own client: keep its pool and settings; add ours per request.
            self._http = client
            self._headers = dict(headers or {})
            self._auth = auth

    @property
    def config(self) -> WaitConfig:
        """The validated configuration every wait of this client runs with."""
        return self._config

    @property
    def policy(self) -> Policy:
        return self._config.policy

    def __repr__(self) -> str:
        return f"{type(self).__name__}(policy={self._config.policy.name})"

    # -- what both drivers do the same way ---------------------------------------------------

    def _targets(self, url: str, events_url: str | None) -> tuple[str, str | None]:
        """Checked URLs; a missing ``sse`` extra is a clear error before any request."""
        events = check_url(events_url) if events_url is not None else None
        if events is not None:
            import_httpx_sse()
        return check_url(url), events

    def _engine(self, url: str, events_url: str | None, resume: str | None) -> PollEngine:
        """A fresh engine, or one that continues a resume token's wait (``InvalidResumeToken``
        if the token is not one for this URL)."""
        state = EngineState.from_token(resume, url) if resume is not None else None
        return PollEngine(self._config, url=url, events_url=events_url, state=state)

    def _options(self, request: Request) -> dict[str, Any]:
        """The httpx keyword arguments of one of the engine's requests."""
        options = request_options(request.url, request.timeout, self._auth)
        options["headers"] = {**self._headers, **request.headers} if self._headers else (
            request.headers
        )
        if request.content is not None:
            options["content"] = request.content
        return options

    @staticmethod
    def _failed(
        shared: SharedWait,
        now: float,
        deadline: float | None,
        description: str,
        fatal: bool,
    ) -> None:
        """A request or stream got no (further) answer. Past the caller's deadline that is
        the deadline's doing, not the server's: the engine is told it was abandoned."""
        with shared.lock:
            if deadline is not None and now >= deadline:
                shared.engine.interrupt(now)
            else:
                shared.engine.receive_error(now, description, fatal=fatal)
