"""Many held requests against a status server, for the shutdown tests: event streams and
long polls that stay open until the server ends them. Raw sockets on 127.0.0.1 (one task each,
no client pool), so that two hundred of them cost the test machine little."""

from __future__ import annotations

from dataclasses import dataclass, field

import anyio
import anyio.abc


@dataclass
class Held:
    """What the held requests saw: the first bytes of each stream, and how each one ended."""

    streams_open: int = 0
    polls_sent: int = 0
    endings: list[str] = field(default_factory=list)


async def _request(port: int, head: str) -> anyio.abc.SocketStream:
    sock = await anyio.connect_tcp("127.0.0.1", port)
    await sock.send(head.encode("ascii"))
    return sock


async def _drain(sock: anyio.abc.SocketStream) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    try:
        while True:
            data += await sock.receive()
    except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
        return data
    finally:
        await sock.aclose()


async def hold_stream(port: int, job: str, held: Held, opened: anyio.Event, n: int) -> None:
    sock = await _request(port, f"GET /jobs/{job}/events HTTP/1.1\r\nHost: t\r\n\r\n")
    first = b""
    while b"data:" not in first:
        first += await sock.receive()
    assert first.startswith(b"HTTP/1.1 200"), first[:40]
    held.streams_open += 1
    if held.streams_open == n:
        opened.set()
    rest = await _drain(sock)
    # A stream that ends sends the last chunk of its chunked body; a cut one does not.
    held.endings.append("stream-ended" if rest.endswith(b"0\r\n\r\n") else "stream-cut")


async def hold_poll(port: int, job: str, etag: str, held: Held) -> None:
    sock = await _request(port, f"GET /jobs/{job} HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}"
                                "\r\nPrefer: wait=60\r\n\r\n")
    held.polls_sent += 1
    answer = await _drain(sock)
    held.endings.append("poll-304" if answer.startswith(b"HTTP/1.1 304") else
                        "poll-" + answer[:12].decode("ascii", "replace"))
