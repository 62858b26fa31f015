// A consumer's code, type-checked (tsc --noEmit, strict) against the .d.ts files of the packed
// tarball (scripts/check-consumer.mjs), not the sources.
import { waitForJob, watchJob, JobFailed, PollError, PollTimeout,
  type Update, type WaitOptions, type Report } from "progress-client";
import { useJob, type JobState } from "progress-client/react";
import { pollingSchedule, useJobQuery, useJobSWR } from "progress-client/query";
import { profile } from "progress-client/profiles";
import profiles from "progress-client/profiles.json";

interface Render { status: string; progress: number | null; url?: string }

export async function vanilla(signal: AbortSignal): Promise<string> {
  const options: WaitOptions<Render> = {
    signal, timeout: 600, events: "/jobs/1/events", eventTypes: ["status"], wait: 20,
    headers: async () => ({ Authorization: "Bearer token" }), credentials: "include",
    shared: true, hidden: "pause", persist: "session", initial: 2, step: 1, max: 10,
    onUpdate: (u: Update<Render>) => { const n: number | null = u.document.progress; void n; },
  };
  try {
    const doc: Render = await waitForJob<Render>("/jobs/1", options);
    return doc.url ?? "";
  } catch (e) {
    if (e instanceof JobFailed) return `failed: ${e.status}`;
    if (e instanceof PollTimeout) return `late after ${e.report?.requests} requests`;
    if (e instanceof PollError) return e.httpStatus === 401 ? "log in" : e.message;
    throw e;
  }
}

export async function iterate(): Promise<Report | null> {
  let last: Report | null = null;
  for await (const u of watchJob<Render>("/jobs/1")) last = u.report;
  return last;
}

export function withProfile() {
  // @ts-expect-error: hidden is "slow" or "pause"
  const bad: WaitOptions = { hidden: "sometimes" };
  void bad;
  return waitForJob("/runs/1", { profile: profile(profiles["github-actions"] as never) });
}

export function Job({ url }: { url: string | null }) {
  const job: JobState<Render> = useJob<Render>(url, { events: `${url}/events` });
  const q = useJobQuery(url ?? "");
  const refetch: number | false = q.refetchInterval();
  const s = useJobSWR(url ?? "");
  const every: number = s.refreshInterval();
  const sched = pollingSchedule({ initial: 1 });
  void sched.interval();
  return job.error ? <p>{job.error.message}</p>
    : <p>{job.status} {job.document?.progress} {job.done ? "done" : ""} {refetch} {every}</p>;
}
