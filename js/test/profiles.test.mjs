// The shared vendor cases (tests/vectors/profiles.json), which the Python client also runs,
// read through profile() on the exported profile data; and a wait that uses a profile's words
// and hint headers.
import { test, mock } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { setImmediate as tick } from "node:timers/promises";
import { readStatus, waitForJob, JobFailed } from "../dist/index.js";
import { profile } from "../dist/profiles.js";

const read = (p) => JSON.parse(readFileSync(new URL(p, import.meta.url), "utf8"));
const PROFILES = read("../profiles/profiles.json");
const { cases } = read("../../tests/vectors/profiles.json");

for (const c of cases) {
  test(`${c.profile}: ${JSON.stringify(c.document)}`, () => {
    const { options } = profile(PROFILES[c.profile]);
    const r = readStatus(c.document, options);
    assert.equal(typeof r, "object", String(r));
    assert.deepEqual([r.status, r.outcome], [c.status, c.outcome]);
  });
}

test("profiles that need more than field paths are refused with a clear error", () => {
  assert.throws(() => profile(PROFILES["kubernetes-job"]), /only 'status' and 'path'/);
  assert.throws(() => profile(PROFILES["google-operation"]), /needs JMESPath/);
  // Two hops, POST polls and needs-a-person are the Python client's alone: refused, by name.
  assert.throws(() => profile(PROFILES["jenkins-build"]), /'follow' runs only in the Python/);
  assert.throws(() => profile(PROFILES["dagster-run"]), /'poll' runs only in the Python/);
  assert.throws(() => profile(PROFILES["gitlab-pipeline"]), /'needs_action' runs only/);
});

test("a profile's request headers go with every request", async () => {
  const seen = [];
  const fetch = async (_url, init) => {
    seen.push(new Headers(init.headers).get("openai-beta"));
    return new Response(JSON.stringify({ status: "completed", file_counts: { completed: 1 } }));
  };
  await waitForJob("u", { fetch, profile: profile(PROFILES["openai-vector-store-batch"]) });
  assert.deepEqual(seen, ["assistants=v2"]);
});

test("a wait with a profile: its words decide, its hint headers only", async (t) => {
  mock.timers.enable({ apis: ["setTimeout", "Date"], now: 0 });
  t.after(() => mock.timers.reset());
  const docs = [{ status: "in_progress" }, { status: "completed", conclusion: "failure" }];
  const at = [];
  const fetch = async () => {
    at.push(Date.now());
    // GitHub's profile honours retry-after and x-poll-interval, not openai-poll-after-ms.
    return new Response(JSON.stringify(docs[at.length - 1]), { headers: {
      "x-poll-interval": "30", "openai-poll-after-ms": "60000" } });
  };
  let done = false;
  const p = waitForJob("u", { fetch, profile: profile(PROFILES["github-actions"]) })
    .finally(() => { done = true; });
  p.catch(() => {});
  while (!done) {
    for (let i = 0; i < 20; i++) await tick();
    mock.timers.runAll();
  }
  const err = await p.catch((e) => e);
  assert.ok(err instanceof JobFailed);
  assert.deepEqual(at, [0, 30000]);
});
