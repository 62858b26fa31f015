"""A profile, compiled into the reader the engine calls on every 2xx response.

``ProfileReader.read(doc, status_code=..., headers=...)`` returns a ``Reading``: the status word,
whether the job ended (and how), progress, the failure's reason, the change key. The order of
theory: the outcome rules first (the first rule whose conditions all hold decides), then the
status words; a word in neither set means "still running", as azure-core and botocore do. The
only exception it raises is ``BadResponse`` (a document that is not a status document).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ValidationError

from progress_client.core.errors import BadResponse
from progress_client.core.models import Reading
from progress_client.core.status import JobStatus

if TYPE_CHECKING:
    from progress_client.core.models import Reader
from progress_client.profiles.expr import MISSING, compile_expr
from progress_client.profiles.schema import Condition, Profile, Rule

__all__ = ["ProfileReader", "compile_profile"]

_MAX_TEXT = 4096
_Ending = Literal["succeeded", "failed", "needs_action"]
_KINDS = {"list": "an array", "str": "a string", "int": "a number", "float": "a number",
          "bool": "a boolean"}


def compile_profile(
    profile: Profile,
    *,
    success: Iterable[str] = (),
    failure: Iterable[str] = (),
    replace_words: bool = False,
) -> ProfileReader:
    """The profile's reader. ``success`` / ``failure`` words are added to the profile's own
    (a word given here leaves the other set); ``replace_words=True`` uses them instead."""
    fold = (lambda w: w) if profile.status.case_sensitive else str.casefold
    add_ok = frozenset(fold(w.strip()) for w in _split(success) if w.strip())
    add_bad = frozenset(fold(w.strip()) for w in _split(failure) if w.strip())
    both = add_ok & add_bad
    if both:
        raise ValueError(f"status words both success and failure: {sorted(both)}")
    ok, bad = profile.words
    if replace_words:
        ok, bad = add_ok, add_bad
    else:
        ok, bad = (ok - add_bad) | add_ok, (bad - add_ok) | add_bad
    needs = frozenset(fold(w) for w in profile.status.needs_action) - ok - bad
    return ProfileReader(profile, ok, bad, needs)


def _split(words: Iterable[str]) -> list[str]:
    return words.split(",") if isinstance(words, str) else list(words)


@dataclass(frozen=True)
class _View:
    """What one rule may look at: the document, the word, the HTTP code and headers."""

    data: dict[str, Any]
    word: str | None
    json_body: bool
    status_code: int
    headers: Mapping[str, str]


@dataclass(frozen=True)
class ProfileReader:
    """Implements the reader protocol (``read``, ``accepts_body``, ``hint_headers``)."""

    profile: Profile
    success: frozenset[str]
    failure: frozenset[str]
    #: Words that mean "waits for a person" (case-folded unless the profile is case-sensitive).
    needs_action: frozenset[str] = frozenset()

    @property
    def reads_headers(self) -> bool:
        """Whether an outcome rule looks at a response header (Stability's finish-reason)."""
        return any(c.header is not None for r in self.profile.outcome for c in r.when)

    @property
    def request_headers(self) -> dict[str, str]:
        """Headers the profile sends with every request (an API version, a beta flag)."""
        return self.profile.headers

    @property
    def hint_headers(self) -> tuple[str, ...] | None:
        """The profile's hint headers, in order (None: the engine's defaults)."""
        return self.profile.hints

    def accepts_body(self, status_code: int, content_type: str | None) -> bool:
        """True when an empty or non-JSON body is a valid reading at this HTTP code."""
        return status_code in self.profile.status.any_body_on

    def read(
        self, doc: Any, *, status_code: int = 200, headers: Mapping[str, str] | None = None
    ) -> Reading:
        data, json_body = self._document(doc, status_code)
        word = self._word(data)
        view = _View(data, word, json_body, status_code, headers or {})
        rule = next((r for r in self.profile.outcome if _matches(r, view)), None)
        outcome: _Ending | None
        if rule is not None:
            outcome = None if rule.then == "running" else rule.then
            word = rule.label or word or self.profile.status.missing or rule.then
        else:
            if word is None:
                if self.profile.status.missing is None:
                    raise BadResponse(f"the response has no {self.profile.status.path!r} field")
                word = self.profile.status.missing
            outcome = self._outcome_of(word)
        return self._reading(data, word, outcome, rule)

    def _document(self, doc: Any, status_code: int) -> tuple[dict[str, Any], bool]:
        if isinstance(doc, dict):
            return doc, True
        if status_code in self.profile.status.any_body_on:
            return {}, False
        if doc is None:
            raise BadResponse("the response has no JSON body")
        kind = _KINDS.get(type(doc).__name__, type(doc).__name__)
        raise BadResponse(f"expected a JSON object with a status, got {kind}")

    def _word(self, data: dict[str, Any]) -> str | None:
        path = self.profile.status.path
        if path is None:
            return None
        raw = compile_expr(path).search(data)
        if raw is MISSING:
            return None
        if isinstance(raw, bool):
            return "true" if raw else "false"
        if isinstance(raw, str):
            return raw
        if isinstance(raw, (int, float)):
            return str(raw)
        kind = "an object" if isinstance(raw, dict) else "an array"
        raise BadResponse(f"the {path!r} field is not a status word (got {kind})")

    def _outcome_of(self, word: str) -> _Ending | None:
        key = word if self.profile.status.case_sensitive else word.casefold()
        if key in self.success:
            return "succeeded"
        if key in self.failure:
            return "failed"
        if key in self.needs_action:
            return "needs_action"
        return None

    def _reading(
        self,
        data: dict[str, Any],
        word: str,
        outcome: _Ending | None,
        rule: Rule | None,
    ) -> Reading:
        fields: dict[str, Any] = {k: v for k, v in data.items() if _plain_key(k)}
        if outcome == "needs_action":
            # Waits for a person: the wait ends there, or goes on with the status flagged.
            fields["needs_action"] = True
            if self.profile.on_needs_action == "wait":
                outcome = None
        fields["status"] = word
        fields["step"] = _step(fields.get("step"))
        fields["progress"], queue = self._progress(data)
        if queue is not None:
            fields["queue_position"] = queue
        wants = fields.get("needs_action") is True
        fields["error"] = self._reason(data, rule) if outcome == "failed" or wants else None
        if rule is not None and rule.note is not None:
            note = _first(data, (rule.note,))
            if note is not None:
                fields["note"] = note
        if rule is not None and rule.partial and outcome == "succeeded":
            fields["partial"] = True
        try:
            status = JobStatus.model_validate(fields)
        except ValidationError as exc:  # pragma: no cover - every field is coerced above
            raise BadResponse(
                f"the status document is not valid: {exc.error_count()} errors"
            ) from None
        return Reading(status=status, document=status, key=self._key(data, word),
                       outcome=outcome, raw=data)

    def _progress(self, data: dict[str, Any]) -> tuple[float | None, int | None]:
        spec = self.profile.progress
        if spec is None:
            return None, None
        queue = _number(compile_expr(spec.queue).search(data)) if spec.queue else None
        position = int(queue) if queue is not None and queue >= 0 else None
        if spec.path is None:
            return None, position
        raw = compile_expr(spec.path).search(data)
        value = _ratio(raw) if spec.scale == "ratio" else _number(raw)
        if value is not None and spec.total is not None:
            total = _number(compile_expr(spec.total).search(data))
            value = 100.0 * value / total if total else None
        elif value is not None and spec.scale == "fraction":
            value *= 100.0
        if value is None or not math.isfinite(value):
            return None, position
        return min(100.0, max(0.0, value)), position

    def _reason(self, data: dict[str, Any], rule: Rule | None) -> str | None:
        paths: tuple[str, ...] = rule.message if rule is not None else ()
        if self.profile.error is not None:
            paths = (*paths, *self.profile.error.paths)
        return _first(data, paths)

    def _key(self, data: dict[str, Any], word: str) -> str:
        folded = word if self.profile.status.case_sensitive else word.casefold()
        if not self.profile.change:
            return "s:" + folded
        values = [compile_expr(p).search(data) for p in self.profile.change]
        parts = [folded, *(None if v is MISSING else v for v in values)]
        return json.dumps(parts, sort_keys=True, default=str, ensure_ascii=False)


def _matches(rule: Rule, view: _View) -> bool:
    return all(_holds(c, view) for c in rule.when)


def _holds(cond: Condition, view: _View) -> bool:
    if cond.status is not None:
        return view.word is not None and any(_same(view.word, w) for w in cond.status)
    if cond.http_status is not None:
        return view.status_code in cond.http_status
    if cond.json_body is not None:
        return view.json_body == cond.json_body
    if cond.any is not None:
        items = compile_expr(cond.any).search(view.data)
        where = cond.where or {}
        return isinstance(items, list) and any(
            isinstance(item, dict)
            and all(_same(item.get(k, MISSING), v) for k, v in where.items())
            for item in items
        )
    if cond.header is not None:
        value: Any = _header(view.headers, cond.header)
    else:
        value = compile_expr(cond.path or "").search(view.data)
    return _predicate(cond, value)


def _predicate(cond: Condition, value: Any) -> bool:
    if cond.present is not None:
        return (value is not MISSING) == cond.present
    if cond.is_ is not None:
        return any(_same(value, v) for v in cond.is_)
    if cond.is_not is not None:
        return not any(_same(value, v) for v in cond.is_not)
    number = _number(value)
    if number is None:
        return False
    if cond.above is not None:
        return number > cond.above
    return cond.below is not None and number < cond.below


def _same(value: Any, expected: Any) -> bool:
    """Strings compare case-insensitively, booleans only with booleans, numbers as numbers."""
    if isinstance(expected, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(expected, bool) and value is expected
    if isinstance(expected, str):
        return isinstance(value, str) and value.casefold() == expected.casefold()
    return isinstance(value, (int, float)) and value == expected


def _header(headers: Mapping[str, str], name: str) -> Any:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return MISSING if value is None else value.strip()


def _first(data: dict[str, Any], paths: Iterable[str]) -> str | None:
    for path in paths:
        value = compile_expr(path).search(data)
        if value is MISSING or value == "" or value == [] or value == {}:
            continue
        text = value if isinstance(value, str) else json.dumps(
            value, ensure_ascii=False, default=str, sort_keys=True
        )
        return text[:_MAX_TEXT]
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, (int, float)):
            number = float(value)
        elif isinstance(value, str):
            number = float(value.strip().rstrip("%"))
        else:
            return None
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _ratio(value: Any) -> float | None:
    """``"2/4"`` as 50.0 (percent); anything else, or a total of 0, as None."""
    if not isinstance(value, str) or value.count("/") != 1:
        return None
    done, total = (_number(part) for part in value.split("/"))
    return None if done is None or not total else 100.0 * done / total


def _step(value: Any) -> str | int | None:
    if value is None or (isinstance(value, (str, int)) and not isinstance(value, bool)):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)[:_MAX_TEXT]


def _plain_key(key: str) -> bool:
    # Extra fields become attributes of JobStatus: keep pydantic's own names out of them.
    return not (key.startswith("_") or key.startswith("model_"))


if TYPE_CHECKING:

    def _is_a_reader(reader: ProfileReader) -> Reader:
        return reader  # mypy checks that ProfileReader implements the engine's protocol
