// What surrounds a wait: its saved schedule (persist) and its signal and deadline.
import { PollAborted, PollTimeout, type ErrorDetails } from "./errors.js";
import type { Snapshot, WaitOptions } from "./options.js";

/** sessionStorage, keyed by URL: where a wait stood, so a reload carries on. */
export const persistence = {
  key: (url: string) => `progress-client:${url}`,
  load(url: string): Snapshot | null {
    try { return JSON.parse(sessionStorage.getItem(this.key(url)) ?? "null"); } catch { return null; }
  },
  save(url: string, snap: Snapshot | null) {
    try {
      if (snap) sessionStorage.setItem(this.key(url), JSON.stringify(snap));
      else sessionStorage.removeItem(this.key(url));
    } catch { /* storage full or denied: a reload starts afresh */ }
  },
};

/** Links the caller's signal and deadline to one controller whose reason is a PollError. */
export function control(o: WaitOptions, details: () => ErrorDetails) {
  const ctl = new AbortController();
  const abort = () => ctl.abort(new PollAborted("the wait was aborted",
    { ...details(), cause: o.signal?.reason }));
  if (o.signal?.aborted) abort();
  o.signal?.addEventListener("abort", abort, { once: true });
  const t = o.timeout != null ? setTimeout(() => ctl.abort(new PollTimeout(
    `no final status within ${o.timeout} s`, details())), o.timeout * 1000) : undefined;
  const release = () => { clearTimeout(t); o.signal?.removeEventListener("abort", abort); };
  return { signal: ctl.signal, release, abort: (r: unknown) => ctl.abort(r) };
}
