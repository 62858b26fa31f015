// One poller per job across the tabs of an origin: the tab holding the Web Lock named after
// the job polls and broadcasts every update and its schedule over a BroadcastChannel; when
// its tab closes the lock passes to another, which carries on from the last schedule. The
// other tabs say when they are shown or hidden: a hidden leader polls at the policy's maximum
// only while no tab is showing the job.
import { BadResponse, JobFailed, PollError, RequestFailed, TooManyErrors } from "./errors.js";
import { control, persistence } from "./control.js";
import type { Snapshot, Update, WaitOptions } from "./options.js";
import { Waiter } from "./wait.js";

type Msg = { t: "u"; u: Update; s: Snapshot; n: number } | { t: "hi" }
  | { t: "v"; id: string; shown: boolean }
  | { t: "e"; name: string; message: string; httpStatus: number | null; status: string | null };

const TAKEOVER_GRACE_MS = 50;

const ERRORS: Record<string, typeof PollError> = { JobFailed, RequestFailed, BadResponse,
  TooManyErrors };

/** Wait on `url` with `o`, every update to `sink`: resolves with the final document. */
export function run(url: string, o: WaitOptions, sink: (u: Update) => void): Promise<any> {
  // The last update seen, numbered: a leader numbers on from its predecessor.
  let last: { u: Update; s: Snapshot; n: number } | null = null;
  const ctl = control(o, () => ({ status: last?.u.status ?? null,
    document: last?.u.document ?? null, report: last?.u.report ?? null }));
  const ls = (globalThis as any).navigator?.locks;
  const solo = !o.shared || !ls || typeof BroadcastChannel !== "function";
  const snap = o.persist ? persistence.load(url) : null;
  if (solo) {
    const w = new Waiter(url, o, ctl.signal, (u, s) => { last = { u, s, n: 0 }; sink(u); },
      snap);
    return w.run().finally(ctl.release);
  }
  const name = `progress-client:${url}`;
  const ch = new BroadcastChannel(name);
  let leader = false;
  let waiter: Waiter | null = null;
  const me = Math.random().toString(36).slice(2);
  const shownElsewhere = new Set<string>();
  const page = (globalThis as any).document as Document | undefined;
  const announce = (gone = false) => {
    if (!leader) {
      ch.postMessage({ t: "v", id: me, shown: !gone && page?.visibilityState === "visible" });
    }
  };
  const onVisibility = () => announce();
  const onHide = () => announce(true);
  page?.addEventListener("visibilitychange", onVisibility);
  (globalThis as any).addEventListener?.("pagehide", onHide);
  return new Promise<any>((resolve, reject) => {
    let over = false;
    const end = (e: unknown, doc?: unknown) => {
      if (over) return;
      over = true;
      page?.removeEventListener("visibilitychange", onVisibility);
      (globalThis as any).removeEventListener?.("pagehide", onHide);
      ch.close();
      ctl.release();
      ctl.abort(undefined);  // frees the lock request of a tab that never led
      e ? reject(e) : resolve(doc);
    };
    ctl.signal.addEventListener("abort", () => end(ctl.signal.reason), { once: true });
    ch.onmessage = ({ data: m }: MessageEvent<Msg>) => {
      if (m.t === "hi") {
        if (leader && last) ch.postMessage({ t: "u", ...last });
        announce();
      } else if (m.t === "v") {
        const before = shownElsewhere.size > 0 || page?.visibilityState !== "hidden";
        if (m.shown) shownElsewhere.add(m.id);
        else shownElsewhere.delete(m.id);
        if (waiter) waiter.shownElsewhere = shownElsewhere.size > 0;
        if (m.shown && !before) waiter?.shown();  // the job is shown again: poll at once
      } else if (m.t === "u") {
        if (last && m.n <= last.n) return;  // seen already (the answer to another tab's hello)
        // A tab that just took the lock may still get its predecessor's last updates: only
        // the end matters then (its own wait stops before its first request).
        if (leader && !m.u.terminal) return;
        last = m;
        sink(m.u);
        if (m.u.outcome === "succeeded") end(null, m.u.document);
        else if (m.u.outcome === "failed") {
          end(new JobFailed(`the job ended with status '${m.u.status}'`, {
            status: m.u.status, document: m.u.document, report: m.u.report }));
        }
      } else if (m.t === "e") {
        end(new (ERRORS[m.name] ?? PollError)(m.message, { httpStatus: m.httpStatus,
          status: m.status, report: last?.u.report }));
      }
    };
    ch.postMessage({ t: "hi" } satisfies Msg);
    announce();
    ls.request(name, { signal: ctl.signal }, async () => {
      // Taking over: the predecessor's last message (the end, often: its final poll was due
      // when ours is) may be queued behind the lock's grant; let it arrive first.
      if (last) await new Promise((r) => setTimeout(r, TAKEOVER_GRACE_MS));
      if (ctl.signal.aborted) return;
      leader = true;
      const w = waiter = new Waiter(url, o, ctl.signal, (u, s) => {
        last = { u, s, n: (last?.n ?? 0) + 1 };
        ch.postMessage({ t: "u", ...last } satisfies Msg);
        sink(u);
      }, last?.s ?? snap);
      ch.postMessage({ t: "hi" } satisfies Msg);  // the others say again whether they are shown
      try {
        end(null, await w.run());
      } catch (e) {
        // An abort or a deadline is this tab's own: another tab takes over.
        if (e instanceof PollError && e.name in ERRORS) {
          ch.postMessage({ t: "e", name: e.name, message: e.message,
            httpStatus: e.httpStatus, status: e.status } satisfies Msg);
        }
        end(e);
      }
    }).catch(() => {});
  });
}
