"""``--store`` on ``wait`` and ``run``, and what ``resume`` shares with them: a durable wait
from the command line (``waitstore``), its outcome printed once, its exit code.

The store holds no credential: headers come from ``-H`` (on ``resume`` too) and from the
environment variable ``PROGRESS_CLIENT_HEADERS`` (one ``Name: value`` per line), read again by
every process that continues the waits."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .. import sanitize
from . import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_USAGE
from ._common import parse_header, summary_line

if TYPE_CHECKING:
    from ..waitstore import DurableOutcome, WaitStore

__all__ = ["add_store_options", "add_webhook_options", "durable_client", "outcome_json",
           "print_outcome", "run_durable", "webhook_receiver"]

#: Environment variable with headers for every request, one ``Name: value`` per line.
HEADERS_ENV = "PROGRESS_CLIENT_HEADERS"
#: Environment variable with the webhook secret (instead of ``--webhook-secret``).
SECRET_ENV = "PROGRESS_CLIENT_WEBHOOK_SECRET"
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


def add_webhook_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--webhook-listen", default=None, metavar="HOST:PORT",
                   help="receive the job's webhook here (a verified webhook ends the wait "
                        "with one GET; until then one poll a minute)")
    p.add_argument("--webhook-url", default=None, metavar="PUBLIC_URL",
                   help="the URL the vendor reaches --webhook-listen at (its path included)")
    p.add_argument("--webhook-secret", default=None, metavar="SECRET|@FILE",
                   help="what verifies the webhooks: a whsec_ secret (Replicate), fal's JWKS "
                        "(@FILE), a shared header value (AssemblyAI); or set "
                        "PROGRESS_CLIENT_WEBHOOK_SECRET")
    p.add_argument("--webhook-safety", type=float, default=60.0, metavar="S",
                   help="seconds between the safety polls while no webhook came (60)")


def webhook_receiver(args: argparse.Namespace, profiles: Iterable[str | None]) -> Any:
    """The receiver the ``--webhook-*`` options ask for (``None`` without them)."""
    listen = getattr(args, "webhook_listen", None)
    if listen is None and getattr(args, "webhook_url", None) is None:
        return None
    secret = args.webhook_secret or os.environ.get(SECRET_ENV)
    if listen is None or args.webhook_url is None or not secret:
        raise ValueError("webhooks need --webhook-listen HOST:PORT, --webhook-url PUBLIC_URL "
                         f"and --webhook-secret (or {SECRET_ENV})")
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError("--webhook-listen takes HOST:PORT, e.g. 0.0.0.0:8080")
    key: Any = secret
    if secret.startswith("@"):
        try:
            key = json.loads(open(secret[1:], encoding="utf-8").read())  # noqa: SIM115
        except (OSError, ValueError) as exc:
            raise ValueError(f"--webhook-secret {secret}: cannot read it as JSON "
                             f"({type(exc).__name__})") from None
    from ..webhooks import WebhookReceiver  # start-up: only --webhook-* loads the webhooks

    named = [p for p in profiles if p]
    if not named:
        raise ValueError("webhooks need --profile (the vendor says where its webhook goes)")
    try:
        receiver = WebhookReceiver(args.webhook_url, secrets={p: key for p in set(named)},
                                   safety_interval=args.webhook_safety)
    except ImportError as exc:
        raise ValueError(str(exc)) from None
    receiver.listen = (host or "127.0.0.1", int(port))  # type: ignore[attr-defined]
    return receiver


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
    # start-up: only --store loads the durable waits (sqlite3, the client)
    from ..waitstore import open_store

    try:
        return open_store(where)
    except ImportError as exc:
        raise ValueError(str(exc)) from None


def durable_client(args: argparse.Namespace, headers: list[tuple[str, str]]) -> Any:
    # start-up: no client before the arguments parse (tests/test_startup.py)
    from .. import AdaptivePolicy, ProgressClient

    policy = AdaptivePolicy(initial=args.initial, step=args.step, maximum=args.maximum)
    options: dict[str, Any] = {}
    if getattr(args, "max_body", None) is not None:
        options["max_body"] = args.max_body
    if getattr(args, "allow_fast_polling", False):
        options["allow_fast_polling"] = True
    return ProgressClient(policy=policy, baseline=args.baseline if args.baseline > 0 else 1.0,
                          headers=dict([*env_headers(), *headers]),
                          max_consecutive_errors=max(1, args.max_errors), **options)


def outcome_json(outcome: DurableOutcome) -> dict[str, Any]:
    """One outcome as the CLI prints it: the outcome's fields, the report's flat."""
    data = outcome.to_dict()
    report = data.pop("report")
    return {**data, "redelivered": outcome.redelivered, **report}


def print_outcome(outcome: DurableOutcome, as_json: bool, quiet: bool) -> None:
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
    # start-up: only a durable wait (--store, --webhook-*) loads them
    from ..waitstore import KeyInUse
    from ..waitstore.base import StoreError

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    given = [name for name in _NOT_STORED
             if getattr(args, name, None) not in (None, False, [])]
    if given:
        say(f"progress-client {command}: error: with --store or --webhook-* a wait keeps its "
            f"URL, profile and timeout only; {', '.join('--' + n.replace('_', '-') for n in given)}"
            " cannot be kept (write a profile file instead)")
        return EXIT_USAGE
    key = args.key or secrets.token_hex(8)
    try:
        receiver = webhook_receiver(args, [args.profile]) if command == "run" else None
        store = open_cli_store(args.store) if args.store else _memory_store()
        client = durable_client(args, args.header)
    except ValueError as exc:
        say(f"progress-client {command}: error: {sanitize(exc)}")
        return EXIT_USAGE
    if args.key is None and args.store and not args.quiet:
        say(f"progress-client: key {key} in {args.store}")

    def handler(outcome: DurableOutcome) -> None:
        print_outcome(outcome, args.json, args.quiet)

    try:
        with client, store, _listening(receiver):
            durable = client.durable(store, handler=handler, webhooks=receiver)
            if command == "wait":
                outcome = durable.wait(args.url, key=key, profile=args.profile,
                                       events_url=args.events, timeout=args.timeout)
            else:
                outcome = durable.run(args.url, key=key, profile=args.profile,
                                      timeout=args.timeout, **start)
    except StoreError as exc:  # the store cannot be reached or written
        say(f"progress-client {command}: error: {exc}")
        return EXIT_ERROR
    except (KeyInUse, ValueError, TypeError) as exc:
        say(f"progress-client {command}: error: {sanitize(exc)}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        if args.store:
            say(f"interrupted; 'progress-client resume --store {args.store}' continues it")
        else:
            say("interrupted")
        return EXIT_INTERRUPTED
    return int(outcome.exit_code)


def _memory_store() -> WaitStore:
    # start-up: only a durable wait (--store, --webhook-*) loads them
    from ..waitstore.memory import MemoryWaitStore

    return MemoryWaitStore()


def _listening(receiver: Any) -> Any:
    """The receiver on its own, for as long as the waits run (nothing without one)."""
    if receiver is None:
        return contextlib.nullcontext()
    host, port = receiver.listen
    return receiver.serve(host, port)
