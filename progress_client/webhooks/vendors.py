"""Per-vendor webhook data (``vendors.toml``): where a start request carries the webhook URL
(fields of its JSON body, or a query parameter), and which signature the vendor sends. A
profile without an entry takes no webhook in its start (its webhooks, if any, are set up on
the vendor's side), and is verified as the caller says."""

from __future__ import annotations

import functools
import json
import sys
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = ["VendorHooks", "add_webhook", "vendor_hooks"]

#: The header AssemblyAI is asked to send the shared secret in.
SHARED_HEADER = "X-Progress-Webhook-Auth"


@dataclass(frozen=True)
class VendorHooks:
    name: str
    signature: str
    body: dict[str, Any] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)


@functools.cache
def _table() -> dict[str, Any]:
    text = resources.files(__package__).joinpath("vendors.toml").read_text("utf-8")
    data: dict[str, Any] = tomllib.loads(text)
    return data


def vendor_hooks(profile: str | None) -> VendorHooks | None:
    """The webhook data of a profile's vendor (a built-in's name, or a profile file, by the
    name it declares), or ``None``."""
    name = _name_of(profile or "")
    entry = _table().get(name)
    if entry is None:
        return None
    return VendorHooks(name, entry["signature"], dict(entry.get("body", {})),
                       dict(entry.get("query", {})))


@functools.lru_cache(maxsize=64)
def _name_of(profile: str) -> str:
    if not profile or profile in _table():
        return profile
    # start-up: the profiles take ~100 ms to load; most waits need none
    from progress_client.profiles.profile import load_profile

    try:
        return load_profile(profile).name
    except (ValueError, OSError):  # not a profile: no vendor
        return profile


def _fill(value: Any, subs: dict[str, str]) -> Any:
    if isinstance(value, str):
        for k, v in subs.items():
            value = value.replace("{" + k + "}", v)
        return value
    if isinstance(value, list):
        return [_fill(v, subs) for v in value]
    return value


def add_webhook(hooks: VendorHooks, url: str, body: bytes | None, hook_url: str,
                secret: str = "") -> tuple[str, bytes | None]:
    """The start request's URL and body with the webhook where the vendor expects it."""
    subs = {"url": hook_url, "header": SHARED_HEADER, "secret": secret}
    if hooks.query:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        query += [(k, _fill(v, subs)) for k, v in hooks.query.items()]
        url = urlunsplit(parts._replace(query=urlencode(query)))
    if hooks.body:
        try:
            doc = json.loads(body) if body else {}
        except ValueError:
            raise ValueError(f"{hooks.name}'s webhook goes in a JSON body: the start's body "
                             "is not JSON") from None
        if not isinstance(doc, dict):
            raise ValueError(f"{hooks.name}'s webhook goes in a JSON object body")
        doc.update({k: _fill(v, subs) for k, v in hooks.body.items()})
        body = json.dumps(doc, separators=(",", ":")).encode()
    return url, body
