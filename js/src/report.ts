/** What a wait cost and what it saved against a fixed poller (as the Python client's
 * PollReport.to_dict(), camel-cased). */
export interface Report {
  requests: number; changes: number; errors: number; hintWaits: number; notModified: number;
  bytesReceived: number; elapsed: number; baselineInterval: number; baselineRequests: number;
  savedRequests: number; savedPercent: number; mode: "poll" | "long-poll" | "sse";
  /** Seconds from the document's `updated_at` to when this tab saw it (last change), or null. */
  lag: number | null;
}

export type Counts = Pick<Report, "requests" | "changes" | "errors" | "hintWaits"
  | "notModified" | "bytesReceived">;

export const zeroCounts = (): Counts => ({
  requests: 0, changes: 0, errors: 0, hintWaits: 0, notModified: 0, bytesReceived: 0 });

export function makeReport(c: Counts, elapsed: number, baselineInterval: number,
  mode: Report["mode"], lag: number | null): Report {
  const baselineRequests = c.requests === 0 ? 0 : baselineInterval <= 0 ? c.requests
    : Math.floor(elapsed / baselineInterval + 1e-9) + 1;
  const savedRequests = Math.max(0, baselineRequests - c.requests);
  const savedPercent = baselineRequests
    ? Math.round(1000 * savedRequests / baselineRequests) / 10 : 0;
  return { ...c, elapsed: Math.round(elapsed * 1000) / 1000, baselineInterval,
    baselineRequests, savedRequests, savedPercent, mode, lag };
}
