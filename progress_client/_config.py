"""One immutable, validated configuration for a client's waits, passed whole to the engine.

``WaitConfig`` holds everything that decides a wait: the policy (no interval below
``MIN_INTERVAL`` unless ``allow_fast_polling=True``), how a response is read (a
``Reader``: ``StatusSpec`` or a compiled profile), the report's baseline, error and hint
limits, the body limit, the request timeout, conditional requests, the stream's failure limit
and long-polling. It is checked once, when built: a bad value is a ``ValueError`` there, not at
the first wait. ``config_from_options`` turns a client's keyword options into one, and refuses
contradictory ones (``spec=`` with ``status_field=``...) with a ``TypeError``. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._hints import DEFAULT_HINT_HEADERS
from ._models import DEFAULT_FAILURE, DEFAULT_SUCCESS, Reader, StatusSpec
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

#: The default response size limit: 1 MiB, read no further.
DEFAULT_MAX_BODY = 1 << 20
DEFAULT_REQUEST_TIMEOUT = 30.0
#: The longest hold a long poll asks for (RFC 7240 ``Prefer: wait=N``), in seconds.
MAX_LONG_POLL = 60.0
#: The shortest interval a policy may have without ``allow_fast_polling=True``, in seconds:
#: below it a wait polls the server many times a second (a typo, or a load test).
MIN_INTERVAL = 0.05


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
    #: Ask the server to hold each poll up to this many seconds (``None``: no long-polling).
    long_poll: float | None = None
    #: Accept a policy whose shortest interval is below ``MIN_INTERVAL`` (a test server of
    #: your own, a benchmark); without it such a policy is a ``ValueError``.
    allow_fast_polling: bool = False
    #: The hint headers read on every response (the reader's, else the defaults).
    hint_headers: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        _count("max_consecutive_errors", self.max_consecutive_errors)
        _count("sse_max_failures", self.sse_max_failures)
        _count("max_body", self.max_body)
        if not (_number(self.hint_cap) and self.hint_cap >= 0):
            raise ValueError("hint_cap must be a finite number >= 0")
        for name in ("baseline", "request_timeout"):
            v = getattr(self, name)
            if not (_number(v) and v > 0):
                raise ValueError(f"{name} must be a finite number > 0")
        if not self.allow_fast_polling:
            shortest = _shortest(self.policy)
            if shortest < MIN_INTERVAL:
                raise ValueError(
                    f"the policy's shortest interval is {shortest:g} s, below {MIN_INTERVAL:g}"
                    " s (it would poll the server many times a second); pass "
                    "allow_fast_polling=True if you mean it"
                )
        lp = self.long_poll
        if lp is not None and not (_number(lp) and 0 < lp <= MAX_LONG_POLL):
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


def _count(name: str, v: Any) -> None:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {v!r}")


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
    return WaitConfig(
        policy=policy if policy is not None else AdaptivePolicy(), reader=spec,
        long_poll=long_poll, **rest,
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
