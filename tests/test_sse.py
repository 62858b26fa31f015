"""Server-Sent Events: the WHATWG field rules (property tests), the reconnect schedule, and
end-to-end waits over a real stream on 127.0.0.1 (CLI, sync and async clients): the happy
path, a cut stream resumed with Last-Event-ID, and the fallbacks to polling."""

from __future__ import annotations

import json
import socket
import sys
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from progress_client import (
    AsyncProgressClient,
    FixedPolicy,
    ProgressClient,
    ResponseTooLarge,
    VirtualClock,
)
from progress_client.cli import main
from progress_client.core.sse import (
    EventStreamDecoder,
    Reconnect,
    is_event_stream,
    parse_retry_field,
    valid_event_id,
)
from tests.kit import JobServer
from tests.serving import fixture

FAST = FixedPolicy(0.05)


server = fixture(JobServer)


# -- the WHATWG field rules --------------------------------------------------------------------


@given(st.text(max_size=12))
def test_retry_is_used_only_when_all_ascii_digits(value: str) -> None:
    expected = int(value) if value and value.isascii() and value.isdigit() else None
    assert parse_retry_field(value) == expected


@pytest.mark.parametrize("value", ["+1", "-1", " 1", "1 ", "1.0", "1e3", "١٢", "", "0x10"])
def test_retry_garbage_is_ignored(value: str) -> None:
    assert parse_retry_field(value) is None
    dec = EventStreamDecoder()
    dec.feed(f"retry: {value}\n\n".encode())  # one space after the colon is dropped
    assert dec.retry_ms is None


@given(st.text(max_size=20))
def test_event_id_with_nul_is_ignored(value: str) -> None:
    value = value.replace("\r", "").replace("\n", "")
    dec = EventStreamDecoder(last_event_id="before")
    events = dec.feed(f"id: {value}\ndata: x\n\n".encode())
    expected = "before" if "\0" in value else value
    assert valid_event_id(value) is ("\0" not in value)
    assert dec.last_event_id == expected and events[0].last_event_id == expected


STREAM = (
    "\ufeffretry: 250\r\n"
    ": a comment\n"
    "id: 1\r"
    "data: {\"status\": \"queued\"}\n\n"
    "event: status\ndata: a\ndata:b\nunknown: field\n\r\n"
    "id: 2\n\n"  # no data: not dispatched, but the id sticks
    "data\n\n"  # a field name alone: empty data line
    "data: last\n\n"
).encode()


def _decode(chunks: list[bytes]) -> tuple[list[tuple[str, str, str]], EventStreamDecoder]:
    dec = EventStreamDecoder()
    out = []
    for c in chunks:
        out += [(e.type, e.data, e.last_event_id) for e in dec.feed(c)]
    return out, dec


def test_decoder_follows_the_standard() -> None:
    events, dec = _decode([STREAM])
    assert events == [
        ("message", '{"status": "queued"}', "1"),
        ("status", "a\nb", "1"),
        ("message", "", "2"),
        ("message", "last", "2"),
    ]
    assert dec.retry_ms == 250


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=8))
def test_decoder_is_independent_of_chunking(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    chunks = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)], strict=True)]
    assert _decode(chunks)[0] == _decode([STREAM])[0]


def test_decoder_bounds_one_event_and_one_line() -> None:
    dec = EventStreamDecoder(max_event=100)
    with pytest.raises(ResponseTooLarge):
        dec.feed(b"data: " + b"x" * 200)  # an endless line, never terminated
    dec = EventStreamDecoder(max_event=100)
    with pytest.raises(ResponseTooLarge):
        for _ in range(20):
            dec.feed(b"data: xxxxxxxx\n")  # many short lines, one event
    dec = EventStreamDecoder(max_event=100)
    for _ in range(50):  # many small events are fine: the limit is per event
        assert len(dec.feed(b"data: xxxxxxxx\n\n")) == 1


def test_content_type() -> None:
    assert is_event_stream("text/event-stream; charset=utf-8")
    assert is_event_stream("Text/Event-Stream")
    assert not is_event_stream("application/json")
    assert not is_event_stream(None)


def test_reconnect_backs_off_and_gives_up() -> None:
    rec = Reconnect(retry=1.0, max_delay=30.0, max_failures=3)
    assert rec.dropped(delivered=True) == 1.0
    assert rec.dropped(delivered=False) == 2.0
    assert rec.dropped(delivered=False) == 4.0
    assert rec.dropped(delivered=True) == 1.0  # events came: the count starts over
    rec.server_retry(100_000_000)
    assert rec.retry == 30.0  # the server's retry is capped
    rec.server_retry(50)
    assert rec.dropped(delivered=False) == pytest.approx(0.1)
    assert rec.dropped(delivered=False) == pytest.approx(0.2)
    assert rec.dropped(delivered=False) is None


# -- end to end: the CLI ----------------------------------------------------------------------


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object]]:
    code = main(["wait", *argv, "--json", "--initial", "0.05", "--step", "0.05", "--max",
                 "0.2"])
    out = capsys.readouterr().out
    return code, json.loads(out.strip().splitlines()[-1])


@pytest.mark.e2e
def test_cli_sse_job_costs_at_most_two_requests(
    server: JobServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.job("a", [(0, "queued"), (0.3, "running"), (0.6, "done")])
    code, out = _cli(capsys, server.url("a"), "--events", server.events_url("a"))
    assert code == 0 and out["status"] == "done"
    assert out["mode"] == "sse" and out["requests"] <= 2
    assert out["changes"] == 2
    # From the stream's opening (the job's start) to the pushed "done" at 0.6 s; a busy
    # machine may deliver it late, never early.
    assert 0.6 - 0.002 <= float(out["elapsed_s"]) < 0.6 + 1.0  # type: ignore[arg-type]
    assert server.requests("/jobs/a") == []  # not one poll


@pytest.mark.e2e
def test_cli_cut_stream_reconnects_with_last_event_id(
    server: JobServer, capsys: pytest.CaptureFixture[str]
) -> None:
    server.job("b", [(0, "queued"), (0.3, "running"), (0.5, "done")], cut_after=1)
    code, out = _cli(capsys, server.url("b"), "--events", server.events_url("b"))
    assert code == 0 and out["status"] == "done" and out["mode"] == "sse"
    conns = server.requests("/jobs/b/events")
    assert len(conns) == 2 and out["requests"] == 2
    assert "last-event-id" not in conns[0].headers
    assert conns[1].headers["last-event-id"] == "0"
    # The server's retry: 50 ms was honoured: the 1 s default would put the second
    # connection at least 1 s after the first.
    assert conns[1].at - conns[0].at < 1.0


@pytest.mark.e2e
@pytest.mark.parametrize("failure", [{"events_status": 404},
                                     {"events_type": "application/json"}])
def test_cli_unusable_stream_falls_back_to_polling(
    server: JobServer, capsys: pytest.CaptureFixture[str], failure: dict[str, object]
) -> None:
    server.job("c", [(0, "queued"), (0.2, "done")], **failure)
    code, out = _cli(capsys, server.url("c"), "--events", server.events_url("c"))
    assert code == 0 and out["status"] == "done" and out["mode"] == "poll"
    polls = server.requests("/jobs/c")
    assert len(polls) >= 2
    assert out["requests"] == len(polls) + 1  # the refused stream counts as a request


# -- end to end: the Python clients ------------------------------------------------------------


@pytest.mark.e2e
def test_each_status_is_seen_when_pushed(server: JobServer) -> None:
    # The default policy polls every 3 s or more: a status seen within 1 s of its event came
    # over the stream. (The push latency itself, tens of milliseconds, is a benchmark figure.)
    job = server.job("d", [(0, "queued"), (0.2, "running"), (0.4, "done")])
    seen: dict[str, float] = {}
    with ProgressClient() as client:
        for u in client.watch(server.url("d"), events_url=server.events_url("d"), timeout=10):
            seen[u.status.status] = time.monotonic()
    sent = {job.timeline[v][1]["status"]: at for at, v in job.sent}
    for word in ("queued", "running", "done"):
        assert 0 <= seen[word] - sent[word] < 1.0


@pytest.mark.e2e
def test_stream_that_keeps_failing_falls_back(server: JobServer) -> None:
    with socket.socket() as s:  # a port with nothing listening: every connection refused
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/events"
    server.job("e", [(0, "queued"), (0.1, "done")])
    clock = VirtualClock()  # the back-off sleeps are virtual; the HTTP is real
    with ProgressClient(policy=FAST, clock=clock, sse_max_failures=3) as client:
        result = client.wait(server.url("e"), events_url=dead, timeout=60)
    assert result.report.mode == "poll"
    polls = len(server.requests("/jobs/e"))
    assert result.report.requests == 3 + polls
    assert clock.sleeps[:2] == [2.0, 4.0]  # 1 s doubled per failed connection


@pytest.mark.e2e
def test_oversized_event_falls_back_to_polling(server: JobServer) -> None:
    server.job("f", [(0, "queued"), (0.1, "done")], raw_prefix=b": " + b"x" * 5000)
    with ProgressClient(policy=FAST, max_body=1000) as client:
        result = client.wait(server.url("f"), events_url=server.events_url("f"), timeout=10)
    assert result.status.status == "done" and result.report.mode == "poll"


def test_events_url_without_httpx_sse_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "httpx_sse", None)
    with ProgressClient() as client, pytest.raises(ImportError, match=r"progress-client\[sse\]"):
        client.wait("http://127.0.0.1:9/jobs/x", events_url="http://127.0.0.1:9/jobs/x/events")


@pytest.mark.e2e
@pytest.mark.anyio
async def test_async_sse_happy_path_and_resume(server: JobServer) -> None:
    server.job("g", [(0, "queued"), (0.2, "running"), (0.4, "done")], cut_after=2)
    async with AsyncProgressClient(policy=FAST) as client:
        updates = [u async for u in client.watch(server.url("g"),
                                                 events_url=server.events_url("g"), timeout=10)]
    assert [u.status.status for u in updates] == ["queued", "running", "done"]
    final = updates[-1].report
    assert final.mode == "sse" and final.requests == 2 and final.changes == 2
    conns = server.requests("/jobs/g/events")
    assert conns[1].headers["last-event-id"] == "1"
    assert updates[0].resume_token is not None and updates[-1].resume_token is None


@pytest.mark.e2e
@pytest.mark.anyio
async def test_async_404_stream_falls_back(server: JobServer) -> None:
    server.job("h", [(0, "queued"), (0.15, "done")], events_status=404)
    async with AsyncProgressClient(policy=FAST) as client:
        result = await client.wait(server.url("h"), events_url=server.events_url("h"),
                                   timeout=10)
    assert result.report.mode == "poll"
    assert result.report.requests == len(server.requests("/jobs/h")) + 1


@pytest.mark.e2e
def test_against_the_reference_server() -> None:
    """The reference status server (``progress_client.server``): SSE with ``id:`` = version,
    ``retry:``, the stream closed after the terminal status; then a plain poll of the
    finished job (one request)."""
    import functools
    import threading

    server_pkg = pytest.importorskip("progress_client.server")
    store = server_pkg.MemoryStore()
    app = server_pkg.create_app(store, sse_retry=0.05)
    with server_pkg.serve_in_thread(app) as running:
        def update(status: str, **kw: object) -> None:
            running.call(functools.partial(store.update, "job-1", status=status, **kw))

        update("queued")
        url = f"{running.url}/jobs/job-1"

        statuses = []
        seen = threading.Condition()

        def worker() -> None:
            # Each update after the client saw the one before (however slow the machine is
            # to connect): every one of them must come over the stream, in order.
            for i, word in enumerate(("running", "running", "completed"), start=1):
                with seen:
                    assert seen.wait_for(lambda i=i: len(statuses) >= i, timeout=30)
                time.sleep(0.02)
                update(word, progress=30.0 * i)

        thread = threading.Thread(target=worker)
        thread.start()
        with ProgressClient(policy=FAST) as client:
            for u in client.watch(url, events_url=f"{url}/events", timeout=60):
                with seen:
                    statuses.append((u.status.status, u.status.progress))
                    seen.notify_all()
            thread.join()
            final = u.report
            again = client.wait(url, timeout=10)
    assert statuses == [("queued", None), ("running", 30.0), ("running", 60.0),
                        ("completed", 90.0)]
    assert final.mode == "sse" and final.requests <= 2 and final.changes == 2
    assert again.report.requests == 1 and again.status.status == "completed"
