"""A minimal HTTP/1.1 status endpoint for the overhead and scale benchmarks, run in its own
process so its CPU is not counted against the client.

It speaks just enough HTTP (GET, keep-alive, Content-Length) to cost the client as little as
possible, so what is measured is the client. Routes:

- ``/static/...``: ``running``, always (a job that never changes: the scale benchmark's);
- ``/count/KEY/N``: ``running`` for the first N-1 requests to KEY, ``completed`` on the N-th;
- ``/timeline/JOB``: the status of the ``--timeline`` trace at the time since JOB's first
  request (``--speed`` compresses time);
- ``/stats``: ``{"requests": total}``.

``python -m benchmarks.tinyserver --port 8123`` prints ``ready`` once it listens; ``--uvloop``
runs it on uvloop (several thousand requests a second on one core).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from typing import cast

__all__ = ["main"]


_STATIC = b'{"status": "running"}'


class _State:
    def __init__(self, timeline: list[tuple[float, str]], speed: float) -> None:
        self.timeline = timeline
        self.speed = speed
        self.counts: dict[str, int] = {}
        self.started: dict[str, float] = {}
        self.requests = 0

    def answer(self, path: str) -> tuple[int, bytes]:
        self.requests += 1
        if path.startswith("/static/"):
            return 200, _STATIC
        parts = path.split("?", 1)[0].strip("/").split("/")
        if parts[0] == "count" and len(parts) == 3:
            n = self.counts.get(parts[1], 0) + 1
            self.counts[parts[1]] = n
            status = "completed" if n >= int(parts[2]) else "running"
            return 200, json.dumps({"status": status, "step": n}).encode()
        if parts[0] == "timeline" and len(parts) == 2:
            now = time.monotonic()
            start = self.started.setdefault(parts[1], now)
            elapsed = (now - start) * self.speed
            status = self.timeline[0][1]
            for when, name in self.timeline:
                if when <= elapsed:
                    status = name
            return 200, json.dumps({"status": status}).encode()
        if parts[0] == "stats":
            return 200, json.dumps({"requests": self.requests}).encode()
        return 404, b'{"error": "not found"}'


class _Protocol(asyncio.Protocol):
    def __init__(self, state: _State) -> None:
        self.state = state
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio's: no isinstance check.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            parts = line.split(" ")
            path = parts[1] if len(parts) >= 2 else "/"
            code, body = self.state.answer(path)
            reason = "OK" if code == 200 else "Not Found"
            assert self.transport is not None
            self.transport.write(
                f"HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode() + body
            )


async def _serve(host: str, port: int, state: _State) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Protocol(state), host, port, backlog=4096)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--timeline", default='[[0, "queued"], [1, "completed"]]',
                        help="a JSON list of [seconds, status] pairs")
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    args = parser.parse_args()
    timeline = [(float(t), str(s)) for t, s in json.loads(args.timeline)]
    serve = _serve(args.host, args.port, _State(sorted(timeline), args.speed))
    with contextlib.suppress(KeyboardInterrupt):
        if args.uvloop:
            import uvloop

            uvloop.run(serve)
        else:
            asyncio.run(serve)


if __name__ == "__main__":
    main()
