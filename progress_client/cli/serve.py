"""``progress-client serve``: run the reference status server with uvicorn, on the memory store
or, with ``--redis-url``, on Redis (several processes behind a load balancer all push)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any
from urllib.parse import urlsplit

from .._sanitize import sanitize
from . import EXIT_ERROR, EXIT_OK, EXIT_USAGE
from ._common import positive_float

__all__ = ["add_parser", "missing_server_extra", "run"]

_EXTRA_HINT = "install the server extra: pip install 'progress-client[server]'"


def missing_server_extra(command: str) -> int | None:
    """Print a one-line hint and return the usage exit code when the extra is not installed."""
    try:
        import redis.asyncio  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        name = exc.name or "a dependency"
        print(f"progress-client {command}: needs {name}: {_EXTRA_HINT}", file=sys.stderr)
        return EXIT_USAGE
    return None


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="run the reference status server (GET /jobs/{id}, /jobs/{id}/events, /healthz)",
        description="Serve job progress written through the store API: JSON with ETag/304, "
        "Server-Sent Events, and a health check. The memory store unless --redis-url is given.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to bind (8000)")
    p.add_argument("--redis-url", default=None, metavar="URL",
                   help="use Redis, e.g. redis://127.0.0.1:6379/0 (default: in-memory store)")
    p.add_argument("--redis-cluster", action="store_true",
                   help="--redis-url is a node of a Redis Cluster (Redis >= 7: sharded pub/sub)")
    p.add_argument("--prefix", default="progress", help="Redis key prefix (progress)")
    p.add_argument("--retry-after", type=positive_float, default=None, metavar="S",
                   help="send Retry-After: S on responses for running jobs")
    p.add_argument("--keepalive", type=positive_float, default=15.0, metavar="S",
                   help="SSE keep-alive comment interval (15 s)")
    p.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                   help="let browser pages on ORIGIN (scheme://host[:port], repeatable; * for "
                   "any) read job status cross-origin (default: no CORS headers)")
    p.add_argument("--read-secret", default=None, metavar="SECRET",
                   help="job reads need a read token minted with SECRET (mint_read_token), "
                   "sent as Authorization: Bearer (default: $PROGRESS_CLIENT_READ_SECRET, "
                   "better: a flag is visible in the process list)")
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.set_defaults(run=run)


def _redis_label(url: str) -> str:
    """The URL without credentials, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return sanitize(f"{parts.scheme}://{host}{port}{parts.path}")


def _check_redis(url: str, cluster: bool = False) -> str | None:
    """None when Redis (or every node of the cluster) answers PING, else a message without
    credentials."""
    import anyio
    import redis.asyncio as aioredis
    import redis.exceptions
    from redis.asyncio.cluster import RedisCluster

    async def ping() -> None:
        options: dict[str, Any] = {"socket_connect_timeout": 3, "socket_timeout": 3}
        client = (RedisCluster.from_url(url, **options) if cluster
                  else aioredis.from_url(url, **options))
        try:
            await client.ping()
        finally:
            await client.aclose()

    try:
        anyio.run(ping)
    except (redis.exceptions.RedisError, redis.exceptions.RedisClusterException,
            OSError) as exc:
        what = "a Redis Cluster" if cluster else "Redis"
        return f"cannot reach {what} at {_redis_label(url)} ({type(exc).__name__})"
    except ValueError:
        return "invalid --redis-url (use redis://host:port/db or rediss://...)"
    return None


def run(args: argparse.Namespace) -> int:
    missing = missing_server_extra("serve")
    if missing is not None:
        return missing
    if not 0 <= args.port <= 65535:
        print("progress-client serve: error: --port must be 0-65535", file=sys.stderr)
        return EXIT_USAGE
    import uvicorn

    from ..server import MemoryStore, RedisStore, Store, create_app

    url = args.redis_url or None
    if args.redis_cluster and url is None:
        print("progress-client serve: error: --redis-cluster needs --redis-url", file=sys.stderr)
        return EXIT_USAGE
    try:
        store: Store
        if url is not None:
            problem = _check_redis(url, args.redis_cluster)
            if problem is not None:
                print(f"progress-client serve: error: {problem}", file=sys.stderr)
                return EXIT_ERROR
            store = RedisStore(url, prefix=args.prefix, cluster=args.redis_cluster)
            kind = "redis cluster" if args.redis_cluster else "redis"
            label = f"{kind} at {_redis_label(url)}"
        else:
            store = MemoryStore(prefix=args.prefix)
            label = "memory (this process only)"
        app = create_app(
            store, retry_after=args.retry_after, keepalive=args.keepalive, close_store=True,
            cors_origins=args.cors_origin,
            read_secret=args.read_secret or os.environ.get("PROGRESS_CLIENT_READ_SECRET") or None,
        )
    except ValueError as exc:
        print(f"progress-client serve: error: {sanitize(exc)}", file=sys.stderr)
        return EXIT_USAGE
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=args.access_log,
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    print(
        f"progress-client serve: http://{args.host}:{args.port} (store: {label}); "
        "GET /jobs/{id}, /jobs/{id}/events, /healthz; Ctrl-C stops",
        file=sys.stderr,
        flush=True,
    )
    try:
        uvicorn.Server(config).run()
    except SystemExit as exc:
        # uvicorn exits 1 after logging why it could not start (port in use ...).
        if exc.code not in (0, None):
            print("progress-client serve: the server could not start", file=sys.stderr)
            return EXIT_ERROR
    return EXIT_OK
