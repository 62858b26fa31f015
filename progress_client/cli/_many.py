"""``progress-client wait URL URL ...`` and ``wait --from FILE``: many jobs in one process.

Every wait runs as a task of one ``AsyncProgressClient`` on asyncio (polls over aiohttp when the
``fast`` extra is installed): no thread per job. On a terminal a live table (redrawn at most
four times a second) shows the jobs not yet ended and a footer of totals; elsewhere a line per
ended job goes to stderr and the summary to stdout; ``--json`` prints one object per job as it
ends (JSON lines) and a ``{"summary": ...}`` object last.

Exit code: 0 when every job succeeded, else the highest of the jobs' codes (1 failed, 3 timeout,
4 error); 130 on Ctrl-C. With ``--any`` the first job to end decides it (the others are
cancelled and reported as ``cancelled``).

Light at import, like ``_common``: the parser uses ``rate_limit``; the client, anyio and rich
are imported inside ``run_many``."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from contextlib import aclosing
from contextvars import ContextVar
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

from progress_client.core.results import outcome_error
from progress_client.core.sanitize import public_url

from .. import AdaptivePolicy, PollError, sanitize
from . import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from ._common import (
    emit_json,
    format_duration,
    http_url,
    plural,
    result_dict,
    resume_hint,
    shown_url,
    summary_line,
)
from ._job import cancel_fields, cli_words, client_options, error_text, live_display, usage_text
from ._started import time_left

__all__ = ["ManyJob", "add_rate_limit", "limits_for", "rate_limit", "read_jobs", "run_many"]

#: The live table is redrawn at most this often (seconds between draws).
REDRAW_EVERY = 0.25
#: Fields a JSON line of ``--from`` may carry (``wait``; ``run`` takes the start's too).
_JSON_FIELDS = frozenset({"url", "profile", "key"})
_RUN_FIELDS = _JSON_FIELDS | {"method", "data", "json", "status_url"}


def rate_limit(text: str) -> str:
    """``--rate-limit``'s value: ``auto`` or ``N/s``, ``N/m``, ``N/h``, ``N/d``, ``N/month``
    (``N/30s`` too); anything else is a usage error."""
    value = text.strip()
    if value.lower() == "auto":
        return "auto"
    # start-up: only --rate-limit loads the budgets
    from progress_client.core.budget import parse_limit

    try:
        parse_limit(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a rate limit: {text!r} (write N/s, N/m, N/h, N/d or N/month, e.g. 5000/h, "
            "or auto)") from None
    return value


def add_rate_limit(p: argparse.ArgumentParser) -> None:
    """``--rate-limit`` (``wait`` and ``run``)."""
    p.add_argument("--rate-limit", type=rate_limit, default=None, metavar="N/UNIT|auto",
                   help="a rate budget shared by every request of the command to each origin "
                        "it names: N/s, N/m, N/h, N/d, N/month (e.g. 5000/h), or auto to learn "
                        "it from what the server states (X-RateLimit-*, RateLimit)")


def limits_for(value: str | None, urls: list[str]) -> Any:
    """The client's ``limits=`` for ``--rate-limit``: ``auto`` learns on every origin; a
    configured limit applies to every origin the command names (one budget per origin)."""
    if value is None:
        return None
    if value == "auto":
        return "auto"
    # start-up: only --rate-limit loads the budgets
    from progress_client.core.budget import _origin_key

    return {_origin_key(url): value for url in urls}


class ManyJob:
    """One job of a many-jobs wait: what was asked, and what became of it."""

    __slots__ = ("cancelled_remote", "code", "error", "index", "key", "last_error", "outcome",
                 "profile", "report", "result", "start", "status", "status_url", "token",
                 "update", "url", "where")

    def __init__(self, index: int, url: str, key: str, profile: str | None, where: str
                 ) -> None:
        self.index, self.url, self.key, self.profile, self.where = index, url, key, profile, where
        self.status: Any = None
        self.report: Any = None
        self.update: Any = None
        #: None while the wait runs; then succeeded, failed, timeout, error, cancelled,
        #: interrupted.
        self.outcome: str | None = None
        self.code = EXIT_OK
        self.error: Any = None
        self.token: str | None = None
        self.last_error: str | None = None
        self.cancelled_remote: bool | None = None
        #: ``run --from``: the start request (method, data, json, status_url); None: a wait.
        self.start: dict[str, Any] | None = None
        self.result: Any = None
        self.status_url: str | None = None

    @property
    def label(self) -> str:
        return self.key if self.key != str(self.index) else shown_url(self.url)


def read_jobs(urls: list[str], source: str | None, *, run: bool = False) -> list[ManyJob]:
    """The jobs of the command: the URLs given, then those of ``--from`` (``-``: stdin), one a
    line (blank lines and ``#`` comments skipped) or JSON lines ``{"url", "profile", "key"}``
    (``run``: also ``method``, ``data`` or ``json``, ``status_url``). A mistake is a
    ``ValueError`` naming the line."""
    jobs = [ManyJob(i + 1, url, str(i + 1), None, f"argument {i + 1}")
            for i, url in enumerate(urls)]
    if source is None:
        return jobs
    name = "stdin" if source == "-" else source
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise ValueError(f"--from {name}: cannot read it ({why})") from None
    keys = {job.key for job in jobs}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"--from {name} line {number}"
        url, key, profile, start = _line(line, where, _RUN_FIELDS if run else _JSON_FIELDS)
        try:
            url = http_url(url)
        except argparse.ArgumentTypeError as exc:
            raise ValueError(f"{where}: {exc}") from None
        index = len(jobs) + 1
        key = key if key is not None else str(index)
        if key in keys:
            raise ValueError(f"{where}: the key {key!r} is already taken by another job")
        keys.add(key)
        job = ManyJob(index, url, key, profile, where)
        if run:
            job.start = _start_of(start, url, where)
        jobs.append(job)
    if not jobs:
        raise ValueError(f"--from {name}: no URLs in it (one status URL a line, or JSON lines "
                         '{"url": ...})')
    return jobs


def _line(line: str, where: str, fields: frozenset[str]
          ) -> tuple[str, str | None, str | None, dict[str, Any]]:
    if not line.startswith("{"):
        return line, None, None, {}
    try:
        doc = json.loads(line)
    except (ValueError, RecursionError):
        raise ValueError(f"{where}: not a JSON object (a line that starts with {{ is read as "
                         "JSON)") from None
    if not isinstance(doc, dict):
        raise ValueError(f"{where}: not a JSON object")
    unknown = sorted(set(doc) - fields)
    if unknown:
        raise ValueError(f"{where}: unknown field {unknown[0]!r} (a line has url, and may have "
                         f"{', '.join(sorted(fields - {'url'}))})")
    url, key, profile = doc.get("url"), doc.get("key"), doc.get("profile")
    if not isinstance(url, str):
        raise ValueError(f'{where}: no "url" string')
    if (key is not None and not isinstance(key, (str, int))) or isinstance(key, bool):
        raise ValueError(f'{where}: "key" is a string or a number')
    if profile is not None and not isinstance(profile, str):
        raise ValueError(f'{where}: "profile" is a profile\'s name or file')
    return url, None if key is None else str(key), profile, doc


def _start_of(doc: dict[str, Any], url: str, where: str) -> dict[str, Any]:
    """A ``run --from`` line's start request: what the line says (the command's -X, -d and
    --status-url fill in what it does not)."""
    start: dict[str, Any] = {}
    if "data" in doc and "json" in doc:
        raise ValueError(f'{where}: "data" and "json" both give the start request\'s body: '
                         "give one")
    if "data" in doc:
        if not isinstance(doc["data"], str):
            raise ValueError(f'{where}: "data" is the body as text (use "json" for JSON)')
        start["data"] = doc["data"]
    if "json" in doc:
        start["json"] = doc["json"]
    if "method" in doc:
        method = doc["method"]
        if not isinstance(method, str) or not method.strip().isalpha():
            raise ValueError(f"{where}: not an HTTP method: {method!r}")
        start["method"] = method.strip().upper()
    if "status_url" in doc:
        template = doc["status_url"]
        full = urljoin(url, template) if isinstance(template, str) else ""
        parts = urlsplit(full)
        if "{id}" not in full or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f'{where}: "status_url" is an http(s) URL template with {{id}}, '
                             f"e.g. https://api.example.com/v1/jobs/{{id}}")
        start["status_url"] = full
    return start


def _usage(args: argparse.Namespace, command: str) -> str | None:
    """What the many-jobs mode refuses, as one line (``None``: nothing)."""
    if command == "run":
        if args.url is not None:
            return "give the start URL or --from FILE, not both"
        if args.output is not None:
            return "--output keeps one job's result: run --from prints JSON results instead"
        if args.form:
            return "-F builds one start request: give each line its data or json instead"
        if args.from_file == "-" and args.data == "@-":
            return "--from - and -d @- both read stdin: give one of them a file"
        return None
    if args.resume is not None:
        return "--resume goes on with one wait: give one URL with it"
    if args.events is not None:
        return "--events names one job's event stream: give one URL with it"
    return None


def run_many(args: argparse.Namespace, command: str = "wait") -> int:
    """``wait`` on many jobs, or ``run --from FILE`` (``command="run"``)."""
    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        problem = _usage(args, command)
        if problem is not None:
            raise ValueError(problem)
        run = command == "run"
        jobs = read_jobs([] if run else list(args.url), args.from_file, run=run)
        options = client_options(args)
        profiles = _profiles({j.profile for j in jobs if j.profile is not None}, jobs)
        policy = AdaptivePolicy(initial=args.initial, step=args.step, maximum=args.maximum)
        body = _command_body(args, jobs) if run else None
    except ValueError as exc:
        say(f"progress-client {command}: error: {usage_text(exc, args.header)}")
        return EXIT_USAGE
    many = _Many(args, jobs, say, command)
    many.body = body
    return many.run(policy, options, profiles)


def _command_body(args: argparse.Namespace, jobs: list[ManyJob]
                  ) -> tuple[Any, dict[str, str]]:
    """``run --from``: the command's own -d (for lines without a body); its --status-url,
    relative to each line's start URL, for the lines that name none."""
    from .run import _body, _template  # import cycle: run imports this module

    for job in jobs:
        if job.start is not None and "status_url" not in job.start and args.status_url:
            job.start["status_url"] = _template(job.url, args.status_url)
    content, headers = _body(args.data, dict(args.header))
    return content, headers


def _text_body(text: str, headers: list[tuple[str, str]]) -> tuple[bytes, dict[str, str]]:
    """A line's ``data``: sent as application/json when it is JSON (unless -H says)."""
    content = text.encode()
    if any(k.lower() == "content-type" for k, _ in headers):
        return content, {}
    try:
        doc = json.loads(content)
    except (ValueError, RecursionError):
        return content, {}
    return content, ({"Content-Type": "application/json"} if isinstance(doc, (dict, list))
                     else {})


def _profiles(names: set[str], jobs: list[ManyJob]) -> dict[str, Any]:
    """Each profile a line names, loaded once (a bad one is a usage error naming its line)."""
    # start-up: the profiles take ~100 ms to load; only --profile loads them
    from progress_client.profiles.profile import load_profile

    loaded: dict[str, Any] = {}
    for name in sorted(names):
        try:
            loaded[name] = load_profile(name)
        except ValueError as exc:
            where = next(j.where for j in jobs if j.profile == name)
            raise ValueError(f"{where}: {exc}") from None
    return loaded


class _Many:
    """The many-jobs wait: the tasks, what they saw, the lines, the table, the summary."""

    def __init__(self, args: argparse.Namespace, jobs: list[ManyJob], say: Any,
                 command: str = "wait") -> None:
        self.args, self.jobs, self.say, self.command = args, jobs, say, command
        #: ``run --from``: the command's -d body and the headers it adds.
        self.body: tuple[Any, dict[str, str]] | None = None
        self.live: Any = None
        self.live_on = not args.quiet and not args.json and sys.stderr.isatty()
        self.requests = 0
        self.redraws = 0
        self.dirty = True
        self.interrupted = False
        self.first: ManyJob | None = None
        self.scope: Any = None
        self.started = time.monotonic()
        self.running = len(jobs)
        self.counts: dict[str, int] = {}
        #: Requests saved by the jobs that ended (the footer's; the summary counts them all).
        self.saved = 0

    # -- the hooks: every request, every change (run) ---------------------------------------
    # A hook runs in the task that drives the wait's loop: the job's own (``_JOB`` names it).

    def request(self, event: Any) -> None:
        self.requests += 1
        job = _JOB.get(None)
        if job is not None and event.kind == "poll":
            job.status_url = event.url
        code = event.status_code
        if event.error is None and code is not None and code not in _RETRIED:
            return

        failure = cli_words(event.error) if event.error else f"HTTP {code}"
        if job is not None and job.outcome is None and failure != job.last_error:
            job.last_error = failure
            self.dirty = True
            if self.live is None and not self.args.quiet and not self.args.json:
                where = shown_url(job.url) if job.start is None or event.kind == "start" \
                    else event.url
                self.say(f"progress-client: {where}: {failure}")

    def change(self, event: Any) -> None:
        job = _JOB.get(None)
        if job is not None:
            job.status, job.report = event.status, event.report
            self.dirty = True

    # -- the run ---------------------------------------------------------------------------

    def run(self, policy: Any, options: dict[str, Any], profiles: dict[str, Any]) -> int:
        import anyio  # start-up: a wait on one URL never loads anyio

        try:
            with live_display(self.live_on) as live:
                self.live = live
                anyio.run(self._main, policy, options, profiles, backend="asyncio",
                          backend_options={"use_uvloop": _has_uvloop()})
                if live is not None:
                    self._draw()
        except ImportError as exc:
            self.say(f"progress-client {self.command}: error: {sanitize(exc)}")
            return EXIT_USAGE
        return self._finish()

    async def _main(self, policy: Any, options: dict[str, Any], profiles: dict[str, Any]
                    ) -> None:
        import anyio  # start-up: a wait on one URL never loads anyio

        from .. import AsyncProgressClient  # start-up: the async client only for many URLs

        args = self.args
        limits = limits_for(args.rate_limit, [
            *(j.url for j in self.jobs),
            *(j.start["status_url"] for j in self.jobs if j.start and "status_url" in j.start),
        ])
        client = AsyncProgressClient(
            policy=policy, baseline=args.baseline if args.baseline > 0 else 1.0,
            headers=dict(args.header), max_consecutive_errors=args.max_errors,
            on_request=self.request, limits=limits,
            on_change=self.change if self.command == "run" else None, **options,
        )
        timeout = time_left(args.timeout, getattr(args, "started", None))
        async with client, anyio.create_task_group() as outer:
            await outer.start(self._signals)
            if self.live is not None:
                outer.start_soon(self._redraw)
            async with anyio.create_task_group() as tg:
                self.scope = tg.cancel_scope
                for job in self.jobs:
                    tg.start_soon(self._wait, client, job, timeout, profiles)
            outer.cancel_scope.cancel()

    async def _signals(self, *, task_status: Any) -> None:
        import signal  # start-up: a wait on one URL never loads signal

        import anyio  # start-up: a wait on one URL never loads anyio

        with anyio.open_signal_receiver(signal.SIGINT) as signals:
            task_status.started()
            async for _ in signals:
                self.interrupted = True
                if self.scope is not None:
                    self.scope.cancel()

    async def _redraw(self) -> None:
        import anyio  # start-up: a wait on one URL never loads anyio

        while True:
            await anyio.sleep(REDRAW_EVERY)
            if self.dirty:
                self._draw()

    async def _wait(self, client: Any, job: ManyJob, timeout: float | None,
                    profiles: dict[str, Any]) -> None:
        import anyio  # start-up: a wait on one URL never loads anyio

        args = self.args
        profile = profiles.get(job.profile) if job.profile is not None else None
        _JOB.set(job)
        try:
            if job.start is not None:
                await self._run(client, job, timeout, profile)
            else:
                updates = client.watch(job.url, timeout=timeout, profile=profile,
                                       cancel_on_exit=args.cancel_on_exit)
                async with aclosing(updates) as items:
                    async for update in items:
                        job.update = update
                        if update.status is not None:
                            job.status = update.status
                        if update.terminal:
                            job.report = update.report
                        self.dirty = True
            job.outcome, job.code = "succeeded", EXIT_OK
        except (PollError, ValueError) as exc:  # ValueError: what the client refused
            if not isinstance(exc, PollError):
                exc = outcome_error(exc)
            job.error = exc
            job.outcome, job.code = exc.outcome, int(exc.exit_code)
            if exc.status is not None:
                job.status = exc.status
            if exc.report is not None:
                job.report = exc.report
            job.token = getattr(exc, "resume_token", None)
            job.cancelled_remote = getattr(exc, "cancelled_remote", None)
        except anyio.get_cancelled_exc_class() as exc:
            job.outcome = "interrupted" if self.interrupted else "cancelled"
            job.code = EXIT_INTERRUPTED if self.interrupted else EXIT_OK
            job.token = getattr(exc, "resume_token", None) or (
                job.update.resume_token if job.update is not None else None)
            job.cancelled_remote = getattr(exc, "cancelled_remote", None)
            if job.update is not None and job.report is None:
                job.report = job.update.report
            self._ended(job)
            raise
        self._ended(job)
        if args.any and self.first is None:
            self.first = job
            if self.scope is not None:
                self.scope.cancel()

    async def _run(self, client: Any, job: ManyJob, timeout: float | None, profile: Any
                   ) -> None:
        """``run --from``: start the job (within the rate budget, like any request), wait on
        it, fetch its result."""
        args, start = self.args, job.start or {}
        assert self.body is not None
        content, headers = self.body
        body: dict[str, Any] = {"data": content}
        if "json" in start:
            body = {"json": start["json"]}
        elif "data" in start:
            data, headers = _text_body(start["data"], args.header)
            body = {"data": data}
        result = await client.run(
            job.url, method=start.get("method", args.method), headers=headers, profile=profile,
            status_url=start.get("status_url"), timeout=timeout,
            cancel_on_exit=args.cancel_on_exit, **body,
        )
        job.status, job.report, job.result = result.status, result.report, result.result
        if result.status_url:
            job.status_url = public_url(result.status_url)

    # -- what is said ----------------------------------------------------------------------

    def _ended(self, job: ManyJob) -> None:
        assert job.outcome is not None
        self.running -= 1
        self.counts[job.outcome] = self.counts.get(job.outcome, 0) + 1
        if job.report is not None:
            self.saved += job.report.saved_requests
        self.dirty = True
        args = self.args
        if args.json:
            out = result_dict(job.outcome, job.status, job.report, job.error,
                              last_error=job.last_error)
            if job.error is not None:
                out["error"] = error_text(job.error, args.max_body)
            out = {"url": shown_url(job.url), "key": job.key, **out}
            if job.start is not None:
                from .run import _result_fields  # import cycle: run imports this module

                out.update(status_url=self._status_url(job), **_result_fields(job.result))
            if job.token is not None or job.outcome in ("timeout", "interrupted"):
                out["resume_token"] = job.token
            emit_json({**out, **cancel_fields(job.error)} if job.error is not None else
                      {**out, "cancelled_remote": job.cancelled_remote})
            return
        if args.quiet or job.outcome == "interrupted":
            return  # an interrupted job's resume hint comes with the summary
        line = self._line(job)
        if job.outcome == "succeeded" and job.start is not None:
            line += self._deliver(job)
        if self.live is not None:
            if job.outcome != "succeeded":
                self.live.console.print(line, markup=False, highlight=False)
        else:
            self.say(line)

    def _line(self, job: ManyJob) -> str:
        where = shown_url(job.url)
        if job.outcome == "succeeded" and job.report is not None:
            return f"{where}: {summary_line(job.status.status, job.report)}"
        if job.outcome == "cancelled":
            return f"{where}: cancelled (--any: another job ended first)"
        text = f"progress-client: {where}: {job.outcome}: {error_text(job.error, None)}"
        if job.outcome == "timeout":
            text += "\n" + self._hint(job)
        return text

    def _status_url(self, job: ManyJob) -> str | None:
        """Where the job is polled: the token's URL (credentials removed), else the hooks'."""
        if job.start is None:
            return shown_url(job.url)
        if job.token is not None:
            url: str = json.loads(job.token)["url"]
            return url
        return job.status_url

    def _hint(self, job: ManyJob) -> str:
        url = self._status_url(job)
        if url is None:
            return (f"{shown_url(job.url)}: the job's status URL was not known yet: it may not "
                    "have started")
        return resume_hint(url, job.token)

    def _deliver(self, job: ManyJob) -> str:
        """``run --from``: a JSON result as a line on stdout (``{"key", "url", "result"}``);
        what became of any other result, for the job's line."""
        value = job.result
        if isinstance(value, (bytes, bytearray)):
            return f"; a binary result of {len(value)} bytes was not kept (run it alone with -o)"
        if value is None or isinstance(value, Path):
            return "; no result to fetch" if value is None else ""
        sys.stdout.write(json.dumps({"key": job.key, "url": shown_url(job.url),
                                     "result": value}, ensure_ascii=False) + "\n")
        sys.stdout.flush()
        return ""

    def _draw(self) -> None:
        # start-up: rich only for the live table on a terminal
        from rich.table import Table
        from rich.text import Text

        self.dirty = False
        self.redraws += 1
        console = self.live.console
        room = max(1, console.height - 5)
        table = Table(box=None, pad_edge=False, show_edge=False, expand=False)
        table.add_column("job", overflow="ellipsis", no_wrap=True, max_width=60)
        table.add_column("status", no_wrap=True)
        table.add_column("progress", justify="right", no_wrap=True)
        table.add_column("requests", justify="right", no_wrap=True)
        table.add_column("", no_wrap=True, overflow="ellipsis", max_width=40)
        open_jobs = [j for j in self.jobs if j.outcome is None]
        shown = open_jobs if len(open_jobs) <= room else open_jobs[: room - 1]
        for job in shown:
            status = job.status
            word = sanitize(status.status) if status is not None else "waiting"
            if status is not None and status.step is not None:
                word += f" · {sanitize(status.step)}"
            progress = (f"{status.progress:g}%" if status is not None
                        and status.progress is not None else "")
            # the report is built here, for the rows shown only (not on every answer)
            report = job.update.report if job.update is not None else job.report
            n = report.requests if report is not None else 0
            table.add_row(job.label, word, progress, str(n),
                          Text(job.last_error or "", style="red"))
        if len(shown) < len(open_jobs):
            table.add_row(f"… and {len(open_jobs) - len(shown)} more", "", "", "", "")
        footer = Text.assemble(
            (f"running {self.running}", "cyan"), " · ",
            (f"succeeded {self.counts.get('succeeded', 0)}", "green"), " · ",
            (f"failed {self._not_ok()}", "red"), " · ",
            f"{plural(self.requests, 'request')} · {self.saved} saved",
            (f"  ({format_duration(time.monotonic() - self.started)})", "dim"),
        )
        from rich.console import Group  # start-up: rich only for the live table on a terminal

        self.live.update(Group(table, footer) if open_jobs else footer, refresh=True)

    def _not_ok(self) -> int:
        return sum(n for k, n in self.counts.items() if k in ("failed", "timeout", "error"))

    def _saved(self) -> int:
        return sum(j.report.saved_requests for j in self.jobs if j.report is not None)

    def _finish(self) -> int:
        args = self.args
        ended = [j for j in self.jobs if j.outcome is not None]
        if self.interrupted:
            code = EXIT_INTERRUPTED
        elif args.any and self.first is not None:
            code = self.first.code
        else:
            code = max((j.code for j in ended), default=EXIT_OK)
        elapsed = time.monotonic() - self.started
        summary = {
            "jobs": len(self.jobs),
            **{k: self.counts.get(k, 0) for k in
               ("succeeded", "failed", "timeout", "error", "cancelled", "interrupted")},
            "requests": self.requests,
            "saved_requests": self._saved(),
            "elapsed_s": round(elapsed, 3),
            "budget_delays": sum(j.report.budget_delays for j in ended if j.report is not None),
            "exit_code": code,
        }
        if args.json:
            emit_json({"summary": summary})
            return code
        if self.interrupted:
            self.say("interrupted")
            for job in self.jobs:
                if job.outcome == "interrupted":
                    self.say(self._hint(job))
        if not args.quiet:
            parts = [f"{n} {word}" for word, n in (
                ("succeeded", summary["succeeded"]), ("failed", summary["failed"]),
                ("timed out", summary["timeout"]), ("error", summary["error"]),
                ("cancelled", summary["cancelled"]), ("interrupted", summary["interrupted"]),
            ) if n]
            line = (f"{plural(len(self.jobs), 'job')}: {', '.join(parts) or 'none ended'}; "
                    f"{plural(self.requests, 'request')} in {format_duration(elapsed)}, "
                    f"{summary['saved_requests']} fewer than polling every "
                    f"{args.baseline if args.baseline > 0 else 1.0:g}s")
            own = self.live is None and self.command == "wait"  # run: stdout has the results
            print(line, file=sys.stdout if own else sys.stderr, flush=True)
        return code


def _has_uvloop() -> bool:
    """Whether uvloop (the ``fast`` extra) is there to run the loop on."""
    return importlib.util.find_spec("uvloop") is not None


#: The job whose task is running (the hooks run in it).
_JOB: ContextVar[ManyJob] = ContextVar("progress_client_cli_job")

#: HTTP status codes a poll retries: shown as a failure as it happens.
_RETRIED = frozenset({408, 425, 429, 500, 502, 503, 504})
