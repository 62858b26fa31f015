"""Shared waits: concurrent waits on one job in one client share one engine and one loop.

Both drivers use this module. Concurrent ``wait``/``watch`` calls on the same job (the same
status URL, events URL and profile) join one ``SharedWait``: one engine, one request per
interval, one stream. Each caller is a ``Subscriber`` with its own queue and its own deadline,
and gets every update from the moment it joined (a late joiner first gets the last update). One
subscriber at a time is the *driver*: it carries out the engine's actions in its own thread or
task and publishes what came of them; the others wait on their queues. When the driver leaves (its
deadline, a cancellation, a ``break``) the next subscriber takes over; when the last one leaves,
the wait ends. No background thread or task is needed.

``Registry`` is the client's table of running waits, safe to use from many threads (the sync
client) or one event loop (the async one). Every call into the shared engine is made under the
wait's ``lock`` (feeding and deciding are quick and pure, so no I/O happens under it): a waiting
subscriber may build its own timeout from the engine while the driver works.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from progress_client.core.actions import FellBack, Stop, Update
from progress_client.core.engine import PollEngine
from progress_client.core.errors import InvalidResumeToken
from progress_client.drivers.observer import Observer

__all__ = ["Registry", "SharedWait", "Subscriber"]

Item = Update | Stop
#: A wait's lock: a ``threading.Lock`` or ``RLock``.
Lock = Any
#: A shared wait's identity: status URL, events URL, profile.
Key = tuple[str, str | None, str | None]


class Subscriber:
    """One caller of a shared wait: its queue, its deadline, a way to be woken."""

    __slots__ = ("_queue", "deadline", "trace", "watching")

    def __init__(self, deadline: float | None, watching: bool = True) -> None:
        #: What came for this caller and it has not taken yet (``None``: nothing, no queue
        #: kept: a subclass whose caller runs on the publisher's thread drops it when empty).
        self._queue: deque[Item] | None = deque()
        self.deadline = deadline
        #: Whether the caller wants every update (``watch``) or only the end (``wait``).
        self.watching = watching
        #: The instrumentation's view of this caller's wait (``observer.WaitTrace``), if any.
        self.trace: Any = None

    @property
    def queue(self) -> deque[Item]:
        """The items not taken yet, oldest first."""
        queue = self._queue
        if queue is None:
            queue = self._queue = deque()
        return queue

    def pending(self) -> bool:
        """Whether an item waits to be taken."""
        return bool(self._queue)

    def take(self) -> Item:
        """The oldest item not taken yet (``pending()`` said there is one)."""
        return self.queue.popleft()

    def put(self, item: Item) -> None:
        """Queue ``item`` without waking the caller (it is the one publishing)."""
        self.queue.append(item)

    def push(self, item: Item) -> None:
        self.put(item)
        self.wake()

    def wake(self) -> None:
        """Rouse this subscriber from its wait (an item came, or it is now the driver)."""


class SharedWait:
    """One job's wait, shared by every concurrent caller of one client."""

    # Thousands may run at once: no per-wait ``__dict__`` for the collector to walk.
    __slots__ = ("connection", "driver", "engine", "hints_seen", "key", "last_update", "lock",
                 "stop", "subscribers", "trusted", "url")

    def __init__(self, key: Key, engine: PollEngine, lock: Lock | None = None) -> None:
        self.key = key
        self.url = key[0]
        self.engine = engine
        #: Held for every call into the engine: the wait's own, or one its client's waits share.
        self.lock = threading.Lock() if lock is None else lock
        self.subscribers: list[Subscriber] = []
        self.driver: Subscriber | None = None
        self.last_update: Update | None = None
        self.stop: Stop | None = None
        #: The open event stream the driver reads (the driver's own kind of object).
        self.connection: Any = None
        #: The URL the caller named (its origin may get credentials for URLs servers name).
        self.trusted: str | None = None
        #: The engine's count of hint-lengthened delays at the last request the observer saw
        #: (-1: none yet), to tell a request that follows a hint (``drivers.observer``).
        self.hints_seen = -1

    def publish(self, observer: Observer, events: list[Update | FellBack]) -> None:
        """Hand the engine's updates to every subscriber (after the hooks and logs)."""
        if not events:
            return
        for update in observer.emit(self.url, events, self.driver):
            with self.lock:
                self.last_update = update
                for sub in self.subscribers:
                    if sub is self.driver:
                        sub.put(update)  # it is the one publishing: no need to wake
                    else:
                        sub.push(update)

    def end(self, sub: Subscriber, stop: Stop) -> None:
        """A ``Stop`` for ``sub``: a final one (the engine finished) goes to every subscriber,
        a timeout only to the caller whose deadline it was."""
        if not self.engine.finished:
            sub.push(stop)
            return
        with self.lock:
            self.stop = stop
            for other in self.subscribers:
                other.push(stop)

    def timeout(self, now: float, deadline: float | None) -> Stop:
        """A waiting (not driving) subscriber's deadline passed: its ``Stop``, from the
        engine's ``next_action`` (the one place actions come from)."""
        with self.lock:
            if self.stop is not None:
                return self.stop
            stop = self.engine.next_action(now, deadline)
        assert isinstance(stop, Stop)
        return stop


class Registry:
    """The running shared waits of one client."""

    def __init__(self, wait_lock: Lock | None = None) -> None:
        """``wait_lock``: one (reentrant) lock every wait shares (the async client's: its
        waits run on event loops, where a lock per wait only costs the collector an object);
        ``None``: a lock per wait (the sync client's threads)."""
        self._lock = threading.Lock()
        self._wait_lock = wait_lock
        self._waits: dict[Key, SharedWait] = {}

    def __len__(self) -> int:
        return len(self._waits)

    def waits(self) -> list[SharedWait]:
        with self._lock:
            return list(self._waits.values())

    def join(
        self,
        key: Key,
        sub: Subscriber,
        make_engine: Callable[[], PollEngine],
        *,
        resume: bool,
    ) -> SharedWait:
        """Join the running wait on ``key``, or start one. ``resume``: the caller passed a
        resume token, which only a new wait can honour."""
        with self._lock:
            shared = self._waits.get(key)
            if shared is not None and shared.stop is None:
                if resume:
                    raise InvalidResumeToken(
                        "resume= was given, but a wait on this job is already running in this "
                        "client; a resume token can only start a new wait"
                    )
            else:
                shared = SharedWait(key, make_engine(), self._wait_lock)
                self._waits[key] = shared
            with shared.lock:
                if shared.last_update is not None:
                    sub.put(shared.last_update)
                if shared.stop is not None:
                    sub.put(shared.stop)
                shared.subscribers.append(sub)
                if shared.driver is None:
                    shared.driver = sub
                shared.engine.every_update = any(s.watching for s in shared.subscribers)
            return shared

    def leave(self, shared: SharedWait, sub: Subscriber) -> None:
        """Remove ``sub``; hand the driving to the next subscriber; forget a wait that has
        ended or has no subscriber left."""
        with self._lock:
            with shared.lock:
                subscribers = shared.subscribers
                if sub in subscribers:
                    subscribers.remove(sub)
                if shared.driver is sub:
                    shared.driver = subscribers[0] if subscribers else None
                    if shared.driver is not None:
                        shared.driver.wake()
                orphaned = not subscribers
                # (The last caller's leaving, thousands at a deadline: no generator to ask.)
                shared.engine.every_update = not orphaned and any(
                    s.watching for s in subscribers)
            if (orphaned or shared.stop is not None) and self._waits.get(shared.key) is shared:
                del self._waits[shared.key]
