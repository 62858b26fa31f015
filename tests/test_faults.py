"""The fault suite: wait, watch and the CLI against a server that breaks HTTP on purpose.

One table, ``FAULTS``: each row is a script for the fault server (tests/faultserver.py) and the
documented outcome: recovered (the job's ``completed`` is reached) or the typed error and its
CLI exit code. Every row runs against real sockets on 127.0.0.1 with the sync ``wait``, the
async ``watch`` (asyncio and trio) and, for the rows marked ``cli``, the ``progress-client wait``
command in a subprocess. For every run: the outcome, the time bound (never later than the
deadline plus 0.5 s), no traceback, no planted secret in any message, repr or log record, and a
flat memory profile (tracemalloc peak of the whole process).
"""

from __future__ import annotations

import base64
import functools
import gc
import hashlib
import json
import logging
import shutil
import ssl
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from progress_client import (
    AdaptivePolicy,
    AsyncProgressClient,
    BadResponse,
    JobFailed,
    PollError,
    PollTimeout,
    ProgressClient,
    RequestFailed,
    ResponseTooLarge,
    TooManyErrors,
)
from progress_client.transports.http import DEFAULT_MAX_REDIRECTS

from .faultserver import (
    FaultServer,
    Request,
    Step,
    chunked_then_drop,
    close_silently,
    endless_sse_line,
    html_page,
    huge_body,
    late_headers_then_stall,
    raw,
    redirect,
    refused_url,
    reset_before_headers,
    reset_mid_body,
    retry_after,
    retry_after_date,
    short_body,
    sse,
    stall_after_headers,
    stall_before_headers,
    status,
    trickle,
    with_body,
)
from .serving import fixture, make_certificate

pytestmark = pytest.mark.e2e

# -- planted secrets (fake, built here so no scanner mistakes them for live keys) ----------------


_ALNUM = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _fake(seed: str, n: int, alphabet: str = _ALNUM) -> str:
    digest = hashlib.sha256(seed.encode()).digest() * 4
    return "".join(alphabet[b % len(alphabet)] for b in digest[:n])


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


STRIPE_KEY = "sk_live_" + _fake("stripe", 24)
JWT = ".".join(
    [_b64({"alg": "HS256", "typ": "JWT"}), _b64({"sub": "u-1", "scope": "jobs"}), _fake("sig", 43)]
)
PASSWORD = "hunter2-" + _fake("pw", 10)
AWS_KEY = "AKIA" + _fake("aws", 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
EMAIL = "alice.w@example.org"
HOME = "/home/alice/.config/render/credentials.json"
URL_PASSWORD = "pw-" + _fake("urlpw", 12)
QUERY_TOKEN = "qt" + _fake("query", 20)

SECRETS = (STRIPE_KEY, JWT, PASSWORD, AWS_KEY, EMAIL, HOME, URL_PASSWORD, QUERY_TOKEN)
AUTH = {"Authorization": f"Bearer {JWT}"}

LEAKY_BODY = json.dumps(
    {
        "error": f"db connect failed password={PASSWORD} key {STRIPE_KEY} aws {AWS_KEY} "
        f"user {EMAIL} config {HOME} auth Bearer {JWT}",
    }
).encode()

POLICY = AdaptivePolicy(initial=0.02, step=0.02, maximum=0.05)
MAX_ERRORS = 4
SLACK = 0.5  # the bound: never later than the deadline plus 0.5 s
MEMORY_CEILING = 24 << 20  # bytes; the body limit is 1 MiB, a 300 MB body must not show


# -- the table -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ctx:
    """What a row's extra check may look at after a run."""

    server: FaultServer
    other: FaultServer
    path: str
    requests: list[Request]
    error: PollError | None


@dataclass(frozen=True)
class Fault:
    id: str
    script: Callable[[FaultServer, FaultServer, str], list[Step]]
    #: The documented outcome: None means recovered (the job completed).
    error: type[PollError] | None
    deadline: float = 3.0
    #: Run through ``progress-client wait --json`` too (and in text mode with ``cli_text``).
    cli: bool = False
    cli_text: bool = False
    #: A URL factory overriding the fault server's path (connection refused, credentials).
    url: Callable[[FaultServer, str], str] | None = None
    check: Callable[[Ctx], None] | None = None
    #: Extra headers sent by the client (the Authorization header is always sent).
    headers: dict[str, str] = field(default_factory=dict)
    #: A script for ``<path>/events``: the wait then listens there first (SSE), polling
    #: ``<path>`` only as its fallback.
    events: Callable[[FaultServer, FaultServer, str], list[Step]] | None = None
    #: Extra client options for this row.
    options: dict[str, object] = field(default_factory=dict)
    #: Waits for a real Retry-After second: run on the sync client and asyncio only.
    slow: bool = False

    @property
    def exit_code(self) -> int:
        return 0 if self.error is None else self.error.exit_code


def _gap(ctx: Ctx, index: int) -> float:
    return ctx.requests[index].at - ctx.requests[index - 1].at


def _waited_for_hint(seconds: float) -> Callable[[Ctx], None]:
    def check(ctx: Ctx) -> None:
        assert len(ctx.requests) >= 2
        assert _gap(ctx, 1) >= seconds - 0.05, f"the hint was not honoured: {_gap(ctx, 1):.3f}s"

    return check


def _ignored_hints(ctx: Ctx) -> None:
    gaps = [_gap(ctx, i) for i in range(1, len(ctx.requests))]
    assert gaps and max(gaps) < 0.6, f"an unusable hint was obeyed: {gaps}"


def _held_off(ctx: Ctx) -> None:
    # A huge hint is capped, and the wait ends at the deadline instead of sending again.
    assert len(ctx.requests) == 1


def _no_auth_across_origins(ctx: Ctx) -> None:
    first = [r for r in ctx.requests if r.path == ctx.path]
    assert first and first[0].headers.get("authorization") == f"Bearer {JWT}"
    moved = ctx.other.hits(ctx.path + "/moved")
    assert moved, "the redirect was not followed"
    assert all("authorization" not in r.headers for r in moved), "Authorization followed"


def _url_credentials_sent_as_basic(ctx: Ctx) -> None:
    got = ctx.requests[0].headers.get("authorization", "")
    assert got.startswith("Basic ")
    assert URL_PASSWORD in base64.b64decode(got[6:]).decode()


def _bounded_redirects(ctx: Ctx) -> None:
    hops = ctx.requests + ctx.server.hits(ctx.path + "/b")
    assert len(hops) == 1 + DEFAULT_MAX_REDIRECTS, f"{len(hops)} requests for one poll"


def _three_changes(ctx: Ctx) -> None:
    assert len(ctx.requests) == 4


def _mid_wait_expiry(ctx: Ctx) -> None:
    assert ctx.error is not None and "mid-wait" in ctx.error.message
    assert ctx.error.status is not None and ctx.error.status.status == "running"


def _events(ctx: Ctx) -> list[Request]:
    return ctx.server.hits(ctx.path + "/events")


def _fell_back_to_polling(ctx: Ctx) -> None:
    assert _events(ctx), "the event stream was not tried"
    assert ctx.requests, "the wait did not fall back to polling"


def _streamed_only(ctx: Ctx) -> None:
    streams = _events(ctx)
    assert len(streams) == 2 and not ctx.requests, "expected one reconnect and no polling"
    # The bogus retry: values were ignored, the valid 10 ms one was kept.
    assert streams[1].at - streams[0].at < 0.5


def _resumed_after(event_id: str) -> Callable[[Ctx], None]:
    def check(ctx: Ctx) -> None:
        streams = _events(ctx)
        assert len(streams) >= 2
        assert streams[1].headers.get("last-event-id") == event_id

    return check


def _ev(word: str, event_id: str | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return (head + f"data: {json.dumps({'status': word})}\n\n").encode()


FAST_RETRY = b"retry: 10\n"


def _pings(n: int, every: float) -> list[bytes | float]:
    """Keep-alive comments: each resets a per-read timeout, none is an event."""
    out: list[bytes | float] = []
    for _ in range(n):
        out += [every, b": ping\n"]
    return out


def _twice(*steps: Step) -> list[Step]:
    return [*steps, *steps]


FAULTS: list[Fault] = [
    # Server hints.
    Fault("429-retry-after-seconds",
          lambda s, o, p: [retry_after(429, "1"), status("completed")], None,
          check=_waited_for_hint(1.0), slow=True),
    Fault("503-retry-after-zero",
          lambda s, o, p: [retry_after(503, "0"), retry_after(503, "0"), status("completed")],
          None),
    Fault("503-retry-after-future-date",
          lambda s, o, p: [retry_after_date(503, 1.5), status("completed")], None,
          check=_waited_for_hint(0.5), slow=True),
    Fault("503-retry-after-past-date",
          lambda s, o, p: [retry_after_date(503, -3600), status("completed")], None,
          check=_ignored_hints),
    Fault("429-retry-after-absurd",
          lambda s, o, p: [retry_after(429, "99999999999999999999")], PollTimeout, deadline=0.2,
          check=_held_off),
    Fault("503-retry-after-garbage",
          lambda s, o, p: [retry_after(503, "soon, maybe"), retry_after(503, "-1"),
                        retry_after(503, "1.5"), status("completed")], None,
          check=_ignored_hints),
    Fault("503-retry-after-non-ascii-digit",
          lambda s, o, p: [retry_after(503, "\u00b2"), status("completed")], None,
          check=_ignored_hints),
    # Error bodies that carry secrets.
    Fault("5xx-bodies-with-secrets-then-ok",
          lambda s, o, p: [with_body(500, LEAKY_BODY), with_body(502, LEAKY_BODY),
                        with_body(504, LEAKY_BODY), status("completed")], None),
    Fault("5xx-forever", lambda s, o, p: [with_body(502, LEAKY_BODY)], TooManyErrors,
          cli_text=True),
    # The connection.
    Fault("connection-refused", lambda s, o, p: [status("completed")], TooManyErrors,
          url=lambda s, path: refused_url(path)),
    Fault("reset-before-headers-then-ok",
          lambda s, o, p: [reset_before_headers(), status("completed")], None),
    Fault("reset-before-headers-forever", lambda s, o, p: [reset_before_headers()], TooManyErrors),
    Fault("empty-reply-then-ok", lambda s, o, p: [close_silently(), status("completed")], None),
    Fault("reset-mid-body-then-ok", lambda s, o, p: [reset_mid_body(), status("completed")], None),
    Fault("body-shorter-than-content-length-then-ok",
          lambda s, o, p: [*_twice(short_body()), status("completed")], None),
    Fault("chunked-body-dropped-then-ok",
          lambda s, o, p: [chunked_then_drop(), status("completed")], None),
    Fault("stall-before-headers", lambda s, o, p: [stall_before_headers()], PollTimeout,
          deadline=0.2),
    Fault("stall-mid-body", lambda s, o, p: [stall_after_headers()], PollTimeout, deadline=0.2),
    Fault("trickling-body", lambda s, o, p: [trickle(0.05)], PollTimeout, deadline=0.2),
    # A per-read timeout restarts with every byte: these two end late unless the whole
    # exchange is bounded by the deadline.
    Fault("trickle-then-stall", lambda s, o, p: [trickle(0.05, stall_after=10)], PollTimeout,
          deadline=0.6, cli=True),
    Fault("late-headers-then-stall", lambda s, o, p: [late_headers_then_stall(0.55)], PollTimeout,
          deadline=0.6),
    # Not HTTP, not JSON, not a status.
    Fault("garbage-status-line-then-ok",
          lambda s, o, p: [raw(b"HTTP/1.1 two hundred OK\r\n\r\n"), raw(b"SSH-2.0-OpenSSH_9.6\r\n"),
                        status("completed")], None),
    Fault("garbage-status-line-forever", lambda s, o, p: [raw(b"\x16\x03\x01\x02\x00garbage")],
          TooManyErrors),
    Fault("html-page-with-200", lambda s, o, p: [html_page()], BadResponse),
    Fault("json-array", lambda s, o, p: [with_body(200, b'[{"status": "completed"}]')],
          BadResponse),
    Fault("json-without-status-field",
          lambda s, o, p: [with_body(200, b'{"state": "completed", "progress": 100}')],
          BadResponse),
    Fault("json-not-utf8", lambda s, o, p: [with_body(200, b'{"status": "compl\xff\xfeted"}')],
          BadResponse),
    Fault("json-nested-too-deep", lambda s, o, p: [with_body(200, b"[" * 100_000)], BadResponse),
    Fault("304-to-an-unconditional-request", lambda s, o, p: [with_body(304, b"")], BadResponse),
    Fault("body-of-300-MB", lambda s, o, p: [huge_body(300 << 20)], ResponseTooLarge, cli=True),
    Fault("body-of-300-MB-without-length",
          lambda s, o, p: [huge_body(300 << 20, declare_length=False)], ResponseTooLarge),
    # Redirects.
    Fault("redirect-loop",
          lambda s, o, p: [redirect(s.url(p + "/b"))], RequestFailed,
          check=_bounded_redirects),
    Fault("redirect-to-another-origin",
          lambda s, o, p: [redirect(o.url(p + "/moved"))], None, check=_no_auth_across_origins),
    # Credentials and the job's lifecycle.
    Fault("401-echoing-the-token",
          lambda s, o, p: [with_body(401, json.dumps({"error": f"bad Bearer {JWT}"}).encode())],
          RequestFailed, cli=True, cli_text=True),
    Fault("403", lambda s, o, p: [with_body(403, LEAKY_BODY)], RequestFailed),
    Fault("404-mid-wait-ttl-expired",
          lambda s, o, p: [status("running"), status("running"),
                        with_body(404, b'{"detail": "job not found"}')], RequestFailed,
          check=_mid_wait_expiry, cli=True),
    Fault("status-goes-backwards",
          lambda s, o, p: [status("running", step=2), status("queued"), status("running"),
                        status("completed")], None, check=_three_changes),
    Fault("unknown-status-forever", lambda s, o, p: [status("zombie")], PollTimeout, deadline=0.2),
    Fault("job-failed-with-secret-in-error",
          lambda s, o, p: [status("failed", error=f"upload to {HOME} with key {STRIPE_KEY}")],
          JobFailed, cli=True, cli_text=True),
    Fault("credentials-in-the-url", lambda s, o, p: [status("completed")], None,
          url=lambda s, path: s.url(path).replace(
              "http://", f"http://render:{URL_PASSWORD}@") + f"?token={QUERY_TOKEN}",
          check=_url_credentials_sent_as_basic, cli=True),
    Fault("credentials-in-the-url-timeout", lambda s, o, p: [status("running")], PollTimeout,
          deadline=0.2,
          url=lambda s, path: s.url(path).replace(
              "http://", f"http://render:{URL_PASSWORD}@") + f"?token={QUERY_TOKEN}"),
    # Server-Sent Events (``events_url=``); polling ``url`` is the fallback.
    Fault("sse-wrong-content-type", lambda s, o, p: [status("completed")], None,
          events=lambda s, o, p: [sse(_ev("completed"), content_type="text/html")],
          check=_fell_back_to_polling),
    Fault("sse-401-with-secrets", lambda s, o, p: [status("completed")], None,
          events=lambda s, o, p: [with_body(401, LEAKY_BODY)], check=_fell_back_to_polling,
          cli_text=True),
    Fault("sse-bogus-retry", lambda s, o, p: [status("completed")], None,
          events=lambda s, o, p: [
              sse(FAST_RETRY, b"retry: +1\n", b"retry: 1.5\n", b"retry: -5\n",
                  "retry: \u00b2\n".encode(), b"retry:  7\n", b"retry: soon\n",
                  _ev("running", "e1")),
              sse(_ev("completed", "e2"))],
          check=_streamed_only),
    Fault("sse-nul-in-id", lambda s, o, p: [status("completed")], None,
          events=lambda s, o, p: [
              sse(FAST_RETRY, _ev("running", "ok-1"),
                  b'id: bad\x00id\ndata: {"status": "rendering"}\n\n'),
              sse(_ev("completed"))],
          check=_resumed_after("ok-1")),
    Fault("sse-drop-mid-event", lambda s, o, p: [status("completed")], None,
          events=lambda s, o, p: [
              sse(FAST_RETRY, _ev("running", "e1"), b'id: e2\ndata: {"status": "compl'),
              sse(_ev("completed", "e3"))],
          check=_resumed_after("e1")),
    Fault("sse-reset-mid-event", lambda s, o, p: [status("completed")], None,
          events=lambda s, o, p: [
              sse(FAST_RETRY, _ev("running", "e1"), b'data: {"status": "compl', end="reset"),
              sse(_ev("completed", "e3"))],
          check=_resumed_after("e1")),
    Fault("sse-garbage-bytes", lambda s, o, p: [status("completed")], None,
          events=lambda s, o, p: [sse(FAST_RETRY, b"\xff\xfe\x00\x01garbage\r\r\n\x00")],
          check=_fell_back_to_polling),
    Fault("sse-endless-line-300-MB", lambda s, o, p: [status("completed")], None,
          events=lambda s, o, p: [endless_sse_line(300 << 20)], check=_fell_back_to_polling),
    Fault("sse-trickle-then-stall", lambda s, o, p: [status("running")], PollTimeout,
          deadline=0.6, cli=True,
          events=lambda s, o, p: [
              sse(FAST_RETRY, _ev("running", "e1"), *_pings(10, 0.05), end="stall")]),
]

IDS = [f.id for f in FAULTS]
assert len(set(IDS)) == len(IDS)


# -- fixtures and helpers ------------------------------------------------------------------------


server = fixture(FaultServer, scope="module")


@pytest.fixture(scope="module")
def other() -> Iterator[FaultServer]:
    with FaultServer() as s:
        yield s


def _bind(
    fault: Fault, server: FaultServer, other: FaultServer
) -> tuple[str, str, str | None]:
    """Bind a fresh path for this run; returns (path, url, events_url)."""
    path = f"/jobs/{fault.id}-{uuid.uuid4().hex[:8]}"
    server.route(path, *fault.script(server, other, path))
    # The second hop of the redirect rows: a loop back, and the other origin's answer.
    server.route(path + "/b", redirect(server.url(path)))
    other.route(path + "/moved", status("completed"))
    url = fault.url(server, path) if fault.url is not None else server.url(path)
    events_url = None
    if fault.events is not None:
        events_url = server.route(path + "/events", *fault.events(server, other, path))
    return path, url, events_url


def _assert_clean(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"a planted secret leaked into {where}: {text[:300]!r}"
    assert "Traceback" not in text, f"a traceback in {where}"


def _assert_logs_clean(caplog: pytest.LogCaptureFixture) -> None:
    for record in caplog.records:
        text = record.getMessage()
        if record.exc_text:
            text += record.exc_text
        _assert_clean(text, f"log record {record.name}")


def _assert_outcome(fault: Fault, error: PollError | None, elapsed: float) -> None:
    if fault.error is None:
        assert error is None, f"expected recovery, got {type(error).__name__}: {error}"
    else:
        assert type(error) is fault.error, (
            f"expected {fault.error.__name__}, got "
            f"{type(error).__name__ if error else 'success'}: {error}"
        )
        assert error.exit_code == fault.exit_code
        _assert_clean(str(error), "the error message")
        _assert_clean(repr(error), "the error repr")
        _assert_clean(str(error.url), "the error url")
        if error.status is not None:
            _assert_clean(repr(error.status), "the status repr")
        token = getattr(error, "resume_token", None)
        if token is not None:
            _assert_clean(token, "the resume token")
    assert elapsed <= fault.deadline + SLACK, (
        f"took {elapsed:.2f}s, deadline {fault.deadline}s + {SLACK}s"
    )


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="progress_client")
    caplog.set_level(logging.DEBUG, logger="httpx")
    caplog.set_level(logging.DEBUG, logger="httpcore")
    return caplog


def _client_kwargs(fault: Fault) -> dict[str, object]:
    return {
        "policy": POLICY,
        "allow_fast_polling": True,
        "headers": {**AUTH, **fault.headers},
        "max_consecutive_errors": MAX_ERRORS,
        **fault.options,
    }


# -- the runs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", FAULTS, ids=IDS)
def test_sync_wait(
    fault: Fault, server: FaultServer, other: FaultServer, logs: pytest.LogCaptureFixture
) -> None:
    path, url, events_url = _bind(fault, server, other)
    error: PollError | None = None
    tracemalloc.start()
    started = time.monotonic()
    try:
        with ProgressClient(**_client_kwargs(fault)) as client:  # type: ignore[arg-type]
            _assert_clean(repr(client), "the client repr")
            result = client.wait(url, timeout=fault.deadline, events_url=events_url)
            assert result.status.status == "completed"
    except PollError as exc:
        error = exc
    finally:
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    _assert_outcome(fault, error, elapsed)
    assert peak < MEMORY_CEILING, f"memory peak {peak / 1e6:.1f} MB"
    _assert_logs_clean(logs)
    if fault.check is not None:
        fault.check(Ctx(server, other, path, server.hits(path), error))


ASYNC_RUNS = [
    (backend, f) for f in FAULTS for backend in ("asyncio", "trio")
    if backend == "asyncio" or not f.slow
]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("anyio_backend", "fault"), ASYNC_RUNS, ids=[f"{b}-{f.id}" for b, f in ASYNC_RUNS]
)
async def test_async_watch(
    anyio_backend: str,
    fault: Fault,
    server: FaultServer,
    other: FaultServer,
    logs: pytest.LogCaptureFixture,
) -> None:
    path, url, events_url = _bind(fault, server, other)
    error: PollError | None = None
    seen: list[str] = []
    tracemalloc.start()
    started = anyio.current_time()
    try:
        async with AsyncProgressClient(**_client_kwargs(fault)) as client:  # type: ignore[arg-type]
            async for update in client.watch(url, timeout=fault.deadline, events_url=events_url):
                seen.append(update.status.status)
                _assert_clean(repr(update.status), "an update")
    except PollError as exc:
        error = exc
    finally:
        elapsed = anyio.current_time() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    _assert_outcome(fault, error, elapsed)
    assert peak < MEMORY_CEILING, f"memory peak {peak / 1e6:.1f} MB"
    if fault.error is None:
        assert seen and seen[-1] == "completed"
    _assert_logs_clean(logs)
    if fault.check is not None:
        fault.check(Ctx(server, other, path, server.hits(path), error))


CLI_FAULTS = [f for f in FAULTS if f.cli]
#: The start-up allowance a CLI run gets on top of its fault's deadline (seconds).
CLI_START = 2.0


@pytest.fixture(scope="module")
def cli_startup() -> float:
    """How long the interpreter takes to start the CLI at all (subtracted from the bound)."""
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "progress_client", "--version"],
        capture_output=True, check=True, timeout=60,
    )
    return time.monotonic() - started


CLI_RUNS = [(f, True) for f in CLI_FAULTS] + [(f, False) for f in FAULTS if f.cli_text]


@pytest.mark.parametrize(
    ("fault", "json_out"),
    CLI_RUNS,
    ids=[f"{f.id}-{'json' if j else 'text'}" for f, j in CLI_RUNS],
)
def test_cli_wait(
    fault: Fault, json_out: bool, server: FaultServer, other: FaultServer, cli_startup: float
) -> None:
    _, url, events_url = _bind(fault, server, other)
    # The CLI's --timeout counts from the process's start, which a busy machine can make last
    # longer than a fault's short deadline: the wait gets its time on top of a start-up's.
    deadline = fault.deadline + CLI_START
    argv = [
        sys.executable, "-m", "progress_client", "wait", url,
        "--initial", "0.02", "--step", "0.02", "--max", "0.05", "--allow-fast-polling",
        "--timeout", str(deadline), "--max-errors", str(MAX_ERRORS),
        "-H", f"Authorization: Bearer {JWT}",
    ]
    if events_url is not None:
        argv += ["--events", events_url]
    if json_out:
        argv.append("--json")
    started = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    elapsed = time.monotonic() - started
    assert proc.returncode == fault.exit_code, (proc.returncode, proc.stdout, proc.stderr)
    _assert_clean(proc.stdout, "stdout")
    _assert_clean(proc.stderr, "stderr")
    # Interpreter start-up is not the wait's fault; allow it (twice: imports vary) on top.
    assert elapsed <= deadline + SLACK + 2 * cli_startup + 0.5, f"CLI took {elapsed:.2f}s"
    if json_out:
        doc = json.loads(proc.stdout)
        expected = "succeeded" if fault.error is None else fault.error.outcome
        assert doc["outcome"] == expected
        assert doc["requests"] >= (0 if fault.id == "connection-refused" else 1)
    else:
        assert proc.stdout.strip() or proc.stderr.strip(), "the CLI said nothing"
        if fault.error is not None:
            assert f"progress-client: {fault.error.outcome}:" in proc.stderr


# -- safe defaults -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1, made with the openssl binary."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("no openssl binary to make a throwaway certificate")
    cert, key = make_certificate(openssl, tmp_path_factory.mktemp("tls"))
    return cert, key


def test_tls_verification_is_on_by_default_and_fatal(
    tls_files: tuple[Path, Path], logs: pytest.LogCaptureFixture
) -> None:
    cert, key = tls_files
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    with FaultServer(ssl_context=server_ctx) as tls:
        url = tls.route("/jobs/tls", status("completed"))
        assert url.startswith("https://")
        started = time.monotonic()
        with ProgressClient(policy=POLICY,
                            allow_fast_polling=True, headers=AUTH) as client, pytest.raises(
            RequestFailed
        ) as info:
            client.wait(url, timeout=3.0)
        # A certificate cannot get better by retrying: the first failure ends the wait.
        assert "certificate verify failed" in info.value.message
        assert info.value.report is not None and info.value.report.requests == 1
        assert info.value.exit_code == 4
        assert time.monotonic() - started < 2.0
        _assert_clean(str(info.value), "the TLS error")
        assert not [r for r in tls.requests if r.path == "/jobs/tls"], "a request got through"
        # Trusting the certificate explicitly is the way in, not verify=False.
        trusted = ssl.create_default_context(cafile=str(cert))
        with ProgressClient(policy=POLICY,
                            allow_fast_polling=True, headers=AUTH, verify=trusted) as client:
            assert client.wait(url, timeout=3.0).status.status == "completed"
    _assert_logs_clean(logs)


@pytest.mark.anyio
async def test_async_tls_verification_is_on_by_default(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    with FaultServer(ssl_context=server_ctx) as tls:
        url = tls.route("/jobs/tls", status("completed"))
        async with AsyncProgressClient(policy=POLICY, allow_fast_polling=True) as client:
            with pytest.raises(RequestFailed, match="certificate verify failed"):
                await client.wait(url, timeout=3.0)


def test_default_client_limits() -> None:
    for cls in (ProgressClient, AsyncProgressClient):
        client = cls(headers=AUTH, auth=("render", URL_PASSWORD))
        http = client._http
        assert http.follow_redirects is True and http.max_redirects == DEFAULT_MAX_REDIRECTS
        assert client.config.max_body == 1 << 20
        _assert_clean(repr(client), "the client repr")
        if isinstance(client, ProgressClient):
            client.close()
        else:
            anyio.run(client.aclose)


def _store_call(running: Any, func: Callable[..., Any], **kwargs: Any) -> Any:
    return running.call(functools.partial(func, **kwargs))


def test_status_server_is_read_only_and_serves_sanitized_errors() -> None:
    from progress_client.server import MemoryStore, PIIRefused, create_app, serve_in_thread

    from .test_sanitize_corpus import SECRETS as CORPUS

    store = MemoryStore()
    with serve_in_thread(create_app(store)) as running, httpx.Client(base_url=running.url) as http:
        _store_call(running, store.update, job_id="job-1", status="running")
        # Every write method on every route is refused; nothing changes.
        for path in ("/jobs/job-1", "/jobs/job-1/events", "/healthz", "/jobs", "/"):
            for method in ("POST", "PUT", "PATCH", "DELETE"):
                r = http.request(method, path, json={"status": "completed"})
                assert r.status_code in (404, 405), (method, path, r.status_code)
        assert http.get("/jobs/job-1").json()["status"] == "running"
        # Errors are sanitized when written: no corpus secret is ever served.
        for i, secret in enumerate(CORPUS):
            _store_call(running, store.update, job_id=f"leak-{i}", status="failed",
                        error=secret.text)
            body = http.get(f"/jobs/leak-{i}").text
            assert secret.secret not in body, f"{secret.kind} served back"
        with ProgressClient(policy=POLICY,
                            allow_fast_polling=True) as client, pytest.raises(JobFailed) as info:
            client.wait(f"{running.url}/jobs/leak-0", timeout=3.0)
        assert CORPUS[0].secret not in str(info.value)
        # Personal data is refused before anything is written, and not echoed back.
        with pytest.raises(PIIRefused) as refused:
            _store_call(running, store.set_metadata, job_id="job-1", voice=EMAIL)
        assert EMAIL not in str(refused.value)
        assert _store_call(running, store.get_metadata, job_id="job-1") is None


def test_memory_stays_flat_over_many_faulty_waits(server: FaultServer) -> None:
    """A client that lives for months sees every fault many times: nothing may accumulate."""
    path = f"/jobs/leak-{uuid.uuid4().hex[:8]}"
    steps = [reset_mid_body(), short_body(), with_body(502, LEAKY_BODY), status("completed")]
    instant = AdaptivePolicy(0.0, 0.0, 0.0)

    def waits(client: ProgressClient, n: int) -> None:
        for i in range(n):
            server.route(f"{path}-{i}", *steps)
            assert client.wait(server.url(f"{path}-{i}"), timeout=5.0).status.status == "completed"
        server.requests.clear()  # the server's own log of requests is not the client's memory
        gc.collect()

    with ProgressClient(policy=instant,
                        allow_fast_polling=True, headers=AUTH,
                        max_consecutive_errors=MAX_ERRORS) as client:
        tracemalloc.start()
        try:
            waits(client, 10)  # warm-up: pools, caches, lazily built regexes
            before, _ = tracemalloc.get_traced_memory()
            waits(client, 50)
            after, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    growth = after - before
    assert growth < 256 * 1024, f"memory grew by {growth / 1024:.0f} KiB over 50 waits"
    assert peak < MEMORY_CEILING
