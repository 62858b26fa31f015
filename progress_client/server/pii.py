"""The metadata gate: a strict model of technical job settings and a guard that refuses
personal data (e-mails, names, phone numbers, addresses, passwords, tokens, card numbers)
before anything reaches a store.

The write-up's rule is "never in Redis: passwords, emails, names, phone numbers, addresses,
payment data, access tokens". The guard checks key names and string values; the model
(``extra="forbid"``) then admits only the known technical fields. Error messages name the
offending field and the reason, never the value, so a refused secret is not echoed into a log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["InvalidMetadata", "JobMetadata", "PIIRefused", "check_metadata", "find_pii"]


class InvalidMetadata(ValueError):
    """Metadata that does not fit ``JobMetadata``: an unknown field, a wrong type, a value out
    of range. Nothing was written."""


class PIIRefused(InvalidMetadata):
    """Metadata that looks like personal data or a credential. Nothing was written."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(
            f"metadata field {field!r} refused: {reason}; personal data and credentials are "
            "never stored (keep technical settings only: model, duration, format, resolution ...)"
        )


_Short = Field(default=None, min_length=1, max_length=64)


class JobMetadata(BaseModel):
    """Technical settings of a job, kept 24 h. Any other field is refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    model: str | None = _Short
    duration: float | None = Field(default=None, ge=0, le=86_400)
    format: str | None = Field(default=None, min_length=1, max_length=16)
    resolution: str | None = Field(default=None, pattern=r"^\d{2,5}x\d{2,5}$|^\d{3,4}p$")
    fps: float | None = Field(default=None, gt=0, le=240)
    aspect_ratio: str | None = Field(default=None, pattern=r"^\d{1,3}:\d{1,3}$")
    quality: str | None = Field(default=None, min_length=1, max_length=16)
    language: str | None = Field(default=None, pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})?$")
    voice: str | None = _Short
    image_model: str | None = _Short
    scenes: int | None = Field(default=None, ge=0, le=10_000)


# Key names: split into words (snake, kebab, camel) and refuse any word in this set, or any
# key that contains one of the unambiguous stems (``useremail``, ``apitoken``).
_PII_WORDS = frozenset(
    {
        "email", "mail", "name", "firstname", "lastname", "fullname", "surname",
        "username", "login", "phone", "telephone", "tel", "mobile", "msisdn", "address",
        "addr", "street", "city", "zip", "zipcode", "postcode", "postal", "password",
        "passwd", "pwd", "passphrase", "pin", "token", "secret", "apikey", "key", "auth",
        "credential", "credentials", "card", "cc", "ccn", "cvv", "cvc", "pan", "iban",
        "ssn", "passport", "dob", "birthday", "birthdate", "ip",
    }
)
_PII_STEMS = ("email", "phone", "password", "passwd", "token", "secret", "address", "card",
              "iban", "apikey", "api_key", "credential", "username")

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
# A run of digits with phone or card separators; its digit count decides what it looks like.
_DIGIT_RUN = re.compile(r"\+?\(?\d[\d\s().\-]{5,}\d")


def _key_words(key: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _value_reason(value: str) -> str | None:
    if _EMAIL.search(value):
        return "the value looks like an e-mail address"
    for match in _DIGIT_RUN.finditer(value):
        run = match.group(0)
        digits = re.sub(r"\D", "", run)
        if 13 <= len(digits) <= 19 and _luhn(digits):
            return "the value looks like a payment card number"
        separated = run.startswith(("+", "(")) or bool(re.search(r"[\s().\-]", run))
        if 7 <= len(digits) <= 15 and (separated or len(digits) >= 10):
            return "the value looks like a phone number"
    return None


def find_pii(fields: Mapping[str, Any]) -> PIIRefused | None:
    """The first field that looks like personal data or a credential, as an error; or None."""
    for key, value in fields.items():
        lowered = key.lower()
        words = _key_words(key)
        if any(w in _PII_WORDS for w in words) or any(s in lowered for s in _PII_STEMS):
            return PIIRefused(key, "the field name suggests personal data or a credential")
        if isinstance(value, str):
            reason = _value_reason(value)
            if reason is not None:
                return PIIRefused(key, reason)
    return None


def check_metadata(fields: Mapping[str, Any]) -> JobMetadata:
    """Validate ``fields`` for storage: ``PIIRefused`` for personal data, ``InvalidMetadata``
    for anything ``JobMetadata`` does not admit. The messages never contain the values."""
    refused = find_pii(fields)
    if refused is not None:
        raise refused
    try:
        return JobMetadata.model_validate(dict(fields))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'metadata'}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        )
        raise InvalidMetadata(f"metadata refused ({problems})") from None
