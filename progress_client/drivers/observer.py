"""Logging and the user's hooks: the ``progress_client`` logger, ``before_request`` before every
request, ``RequestEvent`` after it, ``ChangeEvent`` for every status change, and the
``Observer`` both drivers (and the fast path) report to. Instrumentation such as
``progress_client.otel`` plugs in here too (``set_instrument``): one ``Instrument`` for the
process, told when a wait starts and ends and around every request.

No header value and no credential is ever logged or handed to a hook; URLs pass through
``sanitize()``. A hook that raises is logged (its type only) and never breaks the wait. When
nobody listens, a request costs the observer one attribute read and one comparison.
"""

from __future__ import annotations

import functools
import logging
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from progress_client.core.actions import FellBack, Request
from progress_client.core.events import ChangeEvent, RequestEvent, RequestInfo
from progress_client.core.sanitize import sanitize
from progress_client.core.value import setslot

if TYPE_CHECKING:
    from progress_client.core.actions import Stop, Update
    from progress_client.core.engine import PollEngine
    from progress_client.core.events import ChangeEvent, Reason, RequestEvent, RequestInfo
    from progress_client.core.report import PollReport
    from progress_client.drivers.shared import SharedWait, Subscriber

__all__ = [
    "BeforeRequestHook", "ChangeEvent", "ChangeHook", "Instrument", "Observer", "RequestEvent",
    "RequestHook", "WaitTrace", "get_instrument", "logger", "set_instrument",
]

#: The package's logger: DEBUG per request, INFO when a stream falls back to polling.
logger = logging.getLogger("progress_client")


RequestHook = Callable[["RequestEvent"], None]
ChangeHook = Callable[["ChangeEvent"], None]
BeforeRequestHook = Callable[["RequestInfo"], None]


class WaitTrace:
    """One caller's wait, as an ``Instrument`` sees it. ``url`` is the status URL as the
    caller named it (raw: an instrument scrubs it itself); ``state`` is the instrument's own
    (its span, its start time)."""

    __slots__ = ("instrument", "profile", "resumed", "seen_first", "state", "transport", "url",
                 "watching")

    def __init__(self, instrument: Instrument, url: str, profile: str, transport: str,
                 resumed: bool, watching: bool) -> None:
        self.instrument = instrument
        self.url = url
        self.profile = profile
        self.transport = transport
        self.resumed = resumed
        self.watching = watching
        self.seen_first = False
        self.state: Any = None


class Instrument(Protocol):
    """What instrumentation implements (``progress_client.otel``). Every call is made from the
    driver's thread or task; one that raises is logged and ignored."""

    def wait_started(self, wait: WaitTrace) -> None: ...

    def wait_ended(self, wait: WaitTrace, outcome: str, report: PollReport,
                   error: BaseException | None) -> None: ...

    def before_request(self, wait: WaitTrace | None, info: RequestInfo, url: str) -> None: ...

    def after_request(self, wait: WaitTrace | None, info: RequestInfo,
                      event: RequestEvent) -> None: ...

    def changed(self, wait: WaitTrace | None, update: Update, wall: float) -> None: ...


_instrument: Instrument | None = None


def set_instrument(instrument: Instrument | None) -> None:
    """Install the process's instrumentation (``None``: remove it). Waits that started before
    keep reporting to the one they started with."""
    global _instrument
    _instrument = instrument


def get_instrument() -> Instrument | None:
    return _instrument


class _Observed(Request):
    """A request as sent: the engine's, with the headers the hooks added, and what was handed
    to them (for the ``RequestEvent`` after it)."""

    __slots__ = ("info", "trace")
    info: RequestInfo
    trace: WaitTrace | None


class Observer:
    """Logging, the user's hooks and the process's instrumentation. A hook that raises is
    logged (its type only) and never breaks the wait."""

    def __init__(self, on_request: RequestHook | None, on_change: ChangeHook | None,
                 before_request: BeforeRequestHook | None = None) -> None:
        self.on_request = on_request
        self.on_change = on_change
        self.before_request = before_request

    # -- a caller's wait ---------------------------------------------------------------------

    def wait_started(self, sub: Subscriber, url: str | None, profile: str, transport: str,
                     resumed: bool) -> None:
        """A caller's wait began: the instrument opens its span (``sub.trace``)."""
        inst = _instrument
        if inst is None:
            return
        trace = WaitTrace(inst, url or "", profile, transport, resumed, sub.watching)
        if self._guard(inst.wait_started, trace):
            sub.trace = trace

    def wait_ended(self, sub: Subscriber, shared: SharedWait, stop: Stop | None) -> None:
        """A caller's wait ended: with ``stop``, or (``None``) by an exception, a cancellation
        or a ``break`` out of ``watch`` (outcome ``cancelled``)."""
        trace: WaitTrace | None = sub.trace
        if trace is None:
            return
        sub.trace = None
        error = sys.exc_info()[1]
        outcome: str
        if stop is not None:
            outcome, report = stop.outcome, stop.report
            if stop.error is not None and stop.error.report is not None:
                report = stop.error.report  # a cancel sent on the way out is counted there
        else:
            outcome = "cancelled"
            with shared.lock:
                report = shared.engine.report()
        if not trace.url:
            trace.url = shared.engine.url or ""  # run(): the status URL the start named
        self._guard(trace.instrument.wait_ended, trace, outcome, report, error)

    # -- around each request -----------------------------------------------------------------

    def before(self, shared: SharedWait, request: Request) -> Request:
        """Just before ``request`` is sent: the ``before_request`` hook and the instrument.
        Returns the request to send: ``request`` itself when nobody listens, else a copy with
        the headers they added."""
        inst = _instrument
        hook = self.before_request
        if inst is None and hook is None:
            return request

        engine = shared.engine
        resend = engine.state.consecutive_errors if request.purpose != "cancel" else 0
        info = RequestInfo(
            url=_safe_url(request.url), method=request.method, kind=request.purpose,
            reason=_reason(shared, request), attempt=engine.state.tally.requests,
            resend_count=resend,
        )
        trace: WaitTrace | None = getattr(shared.driver, "trace", None)
        if inst is not None:
            self._guard(inst.before_request, trace, info, request.url)
        if hook is not None:
            self._call(hook, info)
        sent = _Observed(
            request.purpose, request.method, request.url,
            {**info.headers, **request.headers} if info.headers else request.headers,
            request.timeout, request.content,
        )
        setslot(sent, "info", info)
        setslot(sent, "trace", trace)
        return sent

    def listens(self, request: Request) -> bool:
        """Whether ``request`` (as ``before`` returned it) wants ``request()`` after it."""
        return (self.on_request is not None or type(request) is _Observed
                or logger.isEnabledFor(logging.DEBUG))

    def request(
        self,
        engine: PollEngine,
        request: Request,
        status_code: int | None,
        duration: float,
        now: float,
        error: str | None = None,
    ) -> None:
        """After every request: a DEBUG line, the ``on_request`` hook, the instrument."""
        debug = logger.isEnabledFor(logging.DEBUG)
        observed = type(request) is _Observed
        if not debug and self.on_request is None and not observed:
            return  # the common case: nobody listens, so nothing is formatted
        info: RequestInfo | None = getattr(request, "info", None)
        safe = info.url if info is not None else _safe_url(request.url)
        if debug:
            nxt = engine.next_poll_at
            tail = f"; next poll in {max(0.0, nxt - now):.1f}s" if nxt is not None else ""
            what = str(status_code) if status_code is not None else f"failed ({error})"
            logger.debug(
                "%s %s (%s) -> %s in %.0f ms%s", request.method, safe, request.purpose, what,
                duration * 1000, tail,
            )
        if self.on_request is None and not observed:
            return

        event = RequestEvent(
            url=safe,
            kind=request.purpose,
            status_code=status_code,
            duration=duration,
            not_modified=status_code == 304,
            error=error,
            info=info,
        )
        trace: WaitTrace | None = getattr(request, "trace", None)
        inst = trace.instrument if trace is not None else _instrument
        if inst is not None and info is not None:
            self._guard(inst.after_request, trace, info, event)
        if self.on_request is not None:
            self._call(self.on_request, event)

    # -- what the engine produced ------------------------------------------------------------

    def emit(self, url: str, events: list[Update | FellBack],
             driver: Subscriber | None = None) -> list[Update]:
        """Report what the engine produced (the ``on_change`` hook, the instrument, the
        fallback's INFO line); return its updates, for the callers."""
        updates: list[Update] = []
        trace: WaitTrace | None = getattr(driver, "trace", None)
        for item in events:
            if isinstance(item, FellBack):
                logger.info("event stream of %s unusable (%s); polling instead",
                            sanitize(url), item.reason)
                continue
            updates.append(item)
            if not item.changed:
                continue
            if trace is not None:
                self._guard(trace.instrument.changed, trace, item, time.time())
            if self.on_change is not None:
                event = ChangeEvent(
                    url=sanitize(url), status=item.status, terminal=item.terminal,
                    report=item.report,
                )
                self._call(self.on_change, event)
        return updates

    @staticmethod
    def _call(hook: Callable[[Any], None], event: Any) -> None:
        try:
            hook(event)
        except Exception as exc:  # a metrics hook must not end a wait
            logger.warning("a progress_client hook raised %s; ignored", type(exc).__name__)

    @staticmethod
    def _guard(call: Callable[..., None], *args: Any) -> bool:
        try:
            call(*args)
        except Exception as exc:  # instrumentation must not end a wait
            logger.warning("progress_client instrumentation raised %s; ignored",
                           type(exc).__name__)
            return False
        return True


@functools.lru_cache(maxsize=1024)
def _safe_url(url: str) -> str:
    """``sanitize(url)``, once per URL (a wait polls one URL hundreds of times)."""
    return sanitize(url)


def _reason(shared: SharedWait, request: Request) -> Reason:
    """Why ``request`` is sent (see ``Reason``). A poll follows a hint when the count of
    hint-lengthened delays grew since the wait's previous request."""
    purpose = request.purpose
    state = shared.engine.state
    hints, seen = state.tally.hint_waits, shared.hints_seen
    shared.hints_seen = hints
    if purpose != "poll":
        return purpose
    if state.consecutive_errors:
        return "retry"
    if "Prefer" in request.headers:
        return "long_poll"
    if seen >= 0 and hints > seen:
        return "hint"
    return "schedule"
