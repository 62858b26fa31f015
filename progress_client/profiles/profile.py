"""Profiles: how to start, read, end and cancel a vendor's job, as data (a TOML or JSON file).

A profile is to a job API what a botocore waiter model is to an AWS operation, for any
vendor: where the status word is and which words end the job, ordered outcome rules for the
vendors whose outcome is somewhere else (GitHub's ``conclusion``, Google's ``done`` +
``error``, Kubernetes' conditions, Stability's HTTP status code), where progress and the
failure's reason are, which hint headers to honour, and how a job is started, where its
result is and where a cancel goes. The schema (``profiles.schema``) is strict, so a typo is a
``ProfileError`` naming the file and the key: ``profile file x.toml: outcome[2].when[0]:
unknown key 'feild'``.

``load_profile(name_or_path)`` loads a built-in (``progress_client/profiles/NAME.toml``) or a
file; ``compile_profile(profile, success=..., failure=...)`` (``profiles.reader``) turns it into
the reader the engine calls on every response. Pure: no I/O except reading the file.
"""

from __future__ import annotations

import difflib
import json
import os
import sys
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from progress_client.core.sanitize import redact_secrets
from progress_client.profiles.reader import ProfileReader, compile_profile
from progress_client.profiles.schema import (
    CancelSection,
    Condition,
    Locator,
    Profile,
    ResultSection,
    Rule,
    StartSection,
    StatusSection,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = [
    "BUILTIN_DIR",
    "CancelSection",
    "Condition",
    "Locator",
    "Profile",
    "ProfileError",
    "ProfileReader",
    "ResultSection",
    "Rule",
    "StartSection",
    "StatusSection",
    "builtin_names",
    "compile_profile",
    "lint_profile",
    "load_profile",
    "parse_profile",
]

BUILTIN_DIR = Path(__file__).parent


class ProfileError(ValueError):
    """A profile that cannot be loaded: which file (or built-in), which key, what is wrong."""

    #: The CLI exit code (a usage error).
    exit_code = 2

    def __init__(self, message: str) -> None:
        self.message = redact_secrets(message)
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


def builtin_names() -> tuple[str, ...]:
    """The built-in profiles' names, sorted."""
    return tuple(sorted(p.stem for p in BUILTIN_DIR.glob("*.toml")))


def load_profile(spec: str | os.PathLike[str]) -> Profile:
    """A built-in by name (``github-actions``) or a ``.toml`` / ``.json`` file by path."""
    text = os.fspath(spec)
    if isinstance(spec, os.PathLike) or any(c in text for c in "/\\") or text.endswith(
        (".toml", ".json")
    ):
        return _load_file(Path(text), f"profile file {text}")
    path = BUILTIN_DIR / f"{text}.toml"
    if not path.is_file():
        names = ", ".join(builtin_names())
        raise ProfileError(
            f"unknown profile {text!r}: built-in profiles are {names}; "
            "or give the path of a .toml or .json file"
        )
    return _load_file(path, f"profile {text}")


def _load_file(path: Path, where: str) -> Profile:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ProfileError(f"{where}: no such file") from None
    except OSError as exc:
        raise ProfileError(f"{where}: cannot read it ({exc.strerror or exc})") from None
    data = _decode(raw, path.suffix.lower(), where)
    data.setdefault("name", path.stem)
    return parse_profile(data, where=where)


def _decode(raw: bytes, suffix: str, where: str) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ProfileError(f"{where}: not UTF-8 text") from None
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProfileError(
                f"{where}: not valid JSON: {exc.msg} (at line {exc.lineno}, column {exc.colno})"
            ) from None
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ProfileError(f"{where}: not valid TOML: {exc}") from None
    if not isinstance(data, dict):
        raise ProfileError(f"{where}: the file must hold a table (a JSON object)")
    return data


def parse_profile(data: dict[str, Any], *, where: str = "profile") -> Profile:
    """Validate a decoded profile (``extends`` resolved); errors name ``where`` and the key."""
    data = dict(data)
    parent = data.pop("extends", None)
    if parent is not None:
        data = _extend(parent, data, where)
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(f"{where}: {_first_error(exc)}") from None


def _extend(parent: Any, child: dict[str, Any], where: str) -> dict[str, Any]:
    """A child profile replaces the built-in's keys one table deep; its ``outcome`` rules
    come before the built-in's (so they win); only built-ins can be extended."""
    if not isinstance(parent, str) or parent not in builtin_names():
        raise ProfileError(f"{where}: extends: unknown built-in profile {parent!r}")
    path = BUILTIN_DIR / f"{parent}.toml"
    base = _decode(path.read_bytes(), ".toml", f"profile {parent}")
    merged = dict(base)
    for key, value in child.items():
        if key == "outcome" and isinstance(value, list):
            merged["outcome"] = [*value, *base.get("outcome", [])]
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = {**base[key], **value}
        else:
            merged[key] = value
    return merged


def lint_profile(path: str | os.PathLike[str]) -> list[str]:
    """Every problem of a profile file, one line each (``file: key: problem``, with a "did you
    mean" for an unknown key); an empty list when it loads."""
    where = f"profile file {os.fspath(path)}"
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        return [f"{where}: cannot read it ({getattr(exc, 'strerror', None) or exc})"]
    try:
        data = _decode(raw, Path(path).suffix.lower(), where)
        data.setdefault("name", Path(path).stem)
        data = dict(data)
        parent = data.pop("extends", None)
        if parent is not None:
            data = _extend(parent, data, where)
    except ProfileError as exc:
        return [str(exc)]
    try:
        Profile.model_validate(data)
    except ValidationError as exc:
        return [redact_secrets(f"{where}: {_describe(err)}")
                for err in exc.errors(include_url=False)]
    return []


def _first_error(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    more = len(errors) - 1
    return _describe(errors[0]) + (f" (and {more} more)" if more else "")


def _describe(err: Any) -> str:
    """One validation error as ``key.path: problem``."""
    loc = list(err.get("loc", ()))
    kind = err.get("type", "")
    msg = str(err.get("msg", "invalid"))
    if kind == "extra_forbidden" and loc:
        key = loc.pop()
        text = f"{_where(loc)}: unknown key {str(key)!r}" if loc else f"unknown key {key!r}"
        guess = _did_you_mean(loc, str(key))
        if guess:
            text += f" (did you mean {guess!r}?)"
    elif kind == "missing" and loc:
        key = loc.pop()
        text = f"{_where(loc)}: missing key {str(key)!r}" if loc else f"missing key {key!r}"
    else:
        msg = msg.removeprefix("Value error, ")
        text = f"{_where(loc)}: {msg}" if loc else msg
    return text


def _did_you_mean(loc: list[Any], key: str) -> str | None:
    """The known key closest to ``key`` in the table at ``loc`` (the schema's own names)."""
    model: type[BaseModel] = Profile
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        found: type[BaseModel] | None = None
        for arg in (field.annotation, *typing.get_args(field.annotation)):
            for inner in (arg, *typing.get_args(arg)):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    found = inner
        if found is None:
            return None
        model = found
    names = [f.alias or n for n, f in model.model_fields.items()]
    close = difflib.get_close_matches(key, names, n=1, cutoff=0.5)
    return close[0] if close else None


def _where(loc: list[Any]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + ("is" if part == "is_" else str(part))
    return out
