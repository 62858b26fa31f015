"""Field expressions of a profile: where a value is in a decoded JSON document.

An expression is either a dotted path (``status``, ``run.info.status``, ``task-id``,
``items.0.state``: read here, with no library) or, for anything else, a JMESPath expression
(``status.conditions[?type=='Failed'] | [0].reason``), compiled once per text by ``jmespath``,
which is imported only when a profile needs it (start-up time matters to a CLI).

``search`` never raises on odd data: an absent field, a JSON ``null``, a type error inside a
JMESPath function all read as ``MISSING``. A profile can only say "present" or "absent"; it
cannot tell ``null`` from a missing key, and no vendor here gives the two different meanings.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import jmespath
from jmespath.exceptions import JMESPathError

__all__ = ["MISSING", "Expr", "ExprError", "compile_expr", "is_missing"]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


#: What ``search`` returns for an absent field (or a JSON null).
MISSING: Any = _Missing()

_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_DOTTED = re.compile(rf"{_NAME}(?:\.(?:{_NAME}|[0-9]+))*\Z")


class ExprError(ValueError):
    """An expression that is neither a dotted path nor valid JMESPath."""


class Expr(Protocol):
    @property
    def text(self) -> str: ...

    def search(self, doc: Any) -> Any: ...


def is_missing(value: Any) -> bool:
    return value is MISSING


@dataclass(frozen=True)
class DottedPath:
    """``a.b.0.c``: object keys, and list indexes for all-digit parts."""

    text: str
    parts: tuple[str, ...]

    def search(self, doc: Any) -> Any:
        cur = doc
        for part in self.parts:
            if isinstance(cur, dict):
                cur = cur.get(part, MISSING)
                if cur is MISSING:
                    return MISSING
            elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
                cur = cur[int(part)]
            else:
                return MISSING
        return MISSING if cur is None else cur


@dataclass(frozen=True)
class JMESPathExpr:
    text: str
    compiled: Any

    def search(self, doc: Any) -> Any:
        try:
            value = self.compiled.search(doc)
        # A status document is untrusted input: whatever a JMESPath function makes of it
        # (a type error, a recursion limit on a deep document) reads as "not there".
        except Exception:
            return MISSING
        return MISSING if value is None else value


@lru_cache(maxsize=1024)
def compile_expr(text: str) -> Expr:
    """Compile ``text``; raises ``ExprError`` (a short, one-line message) when it is invalid."""
    if not isinstance(text, str) or not text.strip():
        raise ExprError("an empty expression")
    if _DOTTED.match(text):
        return DottedPath(text, tuple(text.split(".")))

    with warnings.catch_warnings():
        # jmespath only warns about `text` (a JSON literal that is not JSON); make it an error
        # here, whatever the caller's warning filters are, so a profile means one thing.
        warnings.simplefilter("error", PendingDeprecationWarning)
        try:
            return JMESPathExpr(text, jmespath.compile(text))
        except JMESPathError as exc:
            raise ExprError(f"bad JMESPath expression {text!r}: {_describe(exc)}") from None
        except PendingDeprecationWarning:
            raise ExprError(
                f"bad JMESPath expression {text!r}: `...` holds JSON; write a string as 'text'"
            ) from None
        except (RecursionError, ValueError) as exc:
            raise ExprError(f"bad JMESPath expression {text!r}: {exc}") from None


def _describe(exc: Exception) -> str:
    """One line out of jmespath's multi-line messages (they draw a caret under the text)."""
    detail = getattr(exc, "message", None) or getattr(exc, "msg", None) or "invalid"
    if detail == "Invalid jmespath expression" and getattr(exc, "token_value", None) is None:
        detail = "incomplete expression"
    pos = getattr(exc, "lex_position", None)
    return f"{detail} at column {pos + 1}" if isinstance(pos, int) else str(detail)
