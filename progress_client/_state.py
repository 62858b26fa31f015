"""The part of a wait that survives a restart: ``EngineState``, and its checked way back from a
resume token.

The state is plain data: the counters (``_report.Counters``), the schedule's position, the last
status document, the validators and the stream's last event id. ``to_dict()`` is what a resume
token carries (the counters flat, as version 1 tokens always had them); ``from_dict()`` checks
every field's type and range and raises ``InvalidResumeToken`` on anything else. Pure.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from ._errors import InvalidResumeToken
from ._report import COUNTER_NAMES, MODES, Counters, Mode, Tally, freeze

__all__ = ["EngineState"]


@dataclass
class EngineState:
    """What a resumed wait continues from. The engine rebinds these fields, never mutates the
    values in place, so a shallow copy is a snapshot."""

    #: The counters as they run (a ``Tally``: ``Counters``'s fields, mutable).
    tally: Any = field(default_factory=Tally)
    elapsed_before: float = 0.0
    unchanged: int = 0
    consecutive_errors: int = 0
    last_key: str | None = None
    last_document: dict[str, Any] | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_event_id: str | None = None
    mode: Mode = "poll"
    next_delay: float = 0.0

    @property
    def counts(self) -> Counters:
        """The counters as they stand, frozen."""
        return freeze(self.tally)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (for resume tokens), counters flat."""
        out: dict[str, Any] = {name: getattr(self.tally, name) for name in COUNTER_NAMES}
        for f in fields(self):
            if f.name != "tally":
                out[f.name] = getattr(self, f.name)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EngineState:
        """Rebuild a state from ``to_dict()`` output; ``InvalidResumeToken`` on anything
        else."""
        # ``extra`` was an always-empty field of 0.1's tokens: accepted when empty.
        if data.get("extra", {}) != {}:
            raise InvalidResumeToken("the resume token's extra is not empty")
        known = set(COUNTER_NAMES) | {f.name for f in fields(cls)} | {"extra"}
        unknown = sorted(set(data) - known - {"tally"})
        if unknown or "tally" in data:
            raise InvalidResumeToken(
                f"the resume token has unknown fields: {(unknown or ['tally'])[:5]}"
            )
        ints = {name: _count(data, name) for name in (*COUNTER_NAMES, "unchanged",
                                                       "consecutive_errors")}
        doc = data.get("last_document")
        if doc is not None and not isinstance(doc, dict):
            raise InvalidResumeToken("the resume token's last_document is not an object")
        mode = data.get("mode", "poll")
        if mode not in MODES:
            raise InvalidResumeToken("the resume token's mode is not poll, long-poll or sse")
        return cls(
            tally=Tally(**{name: ints[name] for name in COUNTER_NAMES}),
            elapsed_before=_duration(data, "elapsed_before"),
            unchanged=ints["unchanged"],
            consecutive_errors=ints["consecutive_errors"],
            last_key=_text(data, "last_key"),
            last_document=doc,
            etag=_text(data, "etag"),
            last_modified=_text(data, "last_modified"),
            last_event_id=_text(data, "last_event_id"),
            mode=mode,
            next_delay=_duration(data, "next_delay"),
        )

    def token_factory(
        self, url: str, elapsed: float, next_delay: float | None
    ) -> Callable[[], str]:
        """A resume token of this state as it stands now, built when called. The snapshot is
        a shallow copy: the engine rebinds the state's fields, never mutates them."""
        snapshot = EngineState.__new__(EngineState)
        snapshot.__dict__.update(self.__dict__)
        snapshot.tally = freeze(self.tally)  # the same names, frozen
        snapshot.elapsed_before = elapsed
        if next_delay is not None:
            snapshot.next_delay = next_delay
        return functools.partial(_encode, url, snapshot)

    @classmethod
    def from_token(cls, token: str, url: str) -> EngineState:
        """The state a token carries, after its version, checksum and URL checks."""
        from ._resume import decode_token  # tokens load their code when first used

        return cls.from_dict(decode_token(token, url))


def _count(data: Mapping[str, Any], name: str) -> int:
    v = data.get(name, 0)
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise InvalidResumeToken(f"the resume token's {name} is not a count")
    return v


def _duration(data: Mapping[str, Any], name: str) -> float:
    v = data.get(name, 0.0)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not (
        math.isfinite(v) and v >= 0
    ):
        raise InvalidResumeToken(f"the resume token's {name} is not a duration")
    return float(v)


def _text(data: Mapping[str, Any], name: str) -> str | None:
    v = data.get(name)
    if v is not None and not isinstance(v, str):
        raise InvalidResumeToken(f"the resume token's {name} is not a string")
    return v


def _encode(url: str, state: EngineState) -> str:
    from ._resume import encode_token

    return encode_token(url, state.to_dict())
