// Vendor profiles, read from the same data as the Python client's (progress_client/profiles,
// exported as JSON): where the status is, which words end the job, the ordered outcome rules
// on the document, the hint headers. Paths are JMESPath field paths (a.b, a[0].b); a profile
// whose rules need more of JMESPath is refused with a clear error, never misread.
import { getPath, type Words } from "./index.js";
import type { WaitOptions } from "./index.js";

type Scalar = string | number | boolean;
interface Condition {
  status?: string[] | null; path?: string | null; is?: Scalar[] | null;
  is_not?: Scalar[] | null; present?: boolean | null; above?: number | null;
  below?: number | null; [other: string]: unknown;
}
/** One profile as `progress-client profiles export --format json` writes it. */
export interface ProfileData {
  name: string; hints?: string[] | null; change?: string[];
  headers?: Record<string, string>; follow?: unknown; poll?: unknown;
  status: { path?: string | null; succeeded?: string[]; failed?: string[];
    needs_action?: string[]; case_sensitive?: boolean; missing?: string | null };
  outcome?: { when: Condition[]; then: "succeeded" | "failed" | "running" | "needs_action";
    label?: string | null }[];
}
export interface Profile { name: string; options: Partial<WaitOptions> }

const FIELD = /^[A-Za-z_][A-Za-z0-9_]*(\[[0-9]+\])?(\.[A-Za-z_][A-Za-z0-9_]*(\[[0-9]+\])?)*$/;

const truthy = (v: unknown) => v != null && v !== false && v !== ""
  && !(Array.isArray(v) && !v.length) && !(typeof v === "object" && !Object.keys(v!).length);

/** A field path (`a.b[0].c`), or several joined by JMESPath's `||` (the first truthy). */
function path(p: string, where: string): (doc: unknown) => unknown {
  const alts = p.split("||").map((a) => a.trim());
  if (!alts.every((a) => FIELD.test(a))) {
    throw new Error(`${where}: '${p}' needs JMESPath, which this package does not evaluate`);
  }
  const gets = alts.map((a) => a.replace(/\[(\d+)\]/g, ".$1"));
  return (doc) => {
    let v: unknown;
    for (const g of gets) if (truthy((v = getPath(doc, g)))) return v;
    return v;
  };
}

const fold = (cs: boolean) => (v: unknown) => cs || typeof v !== "string" ? v : v.toLowerCase();

/** A profile's data as wait options: `import { profile } from "progress-client/profiles"`,
 * then `waitForJob(url, { profile: profile(data) })`. */
export function profile(data: ProfileData): Profile {
  const cs = !!data.status.case_sensitive;
  const f = fold(cs);
  const where = `profile ${data.name}`;
  // What only the Python client carries out is refused, never silently left out.
  const py = (data.follow && "follow") || (data.poll && "poll")
    || ((data.status.needs_action?.length
      || data.outcome?.some((r) => r.then == "needs_action")) && "needs_action");
  if (py) throw new Error(`${where}: '${py}' runs only in the Python client`);
  const rules = (data.outcome ?? []).map((rule, i) => {
    const tests = rule.when.map((c, j) => {
      const at = `${where}: outcome[${i}].when[${j}]`;
      if (c.status) {
        const words = c.status.map(f);
        return (_: unknown, status: string) => words.includes(f(status));
      }
      if (!c.path) throw new Error(`${at}: only 'status' and 'path' conditions run in a browser`);
      const get = path(c.path, at);
      return (doc: unknown) => {
        const v = get(doc);
        if (c.present != null) return (v != null) === c.present;
        if (c.is) return c.is.some((x) => f(x) === f(v));
        if (c.is_not) return v != null && !c.is_not.some((x) => f(x) === f(v));
        if (typeof v !== "number") return false;
        return c.above != null ? v > c.above : v < c.below!;
      };
    });
    return { tests, then: rule.then };
  });
  const succeeded = (data.status.succeeded ?? []).map(f);
  const failed = (data.status.failed ?? []).map(f);
  const statusPath = data.status.path ?? null;
  if (statusPath) path(statusPath, `${where}: status.path`);  // refused early if unsupported
  const decide: Words["decide"] = (doc, status) => {
    for (const r of rules) {
      if (r.tests.every((t) => t(doc, status))) {
        return r.then === "running" || r.then === "needs_action" ? null : r.then;
      }
    }
    const w = f(status);
    return succeeded.includes(w) ? "succeeded" : failed.includes(w) ? "failed" : null;
  };
  const options: Partial<WaitOptions> = { decide, success: [], failure: [] };
  if (statusPath) options.statusField = statusPath;
  if (data.hints) options.hints = data.hints.map((h) => h.toLowerCase());
  if (data.headers) options.headers = data.headers;
  if (data.change?.length) {
    options.changeOn = [options.statusField ?? "status", ...data.change];
  }
  return { name: data.name, options };
}
