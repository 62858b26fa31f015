"""The fast path of ``AsyncProgressClient`` (``transport=``): polls over aiohttp directly on
asyncio, on 127.0.0.1. When it is chosen and when not; that httpx carries nothing then; that it
keeps the httpx path's rules (credentials across origins on redirects, Basic auth, the body
limit, a stalled body bounded by the deadline, errors worded alike); parity with the sync
client. The whole async suite runs on it too (``.[all]`` installs the extra)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest

from progress_client import (
    AsyncProgressClient,
    FixedPolicy,
    PollTimeout,
    RequestFailed,
    ResponseTooLarge,
)

from .faultserver import (
    FaultServer,
    huge_body,
    redirect,
    stall_after_headers,
    stall_before_headers,
    status,
)
from .kit import JobServer, Reply
from .serving import fixture
from .test_faults import ASYNC_RUNS, _client_kwargs
from .test_parity import SCRIPT, assert_twins, run_async, run_sync

pytestmark = pytest.mark.anyio
FAST = FixedPolicy(0.02)
SECRETS = {"Authorization": "Bearer sekrit", "X-Api-Key": "key-123", "Cookie": "s=1"}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the fast path's loop (trio only where a test says so)


server = fixture(JobServer, scope="module")


@pytest.fixture(scope="module")
def faults() -> Iterator[FaultServer]:
    with FaultServer() as s:
        yield s


def _httpx_connections(client: AsyncProgressClient) -> int:
    pool: Any = client._http._transport._pool  # type: ignore[attr-defined]
    return len(pool.connections)


# -- which transport ----------------------------------------------------------------------------


def test_choice_at_construction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROGRESS_CLIENT_TRANSPORT", raising=False)
    assert AsyncProgressClient().transport_for_polls == "aiohttp"
    assert AsyncProgressClient(auth=("u", "p")).transport_for_polls == "aiohttp"
    assert AsyncProgressClient(transport="httpx").transport_for_polls == "httpx"
    # A caller's own httpx client, or an httpx.Auth flow: httpx carries everything.
    assert AsyncProgressClient(client=httpx.AsyncClient()).transport_for_polls == "httpx"
    assert AsyncProgressClient(auth=httpx.DigestAuth("u", "p")).transport_for_polls == "httpx"
    with pytest.raises(ValueError, match="client="):
        AsyncProgressClient(transport="aiohttp", client=httpx.AsyncClient())
    with pytest.raises(ValueError, match="auth="):
        AsyncProgressClient(transport="aiohttp", auth=httpx.DigestAuth("u", "p"))
    with pytest.raises(ValueError, match="transport must be one of"):
        AsyncProgressClient(transport="curl")
    # The documented switch, and proxies from the environment (httpx reads them).
    monkeypatch.setenv("PROGRESS_CLIENT_TRANSPORT", "httpx")
    assert AsyncProgressClient().transport_for_polls == "httpx"
    monkeypatch.delenv("PROGRESS_CLIENT_TRANSPORT")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    assert AsyncProgressClient().transport_for_polls == "httpx"


def test_aiohttp_without_the_extra_is_a_clear_import_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PROGRESS_CLIENT_TRANSPORT", raising=False)
    monkeypatch.setitem(sys.modules, "aiohttp", None)  # not importable
    with pytest.raises(ImportError, match=r"progress-client\[fast\]"):
        AsyncProgressClient(transport="aiohttp")
    assert AsyncProgressClient().transport_for_polls == "httpx"


def test_the_fault_suite_runs_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Its async rows on asyncio build their clients this way: they poll over aiohttp."""
    monkeypatch.delenv("PROGRESS_CLIENT_TRANSPORT", raising=False)
    rows = [fault for backend, fault in ASYNC_RUNS if backend == "asyncio"]
    assert rows
    for fault in rows:
        kwargs: Any = _client_kwargs(fault)
        assert AsyncProgressClient(**kwargs).transport_for_polls == "aiohttp", fault.id


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_polls_go_over_aiohttp_on_asyncio_only(
    server: JobServer, anyio_backend: str
) -> None:
    url = server.script(f"taken-{anyio_backend}", [
        Reply(200, {"status": "running"}), Reply(200, {"status": "done"}),
    ]).url
    async with AsyncProgressClient(policy=FAST,
                                   allow_fast_polling=True, transport="aiohttp") as client:
        assert (await client.wait(url, timeout=10)).status.status == "done"
        if anyio_backend == "asyncio":
            assert _httpx_connections(client) == 0  # httpx never connected
            assert client._fast is not None and client._fast._session is not None
        else:  # trio: httpx, as always
            assert _httpx_connections(client) == 1
            assert client._fast is not None and client._fast._session is None
    headers = server.requests(f"/jobs/taken-{anyio_backend}")[0].headers
    assert headers["user-agent"].startswith("progress-client/")
    assert headers["accept"] == "application/json"


async def test_run_starts_over_httpx_and_polls_over_aiohttp(server: JobServer) -> None:
    status_url = server.script("run-status", [
        Reply(200, {"status": "running"}), Reply(200, {"status": "done"}),
    ]).url
    start = server.script("run", [Reply(202, b"", {"Location": status_url})]).url
    async with AsyncProgressClient(policy=FAST,
                                   allow_fast_polling=True, transport="aiohttp") as client:
        result = await client.run(start, method="GET", timeout=10)
        assert result.status.status == "done"
        assert _httpx_connections(client) == 1  # the start
    assert len(server.requests("/jobs/run-status")) == 2


# -- the httpx path's rules, kept -------------------------------------------------------------


@pytest.mark.parametrize("code", [302, 307])
async def test_credentials_never_follow_a_hop_to_another_origin(code: int) -> None:
    """home -> elsewhere -> home: the hop away gets no credential, nor the way back (once
    dropped, they stay dropped, as on httpx); harmless headers pass; Basic auth from a tuple."""
    with JobServer() as home, JobServer() as elsewhere:
        final = home.script(f"back-{code}", [Reply(200, {"status": "done"})]).url
        away = elsewhere.script(f"away-{code}", [Reply(code, b"", {"Location": final})]).url
        url = home.script(f"first-{code}", [Reply(code, b"", {"Location": away})]).url
        async with AsyncProgressClient(transport="aiohttp", headers={
            "X-Api-Key": "key-123", "X-Trace": "t-1",
        }, auth=("user", "pass")) as client:
            assert (await client.wait(url, timeout=10)).status.status == "done"
        first = home.requests(f"/jobs/first-{code}")[0].headers
        assert first["authorization"] == "Basic dXNlcjpwYXNz" and first["x-api-key"] == "key-123"
        for seen in (elsewhere.requests(f"/jobs/away-{code}")[0].headers,
                     home.requests(f"/jobs/back-{code}")[0].headers):
            assert "authorization" not in seen and "x-api-key" not in seen
            assert seen["x-trace"] == "t-1"


async def test_a_status_url_a_server_named_elsewhere_gets_no_credentials() -> None:
    with JobServer() as home, JobServer() as elsewhere:
        status_url = elsewhere.script("named", [Reply(200, {"status": "done"})]).url
        start = home.script("start", [Reply(202, b"", {"Location": status_url})]).url
        async with AsyncProgressClient(policy=FAST, allow_fast_polling=True, headers=SECRETS,
                                       transport="aiohttp") as client:
            await client.run(start, method="GET", timeout=10)
        assert {"authorization", "x-api-key", "cookie"} <= set(home.seen[0].headers)
        assert not {"authorization", "x-api-key", "cookie"} & set(elsewhere.seen[0].headers)


async def test_a_redirect_loop_is_fatal_and_worded_as_on_httpx(faults: FaultServer) -> None:
    path = "/jobs/loop"
    faults.route(path, *[redirect(faults.url(path))] * 10)
    async with AsyncProgressClient(policy=FAST,
                                   allow_fast_polling=True, transport="aiohttp") as client:
        with pytest.raises(RequestFailed, match="too many redirects"):
            await client.wait(faults.url(path), timeout=10)
    assert len(faults.hits(path)) == 6  # the first request and max_redirects (5) hops


async def test_the_body_limit_reads_no_further(faults: FaultServer) -> None:
    for declared in (True, False):
        path = f"/jobs/huge-{declared}"
        faults.route(path, huge_body(64 << 20, declare_length=declared))
        async with AsyncProgressClient(policy=FAST, allow_fast_polling=True, transport="aiohttp",
                                       max_body=1 << 16) as client:
            with pytest.raises(ResponseTooLarge):
                await client.wait(faults.url(path), timeout=10)


async def test_a_stalled_body_ends_at_the_deadline(faults: FaultServer) -> None:
    path = "/jobs/stall"
    faults.route(path, status("running"), stall_after_headers())
    async with AsyncProgressClient(policy=FAST,
                                   allow_fast_polling=True, transport="aiohttp") as client:
        started = anyio.current_time()
        with pytest.raises(PollTimeout):
            await client.wait(faults.url(path), timeout=0.3)
        assert anyio.current_time() - started < 0.3 + 0.25


async def test_request_timeouts_of_many_polls_share_one_timer(
    faults: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twenty waits whose polls get no answer: each poll ends at its request timeout as a
    transient "timed out" (worded as on httpx), the waits go on polling, and at their
    deadline end as PollTimeout; one loop timer served every request."""
    import asyncio

    path = "/jobs/silent-many"
    faults.route(path, stall_before_headers())
    errors: list[tuple[float, str | None]] = []
    async with AsyncProgressClient(
        policy=FixedPolicy(0.05), transport="aiohttp", request_timeout=0.2,
        max_concurrency=32, on_request=lambda e: errors.append((e.duration, e.error)),
    ) as client:
        from progress_client.drivers.deadlines import Deadlines

        armed: list[float] = []
        deadlines = client._deadlines
        arm = Deadlines._arm

        def counting_arm(self: Deadlines, when: float) -> None:
            armed.append(when)
            arm(self, when)

        monkeypatch.setattr(Deadlines, "_arm", counting_arm)
        started = anyio.current_time()
        results = await asyncio.gather(
            *(client.wait(faults.url(path) + f"?n={i}", timeout=0.7) for i in range(20)),
            return_exceptions=True,
        )
        took = anyio.current_time() - started
    assert all(isinstance(r, PollTimeout) for r in results), results
    assert took < 0.7 + 0.25
    # Every wait polled at least twice (0.2 s each, then 0.05 s apart), each poll timed out.
    assert len(errors) >= 40 and all(e == "timed out" for _, e in errors), errors[:5]
    assert all(0.15 <= took_s < 0.45 for took_s, _ in errors)
    # One timer for all of them, armed far fewer times than there were polls (an
    # asyncio.timeout per poll arms and cancels a timer each).
    assert len(armed) <= len(errors) // 2, (len(armed), len(errors))
    assert not deadlines._heap  # nothing left behind


async def test_a_cancel_from_outside_during_a_poll_stays_a_cancel(faults: FaultServer) -> None:
    """A caller's cancellation while a poll is in flight is not taken for a timeout, even
    when the request's deadline passes in the same moment."""
    import asyncio

    path = "/jobs/silent-cancel"
    faults.route(path, stall_before_headers())
    async with AsyncProgressClient(policy=FAST, allow_fast_polling=True, transport="aiohttp",
                                   request_timeout=0.1) as client:
        task = asyncio.ensure_future(client.wait(faults.url(path), timeout=10))
        await asyncio.sleep(0.1)  # in flight, its deadline about now
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not client._deadlines._heap


async def test_deadlines_rearm_for_an_earlier_one_and_forget_ended_requests() -> None:
    """The timer moves earlier for a request with a nearer deadline (a caller's deadline
    close by); ended requests leave the heap, however many."""
    import asyncio

    from progress_client.drivers.deadlines import Deadlines

    deadlines = Deadlines()
    fired: list[str] = []

    async def request(name: str, timeout: float, lasts: float) -> None:
        entry = deadlines.enter(timeout)
        try:
            await asyncio.sleep(lasts)
        except asyncio.CancelledError:
            assert deadlines.leave(entry, cancelled=True)
            fired.append(name)
            return
        assert not deadlines.leave(entry)

    for _ in range(500):  # ended requests: nothing kept
        await request("quick", 30.0, 0)
    assert len(deadlines._heap) <= 1
    long = asyncio.ensure_future(request("long", 5.0, 0.3))
    await asyncio.sleep(0)
    short = asyncio.ensure_future(request("short", 0.05, 5.0))
    started = anyio.current_time()
    await short
    assert fired == ["short"] and anyio.current_time() - started < 0.2
    await long  # ends by itself before its deadline
    assert fired == ["short"] and not deadlines._heap


async def test_a_refused_connection_is_worded_as_on_httpx() -> None:
    from .faultserver import refused_url

    errors: list[str | None] = []
    async with AsyncProgressClient(policy=FAST,
                                   allow_fast_polling=True, transport="aiohttp",
                                   max_consecutive_errors=2,
                                   on_request=lambda e: errors.append(e.error)) as client:
        with pytest.raises(RequestFailed):
            await client.wait(refused_url(), timeout=10)
    assert errors and all(e is not None and e.startswith("could not connect (") for e in errors)


async def test_a_waiting_job_keeps_few_objects_for_the_collector() -> None:
    """With thousands of waits, the garbage collector's full passes while they start cost
    about the square of the objects each keeps (measured by ``benchmarks/scale.py``): 300
    watchers parked between polls, each holding its last update as a caller's loop does,
    keep at most 32 tracked objects each (task and timer included; 50 before the engine's
    values, the update's snapshot and the request timeouts were made lean). The endpoint is
    the benchmarks' tiny server in a process of its own: only the client's objects count."""
    import asyncio
    import gc

    from benchmarks.procs import free_port, spawn

    n = 300
    parked = asyncio.Event()
    seen = 0
    port = free_port()
    with spawn([sys.executable, "-m", "benchmarks.tinyserver", "--port", str(port)], port):
        base = f"http://127.0.0.1:{port}"
        async with AsyncProgressClient(policy=FixedPolicy(3600), transport="aiohttp",
                                       max_concurrency=16) as client:
            await client.wait(f"{base}/count/warm/1", timeout=10)

            async def watcher(i: int) -> None:
                nonlocal seen
                async for update in client.watch(f"{base}/static/objects-{i}", timeout=3600):
                    seen += 1
                    if seen == n:
                        parked.set()
                    assert update.next_delay == 3600

            gc.collect()
            before = len(gc.get_objects())
            tasks = [asyncio.ensure_future(watcher(i)) for i in range(n)]
            await asyncio.wait_for(parked.wait(), 20)
            await asyncio.sleep(0.05)
            gc.collect()
            per_job = (len(gc.get_objects()) - before) / n
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    print(f"tracked objects per waiting job: {per_job:.1f}")
    assert per_job <= 32


# -- parity -------------------------------------------------------------------------------------


def test_parity_with_the_sync_client(server: JobServer) -> None:
    sync = run_sync(server.script("parity-sync", SCRIPT).url, None).record(server, "parity-sync")
    fast = run_async("asyncio", server.script("parity-fast", SCRIPT).url, None,
                     transport="aiohttp").record(server, "parity-fast")
    assert_twins(sync, fast)


# -- the asyncio FIFO limiter -------------------------------------------------------------------


async def test_the_limiter_serves_in_order_and_passes_a_cancelled_waiters_token_on() -> None:
    import asyncio

    from progress_client.transports.aiohttp import FifoLimiter

    limiter = FifoLimiter(1)
    assert limiter.try_acquire() and not limiter.try_acquire()
    order: list[int] = []

    async def take(i: int) -> None:
        await limiter.acquire()
        order.append(i)

    tasks = [asyncio.create_task(take(i)) for i in range(3)]
    await asyncio.sleep(0)
    tasks[0].cancel()  # the first in line leaves: its turn goes to the next
    limiter.release()
    await asyncio.sleep(0)
    assert order == [1]
    limiter.release()
    await asyncio.sleep(0)
    assert order == [1, 2]
    limiter.release()
    assert limiter.try_acquire()  # the token came back to the pool: nobody waits
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_client_dropped_unclosed_closes_its_sockets_quietly(server: JobServer) -> None:
    """As an unclosed httpx client: nothing reported through the loop, no ResourceWarning."""
    import asyncio
    import gc
    import warnings

    url = server.script("dropped", [Reply(200, {"status": "done"})]).url
    client = AsyncProgressClient(policy=FAST, allow_fast_polling=True, transport="aiohttp")
    await client.wait(url, timeout=10)
    loop = asyncio.get_running_loop()
    reported: list[str] = []
    loop.set_exception_handler(lambda _, context: reported.append(context["message"]))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del client
            gc.collect()
    finally:
        loop.set_exception_handler(None)
    assert reported == []
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


async def test_a_cookie_a_poll_sets_is_sent_as_httpx_would(server: JobServer) -> None:
    """One jar, httpx's: the cookie goes there, and the polls that follow carry it."""
    url = server.script("cookie", [
        Reply(200, {"status": "running"}, {"Set-Cookie": "sid=abc; Path=/"}),
        Reply(200, {"status": "running"}),
        Reply(200, {"status": "done"}),
    ]).url
    async with AsyncProgressClient(policy=FAST,
                                   allow_fast_polling=True, transport="aiohttp") as client:
        assert (await client.wait(url, timeout=10)).status.status == "done"
        assert client._http.cookies.get("sid") == "abc"
    seen = [s.headers.get("cookie") for s in server.requests("/jobs/cookie")]
    assert seen == [None, "sid=abc", "sid=abc"]
