"""``progress-client serve``: run the reference status server with uvicorn, on the memory store
or, with ``--redis-url``, on Redis (several processes behind a load balancer all push).

Workers write with ``PUT /jobs/{id}`` and a worker token (``--worker-token`` or the
environment variable ``PROGRESS_CLIENT_WORKER_TOKEN``). On a loopback address without one,
the server makes one up and keeps it where ``progress-client job`` finds it
(``_worker_token.py``), so trying it locally takes no set-up; on any other address without
one, writes over HTTP are off. Ctrl-C stops the server at once, open streams included.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio

from . import EXIT_ERROR, EXIT_OK, EXIT_USAGE
from ._common import positive_float
from ._worker_token import ENV_TOKEN, is_loopback, new_token, remove_token, write_token

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
    p.add_argument("--worker-token", default=None, metavar="TOKEN",
                   help="let workers write with PUT /jobs/{id} and 'Authorization: Bearer "
                   f"TOKEN' (default: ${ENV_TOKEN}; on a loopback address without one, a "
                   "random token that 'progress-client job' finds; elsewhere, no writes)")
    p.add_argument("--read-only", action="store_true",
                   help="take no writes over HTTP, whatever the address or the token")
    p.add_argument("--read-secret", default=None, metavar="SECRET",
                   help="job reads need a read token minted with SECRET (mint_read_token), "
                   "sent as Authorization: Bearer (default: $PROGRESS_CLIENT_READ_SECRET, "
                   "better: a flag is visible in the process list)")
    p.add_argument("--metrics", action="store_true",
                   help="serve Prometheus metrics at GET /metrics (the metrics extra)")
    p.add_argument("--access-log", action="store_true",
                   help="log every request on stderr (no headers, no query values)")
    p.set_defaults(run=run)


def _redis_label(url: str) -> str:
    """The user's own URL for messages, its password (if any) replaced by ``***``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
        user = parts.username or ""
    except ValueError:
        return "the --redis-url given"
    if ":" in host:
        host = f"[{host}]"
    if parts.password is not None:
        auth = f"{user}:***@"
    elif user:
        auth = f"{user}@"
    else:
        auth = ""
    query = "?..." if parts.query else ""
    return f"{parts.scheme}://{auth}{host}{port}{parts.path}{query}"


_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^/@:\s]*:)[^@/\s]*@")


def _hide_passwords(text: str) -> str:
    """``text`` with the password of any URL in it replaced by ``***``."""
    return _URL_PASSWORD.sub(r"\1***@", text)


def _check_redis(url: str, cluster: bool = False) -> str | None:
    """None when Redis (or every node of the cluster) answers PING, else a message without
    credentials."""
    # optional extra [server]: redis-py (missing_server_extra says so)
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


def _worker_token(args: argparse.Namespace) -> tuple[str | None, bool]:
    """The worker token and whether to make one up (a loopback bind without one)."""
    if args.read_only:
        return None, False
    token = args.worker_token or os.environ.get(ENV_TOKEN) or None
    return token, token is None and is_loopback(args.host)


def run(args: argparse.Namespace) -> int:
    missing = missing_server_extra("serve")
    if missing is not None:
        return missing
    if not 0 <= args.port <= 65535:
        print("progress-client serve: error: --port must be 0-65535", file=sys.stderr)
        return EXIT_USAGE
    import uvicorn  # optional extra [server]: uvicorn (missing_server_extra says so)

    # optional extra [server]: starlette, uvicorn
    from ..server import MemoryStore, RedisStore, Store, create_app
    from ..server.shutdown import Server

    if args.metrics:
        try:
            import prometheus_client  # noqa: F401
        except ImportError:
            print("progress-client serve: --metrics needs prometheus-client: install the "
                  "metrics extra: pip install 'progress-client[metrics]'", file=sys.stderr)
            return EXIT_USAGE
    url = args.redis_url or None
    if args.redis_cluster and url is None:
        print("progress-client serve: error: --redis-cluster needs --redis-url", file=sys.stderr)
        return EXIT_USAGE
    token, own_token = _worker_token(args)
    if own_token:
        token = new_token()
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
        app: Any = create_app(
            store, retry_after=args.retry_after, keepalive=args.keepalive, close_store=True,
            cors_origins=args.cors_origin, worker_token=token, metrics=args.metrics,
            read_secret=args.read_secret or os.environ.get("PROGRESS_CLIENT_READ_SECRET") or None,
        )
    except ValueError as exc:
        # What the user typed, as typed (no token is ever in these: worker_auth.check_token
        # names none), but a password in a URL.
        print(f"progress-client serve: error: {_hide_passwords(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    if args.access_log:
        # optional extra [server]: starlette, uvicorn
        from ..server.access_log import enable_access_log

        app = enable_access_log(app)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        # Streams and held polls end as shutdown begins (server/shutdown.py); this bounds
        # only a request still being answered.
        timeout_graceful_shutdown=1,
    )
    try:
        sock = config.bind_socket()
    except SystemExit:  # uvicorn logged the system's words (address in use ...)
        print(f"progress-client serve: error: cannot listen on {args.host}:{args.port} (in "
              "use? try another --port, or --port 0 for a free one)", file=sys.stderr)
        return EXIT_ERROR
    port = int(sock.getsockname()[1])
    token_file: Path | None = None
    try:
        if own_token:
            assert token is not None
            token_file = _keep_token(args.host, port, token)
            if token_file is None:
                return EXIT_ERROR
        writes = _writes_line(token, own_token, args.read_only)
        host = f"[{args.host}]" if ":" in args.host else args.host
        line = (f"progress-client serve: http://{host}:{port} (store: {label}); "
                f"GET /jobs/{{id}}, /jobs/{{id}}/events, /healthz"
                + (", /metrics" if args.metrics else "") + f"; {writes}; Ctrl-C stops")
        try:
            _announcing(Server, line)(config).run(sockets=[sock])
        except KeyboardInterrupt:  # Ctrl-C before uvicorn took the signal over
            pass
        except SystemExit as exc:
            # uvicorn exits 1 after logging why it could not start (the store's start-up).
            if exc.code not in (0, None):
                print("progress-client serve: the server could not start", file=sys.stderr)
                return EXIT_ERROR
        print("progress-client serve: stopped", file=sys.stderr, flush=True)
        return EXIT_OK
    finally:
        sock.close()
        if token_file is not None and token is not None:
            remove_token(token_file, token)


def _announcing(base: type[Any], line: str) -> type[Any]:
    """``base`` (a uvicorn server) printing ``line`` once it accepts connections."""

    class Announcing(base):  # type: ignore[misc]
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started:
                print(line, file=sys.stderr, flush=True)

    return Announcing


def _keep_token(host: str, port: int, token: str) -> Path | None:
    try:
        return write_token(host, port, token)
    except OSError as exc:
        print(f"progress-client serve: error: cannot keep the worker token for "
              f"'progress-client job' ({exc}); give one with --worker-token, or "
              "--read-only", file=sys.stderr)
        return None


def _writes_line(token: str | None, own_token: bool, read_only: bool) -> str:
    if own_token:
        return ("PUT /jobs/{id} with the token 'progress-client job' finds on this machine "
                "(kept for this user only)")
    if token is not None:
        return "PUT /jobs/{id} with the worker token"
    if read_only:
        return "no writes over HTTP (--read-only)"
    return f"no writes over HTTP (not a loopback address: give --worker-token or ${ENV_TOKEN})"
