import type { Report } from "./report.js";

export interface ErrorDetails {
  status?: string | null; document?: unknown; httpStatus?: number | null;
  report?: Report | null; cause?: unknown;
}

/** Every way a wait can end other than success. `status`/`document`: the last seen. */
export class PollError extends Error {
  status: string | null;
  document: unknown;
  httpStatus: number | null;
  report: Report | null;
  constructor(message: string, d: ErrorDetails = {}) {
    super(message, d.cause === undefined ? undefined : { cause: d.cause });
    this.name = new.target.name;
    this.status = d.status ?? null;
    this.document = d.document ?? null;
    this.httpStatus = d.httpStatus ?? null;
    this.report = d.report ?? null;
  }
}
/** The job said it failed (a failure word or a profile's rule). */
export class JobFailed extends PollError {}
/** The endpoint answered a status that ends the wait (401, 404, ...). */
export class RequestFailed extends PollError {}
/** The endpoint answered something that is not a status document. */
export class BadResponse extends PollError {}
/** Too many transient errors in a row. */
export class TooManyErrors extends PollError {}
/** The caller's deadline (`timeout`) passed. */
export class PollTimeout extends PollError {}
/** The caller's AbortSignal fired (name "AbortError", as fetch's). */
export class PollAborted extends PollError {
  constructor(message: string, d?: ErrorDetails) { super(message, d); this.name = "AbortError"; }
}
