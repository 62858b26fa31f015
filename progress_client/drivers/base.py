"""What ``ProgressClient`` and ``AsyncProgressClient`` share: building the configuration, the
httpx client, the engine of a wait, and the few decisions a driver makes itself. The drivers
keep only their send loops, as httpx's ``Client`` and ``AsyncClient`` do."""

from __future__ import annotations

import itertools
import json as _json
import os
import uuid
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import httpx

from progress_client.core.actions import Request, Stop
from progress_client.core.config import OPTION_FIELDS, WaitConfig, config_from_options
from progress_client.core.engine import PollEngine
from progress_client.core.errors import RequestFailed
from progress_client.core.policy import Policy
from progress_client.core.results import ResultNotWritten, WaitResult, finish
from progress_client.core.sanitize import install_log_redaction
from progress_client.core.state import EngineState
from progress_client.drivers.observer import Observer, get_instrument
from progress_client.drivers.shared import Registry, SharedWait, Subscriber
from progress_client.transports.http import (
    check_url,
    client_kwargs,
    import_httpx_sse,
    request_options,
)
from progress_client.transports.rules import may_get_credentials, without_credentials

if TYPE_CHECKING:

    from progress_client.core.lifecycle import Job, Lifecycle

__all__ = ["Call", "ClientBase", "ProfileArg"]

H = TypeVar("H", httpx.Client, httpx.AsyncClient)
#: A profile: a built-in's name, a profile file's path, or a loaded ``Profile``.
ProfileArg = Any

_run_ids = itertools.count()


class Call:
    """One caller's wait: which shared wait it joins (``key``), how that wait's engine is
    built (``make_engine``: from a status URL, or a ``job`` to start), and what the caller
    asked of its end. A plain object of fields: one per running wait."""

    __slots__ = ("cancel_on_exit", "config", "events_url", "job", "key", "lifecycle", "output",
                 "resume_token", "status_url", "trusted", "waker", "watching")

    def __init__(
        self, key: tuple[str, str | None, str | None], config: WaitConfig, *,
        url: str | None = None, events_url: str | None = None, lifecycle: Lifecycle | None = None,
        resume_token: str | None = None, job: Job | None = None, cancel_on_exit: bool = False,
        output: Path | None = None, watching: bool = False, trusted: str | None = None,
    ) -> None:
        self.key = key
        self.config = config
        #: The status URL: the one asked for, then the one the wait ended on (``run`` finds
        #: it in the start response).
        self.status_url = url
        self.events_url = events_url
        self.lifecycle = lifecycle
        self.resume_token = resume_token
        self.job = job
        self.cancel_on_exit = cancel_on_exit
        #: Where a fetched result's body goes (``run(output=...)``); ``None``: into memory.
        self.output = output
        #: Whether the caller takes every update (``watch``), not only the end.
        self.watching = watching
        #: The URL the caller named: only its origin gets credentials for URLs a server named.
        self.trusted = trusted
        #: A push source's wake-up (``drivers.wake``: a webhook), or ``None``.
        self.waker: Any = None

    @property
    def resume(self) -> bool:
        return self.resume_token is not None

    def make_engine(self) -> PollEngine:
        if self.job is not None:
            return PollEngine(self.config, job=self.job)
        url = self.status_url
        assert url is not None
        token = self.resume_token
        state = EngineState.from_token(token, url) if token is not None else None
        return PollEngine(self.config, url=url, events_url=self.events_url, state=state,
                          lifecycle=self.lifecycle)


class ClientBase(Generic[H]):
    """The options, the httpx client and the running waits of a client."""

    def __init__(self, http: Any, options: Mapping[str, Any]) -> None:
        """``options``: the client's keyword options, checked (``core.options.take_options``)."""
        profile, spec, status_field = options["profile"], options["spec"], options["status_field"]
        success, failure = options["success"], options["failure"]
        headers, auth, client = options["headers"], options["auth"], options["client"]
        max_concurrency = options["max_concurrency"]
        if profile is not None and (spec is not None or status_field is not None):
            raise TypeError("profile= reads the document itself: drop spec= and status_field=")
        self._config: WaitConfig = config_from_options(
            spec=spec, status_field=status_field, success=success, failure=failure,
            policy=options["policy"], change_on=options["change_on"], model=options["model"],
            **{name: options[name] for name in OPTION_FIELDS},
        )
        self._max_concurrency = max_concurrency
        self._words = (success, failure)
        # A header the caller gives wins over a profile's header of the same name.
        self._given = frozenset(k.lower() for k in (headers or {}))
        # None: the common patterns (``core.lifecycle.DefaultLifecycle``, loaded when needed).
        self._lifecycle: Lifecycle | None = None
        self._profiles: dict[Any, tuple[WaitConfig, Lifecycle]] = {}
        if profile is not None:
            self._config, self._lifecycle = self._with_profile(profile)
        self._observer = Observer(options["on_request"], options["on_change"],
                                  options["before_request"])
        self._waits = Registry()
        # httpx logs each request URL at INFO: keep URL passwords and ?token= out of logs.
        install_log_redaction()
        self._owns_client = client is None
        if client is None:
            self._http: H = http(**client_kwargs(headers, auth, options["verify"],
                                                 options["max_redirects"], max_concurrency))
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

    def _with_profile(
        self, profile: ProfileArg | None
    ) -> tuple[WaitConfig, Lifecycle | None]:
        """The configuration and lifecycle of a wait with ``profile`` (``None``: the
        client's own). Loaded once per profile."""
        if profile is None:
            return self._config, self._lifecycle
        key = profile if isinstance(profile, (str, os.PathLike)) else id(profile)
        found = self._profiles.get(key)
        if found is None:
            # start-up: the profiles take ~100 ms to load; a wait without one never does
            from progress_client.profiles.lifecycle import resolve_profile

            reader, lifecycle = resolve_profile(
                profile, success=self._words[0], failure=self._words[1], given=self._given
            )
            found = (replace(self._config, reader=reader), lifecycle)
            self._profiles[key] = found
        return found

    def _wait_call(
        self, url: str, events_url: str | None, resume: str | None,
        profile: ProfileArg | None, cancel_on_exit: bool, *, watching: bool = False,
    ) -> Call:
        """A wait on a known status URL. A missing ``sse`` extra, a bad URL or profile is a
        clear error before any request."""
        url = check_url(url)
        events = check_url(events_url) if events_url is not None else None
        if events is not None:
            import_httpx_sse()
        config, lifecycle = self._with_profile(profile)
        check = getattr(lifecycle, "check_status_url", None)
        problem = check(url) if check is not None else None
        if problem is not None:  # a profile's request that cannot be made: said, not skipped
            raise ValueError(problem)
        tag = None if profile is None else str(profile if isinstance(profile, str) else id(profile))
        return Call(
            (url, events, tag), config, url=url, events_url=events, lifecycle=lifecycle,
            resume_token=resume, cancel_on_exit=cancel_on_exit, watching=watching, trusted=url,
        )

    def _run_call(
        self, url: str, *, method: str, json: Any, data: Any,
        headers: Mapping[str, str] | None, profile: ProfileArg | None,
        status_url: str | None, output: str | os.PathLike[str] | None, cancel_on_exit: bool,
    ) -> Call:
        """A job to start, then wait on (its own shared wait: a start is never shared)."""
        url = check_url(url)
        if json is not None and data is not None:
            raise TypeError("give json= or data=, not both")
        content: bytes | None = None
        sent = dict(headers or {})
        if json is not None:
            content = _json.dumps(json, separators=(",", ":")).encode()
            sent.setdefault("Content-Type", "application/json")
        elif isinstance(data, str):
            content = data.encode()
        elif data is not None:
            content = bytes(data)
        config, lifecycle = self._with_profile(profile)
        key_header = getattr(lifecycle, "idempotency_header", None)
        if key_header and not any(k.lower() == key_header for k in sent):
            sent[key_header] = uuid.uuid4().hex  # one key per start, the same on a retry
        # start-up: only a run (a job to start) needs it, never a wait
        from progress_client.core.lifecycle import DefaultLifecycle, Job

        job = Job(method.upper(), url, lifecycle or DefaultLifecycle(), sent, content, status_url)
        key = (f"run:{next(_run_ids)}:{url}", None, None)
        return Call(key, config, job=job, cancel_on_exit=cancel_on_exit,
                    output=Path(output) if output is not None else None, trusted=url)

    def _wait_started(self, call: Call, sub: Subscriber, transport: str) -> None:
        """Tell the process's instrumentation (if any) that this caller's wait began."""
        if get_instrument() is not None:
            reader = call.config.reader
            profile = getattr(getattr(reader, "profile", None), "name", None) or "default"
            self._observer.wait_started(sub, call.status_url, profile, transport, call.resume)

    @staticmethod
    def _finished(stop: Stop, call: Call) -> WaitResult:
        """The caller's result, or its error raised. With ``output=`` a result that came in
        hand (a document, a final body) is written there too: ``result`` is the file's path."""
        result = finish(stop, call.status_url)
        if call.output is None or result.result is None or isinstance(result.result, Path):
            return result
        try:
            return replace(result, result=write_result(call.output, result.result))
        except ResultNotWritten as exc:
            raise RequestFailed(exc.message, url=result.status_url, status=result.status,
                                report=result.report) from None

    def _options(self, request: Request, trusted: str | None = None) -> dict[str, Any]:
        """The httpx keyword arguments of one of the engine's requests. ``trusted``: the URL
        the caller named; a URL a server named (``run``'s status URL, a result or cancel URL)
        gets the caller's credentials only on that URL's origin (a status document could name
        any host)."""
        if trusted == request.url or request.purpose in ("start", "stream"):
            trusted = None  # the caller's own URLs (most polls: no origin to compare)
        # A result may take long to arrive whole: the caller's deadline bounds it, and each
        # read the request timeout.
        per_read = self._config.request_timeout if request.purpose == "result" else (
            request.timeout
        )
        mine, auth = self._headers, self._auth
        if not may_get_credentials(request.url, trusted):
            # A client passed in has no hook of ours: keep its credentials home here.
            mine = without_credentials(mine)
            auth = None
        options = request_options(request.url, per_read, auth, trusted)
        options["headers"] = {**mine, **request.headers} if mine else request.headers
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


def write_result(output: Path, value: Any) -> Path:
    """Write a result held in memory to ``output`` (bytes as they are, anything else as
    JSON), beside it first and then renamed into place, as a streamed result is."""
    if isinstance(value, (bytes, bytearray)):
        data = bytes(value)
    else:
        data = _json.dumps(value, ensure_ascii=False).encode()
    part = output.with_name(output.name + ".part")
    try:
        part.write_bytes(data)
        part.replace(output)
    except OSError as exc:
        raise ResultNotWritten(output, exc) from None
    return output
