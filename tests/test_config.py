"""Options are checked once, when a client is built, into one frozen WaitConfig: a bad value
is a ValueError there (not at the first wait, where wait_many would have let it escape), and
contradictory options are a TypeError. Both clients alike."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from progress_client import (
    AsyncProgressClient,
    FixedPolicy,
    ProgressClient,
    StatusSpec,
    WaitConfig,
)

CLIENTS = [ProgressClient, AsyncProgressClient]

BAD: list[tuple[dict[str, Any], str]] = [
    ({"max_consecutive_errors": 0}, "max_consecutive_errors"),
    ({"max_consecutive_errors": True}, "max_consecutive_errors"),
    ({"sse_max_failures": 0}, "sse_max_failures"),
    ({"max_body": 0}, "max_body"),
    ({"hint_cap": float("inf")}, "hint_cap"),
    ({"baseline": 0}, "baseline"),
    ({"request_timeout": -1}, "request_timeout"),
    ({"long_poll": 61}, "long_poll"),
    ({"max_concurrency": 0}, "max_concurrency"),
]


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize(("options", "name"), BAD, ids=[n for _, n in BAD])
def test_bad_options_fail_at_construction(client: Any, options: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        client(**options)


@pytest.mark.parametrize("client", CLIENTS)
@pytest.mark.parametrize("shorthand", [
    {"status_field": "data.state"}, {"success": ["ok"]}, {"failure": ["bad"]},
    {"change_on": "step"},
])
def test_spec_with_a_shorthand_is_a_type_error(client: Any, shorthand: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="spec= cannot be combined"):
        client(spec=StatusSpec(), **shorthand)


def test_the_config_is_one_frozen_value_shared_by_every_wait() -> None:
    with ProgressClient(policy=FixedPolicy(1), long_poll=True, success=["shipped"]) as client:
        config = client.config
    assert isinstance(config, WaitConfig) and config.long_poll == 60
    assert "shipped" in config.reader.success  # type: ignore[attr-defined]
    assert "completed" in config.reader.success  # type: ignore[attr-defined]  # added to
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.baseline = 2.0  # type: ignore[misc]


def test_a_word_added_to_one_side_leaves_the_other() -> None:
    with ProgressClient(success=["stopped"]) as client:
        reader = client.config.reader
    assert "stopped" in reader.success and "stopped" not in reader.failure  # type: ignore[attr-defined]
