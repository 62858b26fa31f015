// progress-client/react: useJob, no provider (TanStack Query and SWR: progress-client/query).
import { useEffect, useRef, useState } from "react";
import { waitForJob, type PollError, type Report, type WaitOptions } from "./index.js";

export interface JobState<T = any> {
  status: string | null; document: T | null; error: PollError | null; done: boolean;
  report: Report | null;
}

const IDLE: JobState = { status: null, document: null, error: null, done: false, report: null };

/** The job at `url` (null: none yet), re-rendered on every update. One poller per mounted
 * component (StrictMode's discarded first mount sends nothing); options are read when the
 * wait starts, so inline options do not restart it; a new `url` starts a new wait; unmounting
 * stops it. */
export function useJob<T = any>(url: string | null | undefined,
  options?: WaitOptions<T>): JobState<T> {
  const [state, setState] = useState<JobState<T>>(IDLE);
  const opts = useRef(options);
  opts.current = options;
  useEffect(() => {
    if (!url) return;
    setState(IDLE);
    const ctl = new AbortController();
    // Started after the commit: StrictMode's mount-unmount-mount aborts the first before it
    // sends anything.
    const t = setTimeout(() => {
      waitForJob<T>(url, { ...opts.current, signal: ctl.signal, onUpdate: (u) => {
        opts.current?.onUpdate?.(u);
        setState({ status: u.status, document: u.document, error: null,
          done: u.outcome === "succeeded", report: u.report });
      } }).catch((error: PollError) => {
        if (!ctl.signal.aborted) setState((s) => ({ ...s, error, done: true, report: error.report ?? s.report }));
      });
    });
    return () => { clearTimeout(t); ctl.abort(); };
  }, [url]);
  return state;
}
