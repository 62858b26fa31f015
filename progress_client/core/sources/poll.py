"""Polling: the status URL asked again and again, on the policy's schedule or a server's hint.

The plain source and the base of long-polling (``core.sources.long_poll``). Its request is a
GET of the status URL (or the POST a profile plans: a GraphQL query naming the job), with the
validators of the last answer (``If-None-Match``, ``If-Modified-Since``) when conditional
requests are on. What an answer means (a status, a 304, a transient error, the end) is the
engine's to read, as for every poll; the schedule is the engine's too. It never gives way:
polling is where every other source ends up.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from progress_client.core.hints import Validators
from progress_client.core.phases import Phase

if TYPE_CHECKING:
    from progress_client.core.actions import Request
    from progress_client.core.report import Mode
    from progress_client.core.transitions import Transitions

__all__ = ["POLL", "PollSource"]


class PollSource:
    """Plain polling. Keeps no state: one object serves every wait (``POLL``)."""

    __slots__ = ()

    phase = Phase.POLLING
    open = False
    #: Whether each poll asks the server to hold it (``core.sources.long_poll``).
    holds = False

    def request(self, engine: Transitions, now: float, deadline: float | None) -> Request:
        """A poll of the engine's status URL (held, ``Prefer: wait=N``, when ``holds``: its
        time is added to the request's)."""
        cfg = engine.config
        url = engine.url or ""
        method, content = "GET", None
        asked = getattr(engine._lifecycle, "poll_request", None)
        planned = asked(engine._start, url) if asked is not None else None
        if planned is not None:  # a GraphQL POST (Dagster): its body names the job
            method, content = planned
        st = engine.state
        headers: dict[str, str] = {}
        if cfg.conditional and engine._reading is not None and (
            st.etag is not None or st.last_modified is not None
        ):
            headers = Validators(st.etag, st.last_modified).request_headers()
        budget = cfg.request_timeout
        if self.holds and cfg.long_poll is not None:
            headers["Prefer"] = f"wait={cfg.long_poll:g}"
            budget += cfg.long_poll
        return engine._outgoing("poll", method, url, headers, budget, now, deadline, content)

    def answered(self, engine: Transitions, headers: Mapping[str, str]) -> Mode:
        return "poll"

    # A poll is read whole: no connection stays open, so none of these is ever called.

    def opened(
        self, engine: Transitions, now: float, code: int, headers: Mapping[str, str]
    ) -> None:
        return None

    def data(self, engine: Transitions, now: float, chunk: bytes) -> None:
        return None

    def ended(self, engine: Transitions, now: float) -> None:
        return None

    def failed(self, engine: Transitions, now: float, description: str, fatal: bool) -> None:
        return None

    def close(self) -> None:
        return None


#: The plain polling source, shared by every wait.
POLL = PollSource()
