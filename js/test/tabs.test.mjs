// shared: true with Node's BroadcastChannel and a small Web Locks (exclusive, FIFO, with
// signal): what the browser test cannot easily provoke. A leader's RequestFailed reaches the
// other tabs; a tab that aborts while leading hands over; a follower's own timeout is its own.
import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import * as pc from "../dist/index.js";

function fakeLocks() {
  const queues = new Map();
  const next = (name) => {
    const q = queues.get(name);
    if (!q || q.busy || !q.waiting.length) return;
    const { cb, resolve, reject } = q.waiting.shift();
    q.busy = true;
    Promise.resolve().then(() => cb({ name })).then(resolve, reject)
      .finally(() => { q.busy = false; next(name); });
  };
  return {
    request(name, options, cb) {
      return new Promise((resolve, reject) => {
        if (!queues.has(name)) queues.set(name, { busy: false, waiting: [] });
        const entry = { cb, resolve, reject };
        queues.get(name).waiting.push(entry);
        options.signal?.addEventListener("abort", () => {
          const q = queues.get(name);
          const i = q.waiting.indexOf(entry);
          if (i >= 0) { q.waiting.splice(i, 1); reject(options.signal.reason); }
        });
        next(name);
      });
    },
  };
}

function withLocks(t) {
  const had = Object.getOwnPropertyDescriptor(globalThis, "navigator");
  Object.defineProperty(globalThis, "navigator", { configurable: true,
    value: { locks: fakeLocks() } });
  t.after(() => { if (had) Object.defineProperty(globalThis, "navigator", had); });
}

const json = (doc, status = 200) => new Response(JSON.stringify(doc), { status });
const policy = { initial: 0.05, step: 0, max: 0.05 };

test("one tab polls for all; every tab gets the updates and the end", async (t) => {
  withLocks(t);
  let n = 0;
  const fetch = async () => json({ status: ++n < 6 ? "running" : "completed" });
  const seen = [[], [], []];
  const waits = seen.map((list, i) => pc.waitForJob(`http://x/jobs/shared-${process.pid}`,
    { ...policy, shared: true, fetch, onUpdate: (u) => list.push(u.status) }));
  const docs = await Promise.all(waits);
  assert.deepEqual(docs.map((d) => d.status), ["completed", "completed", "completed"]);
  assert.equal(n, 6, "one poller's requests");
  for (const list of seen) assert.equal(list.at(-1), "completed");
});

test("a leader's RequestFailed ends the other tabs' waits too", async (t) => {
  withLocks(t);
  let n = 0;
  const fetch = async () => (++n < 3 ? json({ status: "running" }) : json({}, 401));
  const waits = [0, 1].map(() => pc.waitForJob(`http://x/jobs/denied-${process.pid}`,
    { ...policy, shared: true, fetch }).catch((e) => e));
  const errors = await Promise.all(waits);
  for (const e of errors) {
    assert.ok(e instanceof pc.RequestFailed, String(e));
    assert.equal(e.httpStatus, 401);
  }
  assert.equal(n, 3);
});

test("a leader that aborts hands over; the next leader carries on; a follower's timeout is " +
  "its own", async (t) => {
  withLocks(t);
  const url = `http://x/jobs/handover-${process.pid}`;
  let n = 0;
  let done = false;
  const fetch = async (_u, init) => {
    n += 1;
    return json({ status: done ? "completed" : "running" }, 200, init);
  };
  const ctl = new AbortController();
  const first = pc.waitForJob(url, { ...policy, shared: true, fetch, signal: ctl.signal })
    .catch((e) => e);
  const second = pc.waitForJob(url, { ...policy, shared: true, fetch });
  const impatient = pc.waitForJob(url, { ...policy, shared: true, fetch, timeout: 0.2 })
    .catch((e) => e);
  await sleep(120);
  const before = n;
  ctl.abort();
  assert.ok((await first) instanceof pc.PollAborted);
  await sleep(150);
  assert.ok(n > before, "another tab polls after the leader left");
  const late = await impatient;
  assert.ok(late instanceof pc.PollTimeout && late.status === "running", String(late));
  done = true;
  assert.equal((await second).status, "completed");
});
