"""Ending held requests when the server stops, so that Ctrl-C stops it at once.

uvicorn's graceful shutdown stops accepting connections and then waits for every open
response to finish. An event stream or a held long poll would keep it waiting (for up to the
hold, or for ever), and after ``timeout_graceful_shutdown`` uvicorn cancels them, which logs a
traceback. Instead, the app's ``Closing`` tracks the subscriptions its requests hold; when the
server starts shutting down (``Server.shutdown`` below) every one of them is ended: a stream
sends what it has and closes, a held poll answers with the job's state at that moment, and
uvicorn finds no connection left to wait for.

``Server`` is ``uvicorn.Server`` with that addition, and one more: a server stopped by SIGINT
or SIGTERM returns normally (uvicorn raises the signal again once it has stopped, which would
kill the process before its own clean-up); ``stop_signals`` says which. ``progress-client
serve`` and ``serve_in_thread`` both run the app with it.
"""

from __future__ import annotations

import contextlib
import socket
import weakref
from collections.abc import Iterator
from typing import Any

import uvicorn

from .records import Subscription

__all__ = ["Closing", "Server"]


class Closing:
    """The subscriptions held by one app's requests, ended together by ``close()``."""

    def __init__(self) -> None:
        self._subs: weakref.WeakSet[Subscription] = weakref.WeakSet()
        self.closed = False

    def watch(self, sub: Subscription) -> Subscription:
        """Track ``sub``; end it at once when the server is already closing."""
        if self.closed:
            sub.end()
        else:
            self._subs.add(sub)
        return sub

    def close(self) -> None:
        self.closed = True
        for sub in list(self._subs):
            sub.end()
        self._subs.clear()

    def reopen(self) -> None:
        """For an app served again after a shutdown (its lifespan starts again)."""
        self.closed = False


def closing_of(app: Any) -> Closing | None:
    """The ``Closing`` of an app made by ``create_app`` (through any middleware wrapping it
    that keeps the inner app as ``.app``), else None."""
    seen = 0
    while app is not None and seen < 16:
        state = getattr(app, "state", None)
        found = getattr(state, "closing", None) if state is not None else None
        if isinstance(found, Closing):
            return found
        app = getattr(app, "app", None)
        seen += 1
    return None


class Server(uvicorn.Server):
    """``uvicorn.Server`` that ends the app's held requests as its shutdown begins, and
    returns when a signal stopped it."""

    stop_signals: tuple[int, ...] = ()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            try:
                yield
            finally:
                captured = getattr(self, "_captured_signals", None)
                if isinstance(captured, list):
                    self.stop_signals = tuple(captured)
                    captured.clear()  # stopped: nothing left to raise

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        closing = closing_of(self.config.app)
        if closing is not None:
            closing.close()
        await super().shutdown(sockets)
