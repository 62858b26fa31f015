// The options a wait takes, what each update carries, and where a wait stands (a snapshot).
import type { Counts, Report } from "./report.js";
import type { Policy, ScheduleState, Words } from "./schedule.js";

export type Mode = Report["mode"];

/** One status document seen, with what it did to the schedule and the cost so far. */
export interface Update<T = any> {
  document: T; status: string; changed: boolean; notModified: boolean; mode: Mode;
  /** Seconds until the next poll, or null (a stream, or the end). */
  nextDelay: number | null;
  terminal: boolean; outcome: "succeeded" | "failed" | null; report: Report;
}

export interface WaitOptions<T = any> extends Partial<Policy>, Words {
  signal?: AbortSignal;
  /** Seconds: the wait rejects with PollTimeout after this long. */
  timeout?: number;
  hintCap?: number;
  maxErrors?: number;
  /** Stream connections in a row without an event before polling takes over. */
  streamFailures?: number;
  maxBody?: number;
  /** Long-polling: ask `Prefer: wait=N` (seconds). */
  wait?: number;
  /** An SSE URL to listen to first (over fetch: headers and credentials go along). */
  events?: string;
  /** Use the browser's EventSource for `events` (no request headers) instead of fetch. */
  eventSource?: boolean;
  /** Only events of these `event:` names count (default: any event whose data is a status). */
  eventTypes?: readonly string[];
  /** Hint headers to honour, most precise first (lower case). */
  hints?: readonly string[];
  /** Request headers, or a function giving them for each request (a token that rotates). */
  headers?: HeadersInit | (() => HeadersInit | Promise<HeadersInit>);
  credentials?: RequestCredentials;
  fetch?: typeof fetch;
  /** The fixed poller the report compares with, in seconds (1). */
  baseline?: number;
  /** In a hidden tab: poll at the policy's maximum ("slow", the default) or not at all. */
  hidden?: "slow" | "pause";
  /** "session": keep the schedule in sessionStorage, so a reload carries on where it was. */
  persist?: "session";
  /** One tab polls the job for every tab of this origin (Web Locks + BroadcastChannel). */
  shared?: boolean;
  /** A vendor profile: profile(data) from progress-client/profiles. */
  profile?: import("./profiles.js").Profile;
  onUpdate?: (update: Update<T>) => void;
  /** Every request sent: a poll (with its answer's HTTP status, 0 for a network error) or a
   * stream connection; times from performance.now(). */
  onRequest?: (info: { kind: "poll" | "stream"; sentAt: number; status: number | null;
    requests: number }) => void;
}

/** Where a wait stands, as plain data: saved (persist), broadcast (shared) and resumed. */
export interface Snapshot {
  state: ScheduleState; etag: string | null; doc: unknown; due: number; first: number;
  counts: Counts; mode: Mode; eventId: string;
}
