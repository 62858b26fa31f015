"""An imitation of a rate-limited job API, as GitHub documents its primary rate limit: every
answer carries ``x-ratelimit-limit``, ``x-ratelimit-remaining``, ``x-ratelimit-used``,
``x-ratelimit-reset`` (the window's end in UTC epoch seconds) and ``x-ratelimit-resource``;
a request past the limit is answered ``429`` with ``x-ratelimit-remaining: 0``
(https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api, "Exceeding
the primary rate limit"; GitHub answers 403 or 429 there: 429 here).

For a test's sake a window lasts ``window`` seconds (GitHub's lasts an hour) and the first one
starts with only ``left`` of its ``limit`` requests remaining ("a small part of it left").
A job at ``/jobs/<name>`` answers ``{"status": "running"}`` to its first ``polls - 1`` requests
and ``{"status": "completed"}`` afterwards. ``trap(name, retry_after)`` makes the first request
to that job answer 429 with ``Retry-After`` (a secondary limit, as GitHub words it).
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler

from .serving import LoopbackHTTP, QuietHandler, send_json

__all__ = ["RateLimitedApi"]


class RateLimitedApi(LoopbackHTTP):
    def __init__(self, *, limit: int = 5000, left: int = 100, window: float = 4.0,
                 polls: int = 2) -> None:
        self.limit, self.window, self.polls = limit, window, polls
        self.lock = threading.Lock()
        self.window_start = time.monotonic()
        self.window_end_wall = time.time() + window
        self.remaining = left
        #: (monotonic arrival, path, status served) of every request.
        self.seen: list[tuple[float, str, int]] = []
        #: Requests per window (the window's index).
        self.per_window: dict[int, int] = defaultdict(int)
        self.allowed: dict[int, int] = {0: left}
        self.count: dict[str, int] = defaultdict(int)
        self.traps: dict[str, float] = {}
        api = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                api.handle(self)

        # 300 waits connect at once: the kit's server takes them all (no refused connection).
        super().__init__(Handler)

    def url(self, name: str) -> str:
        return f"{self.origin}/jobs/{name}"

    def trap(self, name: str, retry_after: float) -> None:
        self.traps[name] = retry_after

    def _roll(self, now: float) -> int:
        """The current window's index, starting a new one when the last has ended."""
        index = math.floor((now - self.window_start) / self.window)
        if index not in self.allowed:
            self.allowed[index] = self.limit
            self.remaining = self.limit
            self.window_end_wall = time.time() + (
                self.window - (now - self.window_start) % self.window)
        return index

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        name = h.path.split("?")[0].rsplit("/", 1)[-1]
        headers: dict[str, str] = {}
        with self.lock:
            now = time.monotonic()
            index = self._roll(now)
            self.per_window[index] += 1
            if name in self.traps:
                code, body = 429, {"message": "You have exceeded a secondary rate limit."}
                headers["Retry-After"] = f"{self.traps.pop(name):g}"
            elif self.remaining <= 0:
                code, body = 429, {"message": "API rate limit exceeded"}
            else:
                self.remaining -= 1
                self.count[name] += 1
                done = self.count[name] >= self.polls
                code, body = 200, {"status": "completed" if done else "running"}
            headers.update({
                "x-ratelimit-limit": str(self.limit),
                "x-ratelimit-remaining": str(max(0, self.remaining)),
                "x-ratelimit-used": str(self.allowed[index] - max(0, self.remaining)),
                "x-ratelimit-reset": str(math.ceil(self.window_end_wall)),
                "x-ratelimit-resource": "core",
            })
            self.seen.append((now, name, code))
        send_json(h, code, body, headers)

    def served(self, code: int) -> int:
        return sum(1 for _, _, c in self.seen if c == code)
