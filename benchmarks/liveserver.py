"""One reference-server process for the live and capacity benchmarks: the status app over a
``RedisStore``, its requests counted by path before the app sees them, the counts and the job
cache's figures readable at ``GET /_bench/counts`` (not counted itself).

    python -m benchmarks.liveserver --port P --redis-url URL [--prefix P] [--cluster]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
from collections import Counter
from typing import Any

__all__ = ["BENCH_PATH", "CountRequests", "build_app", "main"]

BENCH_PATH = "/_bench/counts"


class CountRequests:
    """ASGI middleware: every HTTP request, by path, before the app sees it."""

    def __init__(self, app: Any, counts: Counter[str]) -> None:
        self.app = app
        self.counts = counts

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] != BENCH_PATH:
            self.counts[scope["path"]] += 1
        await self.app(scope, receive, send)


def _rss_kib() -> int:
    try:
        with open(f"/proc/{os.getpid()}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    except OSError:
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def build_app(redis_url: str, prefix: str, cluster: bool = False,
              cache_size: int | None = None) -> Any:
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    from progress_client.server import RedisStore, create_app

    store = (RedisStore(redis_url, prefix=prefix, cluster=cluster) if cache_size is None
             else RedisStore(redis_url, prefix=prefix, cluster=cluster, cache_size=cache_size))
    counts: Counter[str] = Counter()
    app = create_app(store, close_store=True)

    async def report(request: Request) -> JSONResponse:
        cache = store.cache
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return JSONResponse({
            "counts": dict(counts),
            "cache": None if cache is None else {
                "hits": cache.hits, "loads": cache.loads, "entries": len(cache),
                "live": cache.live},
            "rss_kib": _rss_kib(),
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "readers": store.readers,
        })

    app.router.add_route(BENCH_PATH, report, methods=["GET"])
    app.add_middleware(CountRequests, counts=counts)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--prefix", default="bench-live")
    parser.add_argument("--cluster", action="store_true")
    parser.add_argument("--cache-size", type=int, default=None, help="0: no cache")
    parser.add_argument("--backlog", type=int, default=4096)
    args = parser.parse_args(argv)
    import uvicorn

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # thousands of held connections
    app = build_app(args.redis_url, args.prefix, args.cluster, args.cache_size)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
                lifespan="on", backlog=args.backlog, timeout_graceful_shutdown=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
