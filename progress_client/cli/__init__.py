"""The ``progress-client`` command: one module per subcommand, each with ``add_parser`` and
``run``. Exit codes: 0 succeeded, 1 the job failed, 2 usage error, 3 timeout, 4 polling error,
5 the job waits for a person (a profile says so), 130 interrupted.

Start-up is part of what a user waits for, so this module stays light: it imports only the
module of the command being run (a command module imports its heavy parts inside ``run``), and
``--version`` and the top-level help import no command at all."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from importlib import import_module

from .. import __version__
from ._imports import trim_imports
from ._started import process_started

__all__ = ["COMMANDS", "build_parser", "main"]

#: Subcommands in help order, each the name of a module in this package, with its one-line
#: help for the top-level listing (the module's own ``add_parser`` repeats it; a test checks).
COMMANDS: dict[str, str] = {
    "wait": "wait on a job until it ends (exit 0 ok, 1 failed, 3 timeout, 4 error)",
    "run": "start a job, wait on it and fetch its result (exit codes as wait)",
    "plan": "compare the monthly request cost of polling strategies",
    "demo": "see the whole system run: server, worker, adaptive vs fixed 1 s polling",
    "serve": "run the reference status server (GET /jobs/{id}, /jobs/{id}/events, /healthz)",
    "job": "write a job's status to the reference server (job set ID --status S), or read it",
    "profiles": "list the built-in job API profiles, or show one (profiles show NAME|FILE)",
    "resume": "continue every unfinished wait of a store (--store FILE), outcomes printed once",
}

#: Commands that run no event loop: their process leaves anyio and trio unloaded until used.
SYNC_COMMANDS = frozenset({"wait", "run", "plan", "job", "resume"})

# The job-outcome codes (1 failed, 3 timeout, 4 error) come from each PollError's exit_code.
EXIT_OK, EXIT_USAGE, EXIT_ERROR, EXIT_INTERRUPTED = 0, 2, 4, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One line (a script's log shows it whole), and where the usage is.
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser, with the full sub-parser of ``command`` (its module imported) and a bare
    entry for every other command (enough for the listing and for "invalid choice")."""
    parser = _Parser(
        prog="progress-client",
        description="Wait on long-running HTTP jobs with as few requests as possible.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, text in COMMANDS.items():
        if name == command:
            import_module(f"{__name__}.{name}").add_parser(sub)
        else:
            sub.add_parser(name, help=text, add_help=False)
    return parser


def _command_of(argv: Sequence[str]) -> str | None:
    # The top level takes no option with a value, so the first word is the command.
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word in COMMANDS else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command. With ``argv`` None (the process's own command line) deadlines count from
    the process's start; with ``argv`` given (a call from Python), from this call."""
    started = process_started() if argv is None else time.monotonic()
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = _command_of(args_list)
    if argv is None and command in SYNC_COMMANDS:
        trim_imports()
    parser = build_parser(command)
    args = parser.parse_args(args_list)
    args.started = started
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
