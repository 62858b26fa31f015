"""StatusSpec: how a status document is read, when it is terminal, what a change is.

``StatusSpec`` is the one place that knows the shape of a user's status endpoint: the dotted
path of the status field (``status``, ``data.state`` ...), the success and failure words
(case-insensitive by default), the fields whose change resets the adaptive interval
(``change_on``; by default the status field alone) and, optionally, the user's own pydantic
model. ``StatusSpec.read(document)`` turns a decoded JSON value into a ``Reading`` or raises
``BadResponse``. Pure: no I/O.

``Reader`` is what the engine needs of any such object: ``StatusSpec`` is one, a vendor profile
(``progress_client.profiles``) compiles into another.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from progress_client.core.errors import BadResponse

if TYPE_CHECKING:
    from pydantic import BaseModel

    from progress_client.core.status import JobStatus

__all__ = [
    "DEFAULT_FAILURE",
    "DEFAULT_SUCCESS",
    "Reader",
    "Reading",
    "StatusSpec",
]

DEFAULT_SUCCESS: frozenset[str] = frozenset(
    {"completed", "complete", "succeeded", "success", "done", "finished"}
)
#: Failure words, including the terminal words real job APIs use (Replicate ``aborted``, Step
#: Functions and RunPod ``TIMED_OUT``, MLflow ``KILLED``, Celery ``REVOKED``, Ray ``STOPPED``,
#: Databricks ``INTERNAL_ERROR``, GitHub ``startup_failure``). ``terminated`` is left out: it
#: is ambiguous without an outcome field (a profile reads that).
DEFAULT_FAILURE: frozenset[str] = frozenset(
    {
        "failed", "failure", "error", "errored", "cancelled", "canceled", "expired",
        "aborted", "timed_out", "timedout", "killed", "revoked", "stopped", "internal_error",
        "startup_failure",
    }
)

Outcome = Literal["succeeded", "failed", "needs_action"]


class Reading:
    """One status document, read: the normalized status, the user's model, the change key
    and whether it is terminal.

    ``status`` (and ``document``, the same ``JobStatus`` unless a model was given) may be
    built on first access (``make(raw, word)``): a poll whose body changed but whose status
    did not (a progress figure ticking) needs only the key and the outcome, and an update
    nobody reads the status of never builds it."""

    __slots__ = ("_document", "_make", "_status", "_word", "key", "outcome", "raw")

    def __init__(
        self,
        status: JobStatus | None = None,
        document: BaseModel | None = None,
        key: str = "",
        outcome: Outcome | None = None,
        raw: dict[str, Any] | None = None,
        *,
        make: Callable[[dict[str, Any], str], JobStatus] | None = None,
        word: str = "",
    ) -> None:
        if status is None and make is None:
            raise TypeError("a Reading needs its status or a way to make it")
        self._status = status
        self._document = document
        self._make = make
        self._word = word
        self.key = key
        self.outcome = outcome
        #: The decoded document as it came (what a resume token stores and reads again).
        self.raw: dict[str, Any] = raw if raw is not None else {}

    @property
    def status(self) -> JobStatus:
        if self._status is None:
            assert self._make is not None
            self._status, self._make = self._make(self.raw, self._word), None
        return self._status

    @property
    def document(self) -> BaseModel:
        return self._document if self._document is not None else self.status

    def __repr__(self) -> str:
        return f"Reading(key={self.key!r}, outcome={self.outcome!r})"


class Reader(Protocol):
    """How the engine reads a 2xx response that is not a 304: ``StatusSpec`` for a status
    word, a compiled profile for other shapes."""

    @property
    def hint_headers(self) -> tuple[str, ...] | None:
        """Lower-case header names read as poll hints, in order of preference (``None``: the
        defaults, ``core.hints.DEFAULT_HINT_HEADERS``)."""
        ...

    @property
    def reads_headers(self) -> bool:
        """Whether a reading depends on the response's headers too. When it does not, the
        engine reuses the last reading for a body identical to the last one (most polls)."""
        ...

    def read(
        self, doc: Any, *, status_code: int = 200, headers: Mapping[str, str] | None = None
    ) -> Reading:
        """Read a decoded JSON body (``None`` when ``accepts_body`` let a non-JSON one
        through). Raises ``BadResponse`` when it is not a status document."""
        ...

    def accepts_body(self, status_code: int, content_type: str | None) -> bool:
        """Whether a body that is empty or not JSON is a valid answer at this status code
        (the status is then in the code itself)."""
        ...


_MISSING = object()


def _get_path(doc: Any, path: tuple[str, ...]) -> Any:
    cur = doc
    for part in path:
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return _MISSING
    return cur


def _split(path: str) -> tuple[str, ...]:
    parts = tuple(p for p in path.split("."))
    if not path or any(not p for p in parts):
        raise ValueError(f"invalid field path {path!r}: use dotted names such as 'data.state'")
    return parts


def _words(values: Iterable[str], case_sensitive: bool) -> frozenset[str]:
    if isinstance(values, str):
        values = [v for v in values.split(",")]
    words = {v.strip() for v in values if v.strip()}
    return frozenset(words if case_sensitive else {w.casefold() for w in words})


@dataclass(frozen=True)
class StatusSpec:
    """How to read a status document. All options have defaults that fit most endpoints."""

    status_field: str = "status"
    success: frozenset[str] = DEFAULT_SUCCESS
    failure: frozenset[str] = DEFAULT_FAILURE
    change_on: tuple[str, ...] | None = None
    model: type[BaseModel] | None = None
    case_sensitive: bool = False
    _status_path: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _change_paths: tuple[tuple[str, ...], ...] = field(init=False, repr=False, compare=False)
    #: ``core.status`` bound once (a reading keeps it, not a bound method or a partial of its own).
    _make_status: Callable[[dict[str, Any], str], JobStatus] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "success", _words(self.success, self.case_sensitive))
        object.__setattr__(self, "failure", _words(self.failure, self.case_sensitive))
        overlap = self.success & self.failure
        if overlap:
            raise ValueError(f"status words both success and failure: {sorted(overlap)}")
        object.__setattr__(self, "_status_path", _split(self.status_field))
        change_on = self.change_on if self.change_on else (self.status_field,)
        if isinstance(change_on, str):
            change_on = tuple(c.strip() for c in change_on.split(",") if c.strip())
        object.__setattr__(self, "change_on", tuple(change_on))
        object.__setattr__(self, "_change_paths", tuple(_split(c) for c in change_on))
        object.__setattr__(self, "_make_status", self._status)

    def outcome_of(self, status: str) -> Outcome | None:
        word = status if self.case_sensitive else status.casefold()
        if word in self.success:
            return "succeeded"
        if word in self.failure:
            return "failed"
        return None

    @property
    def hint_headers(self) -> tuple[str, ...] | None:
        return None  # a status word brings no hint headers of its own: the defaults apply

    @property
    def reads_headers(self) -> bool:
        return False

    def accepts_body(self, status_code: int, content_type: str | None) -> bool:
        return False

    def read(
        self, doc: Any, *, status_code: int = 200, headers: Mapping[str, str] | None = None
    ) -> Reading:
        """Read a decoded JSON document. Raises ``BadResponse`` when it is not a status."""
        if not isinstance(doc, dict):
            kind = type(doc).__name__ if doc is not None else "null"
            kind = {"list": "an array", "str": "a string", "dict": "an object"}.get(kind, kind)
            raise BadResponse(f"expected a JSON object with a status field, got {kind}")
        raw = _get_path(doc, self._status_path)
        if raw is _MISSING or raw is None:
            raise BadResponse(f"the response has no {self.status_field!r} field")
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
            raise BadResponse(
                f"the {self.status_field!r} field is not a string (got {type(raw).__name__})"
            )
        status_word = str(raw)
        document: BaseModel | None = None
        if self.model is not None:
            from pydantic import ValidationError  # start-up: no pydantic before the first request

            try:
                document = self.model.model_validate(doc)
            except ValidationError as exc:
                first = exc.errors()[0]
                where = ".".join(str(p) for p in first.get("loc", ())) or "document"
                raise BadResponse(
                    f"the status document does not fit {self.model.__name__}: "
                    f"{where}: {first.get('msg', 'invalid')}"
                ) from None
        key = self._key(doc)
        outcome = self.outcome_of(status_word)
        # The JobStatus is built when first asked for (most unchanged polls never are).
        return Reading(
            document=document, key=key, outcome=outcome, raw=doc, make=self._make_status,
            word=status_word,
        )


    def _status(self, doc: dict[str, Any], status_word: str) -> JobStatus:
        """The normalized ``JobStatus``: the fields next to the status field (for
        ``data.state``, the object under ``data``) supply step, progress and error; the whole
        document is kept."""
        path = self._status_path
        parent = _get_path(doc, path[:-1]) if len(path) > 1 else doc
        fields: dict[str, Any] = dict(doc)
        if isinstance(parent, dict) and parent is not doc:
            for name in ("step", "progress", "error"):
                if name in parent and name not in fields:
                    fields[name] = parent[name]
        fields["status"] = status_word
        fields["step"] = _coerce_step(fields.get("step"))
        fields["progress"] = _coerce_progress(fields.get("progress"))
        err = fields.get("error")
        if err is not None and not isinstance(err, str):
            err = json.dumps(err, ensure_ascii=False, default=str)[:4096]
        fields["error"] = err
        try:
            return _job_status().model_validate(fields)
        except ValueError as exc:  # pragma: no cover - fields are coerced above
            count = getattr(exc, "error_count", lambda: 1)()
            raise BadResponse(f"the status document is not valid: {count} errors") from None

    def _key(self, doc: dict[str, Any]) -> str:
        """The change key: a change of it resets the adaptive interval."""
        parts = [_get_path(doc, p) for p in self._change_paths]
        if len(parts) == 1 and isinstance(parts[0], str):
            # The common case (the status word alone) needs no JSON; the prefix keeps these
            # keys apart from JSON ones, which never start with "s:".
            return "s:" + (parts[0] if self.case_sensitive else parts[0].casefold())
        key = json.dumps(
            [None if v is _MISSING else v for v in parts],
            sort_keys=True, default=str, ensure_ascii=False,
        )
        if not self.case_sensitive and len(self._change_paths) == 1:
            key = key.casefold()
        return key


@functools.cache
def _job_status() -> type[JobStatus]:
    """``JobStatus``, imported with the first response read (pydantic is not needed before
    the first request is sent)."""
    from progress_client.core.status import JobStatus  # start-up: it loads pydantic

    return JobStatus


def _coerce_step(v: Any) -> str | int | None:
    if v is None or (isinstance(v, (str, int)) and not isinstance(v, bool)):
        return v
    return str(v)


def _coerce_progress(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip().rstrip("%"))
        except ValueError:
            return None
    return None
