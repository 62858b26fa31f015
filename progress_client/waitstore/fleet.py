"""A fleet: N processes share the durable waits of one Redis store (``AsyncProgressClient``
on asyncio).

Each process runs ``await Fleet(client, store, ...).run()``. Every ``heartbeat`` seconds (a
third of the lease) it says it is alive (``{prefix}:members``), extends the leases of the
waits it follows (one Lua check-and-extend for all of them) and gives up any whose lease
another process holds; then it claims unfinished waits whose lease has run out, whose
holder's membership has run out (its process was killed, or stopped), or whose holder on
this host is gone (``SET NX PX``), up to its fair share (the unfinished waits over the
processes alive), and follows them. It beats again early when another member's membership
would run out (a killed one's, one lease after its last heartbeat), so a killed process's
waits are taken over within one lease period of the kill (and polled within one more poll
interval).

Webhooks: each process may run the receiver (``serve_receiver``). A webhook for a wait this
process follows wakes it at once; one for a wait of another process is verified here (the
wait's profile from the store), refused fleet-wide if its id was seen (``SET NX EX``), and
published on ``{prefix}:wake``: the owner, subscribed, wakes its wait.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import anyio

from ..webhooks.verify import WebhookRejected
from .aio import AsyncDurableWaits, Handler, UpdateHook
from .base import StoreError
from .records import WaitRecord

if TYPE_CHECKING:
    from progress_client.drivers.aio import AsyncProgressClient

    from ..webhooks.receiver import WebhookReceiver
    from .redis import RedisWaitStore

__all__ = ["Fleet"]

logger = logging.getLogger("progress_client.waitstore")


class Fleet:
    """One process of a fleet sharing ``store``'s waits (see the module's docstring)."""

    def __init__(self, client: AsyncProgressClient, store: RedisWaitStore, *,
                 handler: Handler | None = None, receiver: WebhookReceiver | None = None,
                 checkpoint_every: float = 5.0, heartbeat: float | None = None,
                 on_update: UpdateHook | None = None) -> None:
        self.store = store
        self.receiver = receiver
        self.durable = AsyncDurableWaits(client, store, handler=handler,
                                         checkpoint_every=checkpoint_every, webhooks=receiver)
        self.heartbeat = heartbeat if heartbeat is not None else store.lease / 3
        self.on_update = on_update
        #: Waits taken over from another process, and leases lost to one (counts).
        self.taken = self.lost = 0

    @property
    def owner(self) -> str:
        return self.durable.owner

    async def run(self, *, ready: anyio.Event | None = None) -> None:
        """Keep the leases, take over orphaned waits, deliver outcomes, until cancelled."""
        async with anyio.create_task_group() as tg:
            if self.receiver is not None:
                self.receiver.relay = self._relay
                await tg.start(self._listen)
            while True:
                try:
                    soonest = await self._beat(tg)
                except StoreError as exc:  # Redis away for a moment: beat again, not crash
                    logger.warning("fleet: heartbeat failed (%s); trying again", exc)
                    soonest = None
                if ready is not None:
                    ready.set()
                    ready = None
                # Beat again when the first other member's membership would run out (a
                # killed one's waits are claimed then), if that is before the heartbeat.
                pause = self.heartbeat if soonest is None else min(self.heartbeat,
                                                                   soonest + 0.05)
                await anyio.sleep(pause)

    async def serve_receiver(self, host: str, port: int) -> None:
        """Run the webhook receiver on this event loop (uvicorn), until cancelled."""
        import uvicorn  # optional extra [server]: uvicorn

        assert self.receiver is not None, "a Fleet without a receiver has nothing to serve"
        config = uvicorn.Config(self.receiver.app, host=host, port=port, log_level="warning",
                                access_log=False, lifespan="off")
        await uvicorn.Server(config).serve()

    async def _beat(self, tg: Any) -> float | None:
        live = self.durable.live
        members, soonest = await self.store.abeat(self.owner)
        for key in await self.store.arenew(list(live), self.owner):
            scope = live.get(key)
            if scope is not None:
                self.lost += 1
                logger.warning("durable wait %r: lease lost to another process; given up", key)
                scope.cancel()
        unfinished = await self.store.aunfinished()
        # A fair share: the waits spread over the processes alive (a dead one's membership
        # runs out with its leases, and the share grows).
        budget = -(-len(unfinished) // max(1, members)) - len(live)
        for record in unfinished:
            if budget <= 0:
                break
            if record.key in live or not self.durable._try_reserve(record.key):
                continue  # followed here already
            claimed = await self.store.aclaim(record.key, self.owner, fleet=True)
            if claimed is None:
                self.durable._mine.discard(record.key)
                continue
            self.taken += 1
            budget -= 1
            tg.start_soon(self._follow, claimed)
        return None if soonest is None else float(soonest)

    async def _follow(self, record: WaitRecord) -> None:
        try:
            await self.durable._follow(record, self.on_update, fresh=False)
        except Exception as exc:
            logger.warning("durable wait %r: not delivered (%s); it stays in the store",
                           record.key, type(exc).__name__)

    async def _listen(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        pubsub = self.store._aclient().pubsub()
        await pubsub.subscribe(self.store.wake_channel)
        task_status.started()
        try:
            async for message in pubsub.listen():
                if message.get("type") == "message" and self.receiver is not None:
                    self.receiver.wake_local(message["data"].decode())
        finally:
            with anyio.CancelScope(shield=True):
                await pubsub.aclose()

    async def _relay(self, token: str, body: bytes,
                     headers: Mapping[str, str]) -> tuple[int, str]:
        """A webhook for a wait of another process: verified here, then published."""
        assert self.receiver is not None
        record = await self.store.afind_hook(token)
        if record is None:
            return 404, "no wait here"
        verifier = self.receiver.verifier(record.profile)
        if verifier is None:
            return 404, "no wait here"
        try:
            message_id = verifier.verify(body, headers)
        except WebhookRejected as exc:
            self.receiver.refused += 1
            logging.getLogger("progress_client.webhooks").info(
                "webhook refused (%s): %s", exc.status, exc.reason)
            return exc.status, exc.reason
        if not await self.store.afirst_seen(f"{record.profile}:{message_id}",
                                            self.receiver.replay.window):
            self.receiver.refused += 1
            return 409, "replayed webhook (its id was seen already)"
        self.receiver.received += 1
        if record.phase in ("delivering", "done"):
            return 200, "the wait has ended"
        await self.store.apublish_wake(token)
        return 202, "relayed to the wait's process"
