"""``progress-client wait URL``: wait on one job from a script, with a live line and a summary.

Start-up counts: the module imports only what building its parser needs, and ``run`` imports
the sync client alone (no async client, no anyio), and rich only for the live line on a
terminal. ``--timeout`` is wall time from the process's start (see ``_started``)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .. import AdaptivePolicy, PollError, sanitize
from . import COMMANDS, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from ._common import (
    emit_json,
    http_url,
    parse_header,
    partial_line,
    positive_float,
    result_dict,
    resume_hint,
    shown_url,
    summary_line,
)
from ._durable import add_store_options, run_durable
from ._job import (
    Seen,
    add_reading_options,
    cancel_fields,
    cancel_note,
    cli_words,
    client_options,
    error_text,
    live_display,
    usage_text,
)
from ._many import add_rate_limit, limits_for, run_many
from ._started import time_left

__all__ = ["EPILOG", "add_parser", "run"]

EPILOG = """\
examples:
  progress-client wait https://api.example.com/v1/jobs/42
  progress-client wait "$STATUS_URL" --timeout 600 -H "Authorization: Bearer $TOKEN"
  progress-client wait "$STATUS_URL" --json > outcome.json        # one JSON object
  progress-client wait "$STATUS_URL" --profile replicate --long-poll=30
  progress-client wait "$STATUS_URL" --resume "$TOKEN_FROM_A_TIMED_OUT_RUN"

many jobs in one process (a live table on a terminal; --json: one object per job, then
{"summary": ...}):
  progress-client wait "$URL1" "$URL2" "$URL3" --timeout 600
  progress-client wait --from jobs.txt --json > outcomes.jsonl   # a URL a line, or JSON lines
  progress-client wait --from jobs.txt --any                      # the first to end decides
  progress-client wait --from jobs.txt --rate-limit 5000/h        # a budget for the origin

exit codes:
  0    the job succeeded (many jobs: every one succeeded)
  1    the job failed (its status said so)
  2    usage error (nothing was requested)
  3    timeout (--timeout passed first; the resume hint says how to go on)
  4    error (the server gave no usable answer, or too many failures in a row)
  5    the job waits for a person (a manual CI job, an approval; --on-needs-action)
  130  interrupted (Ctrl-C; the resume hint says how to go on)
With many jobs the exit code is the highest of the jobs' codes (4 > 3 > 1 > 0); with --any,
that of the first job to end; 2 for a usage error in any of them (a bad line of --from is named
by its number), before any request.

A timeout or a Ctrl-C prints the exact command that goes on where the wait stopped:
  progress-client wait URL --resume TOKEN     (--json: the resume_token field)
"""


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "wait",
        help=COMMANDS["wait"],
        description="Poll a job's status URL with adaptive polling until it ends.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("url", type=http_url, nargs="*", metavar="URL",
                   help="the job's status URL (returns JSON with a status field); several "
                        "URLs wait on all of them in one process")
    p.add_argument("--from", dest="from_file", default=None, metavar="FILE",
                   help="wait on the jobs of FILE too ('-': stdin): one status URL a line "
                        "(blank lines and # comments skipped), or JSON lines "
                        '{"url": ..., "profile": ..., "key": ...}')
    p.add_argument("--any", action="store_true",
                   help="with many jobs: stop when the first one ends (the others are "
                        "cancelled); its exit code is the command's")
    p.add_argument("--events", default=None, metavar="URL", type=http_url,
                   help="an SSE endpoint to listen on; polling the status URL is the fallback")
    p.add_argument("--event-type", action="append", default=None, metavar="NAME",
                   help="read only SSE events of this name (repeatable; default: any event "
                        "whose data is a status)")
    p.add_argument("--resume", default=None, metavar="TOKEN",
                   help="continue a wait from the resume token a timed-out or interrupted run "
                        "printed")
    p.add_argument("--timeout", type=positive_float, default=None, metavar="SECONDS",
                   help="give up after this many seconds, counted from the start (exit 3)")
    p.add_argument("-H", "--header", action="append", type=parse_header, default=[],
                   metavar="'NAME: VALUE'", help="a request header (repeatable)")
    add_rate_limit(p)
    add_reading_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no live line, no failures as they happen, no summary")

    add_store_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.from_file is not None or len(args.url) != 1 or args.any:
        if not args.url and args.from_file is None:
            print("progress-client wait: error: give the job's status URL (or several, or "
                  "--from FILE) (see progress-client wait --help)", file=sys.stderr)
            return EXIT_USAGE
        if args.store is not None:
            print("progress-client wait: error: --store registers one wait: give one URL "
                  "(see progress-client wait --help)", file=sys.stderr)
            return EXIT_USAGE

        return run_many(args)
    args.url = args.url[0]
    if args.store is not None:  # a durable wait: registered in the store, resumable

        return run_durable(args, "wait")
    return _one(args)


def _one(args: argparse.Namespace) -> int:
    from .. import ProgressClient  # start-up: no client before the arguments parse

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    live_on = not args.quiet and not args.json and sys.stderr.isatty()
    seen = Seen(args.url, None, say, args.quiet)
    try:
        options = client_options(args)
        policy = AdaptivePolicy(initial=args.initial, step=args.step, maximum=args.maximum)
        with live_display(live_on) as live:
            seen.live = live
            client = ProgressClient(
                policy=policy,
                baseline=args.baseline if args.baseline > 0 else 1.0,
                headers=dict(args.header),
                max_consecutive_errors=args.max_errors,
                on_request=seen.request,
                event_types=args.event_type,
                limits=limits_for(args.rate_limit, [args.url]),
                **options,
            )
            return _wait(args, client, seen, say)
    except ValueError as exc:  # a bad option, or a profile's request this URL cannot make
        say(f"progress-client wait: error: {usage_text(exc, args.header)}")
        return EXIT_USAGE
    except PollError as exc:
        return _ended(args, exc, seen, say)
    except ImportError as exc:  # --events without the sse extra
        say(f"progress-client wait: error: {sanitize(exc)}")
        return EXIT_USAGE
    except KeyboardInterrupt as stop:
        token = getattr(stop, "resume_token", None) or seen.resume_token()
        if args.json:
            emit_json({**result_dict("interrupted", seen.status, seen.report,
                                     last_error=seen.last_error),
                       "resume_token": token, **cancel_fields(stop)})
        else:
            say("interrupted")
            say(resume_hint(shown_url(args.url), token))
            note = cancel_note(stop, args.cancel_on_exit)
            if note is not None:
                say(note)
        return EXIT_INTERRUPTED


def _wait(args: argparse.Namespace, client: Any, seen: Seen, say: Any) -> int:
    with client:
        timeout = time_left(args.timeout, getattr(args, "started", None))
        for update in client.watch(args.url, timeout=timeout, events_url=args.events,
                                   resume=args.resume, cancel_on_exit=args.cancel_on_exit):
            seen.change(update.status, update.report, update.next_delay)
            seen.update = update
    status, report = seen.status, seen.report
    if args.json:
        emit_json({**result_dict("succeeded", status, report, last_error=seen.last_error),
                   **cancel_fields(None)})
    elif not args.quiet:
        print(summary_line(status.status, report), file=sys.stderr if seen.live else sys.stdout,
              flush=True)
        partial = partial_line(status)
        if partial is not None:
            print(partial, file=sys.stderr if seen.live else sys.stdout, flush=True)
    return EXIT_OK


def _ended(args: argparse.Namespace, exc: Any, seen: Seen, say: Any) -> int:
    """A wait that ended without success: the job failed, the deadline passed, an error."""
    status = exc.status if exc.status is not None else seen.status
    report = exc.report if exc.report is not None else seen.report
    last_error = cli_words(exc.last_error) or (
        seen.last_error if exc.outcome != "failed" else None)
    token = getattr(exc, "resume_token", None)
    if args.json:
        out = result_dict(exc.outcome, status, report, exc, last_error=seen.last_error)
        out["error"] = error_text(exc, args.max_body)
        if token is not None:
            out["resume_token"] = token
        emit_json({**out, **cancel_fields(exc)})
        return int(exc.exit_code)
    say(f"progress-client: {exc.outcome}: {error_text(exc, args.max_body)}")
    if report is not None and not args.quiet:
        word = status.status if status is not None else exc.outcome
        said = last_error if last_error and last_error not in exc.message else None
        say(summary_line(word, report, said))
    if exc.outcome == "timeout":
        say(resume_hint(shown_url(args.url), token))
    note = cancel_note(exc, args.cancel_on_exit)
    if note is not None:
        say(note)
    return int(exc.exit_code)
