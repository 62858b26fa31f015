// progress-client (the npm package), built from js/src by esbuild: do not edit.

// src/errors.ts
var PollError = class extends Error {
  status;
  document;
  httpStatus;
  report;
  constructor(message, d = {}) {
    super(message, d.cause === void 0 ? void 0 : { cause: d.cause });
    this.name = new.target.name;
    this.status = d.status ?? null;
    this.document = d.document ?? null;
    this.httpStatus = d.httpStatus ?? null;
    this.report = d.report ?? null;
  }
};
var JobFailed = class extends PollError {
};
var RequestFailed = class extends PollError {
};
var BadResponse = class extends PollError {
};
var TooManyErrors = class extends PollError {
};
var PollTimeout = class extends PollError {
};
var PollAborted = class extends PollError {
  constructor(message, d) {
    super(message, d);
    this.name = "AbortError";
  }
};

// src/control.ts
var persistence = {
  key: (url) => `progress-client:${url}`,
  load(url) {
    try {
      return JSON.parse(sessionStorage.getItem(this.key(url)) ?? "null");
    } catch {
      return null;
    }
  },
  save(url, snap) {
    try {
      if (snap) sessionStorage.setItem(this.key(url), JSON.stringify(snap));
      else sessionStorage.removeItem(this.key(url));
    } catch {
    }
  }
};
function control(o, details) {
  const ctl = new AbortController();
  const abort = () => ctl.abort(new PollAborted(
    "the wait was aborted",
    { ...details(), cause: o.signal?.reason }
  ));
  if (o.signal?.aborted) abort();
  o.signal?.addEventListener("abort", abort, { once: true });
  const t = o.timeout != null ? setTimeout(() => ctl.abort(new PollTimeout(
    `no final status within ${o.timeout} s`,
    details()
  )), o.timeout * 1e3) : void 0;
  const release = () => {
    clearTimeout(t);
    o.signal?.removeEventListener("abort", abort);
  };
  return { signal: ctl.signal, release, abort: (r) => ctl.abort(r) };
}

// src/report.ts
var zeroCounts = () => ({
  requests: 0,
  changes: 0,
  errors: 0,
  hintWaits: 0,
  notModified: 0,
  bytesReceived: 0
});
function makeReport(c, elapsed, baselineInterval, mode, lag) {
  const baselineRequests = c.requests === 0 ? 0 : baselineInterval <= 0 ? c.requests : Math.floor(elapsed / baselineInterval + 1e-9) + 1;
  const savedRequests = Math.max(0, baselineRequests - c.requests);
  const savedPercent = baselineRequests ? Math.round(1e3 * savedRequests / baselineRequests) / 10 : 0;
  return {
    ...c,
    elapsed: Math.round(elapsed * 1e3) / 1e3,
    baselineInterval,
    baselineRequests,
    savedRequests,
    savedPercent,
    mode,
    lag
  };
}

// src/schedule.ts
var SUCCESS = [
  "completed",
  "complete",
  "succeeded",
  "success",
  "done",
  "finished"
];
var FAILURE = [
  "failed",
  "failure",
  "error",
  "errored",
  "cancelled",
  "canceled",
  "expired",
  "aborted",
  "timed_out",
  "timedout",
  "killed",
  "revoked",
  "stopped",
  "internal_error",
  "startup_failure"
];
var TRANSIENT_STATUS = [408, 425, 429, 500, 502, 503, 504];
var HINT_HEADERS = [
  "retry-after-ms",
  "x-ms-retry-after-ms",
  "openai-poll-after-ms",
  "retry-after",
  "x-poll-interval"
];
var POLICY = { initial: 3, step: 1, max: 8 };
var MONTHS = "jan feb mar apr may jun jul aug sep oct nov dec".split(" ");
var MON = `(${MONTHS.join("|")})`;
var TIME = "(\\d\\d):(\\d\\d):(\\d\\d)";
var whole = (p) => new RegExp(`^${p}$`, "i");
var IMF = whole(`(?:mon|tue|wed|thu|fri|sat|sun), (\\d\\d) ${MON} (\\d{4}) ${TIME} GMT`);
var RFC850 = whole(
  `(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday), (\\d\\d)-${MON}-(\\d\\d) ${TIME} GMT`
);
var ASCTIME = whole(`(?:mon|tue|wed|thu|fri|sat|sun) ${MON} ([ \\d]\\d) ${TIME} (\\d{4})`);
function utc(y, mon, d, hh, mm, ss) {
  const mo = MONTHS.indexOf(mon.toLowerCase());
  if (hh > 23 || mm > 59 || ss > 59) return null;
  const ms = Date.UTC(y, mo, d, hh, mm, ss);
  const check = new Date(ms);
  return check.getUTCDate() === d && check.getUTCMonth() === mo ? ms : null;
}
function parseHttpDate(text) {
  let m = IMF.exec(text);
  if (m) return utc(+m[3], m[2], +m[1], +m[4], +m[5], +m[6]);
  if (m = RFC850.exec(text)) {
    const yy = +m[3];
    return utc(yy > 68 ? 1900 + yy : 2e3 + yy, m[2], +m[1], +m[4], +m[5], +m[6]);
  }
  if (m = ASCTIME.exec(text)) return utc(+m[6], m[1], +m[2].trim(), +m[3], +m[4], +m[5]);
  return null;
}
var DIGITS = /^[0-9]+$/;
function parseRetryAfter(value, nowMs) {
  if (value == null) return null;
  const text = String(value).trim();
  if (!text || text.length > 256) return null;
  if (DIGITS.test(text)) return Number(text.slice(0, 12));
  const when = parseHttpDate(text);
  if (when === null) return null;
  const delta = (when - nowMs) / 1e3;
  return delta > 0 ? delta : null;
}
function parseMilliseconds(value) {
  if (value == null) return null;
  const text = value.trim();
  return text.length <= 24 && /^[0-9]+(\.[0-9]+)?$/.test(text) ? Number(text) / 1e3 : null;
}
function readHint(get, names, nowMs) {
  for (const name of names) {
    const value = get(name);
    if (value == null) continue;
    const s = name.endsWith("-ms") ? parseMilliseconds(value) : name === "retry-after" ? parseRetryAfter(value, nowMs) : DIGITS.test(value.trim()) ? Number(value.trim().slice(0, 12)) : null;
    if (s !== null) return s;
  }
  return null;
}
function policyDelay(unchanged, p = POLICY) {
  return Math.min(p.initial + p.step * Math.max(0, unchanged), p.max);
}
function isTransient(httpStatus) {
  return httpStatus === 0 || TRANSIENT_STATUS.includes(httpStatus);
}
function initialState(wait = 0) {
  return { unchanged: 0, key: null, longPoll: wait > 0 };
}
function nextDelay(state, response, policy = POLICY, hintCap = 300) {
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
  if (hinted) delay = hint;
  if (longPoll && !transient) {
    if (!response.preferenceApplied) longPoll = false;
    else {
      delay = hint ?? 0;
      hinted = delay > 0;
    }
  }
  return { state: { unchanged, key, longPoll }, delay, changed, hinted };
}
function getPath(doc, path) {
  if (path.includes("||")) {
    let v;
    for (const alt of path.split("||")) if ((v = getPath(doc, alt.trim())) != null && v !== "") return v;
    return v;
  }
  let cur = doc;
  for (const part of path.replace(/\[(\d+)\]/g, ".$1").split(".")) {
    if (cur !== null && typeof cur === "object" && Object.hasOwn(cur, part)) cur = cur[part];
    else return void 0;
  }
  return cur;
}
function readStatus(doc, w = {}) {
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
  const key = parts.length === 1 && typeof parts[0] === "string" ? `s:${parts[0].toLowerCase()}` : JSON.stringify(parts);
  const has = (words) => words.some((x) => String(x).toLowerCase() === word);
  const outcome = w.decide?.(doc, status) ?? (has(w.success ?? SUCCESS) ? "succeeded" : has(w.failure ?? FAILURE) ? "failed" : null);
  return { status, key, outcome };
}

// src/sse.ts
var SSEParser = class {
  lastId = "";
  retry = null;
  buf = "";
  data = [];
  type = "";
  seen = false;
  /** Feed a chunk; returns the events it completed. */
  feed(chunk) {
    const out = [];
    this.buf += chunk;
    let i;
    while ((i = this.buf.search(/\r\n|\r|\n/)) >= 0) {
      if (this.buf[i] === "\r" && i === this.buf.length - 1) break;
      const line = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + (this.buf.startsWith("\r\n", i) ? 2 : 1));
      this.line(line, out);
    }
    return out;
  }
  line(line, out) {
    if (line === "") {
      if (this.seen) out.push({
        type: this.type || "message",
        data: this.data.join("\n"),
        id: this.lastId
      });
      this.data = [];
      this.type = "";
      this.seen = false;
      return;
    }
    if (line[0] === ":") return;
    const c = line.indexOf(":");
    const field = c < 0 ? line : line.slice(0, c);
    let value = c < 0 ? "" : line.slice(c + 1);
    if (value[0] === " ") value = value.slice(1);
    if (field === "data") {
      this.data.push(value);
      this.seen = true;
    } else if (field === "event") this.type = value;
    else if (field === "id" && !value.includes("\0")) this.lastId = value;
    else if (field === "retry" && /^[0-9]+$/.test(value)) this.retry = Number(value);
  }
};

// src/wait.ts
var sleep = (ms, signal, wake) => new Promise((resolve, reject) => {
  const done = () => {
    clearTimeout(t);
    signal.removeEventListener("abort", stop);
    resolve();
  };
  const stop = () => {
    clearTimeout(t);
    reject(signal.reason);
  };
  const t = setTimeout(done, Math.min(ms, 2 ** 31 - 1));
  if (signal.aborted) return stop();
  signal.addEventListener("abort", stop, { once: true });
  wake?.(done);
});
var docOf = () => globalThis.document;
function updatedAt(doc) {
  const v = doc?.updated_at;
  const t = typeof v === "number" ? v : typeof v === "string" ? Date.parse(v) / 1e3 : NaN;
  return Number.isFinite(t) ? t : null;
}
var Waiter = class {
  constructor(url, o, signal, sink, snap) {
    this.url = url;
    this.signal = signal;
    this.sink = sink;
    const p = o.profile;
    this.o = { ...p?.options, ...o };
    this.policy = {
      initial: this.o.initial ?? POLICY.initial,
      step: this.o.step ?? POLICY.step,
      max: this.o.max ?? POLICY.max
    };
    this.words = {
      statusField: this.o.statusField,
      changeOn: this.o.changeOn,
      success: [...p ? [] : SUCCESS, ...this.o.success ?? []],
      failure: [...p ? [] : FAILURE, ...this.o.failure ?? []],
      decide: this.o.decide
    };
    this.state = initialState(this.o.wait);
    if (snap) {
      ({
        state: this.state,
        etag: this.etag,
        doc: this.doc,
        due: this.due,
        first: this.first,
        mode: this.mode,
        eventId: this.eventId = ""
      } = snap);
      this.counts = { ...snap.counts };
      const r = snap.doc == null ? null : readStatus(snap.doc, this.words);
      this.reading = typeof r === "object" ? r : null;
    }
  }
  url;
  signal;
  sink;
  o;
  words;
  policy;
  state;
  etag = null;
  doc = null;
  reading = null;
  due = 0;
  first = 0;
  counts = zeroCounts();
  mode = "poll";
  lag = null;
  eventId = "";
  errors = 0;
  noStore = false;
  woke = null;
  notBefore = 0;
  // what a server's hint asked, which a tab shown still honours
  /** Another tab shows this job (shared waits): this one polls as if it were shown. */
  shownElsewhere = false;
  onVisible = () => {
    if (docOf()?.visibilityState === "visible") this.shown();
    else this.woke?.();
  };
  /** A tab showing the job became visible: poll at once (a server's hint still a floor). */
  shown() {
    this.due = Math.min(this.due, this.notBefore);
    this.woke?.();
  }
  snapshot() {
    return {
      state: this.state,
      etag: this.etag,
      doc: this.doc,
      due: this.due,
      first: this.first,
      counts: { ...this.counts },
      mode: this.mode,
      eventId: this.eventId
    };
  }
  report() {
    const elapsed = this.first ? (Date.now() - this.first) / 1e3 : 0;
    return makeReport(this.counts, elapsed, this.o.baseline ?? 1, this.mode, this.lag);
  }
  details(d = {}) {
    return {
      status: this.reading?.status ?? null,
      document: this.doc,
      report: this.report(),
      ...d
    };
  }
  /** Runs until the job ends: resolves with the final document, rejects with a PollError. */
  async run() {
    const d = docOf();
    d?.addEventListener("visibilitychange", this.onVisible);
    try {
      if (this.o.events) {
        if (this.o.eventSource) await this.eventSource();
        else await this.stream();
      }
      while (!this.reading?.outcome) {
        await this.turn();
        await this.poll();
      }
      if (this.reading.outcome === "failed") {
        throw new JobFailed(`the job ended with status '${this.reading.status}'`, this.details());
      }
      return this.doc;
    } finally {
      d?.removeEventListener("visibilitychange", this.onVisible);
    }
  }
  // Wait for the next poll's time: the schedule's, at least the policy's maximum since the
  // last request in a hidden tab, never in a paused hidden tab; a tab shown polls at once.
  async turn() {
    for (; ; ) {
      const hidden = docOf()?.visibilityState === "hidden" && !this.shownElsewhere;
      let due = this.due;
      if (hidden && this.o.hidden === "pause") due = Infinity;
      else if (hidden && this.last) due = Math.max(due, this.last + this.policy.max * 1e3);
      const left = due - Date.now();
      if (left <= 0) return;
      await sleep(left, this.signal, (f) => this.woke = f);
      this.woke = null;
    }
  }
  last = 0;
  async headers() {
    const h = this.o.headers;
    return new Headers(typeof h === "function" ? await h() : h);
  }
  sent(stream = false) {
    if (this.signal.aborted) throw this.signal.reason;
    if (stream) this.o.onRequest?.({
      kind: "stream",
      sentAt: performance.now(),
      status: null,
      requests: this.counts.requests + 1
    });
    this.counts.requests += 1;
    this.last = Date.now();
    this.first ||= this.last;
  }
  rethrow(e) {
    if (this.signal.aborted) throw this.signal.reason;
    if (e instanceof PollError) throw e;
  }
  async poll() {
    const h = await this.headers();
    if (this.etag && this.doc != null) h.set("If-None-Match", this.etag);
    if (this.state.longPoll) h.set("Prefer", `wait=${Math.round(this.o.wait ?? 0)}`);
    this.sent();
    const sentAt = performance.now();
    let res = null;
    let text = "";
    let tooBig = false;
    try {
      res = await (this.o.fetch ?? fetch)(this.url, {
        headers: h,
        signal: this.signal,
        cache: this.noStore ? "force-cache" : "no-store",
        credentials: this.o.credentials ?? "same-origin"
      });
      if (res.ok || res.status === 304) {
        this.noStore = /(^|,)\s*no-store\s*(,|$)/i.test(res.headers.get("Cache-Control") ?? "");
      }
      tooBig = res.ok && Number(res.headers.get("Content-Length")) > this.maxBody;
      if (tooBig) res.body?.cancel().catch(() => {
      });
      else if (res.ok) text = await res.text();
    } catch (e) {
      this.rethrow(e);
      res = null;
    }
    this.o.onRequest?.({
      kind: "poll",
      sentAt,
      status: res?.status ?? 0,
      requests: this.counts.requests
    });
    this.receive(res, text, tooBig);
  }
  get maxBody() {
    return this.o.maxBody ?? 1 << 20;
  }
  receive(res, text, tooBig) {
    const code = res?.status ?? 0;
    this.counts.bytesReceived += text.length;
    const applied = /(^|,)\s*wait\b/i.test(res?.headers.get("Preference-Applied") ?? "");
    const held = this.state.longPoll && applied;
    const hint = res ? readHint(
      (n) => res.headers.get(n),
      this.o.hints ?? HINT_HEADERS,
      Date.now()
    ) : null;
    const step = (key) => {
      const s2 = nextDelay(
        this.state,
        { status: code, key, hint, preferenceApplied: applied },
        this.policy,
        this.o.hintCap ?? 300
      );
      this.state = s2.state;
      this.due = Date.now() + s2.delay * 1e3;
      this.notBefore = s2.hinted ? this.due : 0;
      if (s2.hinted) this.counts.hintWaits += 1;
      return s2;
    };
    const fail = (E, m) => {
      throw new E(m, this.details({ httpStatus: code || null }));
    };
    if (isTransient(code)) {
      this.counts.errors += 1;
      if (++this.errors >= (this.o.maxErrors ?? 10)) {
        fail(TooManyErrors, `gave up after ${this.errors} failed requests in a row (last: ${code ? `HTTP ${code}` : "network error"})`);
      }
      step(null);
      return this.save();
    }
    const mode = held ? "long-poll" : "poll";
    if (code === 304) {
      if (this.doc == null) fail(BadResponse, "304 Not Modified to a request that was not conditional");
      this.errors = 0;
      this.counts.notModified += 1;
      const s2 = step(null);
      return this.observe(this.doc, this.reading, false, true, mode, s2.delay);
    }
    if (code < 200 || code > 299) {
      fail(RequestFailed, `HTTP ${code}${code === 404 || code === 410 ? ": the job is unknown or its record expired" : code === 401 || code === 403 ? ": not authorized" : ""}`);
    }
    if (tooBig || text.length > this.maxBody) fail(BadResponse, "the response body is too large");
    let doc;
    try {
      doc = JSON.parse(text);
    } catch {
      fail(BadResponse, `the response is not JSON (HTTP ${code})`);
    }
    const r = readStatus(doc, this.words);
    if (typeof r === "string") return fail(BadResponse, r);
    this.errors = 0;
    this.etag = res.headers.get("ETag") ?? this.etag;
    const s = step(r.key);
    this.observe(doc, r, s.changed, false, mode, s.delay);
  }
  observe(doc, r, changed, notModified, mode, delay) {
    if (changed && this.reading) this.counts.changes += 1;
    if (changed) {
      const at = updatedAt(doc);
      if (at !== null) this.lag = Math.max(0, Math.round(Date.now() - at * 1e3) / 1e3);
    }
    this.doc = doc;
    this.reading = r;
    this.mode = mode;
    this.sink({
      document: doc,
      status: r.status,
      changed,
      notModified,
      mode,
      nextDelay: r.outcome ? null : delay,
      terminal: !!r.outcome,
      outcome: r.outcome,
      report: this.report()
    }, this.save());
  }
  save() {
    const snap = this.snapshot();
    this.o.persist && persistence.save(this.url, this.reading?.outcome ? null : snap);
    return snap;
  }
  /** An event: counts when its data is a status document (and its name is wanted). */
  event(ev) {
    if (this.o.eventTypes && !this.o.eventTypes.includes(ev.type)) return false;
    this.counts.bytesReceived += ev.data.length;
    let doc;
    try {
      doc = JSON.parse(ev.data);
    } catch {
      return false;
    }
    const r = readStatus(doc, this.words);
    if (typeof r === "string") return false;
    const s = nextDelay(this.state, { status: 200, key: r.key }, this.policy);
    this.state = s.state;
    this.eventId = ev.id;
    this.observe(doc, r, s.changed, false, "sse", null);
    return true;
  }
  // SSE over fetch: request headers and credentials go along; Last-Event-ID on reconnect,
  // after the server's `retry:`. Returns when polling takes over (at once): the stream
  // failed before any event, or `streamFailures` connections in a row brought none.
  async stream() {
    const p = new SSEParser();
    p.lastId = this.eventId;
    let failures = 0;
    let any = false;
    this.mode = "sse";
    while (!this.reading?.outcome) {
      const h = await this.headers();
      h.set("Accept", "text/event-stream");
      if (p.lastId) h.set("Last-Event-ID", p.lastId);
      this.sent(true);
      let got = 0;
      try {
        const res = await (this.o.fetch ?? fetch)(this.o.events, {
          headers: h,
          signal: this.signal,
          cache: "no-store",
          credentials: this.o.credentials ?? "same-origin"
        });
        if (res.status === 200 && res.body && /^text\/event-stream/i.test(res.headers.get("Content-Type") ?? "")) {
          const reader = res.body.getReader();
          const dec = new TextDecoder();
          try {
            for (; ; ) {
              const { done, value } = await reader.read();
              if (done) break;
              for (const ev of p.feed(dec.decode(value, { stream: true }))) {
                if (this.event(ev)) got += 1;
                if (this.reading?.outcome) return;
              }
            }
          } finally {
            reader.cancel().catch(() => {
            });
          }
        } else res.body?.cancel().catch(() => {
        });
      } catch (e) {
        this.rethrow(e);
      }
      if (got) {
        any = true;
        failures = 0;
      } else failures += 1;
      if (!any || failures >= (this.o.streamFailures ?? 3)) break;
      await sleep(p.retry ?? 3e3, this.signal);
    }
    this.mode = "poll";
    this.due = 0;
  }
  // The browser's own EventSource (no request headers; withCredentials with "include").
  eventSource() {
    return new Promise((resolve, reject) => {
      const source = new EventSource(
        this.o.events,
        { withCredentials: this.o.credentials === "include" }
      );
      let any = false;
      let got = 0;
      let failures = 0;
      const end = (e) => {
        source.close();
        this.signal.removeEventListener("abort", abort);
        this.mode = "poll";
        this.due = 0;
        e === void 0 ? resolve() : reject(e);
      };
      const abort = () => end(this.signal.reason);
      this.signal.addEventListener("abort", abort);
      this.mode = "sse";
      this.sent(true);
      const on = (ev) => {
        if (this.event({ type: ev.type, data: ev.data, id: ev.lastEventId })) {
          any = true;
          got += 1;
          failures = 0;
        }
        if (this.reading?.outcome) end();
      };
      for (const t of this.o.eventTypes ?? ["message"]) source.addEventListener(t, on);
      source.onerror = () => {
        failures = got ? 0 : failures + 1;
        got = 0;
        if (!any || source.readyState === EventSource.CLOSED || failures >= (this.o.streamFailures ?? 3)) end();
        else this.sent(true);
      };
    });
  }
};

// src/tabs.ts
var TAKEOVER_GRACE_MS = 50;
var ERRORS = {
  JobFailed,
  RequestFailed,
  BadResponse,
  TooManyErrors
};
function run(url, o, sink) {
  let last = null;
  const ctl = control(o, () => ({
    status: last?.u.status ?? null,
    document: last?.u.document ?? null,
    report: last?.u.report ?? null
  }));
  const ls = globalThis.navigator?.locks;
  const solo = !o.shared || !ls || typeof BroadcastChannel !== "function";
  const snap = o.persist ? persistence.load(url) : null;
  if (solo) {
    const w = new Waiter(
      url,
      o,
      ctl.signal,
      (u, s) => {
        last = { u, s, n: 0 };
        sink(u);
      },
      snap
    );
    return w.run().finally(ctl.release);
  }
  const name = `progress-client:${url}`;
  const ch = new BroadcastChannel(name);
  let leader = false;
  let waiter = null;
  const me = Math.random().toString(36).slice(2);
  const shownElsewhere = /* @__PURE__ */ new Set();
  const page = globalThis.document;
  const announce = (gone = false) => {
    if (!leader) {
      ch.postMessage({ t: "v", id: me, shown: !gone && page?.visibilityState === "visible" });
    }
  };
  const onVisibility = () => announce();
  const onHide = () => announce(true);
  page?.addEventListener("visibilitychange", onVisibility);
  globalThis.addEventListener?.("pagehide", onHide);
  return new Promise((resolve, reject) => {
    let over = false;
    const end = (e, doc) => {
      if (over) return;
      over = true;
      page?.removeEventListener("visibilitychange", onVisibility);
      globalThis.removeEventListener?.("pagehide", onHide);
      ch.close();
      ctl.release();
      ctl.abort(void 0);
      e ? reject(e) : resolve(doc);
    };
    ctl.signal.addEventListener("abort", () => end(ctl.signal.reason), { once: true });
    ch.onmessage = ({ data: m }) => {
      if (m.t === "hi") {
        if (leader && last) ch.postMessage({ t: "u", ...last });
        announce();
      } else if (m.t === "v") {
        const before = shownElsewhere.size > 0 || page?.visibilityState !== "hidden";
        if (m.shown) shownElsewhere.add(m.id);
        else shownElsewhere.delete(m.id);
        if (waiter) waiter.shownElsewhere = shownElsewhere.size > 0;
        if (m.shown && !before) waiter?.shown();
      } else if (m.t === "u") {
        if (last && m.n <= last.n) return;
        if (leader && !m.u.terminal) return;
        last = m;
        sink(m.u);
        if (m.u.outcome === "succeeded") end(null, m.u.document);
        else if (m.u.outcome === "failed") {
          end(new JobFailed(`the job ended with status '${m.u.status}'`, {
            status: m.u.status,
            document: m.u.document,
            report: m.u.report
          }));
        }
      } else if (m.t === "e") {
        end(new (ERRORS[m.name] ?? PollError)(m.message, {
          httpStatus: m.httpStatus,
          status: m.status,
          report: last?.u.report
        }));
      }
    };
    ch.postMessage({ t: "hi" });
    announce();
    ls.request(name, { signal: ctl.signal }, async () => {
      if (last) await new Promise((r) => setTimeout(r, TAKEOVER_GRACE_MS));
      if (ctl.signal.aborted) return;
      leader = true;
      const w = waiter = new Waiter(url, o, ctl.signal, (u, s) => {
        last = { u, s, n: (last?.n ?? 0) + 1 };
        ch.postMessage({ t: "u", ...last });
        sink(u);
      }, last?.s ?? snap);
      ch.postMessage({ t: "hi" });
      try {
        end(null, await w.run());
      } catch (e) {
        if (e instanceof PollError && e.name in ERRORS) {
          ch.postMessage({
            t: "e",
            name: e.name,
            message: e.message,
            httpStatus: e.httpStatus,
            status: e.status
          });
        }
        end(e);
      }
    }).catch(() => {
    });
  });
}

// src/index.ts
function waitForJob(url, options = {}) {
  return run(url, options, (u) => options.onUpdate?.(u));
}
function watchJob(url, options = {}) {
  const ctl = new AbortController();
  const outer = options.signal;
  const abort = () => ctl.abort(outer?.reason);
  outer?.aborted ? abort() : outer?.addEventListener("abort", abort, { once: true });
  const queue = [];
  let wake = null;
  let end = null;
  run(url, { ...options, signal: ctl.signal }, (u) => {
    options.onUpdate?.(u);
    queue.push(u);
    wake?.();
  }).then(() => {
    end ??= {};
  }, (error) => {
    end ??= { error };
  }).finally(() => {
    outer?.removeEventListener("abort", abort);
    wake?.();
  });
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      for (; ; ) {
        if (queue.length) return { value: queue.shift(), done: false };
        if (end) {
          if (end.error !== void 0) {
            const e = end.error;
            end = {};
            throw e;
          }
          return { value: void 0, done: true };
        }
        await new Promise((r) => wake = r);
        wake = null;
      }
    },
    async return() {
      ctl.abort();
      end ??= {};
      return { value: void 0, done: true };
    }
  };
}
export {
  BadResponse,
  FAILURE,
  HINT_HEADERS,
  JobFailed,
  POLICY,
  PollAborted,
  PollError,
  PollTimeout,
  RequestFailed,
  SSEParser,
  SUCCESS,
  TRANSIENT_STATUS,
  TooManyErrors,
  getPath,
  initialState,
  isTransient,
  makeReport,
  nextDelay,
  parseHttpDate,
  parseMilliseconds,
  parseRetryAfter,
  policyDelay,
  readHint,
  readStatus,
  waitForJob,
  watchJob
};
