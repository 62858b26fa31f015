"""Bodies and streams, the I/O both drivers do with httpx, as twins side by side: a body read
within a limit (``read_body`` / ``aread_body``), a result held in memory or streamed to a file
(``result_of``, ``save`` / ``aresult_of``, ``asave``), an open event stream closed
(``close_stream`` / ``aclose_stream``)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Protocol

import anyio
import httpx

from progress_client.core.errors import ResponseTooLarge
from progress_client.core.results import (
    MAX_RESULT,
    ResultNotWritten,
    decode_result,
    result_too_large,
)
from progress_client.transports.http import body_framed
from progress_client.transports.rules import cut


class HoldsStream(Protocol):
    """What holds an open event stream (a driver's shared wait): the exit stack that closes it
    and its chunk iterator, or ``None``."""

    connection: Any


__all__ = [
    "aclose_stream",
    "aread_body",
    "aresult_of",
    "asave",
    "ashielded_close",
    "close_stream",
    "read_body",
    "result_of",
    "save",
]


def read_body(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """The body up to ``limit`` bytes, and whether it was longer (then not read further)."""
    if body_framed(response, limit):
        return response.read(), False  # one read, as httpx.get() does
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if cut(body, limit):
            return bytes(body), True
    return bytes(body), False


def result_of(response: httpx.Response) -> Any:
    """A result held in memory: parsed JSON, else the bytes (``ResponseTooLarge`` past
    ``MAX_RESULT``: give ``output=`` to stream it to a file)."""
    body, truncated = read_body(response, MAX_RESULT)
    if truncated:
        raise ResponseTooLarge(result_too_large(MAX_RESULT))
    return decode_result(body, response.headers.get("content-type"))


def save(response: httpx.Response, output: Path) -> Path:
    """Stream a result body to ``output`` (written beside it, then renamed into place)."""
    part = output.with_name(output.name + ".part")
    try:
        with part.open("wb") as f:
            for chunk in response.iter_bytes():
                f.write(chunk)
        part.replace(output)
    except OSError as exc:  # the file, not the network (httpx raises its own errors)
        part.unlink(missing_ok=True)
        raise ResultNotWritten(output, exc) from None
    return output


def close_stream(shared: HoldsStream) -> None:
    if shared.connection is not None:
        stack, _ = shared.connection
        shared.connection = None
        stack.close()


async def aread_body(response: httpx.Response, limit: int) -> tuple[bytes, bool]:
    """The body up to ``limit`` bytes, and whether it was longer (then not read further)."""
    if body_framed(response, limit):
        return await response.aread(), False  # one read, as httpx.get() does
    body = bytearray()
    truncated = False
    # Stop at the limit by cancelling, not by ``break``: a cancellation unwinds httpx's nested
    # async generators from the inside, where a break leaves them to the garbage collector (a
    # ResourceWarning on trio).
    with anyio.CancelScope() as reading:
        async for chunk in response.aiter_bytes():
            body += chunk
            if cut(body, limit):
                truncated = True
                reading.cancel()
    return bytes(body), truncated


async def aresult_of(response: httpx.Response) -> Any:
    """A result held in memory: parsed JSON, else the bytes (``ResponseTooLarge`` past
    ``MAX_RESULT``: give ``output=`` to stream it to a file)."""
    body, truncated = await aread_body(response, MAX_RESULT)
    if truncated:
        raise ResponseTooLarge(result_too_large(MAX_RESULT))
    return decode_result(body, response.headers.get("content-type"))


async def asave(response: httpx.Response, output: Path) -> Path:
    """Stream a result body to ``output`` (written beside it, then renamed into place)."""
    part = anyio.Path(output.with_name(output.name + ".part"))
    try:
        async with await part.open("wb") as f:
            async for chunk in response.aiter_bytes():
                await f.write(chunk)
        await part.replace(output)
    except OSError as exc:  # the file, not the network (httpx raises its own errors)
        await part.unlink(missing_ok=True)
        raise ResultNotWritten(output, exc) from None
    return output


async def ashielded_close(stack: AsyncExitStack) -> None:
    with anyio.CancelScope(shield=True):
        await stack.aclose()


async def aclose_stream(shared: HoldsStream) -> None:
    """Close the open stream, its connection back to the pool, even mid-cancellation.

    The byte iterator is first run to its end under a cancelled scope: the cancellation unwinds
    httpx's nested async generators from the inside (an ``aclose()`` of the outer one would
    leave the inner ones to the garbage collector)."""
    if shared.connection is None:
        return
    stack, chunks = shared.connection
    shared.connection = None
    with anyio.CancelScope(shield=True):
        with anyio.CancelScope() as drain:
            drain.cancel()
            try:
                while True:
                    await chunks.__anext__()
            except (StopAsyncIteration, httpx.HTTPError):
                pass
        await stack.aclose()
