"""A push source's wake-up: what a webhook receiver (or any push) calls to cut a waiting
driver's sleep short, so that its engine sends one confirming GET at once
(``PollEngine.receive_wake``).

``Waker.wake()`` may be called from any thread or event loop (the receiver often runs in
another); the sync driver sleeps in ``sleep(seconds)``, the async one in ``asleep(seconds)``
(asyncio or trio); each returns whether it was woken. A wake that comes while no one sleeps
(a request in flight) is kept for the next sleep, which then returns at once.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

__all__ = ["Waker"]


class Waker:
    """The wake-up of one wait."""

    __slots__ = ("_flag", "_notify", "wakes")

    def __init__(self) -> None:
        self._flag = threading.Event()
        #: Sets the async sleeper's event from any thread (``None``: no async sleeper).
        self._notify: Callable[[], None] | None = None
        #: How many wakes came (for tests and logs).
        self.wakes = 0

    def wake(self) -> None:
        self.wakes += 1
        self._flag.set()
        notify = self._notify
        if notify is not None:
            notify()

    def sleep(self, seconds: float) -> bool:
        """Sleep up to ``seconds`` (blocking); ``True`` when woken."""
        woken = self._flag.wait(max(0.0, seconds))
        self._flag.clear()
        return woken

    async def asleep(self, seconds: float) -> bool:
        """Sleep up to ``seconds`` on the running loop; ``True`` when woken."""
        import anyio  # start-up: a blocking durable wait never loads anyio

        if not self._flag.is_set():
            event = anyio.Event()
            self._notify = _threadsafe(event.set)
            try:
                if not self._flag.is_set():  # a wake between the check and the notify
                    with anyio.move_on_after(max(0.0, seconds)):
                        await event.wait()
            finally:
                self._notify = None
        woken = self._flag.is_set()
        self._flag.clear()
        return woken


def _threadsafe(func: Callable[[], None]) -> Callable[[], None]:
    """``func`` made safe to call from any thread: run soon on the current event loop."""
    # start-up: aio_fast imports asyncio; a blocking durable wait never loads it
    from progress_client.drivers.aio_fast import running_asyncio

    if running_asyncio():
        import asyncio  # only on asyncio, loaded already then; a blocking wait never loads it

        loop = asyncio.get_running_loop()

        def on_asyncio() -> None:
            with contextlib.suppress(RuntimeError):  # a closed loop: no one sleeps any more
                loop.call_soon_threadsafe(func)

        return on_asyncio
    import trio  # only under trio, which is no dependency

    token = trio.lowlevel.current_trio_token()

    def on_trio() -> None:
        with contextlib.suppress(trio.RunFinishedError):
            token.run_sync_soon(func)

    return on_trio
