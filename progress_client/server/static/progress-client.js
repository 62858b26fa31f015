// progress-client.js: wait on a long-running HTTP job from a browser with as few requests as
// possible. One ES module, no dependencies, no build step; the reference status server serves
// it at /static/progress-client.js.
//
//   import { waitForJob } from "https://api.example.com/static/progress-client.js";
//   const doc = await waitForJob("https://api.example.com/jobs/42", {
//     events: "https://api.example.com/jobs/42/events",    // optional: Server-Sent Events first
//     onUpdate: (doc, info) => render(doc),                  // every status document
//     signal: controller.signal,                             // stops timers, fetch, EventSource
//   });
//
// The rules are the Python client's (README, "The rules"), kept in step by one set of test
// vectors (tests/vectors/schedule.json) that both test suites run:
// - the first request goes at once; after a change or the first response the next waits
//   `initial`; after the n-th unchanged response in a row, min(initial + step * n, max);
//   a 304, a transient error (408 425 429 500 502 503 504, a network error) and an unchanged
//   status all count as unchanged (defaults 3 / 1 / 8 s);
// - Retry-After (ASCII delta-seconds or an HTTP-date; anything else is ignored) is a floor on
//   the next delay, capped at `hintCap` (300 s);
// - with `wait: N` each poll asks `Prefer: wait=N` (long-polling); while the server answers
//   `Preference-Applied: wait=...` the next poll goes at once (a Retry-After is still a
//   floor); the first answer without it ends long-polling for the wait: the schedule rules
//   again;
// - If-None-Match with the last ETag on every poll after the first;
// - with `events`, an EventSource first; polling takes over (at once) when it fails before
//   any event, when the browser gives it up, or after 3 connections in a row with no event;
// - the wait ends on a terminal status (words below, case-insensitive): it resolves with the
//   final document on success and rejects with JobFailed on failure; other endings reject
//   with RequestFailed (a fatal HTTP status), BadResponse, TooManyErrors (10 transient errors
//   in a row) or PollAborted (name "AbortError": the signal fired).

export const SUCCESS = Object.freeze(
  ["completed", "complete", "succeeded", "success", "done", "finished"]);
export const FAILURE = Object.freeze([
  "failed", "failure", "error", "errored", "cancelled", "canceled", "expired", "aborted",
  "timed_out", "timedout", "killed", "revoked", "stopped", "internal_error", "startup_failure",
]);
export const TRANSIENT_STATUS = Object.freeze([408, 425, 429, 500, 502, 503, 504]);
export const DEFAULTS = Object.freeze({
  initial: 3, step: 1, max: 8, hintCap: 300, maxErrors: 10, streamFailures: 3,
  maxBody: 1 << 20, statusField: "status",
});

export class PollError extends Error {
  constructor(message, { status = null, document = null, httpStatus = null, requests = 0,
    cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    this.status = status;          // the last status word seen, or null
    this.document = document;      // the last status document seen, or null
    this.httpStatus = httpStatus;  // the HTTP status that ended the wait, if one did
    this.requests = requests;      // requests sent, stream connections included
  }
}
export class JobFailed extends PollError {}
export class RequestFailed extends PollError {}
export class BadResponse extends PollError {}
export class TooManyErrors extends PollError {}
export class PollAborted extends PollError {
  constructor(message, details) { super(message, details); this.name = "AbortError"; }
}

// -- the schedule (pure: no timers, no clock) ---------------------------------------------

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
  "dec"];
const MON = "(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)";
const TIME = "(\\d{2}):(\\d{2}):(\\d{2})";
const DAY = "(?:mon|tue|wed|thu|fri|sat|sun)";
const WEEKDAY = "(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)";
const whole = (pattern) => new RegExp(`^${pattern}$`, "i");
const IMF_FIXDATE = whole(`${DAY}, (\\d{2}) ${MON} (\\d{4}) ${TIME} GMT`);
const RFC850 = whole(`${WEEKDAY}, (\\d{2})-${MON}-(\\d{2}) ${TIME} GMT`);
const ASCTIME = whole(`${DAY} ${MON} ([ \\d]\\d) ${TIME} (\\d{4})`);

function utc(year, month, day, h, m, s) {
  const [y, mo, d, hh, mm, ss] = [year, month, day, h, m, s].map(Number);
  if (hh > 23 || mm > 59 || ss > 59) return null;
  const ms = Date.UTC(y, mo, d, hh, mm, ss);
  const check = new Date(ms);
  return check.getUTCDate() === d && check.getUTCMonth() === mo ? ms : null;
}

/** Milliseconds since the epoch of an HTTP-date (RFC 9110's three forms), or null. */
export function parseHttpDate(text) {
  let m = IMF_FIXDATE.exec(text);
  if (m) return utc(m[3], MONTHS.indexOf(m[2].toLowerCase()), m[1], m[4], m[5], m[6]);
  m = RFC850.exec(text);
  if (m) {
    const yy = Number(m[3]);
    return utc(yy > 68 ? 1900 + yy : 2000 + yy, MONTHS.indexOf(m[2].toLowerCase()), m[1],
      m[4], m[5], m[6]);
  }
  m = ASCTIME.exec(text);
  if (m) return utc(m[6], MONTHS.indexOf(m[1].toLowerCase()), m[2].trim(), m[3], m[4], m[5]);
  return null;
}

/** Seconds to wait according to a Retry-After value (at `nowMs`), or null if unusable:
 * ASCII digits or an HTTP-date in the future; "-1", "+1", "1.0", other digits are garbage. */
export function parseRetryAfter(value, nowMs) {
  if (value === null || value === undefined) return null;
  const text = String(value).trim();
  if (!text || text.length > 256) return null;
  if (/^[0-9]+$/.test(text)) return Number(text.slice(0, 12));
  const when = parseHttpDate(text);
  if (when === null) return null;
  const delta = (when - nowMs) / 1000;
  return Number.isFinite(delta) && delta > 0 ? delta : null;
}

/** The adaptive policy: the delay after `unchanged` unchanged responses in a row. */
export function policyDelay(unchanged, { initial = 3, step = 1, max = 8 } = {}) {
  return Math.min(initial + step * Math.max(0, unchanged), max);
}

/** Whether a status code is a transient error (0 stands for a network error). */
export function isTransient(httpStatus) {
  return httpStatus === 0 || TRANSIENT_STATUS.includes(httpStatus);
}

/** The schedule's state before the first request; `wait`: long-poll seconds (0: none). */
export function initialState(wait = 0) {
  return { unchanged: 0, key: null, longPoll: wait > 0 };
}

/**
 * One step of the schedule, pure. `state` is `{unchanged, key, longPoll}` (start:
 * `initialState(wait)`; `longPoll` says whether the next poll asks `Prefer: wait`);
 * `response` is `{status, key, retryAfter, preferenceApplied}`: `status` the HTTP status
 * (0: a network error), `key` the change key of a 2xx body. `options` holds the policy
 * (`initial`, `step`, `max`), `hintCap` and `nowMs` (for an HTTP-date hint). Returns
 * `{state, delay, changed, hinted}`, the delay in seconds before the next request.
 */
export function nextDelay(state, response, options = {}) {
  const o = { ...DEFAULTS, ...options };
  let { unchanged, key, longPoll = false } = state;
  let changed = false;
  const transient = isTransient(response.status);
  if (transient || response.status === 304) {
    unchanged += 1;
  } else {
    changed = key === null || response.key !== key;
    unchanged = changed ? 0 : unchanged + 1;
    key = response.key;
  }
  let delay = policyDelay(unchanged, o);
  let hinted = false;
  const hint = parseRetryAfter(response.retryAfter, o.nowMs ?? Date.now());
  if (hint !== null && Math.min(hint, o.hintCap) > delay) {
    delay = Math.min(hint, o.hintCap);
    hinted = true;
  }
  if (longPoll && !transient) {
    // The server held the poll: ask again at once, a hint still a floor (as the Python
    // client does). A server that did not hold it does not hold polls: the schedule rules
    // from now on.
    if (!response.preferenceApplied) longPoll = false;
    else {
      delay = hint !== null ? Math.min(hint, o.hintCap) : 0;
      hinted = delay > 0;
    }
  }
  return { state: { unchanged, key, longPoll }, delay, changed, hinted };
}

// -- reading a status document ------------------------------------------------------------

function getPath(doc, path) {
  let cur = doc;
  for (const part of path.split(".")) {
    if (cur !== null && typeof cur === "object" && Object.hasOwn(cur, part)) cur = cur[part];
    else return undefined;
  }
  return cur;
}

/** `{status, key, outcome}` of a decoded document, or a string saying what is wrong. */
export function readStatus(doc, { statusField = "status", changeOn = null,
  success = SUCCESS, failure = FAILURE } = {}) {
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    return "expected a JSON object with a status field";
  }
  const raw = getPath(doc, statusField);
  if (raw === undefined || raw === null) return `the response has no '${statusField}' field`;
  if (typeof raw !== "string" && !(typeof raw === "number" && Number.isFinite(raw))) {
    return `the '${statusField}' field is not a string`;
  }
  const status = String(raw);
  const word = status.toLowerCase();
  const fields = changeOn && changeOn.length ? changeOn : [statusField];
  const parts = fields.map((f) => getPath(doc, f) ?? null);
  const key = parts.length === 1 && typeof parts[0] === "string"
    ? `s:${parts[0].toLowerCase()}` : JSON.stringify(parts);
  const has = (words) => words.some((w) => String(w).toLowerCase() === word);
  const outcome = has(success) ? "succeeded" : has(failure) ? "failed" : null;
  return { status, key, outcome };
}

// -- the driver ---------------------------------------------------------------------------

/**
 * Wait on the job at `url` until it reaches a terminal status. Options: `events` (an SSE
 * URL), `onUpdate(doc, info)`, `onRequest(info)`, `signal`, `initial`, `step`, `max`,
 * `hintCap`, `wait` (long-poll seconds), `statusField`, `changeOn`, `success` / `failure`
 * (words added to the defaults), `maxErrors`, `streamFailures`, `headers`, `credentials`
 * (fetch's; "include" also sets EventSource's withCredentials), `fetch`.
 */
export function waitForJob(url, options = {}) {
  return new Promise((resolve, reject) => new Waiter(url, options, resolve, reject).start());
}

class Waiter {
  constructor(url, options, resolve, reject) {
    this.url = url;
    this.o = { ...DEFAULTS, ...options };
    this.words = {
      statusField: this.o.statusField, changeOn: this.o.changeOn,
      success: [...SUCCESS, ...(options.success ?? [])],
      failure: [...FAILURE, ...(options.failure ?? [])],
    };
    this.resolve = resolve;
    this.reject = reject;
    this.schedule = initialState(this.o.wait);
    this.requests = 0;
    this.errors = 0;
    this.etag = null;
    this.noStore = false;     // the server's answers say Cache-Control: no-store
    this.last = null;         // {doc, status}
    this.mode = "poll";
    this.done = false;
    this.timer = null;
    this.source = null;
    this.inflight = null;     // AbortController of the fetch in flight
    this.onAbort = () => this.fail(PollAborted, "the wait was aborted", {
      cause: this.o.signal.reason });
  }

  start() {
    const { signal } = this.o;
    if (signal) {
      if (signal.aborted) return this.onAbort();
      signal.addEventListener("abort", this.onAbort, { once: true });
    }
    if (this.o.events && typeof EventSource === "function") this.stream();
    else this.poll();
  }

  details(extra = {}) {
    return { status: this.last?.status ?? null, document: this.last?.doc ?? null,
      requests: this.requests, ...extra };
  }

  stop() {
    this.done = true;
    clearTimeout(this.timer);
    this.source?.close();
    this.inflight?.abort();
    this.o.signal?.removeEventListener("abort", this.onAbort);
  }

  fail(ErrorClass, message, extra) {
    if (this.done) return;
    this.stop();
    this.reject(new ErrorClass(message, this.details(extra)));
  }

  // A status document, from a poll or an event: tell the caller; end on a terminal status.
  observe(doc, reading, info) {
    this.last = { doc, status: reading.status };
    this.o.onUpdate?.(doc, { mode: this.mode, ...info, status: reading.status,
      terminal: !!reading.outcome, requests: this.requests });
    if (reading.outcome === "succeeded") {
      this.stop();
      this.resolve(doc);
    } else if (reading.outcome === "failed") {
      this.fail(JobFailed, `the job ended with status '${reading.status}'`);
    }
    return !this.done;
  }

  async poll() {
    if (this.done) return;
    const headers = new Headers(this.o.headers ?? {});
    if (this.etag !== null && this.last !== null) headers.set("If-None-Match", this.etag);
    if (this.schedule.longPoll) headers.set("Prefer", `wait=${Math.round(this.o.wait)}`);
    this.requests += 1;
    const sentAt = performance.now();
    const ctl = this.inflight = new AbortController();
    let response = null;
    let text = "";
    try {
      // Chromium skips its CORS preflight cache for a request whose cache mode is no-store,
      // which a request carrying its own If-None-Match gets by default: a poller on another
      // origin would pay a preflight per poll. While the server says "no-store", the HTTP
      // cache holds nothing for this URL, so "force-cache" cannot answer from it (every poll
      // reaches the server) and the preflight is remembered for its Max-Age.
      response = await (this.o.fetch ?? fetch)(this.url, {
        headers, cache: this.noStore ? "force-cache" : "no-store",
        credentials: this.o.credentials ?? "same-origin", signal: ctl.signal });
      if (response.ok || response.status === 304) {
        const control = response.headers.get("Cache-Control") ?? "";
        this.noStore = /(^|,)\s*no-store\s*(,|$)/i.test(control);
      }
      if (response.ok) text = await response.text();
    } catch (error) {
      if (this.done) return;
      response = null;
    } finally {
      if (this.inflight === ctl) this.inflight = null;
    }
    if (this.done) return;
    const code = response ? response.status : 0;
    this.o.onRequest?.({ kind: "poll", sentAt, receivedAt: performance.now(), status: code,
      requests: this.requests });
    this.receive(response, code, text);
  }

  receive(response, code, text) {
    const applied = /(^|,)\s*wait\b/i.test(response?.headers.get("Preference-Applied") ?? "");
    const held = this.schedule.longPoll && applied;  // the server held this poll
    const step = (key) => nextDelay(this.schedule, {
      status: code, key, retryAfter: response?.headers.get("Retry-After") ?? null,
      preferenceApplied: applied }, { ...this.o, nowMs: Date.now() });
    if (isTransient(code)) {
      this.errors += 1;
      if (this.errors >= this.o.maxErrors) {
        return this.fail(TooManyErrors, `gave up after ${this.errors} failed requests in a row`
          + ` (last: ${code ? `HTTP ${code}` : "network error"})`, { httpStatus: code || null });
      }
      return this.later(step(null));
    }
    if (code === 304) {
      if (this.last === null) {
        return this.fail(BadResponse, "the server answered 304 Not Modified to a request that"
          + " was not conditional", { httpStatus: 304 });
      }
      this.errors = 0;
      return this.next(step(null), this.last.doc, this.read(this.last.doc), true, held);
    }
    if (code < 200 || code > 299) {
      const what = code === 404 || code === 410 ? ": the job is unknown or its record expired"
        : code === 401 || code === 403 ? ": not authorized" : "";
      return this.fail(RequestFailed, `HTTP ${code}${what}`, { httpStatus: code });
    }
    if (text.length > this.o.maxBody) {
      return this.fail(BadResponse, "the response body is larger than the limit",
        { httpStatus: code });
    }
    let doc;
    try { doc = JSON.parse(text); } catch {
      return this.fail(BadResponse, `the response is not JSON (HTTP ${code})`,
        { httpStatus: code });
    }
    const reading = this.read(doc);
    if (typeof reading === "string") return this.fail(BadResponse, reading, { httpStatus: code });
    this.errors = 0;
    const etag = response.headers.get("ETag");
    if (etag) this.etag = etag;
    return this.next(step(reading.key), doc, reading, false, held);
  }

  read(doc) { return readStatus(doc, this.words); }

  next(step, doc, reading, notModified, held) {
    this.schedule = step.state;
    const info = { changed: step.changed, notModified, nextDelay: reading.outcome ? null
      : step.delay, mode: held ? "long-poll" : this.mode };
    if (this.observe(doc, reading, info)) this.later(step);
  }

  later(step) {
    this.schedule = step.state;
    if (!this.done) this.timer = setTimeout(() => this.poll(), step.delay * 1000);
  }

  stream() {
    this.mode = "sse";
    const source = this.source = new EventSource(this.o.events,
      { withCredentials: this.o.credentials === "include" });
    let seenAny = false;
    let eventsThisConnection = 0;
    let failures = 0;
    const connect = () => {
      this.requests += 1;
      this.o.onRequest?.({ kind: "stream", sentAt: performance.now(), status: null,
        requests: this.requests });
    };
    connect();
    source.onmessage = (event) => {
      let doc;
      try { doc = JSON.parse(event.data); } catch { return; }  // not a status: skip it
      const reading = this.read(doc);
      if (typeof reading === "string") return;
      seenAny = true;
      eventsThisConnection += 1;
      failures = 0;
      const changed = this.schedule.key === null || reading.key !== this.schedule.key;
      this.schedule = { ...this.schedule, unchanged: changed ? 0 : this.schedule.unchanged + 1,
        key: reading.key };
      this.observe(doc, reading, { changed, notModified: false, nextDelay: null });
    };
    source.onerror = () => {
      if (this.done || this.source !== source) return;
      failures = eventsThisConnection ? 0 : failures + 1;
      eventsThisConnection = 0;
      if (!seenAny || source.readyState === EventSource.CLOSED
          || failures >= this.o.streamFailures) {
        this.fallBack();
      } else {
        connect();  // the browser reconnects by itself, with Last-Event-ID
      }
    };
  }

  // Leave the stream for polling, at once: the stream may have missed a change.
  fallBack() {
    this.source?.close();
    this.source = null;
    this.mode = "poll";
    this.poll();
  }
}
