"""Logging and the user's hooks: the ``progress_client`` logger, ``RequestEvent`` after every
request, ``ChangeEvent`` for every status change, and the ``Observer`` both drivers report to.

No header value and no credential is ever logged; URLs pass through ``sanitize()``. A hook that
raises is logged (its type only) and never breaks the wait.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._actions import FellBack
from ._sanitize import sanitize

if TYPE_CHECKING:
    from ._actions import Request, Update
    from ._engine import PollEngine
    from ._events import ChangeEvent, RequestEvent

__all__ = ["ChangeEvent", "ChangeHook", "Observer", "RequestEvent", "RequestHook", "logger"]

#: The package's logger: DEBUG per request, INFO when a stream falls back to polling.
logger = logging.getLogger("progress_client")


RequestHook = Callable[["RequestEvent"], None]
ChangeHook = Callable[["ChangeEvent"], None]


class Observer:
    """Logging and the user's hooks. A hook that raises is logged (its type only) and never
    breaks the wait."""

    def __init__(self, on_request: RequestHook | None, on_change: ChangeHook | None) -> None:
        self.on_request = on_request
        self.on_change = on_change

    def request(
        self,
        engine: PollEngine,
        request: Request,
        status_code: int | None,
        duration: float,
        now: float,
        error: str | None = None,
    ) -> None:
        """After every request: a DEBUG line and the ``on_request`` hook."""
        debug = logger.isEnabledFor(logging.DEBUG)
        if not debug and self.on_request is None:
            return  # the common case: nobody listens, so nothing is formatted
        safe = sanitize(request.url)
        if debug:
            nxt = engine.next_poll_at
            tail = f"; next poll in {max(0.0, nxt - now):.1f}s" if nxt is not None else ""
            what = str(status_code) if status_code is not None else f"failed ({error})"
            logger.debug(
                "%s %s (%s) -> %s in %.0f ms%s", request.method, safe, request.purpose, what,
                duration * 1000, tail,
            )
        if self.on_request is not None:
            from ._events import RequestEvent

            event = RequestEvent(
                url=safe,
                kind=request.purpose,
                status_code=status_code,
                duration=duration,
                not_modified=status_code == 304,
                error=error,
            )
            self._call(self.on_request, event)

    def emit(self, url: str, events: list[Update | FellBack]) -> list[Update]:
        """Report what the engine produced (the ``on_change`` hook, the fallback's INFO line);
        return its updates, for the callers."""
        updates: list[Update] = []
        for item in events:
            if isinstance(item, FellBack):
                logger.info("event stream of %s unusable (%s); polling instead",
                            sanitize(url), item.reason)
                continue
            updates.append(item)
            if self.on_change is not None and item.changed:
                from ._events import ChangeEvent

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
