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

from progress_client.core.config import DEFAULT_MAX_BODY
from progress_client.core.models import DEFAULT_FAILURE, DEFAULT_SUCCESS
from progress_client.core.options import MAX_LONG_POLL, option

from .. import StatusSpec, sanitize
from ._common import MIN_INTERVAL, byte_size, format_size, positive_float, shown_url

if TYPE_CHECKING:
    from progress_client.profiles.schema import Profile

__all__ = [
    "Seen",
    "add_reading_options",
    "cancel_fields",
    "cancel_note",
    "check_intervals",
    "cli_words",
    "client_options",
    "error_text",
    "usage_text",
    "words",
]


def add_reading_options(p: argparse.ArgumentParser) -> None:
    """The options ``wait`` and ``run`` share: the policy (``--initial``, ``--step``,
    ``--max``, ``--baseline``, ``--allow-fast-polling``), how a document is read
    (``--status-field``, ``--success``, ``--failure``, ``--only-success``, ``--only-failure``,
    ``--change-on``, ``--profile``), ``--max-errors``, ``--max-body``, ``--long-poll`` and
    ``--cancel-on-exit``."""
    p.add_argument("--initial", type=positive_float, default=3.0, metavar="SECONDS",
                   help="first interval, and the interval after a change (3)")
    p.add_argument("--step", type=positive_float, default=1.0, metavar="SECONDS",
                   help="added to the interval per unchanged answer (1)")
    p.add_argument("--max", type=positive_float, default=8.0, dest="maximum",
                   metavar="SECONDS", help="largest interval (8)")
    p.add_argument("--allow-fast-polling", action="store_true",
                   help=f"accept --initial or --max below {MIN_INTERVAL:g} s (a test server "
                        "of your own; a real API would see a flood)")
    baseline = option("baseline").default
    p.add_argument("--baseline", type=positive_float, default=baseline, metavar="SECONDS",
                   help=f"the fixed interval savings are counted against ({baseline:g})")
    p.add_argument("--max-body", type=byte_size, default=None, metavar="SIZE",
                   help="the largest status document read: bytes, or 512k, 50M, 1MiB ... "
                        f"({format_size(option('max_body').default)})")
    p.add_argument("--status-field", default=None, metavar="PATH",
                   help="dotted path of the status field, e.g. data.state (default: status)")
    p.add_argument("--success", default=None, metavar="WORDS",
                   help="comma-separated success words, ADDED to the defaults (or the profile's)")
    p.add_argument("--failure", default=None, metavar="WORDS",
                   help="comma-separated failure words, ADDED to the defaults (or the profile's)")
    p.add_argument("--change-on", default=None, metavar="FIELDS",
                   help="comma-separated fields whose change resets the interval")
    errors = option("max_consecutive_errors").default
    p.add_argument("--max-errors", type=_count, default=errors, metavar="N",
                   help="failed requests in a row (refused, timed out, 5xx, 429) before "
                        f"giving up ({errors})")
    p.add_argument("--profile", default=None, metavar="NAME|FILE",
                   help="how the job API is read, started and cancelled: a built-in profile "
                        "('progress-client profiles' lists them) or a .toml/.json file")
    p.add_argument("--only-success", default=None, metavar="WORDS",
                   help="comma-separated success words that REPLACE the defaults (or the "
                        "profile's); --success adds to them instead")
    p.add_argument("--only-failure", default=None, metavar="WORDS",
                   help="comma-separated failure words that REPLACE the defaults (or the "
                        "profile's); --failure adds to them instead")
    p.add_argument("--long-poll", nargs="?", const=True, default=None, type=_long_poll,
                   metavar="SECONDS",
                   help="ask the server to hold each poll (Prefer: wait=SECONDS; "
                        f"{MAX_LONG_POLL:g} without a value; give one as "
                        "--long-poll=SECONDS); a server that does not gets the schedule")
    p.add_argument("--on-needs-action", choices=("wait", "end"), default=None,
                   help="when the profile says the job waits for a person (a manual CI job, "
                        "an approval): end with exit 5 (the profiles' default) or wait on")
    p.add_argument("--cancel-on-exit", action="store_true",
                   help="on timeout or Ctrl-C send the profile's cancel request once (within "
                        "5 s) and say whether it was accepted")


def _long_poll(text: str) -> float:
    """``--long-poll``'s value; a URL there is the command's URL taken by mistake."""
    if "://" in text or text.lower().startswith(("http:", "https:")):
        raise argparse.ArgumentTypeError(
            f"took the URL {shown_url(text)!r} as its number of seconds: write "
            "--long-poll=SECONDS (or --long-poll after the URL)")
    return positive_float(text)


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def check_intervals(args: argparse.Namespace) -> None:
    """A usage error (``ValueError``) for an interval below ``MIN_INTERVAL`` without
    ``--allow-fast-polling``: a typo such as ``--max 0.001`` would poll a real API hundreds
    of times a second."""
    if args.allow_fast_polling:
        return
    for flag, value in (("--initial", args.initial), ("--max", args.maximum)):
        if value < MIN_INTERVAL:
            raise ValueError(
                f"{flag} {value:g} is below the shortest interval, {MIN_INTERVAL:g} s (it "
                "would poll the server many times a second); give --allow-fast-polling if "
                "you mean it")


def words(text: str | None) -> list[str] | None:
    if text is None:
        return None
    return [w.strip() for w in text.split(",") if w.strip()]


def client_options(args: argparse.Namespace) -> dict[str, Any]:
    """The client keyword arguments for how documents are read (and how large they may be,
    how fast polls may go). A usage mistake or a bad profile is a ``ValueError``
    (``ProfileError`` is one) with a one-line message."""
    check_intervals(args)
    limits: dict[str, Any] = {"allow_fast_polling": args.allow_fast_polling}
    if args.max_body is not None:
        limits["max_body"] = args.max_body
    return {**limits, **_reading_options(args)}


def _reading_options(args: argparse.Namespace) -> dict[str, Any]:
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
    # start-up: the profiles take ~100 ms to load; only --profile loads them
    from progress_client.profiles.profile import load_profile, parse_profile

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


def usage_text(exc: BaseException, headers: Any = ()) -> str:
    """A usage error's one line, about the user's own values, so shown as the user gave them
    (a path, a URL, a number: the sanitizer is for text shown to others), except that a
    header value (``headers``: the ``-H`` pairs) is never echoed: it is shown as ``***``."""
    text = str(exc)
    for _, value in headers:
        if len(value) >= 4:
            text = text.replace(value, "***")
    return text


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
    # start-up: rich only for the live line on a terminal
    from rich.console import Console
    from rich.live import Live

    err = Console(stderr=True, highlight=False, soft_wrap=True)
    return Live(console=err, transient=True, auto_refresh=False, redirect_stdout=False,
                redirect_stderr=False)


#: HTTP status codes a poll retries (as the client does): a failure shown as it happens.
_RETRIED_CODES = frozenset({408, 425, 429, 500, 502, 503, 504})


class Seen:
    """What the hooks saw, for the lines and JSON of a wait that ends badly: the status URL
    polled, the latest status and report, the last failed request; and each failure shown as
    it happens: on the live line (a terminal), else as a line on stderr (unless quiet), once
    per new kind of failure."""

    def __init__(self, url: str, live: Any, say: Any, quiet: bool, *, polls_url: bool = True
                 ) -> None:
        #: The URL the user typed; ``polls_url``: the polls go to it (``wait``), not to a
        #: status URL a server named (``run``: that one is shown sanitized).
        self.url = url
        self._own = polls_url
        self.status_url: str | None = None
        self.status: Any = None
        self.report: Any = None
        #: The latest update (its resume token is built only if a Ctrl-C asks for it).
        self.update: Any = None
        self.last_error: str | None = None
        self.failing = False
        self.live = live
        self._say = None if quiet else say
        self._shown: str | None = None
        self._line: tuple[Any, ...] = ("waiting for the first status",)
        self._requests = 0

    def request(self, event: Any) -> None:
        self._requests += 1
        if event.kind in ("poll", "stream"):
            self.status_url = event.url
        code = event.status_code
        failure = cli_words(event.error) if code is None or event.error else (
            f"HTTP {code}" if code in _RETRIED_CODES else None)
        if failure is None:
            if self.failing and self.live is not None:
                self.failing = False
                self._draw()
            self.failing = False
            return
        self.last_error, self.failing = failure, True
        if self.live is not None:
            self._draw()
        elif self._say is not None and failure != self._shown:
            own = self._own or event.kind == "start" or self.status_url is None
            where = shown_url(self.url) if own else self.status_url
            self._say(f"progress-client: {where}: {failure}")
        self._shown = failure

    def resume_token(self) -> str | None:
        return self.update.resume_token if self.update is not None else None

    def change(self, status: Any, report: Any, next_delay: float | None = None) -> None:
        self.status, self.report = status, report
        parts = [status.status]
        if status.step is not None:
            parts.append(f"step {status.step}")
        if status.progress is not None:
            parts.append(f"{status.progress:g}%")
        self._line = (parts, report.requests, next_delay)
        self._requests = report.requests
        if self.live is not None:
            self._draw()

    def _draw(self) -> None:
        from rich.text import Text  # start-up: rich only for the live line on a terminal

        if len(self._line) == 1:
            head, n, nxt = self._line[0], self._requests, None
        else:
            parts, n, nxt = self._line
            head = " · ".join(sanitize(p) for p in parts)
            n = max(n, self._requests)
        tail = f"{n} {'request' if n == 1 else 'requests'}"
        if nxt is not None and not self.failing:
            tail += f", next in {nxt:.1f}s"
        pieces: list[Any] = [("● ", "cyan"), (head, "bold")]
        if self.failing and self.last_error:
            pieces.append((f" · {self.last_error}", "red"))
        pieces.append((f"  ({tail})", "dim"))
        self.live.update(Text.assemble(*pieces), refresh=True)


#: How the command line is told to trust a server's CA: httpx reads SSL_CERT_FILE.
CLI_TLS_ADVICE = "trust the server's CA (SSL_CERT_FILE=ca.pem before the command)"


def cli_words(text: str | None) -> str | None:
    """An error's words with the Python-only advice put as the command line takes it."""
    if text is None or "verify= an ssl.SSLContext" not in text:
        return text
    # start-up: transports.http imports httpx, which parsing never loads
    from progress_client.transports.http import TLS_ADVICE

    return text.replace(TLS_ADVICE, CLI_TLS_ADVICE)


def error_text(exc: Any, max_body: int | None) -> str:
    """A job error's message for the command line: the body limit named as its option, the
    certificate advice as a command line takes it."""
    message: str = cli_words(exc.message) or ""
    if "raise max_body" in message:
        limit = format_size(max_body if max_body is not None else DEFAULT_MAX_BODY)
        message = message.replace("raise max_body", f"raise --max-body (now {limit})")
    return message
