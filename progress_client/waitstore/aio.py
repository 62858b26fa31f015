"""``AsyncDurableWaits``: waits of an ``AsyncProgressClient`` that survive a restart; the
blocking twin is ``sync.DurableWaits``, line for line (its docstring says how they work).
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from contextlib import aclosing
from typing import TYPE_CHECKING, Any

import anyio

from progress_client.core.actions import Request, Stop, Update

from . import _common as c
from .base import KeyInUse, WaitStore, this_owner
from .records import DurableOutcome, WaitRecord

if TYPE_CHECKING:
    from progress_client.drivers.aio import AsyncProgressClient

    from ..webhooks.receiver import WebhookReceiver

__all__ = ["AsyncDurableWaits", "Handler", "LeaseLost", "UpdateHook"]

#: Called with each outcome (a coroutine function, or a plain one); the wait is marked done
#: when it returns.
Handler = Callable[[DurableOutcome], Any]
#: Called with each status a wait sees (its record: key, metadata).
UpdateHook = Callable[[WaitRecord, Update], Any]


class LeaseLost(Exception):
    """A wait was given up: its lease went to another process (``fleet``)."""


class AsyncDurableWaits:
    """Durable waits of one ``AsyncProgressClient`` in one ``WaitStore``.

    ``handler(outcome)``: gets every outcome (``None``: outcomes are only returned).
    ``checkpoint_every``: seconds between checkpoints while nothing changes (a change, and the
    start's answer, are written at once). ``webhooks``: a ``WebhookReceiver``; a run whose
    vendor takes a webhook URL in its start gets one, is woken by its verified webhook and
    polls on the receiver's slow safety schedule until then."""

    def __init__(self, client: AsyncProgressClient, store: WaitStore, *,
                 handler: Handler | None = None, checkpoint_every: float = 5.0,
                 webhooks: WebhookReceiver | None = None) -> None:
        self.client = client
        self.webhooks = webhooks
        self.store = store
        self.handler = handler
        self.checkpoint_every = checkpoint_every
        self.owner = this_owner()
        #: The keys this object handles now, from before they are registered to their end
        #: (``resume_all`` leaves them alone).
        self._mine: set[str] = set()
        self._mine_lock = threading.Lock()
        #: The waits this object follows now, each in its cancel scope (a fleet cancels one
        #: whose lease another process took).
        self.live: dict[str, anyio.CancelScope] = {}

    async def wait(self, url: str, *, key: str, profile: Any = None, events_url: str | None = None,
             timeout: float | None = None, metadata: Any = None,
             on_update: UpdateHook | None = None) -> DurableOutcome:
        """Register a wait on the status URL ``url`` under ``key`` and follow it to its
        outcome (delivered to the handler, then returned). ``KeyInUse`` if an unfinished wait
        has this key."""
        record = c.new_wait_record(url, key=key, profile=profile, events_url=events_url,
                                   timeout=timeout, metadata=metadata, owner=self.owner)
        c.prepare(self.client, record)  # a bad profile fails here, before it is stored
        self._reserve(record.key)
        try:
            await self.store.aadd(record)
        except BaseException:
            self._mine.discard(record.key)
            raise
        return await self._follow(record, on_update, fresh=False)

    async def run(self, url: str, *, key: str, method: str = "POST", json: Any = None,
            data: Any = None, content_type: str | None = None, profile: Any = None,
            status_url: str | None = None, timeout: float | None = None, metadata: Any = None,
            on_update: UpdateHook | None = None) -> DurableOutcome:
        """Register a job to start (``run``'s semantics: the start is sent once) under
        ``key``, start it, and follow it to its outcome."""
        record = c.new_run_record(
            url, key=key, method=method, json=json, data=data, content_type=content_type,
            profile=profile, status_url=status_url, timeout=timeout, metadata=metadata,
            owner=self.owner,
        )
        if self.webhooks is not None and self.webhooks.takes(record.profile):
            record.hook_token = self.webhooks.new_token()
        c.prepare(self.client, record, fresh=True, webhooks=self.webhooks)
        self._reserve(record.key)
        try:
            await self.store.aadd(record)
        except BaseException:
            self._mine.discard(record.key)
            raise
        return await self._follow(record, on_update, fresh=True)

    async def resume_all(self, handler: Handler | None = None, *,
                   on_update: UpdateHook | None = None) -> list[DurableOutcome]:
        """Continue every unfinished wait of the store that no running process owns, at once
        (one task each); each outcome goes to the handler (``handler`` here, else the one
        given at construction). Returns the outcomes delivered, in the order they ended; a
        wait whose handler raised stays unfinished (logged)."""
        if handler is not None:
            self.handler = handler
        mine = []
        for rec in await self.store.aunfinished():
            if not self._try_reserve(rec.key):
                continue  # followed here already (a wait or run of this object)
            claimed = await self.store.aclaim(rec.key, self.owner)
            if claimed is not None:
                mine.append(claimed)
            else:
                self._mine.discard(rec.key)
        outcomes: list[DurableOutcome] = []

        async def follow(record: WaitRecord) -> None:
            try:
                outcomes.append(await self._follow(record, on_update, fresh=False))
            except Exception as exc:
                c.logger.warning("durable wait %r: not delivered (%s); it stays in the store",
                                 record.key, type(exc).__name__)

        async with anyio.create_task_group() as tg:
            for record in mine:
                tg.start_soon(follow, record)
        return outcomes

    def _try_reserve(self, key: str) -> bool:
        with self._mine_lock:
            if key in self._mine:
                return False
            self._mine.add(key)
            return True

    def _reserve(self, key: str) -> None:
        if not self._try_reserve(key):
            raise KeyInUse(f"a wait with key {key!r} is being followed here already")

    # -- one wait ----------------------------------------------------------------------------

    async def _follow(self, record: WaitRecord, on_update: UpdateHook | None, *,
                      fresh: bool) -> DurableOutcome:
        with anyio.CancelScope() as scope:
            self.live[record.key] = scope
            try:
                return await self._follow_record(record, on_update, fresh)
            finally:
                self.live.pop(record.key, None)
                self._mine.discard(record.key)
        raise LeaseLost(f"durable wait {record.key!r}: another process took it over")

    async def _follow_record(self, record: WaitRecord, on_update: UpdateHook | None,
                             fresh: bool) -> DurableOutcome:
        try:
            outcome = c.stored_outcome(record)
            if outcome is None:
                outcome = await self._continue(record, on_update, fresh)
                c.ended(record, outcome)
                await self.store.asave(record)
            if self.handler is not None:
                await _call(self.handler, outcome)
            record.phase = "done"
            record.owner = None
            await self.store.asave(record)
            return outcome
        finally:
            if record.phase != "done":
                with anyio.CancelScope(shield=True):  # also when the task is cancelled
                    await self.store.arelease(record.key, self.owner)

    async def _continue(self, record: WaitRecord, on_update: UpdateHook | None,
                        fresh: bool) -> DurableOutcome:
        client = self.client
        prepared = c.prepare(client, record, fresh=fresh, webhooks=self.webhooks)
        if prepared.outcome is not None:
            return prepared.outcome
        hooks, token = self.webhooks, record.hook_token
        if hooks is None or prepared.waker is None or token is None:
            return await self._follow_call(record, prepared, on_update)
        hooks.register(token, prepared.waker, record.profile)  # before the start goes
        try:
            return await self._follow_call(record, prepared, on_update)
        finally:
            hooks.unregister(token)

    async def _follow_call(self, record: WaitRecord, prepared: c.Prepared,
                           on_update: UpdateHook | None) -> DurableOutcome:
        client = self.client
        call, engine = prepared.call, prepared.engine
        client._pick_clock()
        if prepared.start_pending:
            left = record.time_left()
            deadline = None if left is None else client._now() + left
            request = engine.next_action(client._now(), deadline)

            if isinstance(request, Request):
                await client._send(prepared.shared_for_start(), request, deadline)
                if c.started(record, engine, client._now()):
                    await self.store.asave(record)  # before anything else is sent
        stop: Stop | None = None
        async with aclosing(client._run(call, record.time_left())) as items:
            async for item in items:
                if isinstance(item, Stop):
                    stop = item
                    continue
                if c.note_update(prepared, record, item, self.checkpoint_every):
                    await self.store.asave(record)
                if on_update is not None:
                    try:
                        await _call(on_update, record, item)
                    except Exception as exc:  # a chat edit that failed must not end the wait
                        c.logger.warning("durable wait %r: on_update raised %s; ignored",
                                         record.key, type(exc).__name__)
        assert stop is not None
        return c.outcome_of(record, client, stop, call)


async def _call(hook: Callable[..., Any], *args: Any) -> Any:
    """Call ``hook``; await what it returns if it is awaitable (an async handler)."""
    result = hook(*args)
    if inspect.isawaitable(result):
        result = await result
    return result
