"""One watchdog thread per sync client: it shuts a response's socket down when the time allowed
for that exchange (or the caller's deadline) passes.

httpx's read timeout restarts with every chunk, so a body that trickles in, or a stream that
stalls after its head, could overrun the deadline by up to a whole read timeout. A shut-down
socket ends the blocked read at once (the read fails; the driver tells the engine). One thread
serves every request of the client: watching a response costs a dictionary entry under a lock,
and the thread wakes only when the earliest watched deadline is due, not once per request.
"""

from __future__ import annotations

import itertools
import math
import socket
import threading
from collections.abc import Callable
from contextlib import suppress
from typing import Any

__all__ = ["Watchdog"]


class Watchdog:
    """Shut sockets down at their deadlines. ``now`` is the clock deadlines are on."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._cond = threading.Condition()
        self._watched: dict[int, tuple[float, socket.socket]] = {}
        self._ids = itertools.count()
        #: When the thread next wakes by itself (``inf``: only when told).
        self._target = math.inf
        self._thread: threading.Thread | None = None
        self._closed = False

    def guard(self, response: Any, deadline: float | None) -> _Guard:
        """``with watchdog.guard(response, deadline):`` watches ``response``'s socket until
        the block ends (nothing to do without a deadline, or when the transport has no socket,
        e.g. a mock)."""
        sock = _socket_of(response) if deadline is not None else None
        if sock is None or deadline is None:
            return _Guard(self, None)
        return _Guard(self, self._watch(sock, deadline))

    def _unwatch(self, key: int) -> None:
        with self._cond:
            self._watched.pop(key, None)  # no wake-up: the thread finds it gone

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._watched.clear()
            self._cond.notify()

    def _watch(self, sock: socket.socket, deadline: float) -> int:
        with self._cond:
            key = next(self._ids)
            self._watched[key] = (deadline, sock)
            if deadline < self._target:
                self._target = deadline
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="progress-client-watchdog", daemon=True
                    )
                    self._thread.start()
                self._cond.notify()
            return key

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                now = self._now()
                for key, (deadline, sock) in list(self._watched.items()):
                    if deadline <= now:
                        del self._watched[key]
                        with suppress(OSError):  # already closed: the exchange just ended
                            sock.shutdown(socket.SHUT_RDWR)
                self._target = min((d for d, _ in self._watched.values()), default=math.inf)
                self._cond.wait(None if self._target == math.inf else self._target - now)


class _Guard:
    """The block during which one socket is watched (a class, not a generator: it is
    entered on every request)."""

    __slots__ = ("_key", "_watchdog")

    def __init__(self, watchdog: Watchdog, key: int | None) -> None:
        self._watchdog = watchdog
        self._key = key

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        if self._key is not None:
            self._watchdog._unwatch(self._key)


def _socket_of(response: Any) -> socket.socket | None:
    stream = response.extensions.get("network_stream")
    get_extra_info = getattr(stream, "get_extra_info", None)
    sock = get_extra_info("socket") if get_extra_info is not None else None
    return sock if isinstance(sock, socket.socket) else None
