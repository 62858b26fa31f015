"""What ProgressClient and AsyncProgressClient share: options, engine construction, results,
and the mapping of transport failures to engine inputs. The two drivers duplicate only their
thin send loops (as httpx's Client and AsyncClient do)."""

from __future__ import annotations

import functools
import logging
import math
import re
import ssl
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

import httpx
from pydantic import BaseModel

from ._clock import Clock, SystemClock
from ._engine import EngineState, PollEngine, PollReport, Stop, Update
from ._errors import PollError
from ._models import DEFAULT_FAILURE, DEFAULT_SUCCESS, JobStatus, StatusSpec
from ._policy import AdaptivePolicy, Policy
from ._sanitize import install_log_redaction, sanitize

__all__ = [
    "DEFAULT_MAX_BODY",
    "ChangeEvent",
    "ClientBase",
    "JobOutcome",
    "RequestEvent",
    "WaitResult",
]

#: The package's logger: DEBUG per request, INFO when a stream falls back to polling. No
#: header value and no credential is ever logged; URLs pass through ``sanitize()``.
logger = logging.getLogger("progress_client")

#: The default response size limit: 1 MiB, read no further.
DEFAULT_MAX_BODY = 1 << 20
DEFAULT_REQUEST_TIMEOUT = 30.0
DEFAULT_MAX_REDIRECTS = 5
#: Requests in flight at once per client (and the size of the pool it creates).
DEFAULT_MAX_CONCURRENCY = 100
USER_AGENT = "progress-client/0.1"


@dataclass(frozen=True)
class WaitResult:
    """A finished wait: the job's final status and what the wait cost."""

    status: JobStatus
    document: BaseModel
    report: PollReport


@dataclass(frozen=True)
class JobOutcome:
    """One job of ``wait_many``/``as_completed``: its URL and either its result or its error."""

    url: str
    result: WaitResult | None = None
    error: PollError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def unwrap(self) -> WaitResult:
        """The result, or raise the error."""
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


@dataclass(frozen=True)
class RequestEvent:
    """Handed to ``on_request`` after every request: a poll or a stream connection.

    ``url`` is sanitized; ``status_code`` is ``None`` when no response came (then ``error``
    says why); ``duration`` is seconds until the response head (for streams) or body."""

    url: str
    kind: Literal["poll", "stream"]
    status_code: int | None
    duration: float
    not_modified: bool = False
    error: str | None = None


@dataclass(frozen=True)
class ChangeEvent:
    """Handed to ``on_change`` for every status that differs from the previous one (and the
    first). ``url`` is sanitized."""

    url: str
    status: JobStatus
    terminal: bool
    report: PollReport


RequestHook = Callable[[RequestEvent], None]
ChangeHook = Callable[[ChangeEvent], None]


class Observer:
    """Logging and the user's hooks. A hook that raises is logged (its type only) and never
    breaks the wait."""

    def __init__(self, on_request: RequestHook | None, on_change: ChangeHook | None) -> None:
        self.on_request = on_request
        self.on_change = on_change

    def request(
        self,
        engine: PollEngine,
        kind: Literal["poll", "stream"],
        url: str,
        status_code: int | None,
        duration: float,
        now: float,
        error: str | None = None,
    ) -> None:
        debug = logger.isEnabledFor(logging.DEBUG)
        if not debug and self.on_request is None:
            return  # the common case: nobody listens, so nothing is formatted
        safe = sanitize(url)
        if debug:
            nxt = engine.next_poll_at
            tail = f"; next poll in {max(0.0, nxt - now):.1f}s" if nxt is not None else ""
            what = str(status_code) if status_code is not None else f"failed ({error})"
            logger.debug(
                "GET %s (%s) -> %s in %.0f ms%s", safe, kind, what, duration * 1000, tail
            )
        if self.on_request is not None:
            event = RequestEvent(
                url=safe,
                kind=kind,
                status_code=status_code,
                duration=duration,
                not_modified=status_code == 304,
                error=error,
            )
            self._call(self.on_request, event)

    def update(self, url: str, update: Update) -> None:
        if self.on_change is not None and update.changed:
            event = ChangeEvent(
                url=sanitize(url), status=update.status, terminal=update.terminal,
                report=update.report,
            )
            self._call(self.on_change, event)

    @staticmethod
    def _call(hook: Callable[[Any], None], event: Any) -> None:
        try:
            hook(event)
        except Exception as exc:  # a metrics hook must not end a wait
            logger.warning("a progress_client hook raised %s; ignored", type(exc).__name__)


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
        sse_max_failures: int = 3,
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
        self._full_timeout = httpx.Timeout(request_timeout, pool=None)
        self.conditional = conditional
        if sse_max_failures < 1:
            raise ValueError("sse_max_failures must be >= 1")
        self.sse_max_failures = sse_max_failures

    def engine(
        self, url: str, deadline: float | None, resume: str | None = None
    ) -> PollEngine:
        """A fresh engine for ``url``, or one that continues the wait a resume token left
        (``InvalidResumeToken`` if it is not a token for this URL)."""
        state: EngineState | None = None
        if resume is not None:
            state = PollEngine.state_from_token(resume, url)
        return PollEngine(
            self.policy,
            self.spec,
            deadline=deadline,
            baseline=self.baseline,
            max_consecutive_errors=self.max_consecutive_errors,
            hint_cap=self.hint_cap,
            conditional=self.conditional,
            url=url,
            state=state,
        )

    def request_timeout_for(self, left: float | None) -> httpx.Timeout:
        # pool=None: with many waits on one pool, a request queues for a connection rather
        # than failing; the engine's deadline still bounds the whole wait.
        if left is None or left >= self.request_timeout:
            return self._full_timeout  # the common case: built once, not per request
        return httpx.Timeout(max(0.001, left), pool=None)


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
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        sse_max_failures: int = 3,
        on_request: RequestHook | None = None,
        on_change: ChangeHook | None = None,
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
            sse_max_failures=sse_max_failures,
        )
        if isinstance(max_concurrency, bool) or max_concurrency < 1:
            raise ValueError("max_concurrency must be >= 1")
        if clock is not None and not self._accepts_clock:
            raise TypeError(
                f"clock= is for ProgressClient; {type(self).__name__} runs on the event loop's "
                "clock (drive it virtually with trio.testing.MockClock)"
            )
        self._max_concurrency = max_concurrency
        self._observer = Observer(on_request, on_change)
        self._init_driver()
        self._clock: Clock = clock if clock is not None else SystemClock()
        # httpx logs each request URL at INFO: keep URL passwords and ?token= out of logs.
        install_log_redaction()
        self._owns_client = client is None
        if client is None:
            self._http: H = self._make_http(
                client_kwargs(headers, auth, verify, max_redirects, max_concurrency)
            )
            self._request_headers: dict[str, str] = {}
            self._auth: Any = None
        else:
            # A user's own client: keep its pool and settings; add ours per request.
            self._http = client
            self._request_headers = dict(headers or {})
            self._auth = auth

    #: Whether the driver sleeps on a ``Clock`` (the sync one) or on the event loop's clock.
    _accepts_clock = True

    def _make_http(self, kwargs: dict[str, Any]) -> H:
        raise NotImplementedError

    def _request_kwargs(self, url: str, left: float | None) -> dict[str, Any]:
        """Per-request options: a timeout within what is left of the deadline, the caller's
        auth, and the origin the caller named (so a redirect elsewhere drops credentials)."""
        kwargs: dict[str, Any] = {
            "timeout": self._opts.request_timeout_for(left),
            "extensions": {ORIGIN_EXTENSION: origin_of(url)},
        }
        if self._auth is not None:
            kwargs["auth"] = self._auth
        return kwargs

    def _init_driver(self) -> None:
        """Per-client state of a driver (the async one's shared waits and limiter)."""

    @property
    def policy(self) -> Policy:
        return self._opts.policy

    def __repr__(self) -> str:
        return f"{type(self).__name__}(policy={self._opts.policy.name})"


def client_kwargs(
    headers: Mapping[str, str] | None,
    auth: Any,
    verify: Any,
    max_redirects: int,
    max_connections: int = DEFAULT_MAX_CONCURRENCY,
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
        # Keep every connection alive: with many jobs, each poll reuses one instead of
        # opening a new TCP connection.
        "limits": httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
    }


#: The request extension that carries the origin the caller asked for, across redirect hops
#: (httpx copies a request's extensions onto the redirected one).
ORIGIN_EXTENSION = "progress_client.origin"

#: Request headers that carry credentials. httpx drops only ``Authorization`` when a redirect
#: leaves the origin; an API key, a cookie or a session header must not follow either.
_CREDENTIAL_HEADER = re.compile(
    r"(?i)^(?:authorization|proxy-authorization|cookie|[a-z0-9-]*"
    r"(?:token|secret|passw|api-?key|apikey|auth|session|signature|credential)[a-z0-9-]*)$"
)


@functools.lru_cache(maxsize=4096)
def origin_of(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port (``None`` for the scheme's default) of a URL."""
    parsed = httpx.URL(url)
    return (parsed.scheme, parsed.host, parsed.port)


def strip_cross_origin_credentials(request: httpx.Request) -> None:
    """An httpx request hook: on a hop to another origin than the one the caller named,
    remove every credential-bearing header (a same-origin hop keeps them)."""
    origin = request.extensions.get(ORIGIN_EXTENSION)
    url = request.url
    if origin is None or origin == (url.scheme, url.host, url.port):
        return
    for name in [n for n in request.headers if _CREDENTIAL_HEADER.match(n)]:
        del request.headers[name]


async def astrip_cross_origin_credentials(request: httpx.Request) -> None:
    """The same hook for ``httpx.AsyncClient`` (whose hooks must be coroutines)."""
    strip_cross_origin_credentials(request)


def framed_within(response: httpx.Response, limit: int) -> bool:
    """Whether the body can be read in one go: its ``Content-Length`` is at most ``limit`` and
    it is not compressed. h11 frames the body by that length (a longer body is not read, a
    shorter one is a protocol error), so one read cannot pass the limit. Anything else
    (chunked, gzip, no length, too large) is streamed and cut at the limit."""
    headers = response.headers
    length = headers.get("content-length")
    if length is None or not (length.isascii() and length.isdigit()) or int(length) > limit:
        return False
    encoding = headers.get("content-encoding", "identity").strip().lower()
    return encoding in ("", "identity")


def describe_transport_error(exc: BaseException) -> tuple[str, bool]:
    """A sanitized description of a failed request and whether it is fatal (not retried)."""
    if isinstance(exc, httpx.TooManyRedirects):
        return "too many redirects (a redirect loop?)", True
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
        return f"invalid URL: {sanitize(exc)}", True
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})", False
    if isinstance(exc, httpx.ConnectError) and _certificate_failure(exc):
        # Not transient: retrying cannot fix a certificate, and the user should hear at once.
        return (
            f"TLS certificate verification failed ({_short(exc)}); pass verify= an "
            "ssl.SSLContext that trusts this server's CA, never verify=False in production",
            True,
        )
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


def _certificate_failure(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(8):  # the chain is httpx -> httpcore -> ssl; bounded against cycles
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return sanitize(text)[:200]


def finish(stop: Stop) -> WaitResult:
    """Turn the engine's final action into a result, or raise its error."""
    if stop.error is not None:
        raise stop.error
    assert stop.status is not None and stop.document is not None
    return WaitResult(status=stop.status, document=stop.document, report=stop.report)


def log_fallback(events_url: str, why: str) -> None:
    logger.info(
        "event stream %s unusable (%s); polling instead", sanitize(events_url), sanitize(why)
    )


def import_httpx_sse() -> Any:
    """httpx-sse, or a clear error when the ``sse`` extra is not installed."""
    try:
        import httpx_sse
    except ImportError:
        raise ImportError(
            "events_url= needs httpx-sse: pip install 'progress-client[sse]'"
        ) from None
    return httpx_sse


def check_url(url: str) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ValueError("url must be a non-empty string")
    return url.strip()


