"""Retry-After parsing (RFC 9110 10.2.3) and validators: both forms, and garbage ignored."""

from __future__ import annotations

import email.utils

import pytest

from progress_client import parse_retry_after
from progress_client.core.hints import Validators

NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", 0.0),
        ("1", 1.0),
        (" 120 ", 120.0),
        ("007", 7.0),
        ("-1", None),
        ("+1", None),
        ("1.0", None),
        ("1e3", None),
        ("١٢", None),  # Arabic-Indic digits: str.isdigit() is True, RFC digits are ASCII
        ("１２", None),  # full-width digits
        ("", None),
        ("soon", None),
        ("12 seconds", None),
        ("9" * 400, None),
        ("Thu, 01 Jan 2026 00:00:30 GMT", 30.0),  # IMF-fixdate
        ("Thursday, 01-Jan-26 00:00:30 GMT", 30.0),  # RFC 850
        ("Thu Jan  1 00:00:30 2026", 30.0),  # asctime
        ("Wed, 31 Dec 2025 23:59:00 GMT", None),  # in the past
        ("Thu, 01 Jan 2026 00:00:00 GMT", None),  # now: no wait
        ("Thu, 32 Jan 2026 00:00:30 GMT", None),
        ("Thu, 01 Jan 2026 00:00:30 GMT\u00e9", None),
    ],
)
def test_parse_retry_after(value: str, expected: float | None) -> None:
    got = parse_retry_after(value, NOW)
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected)


def test_none_and_huge_numbers() -> None:
    assert parse_retry_after(None, NOW) is None
    # Absurd but well-formed: parsed; the engine clamps it to its cap.
    assert parse_retry_after("99999999999", NOW) == 99999999999.0


def test_http_date_from_email_utils_roundtrip() -> None:
    value = email.utils.formatdate(NOW + 42, usegmt=True)
    assert parse_retry_after(value, NOW) == pytest.approx(42.0)


def test_validators() -> None:
    v = Validators.from_headers({"etag": '"abc"', "last-modified": "Thu, 01 Jan 2026 00:00:00 GMT"})
    assert v.request_headers() == {
        "If-None-Match": '"abc"',
        "If-Modified-Since": "Thu, 01 Jan 2026 00:00:00 GMT",
    }
    assert not Validators.from_headers({})
    # Hostile values are not sent back.
    assert Validators.from_headers({"etag": '"a"\r\nX: 1'}).etag is None
    assert Validators.from_headers({"etag": "x" * 1000}).etag is None
