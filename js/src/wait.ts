// The driver: carries out the rules of schedule.ts with fetch and timers, for one tab.
import { BadResponse, JobFailed, PollError, RequestFailed, TooManyErrors,
  type ErrorDetails } from "./errors.js";
import { persistence } from "./control.js";
import type { Mode, Snapshot, Update, WaitOptions } from "./options.js";
import { makeReport, zeroCounts, type Counts, type Report } from "./report.js";
import { HINT_HEADERS, POLICY, initialState, isTransient, nextDelay, readHint, readStatus,
  FAILURE, SUCCESS, type Policy, type Reading, type ScheduleState, type Words } from "./schedule.js";
import { SSEParser, type SSEvent } from "./sse.js";

type Sink = (u: Update, snap: Snapshot) => void;

const sleep = (ms: number, signal: AbortSignal, wake?: (f: () => void) => void) =>
  new Promise<void>((resolve, reject) => {
    const done = () => { clearTimeout(t); signal.removeEventListener("abort", stop); resolve(); };
    const stop = () => { clearTimeout(t); reject(signal.reason); };
    const t = setTimeout(done, Math.min(ms, 2 ** 31 - 1));
    if (signal.aborted) return stop();
    signal.addEventListener("abort", stop, { once: true });
    wake?.(done);
  });

const docOf = () => (globalThis as any).document as Document | undefined;

/** Seconds since the epoch of a document's `updated_at` (a number or an ISO date), or null. */
function updatedAt(doc: any): number | null {
  const v = doc?.updated_at;
  const t = typeof v === "number" ? v : typeof v === "string" ? Date.parse(v) / 1000 : NaN;
  return Number.isFinite(t) ? t : null;
}

export class Waiter {
  readonly o: WaitOptions;
  readonly words: Words;
  readonly policy: Policy;
  state: ScheduleState;
  etag: string | null = null;
  doc: unknown = null;
  reading: Reading | null = null;
  due = 0;
  first = 0;
  counts: Counts = zeroCounts();
  mode: Mode = "poll";
  lag: number | null = null;
  eventId = "";
  private errors = 0;
  private noStore = false;
  private woke: (() => void) | null = null;
  private notBefore = 0;  // what a server's hint asked, which a tab shown still honours
  /** Another tab shows this job (shared waits): this one polls as if it were shown. */
  shownElsewhere = false;
  private onVisible = () => {
    if (docOf()?.visibilityState === "visible") this.shown();
    else this.woke?.();
  };

  /** A tab showing the job became visible: poll at once (a server's hint still a floor). */
  shown() {
    this.due = Math.min(this.due, this.notBefore);
    this.woke?.();
  }

  constructor(readonly url: string, o: WaitOptions, readonly signal: AbortSignal,
    private sink: Sink, snap?: Snapshot | null) {
    const p = o.profile;
    this.o = { ...p?.options, ...o };
    this.policy = { initial: this.o.initial ?? POLICY.initial, step: this.o.step ?? POLICY.step,
      max: this.o.max ?? POLICY.max };
    this.words = { statusField: this.o.statusField, changeOn: this.o.changeOn,
      success: [...(p ? [] : SUCCESS), ...(this.o.success ?? [])],
      failure: [...(p ? [] : FAILURE), ...(this.o.failure ?? [])], decide: this.o.decide };
    this.state = initialState(this.o.wait);
    if (snap) {
      ({ state: this.state, etag: this.etag, doc: this.doc, due: this.due, first: this.first,
        mode: this.mode, eventId: this.eventId = "" } = snap);
      this.counts = { ...snap.counts };
      const r = snap.doc == null ? null : readStatus(snap.doc, this.words);
      this.reading = typeof r === "object" ? r : null;
    }
  }

  snapshot(): Snapshot {
    return { state: this.state, etag: this.etag, doc: this.doc, due: this.due,
      first: this.first, counts: { ...this.counts }, mode: this.mode, eventId: this.eventId };
  }

  report(): Report {
    const elapsed = this.first ? (Date.now() - this.first) / 1000 : 0;
    return makeReport(this.counts, elapsed, this.o.baseline ?? 1, this.mode, this.lag);
  }

  details(d: ErrorDetails = {}): ErrorDetails {
    return { status: this.reading?.status ?? null, document: this.doc, report: this.report(),
      ...d };
  }

  /** Runs until the job ends: resolves with the final document, rejects with a PollError. */
  async run(): Promise<any> {
    const d = docOf();
    d?.addEventListener("visibilitychange", this.onVisible);
    try {
      // A stream first, also for a wait taken over from another tab or resumed after a
      // reload (it then starts where the last event was).
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
  private async turn() {
    for (;;) {
      const hidden = docOf()?.visibilityState === "hidden" && !this.shownElsewhere;
      let due = this.due;
      if (hidden && this.o.hidden === "pause") due = Infinity;
      else if (hidden && this.last) due = Math.max(due, this.last + this.policy.max * 1000);
      const left = due - Date.now();
      if (left <= 0) return;
      await sleep(left, this.signal, (f) => (this.woke = f));
      this.woke = null;
    }
  }

  private last = 0;

  private async headers(): Promise<Headers> {
    const h = this.o.headers;
    return new Headers(typeof h === "function" ? await h() : h);
  }

  private sent(stream = false) {
    if (this.signal.aborted) throw this.signal.reason;  // nothing goes out after an abort
    if (stream) this.o.onRequest?.({ kind: "stream", sentAt: performance.now(), status: null,
      requests: this.counts.requests + 1 });
    this.counts.requests += 1;
    this.last = Date.now();
    this.first ||= this.last;
  }

  private rethrow(e: unknown): void {
    if (this.signal.aborted) throw this.signal.reason;
    if (e instanceof PollError) throw e;
  }

  async poll() {
    const h = await this.headers();
    if (this.etag && this.doc != null) h.set("If-None-Match", this.etag);
    if (this.state.longPoll) h.set("Prefer", `wait=${Math.round(this.o.wait ?? 0)}`);
    this.sent();
    const sentAt = performance.now();
    let res: Response | null = null;
    let text = "";
    let tooBig = false;
    try {
      // Chromium skips its preflight cache for a request whose cache mode is no-store, which
      // a request with its own If-None-Match gets: a poller on another origin would pay a
      // preflight per poll. While the server says no-store the HTTP cache holds nothing for
      // this URL, so "force-cache" still reaches the server, and the preflight is remembered.
      res = await (this.o.fetch ?? fetch)(this.url, { headers: h, signal: this.signal,
        cache: this.noStore ? "force-cache" : "no-store",
        credentials: this.o.credentials ?? "same-origin" });
      if (res.ok || res.status === 304) {
        this.noStore = /(^|,)\s*no-store\s*(,|$)/i.test(res.headers.get("Cache-Control") ?? "");
      }
      // A body announced as larger than the limit is not read at all.
      tooBig = res.ok && Number(res.headers.get("Content-Length")) > this.maxBody;
      if (tooBig) res.body?.cancel().catch(() => {});
      else if (res.ok) text = await res.text();
    } catch (e) {
      this.rethrow(e);
      res = null;
    }
    this.o.onRequest?.({ kind: "poll", sentAt, status: res?.status ?? 0,
      requests: this.counts.requests });
    this.receive(res, text, tooBig);
  }

  private get maxBody() { return this.o.maxBody ?? 1 << 20; }

  private receive(res: Response | null, text: string, tooBig: boolean) {
    const code = res?.status ?? 0;
    this.counts.bytesReceived += text.length;
    const applied = /(^|,)\s*wait\b/i.test(res?.headers.get("Preference-Applied") ?? "");
    const held = this.state.longPoll && applied;
    const hint = res ? readHint((n) => res!.headers.get(n), this.o.hints ?? HINT_HEADERS,
      Date.now()) : null;
    const step = (key: string | null) => {
      const s = nextDelay(this.state, { status: code, key, hint, preferenceApplied: applied },
        this.policy, this.o.hintCap ?? 300);
      this.state = s.state;
      this.due = Date.now() + s.delay * 1000;
      this.notBefore = s.hinted ? this.due : 0;
      if (s.hinted) this.counts.hintWaits += 1;
      return s;
    };
    const fail = (E: typeof PollError, m: string) => {
      throw new E(m, this.details({ httpStatus: code || null }));
    };
    if (isTransient(code)) {
      this.counts.errors += 1;
      if (++this.errors >= (this.o.maxErrors ?? 10)) {
        fail(TooManyErrors, `gave up after ${this.errors} failed requests in a row (last: ${
          code ? `HTTP ${code}` : "network error"})`);
      }
      step(null);
      return this.save();
    }
    const mode: Mode = held ? "long-poll" : "poll";
    if (code === 304) {
      if (this.doc == null) fail(BadResponse, "304 Not Modified to a request that was not conditional");
      this.errors = 0;
      this.counts.notModified += 1;
      const s = step(null);
      return this.observe(this.doc, this.reading!, false, true, mode, s.delay);
    }
    if (code < 200 || code > 299) {
      fail(RequestFailed, `HTTP ${code}${code === 404 || code === 410
        ? ": the job is unknown or its record expired"
        : code === 401 || code === 403 ? ": not authorized" : ""}`);
    }
    if (tooBig || text.length > this.maxBody) fail(BadResponse, "the response body is too large");
    let doc: unknown;
    try { doc = JSON.parse(text); } catch { fail(BadResponse, `the response is not JSON (HTTP ${code})`); }
    const r = readStatus(doc, this.words);
    if (typeof r === "string") return fail(BadResponse, r);
    this.errors = 0;
    this.etag = res!.headers.get("ETag") ?? this.etag;
    const s = step(r.key);
    this.observe(doc, r, s.changed, false, mode, s.delay);
  }

  private observe(doc: unknown, r: Reading, changed: boolean, notModified: boolean, mode: Mode,
    delay: number | null) {
    if (changed && this.reading) this.counts.changes += 1;
    if (changed) {
      const at = updatedAt(doc);
      if (at !== null) this.lag = Math.max(0, Math.round(Date.now() - at * 1000) / 1000);
    }
    this.doc = doc;
    this.reading = r;
    this.mode = mode;
    this.sink({ document: doc, status: r.status, changed, notModified, mode,
      nextDelay: r.outcome ? null : delay, terminal: !!r.outcome, outcome: r.outcome,
      report: this.report() }, this.save());
  }

  private save(): Snapshot {
    const snap = this.snapshot();
    this.o.persist && persistence.save(this.url, this.reading?.outcome ? null : snap);
    return snap;
  }

  /** An event: counts when its data is a status document (and its name is wanted). */
  private event(ev: SSEvent): boolean {
    if (this.o.eventTypes && !this.o.eventTypes.includes(ev.type)) return false;
    this.counts.bytesReceived += ev.data.length;
    let doc: unknown;
    try { doc = JSON.parse(ev.data); } catch { return false; }
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
  private async stream() {
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
        const res = await (this.o.fetch ?? fetch)(this.o.events!, { headers: h,
          signal: this.signal, cache: "no-store", credentials: this.o.credentials ?? "same-origin" });
        if (res.status === 200 && res.body
            && /^text\/event-stream/i.test(res.headers.get("Content-Type") ?? "")) {
          const reader = res.body.getReader();
          const dec = new TextDecoder();
          try {
            for (;;) {
              const { done, value } = await reader.read();
              if (done) break;
              for (const ev of p.feed(dec.decode(value, { stream: true }))) {
                if (this.event(ev)) got += 1;
                if (this.reading?.outcome) return;
              }
            }
          } finally {
            reader.cancel().catch(() => {});
          }
        } else res.body?.cancel().catch(() => {});
      } catch (e) {
        this.rethrow(e);
      }
      if (got) { any = true; failures = 0; } else failures += 1;
      if (!any || failures >= (this.o.streamFailures ?? 3)) break;
      await sleep(p.retry ?? 3000, this.signal);
    }
    this.mode = "poll";
    this.due = 0;
  }

  // The browser's own EventSource (no request headers; withCredentials with "include").
  private eventSource() {
    return new Promise<void>((resolve, reject) => {
      const source = new EventSource(this.o.events!,
        { withCredentials: this.o.credentials === "include" });
      let any = false;
      let got = 0;
      let failures = 0;
      const end = (e?: unknown) => {
        source.close();
        this.signal.removeEventListener("abort", abort);
        this.mode = "poll";
        this.due = 0;
        e === undefined ? resolve() : reject(e);
      };
      const abort = () => end(this.signal.reason);
      this.signal.addEventListener("abort", abort);
      this.mode = "sse";
      this.sent(true);
      const on = (ev: MessageEvent) => {
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
        if (!any || source.readyState === EventSource.CLOSED
            || failures >= (this.o.streamFailures ?? 3)) end();
        else this.sent(true);  // the browser reconnects by itself, with Last-Event-ID
      };
    });
  }
}
