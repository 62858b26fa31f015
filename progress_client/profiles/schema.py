"""The profile schema: strict pydantic models of a profile file's tables.

Every table forbids unknown keys, so a typo in a profile is an error that names the key. The
models only describe; ``profiles.profile`` loads files into them and ``profiles.reader``
evaluates them.
"""

from __future__ import annotations

import string
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from progress_client.profiles.expr import ExprError, compile_expr

__all__ = [
    "CancelSection",
    "Condition",
    "ErrorSection",
    "Locator",
    "PollSection",
    "Profile",
    "ProgressSection",
    "ResultSection",
    "Rule",
    "StartSection",
    "StatusSection",
]

_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz")
_PLACEHOLDERS = frozenset({"id", "start_url", "status_url", "origin"})
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]


def _expr(text: str) -> str:
    try:
        compile_expr(text)
    except ExprError as exc:
        raise PydanticCustomError("expression", str(exc)) from None
    return text


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, dict) else value


def _header_name(name: str) -> str:
    low = name.strip().lower()
    if not low or not set(low) <= _TOKEN:
        raise PydanticCustomError("header", f"not a header name: {name!r}")
    return low


Expression = Annotated[str, AfterValidator(_expr)]
HeaderName = Annotated[str, AfterValidator(_header_name)]
Scalar = bool | int | float | str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Condition(_Strict):
    """One test on a response. Exactly one subject: ``status``, ``path``, ``any``,
    ``http_status``, ``header`` or ``json_body``; ``path`` and ``header`` take exactly one
    predicate (``is``, ``is_not``, ``present``, ``above``, ``below``), ``any`` takes ``where``."""

    status: tuple[str, ...] | None = None
    path: Expression | None = None
    any: Expression | None = None
    http_status: tuple[int, ...] | None = None
    header: HeaderName | None = None
    json_body: bool | None = None
    is_: tuple[Scalar, ...] | None = Field(default=None, alias="is")
    is_not: tuple[Scalar, ...] | None = None
    present: bool | None = None
    above: float | None = None
    below: float | None = None
    where: dict[str, Scalar] | None = None

    @model_validator(mode="after")
    def _shape(self) -> Condition:
        subjects = [
            k for k in ("status", "path", "any", "http_status", "header", "json_body")
            if getattr(self, k) is not None
        ]
        if len(subjects) != 1:
            raise ValueError(
                "a condition names exactly one of status, path, any, http_status, header, "
                f"json_body (got {', '.join(subjects) or 'none'})"
            )
        predicates = [
            ("is" if k == "is_" else k)
            for k in ("is_", "is_not", "present", "above", "below")
            if getattr(self, k) is not None
        ]
        subject = subjects[0]
        if subject in ("path", "header") and len(predicates) != 1:
            raise ValueError(
                f"'{subject}' takes exactly one of is, is_not, present, above, below"
            )
        if subject not in ("path", "header") and predicates:
            raise ValueError(f"'{subject}' takes no '{predicates[0]}'")
        if (subject == "any") != (self.where is not None):
            raise ValueError("'where' goes with 'any' (and 'any' needs 'where')")
        return self


class Rule(_Strict):
    """Ordered outcome rule: when every condition holds, the job is ``then``."""

    when: Annotated[tuple[Condition, ...], BeforeValidator(_one_or_many)] = Field(min_length=1)
    then: Literal["succeeded", "failed", "running", "needs_action"]
    #: The status word to report instead of the document's own (or when it has none).
    label: str | None = None
    #: Where the failure's reason is: the first expression that finds a value wins.
    message: tuple[Expression, ...] = ()
    #: A remark kept on the status as the extra field ``note`` (e.g. partial failures).
    note: Expression | None = None
    #: A success with parts missing (some requests of a batch failed): kept on the status as
    #: ``partial = True``, shown in the summary and ``--json``. Only with ``then = "succeeded"``.
    partial: bool = False

    @model_validator(mode="after")
    def _partial(self) -> Rule:
        if self.partial and self.then != "succeeded":
            raise ValueError("'partial' goes with then = 'succeeded'")
        return self


class StatusSection(_Strict):
    path: Expression | None = None
    pending: tuple[str, ...] = ()
    succeeded: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    #: Words that mean "waits for a person" (a manual job, an approval, a paused run).
    needs_action: tuple[str, ...] = ()
    case_sensitive: bool = False
    #: The word to use when ``path`` finds nothing (without it, that is a bad response).
    missing: str | None = None
    #: HTTP codes at which an empty or non-JSON body is a valid reading (a binary result).
    any_body_on: tuple[int, ...] = ()

    @model_validator(mode="after")
    def _words(self) -> StatusSection:
        fold = (lambda w: w) if self.case_sensitive else str.casefold
        both = {fold(w) for w in self.succeeded} & {fold(w) for w in self.failed}
        if both:
            raise ValueError(f"words both succeeded and failed: {sorted(both)}")
        ended = {fold(w) for w in (*self.succeeded, *self.failed)}
        both = ended & {fold(w) for w in self.needs_action}
        if both:
            raise ValueError(f"words both an end and needs_action: {sorted(both)}")
        if any(not w.strip() for w in (
            *self.pending, *self.succeeded, *self.failed, *self.needs_action
        )):
            raise ValueError("an empty status word")
        return self


class ProgressSection(_Strict):
    path: Expression | None = None
    #: ``percent`` (0-100), ``fraction`` (0-1, scaled to 0-100) or ``ratio`` (a text
    #: "done/total" such as Argo's "2/4").
    scale: Literal["percent", "fraction", "ratio"] = "percent"
    #: When given, progress is ``100 * path / total`` (done and total counts).
    total: Expression | None = None
    #: A queue position, kept on the status as the extra field ``queue_position``.
    queue: Expression | None = None


class ErrorSection(_Strict):
    #: Where a failure's reason is: the first expression that finds a value wins.
    paths: tuple[Expression, ...] = Field(min_length=1)


class Locator(_Strict):
    """Where a URL is: a response header, a URL in a JSON body, or a template filled with an
    id read from a body. ``source`` says which response: the start response or the latest
    status document."""

    header: HeaderName | None = None
    body: Expression | None = None
    template: str | None = None
    id: Expression | None = None
    source: Literal["start", "status"] = "start"
    #: Only when the response's HTTP code is one of these (start responses).
    on: tuple[int, ...] = ()
    #: A path added to the URL found (Jenkins: "api/json" after a queue item's or build's URL).
    append: str | None = None
    #: Only when this expression is true of the response's JSON body (JMESPath truth: not
    #: false, null, "", [] or {}): Temporal follows its workflow only on CONTINUED_AS_NEW.
    when: Expression | None = None

    @model_validator(mode="after")
    def _shape(self) -> Locator:
        given = [k for k in ("header", "body", "template") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("a locator names exactly one of header, body, template")
        if self.template is None:
            if self.id is not None:
                raise ValueError("'id' goes with 'template'")
            return self
        try:
            names = {f for _, f, _, _ in string.Formatter().parse(self.template) if f is not None}
        except ValueError as exc:
            raise ValueError(f"template {self.template!r}: {exc}") from None
        unknown = names - _PLACEHOLDERS
        if unknown:
            raise ValueError(
                f"template {self.template!r}: unknown placeholder {{{sorted(unknown)[0]}}} "
                "(known: {id}, {start_url}, {status_url}, {origin})"
            )
        if "status_url" in names and self.source != "status":
            raise ValueError("a template with {status_url} reads the status: add source = 'status'")
        if "id" in names and self.id is None:
            raise ValueError("a template with {id} needs 'id' (where the id is)")
        return self


class StartSection(_Strict):
    method: Method = "POST"
    #: Whether the start request may be sent again after a transport error.
    idempotent: bool = False
    #: A header that makes a start safe to send again (``Idempotency-Key``): a key is made for
    #: each start (unless the caller gives that header), the same on every attempt, and the
    #: start is retried after a transport error.
    idempotency_key: HeaderName | None = None
    #: Where the status URL is, tried in order.
    status_url: tuple[Locator, ...] = Field(min_length=1)
    #: The start response's JSON is already a status document (read before the first poll).
    status_in_body: bool = False

    @field_validator("status_url")
    @classmethod
    def _from_start(cls, value: tuple[Locator, ...]) -> tuple[Locator, ...]:
        if any(loc.source != "start" for loc in value):
            raise ValueError("the status URL is found in the start response (source = 'start')")
        return value


class ResultSection(_Strict):
    """``document``: the final status document (or the part at ``path``); ``url``: a GET of
    the first URL found by ``url``; ``body``: the final 200 body of the status URL itself
    (a binary result); ``none``."""

    kind: Literal["document", "url", "body", "none"] = "document"
    path: Expression | None = None
    url: tuple[Locator, ...] = ()
    #: ``base64``: the value at ``path`` is base64 text (Stability's JSON mode, an image's
    #: b64_json): the result is its bytes (written to ``--output``); text that is not base64
    #: is kept as it is.
    decode: Literal["base64"] | None = None
    #: ``jsonl``: the result is JSON lines (a batch's results file: Anthropic's
    #: ``results_url``, OpenAI's output file). ``--output`` gets the lines as they come (never
    #: held whole); in memory it is a list of the parsed lines.
    format: Literal["jsonl"] | None = None

    @model_validator(mode="after")
    def _shape(self) -> ResultSection:
        if (self.kind == "url") != bool(self.url):
            raise ValueError("kind = 'url' needs 'url' (and only it takes one)")
        if self.path is not None and self.kind != "document":
            raise ValueError("'path' goes with kind = 'document'")
        if self.decode is not None and (self.kind != "document" or self.path is None):
            raise ValueError("'decode' goes with kind = 'document' and a 'path'")
        if self.format is not None and self.kind not in ("url", "body"):
            raise ValueError("'format' goes with kind = 'url' or 'body' (a body fetched)")
        return self


class PollSection(_Strict):
    """How a status is asked for when it is not a plain GET: a POST with a JSON body (a
    GraphQL query such as Dagster's), in which a string "{id}" at any depth becomes the job's
    id: read by ``id`` from the start answer, or, for a wait on a URL, from the URL's query
    parameter ``url_id`` (``.../graphql?runId=ID``)."""

    method: Literal["GET", "POST"] = "POST"
    body_json: dict[str, Any] | None = Field(default=None, alias="json")
    id: Expression | None = None
    url_id: str | None = None

    @model_validator(mode="after")
    def _shape(self) -> PollSection:
        if self.method == "GET" and self.body_json is not None:
            raise ValueError("a GET poll sends no 'json'")
        if "{id}" in repr(self.body_json) and self.id is None and self.url_id is None:
            raise ValueError("a poll body with \"{id}\" needs 'id' (where the start answer "
                             "has it) or 'url_id' (the status URL's query parameter)")
        return self


class CancelSection(_Strict):
    method: Method = "POST"
    url: tuple[Locator, ...] = Field(min_length=1)
    #: A JSON body; a string value "{id}" is replaced by the id (keeping its JSON type).
    body_json: dict[str, Any] | None = Field(default=None, alias="json")
    #: Where the body's id is (the latest status, else the start answer), whatever locator
    #: found the URL; without it, the URL locator's own ``id``.
    id: Expression | None = None


def _request_headers(value: dict[str, str]) -> dict[str, str]:
    from progress_client.transports.rules import is_credential_header  # httpx: only if headers

    for name in value:
        _header_name(name)
        # Stricter than the transport's test: any "key" or "subscription" header is refused
        # (Azure's Ocp-Apim-Subscription-Key).
        if is_credential_header(name) or any(w in name.lower() for w in ("key", "subscription")):
            raise PydanticCustomError(
                "credential",
                f"{name!r} carries credentials: a profile never holds them (give it with -H, "
                "or headers= in Python)",
            )
        if any(c in value[name] for c in "\r\n\0"):
            raise PydanticCustomError("header", f"the value of {name!r} has a line break")
    return value


RequestHeaders = Annotated[dict[str, str], AfterValidator(_request_headers)]


class Profile(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    sources: tuple[str, ...] = ()
    #: What "waits for a person" does: ``end`` the wait (``NeedsAction``, exit 5) or ``wait``
    #: on (the status then carries ``needs_action = True``).
    on_needs_action: Literal["end", "wait"] = "end"
    #: Headers sent with every request of the job (an API version, a beta flag, Accept):
    #: never credentials, which stay with the caller.
    headers: RequestHeaders = Field(default_factory=dict)
    status: StatusSection = StatusSection()
    outcome: tuple[Rule, ...] = ()
    progress: ProgressSection | None = None
    error: ErrorSection | None = None
    #: Fields whose change (besides the status word) resets the adaptive interval.
    change: tuple[Expression, ...] = ()
    #: Hint headers honoured, in order (None: the engine's defaults, every hint it knows).
    hints: tuple[HeaderName, ...] | None = None
    start: StartSection | None = None
    #: How a status is asked for when not with a plain GET (a GraphQL POST).
    poll: PollSection | None = None
    #: Where a status says the job goes on at another URL (a Jenkins queue item naming its
    #: build): the wait follows it and reads the new URL next (``source = "status"``).
    follow: tuple[Locator, ...] = ()
    result: ResultSection = ResultSection()
    cancel: CancelSection | None = None

    @field_validator("follow")
    @classmethod
    def _follow_from_status(cls, value: tuple[Locator, ...]) -> tuple[Locator, ...]:
        if any(loc.source != "status" for loc in value):
            raise ValueError("a URL to follow is found in a status (source = 'status')")
        return value

    @model_validator(mode="after")
    def _has_a_word(self) -> Profile:
        if self.status.path is None and self.status.missing is None:
            raise ValueError("status: give 'path' (where the status is) or 'missing'")
        return self

    @property
    def words(self) -> tuple[frozenset[str], frozenset[str]]:
        """The (succeeded, failed) words, case-folded unless the profile is case-sensitive."""
        fold = (lambda w: w) if self.status.case_sensitive else str.casefold
        return (
            frozenset(fold(w) for w in self.status.succeeded),
            frozenset(fold(w) for w in self.status.failed),
        )
