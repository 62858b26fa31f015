"""A misbehaving HTTP/1.1 server for the fault suite: raw asyncio on 127.0.0.1, in a thread.

It speaks just enough HTTP to be broken on purpose. A path is bound to a *script*: a list of
steps, the n-th request to that path runs step n (the last step repeats), so "two 503s, then
completed" is ``[retry_after(503, "0"), retry_after(503, "0"), status("completed")]``. A step is
an async function that gets the parsed request and the raw ``asyncio.StreamWriter`` and may
write anything: a garbage status line, half a body, a reset, or nothing at all (a stall).

Every request is recorded (method, path, headers, monotonic time) so a test can check what a
client sent, e.g. that an ``Authorization`` header did not follow a redirect to this origin.
Bodies are streamed from one reused chunk, so a 300 MB response costs this process nothing.
Each connection serves one request and is closed (``Connection: close``), so every fault
applies to exactly one request.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import socket
import ssl
import struct
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.procs import free_port

__all__ = [
    "FaultServer",
    "Request",
    "Step",
    "chunked_then_drop",
    "close_silently",
    "endless_sse_line",
    "html_page",
    "huge_body",
    "late_headers_then_stall",
    "raw",
    "redirect",
    "refused_url",
    "reset_before_headers",
    "reset_mid_body",
    "retry_after",
    "retry_after_date",
    "short_body",
    "sse",
    "stall_after_headers",
    "stall_before_headers",
    "status",
    "trickle",
    "with_body",
]


@dataclass(frozen=True)
class Request:
    """One request as the server saw it. Header names are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    at: float


Step = Callable[[Request, asyncio.StreamWriter], Awaitable[None]]

_REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    304: "Not Modified",
    307: "Temporary Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def _head(code: int, headers: Sequence[tuple[str, str]], length: int | None) -> bytes:
    lines = [f"HTTP/1.1 {code} {_REASONS.get(code, 'Status')}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in headers]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST instead of a FIN (SO_LINGER with a zero timeout)."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


# -- steps ---------------------------------------------------------------------------------------


def with_body(
    code: int,
    body: bytes,
    headers: Sequence[tuple[str, str]] = (("Content-Type", "application/json"),),
) -> Step:
    """A complete, well-formed response."""

    async def step(req: Request, w: asyncio.StreamWriter) -> None:
        w.write(_head(code, headers, len(body)) + body)
        await w.drain()

    return step


def status(word: str, code: int = 200, **fields: Any) -> Step:
    """A JSON status document ``{"status": word, ...}``."""
    return with_body(code, json.dumps({"status": word, **fields}).encode())


def retry_after(code: int, value: str, body: bytes = b"") -> Step:
    """An error status with a ``Retry-After`` header (seconds, a date, or garbage)."""
    return with_body(code, body, (("Retry-After", value), ("Content-Type", "application/json")))


def retry_after_date(code: int, offset: float) -> Step:
    """An error status whose ``Retry-After`` is an HTTP-date ``offset`` seconds from the
    moment the request arrives (negative: a date in the past)."""

    async def step(req: Request, w: asyncio.StreamWriter) -> None:
        value = email.utils.formatdate(time.time() + offset, usegmt=True)
        await retry_after(code, value)(req, w)

    return step


def html_page(code: int = 200) -> Step:
    page = b"<!doctype html><html><body><h1>Sign in</h1></body></html>"
    return with_body(code, page, (("Content-Type", "text/html; charset=utf-8"),))


def raw(data: bytes) -> Step:
    """Write these bytes and close: a garbage status line, a broken header block."""

    async def step(req: Request, w: asyncio.StreamWriter) -> None:
        w.write(data)
        await w.drain()

    return step


def redirect(location: str, code: int = 302) -> Step:
    return with_body(code, b"", (("Location", location),))


def close_silently() -> Step:
    """Read the request, answer nothing, close (the client sees an empty reply)."""

    async def step(req: Request, w: asyncio.StreamWriter) -> None:
        return None

    return step


def reset_before_headers() -> Step:
    async def step(req: Request, w: asyncio.StreamWriter) -> None:
        _reset(w)

    return step


def reset_mid_body(total: int = 4096) -> Step:
    """Promise ``total`` bytes, send half, then reset the connection."""

    async def step(req: Request, w: asyncio.StreamWriter) -> None:
        head = _head(200, (("Content-Type", "application/json"),), total)
        w.write(head + b'{"status": "running", "pad": "' + b"x" * (total // 2))
        await w.drain()
        await asyncio.sleep(0.02)
        _reset(w)

    return step


def short_body() -> Step:
    """A Content-Length larger than the body, then a clean close (FIN)."""

    async def step(req: Request, w: asyncio.StreamWriter) -> None:
        body = b'{"status": "running"}'
        w.write(_head(200, (("Content-Type", "application/json"),), len(body) + 50) + body)
        await w.drain()

    return step


def chunked_then_drop() -> Step:
    """A chunked body that stops in the middle of a chunk."""

    async def step(req: Request, w: asyncio.StreamWriter) -> None:
        head = _head(
            200, (("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")), None
        )
        w.write(head + b"40\r\n{\"status\": \"run")
        await w.drain()

    return step


def stall_before_headers() -> Step:
    """Accept the request, then say nothing until the server stops."""

    async def step(req: Request, w: asyncio.StreamWriter) -> None:
        await asyncio.Event().wait()

    return step


def stall_after_headers(first: bytes = b'{"status": ') -> Step:
    """Send the headers and the start of a body, then stall forever."""

    async def step(req: Request, w: asyncio.StreamWriter) -> None:
        w.write(_head(200, (("Content-Type", "application/json"),), 1000) + first)
        await w.drain()
        await asyncio.Event().wait()

    return step


def trickle(interval: float, total: int = 1 << 16, *, stall_after: int | None = None) -> Step:
    """A body that never stalls long enough for a per-read timeout: one byte every
    ``interval`` seconds, so only a deadline on the whole exchange can end it. With
    ``stall_after=n`` it goes silent after n bytes: a per-read timeout then starts late."""

    async def step(req: Request, w: asyncio.StreamWriter) -> None:
        w.write(_head(200, (("Content-Type", "application/json"),), total) + b'{"status": "')
        await w.drain()
        for sent in range(total):
            if stall_after is not None and sent >= stall_after:
                await asyncio.Event().wait()
            await asyncio.sleep(interval)
            w.write(b"r")
            await w.drain()

    return step


def late_headers_then_stall(delay: float) -> Step:
    """Headers after ``delay`` seconds, then a body that never comes."""

    async def step(req: Request, w: asyncio.StreamWriter) -> None:
        await asyncio.sleep(delay)
        await stall_after_headers()(req, w)

    return step


_CHUNK = b" " * (1 << 16)


def huge_body(size: int, *, declare_length: bool = True) -> Step:
    """A JSON-looking body of ``size`` bytes, streamed from one reused 64 KiB chunk."""

    async def step(req: Request, w: asyncio.StreamWriter) -> None:
        head = _head(
            200, (("Content-Type", "application/json"),), size if declare_length else None
        )
        w.write(head + b'{"status": "running", "pad": "')
        sent = 0
        while sent < size:
            w.write(_CHUNK)
            sent += len(_CHUNK)
            await w.drain()

    return step


def sse(
    *parts: bytes | float,
    end: str = "close",
    content_type: str = "text/event-stream",
) -> Step:
    """An event stream: write each ``bytes`` part, sleep for each ``float``, then ``end`` it:
    ``close`` (FIN), ``reset`` (RST) or ``stall`` (silence until the server stops)."""

    async def step(req: Request, w: asyncio.StreamWriter) -> None:
        w.write(_head(200, (("Content-Type", content_type), ("Cache-Control", "no-store")), None))
        for part in parts:
            if isinstance(part, float):
                await asyncio.sleep(part)
            else:
                w.write(part)
                await w.drain()
        if end == "reset":
            _reset(w)
        elif end == "stall":
            await asyncio.Event().wait()

    return step


def endless_sse_line(size: int) -> Step:
    """An event stream whose first line never ends: ``data: `` and ``size`` bytes."""

    async def step(req: Request, w: asyncio.StreamWriter) -> None:
        w.write(_head(200, (("Content-Type", "text/event-stream"),), None) + b"data: ")
        sent = 0
        while sent < size:
            w.write(_CHUNK)
            sent += len(_CHUNK)
            await w.drain()

    return step


# -- the server ----------------------------------------------------------------------------------


@dataclass
class _Route:
    script: list[Step]
    hits: int = 0


@dataclass
class FaultServer:
    """Start with ``start()`` (or as a context manager); ``url(path)`` gives an address."""

    host: str = "127.0.0.1"
    #: Serve HTTPS with this context (a throwaway self-signed certificate in the tests).
    ssl_context: ssl.SSLContext | None = None
    requests: list[Request] = field(default_factory=list)
    _routes: dict[str, _Route] = field(default_factory=dict)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _server: asyncio.AbstractServer | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0

    # -- set-up ----------------------------------------------------------------------------------

    def route(self, path: str, *script: Step) -> str:
        """Bind ``path`` to a script of steps; returns its URL."""
        if not script:
            raise ValueError("a script needs at least one step")
        with self._lock:
            self._routes[path] = _Route(list(script))
        return self.url(path)

    def url(self, path: str) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.host}:{self.port}{path}"

    def hits(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path.split("?")[0] == path]

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> FaultServer:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            self._server = self._loop.run_until_complete(
                asyncio.start_server(
                    self._handle, self.host, 0, backlog=128, ssl=self.ssl_context
                )
            )
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="faultserver", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fault server did not start")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None or self._thread is None:
            return

        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)
        loop.close()
        self._loop = None

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- one connection ----------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            req = await self._read_request(reader)
            if req is None:
                return
            with self._lock:
                self.requests.append(req)
                route = self._routes.get(req.path.split("?")[0])
                if route is not None:
                    step = route.script[min(route.hits, len(route.script) - 1)]
                    route.hits += 1
            if route is None:
                await with_body(404, b'{"error": "no such route"}')(req, writer)
            else:
                await step(req, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client hung up: expected when it stops reading at its size limit
        except asyncio.CancelledError:
            pass
        finally:
            self._tasks.discard(task)
            if not writer.transport.is_closing():
                writer.transport.close()

    async def _read_request(self, reader: asyncio.StreamReader) -> Request | None:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3:
            return None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0") or 0)
        if length:
            await reader.readexactly(min(length, 1 << 20))
        return Request(parts[0], parts[1], headers, time.monotonic())


def refused_url(path: str = "/jobs/1") -> str:
    """A URL on a loopback port with nothing listening (bound, then released)."""
    return f"http://127.0.0.1:{free_port()}{path}"
