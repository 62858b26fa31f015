"""Webhooks: a verified webhook wakes its wait, one GET confirms, the wait ends; until then it
polls on a slow safety schedule. See ``docs/webhooks.md``.

Needs the ``webhooks`` extra (``standardwebhooks``, ``cryptography``) for the signatures and
the ``server`` extra (Starlette, uvicorn) for the receiver."""

from __future__ import annotations

from .receiver import WebhookReceiver, verifier_for
from .vendors import add_webhook, vendor_hooks
from .verify import (
    FalSignature,
    ReplayGuard,
    SharedSecretHeader,
    StandardWebhooks,
    Verifier,
    WebhookRejected,
)

__all__ = [
    "FalSignature",
    "ReplayGuard",
    "SharedSecretHeader",
    "StandardWebhooks",
    "Verifier",
    "WebhookReceiver",
    "WebhookRejected",
    "add_webhook",
    "vendor_hooks",
    "verifier_for",
]
