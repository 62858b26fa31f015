"""A timed-out wait's ``PollTimeout`` builds its message, URL and resume token when first read
(thousands of waits may reach their deadline at the same instant): on a virtual clock, what is
read later is what an eager build at the deadline gave, and nothing is built before."""

from __future__ import annotations

import asyncio
import gc
import json
import pickle
import weakref
from collections.abc import Callable

import anyio
import pytest

from progress_client import (
    AdaptivePolicy,
    AsyncProgressClient,
    PollError,
    PollTimeout,
    ProgressClient,
)
from progress_client.core.errors import TimedOut
from progress_client.core.report import Counters, PollReport
from progress_client.core.sanitize import sanitize
from progress_client.engine import EngineState, Request, Sleep, Stop
from tests.enginekit import Driven

SECRET_URL = "https://alice:hunter2@api.example.test/jobs/42?token=s3cr3t&page=1"


def _poll(engine: Driven, now: float, status: str, **extra: object) -> float:
    """Sleep (virtually) to the next request, answer it with ``status``; the clock after."""
    action = engine.next_action(now)
    while isinstance(action, Sleep):
        now = action.until
        action = engine.next_action(now)
    assert isinstance(action, Request)
    body = json.dumps({"status": status, **extra}).encode()
    engine.engine.receive_response(now, 200, {"ETag": '"e7"'}, body)
    return now


def _timed_out(deadline: float) -> tuple[Driven, Stop, float]:
    engine = Driven(AdaptivePolicy(), url=SECRET_URL, deadline=deadline)
    now = 0.0
    for _ in range(3):  # polls at 0, 3, 7; the document carries a signed URL
        now = _poll(engine, now, "running",
                    output="https://bucket.example.test/out?X-Amz-Signature=abcdef0123456789")
    stop = engine.next_action(deadline)
    assert isinstance(stop, Stop) and stop.outcome == "timeout"
    return engine, stop, deadline


def test_what_is_read_later_is_what_an_eager_build_gave() -> None:
    engine, stop, at = _timed_out(10.0)
    # What the engine gave eagerly at that instant (as it did before the build was deferred).
    report = engine.report()
    token = engine.resume_token(at)
    document = engine.engine._document()
    eager = PollTimeout(
        "the job did not finish before the deadline (last status 'running', 3 requests)",
        url=SECRET_URL, status=engine.last_status, report=report, resume_token=token,
    )
    # The shared wait goes on for other callers: the engine moves on before anything is read.
    engine.deadline = None
    _poll(engine, at, "almost", output="elsewhere")
    _poll(engine, at, "done")
    assert engine.engine.resume_token(at) != token

    err = stop.error
    assert isinstance(err, PollTimeout)
    assert err.resume_token == token
    assert err.message == eager.message == str(err) == str(eager)
    assert err.url == eager.url == sanitize(SECRET_URL)
    assert "hunter2" not in err.url and "s3cr3t" not in err.url
    assert err.args == eager.args == (eager.message,)
    assert repr(err) == repr(eager)
    assert err.report == report == stop.report
    assert (err.report.requests, err.report.elapsed) == (3, 7.0)
    assert err.status is not None and err.status.status == "running"
    # The stop: its status, document and report, built when read, are the eager ones.
    eager_stop = Stop("timeout", eager.status, document, err, report)
    assert stop == eager_stop and hash(stop) == hash(eager_stop)
    assert stop.status == eager.status and stop.document == eager_stop.document
    assert pickle.loads(pickle.dumps(stop)).report == report
    # The token read later resumes where the wait stood at its deadline.
    state = EngineState.from_token(err.resume_token, SECRET_URL)
    assert state.tally.requests == 3 and state.etag == '"e7"' and state.unchanged == 2
    assert state.next_delay == 2.0  # the poll due at 12, from the deadline at 10


def test_a_hint_past_the_deadline_says_so_when_read() -> None:
    engine = Driven(AdaptivePolicy(), url=SECRET_URL, deadline=5.0)
    assert isinstance(engine.next_action(0.0), Request)
    stop = engine.receive_response(0.0, 429, {"Retry-After": "100"}, b"")
    assert isinstance(stop, Stop) and isinstance(stop.error, PollTimeout)
    token = engine.resume_token(0.0)
    assert stop.error.message == (
        "the job did not finish before the deadline (no status seen, 1 request); the server "
        "asked to be polled again in 100s, after the deadline; last error: HTTP 429")
    assert stop.error.resume_token == token is not None


def test_nothing_is_built_before_it_is_read() -> None:
    built: list[int] = []

    def build() -> TimedOut:
        built.append(1)
        return ("deadline passed (secret token=ghp_0123456789abcdefghij0123456789abcdef)",
                SECRET_URL, "TOKEN", None, None)

    err = PollTimeout.later(build)
    assert err.cancelled_remote is None and err.exit_code == 3
    assert built == []  # class attributes build nothing
    try:
        raise err
    except PollTimeout as caught:
        assert built == []  # raising and catching build nothing either
        assert caught.resume_token == "TOKEN"
    assert built == [1]
    assert "ghp_" not in err.message and "hunter2" not in str(err.url)
    _ = (err.message, err.url, err.args, str(err))
    assert built == [1]  # once


def test_fields_set_before_the_build_are_kept() -> None:
    # cancel_on_exit sets the report after the remote cancel; a caller may set a token.
    report = PollReport.of(Counters(requests=9), elapsed=1.0, baseline_interval=1.0,
                           mode="poll")
    err = PollTimeout.later(lambda: ("timed out", SECRET_URL, "built", None, None))
    err.resume_token = "mine"
    err.report = report
    err.cancelled_remote = True
    assert err.message == "timed out" and err.resume_token == "mine"
    assert err.report is report and err.status is None and err.cancelled_remote is True


def test_a_deferred_timeout_pickles_and_reads_as_args() -> None:
    err = PollTimeout.later(lambda: ("timed out", SECRET_URL, "T", None, None))
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is PollTimeout and back.message == "timed out"
    assert back.url == sanitize(SECRET_URL) and back.args == ("timed out",)
    assert back.resume_token is None  # a pickle never carried the token
    fresh = PollTimeout.later(lambda: ("m", None, None, None, None))
    fresh.args = ("other",)
    assert fresh.args == ("other",) and fresh.message == "m"
    assert PollTimeout("plain").resume_token is None



def test_a_timeouts_status_url_is_stripped_when_read() -> None:
    from progress_client.core.results import error_of
    from progress_client.core.resume import public_url

    secret = "https://user:hunter2@api.example/jobs/7?token=abc&page=2#frag"
    _, stop, _ = _timed_out(10.0)
    err = stop.error
    assert isinstance(err, PollTimeout)
    assert error_of(stop, secret) is err
    assert "status_url" not in vars(err)  # the caller's URL kept, not yet stripped
    assert err.status_url == public_url(secret) and "hunter2" not in err.status_url
    assert "abc" not in err.status_url
    error_of(stop, "https://other.example/jobs/8")  # a URL already named stays
    assert err.status_url == public_url(secret)
    named = PollTimeout.later(lambda: ("m", None, None, None, None))
    named.status_url = "https://set.example/jobs/1"
    named.name_status_url(secret)
    assert named.status_url == "https://set.example/jobs/1"
    eager = PollError("failed")  # any other error strips it at once, as before
    eager.name_status_url(secret)
    assert vars(eager)["status_url"] == public_url(secret)

# -- no cycle: a timed-out wait's error is freed by reference counting alone -------------------

#: Never asked: a timeout of 0 ends the wait before its first request.
URL = "http://127.0.0.1:9/jobs/1"


def _freed_at_once(catch: Callable[[], PollTimeout | None]) -> None:
    """``catch()`` times a wait out and hands back its error; with the collector off, the error
    (and the frames its traceback keeps) must go as soon as the last reference does: a cycle
    through the traceback's frames would leave it to the collector, which with thousands of
    waits ending at once walks every live wait, again and again."""
    gc.collect()
    gc.disable()
    try:
        err = catch()
        assert isinstance(err, PollTimeout) and err.report is not None
        assert err.report.requests == 0 and err.resume_token is not None  # built, read
        ref = weakref.ref(err)
        del err
        assert ref() is None
    finally:
        gc.enable()


def test_a_timed_out_wait_leaves_no_cycle_sync() -> None:
    def wait() -> PollTimeout | None:
        with ProgressClient() as client:
            try:
                client.wait(URL, timeout=0)
            except PollTimeout as exc:
                return exc
        return None

    def watch() -> PollTimeout | None:
        with ProgressClient() as client:
            try:
                for _ in client.watch(URL, timeout=0):
                    pass
            except PollTimeout as exc:
                return exc
        return None

    _freed_at_once(wait)
    _freed_at_once(watch)


def test_a_timed_out_wait_leaves_no_cycle_async() -> None:
    async def wait() -> PollTimeout | None:
        async with AsyncProgressClient() as client:
            try:
                await client.wait(URL, timeout=0)
            except PollTimeout as exc:
                return exc
        return None

    async def watch() -> PollTimeout | None:
        async with AsyncProgressClient() as client:
            try:
                async for _ in client.watch(URL, timeout=0):
                    pass
            except PollTimeout as exc:
                return exc
        return None

    _freed_at_once(lambda: asyncio.run(wait()))
    _freed_at_once(lambda: asyncio.run(watch()))


# -- a deadline that ends a sleep: straight to the timeout, as the twin ends it ----------------


def test_a_deadline_that_ends_a_sleep_times_out_as_the_sync_twin() -> None:
    """The async driver takes a deadline that ended its sleep straight to the engine's timeout
    (no step to carry out or publish): the same error, the same requests as the sync twin,
    whichever transport and loop. One poll at 0; the next is due at 3 s; the deadline at 2 s
    falls in the sleep between."""
    from .kit import JobServer, Reply

    def sync_wait(url: str) -> PollTimeout:
        with ProgressClient() as client, pytest.raises(PollTimeout) as caught:
            client.wait(url, timeout=2.0)
        return caught.value

    async def async_wait(url: str, transport: str, watching: bool) -> tuple[PollTimeout, int]:
        async with AsyncProgressClient(transport=transport) as client:
            step = client._step
            steps = 0

            async def counting(*args: object) -> float | None:
                nonlocal steps
                steps += 1
                return await step(*args)  # type: ignore[arg-type]

            client._step = counting  # type: ignore[method-assign]
            with pytest.raises(PollTimeout) as caught:
                if watching:
                    async for _ in client.watch(url, timeout=2.0):
                        pass
                else:
                    await client.wait(url, timeout=2.0)
            return caught.value, steps

    with JobServer() as server:
        runs: list[tuple[str, str, PollTimeout, int | None]] = []
        for name, run in [
            ("sync", lambda url: (sync_wait(url), None)),
            ("aiohttp", lambda url: asyncio.run(async_wait(url, "aiohttp", False))),
            ("httpx-watch", lambda url: asyncio.run(async_wait(url, "httpx", True))),
            ("trio", lambda url: anyio.run(async_wait, url, "httpx", False, backend="trio")),
        ]:
            job = server.script(name, [Reply(200, {"status": "running"})])
            err, steps = run(job.url)
            assert len(server.requests(f"/jobs/{name}")) == 1, name
            runs.append((name, job.url, err, steps))
    _, _, first, _ = runs[0]
    assert first.report is not None and first.report.requests == 1
    for name, url, err, steps in runs:
        assert err.message == first.message.replace("sync", name), name
        assert err.status is not None and err.status.status == "running"
        assert err.report is not None and err.report.requests == 1
        assert err.status_url == url and err.resume_token is not None
        # the poll's step, the sleep's step; then the timeout without a third
        assert steps in (None, 2), name


# -- what a sleeping wait keeps for the garbage collector -------------------------------------


def test_a_sleeping_wait_keeps_few_objects_for_the_collector() -> None:
    """Every object a sleeping wait keeps is walked by each full pass of the collector, and
    with thousands of waits that pass is what makes them end late at a common deadline. Per
    job, the GC-tracked objects that waits on the fast path add (the difference between 40 and
    120 waits, so that what is kept once does not count) are no more than a bare aiohttp loop
    (poll, sleep) adds against the same server, give or take one: on Python 3.11's own loop
    about 21 against 25-28, where they were 28.5 before the sleeps shared one timer, the waits
    one lock, and the last update's snapshot, an empty queue and the call left the collector.
    ``benchmarks/heap.py`` counts them at 10,000 waits."""
    pytest.importorskip("aiohttp")
    import aiohttp

    from .kit import JobServer, Reply

    far = AdaptivePolicy(initial=600.0, maximum=600.0)  # one poll, then asleep to the end

    async def client_waits(urls: list[str]) -> int:
        async with AsyncProgressClient(transport="aiohttp", policy=far,
                                       max_concurrency=4) as client:
            await client.wait(urls[-1])  # imports, the session and the client's sleeps

            polled: set[int] = set()

            async def job(i: int) -> None:
                async for _ in client.watch(urls[i], timeout=600.0):
                    polled.add(i)

            return await _count(len(urls) - 1, job, polled)

    async def floor_waits(urls: list[str]) -> int:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=4)) as session:
            polled: set[int] = set()

            async def job(i: int) -> None:
                while True:
                    async with session.get(urls[i]) as r:
                        json.loads(await r.read())
                    polled.add(i)
                    await asyncio.sleep(600.0)

            return await _count(len(urls) - 1, job, polled)

    with JobServer() as server:
        for i in range(120):
            server.script(f"j{i}", [Reply(200, {"status": "running"})])
        server.script("done", [Reply(200, {"status": "succeeded"})])
        urls = [server.url(f"j{i}") for i in range(120)]
        per_job = {}
        for name, waits in (("client", client_waits), ("floor", floor_waits)):
            few, many = (asyncio.run(waits([*urls[:n], server.url("done")])) for n in (40, 120))
            per_job[name] = (many - few) / 80
    assert per_job["client"] <= per_job["floor"] + 1, per_job


async def _count(n: int, job: Callable[[int], object], polled: set[int]) -> int:
    """The GC-tracked objects once ``n`` jobs polled and sleep, less those before them."""
    gc.collect()
    before = len(gc.get_objects())
    tasks = [asyncio.ensure_future(job(i)) for i in range(n)]  # type: ignore[arg-type]
    while len(polled) < n:
        await asyncio.sleep(0.01)
    for _ in range(5):  # each goes back to its sleep
        await asyncio.sleep(0)
    gc.collect()
    kept = len(gc.get_objects()) - before
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return kept


# -- the sleeps of a client: one heap, one loop timer ------------------------------------------


def test_sleeps_share_one_timer_and_end_at_their_time_in_order() -> None:
    """``Sleeps``: every sleep an entry in one heap, one loop timer armed at the earliest; a
    sleep ends at its time, never before, those due together in the order they began; a
    cancelled one is skipped. On a virtual clock (the loop's ``time`` replaced)."""
    from progress_client.drivers.deadlines import Sleeps

    async def main() -> None:
        loop = asyncio.get_running_loop()
        clock = [1000.0]
        loop.time = lambda: clock[0]  # type: ignore[method-assign]
        sleeps = Sleeps()
        ended: list[str] = []
        futures = {}
        for name, seconds in (("a", 3.0), ("b", 1.0), ("c", 1.0), ("d", 2.0)):
            futures[name] = sleeps.sleep(seconds)
            futures[name].add_done_callback(lambda f, name=name: ended.append(name))
        assert sleeps._armed == 1001.0  # one timer, at the earliest
        futures["d"].cancel()

        async def at(t: float) -> None:
            clock[0] = t
            for _ in range(3):  # the loop's turn: its timer, then the callbacks
                await asyncio.sleep(0)

        await at(1000.999)
        assert ended == ["d"]  # cancelled; none ends before its time
        await at(1001.0)
        assert ended == ["d", "b", "c"] and not futures["a"].done()
        assert sleeps._armed == 1002.0  # the cancelled one's entry, skipped at its time
        await at(1002.5)
        assert ended == ["d", "b", "c"] and sleeps._armed == 1003.0
        await at(1003.0)
        assert ended == ["d", "b", "c", "a"] and futures["a"].result() is None
        assert not sleeps._heap and not sleeps._futures and sleeps._handle is None

    asyncio.run(main())


def test_sleeps_serve_the_loop_of_their_first_sleep() -> None:
    """A sleep on another loop while the first is open gets a timer of its own; once the
    first loop is closed, the next loop's sleeps take the heap over."""
    from progress_client.drivers.deadlines import Sleeps

    sleeps = Sleeps()

    async def first() -> asyncio.Future[None]:
        return sleeps.sleep(600.0)

    async def other() -> int:
        done = sleeps.sleep(0.0)
        held = len(sleeps._heap)
        await done
        return held

    one = asyncio.new_event_loop()
    try:
        pending = one.run_until_complete(first())
        assert len(sleeps._heap) == 1
        assert asyncio.run(other()) == 1  # its own timer: the heap still holds one's only
        assert not pending.done()
    finally:
        one.close()
    assert asyncio.run(other()) == 1  # the heap is the new loop's now
    assert not sleeps._heap
