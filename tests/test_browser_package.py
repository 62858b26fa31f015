"""The npm package as a consumer gets it, in a real Chromium (Debian's, via Playwright).

``npm pack`` of js/, ``npm install`` of the tarball into a temporary app (not the source tree),
a small React app bundled from it with esbuild (React's development build, under StrictMode),
served from one loopback origin; the reference server, with read tokens, on another.

- An authenticated stream over fetch (``Authorization: Bearer``, through CORS) sees every
  update in order over one connection; StrictMode's double mount costs nothing.
- ``useJob``: inline options on each render do not restart the poller; a new URL moves it;
  unmounting stops it.
- TanStack Query (``refetchInterval``) and SWR (``refreshInterval``) with ``progress-client/
  query`` poll at the adaptive schedule's gaps, with If-None-Match, and stop at the end.
- ``shared: true`` in 3 tabs costs the server one poller's requests; closing the leader's tab
  hands over to another tab, which carries on the schedule; a hidden leader polls at the
  normal schedule while another tab shows the job, at the maximum when none does.
- ``persist: "session"``: after a reload the next poll comes at the saved time, not at once.
- A hidden tab polls at the policy's maximum (``hidden: "pause"``: not at all), and polls at
  once when shown. Headless Chromium never hides a page by itself, so the page's
  ``document.visibilityState`` is switched by the test (an init script) and a real
  ``visibilitychange`` event is dispatched; everything else is the browser's own.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from progress_client.server import (
    mint_read_token,
)

from . import browserkit
from .browserkit import (
    PageServer,
    bundle_app,
    chromium,
    pack_package,
    serve_api,
    serve_pages,
)

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.slow]

SECRET = "browser-tests-read-secret"
STATUSES = ["queued", "script", "images", "voice-over", "render", "upload", "completed"]

APP = r"""
import { StrictMode, useState, useReducer } from "react";
import { createRoot } from "react-dom/client";
import { QueryClient, QueryClientProvider, useQuery } from "@tanstack/react-query";
import useSWR from "swr";
import { useJob } from "progress-client/react";
import { useJobQuery, useJobSWR } from "progress-client/query";
import * as pc from "progress-client";
import { profile } from "progress-client/profiles";
import profiles from "progress-client/profiles.json";

window.pc = pc;
// The shared vendor cases, read in the browser as the Python client reads them.
window.readWithProfile = (name, doc) => {
  try {
    const r = pc.readStatus(doc, profile(profiles[name]).options);
    return typeof r === "object" ? [r.status, r.outcome] : ["bad", String(r)];
  } catch (err) {
    return ["refused", err.message];
  }
};
const log = window.log = { updates: [], requests: [], renders: 0 };

function Job({ url, options }) {
  // Inline options: a new object on every render.
  const job = useJob(url, { ...options,
    onUpdate: (u) => log.updates.push({ url, status: u.status, changed: u.changed,
      mode: u.mode, report: u.report }),
    onRequest: (r) => log.requests.push({ url, ...r }) });
  log.renders += 1;
  window.job = { status: job.status, done: job.done, error: job.error && job.error.name,
    report: job.report };
  return <p id="job">{job.status}</p>;
}

function App({ first, options }) {
  const [url, setUrl] = useState(first);
  const [, rerender] = useReducer((n) => n + 1, 0);
  window.setUrl = setUrl;
  window.rerender = rerender;
  return <Job url={url} options={options} />;
}

window.mount = (url, options) => {
  const root = createRoot(document.getElementById("root"));
  root.render(<StrictMode><App first={url} options={options} /></StrictMode>);
  window.unmount = () => root.unmount();
};

// The data libraries polling by themselves with the package's schedule.
function WithTanStack({ url, options }) {
  const { data } = useQuery({ ...useJobQuery(url, options), retry: false,
    refetchOnWindowFocus: false });
  window.libStatus = data ? data.status : null;
  return <p>{window.libStatus}</p>;
}
function WithSWR({ url, options }) {
  const { fetcher, refreshInterval } = useJobSWR(url, options);
  const { data } = useSWR(url, fetcher, { refreshInterval, dedupingInterval: 0,
    revalidateOnFocus: false, shouldRetryOnError: false });
  window.libStatus = data ? data.status : null;
  return <p>{window.libStatus}</p>;
}
window.mountLibrary = (kind, url, options) => {
  const root = createRoot(document.getElementById("root"));
  root.render(kind === "tanstack"
    ? <QueryClientProvider client={new QueryClient()}>
        <WithTanStack url={url} options={options} />
      </QueryClientProvider>
    : <WithSWR url={url} options={options} />);
};

// A plain wait, for the tab tests: started from the page's hash, so a reload starts it again.
window.start = (url, options) => {
  window.seen = [];
  window.mine = 0;
  window.outcome = null;
  pc.waitForJob(url, { ...options, onUpdate: (u) => window.seen.push(u.status),
    onRequest: () => { window.mine += 1; } })
    .then((d) => { window.outcome = d.status; }, (e) => { window.outcome = e.name; });
};
if (location.hash.length > 1) {
  const { url, options } = JSON.parse(decodeURIComponent(location.hash.slice(1)));
  window.start(url, options);
}
window.ready = true;
"""

PAGE = """<!doctype html><meta charset="utf-8"><title>a React app on another origin</title>
<div id="root"></div><script type="module" src="/app.js"></script>"""

# Headless Chromium keeps every page visible: the test says when this page is hidden.
# The browser's own state still counts: a page being unloaded is hidden.
VISIBILITY = """(() => {
  let hidden = false;
  const real = Object.getOwnPropertyDescriptor(Document.prototype, "visibilityState").get;
  const state = (doc) => (hidden ? "hidden" : real.call(doc));
  Object.defineProperty(Document.prototype, "visibilityState",
    { configurable: true, get() { return state(this); } });
  Object.defineProperty(Document.prototype, "hidden",
    { configurable: true, get() { return state(this) === "hidden"; } });
  window.setHidden = (h) => { hidden = h; document.dispatchEvent(new Event("visibilitychange")); };
})();"""


class Api(browserkit.Api):
    """The API the apps read, with read tokens."""

    def auth(self, job: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_read_token(SECRET, job, 600)}"}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> str:
    work = tmp_path_factory.mktemp("npm-app")
    try:
        tarball = pack_package(work)
        return bundle_app(tarball, APP, work)
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="module")
def origin(bundle: str) -> Iterator[PageServer]:
    with serve_pages({"/app.html": PAGE, "/app.js": bundle}) as pages:
        yield pages


@pytest.fixture(scope="module")
def api(origin: PageServer) -> Iterator[Api]:
    with serve_api(Api, cors_origins=[origin.origin], read_secret=SECRET, sse_retry=1.0,
                   keepalive=5.0) as served:
        yield served


@pytest.fixture(scope="module")
def browser() -> Iterator[BrowserContext]:
    try:
        with chromium() as context:
            context.add_init_script(VISIBILITY)
            yield context
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


def open_page(browser: BrowserContext, origin: PageServer, start: dict[str, Any] | None = None
              ) -> Page:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    hash_ = "#" + json.dumps(start) if start else ""
    page.goto(f"{origin.origin}/app.html{hash_}")
    try:
        page.wait_for_function("window.ready === true", timeout=15_000)
    except Exception:
        raise AssertionError(f"the app did not load: {errors}") from None
    return page


# -- an authenticated stream, React under StrictMode -----------------------------------------


PROFILE_CASES = json.loads(
    (Path(__file__).parent / "vectors" / "profiles.json").read_text("utf-8"))["cases"]


def test_the_shared_vendor_cases_read_alike_in_chromium(
    browser: BrowserContext, origin: PageServer,
) -> None:
    """The vendor profile cases (tests/vectors/profiles.json, which the Python client and Node
    also run) give the same status and outcome in Chromium, through the installed package's
    profiles entry and its profile data."""
    page = open_page(browser, origin)
    got = [page.evaluate("([n, d]) => window.readWithProfile(n, d)", [c["profile"], c["document"]])
           for c in PROFILE_CASES]
    page.close()
    assert got == [[c["status"], c["outcome"]] for c in PROFILE_CASES]
    print(f"\nvendor profile cases in Chromium: {len(got)}, all as in Python and Node")


def test_authenticated_stream_over_fetch_sees_every_update_with_one_connection(
    browser: BrowserContext, origin: PageServer, api: Api
) -> None:
    job = "stream-1"
    api.write(job, STATUSES[0])
    page = open_page(browser, origin)
    url = api.url(job)
    page.evaluate("([url, options]) => mount(url, options)",
                  [url, {"events": f"{url}/events", "headers": api.auth(job)}])
    page.wait_for_function("window.job && window.job.status === 'queued'", timeout=10_000)
    for status in STATUSES[1:]:
        time.sleep(0.1)
        api.write(job, status)
    page.wait_for_function("window.job.done || window.job.error", timeout=10_000)
    state = page.evaluate("window.job")
    updates = page.evaluate("log.updates")
    page.close()
    requests = [r for r in api.log if r.path.startswith(f"/jobs/{job}")]
    assert state["error"] is None and state["status"] == "completed"
    assert [u["status"] for u in updates if u["changed"]] == STATUSES
    assert {u["mode"] for u in updates} == {"sse"}
    # One connection, with the token, for the whole job; StrictMode's first mount sent nothing.
    gets = [r for r in requests if r.method == "GET"]
    assert [(r.path, r.status) for r in gets] == [(f"/jobs/{job}/events", 200)]
    assert gets[0].headers["authorization"].startswith("Bearer v1.")
    assert state["report"]["requests"] == 1 and state["report"]["mode"] == "sse"


def test_a_stream_without_a_valid_token_ends_with_request_failed(
    browser: BrowserContext, origin: PageServer, api: Api
) -> None:
    job = "stream-denied"
    api.write(job, "running")
    page = open_page(browser, origin)
    url = api.url(job)
    page.evaluate("([url, options]) => mount(url, options)",
                  [url, {"events": f"{url}/events", "headers": api.auth("another-job")}])
    page.wait_for_function("window.job && window.job.error", timeout=10_000)
    state = page.evaluate("window.job")
    page.close()
    # The stream is refused, polling takes over once and is refused too: RequestFailed.
    assert state["error"] == "RequestFailed"
    assert [(r.path, r.status) for r in api.log if r.method == "GET"
            and r.path.startswith(f"/jobs/{job}")] == [(f"/jobs/{job}/events", 401),
                                                       (f"/jobs/{job}", 401)]


# -- useJob: one poller, inline options, a new URL, unmount ----------------------------------


def test_use_job_keeps_one_poller_follows_the_url_and_stops_on_unmount(
    browser: BrowserContext, origin: PageServer, api: Api
) -> None:
    a, b = "hook-a", "hook-b"
    api.write(a, "running")
    api.write(b, "running")
    page = open_page(browser, origin)
    policy = {"initial": 0.3, "step": 0.1, "max": 0.5}
    # One token for both jobs is not possible: each job's own, by a headers function.
    page.evaluate("(t) => { window.currentToken = t; }", api.auth(a)["Authorization"])
    page.evaluate(
        """([a, policy]) => mount(a, { ...policy,
             headers: () => ({ Authorization: window.currentToken }) })""",
        [api.url(a), policy])
    page.wait_for_function("window.job && window.job.status === 'running'", timeout=10_000)
    for _ in range(5):  # re-renders with new inline options
        page.evaluate("rerender()")
        time.sleep(0.1)
    time.sleep(1.0)
    first_of_a = [r for r in api.gets(a) if "if-none-match" not in r.headers]
    assert len(first_of_a) == 1, "one poller: a single unconditional first request"
    page.evaluate("(t) => { window.currentToken = t; }", api.auth(b)["Authorization"])
    page.evaluate("(b) => setUrl(b)", api.url(b))
    page.wait_for_function(f"log.updates.some(u => u.url.endsWith('/{b}'))", timeout=10_000)
    moved = time.monotonic()
    time.sleep(1.0)
    assert api.gets(a, since=moved + 0.2) == [], "the old URL's poller stopped"
    assert len(api.gets(b)) >= 2
    assert all(r.status in (200, 304) for r in api.gets(b))
    page.evaluate("unmount()")
    gone = time.monotonic()
    time.sleep(1.0)
    assert api.gets(b, since=gone + 0.1) == [], "unmounting stopped the poller"
    page.close()


# -- TanStack Query and SWR ------------------------------------------------------------------


@pytest.mark.parametrize("library", ["tanstack", "swr"])
def test_data_libraries_poll_at_the_schedule_and_stop_at_the_end(
    library: str, browser: BrowserContext, origin: PageServer, api: Api
) -> None:
    job = f"library-{library}"
    api.write(job, "running")
    page = open_page(browser, origin)
    options = {"initial": 0.3, "step": 0.1, "max": 0.6, "headers": api.auth(job)}
    page.evaluate("([kind, url, options]) => mountLibrary(kind, url, options)",
                  [library, api.url(job), options])
    page.wait_for_function("window.libStatus === 'running'", timeout=10_000)
    time.sleep(2.5)
    api.write(job, "completed")
    page.wait_for_function("window.libStatus === 'completed'", timeout=10_000)
    ended = time.monotonic()
    time.sleep(1.5)
    page.close()
    polls = api.gets(job)
    assert api.gets(job, since=ended + 0.05) == [], "no request after the end"
    running = polls[:-1]  # the last one read "completed"
    gaps = [b.at - a.at for a, b in zip(running, running[1:])]
    expected = [min(0.3 + 0.1 * i, 0.6) for i in range(len(gaps))]
    # The library's own timer starts after its render: late by a little, never early.
    errors = [g - e for g, e in zip(gaps, expected)]
    assert len(gaps) >= 4
    assert all(-0.05 <= x <= 0.5 for x in errors), list(zip(gaps, expected))
    assert sum(errors) / len(errors) < 0.2, list(zip(gaps, expected))
    assert all(r.headers.get("if-none-match") for r in polls[1:])
    assert {r.status for r in running[1:]} == {304}
    print(f"\n{library}: gaps {[round(g, 2) for g in gaps]} vs {expected}")


# -- tabs: one poller for three, a leader that goes away ------------------------------------

SHARED = {"shared": True, "initial": 0.4, "step": 0.2, "max": 0.8}


def _leader(pages: list[Page]) -> int:
    counts = [p.evaluate("window.mine") for p in pages]
    assert sum(1 for c in counts if c) == 1, counts
    return next(i for i, c in enumerate(counts) if c)


def test_three_tabs_share_one_poller_and_a_new_leader_carries_on(
    browser: BrowserContext, origin: PageServer, api: Api
) -> None:
    job = "shared-1"
    api.write(job, "running")
    start = {"url": api.url(job), "options": {**SHARED, "headers": api.auth(job)}}
    pages = [open_page(browser, origin, start) for _ in range(3)]
    t0 = time.monotonic()
    time.sleep(4.0)
    polls = api.gets(job)
    window = api.gets(job, since=t0)
    # One poller: 4 s at 0.8 s (its ramp 0.4, 0.6 s is over by now) is 5 or 6 requests;
    # three pollers would send about three times as many, some of them close together.
    assert 3 <= len(window) <= 4.0 / 0.8 + 2, [round(r.at - t0, 2) for r in window]
    gaps = [b.at - a.at for a, b in zip(polls, polls[1:])]
    assert min(gaps) > 0.3, gaps
    leader = _leader(pages)
    # The others see the leader's updates: the last one when they joined, then every one.
    for i, page in enumerate(pages):
        seen = page.evaluate("window.seen")
        assert set(seen) == {"running"} and len(seen) >= 2, (i, seen)
    leader_seen = len(pages[leader].evaluate("window.seen"))
    assert leader_seen == len(api.gets(job)), "the leader saw each of its polls"
    closed_at = time.monotonic()
    pages.pop(leader).close()
    time.sleep(3.0)
    after = api.gets(job, since=closed_at)
    new_leader = _leader(pages)
    # The schedule goes on at its maximum (0.8 s): within one interval of the close, then
    # at 0.8 s again; +1 request at most for the change of leader.
    assert after and after[0].at - closed_at <= 0.8 + 0.5, after[0].at - closed_at
    assert len(after) <= 3.0 / 0.8 + 1 + 1, len(after)
    # The old leader's last poll may land after the close without its answer reaching the
    # others: the new leader's first poll then comes early, once.
    later_gaps = sorted(b.at - a.at for a, b in zip(after, after[1:]))
    assert all(g > 0.6 for g in later_gaps[1:]), later_gaps
    assert all(r.headers.get("if-none-match") for r in after), "the ETag was carried over"
    api.write(job, "completed")
    for page in pages:
        page.wait_for_function("window.outcome !== null", timeout=10_000)
    outcomes = [p.evaluate("window.outcome") for p in pages]
    time.sleep(1.0)
    for page in pages:
        page.close()
    assert outcomes == ["completed", "completed"]
    # The poll that read "completed" is the last: no other tab polls after the end.
    final = api.gets(job)
    assert final[-1].status == 200 and all(r.status == 304 for r in after[:-1]), final[-3:]
    print(f"\n3 tabs: {len(window)} polls in 4 s ({len(polls)} since the first tab opened); "
          "after the leader closed: first poll "
          f"{after[0].at - closed_at:.2f} s later, {len(after)} in 3 s; new leader tab "
          f"{new_leader}")


def test_a_hidden_leader_polls_as_shown_while_another_tab_shows_the_job(
    browser: BrowserContext, origin: PageServer, api: Api
) -> None:
    job = "shared-hidden"
    api.write(job, "running")
    start = {"url": api.url(job), "options": {"shared": True, "initial": 0.4, "step": 0,
                                              "max": 2.0, "headers": api.auth(job)}}
    pages = [open_page(browser, origin, start) for _ in range(2)]
    time.sleep(1.0)
    leader = _leader(pages)
    follower = pages[1 - leader]
    pages[leader].evaluate("setHidden(true)")
    t0 = time.monotonic()
    time.sleep(2.0)
    shown_elsewhere = api.gets(job, since=t0 + 0.1)
    follower.evaluate("setHidden(true)")  # now no tab shows the job
    t1 = time.monotonic()
    time.sleep(4.5)
    nobody = api.gets(job, since=t1 + 0.5)
    t2 = time.monotonic()
    follower.evaluate("setHidden(false)")  # shown again: a poll at once
    time.sleep(0.8)
    again = api.gets(job, since=t2)
    for page in pages:
        page.close()
    gaps = [b.at - a.at for a, b in zip(shown_elsewhere, shown_elsewhere[1:])]
    assert len(shown_elsewhere) >= 3 and max(gaps) < 0.8, gaps  # at 0.4 s, not 2 s
    slow = [b.at - a.at for a, b in zip(nobody, nobody[1:])]
    assert len(nobody) <= 3 and all(g >= 1.9 for g in slow), slow  # at 2 s
    assert again and again[0].at - t2 < 0.6, "the other tab shown: a poll at once"
    print(f"\nleader hidden, another tab shown: gaps {[round(g, 2) for g in gaps]}; "
          f"no tab shown: {[round(g, 2) for g in slow]}; shown again: a poll "
          f"{again[0].at - t2:.2f} s later")


# -- a reload carries on the schedule --------------------------------------------------------


def test_after_a_reload_the_next_poll_comes_at_the_saved_time(
    browser: BrowserContext, origin: PageServer, api: Api
) -> None:
    job = "reload-1"
    api.write(job, "running")
    start = {"url": api.url(job), "options": {"persist": "session", "initial": 2, "step": 0,
                                              "max": 2, "headers": api.auth(job)}}
    page = open_page(browser, origin, start)
    deadline = time.monotonic() + 10
    while len(api.gets(job)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(api.gets(job)) == 2
    time.sleep(0.3)
    reloaded = time.monotonic()
    page.reload()
    page.wait_for_function("window.ready === true", timeout=10_000)
    ready = time.monotonic()
    while len(api.gets(job)) < 3 and time.monotonic() < deadline + 5:
        time.sleep(0.05)
    polls = api.gets(job)
    page.close()
    gap = polls[2].at - polls[1].at
    assert polls[2].at > reloaded
    # Not at once (0.3 s after the last poll), but when it was due (2 s after it), or as soon
    # as the page is back if loading it took longer than that.
    assert gap >= 1.8, f"the first poll after the reload came {gap:.2f} s after the last"
    assert polls[2].at <= max(polls[1].at + 2.0, ready) + 0.6, gap
    print(f"\nreload 0.3 s after a poll: the next poll {gap:.2f} s after it (due at 2 s)")
    assert polls[2].headers.get("if-none-match") == polls[1].headers.get("if-none-match")
    assert polls[2].status == 304


# -- hidden tabs --------------------------------------------------------------------------


def test_a_hidden_tab_polls_at_the_maximum_and_at_once_when_shown(
    browser: BrowserContext, origin: PageServer, api: Api
) -> None:
    # A scaled minute: 6 s with a maximum of 1.5 s (60 s at 15 s): 4 polls at most, where a
    # visible tab would send about 12 (0.2, 0.4, ... 1.4 s).
    job = "hidden-1"
    api.write(job, "running")
    start = {"url": api.url(job), "options": {"initial": 0.2, "step": 0.2, "max": 1.5,
                                              "headers": api.auth(job)}}
    page = open_page(browser, origin, start)
    page.wait_for_function("window.mine >= 1", timeout=10_000)
    page.evaluate("setHidden(true)")
    hidden_at = time.monotonic()
    time.sleep(6.0)
    shown_at = time.monotonic()
    page.evaluate("setHidden(false)")
    time.sleep(0.5)
    page.close()
    during = [r for r in api.gets(job, since=hidden_at) if r.at < shown_at]
    assert len(during) <= 6.0 / 1.5 + 1, len(during)
    gaps = [b.at - a.at for a, b in zip(during, during[1:])]
    assert all(g >= 1.45 for g in gaps), gaps
    shown = api.gets(job, since=shown_at)
    assert shown and shown[0].at - shown_at < 1.0, "a tab shown polls at once"
    print(f"\nhidden 6 s at a 1.5 s maximum: {len(during)} polls, gaps "
          f"{[round(g, 2) for g in gaps]}; shown: a poll {shown[0].at - shown_at:.2f} s later")


def test_a_paused_hidden_tab_sends_nothing_until_shown(
    browser: BrowserContext, origin: PageServer, api: Api
) -> None:
    job = "hidden-2"
    api.write(job, "running")
    start = {"url": api.url(job), "options": {"hidden": "pause", "initial": 0.2, "step": 0.1,
                                              "max": 0.5, "headers": api.auth(job)}}
    page = open_page(browser, origin, start)
    page.wait_for_function("window.mine >= 1", timeout=10_000)
    page.evaluate("setHidden(true)")
    hidden_at = time.monotonic()
    time.sleep(3.0)
    shown_at = time.monotonic()
    page.evaluate("setHidden(false)")
    time.sleep(0.5)
    page.close()
    during = [r for r in api.gets(job, since=hidden_at + 0.05) if r.at < shown_at]
    assert during == []
    shown = api.gets(job, since=shown_at)
    assert shown and shown[0].at - shown_at < 1.0
