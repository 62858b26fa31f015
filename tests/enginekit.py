"""A test harness around the engine: one object with a fixed deadline that answers each feed
with the next action, so table-driven tests read as a conversation.

The real drivers call ``next_action(now, deadline)`` after each ``receive_*``; this does the
same, nothing more. ``expire(now)`` is what a driver does when the caller's deadline fires
mid-request (``interrupt`` and ask again); ``pop_update()`` is the last ``Update`` of the
engine's events.
"""

from __future__ import annotations

from typing import Any

from progress_client import AdaptivePolicy, Policy, StatusSpec, Update, WaitConfig
from progress_client.core.actions import Action
from progress_client.core.models import Reader
from progress_client.engine import EngineState, PollEngine


class Driven:
    def __init__(
        self,
        policy: Policy | None = None,
        spec: Reader | None = None,
        *,
        deadline: float | None = None,
        url: str | None = None,
        events_url: str | None = None,
        state: EngineState | None = None,
        **config: Any,
    ) -> None:
        # A virtual clock: no server sees these intervals, however short.
        config.setdefault("allow_fast_polling", True)
        cfg = WaitConfig(
            policy=policy if policy is not None else AdaptivePolicy(),
            reader=spec if spec is not None else StatusSpec(),
            **config,
        )
        self.engine = PollEngine(cfg, url=url, events_url=events_url, state=state)
        self.deadline = deadline
        self._expired = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)

    def next_action(self, now: float) -> Action:
        return self.engine.next_action(now, self.deadline)

    def receive_response(self, now: float, *args: Any, **kwargs: Any) -> Action:
        self.engine.receive_response(now, *args, **kwargs)
        return self.next_action(now)

    def receive_error(self, now: float, description: str, *, fatal: bool = False) -> Action:
        self.engine.receive_error(now, description, fatal=fatal)
        return self.next_action(now)

    @property
    def finished(self) -> bool:
        return self._expired or self.engine.finished

    def expire(self, now: float) -> Action:
        """The caller's own deadline fired mid-request: the request is abandoned and this
        caller's wait ends as timed out."""
        self.engine.interrupt(now)
        self._expired = True
        return self.engine.next_action(now, now)

    def pop_update(self) -> Update | None:
        updates = [e for e in self.engine.take_events() if isinstance(e, Update)]
        return updates[-1] if updates else None
