"""What ProgressClient and AsyncProgressClient share: options, engine construction, results,
and the mapping of transport failures to engine inputs. The two drivers duplicate only their
thin send loops (as httpx's Client and AsyncClient do)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel

from ._clock import Clock, SystemClock
from ._engine import PollEngine, PollReport, Stop
from ._models import DEFAULT_FAILURE, DEFAULT_SUCCESS, JobStatus, StatusSpec
from ._policy import AdaptivePolicy, Policy
from ._sanitize import install_log_redaction, sanitize

__all__ = ["DEFAULT_MAX_BODY", "ClientBase", "WaitResult"]

#: The default response size limit: 1 MiB, read no further.
DEFAULT_MAX_BODY = 1 << 20
DEFAULT_REQUEST_TIMEOUT = 30.0
DEFAULT_MAX_REDIRECTS = 5
USER_AGENT = "progress-client/0.1"


@dataclass(frozen=True)
class WaitResult:
    """A finished wait: the job's final status and what the wait cost."""

    status: JobStatus
    document: BaseModel
    report: PollReport


class _Options:
    """Validated options of a client: one instance, shared by every wait it runs."""

    def __init__(
        self,
        *,
        policy: Policy | None,
        baseline: float,
        spec: StatusSpec | None,
        status_field: str,
        success: Iterable[str] | None,
        failure: Iterable[str] | None,
        change_on: Iterable[str] | str | None,
        model: type[BaseModel] | None,
        max_consecutive_errors: int,
        hint_cap: float,
        max_body: int,
        request_timeout: float,
        conditional: bool,
    ) -> None:
        if spec is None:
            spec = StatusSpec(
                status_field=status_field,
                success=frozenset(success) if success is not None else DEFAULT_SUCCESS,
                failure=frozenset(failure) if failure is not None else DEFAULT_FAILURE,
                change_on=(
                    (change_on,) if isinstance(change_on, str) else tuple(change_on)
                )
                if change_on
                else None,
                model=model,
            )
        if max_body < 1:
            raise ValueError("max_body must be >= 1 byte")
        if not (request_timeout > 0 and math.isfinite(request_timeout)):
            raise ValueError("request_timeout must be a finite number > 0")
        if not (baseline > 0 and math.isfinite(baseline)):
            raise ValueError("baseline must be a finite number > 0")
        self.policy: Policy = policy if policy is not None else AdaptivePolicy()
        self.baseline = baseline
        self.spec = spec
        self.max_consecutive_errors = max_consecutive_errors
        self.hint_cap = hint_cap
        self.max_body = max_body
        self.request_timeout = request_timeout
        self.conditional = conditional

    def engine(self, url: str, deadline: float | None) -> PollEngine:
        return PollEngine(
            self.policy,
            self.spec,
            deadline=deadline,
            baseline=self.baseline,
            max_consecutive_errors=self.max_consecutive_errors,
            hint_cap=self.hint_cap,
            conditional=self.conditional,
            url=url,
        )

    def request_timeout_for(self, left: float | None) -> httpx.Timeout:
        t = self.request_timeout if left is None else max(0.001, min(self.request_timeout, left))
        # pool=None: with many waits on one pool, a request queues for a connection rather
        # than failing; the engine's deadline still bounds the whole wait.
        return httpx.Timeout(t, pool=None)


H = TypeVar("H", httpx.Client, httpx.AsyncClient)


class ClientBase(Generic[H]):
    """Options and the httpx client; subclasses add the send loop."""

    def __init__(
        self,
        *,
        policy: Policy | None = None,
        baseline: float = 1.0,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        client: H | None = None,
        spec: StatusSpec | None = None,
        status_field: str = "status",
        success: Iterable[str] | None = None,
        failure: Iterable[str] | None = None,
        change_on: Iterable[str] | str | None = None,
        model: type[BaseModel] | None = None,
        max_consecutive_errors: int = 10,
        hint_cap: float = 300.0,
        max_body: int = DEFAULT_MAX_BODY,
        request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
        conditional: bool = True,
        verify: Any = True,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        clock: Clock | None = None,
    ) -> None:
        self._opts = _Options(
            policy=policy,
            baseline=baseline,
            spec=spec,
            status_field=status_field,
            success=success,
            failure=failure,
            change_on=change_on,
            model=model,
            max_consecutive_errors=max_consecutive_errors,
            hint_cap=hint_cap,
            max_body=max_body,
            request_timeout=request_timeout,
            conditional=conditional,
        )
        self._clock: Clock = clock if clock is not None else SystemClock()
        # httpx logs each request URL at INFO: keep URL passwords and ?token= out of logs.
        install_log_redaction()
        self._owns_client = client is None
        if client is None:
            self._http: H = self._make_http(client_kwargs(headers, auth, verify, max_redirects))
            self._request_headers: dict[str, str] = {}
            self._auth: Any = None
        else:
            # A user's own client: keep its pool and settings; add ours per request.
            self._http = client
            self._request_headers = dict(headers or {})
            self._auth = auth

    def _make_http(self, kwargs: dict[str, Any]) -> H:
        raise NotImplementedError

    @property
    def policy(self) -> Policy:
        return self._opts.policy

    def __repr__(self) -> str:
        return f"{type(self).__name__}(policy={self._opts.policy.name})"


def client_kwargs(
    headers: Mapping[str, str] | None, auth: Any, verify: Any, max_redirects: int
) -> dict[str, Any]:
    """Keyword arguments for an httpx client this package creates itself."""
    merged = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if headers:
        merged.update(headers)
    return {
        "headers": merged,
        "auth": auth,
        "verify": verify,
        "follow_redirects": True,
        "max_redirects": max_redirects,
        "timeout": httpx.Timeout(DEFAULT_REQUEST_TIMEOUT, pool=None),
    }


def describe_transport_error(exc: BaseException) -> tuple[str, bool]:
    """A sanitized description of a failed request and whether it is fatal (not retried)."""
    if isinstance(exc, httpx.TooManyRedirects):
        return "too many redirects (a redirect loop?)", True
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return f"invalid URL: {sanitize(exc)}", True
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})", False
    if isinstance(exc, httpx.ConnectError):
        return f"could not connect ({_short(exc)})", False
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the server broke the HTTP protocol ({_short(exc)})", False
    if isinstance(exc, httpx.DecodingError):
        return f"the response could not be decoded ({_short(exc)})", False
    if isinstance(exc, httpx.HTTPError):
        return f"network error ({type(exc).__name__}: {_short(exc)})", False
    if isinstance(exc, OSError):
        return f"network error ({type(exc).__name__})", False
    return f"unexpected error ({type(exc).__name__})", True


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return sanitize(text)[:200]


def finish(stop: Stop) -> WaitResult:
    """Turn the engine's final action into a result, or raise its error."""
    if stop.error is not None:
        raise stop.error
    assert stop.status is not None and stop.document is not None
    return WaitResult(status=stop.status, document=stop.document, report=stop.report)


def check_url(url: str) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ValueError("url must be a non-empty string")
    return url.strip()


