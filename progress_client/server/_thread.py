"""Run the status server in a background thread on a free loopback port, with a portal into
its event loop: what the demo, the end-to-end tests and the benchmarks need."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import uvicorn
from anyio.from_thread import BlockingPortal, start_blocking_portal
from starlette.applications import Starlette

from .shutdown import Server

__all__ = ["RunningServer", "serve_in_thread"]

T = TypeVar("T")


@dataclass
class RunningServer:
    """A server started by ``serve_in_thread``: its URL, and ``call`` to run a coroutine
    function on the server's event loop (the ``MemoryStore`` lives there)."""

    url: str
    port: int
    portal: BlockingPortal

    def call(self, func: Callable[..., Awaitable[T]], *args: Any) -> T:
        return self.portal.call(func, *args)


@contextmanager
def serve_in_thread(
    app: Starlette, *, host: str = "127.0.0.1", port: int = 0, startup_timeout: float = 10.0
) -> Iterator[RunningServer]:
    """Start ``app`` with uvicorn in a thread (port 0: a free one), yield when it accepts
    connections, stop it on exit (open event streams and held polls end at once)."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    server = Server(config)
    with start_blocking_portal(backend="asyncio") as portal:
        future = portal.start_task_soon(server.serve)
        started = threading.Event()

        async def wait_started() -> None:
            with anyio.fail_after(startup_timeout):
                while not server.started:
                    if future.done():
                        return
                    await anyio.sleep(0.01)
            started.set()

        portal.call(wait_started)
        if not started.is_set():
            future.result()  # raises what stopped uvicorn
            raise RuntimeError("the status server stopped during start-up")
        sockets = [s for srv in server.servers for s in (srv.sockets or ())]
        bound = int(sockets[0].getsockname()[1]) if sockets else port
        try:
            yield RunningServer(url=f"http://{host}:{bound}", port=bound, portal=portal)
        finally:
            server.should_exit = True
            future.result(timeout=startup_timeout + 5)
