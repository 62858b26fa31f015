"""What ``wait`` and ``run`` share about reading a job: a profile, status words added or
replaced, long-polling, the remote cancel; turned into the client's keyword arguments, and
the lines and JSON fields that say what became of a cancel.

Words: ``--success`` / ``--failure`` ADD to the default words (or the profile's);
``--only-success`` / ``--only-failure`` REPLACE them (a profile's outcome rules still apply).

Light on purpose, like ``_common``: the parsers use it, so the profile loader and the status
model are imported inside the functions, and only when an option needs them."""

from __future__ import annotations

import argparse
import contextlib
from typing import TYPE_CHECKING, Any

from ._common import positive_float

if TYPE_CHECKING:
    from .._profile_schema import Profile

__all__ = [
    "add_reading_options",
    "cancel_fields",
    "cancel_note",
    "client_options",
    "usage_text",
    "words",
]

#: The longest hold ``--long-poll`` may ask for (the client's own limit), in seconds.
MAX_LONG_POLL = 60.0


def add_reading_options(p: argparse.ArgumentParser) -> None:
    """The options ``wait`` and ``run`` share: the policy (``--initial``, ``--step``,
    ``--max``, ``--baseline``), how a document is read (``--status-field``, ``--success``,
    ``--failure``, ``--only-success``, ``--only-failure``, ``--change-on``, ``--profile``),
    ``--max-errors``, ``--long-poll`` and ``--cancel-on-exit``."""
    p.add_argument("--initial", type=positive_float, default=3.0, help="first interval (3 s)")
    p.add_argument("--step", type=positive_float, default=1.0, help="added per unchanged (1 s)")
    p.add_argument("--max", type=positive_float, default=8.0, dest="maximum",
                   help="largest interval (8 s)")
    p.add_argument("--baseline", type=positive_float, default=1.0,
                   help="the fixed interval savings are counted against (1 s)")
    p.add_argument("--status-field", default=None,
                   help="dotted path of the status field, e.g. data.state (default: status)")
    p.add_argument("--success", default=None,
                   help="comma-separated success words, ADDED to the defaults (or the profile's)")
    p.add_argument("--failure", default=None,
                   help="comma-separated failure words, ADDED to the defaults (or the profile's)")
    p.add_argument("--change-on", default=None,
                   help="comma-separated fields whose change resets the interval")
    p.add_argument("--max-errors", type=int, default=10,
                   help="transient errors in a row before giving up (10)")
    p.add_argument("--profile", default=None, metavar="NAME|FILE",
                   help="how the job API is read, started and cancelled: a built-in profile "
                        "('progress-client profiles' lists them) or a .toml/.json file")
    p.add_argument("--only-success", default=None, metavar="WORDS",
                   help="comma-separated success words that REPLACE the defaults (or the "
                        "profile's); --success adds to them instead")
    p.add_argument("--only-failure", default=None, metavar="WORDS",
                   help="comma-separated failure words that REPLACE the defaults (or the "
                        "profile's); --failure adds to them instead")
    p.add_argument("--long-poll", nargs="?", const=True, default=None, type=positive_float,
                   metavar="N",
                   help="ask the server to hold each poll (Prefer: wait=N; 60 s without N, "
                        "write --long-poll=N); a server that does not gets the schedule")
    p.add_argument("--on-needs-action", choices=("wait", "end"), default=None,
                   help="when the profile says the job waits for a person (a manual CI job, "
                        "an approval): end with exit 5 (the profiles' default) or wait on")
    p.add_argument("--cancel-on-exit", action="store_true",
                   help="on timeout or Ctrl-C send the profile's cancel request once (within "
                        "5 s) and say whether it was accepted")


def words(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [w.strip() for w in text.split(",") if w.strip()]


def client_options(args: argparse.Namespace) -> dict[str, Any]:
    """The client keyword arguments for how documents are read. A usage mistake or a bad
    profile is a ``ValueError`` (``ProfileError`` is one) with a one-line message."""
    ok, bad = words(args.success), words(args.failure)
    only_ok, only_bad = words(args.only_success), words(args.only_failure)
    change = words(args.change_on)
    for adds, only, side in ((ok, only_ok, "success"), (bad, only_bad, "failure")):
        if adds is not None and only is not None:
            raise ValueError(f"--{side} adds words and --only-{side} replaces them: give one")
    long_poll: Any = args.long_poll
    if isinstance(long_poll, float) and not 0 < long_poll <= MAX_LONG_POLL:
        raise ValueError(f"--long-poll takes a number of seconds in (0, {MAX_LONG_POLL:g}]")
    if args.profile is not None:
        if args.status_field is not None:
            raise ValueError("--status-field cannot be used with --profile: the profile says "
                             "where the status is (a profile file can extend it)")
        profile = _profile(args.profile, only_ok, only_bad, change,
                           getattr(args, "on_needs_action", None))
        return {"profile": profile, "success": ok, "failure": bad, "long_poll": long_poll}
    if getattr(args, "on_needs_action", None) is not None:
        raise ValueError("--on-needs-action goes with --profile: a profile says which "
                         "statuses wait for a person")
    if only_ok is None and only_bad is None:
        return {"status_field": args.status_field, "success": ok, "failure": bad,
                "change_on": change, "long_poll": long_poll}
    from .. import StatusSpec
    from .._models import DEFAULT_FAILURE, DEFAULT_SUCCESS

    fold_ok = {w.casefold() for w in ok or ()}
    fold_bad = {w.casefold() for w in bad or ()}
    spec = StatusSpec(
        status_field=args.status_field or "status",
        success=frozenset(only_ok) if only_ok is not None else (
            (DEFAULT_SUCCESS - fold_bad) | fold_ok),
        failure=frozenset(only_bad) if only_bad is not None else (
            (DEFAULT_FAILURE - fold_ok) | fold_bad),
        change_on=tuple(change) if change else None,
    )
    return {"spec": spec, "long_poll": long_poll}


def _profile(
    name: str, only_ok: list[str] | None, only_bad: list[str] | None, change: list[str] | None,
    on_needs_action: str | None = None,
) -> Profile:
    """The profile ``name`` (a built-in or a file), its words replaced, change fields added
    and its needs-action choice set as the options say, checked again as a whole."""
    from .._profile import load_profile, parse_profile

    profile = load_profile(name)
    if only_ok is None and only_bad is None and not change and on_needs_action is None:
        return profile
    data = profile.model_dump(by_alias=True, exclude_none=True)
    status = dict(data["status"])
    if only_ok is not None:
        status["succeeded"] = only_ok
    if only_bad is not None:
        status["failed"] = only_bad
    data["status"] = status
    if change:
        data["change"] = [*data.get("change", ()), *change]
    if on_needs_action is not None:
        data["on_needs_action"] = on_needs_action
    return parse_profile(data, where=f"profile {name} with the command's words")


def usage_text(exc: BaseException) -> str:
    """A usage error's one line: a profile error as it is (it names the file and the key, its
    secrets already redacted), anything else sanitized."""
    import sys

    from .. import sanitize

    loaded = sys.modules.get("progress_client._profile")
    if loaded is not None and isinstance(exc, loaded.ProfileError):
        return str(exc)
    return sanitize(exc)


def cancel_note(exc: BaseException, asked: bool) -> str | None:
    """What became of the remote cancel, for the summary (``None``: not asked for)."""
    if not asked:
        return None
    done = getattr(exc, "cancelled_remote", None)
    if done is True:
        return "the remote job was cancelled (the cancel request was accepted)"
    if done is False:
        return "the cancel request was sent but not accepted: the remote job may still run"
    return ("no cancel was sent (the job had ended, its cancel URL was not known yet, or the "
            "profile names no cancel request)")


def cancel_fields(exc: BaseException | None) -> dict[str, Any]:
    """``cancelled_remote`` for ``--json``: true, false, or null when none was sent."""
    return {"cancelled_remote": getattr(exc, "cancelled_remote", None) if exc else None}


def live_display(on: bool) -> contextlib.AbstractContextManager[Any]:
    """rich's Live line on stderr when it is a terminal (rich is imported only then)."""
    if not on:
        return contextlib.nullcontext()
    from rich.console import Console
    from rich.live import Live

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    return Live(console=err, transient=True, auto_refresh=False, redirect_stdout=False,
                redirect_stderr=False)
