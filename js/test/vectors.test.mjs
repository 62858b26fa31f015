// The shared schedule vectors (tests/vectors/schedule.json), which the Python client also
// runs: through the pure nextDelay, and through waitForJob itself on a virtual clock (Node's
// mock timers) with a fake fetch, the delays measured between the requests it sends.
import { test, mock } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { setImmediate as tick } from "node:timers/promises";
import { HINT_HEADERS, initialState, nextDelay, readHint, waitForJob } from "../dist/index.js";

const VECTORS = JSON.parse(readFileSync(new URL("../../tests/vectors/schedule.json",
  import.meta.url), "utf8"));

function respond(r, n) {
  // The body of response n of a case: "changed" gives a new status, "unchanged" the last.
  const headers = new Headers({ ETag: `"${n}"` });
  if (r.retry_after !== undefined) headers.set("Retry-After", r.retry_after);
  if (r.preference_applied) headers.set("Preference-Applied", "wait=5");
  if (r.kind === "network") return null;
  if (r.kind === "error") return new Response("{}", { status: r.status, headers });
  if (r.kind === "not_modified") return new Response(null, { status: 304, headers });
  return new Response(JSON.stringify({ status: r.status }), { status: 200, headers });
}

function statuses(c) {
  let n = 0;
  return c.responses.map((r) => {
    if (r.kind === "changed") n += 1;
    return { ...r, status: r.kind === "error" ? r.status : `s${n}` };
  });
}

for (const c of VECTORS.cases) {
  test(`pure: ${c.name}`, () => {
    let state = initialState(c.long_poll ?? 0);
    let now = VECTORS.wall_start * 1000;
    const got = [];
    for (const r of statuses(c)) {
      const status = r.kind === "network" ? 0 : r.kind === "error" ? r.status
        : r.kind === "not_modified" ? 304 : 200;
      const hint = readHint((n) => (n === "retry-after" ? r.retry_after ?? null : null),
        HINT_HEADERS, now);
      const s = nextDelay(state, { status, key: status === 200 ? r.status : null, hint,
        preferenceApplied: !!r.preference_applied }, c.policy);
      state = s.state;
      got.push(s.delay);
      now += s.delay * 1000;
    }
    assert.deepEqual(got.map((d) => Math.round(d * 1e9) / 1e9), c.delays);
  });

  test(`waitForJob on a virtual clock: ${c.name}`, async () => {
    mock.timers.enable({ apis: ["setTimeout", "Date"], now: VECTORS.wall_start * 1000 });
    try {
      const responses = [...statuses(c), { kind: "changed", status: "completed" }];
      const sentAt = [];
      const fake = async () => {
        const n = sentAt.length;
        sentAt.push(Date.now());
        const r = respond(responses[n], n);
        if (r === null) throw new TypeError("network error");
        return r;
      };
      let done = false;
      const wait = waitForJob("http://jobs.test/1", { ...c.policy, wait: c.long_poll ?? 0,
        fetch: fake, maxErrors: 100 }).finally(() => { done = true; });
      while (!done) {
        for (let i = 0; i < 20; i++) await tick();
        mock.timers.runAll();
      }
      assert.equal((await wait).status, "completed");
      const gaps = sentAt.slice(1).map((t, i) => (t - sentAt[i]) / 1000);
      assert.deepEqual(gaps.map((d) => Math.round(d * 1e6) / 1e6), c.delays);
    } finally {
      mock.timers.reset();
    }
  });
}
