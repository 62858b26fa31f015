"""``progress-client run URL``: start a job, wait on it, fetch its result.

The start request (``-X``, ``-d``, ``-H``) is sent once; its answer names the status URL
(``Operation-Location``, ``Azure-AsyncOperation``, ``Location`` on 201/202, a URL in the
body, the profile's locators, or ``--status-url`` with ``{id}``); the job is waited on as
``wait`` does, then its result is fetched where the profile says. A JSON result goes to stdout
(with ``--json``, into the object's ``result``); any result goes to ``--output FILE``, streamed.
Exit codes as ``wait``.

Start-up counts as in ``wait``: ``run`` imports the sync client alone, and rich only for a
terminal's live line; ``--timeout`` is wall time from the process's start (``_started``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from progress_client.core.sanitize import public_url

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
from ._durable import add_store_options, add_webhook_options, run_durable
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

if TYPE_CHECKING:
    from .. import ChangeEvent

__all__ = ["EPILOG", "add_parser", "run"]

_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")

EPILOG = """\
examples:
  progress-client run https://api.example.com/v1/renders -d @job.json -o video.mp4
  progress-client run https://api.example.com/v1/predictions --profile replicate \\
      -H "Authorization: Bearer $TOKEN" -d '{"input": {"prompt": "a cat"}}' --json
  progress-client run https://api.example.com/v1/jobs -d '{}' \\
      --status-url 'https://api.example.com/v1/jobs/{id}' --timeout 900

many jobs in one process (JSON lines; -X, -d, --status-url fill in what a line leaves out):
  progress-client run --from starts.jsonl --rate-limit 60/m --json > outcomes.jsonl
    where each line is {"url": START_URL, "json": {...}, "status_url": "...{id}", "key": "a"}

exit codes:
  0    the job succeeded and its result is in hand (many jobs: every one)
  1    the job failed (its status said so)
  2    usage error (nothing was sent: the job was not started)
  3    timeout (--timeout passed first; the resume hint says how to go on)
  4    error (the start, a poll or the result got no usable answer)
  5    the job waits for a person (a manual CI job, an approval; --on-needs-action)
  130  interrupted (Ctrl-C; the resume hint says how to go on)
With --from the exit code is the highest of the jobs' codes (4 > 3 > 1 > 0).

A timeout or a Ctrl-C after the job started prints the command that goes on waiting on it:
  progress-client wait STATUS_URL --resume TOKEN     (--json: status_url, resume_token)
"""


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "run",
        help=COMMANDS["run"],
        description=(
            "Send the request that starts a job (once), find its status URL in the answer, "
            "wait on it with adaptive polling, then fetch its result: JSON on stdout, or any "
            "result streamed to --output FILE."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("url", type=http_url, nargs="?", metavar="URL",
                   help="the URL that starts the job")
    p.add_argument("--from", dest="from_file", default=None, metavar="FILE",
                   help="start and wait on many jobs in one process ('-': stdin): a start URL "
                        "a line, or JSON lines {\"url\", \"data\" or \"json\", "
                        "\"status_url\", \"method\", \"profile\", \"key\"}; -X, -d and "
                        "--status-url fill in what a line does not say")
    p.add_argument("--any", action="store_true",
                   help="with --from: stop when the first job ends (the others are cancelled); "
                        "its exit code is the command's")
    p.add_argument("-X", "--method", default="POST", type=_method,
                   help="the start request's method (POST)")
    p.add_argument("-d", "--data", default=None, metavar="DATA|@FILE",
                   help="the start request's body: text, @FILE for a file, @- for stdin; sent "
                        "as application/json when it is JSON (unless -H says otherwise)")
    p.add_argument("-F", "--form", action="append", default=[], metavar="NAME=VALUE|NAME=@FILE",
                   help="a multipart/form-data field of the start request, as curl's -F "
                        "(repeatable; @FILE sends a file); not with -d")
    p.add_argument("-H", "--header", action="append", type=parse_header, default=[],
                   metavar="'NAME: VALUE'",
                   help="a header for every request of the job (repeatable)")
    p.add_argument("--status-url", default=None, metavar="TEMPLATE",
                   help="where to poll when the answer names no URL: a URL with {id}, filled "
                        "with the id in the answer (relative to the start URL if relative)")
    p.add_argument("-o", "--output", default=None, metavar="FILE",
                   help="write the result to FILE (streamed: a video of many MiB is never "
                        "held in memory)")
    p.add_argument("--timeout", type=positive_float, default=None, metavar="SECONDS",
                   help="give up after this many seconds, counted from the start (exit 3)")
    add_rate_limit(p)
    add_reading_options(p)
    p.add_argument("--json", action="store_true",
                   help="print one JSON object on stdout (wait's fields, status_url, result, "
                        "output, result_bytes, cancelled_remote)")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="no live line, no failures as they happen, no summary (a JSON result "
                        "still goes to stdout)")

    add_store_options(p)
    add_webhook_options(p)
    p.set_defaults(run=run)


def _method(text: str) -> str:
    method = text.strip().upper()
    if not method or not set(method) <= _TOKEN:
        raise argparse.ArgumentTypeError(f"not an HTTP method: {text!r}")
    return method


def _body(data: str | None, headers: dict[str, str]) -> tuple[bytes | None, dict[str, str]]:
    """The start request's body and the headers it adds (a Content-Type for JSON)."""
    if data is None:
        return None, {}
    if data == "@-":
        content = sys.stdin.buffer.read()
    elif data.startswith("@"):
        try:
            content = Path(data[1:]).read_bytes()
        except OSError as exc:
            raise ValueError(f"-d {data}: cannot read it ({exc.strerror or exc})") from None
    else:
        content = data.encode()
    if any(k.lower() == "content-type" for k in headers):
        return content, {}
    try:
        doc = json.loads(content)
    except (ValueError, RecursionError):
        return content, {}
    return content, ({"Content-Type": "application/json"} if isinstance(doc, (dict, list))
                     else {})


def _form(fields: list[str]) -> tuple[bytes, dict[str, str]]:
    """A multipart/form-data body of ``NAME=VALUE`` and ``NAME=@FILE`` fields."""
    import httpx  # start-up: parsing never loads httpx

    parts: list[tuple[str, tuple[str | None, bytes]]] = []
    for field in fields:
        name, sep, value = field.partition("=")
        if not sep or not name:
            raise ValueError(f"-F {field!r}: give NAME=VALUE or NAME=@FILE")
        if value.startswith("@"):
            try:
                parts.append((name, (Path(value[1:]).name, Path(value[1:]).read_bytes())))
            except OSError as exc:
                raise ValueError(f"-F {name}={value}: cannot read it "
                                 f"({exc.strerror or exc})") from None
        else:
            parts.append((name, (None, value.encode())))
    request = httpx.Request("POST", "http://form.invalid/", files=parts)
    return request.read(), {"Content-Type": request.headers["Content-Type"]}


def _template(url: str, template: str | None) -> str | None:
    if template is None:
        return None
    full = urljoin(url, template.strip())
    parts = urlsplit(full)
    if "{id}" not in full or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--status-url takes an http(s) URL template with {{id}}, e.g. "
                         f"https://api.example.com/v1/jobs/{{id}} (got {shown_url(template)!r})")
    return full


def _output(path: str | None) -> Path | None:
    """The result's file, checked before the job is started: a job may cost money, and a
    result that cannot be written at its end is lost."""
    if path is None:
        return None
    out = Path(path)
    parent = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise ValueError(f"--output {path}: is a directory")
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise ValueError(f"--output {path}: cannot write in {parent}")
    return out


class _Seen(Seen):
    """``Seen`` fed by ``on_change`` (``run`` has no updates of its own)."""

    def changed(self, event: ChangeEvent) -> None:
        self.change(event.status, event.report)


def _result_fields(value: Any) -> dict[str, Any]:
    if isinstance(value, Path):
        return {"result": None, "output": str(value), "result_bytes": value.stat().st_size}
    if isinstance(value, (bytes, bytearray)):
        return {"result": None, "output": None, "result_bytes": len(value)}
    return {"result": value, "output": None, "result_bytes": None}


def run(args: argparse.Namespace) -> int:
    if args.from_file is not None:
        if args.store is not None or args.webhook_listen is not None or args.webhook_url:
            print("progress-client run: error: --store and --webhook-* take one job, not "
                  "--from FILE (see progress-client run --help)", file=sys.stderr)
            return EXIT_USAGE

        return run_many(args, "run")
    if args.url is None:
        print("progress-client run: error: give the URL that starts the job (or --from FILE) "
              "(see progress-client run --help)", file=sys.stderr)
        return EXIT_USAGE
    return _one(args)


def _one(args: argparse.Namespace) -> int:
    from .. import ProgressClient  # start-up: no client before the arguments parse

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    live_on = not args.quiet and not args.json and sys.stderr.isatty()
    try:
        headers = dict(args.header)
        if args.form and args.data is not None:
            raise ValueError("-d and -F both give the start request's body: give one")
        content, start_headers = (
            _form(args.form) if args.form else _body(args.data, headers)
        )
        template = _template(args.url, args.status_url)
        output = _output(args.output)
        policy = AdaptivePolicy(initial=args.initial, step=args.step, maximum=args.maximum)
        options = client_options(args)
    except ValueError as exc:
        say(f"progress-client run: error: {usage_text(exc, args.header)}")
        return EXIT_USAGE
    if args.store is not None or args.webhook_listen is not None or args.webhook_url:
        # a durable run (registered in the store, resumable) or one woken by its webhook

        return run_durable(args, "run", method=args.method, data=content,
                           content_type=start_headers.get("Content-Type"),
                           status_url=template)

    with live_display(live_on) as live:
        seen = _Seen(args.url, live, say, args.quiet, polls_url=False)
        try:
            client = ProgressClient(
                policy=policy, baseline=args.baseline, headers=headers,
                max_consecutive_errors=args.max_errors,
                on_request=seen.request, on_change=seen.changed,
                limits=limits_for(args.rate_limit, [args.url, *([template] if template else [])]),
                **options,
            )
            with client:
                timeout = time_left(args.timeout, getattr(args, "started", None))
                result = client.run(
                    args.url, method=args.method, data=content, headers=start_headers,
                    status_url=template, timeout=timeout, output=output,
                    cancel_on_exit=args.cancel_on_exit,
                )
        except PollError as exc:
            return _failed(args, exc, seen, say)
        except ValueError as exc:  # a bad URL, a bad option value
            say(f"progress-client run: error: {sanitize(exc)}")
            return EXIT_USAGE
        except KeyboardInterrupt as stop:
            token = getattr(stop, "resume_token", None)
            url = json.loads(token)["url"] if token is not None else seen.status_url
            if args.json:
                emit_json({**result_dict("interrupted", seen.status, seen.report,
                                         last_error=seen.last_error),
                           "status_url": url, **_result_fields(None),
                           "resume_token": token, **cancel_fields(stop)})
            else:
                say("interrupted")
                if url is not None:
                    say(resume_hint(url, token))
                else:
                    say("the job's status URL was not known yet: it may not have started")
                note = cancel_note(stop, args.cancel_on_exit)
                if note is not None:
                    say(note)
            return EXIT_INTERRUPTED
    url = public_url(result.status_url) if result.status_url else seen.status_url
    if args.json:
        emit_json({**result_dict("succeeded", result.status, result.report,
                                 last_error=seen.last_error),
                   "status_url": url, **_result_fields(result.result), **cancel_fields(None)})
        if isinstance(result.result, (bytes, bytearray)):
            say(f"a binary result of {len(result.result)} bytes was not printed: give "
                "--output FILE to keep it")
        return EXIT_OK
    if not args.quiet:
        say(summary_line(result.status.status, result.report))
        partial = partial_line(result.status)
        if partial is not None:
            say(partial)
    _deliver(result.result, args.quiet, say)
    return EXIT_OK


def _deliver(value: Any, quiet: bool, say: Any) -> None:
    """The result: where it was written, or on stdout (bytes only when stdout is not a
    terminal, as curl does)."""
    if isinstance(value, Path):
        if not quiet:
            say(f"result written to {value} ({value.stat().st_size} bytes)")
    elif isinstance(value, (bytes, bytearray)):
        if sys.stdout.isatty():
            say(f"a binary result of {len(value)} bytes was not printed on a terminal: give "
                "--output FILE (or redirect stdout) to keep it")
        else:
            sys.stdout.flush()
            sys.stdout.buffer.write(value)
            sys.stdout.buffer.flush()
    elif value is not None:
        sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    elif not quiet:
        say("the job has no result to fetch")


def _failed(args: argparse.Namespace, exc: Any, seen: _Seen, say: Any) -> int:
    status = exc.status if exc.status is not None else seen.status
    report = exc.report if exc.report is not None else seen.report
    token = getattr(exc, "resume_token", None)
    # The status URL in full, credentials removed (to go on with 'wait URL --resume TOKEN'
    # after a timeout); the URL the hooks saw (sanitized) only when the error has none.
    url = exc.status_url or (json.loads(token)["url"] if token is not None else None)
    if url is None:
        url = seen.status_url
    last_error = cli_words(exc.last_error) or (
        seen.last_error if exc.outcome != "failed" else None)
    if args.json:
        out = {**result_dict(exc.outcome, status, report, exc, last_error=seen.last_error),
               "error": error_text(exc, args.max_body), "status_url": url,
               **_result_fields(None), **cancel_fields(exc)}
        if token is not None:
            out["resume_token"] = token
        emit_json(out)
        return int(exc.exit_code)
    say(f"progress-client: {exc.outcome}: {error_text(exc, args.max_body)}")
    if not args.quiet and report is not None:
        said = last_error if last_error and last_error not in exc.message else None
        say(summary_line(status.status if status is not None else exc.outcome, report, said))
    if exc.outcome == "timeout" and url is not None:
        say(resume_hint(url, token))
    note = cancel_note(exc, args.cancel_on_exit)
    if note is not None:
        say(note)
    return int(exc.exit_code)
