"""``DurableWaits``: waits of a ``ProgressClient`` that survive a restart (blocking); the async
twin is ``aio.AsyncDurableWaits``, line for line.

``client.durable(store, handler=...)`` gives one. ``wait(url, key=...)`` and ``run(url,
key=...)`` register a wait in the store, follow it (checkpointing as it goes), hand its
outcome to the handler and mark it done when the handler returns; ``resume_all()`` continues
every unfinished wait of the store (after a restart) the same way. Delivery is at least once:
a process stopped after the handler returned and before the store marked the wait done
delivers that outcome again on resume, with the same key.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from progress_client.core.actions import Request, Update

from . import _common as c
from .base import KeyInUse, WaitStore, this_owner
from .records import DurableOutcome, WaitRecord

if TYPE_CHECKING:
    from progress_client.drivers.sync import ProgressClient

    from ..webhooks.receiver import WebhookReceiver

__all__ = ["DurableWaits", "Handler", "UpdateHook"]

#: Called with each outcome; the wait is marked done when it returns.
Handler = Callable[[DurableOutcome], Any]
#: Called with each status a wait sees (its record: key, metadata).
UpdateHook = Callable[[WaitRecord, Update], Any]


class DurableWaits:
    """Durable waits of one ``ProgressClient`` in one ``WaitStore``.

    ``handler(outcome)``: gets every outcome (``None``: outcomes are only returned).
    ``checkpoint_every``: seconds between checkpoints while nothing changes (a change, and the
    start's answer, are written at once). ``webhooks``: a ``WebhookReceiver``; a run whose
    vendor takes a webhook URL in its start gets one, is woken by its verified webhook and
    polls on the receiver's slow safety schedule until then."""

    def __init__(self, client: ProgressClient, store: WaitStore, *,
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

    def wait(self, url: str, *, key: str, profile: Any = None, events_url: str | None = None,
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
            self.store.add(record)
        except BaseException:
            self._mine.discard(record.key)
            raise
        return self._follow(record, on_update, fresh=False)

    def run(self, url: str, *, key: str, method: str = "POST", json: Any = None,
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
            self.store.add(record)
        except BaseException:
            self._mine.discard(record.key)
            raise
        return self._follow(record, on_update, fresh=True)

    def resume_all(self, handler: Handler | None = None, *,
                   on_update: UpdateHook | None = None) -> list[DurableOutcome]:
        """Continue every unfinished wait of the store that no running process owns, at once
        (on up to the client's ``max_concurrency`` threads); each outcome goes to the handler
        (``handler`` here, else the one given at construction). Returns the outcomes
        delivered; a wait whose handler raised stays unfinished (logged)."""
        if handler is not None:
            self.handler = handler
        mine = []
        for rec in self.store.unfinished():
            if not self._try_reserve(rec.key):
                continue  # followed here already (a wait or run of this object)
            claimed = self.store.claim(rec.key, self.owner)
            if claimed is not None:
                mine.append(claimed)
            else:
                self._mine.discard(rec.key)
        if not mine:
            return []

        def follow(record: WaitRecord) -> DurableOutcome | None:
            try:
                return self._follow(record, on_update, fresh=False)
            except Exception as exc:
                c.logger.warning("durable wait %r: not delivered (%s); it stays in the store",
                                 record.key, type(exc).__name__)
                return None

        workers = min(len(mine), self.client._max_concurrency)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="durable") as pool:
            return [o for o in pool.map(follow, mine) if o is not None]

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

    def _follow(self, record: WaitRecord, on_update: UpdateHook | None, *,
                fresh: bool) -> DurableOutcome:
        try:
            outcome = c.stored_outcome(record)
            if outcome is None:
                outcome = self._continue(record, on_update, fresh)
                c.ended(record, outcome)
                self.store.save(record)
            if self.handler is not None:
                self.handler(outcome)
            record.phase = "done"
            record.owner = None
            self.store.save(record)
            return outcome
        finally:
            self._mine.discard(record.key)
            if record.phase != "done":
                self.store.release(record.key, self.owner)

    def _continue(self, record: WaitRecord, on_update: UpdateHook | None,
                  fresh: bool) -> DurableOutcome:
        client = self.client
        prepared = c.prepare(client, record, fresh=fresh, webhooks=self.webhooks)
        if prepared.outcome is not None:
            return prepared.outcome
        hooks, token = self.webhooks, record.hook_token
        if hooks is None or prepared.waker is None or token is None:
            return self._follow_call(record, prepared, on_update)
        hooks.register(token, prepared.waker, record.profile)  # before the start goes
        try:
            return self._follow_call(record, prepared, on_update)
        finally:
            hooks.unregister(token)

    def _follow_call(self, record: WaitRecord, prepared: c.Prepared,
                     on_update: UpdateHook | None) -> DurableOutcome:
        client = self.client
        call, engine, clock = prepared.call, prepared.engine, client._clock
        if prepared.start_pending:
            left = record.time_left()
            deadline = None if left is None else clock.now() + left
            request = engine.next_action(clock.now(), deadline)

            if isinstance(request, Request):
                client._send(prepared.shared_for_start(), request, deadline)
                if c.started(record, engine, clock.now()):
                    self.store.save(record)  # before anything else is sent
        gen = client._run(call, record.time_left())
        while True:
            try:
                update = next(gen)
            except StopIteration as done:
                stop = done.value
                break
            if c.note_update(prepared, record, update, self.checkpoint_every):
                self.store.save(record)
            if on_update is not None:
                try:
                    on_update(record, update)
                except Exception as exc:  # a chat edit that failed must not end the wait
                    c.logger.warning("durable wait %r: on_update raised %s; ignored",
                                     record.key, type(exc).__name__)
        return c.outcome_of(record, client, stop, call)
