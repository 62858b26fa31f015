"""``--store`` on ``wait`` and ``run``, and what ``resume`` shares with them: a durable wait
from the command line (``waitstore``), its outcome printed once, its exit code.

The store holds no credential: headers come from ``-H`` (on ``resume`` too) and from the
environment variable ``PROGRESS_CLIENT_HEADERS`` (one ``Name: value`` per line), read again by
every process that continues the waits."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING, Any

from . import EXIT_INTERRUPTED, EXIT_USAGE
from ._common import parse_header

if TYPE_CHECKING:
    from ..waitstore import DurableOutcome, WaitStore

__all__ = ["add_store_options", "durable_client", "outcome_json", "print_outcome",
           "run_durable"]

#: Environment variable with headers for every request, one ``Name: value`` per line.
HEADERS_ENV = "PROGRESS_CLIENT_HEADERS"
#: Options a stored wait cannot carry over to ``resume`` (its profile can).
_NOT_STORED = ("status_field", "success", "failure", "only_success", "only_failure",
               "change_on", "resume", "output", "form", "long_poll", "cancel_on_exit")


def add_store_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", default=None, metavar="FILE|redis://...",
                   help="register the wait in this store (a SQLite file, or a Redis URL) so "
                        "that 'progress-client resume --store ...' continues it after a "
                        "restart")
    p.add_argument("--key", default=None, metavar="K",
                   help="the wait's key in the store (default: a new random one, printed)")


def env_headers() -> list[tuple[str, str]]:
    text = os.environ.get(HEADERS_ENV, "")
    out = []
    for line in text.splitlines():
        if line.strip():
            try:
                out.append(parse_header(line))
            except argparse.ArgumentTypeError as exc:
                raise ValueError(f"{HEADERS_ENV}: {exc}") from None
    return out


def open_cli_store(where: str) -> WaitStore:
    from ..waitstore import open_store

    try:
        return open_store(where)
    except ImportError as exc:
        raise ValueError(str(exc)) from None


def durable_client(args: argparse.Namespace, headers: list[tuple[str, str]]) -> Any:
    from .. import AdaptivePolicy, ProgressClient

    policy = AdaptivePolicy(initial=args.initial, step=args.step, maximum=args.maximum)
    return ProgressClient(policy=policy, baseline=args.baseline if args.baseline > 0 else 1.0,
                          headers=dict([*env_headers(), *headers]),
                          max_consecutive_errors=max(1, args.max_errors))


def outcome_json(outcome: DurableOutcome) -> dict[str, Any]:
    """One outcome as the CLI prints it: the outcome's fields, the report's flat."""
    data = outcome.to_dict()
    report = data.pop("report")
    return {**data, **report}


def print_outcome(outcome: DurableOutcome, as_json: bool, quiet: bool) -> None:
    from ._common import summary_line

    if as_json:
        sys.stdout.write(json.dumps(outcome_json(outcome), ensure_ascii=False) + "\n")
        sys.stdout.flush()
        return
    word = outcome.status or outcome.outcome
    line = f"{outcome.key}: {outcome.outcome}"
    if outcome.error:
        line += f": {outcome.error}"
    print(line, file=sys.stderr, flush=True)
    if not quiet:
        print(f"{outcome.key}: {summary_line(word, outcome.report)}", file=sys.stderr,
              flush=True)
    if outcome.result is not None:
        sys.stdout.write(json.dumps(outcome.result, ensure_ascii=False) + "\n")
        sys.stdout.flush()


def run_durable(args: argparse.Namespace, command: str, **start: Any) -> int:
    """``wait``/``run`` with ``--store``: register the wait, follow it, print its outcome."""
    import secrets

    from .. import sanitize
    from ..waitstore import KeyInUse

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    given = [name for name in _NOT_STORED
             if getattr(args, name, None) not in (None, False, [])]
    if given:
        say(f"progress-client {command}: error: --store keeps a wait's URL, profile and "
            f"timeout; {', '.join('--' + n.replace('_', '-') for n in given)} cannot be stored "
            "(write a profile file instead)")
        return EXIT_USAGE
    key = args.key or secrets.token_hex(8)
    try:
        store = open_cli_store(args.store)
        client = durable_client(args, args.header)
    except ValueError as exc:
        say(f"progress-client {command}: error: {sanitize(exc)}")
        return EXIT_USAGE
    if args.key is None and not args.quiet:
        say(f"progress-client: key {key} in {args.store}")

    def handler(outcome: DurableOutcome) -> None:
        print_outcome(outcome, args.json, args.quiet)

    try:
        with client, store:
            durable = client.durable(store, handler=handler)
            if command == "wait":
                outcome = durable.wait(args.url, key=key, profile=args.profile,
                                       events_url=args.events, timeout=args.timeout)
            else:
                outcome = durable.run(args.url, key=key, profile=args.profile,
                                      timeout=args.timeout, **start)
    except (KeyInUse, ValueError, TypeError) as exc:
        say(f"progress-client {command}: error: {sanitize(exc)}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        say(f"interrupted; 'progress-client resume --store {args.store}' continues it")
        return EXIT_INTERRUPTED
    return int(outcome.exit_code)
