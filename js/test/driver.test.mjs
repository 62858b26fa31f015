// The driver with a fake fetch: streams over fetch, hints, long polls, errors, the report,
// the async iterator, abort and timeout, the schedule for data libraries.
import { test, mock } from "node:test";
import assert from "node:assert/strict";
import { setImmediate as tick } from "node:timers/promises";
import * as pc from "../dist/index.js";
import { pollingSchedule } from "../dist/query.js";

/** A fake fetch answering from `script(call, init)`; records every call. */
function fakeFetch(script) {
  const calls = [];
  const f = async (url, init = {}) => {
    const headers = new Headers(init.headers);
    const call = { url, headers, at: Date.now() };
    calls.push(call);
    if (init.signal?.aborted) throw init.signal.reason;
    return script(call, calls.length - 1, init);
  };
  f.calls = calls;
  return f;
}

const json = (doc, headers = {}, status = 200) =>
  new Response(JSON.stringify(doc), { status, headers: { "Content-Type": "application/json",
    ...headers } });

/** An event stream that sends `chunks` then ends (or stays open with `hold`). */
function sse(chunks, { hold = false, signal } = {}) {
  const enc = new TextEncoder();
  const body = new ReadableStream({
    async start(ctl) {
      for (const c of chunks) ctl.enqueue(enc.encode(c));
      if (!hold) ctl.close();
      signal?.addEventListener("abort", () => ctl.error(signal.reason));
    },
  });
  return new Response(body, { headers: { "Content-Type": "text/event-stream" } });
}

/** Runs a promise to its end on Node's mock clock: every timer at once, or `step` ms at a
 * time (when a deadline timer must not fire before the polls due earlier). */
async function settle(promise, step = 0) {
  let done = false;
  const p = promise.finally(() => { done = true; });
  p.catch(() => {});
  while (!done) {
    for (let i = 0; i < 20; i++) await tick();
    if (!done) step ? mock.timers.tick(step) : mock.timers.runAll();
  }
  return p;
}

function virtualClock(t) {
  mock.timers.enable({ apis: ["setTimeout", "Date"], now: 1767225600000 });
  t.after(() => mock.timers.reset());
}

test("SSE parser: fields, comments, CRLF split across chunks, retry, id", () => {
  const p = new pc.SSEParser();
  assert.deepEqual(p.feed(": keep-alive\n\nid: 7\nretry: 1500\nevent: progress\ndata: {\"a\":"),
    []);
  const out = p.feed("1}\r");
  assert.deepEqual(out, []);
  const more = p.feed("\n\r\ndata: x\ndata:y\n\n");
  assert.deepEqual(more, [{ type: "progress", data: "{\"a\":1}", id: "7" },
    { type: "message", data: "x\ny", id: "7" }]);
  assert.equal(p.retry, 1500);
  assert.equal(p.lastId, "7");
  p.feed("retry: soon\nid: a\0b\n\n");
  assert.equal(p.retry, 1500);
  assert.equal(p.lastId, "7");
});

test("SSE over fetch: headers go along, any event whose data is a status counts, heartbeats " +
  "and other data are skipped, eventTypes restricts, Last-Event-ID and retry on reconnect",
async (t) => {
  virtualClock(t);
  const fetch = fakeFetch((call, i) => {
    if (i === 0) {
      return sse([": hi\n\n", "id: 1\nretry: 2500\ndata: {\"status\":\"queued\"}\n\n",
        "event: progress\nid: 2\ndata: {\"status\":\"running\",\"progress\":5}\n\n",
        "event: log\ndata: not json\n\n", "data: {\"no\":\"status\"}\n\n"]);
    }
    return sse(["id: 3\nevent: done\ndata: {\"status\":\"completed\"}\n\n"]);
  });
  const seen = [];
  const doc = await settle(pc.waitForJob("https://api.test/jobs/1", { fetch,
    events: "https://api.test/jobs/1/events", headers: { Authorization: "Bearer t" },
    onUpdate: (u) => seen.push([u.status, u.mode, u.changed]) }));
  assert.equal(doc.status, "completed");
  assert.deepEqual(seen, [["queued", "sse", true], ["running", "sse", true],
    ["completed", "sse", true]]);
  assert.equal(fetch.calls.length, 2);
  for (const c of fetch.calls) {
    assert.equal(c.headers.get("Authorization"), "Bearer t");
    assert.equal(c.headers.get("Accept"), "text/event-stream");
  }
  assert.equal(fetch.calls[0].headers.get("Last-Event-ID"), null);
  assert.equal(fetch.calls[1].headers.get("Last-Event-ID"), "2");
  assert.equal(fetch.calls[1].at - fetch.calls[0].at, 2500);

  const only = fakeFetch(() => sse(["data: {\"status\":\"running\"}\n\n",
    "event: status\ndata: {\"status\":\"completed\"}\n\n"]));
  const names = [];
  await settle(pc.waitForJob("u", { fetch: only, events: "e", eventTypes: ["status"],
    onUpdate: (u) => names.push(u.status) }));
  assert.deepEqual(names, ["completed"]);
});

test("SSE over fetch falls back to polling at once: no event stream, or failures in a row",
async (t) => {
  virtualClock(t);
  const fetch = fakeFetch((call) => call.url.endsWith("/events")
    ? new Response("{}", { headers: { "Content-Type": "application/json" } })
    : json({ status: "done" }));
  const doc = await settle(pc.waitForJob("u", { fetch, events: "u/events" }));
  assert.equal(doc.status, "done");
  assert.deepEqual(fetch.calls.map((c) => c.url), ["u/events", "u"]);
  assert.equal(fetch.calls[1].at, fetch.calls[0].at);

  let n = 0;
  const flaky = fakeFetch((call) => {
    if (!call.url.endsWith("/events")) return json({ status: "completed" });
    n += 1;
    return sse(n === 1 ? ["data: {\"status\":\"running\"}\n\n"] : [": only a heartbeat\n\n"]);
  });
  await settle(pc.waitForJob("u", { fetch: flaky, events: "u/events", streamFailures: 3 }));
  assert.deepEqual(flaky.calls.map((c) => c.url),
    ["u/events", "u/events", "u/events", "u/events", "u"]);
});

test("hint headers: the profile's or the default list, most precise first, a floor capped",
async (t) => {
  virtualClock(t);
  let i = 0;
  const fetch = fakeFetch(() => {
    i += 1;
    if (i === 1) return json({ status: "a" }, { "openai-poll-after-ms": "12500" });
    if (i === 2) return json({ status: "a" }, { "x-poll-interval": "20", "retry-after": "5" });
    if (i === 3) return json({ status: "a" }, { "retry-after-ms": "100", "retry-after": "9" });
    if (i === 4) return json({ status: "a" }, { "retry-after": "100000" });
    return json({ status: "completed" });
  });
  const updates = [];
  await settle(pc.waitForJob("u", { fetch, onUpdate: (u) => updates.push(u) }));
  const gaps = fetch.calls.slice(1).map((c, k) => (c.at - fetch.calls[k].at) / 1000);
  // 12.5 (ms hint), 5 (retry-after before x-poll-interval: the list's order), 5 (the
  // policy's 5 s beats a 0.1 s hint), 300 (capped).
  assert.deepEqual(gaps, [12.5, 5, 5, 300]);
  assert.equal(updates.at(-1).report.hintWaits, 3);
});

test("ETag and long polling: If-None-Match, Prefer: wait, at once while held", async (t) => {
  virtualClock(t);
  let i = 0;
  const fetch = fakeFetch((call) => {
    i += 1;
    const held = { "Preference-Applied": "wait=20", ETag: "\"v1\"" };
    if (i === 1) return json({ status: "running" }, held);
    if (i === 2) return new Response(null, { status: 304, headers: held });
    if (i === 3) return new Response(null, { status: 304, headers: { ETag: "\"v1\"" } });
    return json({ status: "completed" }, { ETag: "\"v2\"" });
  });
  const modes = [];
  await settle(pc.waitForJob("u", { fetch, wait: 20, onUpdate: (u) => modes.push(u.mode) }));
  assert.deepEqual(fetch.calls.map((c) => c.headers.get("Prefer")),
    ["wait=20", "wait=20", "wait=20", null]);
  assert.deepEqual(fetch.calls.map((c) => c.headers.get("If-None-Match")),
    [null, "\"v1\"", "\"v1\"", "\"v1\""]);
  const gaps = fetch.calls.slice(1).map((c, k) => (c.at - fetch.calls[k].at) / 1000);
  assert.deepEqual(gaps, [0, 0, 5]);
  assert.deepEqual(modes, ["long-poll", "long-poll", "poll", "poll"]);
});

test("typed errors carry the last status, the HTTP status and the report", async (t) => {
  virtualClock(t);
  const cases = [
    [() => json({ status: "FAILED" }), pc.JobFailed, null],
    [() => json({ error: "x" }, {}, 404), pc.RequestFailed, 404],
    [() => new Response("<html>", { status: 200 }), pc.BadResponse, 200],
    [() => json({ nostatus: 1 }), pc.BadResponse, 200],
    [() => new Response("", { status: 503 }), pc.TooManyErrors, 503],
    [() => json({ status: "x".repeat(200) }), pc.BadResponse, 200],  // over maxBody (100)
    [() => json({ status: "completed" }, { "Content-Length": "5000000" }), pc.BadResponse, 200],
    [() => { throw new TypeError("down"); }, pc.TooManyErrors, null],
  ];
  for (const [answer, E, http] of cases) {
    const err = await settle(pc.waitForJob("u", { fetch: fakeFetch(answer), maxErrors: 3,
      maxBody: 100 }))
      .then(() => null, (e) => e);
    assert.ok(err instanceof E && err instanceof pc.PollError, `${E.name}: ${err}`);
    assert.equal(err.name, E.name);
    assert.equal(err.httpStatus, http);
    assert.ok(err.report.requests >= 1);
  }
  const failed = await settle(pc.waitForJob("u", { fetch: fakeFetch(() =>
    json({ status: "cancelled" })) })).catch((e) => e);
  assert.equal(failed.status, "cancelled");
  assert.deepEqual(failed.document, { status: "cancelled" });
});

test("abort and timeout end the wait with PollAborted / PollTimeout and send nothing more",
async (t) => {
  virtualClock(t);
  const fetch = fakeFetch(() => json({ status: "running" }));
  const err = await settle(pc.waitForJob("u", { fetch, timeout: 30 }), 250).catch((e) => e);
  assert.ok(err instanceof pc.PollTimeout, String(err));
  assert.equal(err.status, "running");
  const sent = fetch.calls.length;
  assert.equal(sent, 6);  // at 0, 3, 7, 12, 18, 25 s; the next (32 s) is past the deadline
  const ctl = new AbortController();
  ctl.abort(new Error("user left"));
  const aborted = await pc.waitForJob("u", { fetch, signal: ctl.signal }).catch((e) => e);
  assert.ok(aborted instanceof pc.PollAborted);
  assert.equal(aborted.name, "AbortError");
  assert.equal(aborted.cause.message, "user left");
  assert.equal(fetch.calls.length, sent);
});

test("watchJob: every update in order, ends after success, throws a failure after its " +
  "final update, and break stops the wait", async (t) => {
  virtualClock(t);
  const words = ["queued", "running", "running", "completed"];
  let i = 0;
  const fetch = fakeFetch(() => json({ status: words[i++] }));
  const it = pc.watchJob("u", { fetch });
  const seen = [];
  const loop = (async () => { for await (const u of it) seen.push([u.status, u.changed]); })();
  await settle(loop);
  assert.deepEqual(seen, [["queued", true], ["running", true], ["running", false],
    ["completed", true]]);

  const failing = fakeFetch(() => json({ status: "failed" }));
  const got = [];
  const err = await settle((async () => {
    for await (const u of pc.watchJob("u", { fetch: failing })) got.push(u.status);
  })()).catch((e) => e);
  assert.deepEqual(got, ["failed"]);
  assert.ok(err instanceof pc.JobFailed);

  const forever = fakeFetch(() => json({ status: "running" }));
  await settle((async () => {
    for await (const u of pc.watchJob("u", { fetch: forever })) { void u; break; }
  })());
  const before = forever.calls.length;
  mock.timers.tick(60_000);
  for (let k = 0; k < 20; k++) await tick();
  assert.equal(forever.calls.length, before);
});

test("report: requests, savings against a 1 s poller, lag from updated_at", async (t) => {
  virtualClock(t);
  const start = Date.now() / 1000;
  const words = ["a", "a", "b", "completed"];
  let i = 0;
  const fetch = fakeFetch(() => json({ status: words[i], updated_at: i++ === 2
    ? new Date(Date.now() - 1500).toISOString() : start }));
  let last;
  await settle(pc.waitForJob("u", { fetch, onUpdate: (u) => { last = u.report; } }));
  // Requests at 0, 3, 7 (b), 10 (completed): 10 s, a 1 s poller sends 11.
  assert.equal(last.requests, 4);
  assert.equal(last.elapsed, 10);
  assert.equal(last.baselineRequests, 11);
  assert.equal(last.savedRequests, 7);
  assert.equal(last.savedPercent, 63.6);
  assert.equal(last.changes, 2);
  assert.equal(last.mode, "poll");
  assert.equal(last.lag, 10);  // the last change's updated_at was the start
});

test("pollingSchedule (TanStack refetchInterval, SWR refreshInterval): the adaptive delays, " +
  "hints, ETag, reset on a change, off at the end", async () => {
  const words = ["a", "a", "a", "b", "b", "completed"];
  let i = 0;
  const fetch = fakeFetch((call) => {
    const w = words[i++];
    if (w === "a" && call.headers.get("If-None-Match") === "\"a\"") {
      return new Response(null, { status: 304, headers: { ETag: "\"a\"" } });
    }
    return json({ status: w }, { ETag: `"${w}"`, ...(w === "b" && i === 5
      ? { "Retry-After": "20" } : {}) });
  });
  const s = pollingSchedule({ fetch });
  const out = [];
  for (let k = 0; k < words.length; k++) {
    const doc = await s.fetcher("u");
    out.push([doc.status, s.interval()]);
  }
  assert.deepEqual(out, [["a", 3000], ["a", 4000], ["a", 5000], ["b", 3000], ["b", 20000],
    ["completed", false]]);
});

test("persist: a wait resumed from sessionStorage keeps its schedule, ETag and stream position",
async (t) => {
  virtualClock(t);
  const store = new Map();
  globalThis.sessionStorage = { getItem: (k) => store.get(k) ?? null,
    setItem: (k, v) => store.set(k, String(v)), removeItem: (k) => store.delete(k) };
  t.after(() => { delete globalThis.sessionStorage; });
  // Polling: two answers, then the page goes away (abort); the next wait polls when due.
  const polls = fakeFetch(() => json({ status: "running" }, { ETag: "\"r\"" }));
  const ctl = new AbortController();
  const first = pc.waitForJob("u", { fetch: polls, persist: "session", signal: ctl.signal });
  first.catch(() => {});
  for (let i = 0; i < 20; i++) await tick();
  mock.timers.tick(3000);
  for (let i = 0; i < 20; i++) await tick();
  ctl.abort();
  assert.equal(polls.calls.length, 2);
  mock.timers.tick(1000);  // the "reload": 1 s later; the next poll is due 4 s after the last
  const again = fakeFetch(() => json({ status: "completed" }));
  await settle(pc.waitForJob("u", { fetch: again, persist: "session" }), 100);
  assert.equal(again.calls[0].at - polls.calls[1].at, 4000);
  assert.equal(again.calls[0].headers.get("If-None-Match"), "\"r\"");
  assert.equal(store.size, 0, "the end of the wait forgets it");

  // A stream: the resumed wait reconnects with the last event's id.
  const stream = fakeFetch(() => sse(["id: 5\ndata: {\"status\":\"running\"}\n\n"], { hold: true }));
  const ctl2 = new AbortController();
  const w = pc.waitForJob("s", { fetch: stream, events: "s/events", persist: "session",
    signal: ctl2.signal });
  w.catch(() => {});
  for (let i = 0; i < 20; i++) await tick();
  ctl2.abort();
  const resumed = fakeFetch(() => sse(["id: 6\ndata: {\"status\":\"done\"}\n\n"]));
  await settle(pc.waitForJob("s", { fetch: resumed, events: "s/events", persist: "session" }));
  assert.equal(resumed.calls[0].headers.get("Last-Event-ID"), "5");
});

test("a hidden tab polls at the maximum; shown, it polls at once, unless a hint said later",
async (t) => {
  virtualClock(t);
  const doc = Object.assign(new EventTarget(), { visibilityState: "visible" });
  globalThis.document = doc;
  t.after(() => { delete globalThis.document; });
  const show = (state) => { doc.visibilityState = state; doc.dispatchEvent(new Event("visibilitychange")); };
  let hint = null;
  const fetch = fakeFetch(() => json({ status: "running" }, hint ? { "Retry-After": hint } : {}));
  const ctl = new AbortController();
  const w = pc.waitForJob("u", { fetch, initial: 1, step: 0, max: 5, signal: ctl.signal });
  w.catch(() => {});
  const run = async (ms) => {
    for (let k = 0; k < ms / 100; k++) { for (let i = 0; i < 10; i++) await tick(); mock.timers.tick(100); }
    for (let i = 0; i < 10; i++) await tick();
  };
  await run(2000);  // visible: every second
  const visible = fetch.calls.length;
  show("hidden");
  await run(20000);  // hidden: every 5 s
  const hidden = fetch.calls.length - visible;
  assert.ok(hidden >= 3 && hidden <= 5, `${hidden} polls in 20 s hidden`);
  await run(1000);
  const before = fetch.calls.length;
  show("visible");
  await run(0);
  assert.equal(fetch.calls.length, before + 1, "shown: a poll at once");
  hint = "30";  // the next answer asks for 30 s
  await run(1000);
  show("hidden");
  await run(500);
  const asked = fetch.calls.length;
  show("visible");
  await run(1000);
  assert.equal(fetch.calls.length, asked, "the server's Retry-After still holds");
  ctl.abort();
});
