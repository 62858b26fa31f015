"""``progress-client profiles``: the built-in job API profiles, one line each, or one in full.

``profiles`` lists name, where the status is, the ending words, the other fields the outcome
is read from, the hint headers and how a job is started. ``profiles show NAME|FILE`` checks a
profile (a built-in, or a ``.toml`` / ``.json`` file of your own) and prints its file, comments
and sources included. A profile with a mistake ends with exit 2 and a one-line error naming
the file and the key.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from . import COMMANDS, EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from progress_client.profiles.schema import Locator, Profile

__all__ = ["add_parser", "describe", "run"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "profiles",
        help=COMMANDS["profiles"],
        description=(
            "List the built-in profiles (how each job API is started, read and ended), or show "
            "one with 'profiles show NAME'. 'profiles show FILE' checks a profile file of your "
            "own and prints it."
        ),
    )
    p.add_argument("--json", action="store_true", help="print the listing as JSON")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    show = actions.add_parser("show", help="print one profile (a built-in name or a file)")
    show.add_argument("name", metavar="NAME|FILE", help="a built-in name or a .toml/.json path")
    lint = actions.add_parser(
        "lint", help="check a profile file: every problem, with its key (exit 2 if any)")
    lint.add_argument("files", metavar="FILE", nargs="+", help="a .toml or .json profile")
    test = actions.add_parser(
        "test", help="read one status with a profile: GET URL once and show what it makes of it")
    test.add_argument("name", metavar="NAME|FILE", help="a built-in name or a .toml/.json path")
    test.add_argument("url", metavar="URL", help="a status URL of the API")
    test.add_argument("-H", "--header", action="append", default=[], dest="headers",
                      metavar="'NAME: VALUE'", help="a request header (repeatable)")
    test.add_argument("--json", action="store_true", dest="as_json",
                      help="print what was read as JSON")
    export = actions.add_parser("export", help="every built-in profile as data")
    export.add_argument("--format", choices=("json",), default="json",
                        help="the format (json)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # start-up: a command loads its heavy parts in run (~100 ms here)
    from progress_client.profiles.profile import (
        BUILTIN_DIR,
        ProfileError,
        builtin_names,
        load_profile,
    )

    action = getattr(args, "action", None)
    if action == "lint":
        return _lint(args.files)
    if action == "test":
        from ._profiles_test import read_once  # start-up: only `profiles test` loads httpx

        return read_once(args.name, args.url, args.headers, args.as_json)
    if action == "export":
        data = [load_profile(n).model_dump(mode="json", by_alias=True, exclude_none=True)
                for n in builtin_names()]
        sys.stdout.write(json.dumps({"version": 1, "profiles": data}, ensure_ascii=False,
                                    indent=1) + "\n")
        return EXIT_OK
    if action == "show":
        try:
            profile = load_profile(args.name)
        except ProfileError as exc:
            print(f"progress-client: {exc}", file=sys.stderr)
            return EXIT_USAGE
        builtin = args.name in builtin_names()
        path = BUILTIN_DIR / f"{args.name}.toml" if builtin else args.name
        with open(path, encoding="utf-8") as f:
            text = f.read()
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        if not builtin:
            print(f"# ok: {describe(profile)['summary']}")
        return EXIT_OK
    rows = [describe(load_profile(name)) for name in builtin_names()]
    if args.json:
        sys.stdout.write(json.dumps({"profiles": rows}, ensure_ascii=False) + "\n")
        return EXIT_OK
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        print(f"{r['name']:<{width}}  {r['summary']}")
    return EXIT_OK


def _lint(files: list[str]) -> int:
    # start-up: a command loads its heavy parts in run (~100 ms here)
    from progress_client.profiles.profile import lint_profile

    bad = 0
    for name in files:
        problems = lint_profile(name)
        for line in problems:
            print(line)
        if problems:
            bad += 1
        else:
            print(f"{name}: ok")
    return EXIT_USAGE if bad else EXIT_OK


def describe(profile: Profile) -> dict[str, Any]:
    """The listing's fields for one profile, and its one-line summary."""
    ok = sorted(profile.status.succeeded)
    bad = sorted(profile.status.failed)
    fields: list[str] = []
    for rule in profile.outcome:
        for cond in rule.when:
            subject = (
                cond.path or cond.any
                or (f"{cond.header} header" if cond.header else None)
                or ("HTTP status" if cond.http_status is not None else None)
            )
            if subject and subject not in fields and subject != profile.status.path:
                fields.append(subject)
    start = [_locator(loc) for loc in profile.start.status_url] if profile.start else []
    row: dict[str, Any] = {
        "name": profile.name,
        "status": profile.status.path,
        "succeeded": ok,
        "failed": bad,
        "outcome_fields": fields,
        "hints": list(profile.hints) if profile.hints is not None else None,
        "start": start,
        "result": profile.result.kind,
        "cancel": profile.cancel.method if profile.cancel else None,
        "needs_action": sorted(profile.status.needs_action) + [
            r.label or "(rule)" for r in profile.outcome if r.then == "needs_action"],
    }
    words = f"{','.join(ok) or '-'} / {','.join(bad) or '-'}"
    summary = [
        f"status={profile.status.path or '(none)'}",
        f"words={words}",
        f"outcome+={'; '.join(_short(f) for f in fields) or '-'}",
        f"hints={','.join(profile.hints) if profile.hints is not None else 'default'}",
        f"start={' | '.join(start) or '-'}",
    ]
    if row["needs_action"]:
        summary.append(f"needs-a-person={','.join(row['needs_action'])}")
    row["summary"] = "  ".join(summary)
    return row


def _locator(loc: Locator) -> str:
    if loc.header is not None:
        return f"{loc.header} header" + (f" on {'/'.join(map(str, loc.on))}" if loc.on else "")
    if loc.body is not None:
        return f"body {loc.body}"
    return f"{loc.id} -> {loc.template}" if loc.id else f"{loc.template}"


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
