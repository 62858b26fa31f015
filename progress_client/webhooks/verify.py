"""Verifying a webhook before it is believed: Standard Webhooks (HMAC-SHA256, ``whsec_``
secrets; Replicate, OpenAI), fal's ED25519 signatures, and a shared secret in a header
(AssemblyAI). Each verifier takes the raw body and the headers, raises ``WebhookRejected``
(with the HTTP status to answer: 400 for a malformed or stale one, 401 for a bad signature,
409 for a replay) or returns the message's id; no secret ever goes into a message.

Standard Webhooks: the ``standardwebhooks`` package (the ``webhooks`` extra) checks
``webhook-id``, ``webhook-timestamp`` (5 minutes either way) and ``webhook-signature`` (a
space-separated list of ``v1,<base64>``: key rotation sends several); several secrets may be
given (rotation on our side). fal: ``X-Fal-Webhook-Request-Id``, ``-User-Id``, ``-Timestamp``
(5 minutes) and ``-Signature`` (hex ED25519 over ``request_id\\nuser_id\\ntimestamp\\n`` and
the SHA-256 hex of the body), checked against the public keys the caller gives (fal publishes
them as a JWKS: https://rest.fal.ai/.well-known/jwks.json); ``cryptography`` does the
ED25519. Replays are refused by message id for as long as a message can be fresh.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

__all__ = [
    "FalSignature",
    "ReplayGuard",
    "SharedSecretHeader",
    "StandardWebhooks",
    "Verifier",
    "WebhookRejected",
]

#: How old or new a signed timestamp may be (Standard Webhooks, fal: 5 minutes).
TOLERANCE = 300.0


class WebhookRejected(Exception):
    """A webhook that is not believed: ``status`` is the HTTP status to answer (4xx)."""

    def __init__(self, reason: str, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class Verifier(Protocol):
    """Checks one webhook; returns its message id (for the replay guard)."""

    def verify(self, body: bytes, headers: Mapping[str, str]) -> str: ...


class ReplayGuard:
    """Message ids seen in the last ``window`` seconds (a verified message is refused the
    second time). At most ``size`` ids are kept; the oldest go first."""

    def __init__(self, window: float = 2 * TOLERANCE, size: int = 100_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self.size = size
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    def check(self, message_id: str) -> None:
        """Record ``message_id``; ``WebhookRejected`` (409) if it was seen already."""
        now = self._clock()
        seen = self._seen
        while seen and (next(iter(seen.values())) < now - self.window or len(seen) >= self.size):
            seen.popitem(last=False)
        if message_id in seen:
            raise WebhookRejected("replayed webhook (its id was seen already)", 409)
        seen[message_id] = now


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


class StandardWebhooks:
    """Standard Webhooks signatures (https://www.standardwebhooks.com/; Replicate:
    https://replicate.com/docs/topics/webhooks/verify-webhook). ``secrets``: one or more
    ``whsec_...`` secrets (any may match)."""

    def __init__(self, secrets: str | Iterable[str]) -> None:
        try:
            from standardwebhooks.webhooks import Webhook  # optional extra [webhooks]
        except ImportError:
            raise ImportError("Standard Webhooks verification needs the webhooks extra: pip "
                              "install 'progress-client[webhooks]'") from None
        given = [secrets] if isinstance(secrets, str) else list(secrets)
        if not given:
            raise ValueError("give at least one webhook secret")
        try:
            self._hooks = [Webhook(s) for s in given]
        except Exception:  # a malformed secret: say so without repeating it
            raise ValueError("a webhook secret is not a whsec_ secret (base64 after "
                             "'whsec_')") from None

    def verify(self, body: bytes, headers: Mapping[str, str]) -> str:
        from standardwebhooks.webhooks import WebhookVerificationError  # extra [webhooks]

        h = _lower(headers)
        if not (h.get("webhook-id") and h.get("webhook-timestamp")
                and h.get("webhook-signature")):
            raise WebhookRejected("missing webhook-id, webhook-timestamp or webhook-signature",
                                  400)
        try:
            ts = float(h["webhook-timestamp"])
        except ValueError:
            raise WebhookRejected("webhook-timestamp is not a number", 400) from None
        if abs(time.time() - ts) > TOLERANCE:
            raise WebhookRejected("webhook-timestamp is more than 5 minutes off", 400)
        for hook in self._hooks:
            try:
                hook.verify(body, h, json_parse=False)
            except WebhookVerificationError:
                continue
            return h["webhook-id"]
        raise WebhookRejected("no webhook signature matches", 401)


class FalSignature:
    """fal's ED25519 webhook signatures (https://docs.fal.ai/model-endpoints/webhooks).
    ``keys``: fal's JWKS (a dict with ``keys``), a list of JWKs, or raw 32-byte keys (bytes,
    or base64url text)."""

    def __init__(self, keys: Any) -> None:
        try:
            # optional extra [webhooks]: cryptography
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        except ImportError:
            raise ImportError("fal's webhook signatures need the webhooks extra: pip install "
                              "'progress-client[webhooks]'") from None
        if isinstance(keys, Mapping):
            keys = keys.get("keys", [])
        if isinstance(keys, (str, bytes)):
            keys = [keys]
        self._keys = []
        for key in keys:
            raw = key
            if isinstance(key, Mapping):
                raw = key.get("x", "")
            if isinstance(raw, str):
                raw = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
            try:
                self._keys.append(Ed25519PublicKey.from_public_bytes(bytes(raw)))
            except ValueError:
                raise ValueError("a fal public key is not a 32-byte ED25519 key") from None
        if not self._keys:
            raise ValueError("give at least one fal public key (its JWKS)")

    def verify(self, body: bytes, headers: Mapping[str, str]) -> str:
        from cryptography.exceptions import InvalidSignature  # optional extra [webhooks]

        h = _lower(headers)
        names = ("x-fal-webhook-request-id", "x-fal-webhook-user-id",
                 "x-fal-webhook-timestamp", "x-fal-webhook-signature")
        if not all(h.get(n) for n in names):
            raise WebhookRejected("missing X-Fal-Webhook-* headers", 400)
        request_id, user_id, stamp, signature = (h[n] for n in names)
        try:
            ts = float(stamp)
            sig = bytes.fromhex(signature)
        except ValueError:
            raise WebhookRejected("malformed X-Fal-Webhook-Timestamp or -Signature", 400) from None
        if abs(time.time() - ts) > TOLERANCE:
            raise WebhookRejected("X-Fal-Webhook-Timestamp is more than 5 minutes off", 400)
        message = "\n".join((request_id, user_id, stamp, hashlib.sha256(body).hexdigest()))
        for key in self._keys:
            try:
                key.verify(sig, message.encode())
            except InvalidSignature:
                continue
            return f"{request_id}:{stamp}:{signature[:32]}"
        raise WebhookRejected("no fal signature matches", 401)


class SharedSecretHeader:
    """A shared secret the vendor sends back in a header of our choosing (AssemblyAI's
    ``webhook_auth_header_name`` / ``webhook_auth_header_value``:
    https://www.assemblyai.com/docs/deployment/webhooks). It carries no id or timestamp: a
    replay is refused by a digest of the body."""

    def __init__(self, name: str, value: str) -> None:
        if not name or not value:
            raise ValueError("give the header's name and the shared secret")
        self.name = name
        self.value = value

    def verify(self, body: bytes, headers: Mapping[str, str]) -> str:
        got = _lower(headers).get(self.name.lower())
        if got is None:
            raise WebhookRejected(f"missing the {self.name} header", 401)
        if not hmac.compare_digest(got.encode(), self.value.encode()):
            raise WebhookRejected(f"the {self.name} header does not match", 401)
        return "sha256:" + hashlib.sha256(body).hexdigest()


def parse_json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise WebhookRejected("the webhook's body is not JSON", 400) from None
