"""What the status server serves to browsers besides job status: the companion module at
``/static/progress-client.js``, the core of the npm package ``progress-client`` (js/, built by
esbuild and committed here, so the wheel carries it; tests/test_browser_module_build.py checks
it is the build), one ES module with no dependencies, so a frontend without a bundler can
``import { waitForJob } from "https://api.example.com/static/progress-client.js"``."""

from __future__ import annotations

from functools import cache
from importlib import resources

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .polls import etag_for, if_none_match

__all__ = ["MODULE_PATH", "browser_routes", "companion_module"]

MODULE_PATH = "/static/progress-client.js"


@cache
def companion_module() -> bytes:
    """The module's source, as shipped in the package."""
    source = resources.files("progress_client.server") / "static" / "progress-client.js"
    return source.read_bytes()


async def _module(request: Request) -> Response:
    body = companion_module()
    tag = etag_for(body)
    # Revalidated on every load (cheap: a 304), so an upgraded server is picked up at once.
    headers = {"ETag": tag, "Cache-Control": "no-cache"}
    if if_none_match(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)


def browser_routes() -> list[Route]:
    return [Route(MODULE_PATH, _module, methods=["GET"])]
