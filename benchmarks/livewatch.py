"""The clients of the live benchmark (``live.py``), each in its own thread or task: ours
(``ProgressClient`` on a clock that runs ``speed`` times fast, ``AsyncProgressClient`` on the
real clock for streams and long polls) and the peers' real loops (tenacity, backoff, polling2,
configured as in ``peers.py`` with every interval divided by ``speed``), all sending through
``RoundRobin``: each request to the next server process, as a load balancer would. What each
client saw, and when, goes into its job's ``JobRun``."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import anyio
import backoff
import httpx
import polling2  # type: ignore[import-untyped]
import tenacity

from benchmarks.traces import Trace
from progress_client import AsyncProgressClient, PollError, ProgressClient
from progress_client.core.models import DEFAULT_FAILURE, DEFAULT_SUCCESS
from progress_client.core.policy import Policy
from progress_client.core.sanitize import sanitize

__all__ = [
    "PEER_LOOPS",
    "AsyncRoundRobin",
    "JobRun",
    "RoundRobin",
    "ScaledClock",
    "backoff_loop",
    "polling2_loop",
    "step_of",
    "tenacity_loop",
    "watch",
    "watch_async",
]

TERMINAL = frozenset(w.casefold() for w in DEFAULT_SUCCESS | DEFAULT_FAILURE)


class ScaledClock:
    """A ``Clock`` whose seconds pass ``speed`` times fast: the client's schedule is in
    seconds of the trace, its sleeps are real and short."""

    def __init__(self, speed: float) -> None:
        self.speed = speed

    def now(self) -> float:
        return time.monotonic() * self.speed

    def wall(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speed)


# -- the peers' real loops ------------------------------------------------------------------
# The configurations of ``peers.py`` (see its docstring), every interval times ``scale``.


def _pending(status: str) -> bool:
    return status.casefold() not in TERMINAL


def tenacity_loop(fetch: Callable[[], str], scale: float, limit: float,
                  sleep: Callable[[float], None] = time.sleep) -> None:
    tenacity.Retrying(
        wait=tenacity.wait_incrementing(start=3 * scale, increment=1 * scale, max=8 * scale),
        retry=tenacity.retry_if_result(_pending),
        stop=tenacity.stop_after_delay(limit),
        sleep=sleep,
        reraise=True,
    )(fetch)


def backoff_loop(fetch: Callable[[], str], scale: float, limit: float) -> None:
    backoff.on_predicate(
        backoff.expo, _pending, max_value=8 * scale, factor=scale, jitter=None, max_time=limit
    )(fetch)()


def polling2_loop(fetch: Callable[[], str], scale: float, limit: float) -> None:
    polling2.poll(
        fetch,
        step=3 * scale,
        step_function=lambda step: min(step + 1 * scale, 8 * scale),
        check_success=lambda status: not _pending(status),
        timeout=limit,
    )


PEER_LOOPS: dict[str, Callable[[Callable[[], str], float, float], None]] = {
    "tenacity": tenacity_loop,
    "backoff": backoff_loop,
    "polling2": polling2_loop,
}


# -- two servers behind the clients ---------------------------------------------------------

class RoundRobin(httpx.BaseTransport):
    """Send each request to the next server in turn (the URL's port is replaced), as a load
    balancer in front of the server processes would."""

    def __init__(self, ports: Sequence[int]) -> None:
        self._ports = itertools.cycle(ports)
        self._lock = threading.Lock()
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            port = next(self._ports)
        request.url = request.url.copy_with(port=port)
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


class AsyncRoundRobin(httpx.AsyncBaseTransport):
    """``RoundRobin`` for ``httpx.AsyncClient``."""

    def __init__(self, ports: Sequence[int]) -> None:
        self._ports = itertools.cycle(ports)
        self._inner = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=1000))

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.url = request.url.copy_with(port=next(self._ports))
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


# -- one job --------------------------------------------------------------------------------


@dataclass
class JobRun:
    job_id: str
    timeline: Trace
    ready: threading.Event = field(default_factory=threading.Event)
    #: When the worker started each update (monotonic seconds); index = the trace's entry.
    updates: list[float] = field(default_factory=list)
    #: (monotonic seconds, trace entry) each time the client held a status.
    seen: list[tuple[float, int]] = field(default_factory=list)
    client_requests: int | None = None
    error: str | None = None

    def lags(self) -> list[float]:
        """Real seconds from each change (after the first) to the client first holding it
        or a later status; a change never seen is left out (and shows as an error)."""
        out: list[float] = []
        for i, started in enumerate(self.updates[1:], start=1):
            first = next((t for t, step in self.seen if step >= i), None)
            if first is not None:
                out.append(first - started)
        return out


def step_of(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else -1


# -- the watchers ---------------------------------------------------------------------------


def watch(base: str, ports: Sequence[int], job: JobRun, strategy: str, policy: Policy | None,
          speed: float, limit: float) -> None:
    """One client thread: its client made first (so start-up is not counted as lag), then
    wait for the job's first write and watch it to the end. ``strategy``: a peer's name,
    ``sse``, or a policy's (``policy``)."""
    url = f"{base}/jobs/{job.job_id}"
    if strategy in PEER_LOOPS:
        _watch_peer(url, ports, job, strategy, speed, limit)
        return
    events = f"{url}/events" if strategy == "sse" else None
    with httpx.Client(transport=RoundRobin(ports)) as http, \
            ProgressClient(policy=policy, clock=ScaledClock(speed), client=http) as client:
        if not job.ready.wait(limit):
            job.error = "the worker never wrote the job"
            return
        try:
            for update in client.watch(url, timeout=limit * speed, events_url=events):
                job.seen.append((time.monotonic(), step_of(update.status.step)))
                job.client_requests = update.report.requests
        except (PollError, httpx.HTTPError) as exc:
            job.error = f"{type(exc).__name__}: {sanitize(str(exc))[:200]}"


def _watch_peer(url: str, ports: Sequence[int], job: JobRun, strategy: str, speed: float,
                limit: float) -> None:
    sent = 0
    with httpx.Client(timeout=10.0, transport=RoundRobin(ports)) as http:

        def fetch() -> str:
            nonlocal sent
            sent += 1
            response = http.get(url)
            response.raise_for_status()
            doc = response.json()
            job.seen.append((time.monotonic(), step_of(doc.get("step"))))
            return str(doc["status"])

        if not job.ready.wait(limit):
            job.error = "the worker never wrote the job"
            return
        try:
            PEER_LOOPS[strategy](fetch, 1.0 / speed, limit)
        except (httpx.HTTPError, tenacity.RetryError, polling2.TimeoutException) as exc:
            job.error = f"{type(exc).__name__}: {sanitize(str(exc))[:200]}"
        finally:
            job.client_requests = sent


def watch_async(base: str, ports: Sequence[int], runs: Sequence[JobRun], limit: float, *,
                long_poll: float | None = None) -> None:
    """``sse-async`` (every job's stream) or ``long-poll`` (every job's held polls) on one
    ``AsyncProgressClient``, in this thread."""

    async def one(client: AsyncProgressClient, job: JobRun) -> None:
        url = f"{base}/jobs/{job.job_id}"
        events = None if long_poll is not None else f"{url}/events"
        with anyio.fail_after(limit):
            while not job.ready.is_set():
                await anyio.sleep(0.001)
        try:
            async for update in client.watch(url, timeout=limit, events_url=events):
                job.seen.append((time.monotonic(), step_of(update.status.step)))
                job.client_requests = update.report.requests
        except (PollError, httpx.HTTPError) as exc:
            job.error = f"{type(exc).__name__}: {sanitize(str(exc))[:200]}"

    async def main() -> None:
        async with httpx.AsyncClient(transport=AsyncRoundRobin(ports)) as http, \
                AsyncProgressClient(client=http, long_poll=long_poll) as client, \
                anyio.create_task_group() as tg:
            for job in runs:
                tg.start_soon(one, client, job)

    anyio.run(main)
