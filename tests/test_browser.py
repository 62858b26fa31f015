"""The status server and the companion module in a real Chromium (Debian's, via Playwright).

- A page on another origin (a second loopback port) polls with ``waitForJob``, listens with
  ``waitForJob`` over SSE (over fetch, and with ``eventSource: true`` the browser's
  EventSource) and with a bare ``EventSource`` that never calls ``close()``, all through CORS,
  and sees every update in order.
- After ``completed`` the browser stops: over the next 10 s the server gets at most one request
  for the job (the bare EventSource's reconnect, answered 204). The 10 s window runs while the
  other tests of this module do their work, so it costs little time of its own.
- The module's request gaps, measured at the server, match the adaptive schedule within 100 ms.
- The module's pure schedule gives the shared vectors' delays (tests/vectors/schedule.json).
- An AbortSignal stops everything; a failed job rejects with JobFailed; a stream that cannot be
  opened falls back to polling.
- ``progress-client demo --web`` renders a whole run, and a screenshot is taken
  (``PROGRESS_CLIENT_SCREENSHOTS=benchmarks/results`` keeps it as demo-web.png there; the
  docs' demo page shows that file); Ctrl-C stops the demo with exit 0.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from progress_client import AdaptivePolicy
from progress_client.server import MemoryStore

from .browserkit import Api, PageServer, chromium, serve_api, serve_pages

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

if TYPE_CHECKING:  # Playwright itself is imported by the kit, with a clear error if missing
    from playwright.sync_api import BrowserContext, Page

STATUSES = ["queued", "script", "images", "voice-over", "render", "upload", "completed"]
WINDOW = 10.0  # seconds watched after the terminal event
VECTORS = json.loads((Path(__file__).parent / "vectors" / "schedule.json").read_text("utf-8"))

PAGE = """<!doctype html><meta charset="utf-8"><title>an app on another origin</title>
<body><script type="module">
const params = new URL(location.href).searchParams;
const api = params.get("api");
window.pc = await import(`${api}/static/progress-client.js`);
window.ready = true;
</script></body>"""


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    try:
        with chromium() as context:
            yield context
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="module")
def app_origin() -> Iterator[PageServer]:
    with serve_pages({"/app.html": PAGE}) as pages:
        yield pages


@pytest.fixture(scope="module")
def api(app_origin: PageServer) -> Iterator[Api]:
    with serve_api(Api, cors_origins=[app_origin.origin], sse_retry=1.0,
                   keepalive=5.0) as served:
        yield served


def open_app(browser: BrowserContext, app_origin: PageServer, api: Api) -> Page:
    """A page of the app on the other origin, with the companion module imported from the
    API's origin (a cross-origin module script: CORS applies to it too)."""
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{app_origin.origin}/app.html?api={api.server.url}")
    try:
        page.wait_for_function("window.ready === true", timeout=10_000)
    except Exception:
        raise AssertionError(f"the app page did not load the module: {errors}") from None
    return page


# -- cross-origin, in order, then silence ---------------------------------------------------

WATCH = """([url, statuses]) => {
  const seen = window.seen = { raw: [], poll: [], sse: [], es: [], done: {}, errors: [] };
  const last = statuses[statuses.length - 1];
  // A bare EventSource that never calls close(): only the server can stop it.
  const raw = window.raw = new EventSource(`${url}/events`);
  raw.onmessage = (e) => {
    const status = JSON.parse(e.data).status;
    if (seen.raw[seen.raw.length - 1] !== status) seen.raw.push(status);
    if (status === last) seen.done.raw = true;
  };
  const record = (name) => (u) => { if (u.changed) seen[name].push(u.document.status); };
  const ended = (name) => [(doc) => { seen.done[name] = doc.status; },
                           (err) => { seen.errors.push(`${name}: ${err.name}: ${err.message}`); }];
  pc.waitForJob(url, { initial: 0.1, step: 0.05, max: 0.25, onUpdate: record("poll") })
    .then(...ended("poll"));
  pc.waitForJob(url, { events: `${url}/events`, onUpdate: record("sse") }).then(...ended("sse"));
  // The browser's own EventSource, as an option.
  pc.waitForJob(url, { events: `${url}/events`, eventSource: true, onUpdate: record("es") })
    .then(...ended("es"));
}"""


@dataclass
class CrossOriginRun:
    page: Page
    job: str
    seen: dict[str, Any]
    finished_at: float
    terminal_version: int


@pytest.fixture(scope="module")
def cross_origin(browser: BrowserContext, app_origin: PageServer, api: Api) -> CrossOriginRun:
    job = "cross-1"
    api.write(job, STATUSES[0])
    page = open_app(browser, app_origin, api)
    page.evaluate(WATCH, [f"{api.server.url}/jobs/{job}", STATUSES])
    page.wait_for_function("seen.raw.length && seen.poll.length && seen.sse.length "
                           "&& seen.es.length",
                           timeout=10_000)
    for status in STATUSES[1:]:
        time.sleep(0.6)  # longer than the pollers' longest interval: each sees every status
        api.write(job, status)
    page.wait_for_function("(seen.done.raw && seen.done.poll && seen.done.sse && seen.done.es) "
                           "|| seen.errors.length", timeout=10_000)
    finished_at = time.monotonic()
    seen = page.evaluate("window.seen")
    return CrossOriginRun(page, job, seen, finished_at, terminal_version=len(STATUSES))


def test_cross_origin_page_sees_every_update_in_order(
    cross_origin: CrossOriginRun, api: Api, app_origin: PageServer
) -> None:
    seen = cross_origin.seen
    assert seen["errors"] == []
    for name in ("raw", "poll", "sse", "es"):
        assert seen[name] == STATUSES, (name, seen[name])
    assert seen["done"]["poll"] == seen["done"]["sse"] == seen["done"]["es"] == "completed"
    requests = api.requests(cross_origin.job, since=0)
    assert all(r.headers.get("origin") == app_origin.origin for r in requests)
    # The polls' If-None-Match needs a preflight, answered 204; thanks to Max-Age, once.
    preflights = [r for r in requests if r.method == "OPTIONS"]
    assert preflights and all(r.status == 204 for r in preflights)
    assert len(preflights) <= 2
    polls = [r for r in requests if r.method == "GET" and not r.path.endswith("/events")]
    assert all("if-none-match" in r.headers for r in polls[1:])
    print(f"\ncross-origin updates seen in order: bare EventSource {len(seen['raw'])}/"
          f"{len(STATUSES)}, waitForJob polling {len(seen['poll'])}/{len(STATUSES)}, "
          f"waitForJob SSE {len(seen['sse'])}/{len(STATUSES)}; {len(polls)} polls "
          f"({sum(r.status == 304 for r in polls)} x 304), {len(preflights)} preflight(s)")


# -- the companion module's gaps against the schedule ---------------------------------------

GAPS = """([url]) => new Promise((resolve, reject) => {
  pc.waitForJob(url, { initial: 0.3, step: 0.1, max: 0.8 }).then(resolve, reject);
})"""


def test_module_gaps_match_the_schedule_within_100ms(
    browser: BrowserContext, app_origin: PageServer, api: Api
) -> None:
    job = "gaps-1"
    api.write(job, "running")
    page = open_app(browser, app_origin, api)

    def worker() -> None:
        time.sleep(2.6)
        api.write(job, "rendering")
        time.sleep(2.2)
        api.write(job, "completed")

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    final = page.evaluate(GAPS, [f"{api.server.url}/jobs/{job}"])
    thread.join(5)
    page.close()
    assert final["status"] == "completed"
    polls = [r for r in api.requests(job) if r.method == "GET"]
    # At the server: a 200 after the first is a change (the client sent the current ETag),
    # a 304 is unchanged; the Python policy gives the delay each one calls for.
    policy = AdaptivePolicy(0.3, 0.1, 0.8)
    unchanged, expected = 0, []
    for i, r in enumerate(polls[:-1]):
        unchanged = 0 if (i == 0 or r.status == 200) else unchanged + 1
        expected.append(policy.delay(unchanged))
        assert i == 0 or r.headers.get("if-none-match"), "If-None-Match on every later poll"
    gaps = [b.at - a.at for a, b in zip(polls, polls[1:])]
    errors = [g - e for g, e in zip(gaps, expected)]
    assert len(gaps) >= 8 and {r.status for r in polls} == {200, 304}
    assert max(abs(e) for e in errors) < 0.1, list(zip(gaps, expected))
    print(f"\nmodule gaps vs schedule ({len(gaps)} gaps, 0.3/+0.1/0.8 s): max |error| "
          f"{1000 * max(abs(e) for e in errors):.1f} ms, mean error "
          f"{1000 * sum(errors) / len(errors):+.1f} ms; expected "
          f"{[round(e, 1) for e in expected]}")


# -- the shared vectors through the module's pure schedule ----------------------------------

RUN_VECTORS = """(vectors) => vectors.cases.map((c) => {
  let state = pc.initialState(c.long_poll ?? 0), t = 0, word = null, version = 0;
  const delays = [];
  for (const r of c.responses) {
    let status = 200, key;
    if (r.kind === "changed") word = `step-${++version}`;
    if (r.kind === "changed" || r.kind === "unchanged") key = pc.readStatus({ status: word }).key;
    if (r.kind === "not_modified") status = 304;
    else if (r.kind === "error") status = r.status;
    else if (r.kind === "network") status = 0;
    const hint = pc.readHint((name) => name === "retry-after" ? r.retry_after ?? null : null,
      pc.HINT_HEADERS, (vectors.wall_start + t) * 1000);
    const step = pc.nextDelay(state, { status, key, hint,
      preferenceApplied: !!r.preference_applied && state.longPoll }, c.policy);
    state = step.state;
    delays.push(step.delay);
    t += step.delay;
  }
  return delays;
})"""


def test_module_schedule_follows_the_shared_vectors(
    browser: BrowserContext, app_origin: PageServer, api: Api
) -> None:
    page = open_app(browser, app_origin, api)
    results = page.evaluate(RUN_VECTORS, VECTORS)
    page.close()
    assert len(results) == len(VECTORS["cases"])
    for case, got in zip(VECTORS["cases"], results):
        assert got == pytest.approx(case["delays"], abs=1e-9), case["name"]
    print(f"\nshared vectors in Chromium: {len(results)} cases, "
          f"{sum(len(c['delays']) for c in VECTORS['cases'])} delays, all equal")


# -- abort, failure, fallback ---------------------------------------------------------------

ABORT = """async ([url, events]) => {
  const ctl = new AbortController();
  let first;
  const got = new Promise((resolve) => { first = resolve; });
  const wait = pc.waitForJob(url, { events, initial: 0.1, step: 0, max: 0.1, signal: ctl.signal,
    onUpdate: () => first() });
  await got;
  ctl.abort();
  try { await wait; return "resolved"; } catch (err) {
    return `${err.name} ${err instanceof pc.PollAborted} ${err instanceof pc.PollError}`;
  }
}"""


@pytest.mark.parametrize("mode", ["poll", "sse"])
def test_abort_signal_stops_everything(
    mode: str, browser: BrowserContext, app_origin: PageServer, api: Api
) -> None:
    job = f"abort-{mode}"
    api.write(job, "running")
    page = open_app(browser, app_origin, api)
    url = f"{api.server.url}/jobs/{job}"
    outcome = page.evaluate(ABORT, [url, f"{url}/events" if mode == "sse" else None])
    aborted_at = time.monotonic()
    assert outcome == "AbortError true true"
    time.sleep(1.0)  # ten poll intervals
    assert api.requests(job, since=aborted_at + 0.05) == []
    assert len([r for r in api.requests(job) if r.method == "GET"]) == 1
    if mode == "sse":  # the stream was closed: the server let go of its subscription
        assert api.server.call(_subscribers, api.store, job) == 0
    page.close()


async def _subscribers(store: MemoryStore, job: str) -> int:
    return len(store._subscribers.get(job, ()))


OUTCOME = """async ([url, events]) => {
  try {
    const doc = await pc.waitForJob(url, { events, initial: 0.1, step: 0.05, max: 0.2 });
    return { ok: doc.status };
  } catch (err) {
    return { error: err.name, status: err.status, http: err.httpStatus,
             job: err instanceof pc.JobFailed, failed: err instanceof pc.RequestFailed };
  }
}"""


def test_failed_job_unknown_job_and_stream_fallback(
    browser: BrowserContext, app_origin: PageServer, api: Api
) -> None:
    page = open_app(browser, app_origin, api)
    base = f"{api.server.url}/jobs"
    api.write("fail-1", "running")
    threading.Timer(0.3, api.write, ["fail-1", "FAILED"], {"error": "boom"}).start()
    failed = page.evaluate(OUTCOME, [f"{base}/fail-1", None])
    assert failed == {"error": "JobFailed", "status": "FAILED", "http": None, "job": True,
                      "failed": False}
    unknown = page.evaluate(OUTCOME, [f"{base}/never-was", None])
    assert unknown["error"] == "RequestFailed" and unknown["http"] == 404
    # An events URL that is no event stream (JSON): EventSource fails, polling takes over.
    api.write("fallback-1", "running")
    threading.Timer(0.3, api.write, ["fallback-1", "done"]).start()
    fell_back = page.evaluate(OUTCOME, [f"{base}/fallback-1", f"{base}/fallback-1"])
    assert fell_back == {"ok": "done"}
    page.close()


# -- progress-client demo --web ---------------------------------------------------------------

DEMO_SPEED = 60  # a 5-minute job in 5 s


def _first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise AssertionError(f"demo --web printed nothing in {timeout:g} s")
    return proc.stdout.readline()


def test_demo_web_renders_a_whole_run(browser: BrowserContext, tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "progress_client", "demo", "--web", "--speed", str(DEMO_SPEED),
         "--seconds", "60"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = _first_line(proc, 20)
        match = re.search(r"open (http://127\.0\.0\.1:\d+/demo)", line)
        assert match, line
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.goto(match.group(1))
        page.wait_for_function("document.body.dataset.state === 'done'", timeout=30_000)
        cards = page.eval_on_selector_all(".card", "cs => cs.map(c => c.innerText)")
        rows = page.eval_on_selector_all(
            "#summary tr", "rs => rs.map(r => [...r.cells].map(c => c.innerText))")
        shots = Path(os.environ.get("PROGRESS_CLIENT_SCREENSHOTS") or tmp_path)
        shot = shots / "demo-web.png"
        page.screenshot(path=str(shot), full_page=True)
        page.close()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    assert errors == []
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "stopped" in err
    assert "started" in out
    # Every strategy saw the job end; the table has one row per strategy that ran.
    assert len(cards) == 4 and all("saw completed" in c or "not offered" in c for c in cards)
    table = {r[0]: r for r in rows[1:]}
    assert {"adaptive", "fixed 1 s", "SSE"} <= set(table)
    requests = {name: int(r[1]) for name, r in table.items()}
    assert requests["SSE"] == 1
    assert requests["adaptive"] < requests["fixed 1 s"] / 3
    assert shot.stat().st_size > 20_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"\ndemo --web at {DEMO_SPEED}x: requests {requests}; screenshot {shot}")


# -- last: the 10 s after the terminal event ------------------------------------------------


def test_browser_stops_reconnecting_after_completed(
    cross_origin: CrossOriginRun, api: Api
) -> None:
    left = cross_origin.finished_at + WINDOW - time.monotonic()
    if left > 0:
        time.sleep(left)
    after = api.requests(cross_origin.job, since=cross_origin.finished_at)
    state = cross_origin.page.evaluate("window.raw.readyState")
    cross_origin.page.close()
    # Only the bare EventSource comes back, once, with the terminal id; the 204 stops it.
    terminal_id = str(cross_origin.terminal_version)
    reconnects = [r for r in api.requests(cross_origin.job)
                  if r.path.endswith("/events") and r.headers.get("last-event-id")]
    assert [(r.headers["last-event-id"], r.status) for r in reconnects] == [(terminal_id, 204)]
    assert len(after) <= 1, after
    assert all(r in reconnects for r in after)
    assert state == 2  # EventSource.CLOSED
    print(f"\nrequests for the job in the {WINDOW:g} s after the terminal event: {len(after)} "
          f"({', '.join(f'{r.method} {r.path} -> {r.status}' for r in after) or 'none'}); "
          f"bare EventSource readyState {state} (CLOSED)")
