"""``progress-client wait URL``: wait on one job from a script, with a live line and a summary.

Start-up counts: the module imports only what building its parser needs, and ``run`` imports
the sync client alone (no async client, no anyio), and rich only for the live line on a
terminal. ``--timeout`` is wall time from the process's start (see ``_started``)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from . import COMMANDS, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from ._common import (
    emit_json,
    parse_header,
    partial_line,
    positive_float,
    result_dict,
    summary_line,
)
from ._job import (
    add_reading_options,
    cancel_fields,
    cancel_note,
    client_options,
    live_display,
    usage_text,
)
from ._started import time_left

if TYPE_CHECKING:
    from rich.text import Text

    from .. import JobStatus, PollReport, Update

__all__ = ["add_parser", "run"]


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "wait",
        help=COMMANDS["wait"],
        description="Poll a job's status URL with adaptive polling until it ends.",
    )
    p.add_argument("url", help="the job's status URL (returns JSON with a status field)")
    p.add_argument("--events", default=None, metavar="URL",
                   help="an SSE endpoint to listen on; polling the status URL is the fallback")
    p.add_argument("--resume", default=None, metavar="TOKEN",
                   help="continue a wait from the resume_token a timed-out --json run printed")
    p.add_argument("--timeout", type=positive_float, default=None,
                   help="give up after this many seconds (exit 3)")
    p.add_argument("-H", "--header", action="append", type=parse_header, default=[],
                   metavar="'NAME: VALUE'", help="a request header (repeatable)")
    add_reading_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("-q", "--quiet", action="store_true", help="no live line, no summary")
    p.set_defaults(run=run)


def _live_text(update: Update) -> Text:
    from rich.text import Text

    from .. import sanitize

    s = update.status
    parts = [s.status]
    if s.step is not None:
        parts.append(f"step {s.step}")
    if s.progress is not None:
        parts.append(f"{s.progress:g}%")
    r = update.report
    tail = f"{r.requests} requests"
    if update.next_delay is not None:
        tail += f", next in {update.next_delay:.1f}s"
    return Text.assemble(("● ", "cyan"), (" · ".join(sanitize(p) for p in parts), "bold"),
                         (f"  ({tail})", "dim"))


def run(args: argparse.Namespace) -> int:
    from .. import AdaptivePolicy, PollError, ProgressClient, sanitize

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        policy = AdaptivePolicy(initial=args.initial, step=args.step, maximum=args.maximum)
        client = ProgressClient(
            policy=policy,
            baseline=args.baseline if args.baseline > 0 else 1.0,
            headers=dict(args.header),
            max_consecutive_errors=max(1, args.max_errors),
            **client_options(args),
        )
    except ValueError as exc:
        say(f"progress-client wait: error: {usage_text(exc)}")
        return EXIT_USAGE

    live_on = not args.quiet and not args.json and sys.stderr.isatty()
    last: JobStatus | None = None
    report: PollReport | None = None
    try:
        with client, live_display(live_on) as live:
            timeout = time_left(args.timeout, getattr(args, "started", None))
            for update in client.watch(args.url, timeout=timeout, events_url=args.events,
                                       resume=args.resume, cancel_on_exit=args.cancel_on_exit):
                last, report = update.status, update.report
                if live is not None:
                    live.update(_live_text(update), refresh=True)
    except PollError as exc:
        status = exc.status if exc.status is not None else last
        report = exc.report if exc.report is not None else report
        if args.json:
            out = result_dict(exc.outcome, status, report, exc)
            token = getattr(exc, "resume_token", None)
            if token is not None:
                out["resume_token"] = token
            emit_json({**out, **cancel_fields(exc)})
        else:
            say(f"progress-client: {exc.outcome}: {exc.message}")
            if report is not None and not args.quiet:
                word = status.status if status is not None else exc.outcome
                say(summary_line(word, report))
            note = cancel_note(exc, args.cancel_on_exit)
            if note is not None:
                say(note)
        return exc.exit_code
    except ImportError as exc:  # --events without the sse extra
        say(f"progress-client wait: error: {sanitize(exc)}")
        return EXIT_USAGE
    except ValueError as exc:  # a profile's request this URL cannot make (no run id in it)
        say(f"progress-client wait: error: {usage_text(exc)}")
        return EXIT_USAGE
    except KeyboardInterrupt as stop:
        if args.json:
            emit_json({**result_dict("interrupted", last, report), **cancel_fields(stop)})
        else:
            say("interrupted")
            note = cancel_note(stop, args.cancel_on_exit)
            if note is not None:
                say(note)
        return EXIT_INTERRUPTED
    assert last is not None and report is not None
    if args.json:
        emit_json({**result_dict("succeeded", last, report), **cancel_fields(None)})
    elif not args.quiet:
        print(summary_line(last.status, report), file=sys.stderr if live_on else sys.stdout,
              flush=True)
        partial = partial_line(last)
        if partial is not None:
            print(partial, file=sys.stderr if live_on else sys.stdout, flush=True)
    return EXIT_OK
