"""``progress-client job set|get``: write a job's status to the reference server (as a worker
would) or read it, from the command line.

``job set ID --status running --progress 40`` sends ``PUT /jobs/ID`` to the server
(``--server``, default ``http://127.0.0.1:8000``, what ``progress-client serve`` binds) with
the worker token from ``--token``, the environment variable ``PROGRESS_CLIENT_WORKER_TOKEN``,
or, for a server on a loopback address, the file ``serve`` keeps it in
(``_worker_token.py``). ``--progress`` is a percentage, 0 to 100. PUT replaces the status
document: a field not given (step, progress, error) is stored as null.

Exit codes: 0 done; 2 a usage error or an update the server refused as invalid (400, 422);
4 anything else: the server cannot be reached, refused the token (401) or takes no writes
(405 ``writes_disabled``), an unknown job (``get``: 404), a server error.

Light on purpose: httpx is imported inside ``run``; the module imports the standard library.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from progress_client.core.sanitize import sanitize

from . import COMMANDS, EXIT_ERROR, EXIT_OK, EXIT_USAGE
from ._common import positive_float
from ._worker_token import ENV_TOKEN, is_loopback, read_token

if TYPE_CHECKING:
    import httpx

__all__ = ["DEFAULT_SERVER", "add_parser", "run"]

DEFAULT_SERVER = "http://127.0.0.1:8000"
# The store's own rule for job ids (server/store.py), here so the module needs no server.
_JOB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")


def _percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and 0 <= value <= 100):
        raise argparse.ArgumentTypeError(f"a percentage from 0 to 100: {text!r}")
    return value


def _job_id(text: str) -> str:
    if not _JOB_ID.match(text):
        raise argparse.ArgumentTypeError(
            "a job id is 1-128 letters, digits, '_', '.', '-', starting with a letter or digit")
    return text


def add_parser(sub: Any) -> None:
    p = sub.add_parser("job", help=COMMANDS["job"],
                       description="Write a job's status to the reference server as a worker "
                       "would (PUT /jobs/ID), or read it (GET /jobs/ID).")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    s = actions.add_parser("set", help="write a job's status (PUT /jobs/ID)",
                           description="Write a job's status document; fields not given are "
                           "stored as null (PUT replaces the document).")
    s.add_argument("job_id", type=_job_id, metavar="ID", help="the job's id, e.g. 42")
    s.add_argument("--status", required=True,
                   help="the status word, e.g. queued, running, completed, failed")
    s.add_argument("--progress", type=_percent, default=None, metavar="PERCENT",
                   help="how far along, in percent: 0 to 100 (40 means 40%%)")
    s.add_argument("--step", default=None, help="the step the job is at, e.g. render")
    s.add_argument("--error", default=None, metavar="MESSAGE",
                   help="what went wrong (stored sanitized: no secrets, paths, addresses)")
    s.add_argument("--completed-step", default=None, metavar="STEP",
                   help="a step now done, kept in the job's checkpoint for a resuming worker")
    s.add_argument("--token", default=None,
                   help=f"the worker token (default: ${ENV_TOKEN}, else the one a "
                   "'progress-client serve' on this machine keeps for the same address)")
    _common_options(s)
    s.add_argument("--json", action="store_true",
                   help="print the stored status document as JSON on stdout")
    s.set_defaults(run=run)
    g = actions.add_parser("get", help="read a job's status (GET /jobs/ID)",
                           description="Print a job's status document as JSON.")
    g.add_argument("job_id", type=_job_id, metavar="ID", help="the job's id, e.g. 42")
    _common_options(g)
    g.set_defaults(run=run, json=True)


def _common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--server", default=DEFAULT_SERVER, metavar="URL",
                   help=f"the status server's base URL ({DEFAULT_SERVER})")
    p.add_argument("--timeout", type=positive_float, default=10.0, metavar="S",
                   help="give up on the request after S seconds (10)")


def _base(server: str) -> tuple[str, str, int] | None:
    """``(base URL, host, port)`` of ``--server`` (None if it is no http(s) URL)."""
    try:
        parts = urlsplit(server.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    port = port or (443 if parts.scheme == "https" else 80)
    return server.strip().rstrip("/"), parts.hostname, port


def _label(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _say(text: str) -> None:
    print(f"progress-client job: {text}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    found = _base(args.server)
    if found is None:
        _say("error: --server takes an http:// or https:// URL, e.g. " + DEFAULT_SERVER)
        return EXIT_USAGE
    base, host, port = found
    url = f"{base}/jobs/{quote(args.job_id, safe='')}"
    import httpx  # start-up: --help and usage errors never load httpx

    headers = {"Accept": "application/json"}
    body: dict[str, Any] | None = None
    token_from = None
    if args.action == "set":
        body = {"status": args.status, "step": args.step, "progress": args.progress,
                "error": args.error}
        if args.completed_step is not None:
            body["completed_step"] = args.completed_step
        token, token_from = _token(args, host, port)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
    try:
        # No proxy for a loopback server (a proxy would see the token); the environment's
        # proxy settings otherwise.
        with httpx.Client(timeout=args.timeout, trust_env=not is_loopback(host)) as http:
            if body is None:
                response = http.get(url, headers=headers)
            else:
                response = http.put(url, json=body, headers=headers)
    except httpx.HTTPError as exc:
        _say(f"error: cannot reach {_label(host, port)}: {_transport_words(exc, args.timeout)}"
             "; is the server running (progress-client serve)?")
        return EXIT_ERROR
    return _answer(args, response, _label(host, port), token_from)


def _token(args: argparse.Namespace, host: str, port: int) -> tuple[str | None, str | None]:
    """The token to send and where it came from (for messages; never the token itself)."""
    if args.token:
        return args.token, "--token"
    env = os.environ.get(ENV_TOKEN)
    if env:
        return env, f"${ENV_TOKEN}"
    if is_loopback(host):
        kept = read_token(host, port)
        if kept is not None:
            return kept, "the token 'progress-client serve' keeps on this machine"
    return None, None


def _transport_words(exc: Exception, timeout: float) -> str:
    import httpx  # start-up: --help and usage errors never load httpx

    if isinstance(exc, httpx.TimeoutException):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, httpx.ConnectError):
        text = str(exc).lower()
        return "connection refused" if "refused" in text else "could not connect"
    return f"network error ({type(exc).__name__})"


def _error_code(response: httpx.Response) -> str | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data.get("error") if isinstance(data, dict) else None


def _detail(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(data, dict) and isinstance(data.get("detail"), str):
        return sanitize(data["detail"])[:500]
    return f"HTTP {response.status_code}"


def _answer(args: argparse.Namespace, response: httpx.Response, where: str,
            token_from: str | None) -> int:
    code = response.status_code
    if code in (200, 201):
        try:
            doc = response.json()
        except ValueError:
            _say(f"error: {where} answered with no JSON document: is it a progress-client "
                 "status server?")
            return EXIT_ERROR
        if args.json:
            sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
        else:
            print(_summary(args.job_id, doc))
        return EXIT_OK
    detail = _detail(response)
    if code == 401:
        if token_from is None:
            _say(f"error: the server at {where} wants its worker token ({detail}); none "
                 f"found: pass --token or set {ENV_TOKEN} (a 'progress-client serve' on a "
                 "loopback address of this machine needs neither)")
        else:
            _say(f"error: the server at {where} refused the worker token from {token_from} "
                 f"({detail})")
        return EXIT_ERROR
    if code == 405 and _error_code(response) == "writes_disabled":
        _say(f"error: the server at {where} takes no writes: {detail}")
        return EXIT_ERROR
    if code == 404 and args.action == "get":
        _say(f"error: job {args.job_id}: unknown or expired on {where}")
        return EXIT_ERROR
    if code in (400, 405, 413, 422):
        _say(f"error: the server refused the update: {detail}")
        return EXIT_USAGE
    _say(f"error: {where} answered {code}: {detail}")
    return EXIT_ERROR


def _summary(job_id: str, doc: Any) -> str:
    if not isinstance(doc, dict):
        return f"job {job_id}: {sanitize(str(doc))[:200]}"
    parts = [str(doc.get("status"))]
    if isinstance(doc.get("progress"), (int, float)):
        parts.append(f"{doc['progress']:g}%")
    if doc.get("step") is not None:
        parts.append(f"step {doc['step']}")
    if doc.get("error"):
        parts.append(f"error: {doc['error']}")
    return sanitize(f"job {job_id}: " + ", ".join(parts))
