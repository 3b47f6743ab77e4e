/**
 * Request parameters as py42 sends them (API.md §1.2): Python booleans (`True`/`False`, any
 * case, also true/false/1/0), ids as numbers or numeric strings, paging with pgNum/pgSize
 * (honoured up to 10,000), `idType` to route by uid. Bad values are BAD_REQUEST before any query
 * runs (T33).
 */
import { CairnError, GUID_PATTERN } from "@cairn/protocol";
import type { Page } from "../db/store.js";

/** Largest page a caller may ask for (API.md: at least 1000 must work). */
export const MAX_PAGE_SIZE = 10_000;
/** Page size when a caller sends none (py42's own default). */
export const DEFAULT_PAGE_SIZE = 500;

/** The first value of a query parameter, as a string. */
export function queryValue(q: Record<string, unknown>, name: string): string | undefined {
  const v = q[name];
  const first = Array.isArray(v) ? v[0] : v;
  return first === undefined || first === null ? undefined : String(first);
}

/** A boolean parameter; undefined when absent or empty. */
export function boolParam(q: Record<string, unknown>, name: string): boolean | undefined {
  const v = queryValue(q, name);
  if (v === undefined || v === "") return undefined;
  const s = v.trim().toLowerCase();
  if (s === "true" || s === "1") return true;
  if (s === "false" || s === "0") return false;
  throw new CairnError("BAD_REQUEST", `${name} must be True or False`, { details: { field: name } });
}

/** A numeric id (1 to 18 digits) from a path, query or body value. */
export function numericId(v: unknown, name: string): number {
  const s = typeof v === "number" ? String(v) : typeof v === "string" ? v.trim() : "";
  if (!/^[0-9]{1,15}$/.test(s) || Number(s) < 1) throw new CairnError("BAD_REQUEST", `${name} must be a numeric id`, { details: { field: name } });
  return Number(s);
}

/** What a path's id names, for its 404 (the services' own wording for an unknown id). */
const PATH_NOUNS: Record<string, string> = {
  orgId: "organization",
  orgUid: "organization",
  userId: "user",
  userUid: "user",
  computerId: "device",
  deviceGuid: "device",
  archiveGuid: "archive",
  destinationId: "destination",
  destinationGuid: "destination",
  storePointId: "store point",
  tokenId: "API token",
  legalHoldUid: "legal hold",
};

/** Digits that no id can be (too long, 0): the id names nothing, as an unknown one does. */
function noSuch(name: string): CairnError {
  return new CairnError("NOT_FOUND", `No such ${PATH_NOUNS[name] ?? "object"}`);
}

/**
 * A numeric id in a URL path: 404 for digits that cannot be an id (a uid sent without its
 * idType is all digits too, API.md §1.4: it names no such id), 400 for anything else.
 */
export function pathId(v: unknown, name: string): number {
  const s = typeof v === "string" ? v.trim() : "";
  if (/^[0-9]+$/.test(s) && (s.length > 15 || Number(s) < 1)) throw noSuch(name);
  return numericId(v, name);
}

/** A uid/guid in a URL path: 404 for digits that cannot be one (a numeric id sent with idType=uid), 400 otherwise. */
export function pathGuid(v: unknown, name: string): string {
  const s = typeof v === "string" ? v.trim() : "";
  if (/^[0-9]+$/.test(s) && !GUID_PATTERN.test(s)) throw noSuch(name);
  return guidValue(v, name);
}

/** An optional numeric id parameter. */
export function optionalId(q: Record<string, unknown>, name: string): number | undefined {
  const v = queryValue(q, name);
  return v === undefined || v === "" ? undefined : numericId(v, name);
}

/** A uid/guid (18 decimal digits) from a path, query or body value. */
export function guidValue(v: unknown, name: string): string {
  const s = typeof v === "number" && Number.isSafeInteger(v) ? String(v) : typeof v === "string" ? v.trim() : "";
  if (!GUID_PATTERN.test(s)) throw new CairnError("BAD_REQUEST", `${name} must be a decimal uid`, { details: { field: name } });
  return s;
}

/** `idType` (case-insensitive); absent or `id` means the numeric id. */
export function idType(q: Record<string, unknown>): string {
  return (queryValue(q, "idType") ?? "id").toLowerCase();
}

/** An optional free-text parameter of bounded length. */
export function textParam(q: Record<string, unknown>, name: string, max = 200): string | undefined {
  const v = queryValue(q, name);
  if (v === undefined || v === "") return undefined;
  if (v.length > max || v.includes("\0")) throw new CairnError("BAD_REQUEST", `${name} is too long or malformed`, { details: { field: name } });
  return v;
}

/** pgNum (1-based) and pgSize → a store page. */
export function pageParams(q: Record<string, unknown>): Page {
  const num = queryValue(q, "pgNum");
  const size = queryValue(q, "pgSize");
  const pgNum = num === undefined || num === "" ? 1 : Number(num);
  const pgSize = size === undefined || size === "" ? DEFAULT_PAGE_SIZE : Number(size);
  if (!Number.isSafeInteger(pgNum) || pgNum < 1) throw new CairnError("BAD_REQUEST", "pgNum must be a positive integer");
  if (!Number.isSafeInteger(pgSize) || pgSize < 1 || pgSize > MAX_PAGE_SIZE) throw new CairnError("BAD_REQUEST", `pgSize must be 1 to ${MAX_PAGE_SIZE}`);
  return { offset: (pgNum - 1) * pgSize, limit: pgSize };
}

/** The body as an object (BAD_REQUEST otherwise); an absent body is `{}`. */
export function bodyObject(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== "object" || Array.isArray(body)) throw new CairnError("BAD_REQUEST", "The request body must be a JSON object");
  return body as Record<string, unknown>;
}

/** srtKey / srtDir, checked against the list's keys (T32: no sort injection). */
export function sortParams(q: Record<string, unknown>, keys: readonly string[]): { key: string; dir: "asc" | "desc" } | undefined {
  const key = queryValue(q, "srtKey");
  const dir = (queryValue(q, "srtDir") ?? "asc").toLowerCase();
  if (key === undefined || key === "") return undefined;
  const k = keys.find((x) => x.toLowerCase() === key.toLowerCase());
  if (k === undefined) throw new CairnError("BAD_REQUEST", `srtKey is one of ${keys.join(", ")}`, { details: { field: "srtKey" } });
  if (dir !== "asc" && dir !== "desc") throw new CairnError("BAD_REQUEST", "srtDir is asc or desc", { details: { field: "srtDir" } });
  return { key: k, dir };
}
