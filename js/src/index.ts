// progress-client: wait on a long-running HTTP job from a browser (or Node) with as few
// requests as possible: the Python client's rules (adaptive schedule, Retry-After and its
// cousins, ETag, long-polling, SSE over fetch), one poller per job across tabs, a wait that
// survives a reload.
import { run } from "./tabs.js";
import type { Update, WaitOptions } from "./options.js";

export * from "./errors.js";
export * from "./schedule.js";
export { SSEParser, type SSEvent } from "./sse.js";
export { makeReport, type Report } from "./report.js";
export type { Profile, ProfileData } from "./profiles.js";
export type { Mode, Snapshot, Update, WaitOptions } from "./options.js";

/** Wait until the job at `url` ends: resolves with its final document on success, rejects
 * with JobFailed, RequestFailed, BadResponse, TooManyErrors, PollTimeout or PollAborted. */
export function waitForJob<T = any>(url: string, options: WaitOptions<T> = {}): Promise<T> {
  return run(url, options, (u) => options.onUpdate?.(u));
}

/** Every update of the job at `url`, as an async iterator; it ends after the final success
 * and throws the wait's error otherwise (a failed job's final update is yielded first).
 * Leaving the loop early (break) stops the wait. */
export function watchJob<T = any>(url: string, options: WaitOptions<T> = {}):
  AsyncIterableIterator<Update<T>> {
  const ctl = new AbortController();
  const outer = options.signal;
  const abort = () => ctl.abort(outer?.reason);
  outer?.aborted ? abort() : outer?.addEventListener("abort", abort, { once: true });
  const queue: Update<T>[] = [];
  let wake: (() => void) | null = null;
  let end: { error?: unknown } | null = null;
  run(url, { ...options, signal: ctl.signal }, (u) => {
    options.onUpdate?.(u);
    queue.push(u);
    wake?.();
  }).then(() => { end ??= {}; }, (error) => { end ??= { error }; })
    .finally(() => { outer?.removeEventListener("abort", abort); wake?.(); });
  return {
    [Symbol.asyncIterator]() { return this; },
    async next(): Promise<IteratorResult<Update<T>>> {
      for (;;) {
        if (queue.length) return { value: queue.shift()!, done: false };
        if (end) {
          if (end.error !== undefined) { const e = end.error; end = {}; throw e; }
          return { value: undefined, done: true };
        }
        await new Promise<void>((r) => (wake = r));
        wake = null;
      }
    },
    async return(): Promise<IteratorResult<Update<T>>> {
      ctl.abort();
      end ??= {};
      return { value: undefined, done: true };
    },
  };
}
