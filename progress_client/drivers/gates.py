"""The drivers' side of rate budgets (``core.budget``): a wait with a request to send queues for
its origin's next slot, and every answer is shown to the origin's budget. ``SyncGate`` (threads,
the sync client) and ``AsyncGate`` (anyio, the async client) are twins over the same pure
``Budget``; neither exists when the client has no ``limits=``, so an unlimited client pays
nothing for them."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping

from progress_client.core.budget import Budget, Budgets, LimitsArg

__all__ = ["AsyncGate", "SyncGate"]


class _Gate:
    def __init__(self, limits: LimitsArg, now: Callable[[], float],
                 wall: Callable[[], float]) -> None:
        self.budgets = Budgets(limits)
        self._now = now
        self._wall = wall

    def observe(self, url: str, answer: tuple[int, Mapping[str, str]] | None) -> None:
        """What came back for a granted request to ``url`` (``None``: no answer)."""
        budget = self.budgets.for_url(url)
        if budget is not None:
            self._observed(budget, answer)

    def _observed(self, budget: Budget, answer: tuple[int, Mapping[str, str]] | None) -> None:
        code, headers = answer if answer is not None else (None, None)
        budget.observe(self._now(), self._wall(), code, headers)


class SyncGate(_Gate):
    """Rate budgets for threads: a queued wait sleeps on one condition per client."""

    def __init__(self, limits: LimitsArg, now: Callable[[], float],
                 wall: Callable[[], float], sleep: Callable[[float], None]) -> None:
        super().__init__(limits, now, wall)
        self._sleep = sleep
        self._cond = threading.Condition()

    def acquire(self, url: str, deadline: float | None) -> float | None:
        """Wait for a slot to send to ``url``: the seconds waited, or ``None`` when the
        deadline came first (nothing may be sent then)."""
        budget = self.budgets.for_url(url)
        if budget is None:
            return 0.0
        cond, now = self._cond, self._now
        began = now()
        with cond:
            ticket = budget.ticket(deadline)
            if budget.grant(ticket, began):  # a slot at once: no delay to count
                cond.notify_all()
                return 0.0
            while True:
                t = now()
                if budget.grant(ticket, t):
                    cond.notify_all()
                    return t - began
                if deadline is not None and t >= deadline:
                    budget.withdraw(ticket)
                    cond.notify_all()
                    return None
                until = budget.ready_at(t) if budget.head() is ticket else math.inf
                limit = math.inf if deadline is None else deadline
                if until < math.inf:
                    # The next to go: sleep on the client's clock to the slot (a new wait
                    # with an earlier deadline takes the head meanwhile, and is woken then).
                    cond.release()
                    try:
                        self._sleep(max(0.0, min(until, limit) - t))
                    finally:
                        cond.acquire()
                else:
                    cond.wait(None if limit == math.inf else max(0.0, limit - t))

    def observe(self, url: str, answer: tuple[int, Mapping[str, str]] | None) -> None:
        budget = self.budgets.for_url(url)
        if budget is not None:
            with self._cond:
                self._observed(budget, answer)
                self._cond.notify_all()


class AsyncGate(_Gate):
    """Rate budgets for tasks (asyncio or trio): a queued wait waits on an event of its own,
    set when something it waits for changed."""

    async def acquire(self, url: str, deadline: float | None) -> float | None:
        """As ``SyncGate.acquire``."""
        import anyio  # start-up: a blocking client with limits= never loads anyio

        budget = self.budgets.for_url(url)
        if budget is None:
            return 0.0
        now = self._now
        began = now()
        ticket = budget.ticket(deadline, anyio.Event())
        if budget.grant(ticket, began):  # a slot at once: no delay to count
            _wake(budget)
            return 0.0
        try:
            while True:
                t = now()
                if budget.grant(ticket, t):
                    _wake(budget)
                    return t - began
                if deadline is not None and t >= deadline:
                    budget.withdraw(ticket)
                    _wake(budget)
                    return None
                until = budget.ready_at(t) if budget.head() is ticket else math.inf
                limit = math.inf if deadline is None else deadline
                with anyio.move_on_after(max(0.0, min(until, limit) - t)):
                    await ticket.waiter.wait()
                if ticket.waiter.is_set():
                    ticket.waiter = anyio.Event()
        except BaseException:
            budget.withdraw(ticket)
            _wake(budget)
            raise

    def _observed(self, budget: Budget, answer: tuple[int, Mapping[str, str]] | None) -> None:
        super()._observed(budget, answer)
        _wake(budget)


def _wake(budget: Budget) -> None:
    """Let the wait at the head of the queue look again (its slot may have moved)."""
    head = budget.head()
    if head is not None and head.waiter is not None:
        head.waiter.set()
