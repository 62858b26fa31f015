"""One immutable, validated configuration for a client's waits, passed whole to the engine.

``WaitConfig`` holds everything that decides a wait: the policy (no interval below
``MIN_INTERVAL`` unless ``allow_fast_polling=True``), how a response is read (a
``Reader``: ``StatusSpec`` or a compiled profile), the report's baseline, error and hint
limits, the body limit, the request timeout, conditional requests, the stream's failure limit
and event names, and long-polling. It is checked once, when built: a bad value is a
``ValueError`` there, not at the first wait. ``config_from_options`` turns a client's keyword
options into one, and refuses contradictory ones (``spec=`` with ``status_field=``...) with a
``TypeError``. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._hints import DEFAULT_HINT_HEADERS
from ._models import DEFAULT_FAILURE, DEFAULT_SUCCESS, Reader, StatusSpec
from ._options import (
    DEFAULT_MAX_BODY,
    DEFAULT_REQUEST_TIMEOUT,
    MAX_LONG_POLL,
    MIN_INTERVAL,
    OPTIONS,
    check_option,
)
from ._policy import AdaptivePolicy, Policy

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_REQUEST_TIMEOUT",
    "MAX_LONG_POLL",
    "MIN_INTERVAL",
    "WaitConfig",
    "config_from_options",
]

#: The fields of ``WaitConfig`` that are client options of the same name (``_options``
#: declares them, their defaults and their checks; ``tests/test_options.py`` holds the
#: fields below to it).
OPTION_FIELDS = tuple(o.name for o in OPTIONS if o.config)


@dataclass(frozen=True)
class WaitConfig:
    """How every wait of a client runs. Frozen and checked; share it freely."""

    policy: Policy = field(default_factory=AdaptivePolicy)
    reader: Reader = field(default_factory=StatusSpec)
    baseline: float = 1.0
    max_consecutive_errors: int = 10
    hint_cap: float = 300.0
    max_body: int = DEFAULT_MAX_BODY
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT
    conditional: bool = True
    sse_max_failures: int = 3
    #: The SSE event names whose data may be a status (``None``: any name; the data decides).
    event_types: frozenset[str] | None = None
    #: Ask the server to hold each poll up to this many seconds (``None``: no long-polling).
    long_poll: float | None = None
    #: Accept a policy whose shortest interval is below ``MIN_INTERVAL`` (a test server of
    #: your own, a benchmark); without it such a policy is a ``ValueError``.
    allow_fast_polling: bool = False
    #: The hint headers read on every response (the reader's, else the defaults).
    hint_headers: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        for name in OPTION_FIELDS:  # each option's one check, as the clients run it
            check_option(name, getattr(self, name))
        if not self.allow_fast_polling:
            shortest = _shortest(self.policy)
            if shortest < MIN_INTERVAL:
                raise ValueError(
                    f"the policy's shortest interval is {shortest:g} s, below {MIN_INTERVAL:g}"
                    " s (it would poll the server many times a second); pass "
                    "allow_fast_polling=True if you mean it"
                )
        kinds = self.event_types
        if kinds is not None:
            if isinstance(kinds, str):  # a client's option takes one name; the config, a set
                raise ValueError("event_types must be a set of event names (non-empty strings)")
            object.__setattr__(self, "event_types", frozenset(kinds) or None)
        if isinstance(self.long_poll, bool):  # True/False are the clients' shorthands
            raise ValueError(f"long_poll must be a number of seconds in (0, {MAX_LONG_POLL:g}]")
        names = self.reader.hint_headers
        object.__setattr__(
            self, "hint_headers",
            DEFAULT_HINT_HEADERS if names is None else tuple(n.lower() for n in names),
        )


def _shortest(policy: Policy) -> float:
    """The shortest interval ``policy`` can wait, before jitter shortens it."""
    try:
        low = float(policy.bounds[0])
    except (AttributeError, TypeError, ValueError, IndexError):
        low = min(float(policy.delay(n)) for n in range(64))
    jitter = getattr(policy, "jitter", 0.0)
    if _number(jitter) and 0 < jitter < 1:
        low *= 1.0 - jitter
    return low


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def config_from_options(
    *,
    policy: Policy | None,
    spec: Reader | None,
    status_field: str | None,
    success: Iterable[str] | None,
    failure: Iterable[str] | None,
    change_on: Iterable[str] | str | None,
    model: type[BaseModel] | None,
    long_poll: float | bool | None,
    event_types: Iterable[str] | str | None = None,
    **rest: Any,
) -> WaitConfig:
    """A ``WaitConfig`` from a client's options. ``spec=`` replaces the whole reading of a
    document, so it cannot be combined with the shorthands that build one; ``success=`` and
    ``failure=`` add words to the defaults (to replace them, pass a ``StatusSpec``)."""
    shorthands = {
        "status_field": status_field, "success": success, "failure": failure,
        "change_on": change_on, "model": model,
    }
    given = sorted(k for k, v in shorthands.items() if v is not None)
    if spec is not None and given:
        raise TypeError(
            f"spec= cannot be combined with {', '.join(n + '=' for n in given)}: "
            "put those into the StatusSpec (or reader) instead"
        )
    if spec is None:
        # A word the caller adds to one side leaves the other: ``success=["stopped"]`` makes
        # ``stopped`` a success, not a clash with the default failure words.
        ok, bad = _words(success), _words(failure)
        spec = StatusSpec(
            status_field=status_field or "status",
            success=(DEFAULT_SUCCESS - bad) | ok,
            failure=(DEFAULT_FAILURE - ok) | bad,
            change_on=_fields(change_on),
            model=model,
        )
    if long_poll is True:
        long_poll = MAX_LONG_POLL
    elif long_poll is False:
        long_poll = None
    if isinstance(event_types, str):
        event_types = [event_types]  # one name, not its letters
    return WaitConfig(
        policy=policy if policy is not None else AdaptivePolicy(), reader=spec,
        long_poll=long_poll,
        event_types=frozenset(event_types) if event_types is not None else None, **rest,
    )


def _words(values: Iterable[str] | None) -> frozenset[str]:
    if values is None:
        return frozenset()
    if isinstance(values, str):
        values = values.split(",")
    return frozenset(v.strip().casefold() for v in values if v.strip())


def _fields(change_on: Iterable[str] | str | None) -> tuple[str, ...] | None:
    if not change_on:
        return None
    if isinstance(change_on, str):
        change_on = change_on.split(",")
    return tuple(c.strip() for c in change_on if c.strip()) or None
