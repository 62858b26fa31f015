// progress-client/query: the schedule for a data library that polls by itself (TanStack Query's refetchInterval,
// SWR's refreshInterval): a fetcher that reads every response's hints, validators and status
// into the adaptive schedule, and an interval function that says when to fetch next.
import { useRef } from "react";
import { HINT_HEADERS, POLICY, RequestFailed, initialState, nextDelay, readHint, readStatus,
  type Policy, type Words } from "./index.js";

export interface PollingSchedule<T = any> {
  /** fetch(url) -> the status document (a 304 gives the last one); feeds the schedule. */
  fetcher: (url: string) => Promise<T>;
  /** Milliseconds until the next fetch, or false once the job ended. */
  interval: () => number | false;
}

export interface ScheduleOptions extends Partial<Policy>, Words {
  hintCap?: number; hints?: readonly string[]; headers?: HeadersInit;
  credentials?: RequestCredentials; fetch?: typeof fetch;
}

export function pollingSchedule<T = any>(o: ScheduleOptions = {}): PollingSchedule<T> {
  const policy = { ...POLICY, ...o };
  let state = initialState();
  let delay = 0;
  let etag: string | null = null;
  let last: { url: string; doc: T } | null = null;
  let over = false;
  const step = (status: number, key: string | null, hint: number | null) => {
    const s = nextDelay(state, { status, key, hint }, policy, o.hintCap ?? 300);
    state = s.state;
    delay = s.delay;
  };
  return {
    async fetcher(url) {
      if (last && last.url !== url) { state = initialState(); etag = null; last = null; over = false; }
      const headers = new Headers(o.headers);
      if (etag && last) headers.set("If-None-Match", etag);
      let res: Response;
      try {
        res = await (o.fetch ?? fetch)(url, { headers, cache: "no-store",
          credentials: o.credentials ?? "same-origin" });
      } catch (e) {
        step(0, null, null);
        throw e;
      }
      const hint = readHint((n) => res.headers.get(n), o.hints ?? HINT_HEADERS, Date.now());
      if (res.status === 304 && last) {
        step(304, null, hint);
        return last.doc;
      }
      if (!res.ok) {
        step(res.status, null, hint);
        throw new RequestFailed(`HTTP ${res.status}`, { httpStatus: res.status });
      }
      const doc = await res.json();
      const r = readStatus(doc, o);
      step(200, typeof r === "string" ? null : r.key, hint);
      over = typeof r !== "string" && r.outcome !== null;
      etag = res.headers.get("ETag");
      last = { url, doc };
      return doc;
    },
    interval: () => (over ? false : Math.round(delay * 1000)),
  };
}

function useSchedule(url: string, o?: ScheduleOptions): PollingSchedule {
  const ref = useRef<{ url: string; s: PollingSchedule } | null>(null);
  if (ref.current?.url !== url) ref.current = { url, s: pollingSchedule(o) };
  return ref.current.s;
}

/** Options for TanStack Query's useQuery: the fetcher and a refetchInterval that follows the
 * adaptive schedule (reset on a change, server hints honoured, off once the job ended). */
export function useJobQuery(url: string, o?: ScheduleOptions) {
  const s = useSchedule(url, o);
  return { queryKey: ["progress-client", url] as const, queryFn: () => s.fetcher(url),
    refetchInterval: () => s.interval() };
}

/** The fetcher and refreshInterval for SWR's useSWR(url, fetcher, { refreshInterval }). */
export function useJobSWR(url: string, o?: ScheduleOptions) {
  const s = useSchedule(url, o);
  return { fetcher: s.fetcher, refreshInterval: () => s.interval() || 0 };
}
