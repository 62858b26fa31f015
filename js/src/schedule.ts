// The rules, pure: no timers, no clock, no I/O. The same rules as the Python client's engine
// (progress_client/core/engine.py, _hints.py), held in step by tests/vectors/schedule.json, which
// both test suites run.

export const SUCCESS: readonly string[] = ["completed", "complete", "succeeded", "success",
  "done", "finished"];
export const FAILURE: readonly string[] = ["failed", "failure", "error", "errored", "cancelled",
  "canceled", "expired", "aborted", "timed_out", "timedout", "killed", "revoked", "stopped",
  "internal_error", "startup_failure"];
export const TRANSIENT_STATUS: readonly number[] = [408, 425, 429, 500, 502, 503, 504];
/** The hint headers read when a profile names none, most precise first (as in Python). */
export const HINT_HEADERS: readonly string[] = ["retry-after-ms", "x-ms-retry-after-ms",
  "openai-poll-after-ms", "retry-after", "x-poll-interval"];

/** The adaptive policy, in seconds. */
export interface Policy { initial: number; step: number; max: number }
export const POLICY: Readonly<Policy> = { initial: 3, step: 1, max: 8 };

const MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split(" ");
const MON = `(${MONTHS.join("|")})`;
const TIME = "(\\d\\d):(\\d\\d):(\\d\\d)";
const whole = (p: string) => new RegExp(`^${p}$`, "i");
const IMF = whole(`(?:mon|tue|wed|thu|fri|sat|sun), (\\d\\d) ${MON} (\\d{4}) ${TIME} GMT`);
const RFC850 = whole(
  `(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday), (\\d\\d)-${MON}-(\\d\\d) ${TIME} GMT`);
const ASCTIME = whole(`(?:mon|tue|wed|thu|fri|sat|sun) ${MON} ([ \\d]\\d) ${TIME} (\\d{4})`);

function utc(y: number, mon: string, d: number, hh: number, mm: number, ss: number) {
  const mo = MONTHS.indexOf(mon.toLowerCase());
  if (hh > 23 || mm > 59 || ss > 59) return null;
  const ms = Date.UTC(y, mo, d, hh, mm, ss);
  const check = new Date(ms);
  return check.getUTCDate() === d && check.getUTCMonth() === mo ? ms : null;
}

/** Milliseconds since the epoch of an HTTP-date (RFC 9110's three forms), or null. */
export function parseHttpDate(text: string): number | null {
  let m = IMF.exec(text);
  if (m) return utc(+m[3], m[2], +m[1], +m[4], +m[5], +m[6]);
  if ((m = RFC850.exec(text))) {
    const yy = +m[3];
    return utc(yy > 68 ? 1900 + yy : 2000 + yy, m[2], +m[1], +m[4], +m[5], +m[6]);
  }
  if ((m = ASCTIME.exec(text))) return utc(+m[6], m[1], +m[2].trim(), +m[3], +m[4], +m[5]);
  return null;
}

const DIGITS = /^[0-9]+$/;

/** Seconds to wait according to a Retry-After value at `nowMs`, or null when unusable: ASCII
 * digits, or an HTTP-date in the future; "-1", "+1", "1.0" and the like are garbage. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | null {
  if (value == null) return null;
  const text = String(value).trim();
  if (!text || text.length > 256) return null;
  if (DIGITS.test(text)) return Number(text.slice(0, 12));
  const when = parseHttpDate(text);
  if (when === null) return null;
  const delta = (when - nowMs) / 1000;
  return delta > 0 ? delta : null;
}

/** Seconds from a millisecond hint ("1500", "1500.5"), or null. */
export function parseMilliseconds(value: string | null | undefined): number | null {
  if (value == null) return null;
  const text = value.trim();
  return text.length <= 24 && /^[0-9]+(\.[0-9]+)?$/.test(text) ? Number(text) / 1000 : null;
}

/** The first usable hint among the header `names` (lower case), in seconds, or null. */
export function readHint(get: (name: string) => string | null | undefined,
  names: readonly string[], nowMs: number): number | null {
  for (const name of names) {
    const value = get(name);
    if (value == null) continue;
    const s = name.endsWith("-ms") ? parseMilliseconds(value)
      : name === "retry-after" ? parseRetryAfter(value, nowMs)
      : DIGITS.test(value.trim()) ? Number(value.trim().slice(0, 12)) : null;
    if (s !== null) return s;
  }
  return null;
}

/** The delay after `unchanged` unchanged responses in a row. */
export function policyDelay(unchanged: number, p: Policy = POLICY): number {
  return Math.min(p.initial + p.step * Math.max(0, unchanged), p.max);
}

/** Whether an HTTP status is a transient error (0 stands for a network error). */
export function isTransient(httpStatus: number): boolean {
  return httpStatus === 0 || TRANSIENT_STATUS.includes(httpStatus);
}

/** Where the schedule stands: unchanged responses in a row, the last change key, whether the
 * next poll asks `Prefer: wait`. Plain data: it is saved, broadcast and resumed. */
export interface ScheduleState { unchanged: number; key: string | null; longPoll: boolean }

export function initialState(wait = 0): ScheduleState {
  return { unchanged: 0, key: null, longPoll: wait > 0 };
}

/** What came back: HTTP status (0: network error), the body's change key, the hint in
 * seconds (already read from the headers) and whether the server held the poll. */
export interface Observed {
  status: number; key?: string | null; hint?: number | null; preferenceApplied?: boolean;
}

export interface Step { state: ScheduleState; delay: number; changed: boolean; hinted: boolean }

/** One step of the schedule: the state after `response` and the delay (seconds) before the
 * next request. A 304, a transient error and an unchanged status all count as unchanged;
 * a hint is a floor capped at `hintCap`; a held long poll asks again at once. */
export function nextDelay(state: ScheduleState, response: Observed,
  policy: Policy = POLICY, hintCap = 300): Step {
  let { unchanged, key, longPoll } = state;
  let changed = false;
  const transient = isTransient(response.status);
  if (transient || response.status === 304) unchanged += 1;
  else {
    changed = key === null || response.key !== key;
    unchanged = changed ? 0 : unchanged + 1;
    key = response.key ?? null;
  }
  let delay = policyDelay(unchanged, policy);
  const hint = response.hint == null ? null : Math.min(response.hint, hintCap);
  let hinted = hint !== null && hint > delay;
  if (hinted) delay = hint!;
  if (longPoll && !transient) {
    // A server that held this poll is asked again at once (a hint still a floor); one that
    // did not does not hold polls: the schedule rules from now on.
    if (!response.preferenceApplied) longPoll = false;
    else {
      delay = hint ?? 0;
      hinted = delay > 0;
    }
  }
  return { state: { unchanged, key, longPoll }, delay, changed, hinted };
}

// -- reading a status document ------------------------------------------------------------

/** The value at a dotted path (`a.b.0.c`; `a[0]` and JMESPath's `x || y` also read). */
export function getPath(doc: unknown, path: string): unknown {
  if (path.includes("||")) {
    let v: unknown;
    for (const alt of path.split("||")) if ((v = getPath(doc, alt.trim())) != null && v !== "") return v;
    return v;
  }
  let cur: any = doc;
  for (const part of path.replace(/\[(\d+)\]/g, ".$1").split(".")) {
    if (cur !== null && typeof cur === "object" && Object.hasOwn(cur, part)) cur = cur[part];
    else return undefined;
  }
  return cur;
}

/** How a document is read: where the status is, what decides the outcome. */
export interface Words {
  statusField?: string;
  changeOn?: readonly string[] | null;
  success?: readonly string[];
  failure?: readonly string[];
  /** Decides the outcome first (profiles' rules): "succeeded", "failed" or null (go on). */
  decide?: (doc: any, status: string) => "succeeded" | "failed" | null;
}

export interface Reading { status: string; key: string; outcome: "succeeded" | "failed" | null }

/** The status, change key and outcome of a decoded document, or a string saying what is
 * wrong with it. */
export function readStatus(doc: unknown, w: Words = {}): Reading | string {
  const field = w.statusField ?? "status";
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    return "expected a JSON object with a status field";
  }
  const raw = getPath(doc, field);
  if (raw == null) return `the response has no '${field}' field`;
  if (typeof raw !== "string" && !(typeof raw === "number" && Number.isFinite(raw))) {
    return `the '${field}' field is not a string`;
  }
  const status = String(raw);
  const word = status.toLowerCase();
  const parts = (w.changeOn?.length ? w.changeOn : [field]).map((f) => getPath(doc, f) ?? null);
  const key = parts.length === 1 && typeof parts[0] === "string"
    ? `s:${parts[0].toLowerCase()}` : JSON.stringify(parts);
  const has = (words: readonly string[]) => words.some((x) => String(x).toLowerCase() === word);
  const outcome = w.decide?.(doc, status)
    ?? (has(w.success ?? SUCCESS) ? "succeeded" : has(w.failure ?? FAILURE) ? "failed" : null);
  return { status, key, outcome };
}
