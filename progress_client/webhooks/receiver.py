"""The webhook receiver: a Starlette app (mount it in your Starlette or FastAPI app, or run it
on its own for the command line) that turns a verified webhook into a wake-up of its wait.

Each wait that takes webhooks has a token of its own: its webhook URL is
``{public_url}/{token}``, which the start request hands to the vendor (``vendors.toml``). A
POST there is verified (the vendor's signature, its timestamp, the replay guard); a webhook
that fails answers 4xx, changes nothing and is logged with its reason only (no header, no
body, no secret). A verified one wakes the wait (``drivers.wake.Waker``): its engine sends one GET
at once, and that answer, not the webhook's body, decides the outcome. Until a webhook comes
the wait polls on a slow safety schedule (``safety_interval``, one poll a minute).
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from progress_client.drivers.wake import Waker

from .vendors import SHARED_HEADER, vendor_hooks
from .verify import (
    FalSignature,
    ReplayGuard,
    SharedSecretHeader,
    StandardWebhooks,
    Verifier,
    WebhookRejected,
)

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = ["WebhookReceiver", "verifier_for"]

logger = logging.getLogger("progress_client.webhooks")

#: A webhook's body is a small JSON document; more is refused unread.
MAX_BODY = 1024 * 1024


def verifier_for(profile: str | None, secret: Any) -> Verifier:
    """The verifier of ``profile``'s vendor (``vendors.toml``) with ``secret``: a ``whsec_``
    secret (Standard Webhooks), fal's JWKS or public keys, or a shared header's value."""
    hooks = vendor_hooks(profile)
    scheme = hooks.signature if hooks is not None else "standard-webhooks"
    if scheme == "fal-ed25519":
        return FalSignature(secret)
    if scheme == "shared-header":
        return SharedSecretHeader(SHARED_HEADER, str(secret))
    return StandardWebhooks(secret)


class WebhookReceiver:
    """Webhooks for the waits of this process.

    ``public_url``: where the vendors reach this receiver (``https://bot.example.com/hooks``,
    the mount point included). ``secrets``: per profile name, the secret its verifier takes
    (see ``verifier_for``), or ``verifiers`` built yourself. ``safety_interval``: seconds
    between the polls of a wait that takes webhooks, until one comes (60)."""

    def __init__(self, public_url: str, *, secrets: Mapping[str, Any] | None = None,
                 verifiers: Mapping[str, Verifier] | None = None,
                 safety_interval: float = 60.0, replay: ReplayGuard | None = None) -> None:
        if not public_url.startswith(("http://", "https://")):
            raise ValueError("public_url is the http(s) URL the vendors reach this receiver at")
        if not safety_interval > 0:
            raise ValueError("safety_interval must be a number of seconds > 0")
        self.public_url = public_url.rstrip("/")
        self.verifiers: dict[str, Verifier] = dict(verifiers or {})
        for profile, secret in (secrets or {}).items():
            self.verifiers[profile] = verifier_for(profile, secret)
        self.safety_interval = safety_interval
        self.replay = replay if replay is not None else ReplayGuard()
        self._lock = threading.Lock()
        self._waits: dict[str, tuple[Waker, str | None]] = {}
        #: Counts: verified webhooks, wakes delivered, webhooks refused.
        self.received = self.woken = self.refused = 0
        #: Where a webhook for a wait of another process goes (``fleet.Fleet`` sets it):
        #: ``await relay(token, body, headers)`` gives the status and text to answer.
        self.relay: Callable[[str, bytes, Mapping[str, str]],
                             Awaitable[tuple[int, str]]] | None = None

    # -- the waits ---------------------------------------------------------------------------

    @staticmethod
    def new_token() -> str:
        return secrets.token_urlsafe(18)

    def hook_url(self, token: str) -> str:
        return f"{self.public_url}/{token}"

    def takes(self, profile: str | None) -> bool:
        """Whether a wait with ``profile`` can be woken here: its vendor takes a webhook URL
        in the start request and a verifier is known for it."""
        hooks = vendor_hooks(profile)
        return hooks is not None and bool(hooks.body or hooks.query) and (
            self.verifier(profile) is not None)

    def verifier(self, profile: str | None) -> Verifier | None:
        """The verifier of ``profile`` (given by its name or file, or by its vendor's)."""
        found = self.verifiers.get(profile or "")
        if found is None:
            hooks = vendor_hooks(profile)
            found = self.verifiers.get(hooks.name) if hooks is not None else None
        return found

    def shared_secret(self, profile: str | None) -> str:
        verifier = self.verifier(profile)
        return verifier.value if isinstance(verifier, SharedSecretHeader) else ""

    def register(self, token: str, waker: Waker, profile: str | None) -> None:
        with self._lock:
            self._waits[token] = (waker, profile)

    def unregister(self, token: str) -> None:
        with self._lock:
            self._waits.pop(token, None)

    def has(self, token: str) -> bool:
        with self._lock:
            return token in self._waits

    def wake_local(self, token: str) -> bool:
        """Wake this process's wait of ``token`` (a webhook another replica verified)."""
        with self._lock:
            found = self._waits.get(token)
        if found is None:
            return False
        found[0].wake()
        self.woken += 1
        return True

    # -- a webhook -------------------------------------------------------------------------

    def receive(self, token: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, str]:
        """Check one webhook and wake its wait: the HTTP status and a short text to answer.
        ``WebhookRejected`` is answered with its 4xx and logged with its reason only."""
        with self._lock:
            found = self._waits.get(token)
        if found is None:
            self.refused += 1
            return 404, "no wait here"
        waker, profile = found
        verifier = self.verifier(profile)
        if verifier is None:
            self.refused += 1
            return 404, "no wait here"
        try:
            message_id = verifier.verify(body, headers)
            self.replay.check(f"{profile}:{message_id}")
        except WebhookRejected as exc:
            self.refused += 1
            logger.info("webhook refused (%s): %s", exc.status, exc.reason)
            return exc.status, exc.reason
        self.received += 1
        waker.wake()
        self.woken += 1
        return 200, "ok"

    async def endpoint(self, request: Request) -> Response:
        """The Starlette endpoint: ``POST {mount}/{token}``."""
        from starlette.responses import PlainTextResponse  # optional extra [server]

        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY):
            return PlainTextResponse("body too large", 413)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return PlainTextResponse("body too large", 413)
        token = request.path_params["token"]
        if self.relay is not None and not self.has(token):
            status, text = await self.relay(token, body, request.headers)
        else:
            status, text = self.receive(token, body, request.headers)
        return PlainTextResponse(text, status)

    @property
    def routes(self) -> list[Any]:
        """The route to add to your own app (under the path of ``public_url``)."""
        from starlette.routing import Route  # optional extra [server]

        return [Route("/{token}", self.endpoint, methods=["POST"])]

    @property
    def app(self) -> Starlette:
        """A Starlette app of its own: ``app.mount("/hooks", receiver.app)``."""
        from starlette.applications import Starlette  # optional extra [server]

        return Starlette(routes=self.routes)

    @contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Run the receiver on its own (uvicorn, a background thread) at ``host:port``, under
        the path of ``public_url`` (``/hooks/{token}`` for ``https://x.example/hooks``);
        yields the URL it listens on (with that path)."""
        # optional extra [server]: starlette, uvicorn
        from starlette.applications import Starlette
        from starlette.routing import Mount

        from ..server._thread import serve_in_thread  # optional extra [server]: uvicorn

        path = urlsplit(self.public_url).path.rstrip("/")
        app = Starlette(routes=[Mount(path, routes=self.routes)]) if path else self.app
        with serve_in_thread(app, host=host, port=port) as running:
            yield running.url + path
