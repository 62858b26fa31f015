"""``progress-client resume --store FILE``: continue every unfinished durable wait of a store
(after a restart), print each outcome once (``--json``: one JSON line each), exit with the
worst outcome's code (0 all succeeded, 1 a job failed, 3 a timeout, 4 an error; 0 when there
was nothing to continue).

Headers are not in the store: give them again with ``-H`` or ``PROGRESS_CLIENT_HEADERS``."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from .. import sanitize
from . import COMMANDS, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from ._common import parse_header, positive_float
from ._durable import (
    _listening,
    add_webhook_options,
    durable_client,
    open_cli_store,
    print_outcome,
    webhook_receiver,
)

if TYPE_CHECKING:
    from ..waitstore import DurableOutcome

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "resume",
        help=COMMANDS["resume"],
        description=(
            "Continue every unfinished wait of a store (registered with 'wait --store' or "
            "'run --store', or from Python), each where its last checkpoint left it: no start "
            "request is sent again, counters carry on. Each outcome is printed once; the exit "
            "code is the worst outcome's."
        ),
    )
    p.add_argument("--store", required=True, metavar="FILE|redis://...",
                   help="the store: a SQLite file, or a Redis URL")
    p.add_argument("-H", "--header", action="append", type=parse_header, default=[],
                   metavar="'NAME: VALUE'",
                   help="a header for every request (repeatable); also read from "
                        "PROGRESS_CLIENT_HEADERS, one 'Name: value' per line")
    p.add_argument("--initial", type=positive_float, default=3.0, help="first interval (3 s)")
    p.add_argument("--step", type=positive_float, default=1.0, help="added per unchanged (1 s)")
    p.add_argument("--max", type=positive_float, default=8.0, dest="maximum",
                   help="largest interval (8 s)")
    p.add_argument("--baseline", type=positive_float, default=1.0,
                   help="the fixed interval savings are counted against (1 s)")
    p.add_argument("--max-errors", type=int, default=10,
                   help="transient errors in a row before giving up (10)")

    add_webhook_options(p)
    p.add_argument("--json", action="store_true", help="one JSON object per outcome on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="only the outcomes")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    # start-up: a command loads its heavy parts in run (waitstore, httpx)
    from ..waitstore.base import StoreError

    try:
        store = open_cli_store(args.store)
        receiver = webhook_receiver(args, sorted({r.profile or "" for r in store.unfinished()})
                                    ) if args.webhook_listen or args.webhook_url else None
        client = durable_client(args, args.header)
    except StoreError as exc:
        say(f"progress-client resume: error: {exc}")
        return EXIT_ERROR
    except ValueError as exc:
        say(f"progress-client resume: error: {sanitize(exc)}")
        return EXIT_USAGE
    worst = EXIT_OK

    def handler(outcome: DurableOutcome) -> None:
        nonlocal worst
        worst = max(worst, outcome.exit_code)
        print_outcome(outcome, args.json, args.quiet)

    try:
        with client, store, _listening(receiver):
            outcomes = client.durable(store, handler=handler, webhooks=receiver).resume_all()
    except StoreError as exc:
        say(f"progress-client resume: error: {exc}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        say("interrupted; the unfinished waits stay in the store")
        return EXIT_INTERRUPTED
    if not args.quiet and not args.json:
        say(f"{len(outcomes)} wait{'s' if len(outcomes) != 1 else ''} continued")
    return worst
