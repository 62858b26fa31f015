"""What a durable wait keeps in its store: ``WaitRecord`` (one wait: what to wait on, how far
it got, how it ended) and ``DurableOutcome`` (how it ended, as the application's handler gets
it). Plain data with a JSON form; no I/O.

A record never holds a credential: no header is stored (headers are given again when the
waits are resumed), the start request's body is kept only until its answer is checkpointed,
and the resume token and the outcome carry sanitized text only. URLs are stored as given, so a
URL that carries a secret in its query (a signed URL) is in the store as it is.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from progress_client.core.report import COUNTER_NAMES, Counters, PollReport

__all__ = ["DurableOutcome", "Phase", "WaitRecord", "check_key", "check_metadata"]

#: ``starting``: a run whose start request may be on its way (no answer checkpointed yet);
#: ``waiting``: polling (the status URL is known); ``delivering``: ended, the outcome is
#: stored and goes to the handler; ``done``: the handler returned.
Phase = Literal["starting", "waiting", "delivering", "done"]

#: The caller's metadata, as JSON, is small: it is rewritten with every checkpoint.
MAX_METADATA_BYTES = 16 * 1024
MAX_KEY_CHARS = 200
#: A JSON result larger than this is not kept in the store (its size is).
MAX_STORED_RESULT = 256 * 1024


def check_key(key: str) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS or not key.isprintable():
        raise ValueError(f"a wait's key is a printable string of 1 to {MAX_KEY_CHARS} characters")
    return key


def check_metadata(metadata: Any) -> Any:
    try:
        text = json.dumps(metadata, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError):
        raise ValueError("metadata must be JSON (dicts, lists, strings, numbers)") from None
    if len(text.encode()) > MAX_METADATA_BYTES:
        raise ValueError(f"metadata is larger than {MAX_METADATA_BYTES} bytes as JSON")
    return json.loads(text)


@dataclass
class DurableOutcome:
    """How a durable wait ended, as its handler gets it (also after a restart, from the store).

    ``outcome``: ``succeeded``, ``failed`` (the job said so), ``timeout`` or ``error``;
    ``exit_code`` the CLI's (0, 1, 3, 4); ``result`` the job's JSON result (``run``; ``None``
    for bytes, whose size is ``result_bytes``); ``report`` what the whole wait cost, across
    restarts; ``error`` a sanitized message."""

    key: str
    outcome: str
    status: str | None = None
    progress: float | None = None
    error: str | None = None
    exit_code: int = 0
    status_url: str | None = None
    result: Any = None
    result_bytes: int | None = None
    report: PollReport = field(default_factory=PollReport)
    metadata: Any = None
    #: This outcome was handed to a handler before, whose process stopped before the store
    #: marked it delivered (at-least-once: a handler may skip a key it has seen).
    redelivered: bool = field(default=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.outcome == "succeeded"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: every field, the report as ``PollReport.to_dict()``."""
        out = {f.name: getattr(self, f.name) for f in fields(self)
               if f.name not in ("report", "redelivered")}
        out["report"] = self.report.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DurableOutcome:
        rep = data.get("report") or {}
        report = PollReport.of(
            Counters(**{name: int(rep.get(name, 0)) for name in COUNTER_NAMES}),
            elapsed=float(rep.get("elapsed_s", 0.0)),
            baseline_interval=float(rep.get("baseline_interval_s", 1.0)),
            mode=rep.get("mode", "poll"),
        )
        kw: dict[str, Any] = {f.name: data.get(f.name) for f in fields(cls)
                              if f.name not in ("report", "exit_code", "redelivered")}
        return cls(**kw, exit_code=int(data.get("exit_code", 0)), report=report)


@dataclass
class WaitRecord:
    """One durable wait, as its store keeps it."""

    key: str
    kind: Literal["wait", "run"]
    #: A wait's status URL; a run's start URL.
    url: str
    profile: str | None = None
    events_url: str | None = None
    #: A run: the start request (its body only until the answer is checkpointed).
    method: str = "GET"
    body_b64: str | None = None
    content_type: str | None = None
    status_template: str | None = None
    #: The caller's own small JSON.
    metadata: Any = None
    #: When the wait gives up (epoch seconds), across restarts; ``None``: never.
    deadline: float | None = None
    #: Where the wait is; see ``Phase``.
    phase: Phase = "waiting"
    #: What the start's answer said (a run): the status URL, and the answer itself
    #: (``code``, the headers that name URLs, the JSON body) for the result and cancel.
    status_url: str | None = None
    start: dict[str, Any] | None = None
    #: The token of the wait's webhook URL (``{public_url}/{token}``): it routes, it does
    #: not authenticate (each webhook's signature does).
    hook_token: str | None = None
    #: The engine's resume token at the last checkpoint (sanitized; no credential).
    token: str | None = None
    requests: int = 0
    last_status: str | None = None
    outcome: dict[str, Any] | None = None
    #: Which process runs it (``host:pid``), and when it last wrote (epoch seconds).
    owner: str | None = None
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)

    @property
    def body(self) -> bytes | None:
        return None if self.body_b64 is None else base64.b64decode(self.body_b64)

    @property
    def poll_url(self) -> str | None:
        """The URL polled: a wait's own, a run's once started."""
        return self.url if self.kind == "wait" else self.status_url

    def time_left(self, now: float | None = None) -> float | None:
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - (time.time() if now is None else now))

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> WaitRecord:
        data = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})
