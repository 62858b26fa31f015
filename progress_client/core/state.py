"""The part of a wait that survives a restart: ``EngineState``, and its checked way back from a
resume token.

The state is plain data: the counters (``core.report.Counters``), the schedule's position, the last
status document, the validators and the stream's last event id. ``to_dict()`` is what a resume
token carries (the counters flat, as version 1 tokens always had them); ``from_dict()`` checks
every field's type and range and raises ``InvalidResumeToken`` on anything else. Pure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any

from progress_client.core.errors import InvalidResumeToken
from progress_client.core.report import (
    COUNTER_NAMES,
    MODES,
    Counters,
    Mode,
    PollReport,
    Tally,
    freeze,
)
from progress_client.core.resume import decode_token, encode_token

#: A tally's counts, as a tuple in ``COUNTER_NAMES`` order.
_counts = attrgetter(*COUNTER_NAMES)

__all__ = ["STATE_NAMES", "EngineState", "Snapshot", "attach_document", "detach_document",
           "snapshot_report", "snapshot_token"]


@dataclass(slots=True)
class EngineState:
    """What a resumed wait continues from; ``snapshot()`` copies it as it stands."""

    #: The counters as they run (a ``Tally``: ``Counters``'s fields, mutable).
    tally: Any = field(default_factory=Tally)
    elapsed_before: float = 0.0
    #: The answered part of ``elapsed_before`` (``PollReport.answered_elapsed``).
    answered_elapsed_before: float = 0.0
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
        return dict(zip(STATE_NAMES, self.snapshot(
            None, 0.0, self.elapsed_before, None, self.answered_elapsed_before)[2:]))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EngineState:
        """Rebuild a state from ``to_dict()`` output; ``InvalidResumeToken`` on anything
        else."""
        # ``extra`` was an always-empty field of 0.1's tokens: accepted when empty.
        if data.get("extra", {}) != {}:
            raise InvalidResumeToken("the resume token's extra is not empty")
        known = {*STATE_NAMES, "extra"}
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
            answered_elapsed_before=_duration(data, "answered_elapsed_before"),
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

    def snapshot(self, url: str | None, baseline: float, elapsed: float,
                 next_delay: float | None, answered_elapsed: float = 0.0) -> Snapshot:
        """This state as it stands now, as plain values: a tuple, so it costs the garbage
        collector nothing to keep (an ``Update`` keeps one for its report and token)."""
        return (
            url, baseline, *_counts(self.tally), elapsed, answered_elapsed, self.unchanged,
            self.consecutive_errors, self.last_key,
            self.last_document, self.etag, self.last_modified, self.last_event_id, self.mode,
            self.next_delay if next_delay is None else next_delay,
        )

    @classmethod
    def from_token(cls, token: str, url: str) -> EngineState:
        """The state a token carries, after its version, checksum and URL checks."""
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


#: ``to_dict()``'s names, in the order of a snapshot's values: the counters, then the other
#: fields (``snapshot()`` lists their values in this order; a test holds it to it).
STATE_NAMES: tuple[str, ...] = (
    *COUNTER_NAMES, *(f.name for f in fields(EngineState) if f.name != "tally"),
)
#: ``(url, baseline interval, *values in STATE_NAMES order)``: one flat tuple.
Snapshot = tuple[Any, ...]
_COUNTS = slice(2, 2 + len(COUNTER_NAMES))
_ELAPSED, _MODE = 2 + STATE_NAMES.index("elapsed_before"), 2 + STATE_NAMES.index("mode")
_ANSWERED = 2 + STATE_NAMES.index("answered_elapsed_before")
_DOCUMENT = 2 + STATE_NAMES.index("last_document")


def detach_document(snapshot: Snapshot) -> tuple[Snapshot, dict[str, Any] | None]:
    """The snapshot without its document (``None`` in its place), and the document.

    A tuple that holds a dict stays tracked by the garbage collector for good, and is walked
    on every pass; one of strings and numbers only is untracked at its first. With thousands
    of waits each keeping its last update, that is one object and a score of references
    fewer per wait."""
    doc = snapshot[_DOCUMENT]
    if doc is None:
        return snapshot, None
    return (*snapshot[:_DOCUMENT], None, *snapshot[_DOCUMENT + 1:]), doc


def attach_document(snapshot: Snapshot, doc: dict[str, Any] | None) -> Snapshot:
    """``detach_document`` undone: the snapshot with its document back in place."""
    if doc is None:
        return snapshot
    return (*snapshot[:_DOCUMENT], doc, *snapshot[_DOCUMENT + 1:])


def snapshot_report(snapshot: Snapshot) -> PollReport:
    """The ``PollReport`` of a snapshot."""
    return PollReport.of(Counters(*snapshot[_COUNTS]), elapsed=snapshot[_ELAPSED],
                         baseline_interval=snapshot[1], mode=snapshot[_MODE],
                         answered_elapsed=snapshot[_ANSWERED])


def snapshot_token(snapshot: Snapshot) -> str | None:
    """The resume token of a snapshot (``None`` without a URL)."""
    url = snapshot[0]
    if url is None:
        return None
    return encode_token(url, dict(zip(STATE_NAMES, snapshot[2:])))
