/**
 * API.md §1.3: success bodies are `{"metadata":{…},"data":<payload>}`, except that a falsy
 * payload (in Python's terms: null, false, 0, "", [], {}) is written bare, because py42 reads
 * `data` only when it is truthy and would otherwise see the envelope itself.
 */
import { isoTime } from "@cairn/protocol";

/** Python's truthiness, for JSON values. */
export function isPythonFalsy(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === "") return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === "object") return Object.keys(v as object).length === 0;
  return false;
}

/** The body for a successful response carrying `data`. */
export function envelope(data: unknown, query: Record<string, unknown>, now: number): unknown {
  if (isPythonFalsy(data)) return data ?? null;
  const params: Record<string, string> = {};
  for (const [k, v] of Object.entries(query)) params[k] = Array.isArray(v) ? v.map(String).join(",") : String(v);
  return { metadata: { timestamp: isoTime(now), params }, data };
}
