/**
 * The console's only door to the authority: `fetch` against the public REST API (API.md) on the
 * same origin, with the session cookie (HttpOnly, set by the sign-in route) and the CSRF header on
 * every state-changing request. Success bodies come in the `{metadata, data}` envelope, or bare
 * when the payload is falsy (API.md §1.3); errors are `[{name, description}]` (§1.6).
 */
import { signal } from "@preact/signals";

/** Query values the client accepts; `undefined` and `null` leave the parameter out. */
export type QueryValue = string | number | boolean | null | undefined;
/** A query string as an object. */
export type Query = Record<string, QueryValue>;

/** An API failure: the HTTP status and the first error name and description of the body. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, description: string) {
    super(description || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

/** Header that carries the CSRF token of the session on POST, PUT and DELETE. */
export const CSRF_HEADER = "X-CSRF-Token";

/** The CSRF token of the current session (from the session route), or null when signed out. */
export const csrfToken = signal<string | null>(null);
/** Set to true when the authority answers 401 to a request: the session has ended. */
export const sessionLost = signal(false);

/** Builds `path?query` with the parameters that have a value. */
export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") qs.set(k, String(v));
  const s = qs.toString();
  return s ? `${path}?${s}` : path;
}

/** Options of one request. */
export interface RequestOptions {
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
  /** Do not treat a 401 as the end of the session (the sign-in calls). */
  allow401?: boolean;
  accept?: string;
  /** Extra headers (the storage hop's `Authorization: token …`, API.md §9). */
  headers?: Record<string, string>;
  /** Another origin to send to (a storage URL that is not the console's own origin). */
  origin?: string;
}

async function send(method: string, path: string, opts: RequestOptions): Promise<Response> {
  const headers: Record<string, string> = { Accept: opts.accept ?? "application/json", ...opts.headers };
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && method !== "HEAD" && csrfToken.value) headers[CSRF_HEADER] = csrfToken.value;
  const init: RequestInit = { method, headers, credentials: "same-origin", cache: "no-store" };
  if (opts.body !== undefined) init.body = JSON.stringify(opts.body);
  if (opts.signal) init.signal = opts.signal;
  const sameOrigin = !opts.origin || opts.origin === window.location.origin;
  const res = await fetch((sameOrigin ? "" : opts.origin) + withQuery(path, opts.query), init);
  if (!res.ok) throw await toError(res, opts.allow401 === true);
  return res;
}

/**
 * 401 codes that say a value the person typed is wrong (a code, a password), not that the session
 * has ended: enrolling or turning off two-factor authentication answers them to a valid session.
 */
const WRONG_INPUT_401 = new Set(["TOTP_INVALID", "TOTP_REQUIRED", "INVALID_CREDENTIALS"]);

async function toError(res: Response, allow401: boolean): Promise<ApiError> {
  let code = "";
  let description = "";
  try {
    const body: unknown = JSON.parse(await res.text());
    const first = Array.isArray(body) ? body[0] : body;
    if (first && typeof first === "object") {
      const f = first as { name?: unknown; description?: unknown };
      if (typeof f.name === "string") code = f.name;
      if (typeof f.description === "string") description = f.description;
    }
  } catch {
    // Not JSON (a proxy's page, an empty body): the status says enough.
  }
  if (res.status === 401 && !allow401 && !WRONG_INPUT_401.has(code)) sessionLost.value = true;
  if (!description) description = describeStatus(res.status, code);
  return new ApiError(res.status, code, description);
}

function describeStatus(status: number, code: string): string {
  if (status === 404) return code ? `Not found (${code})` : "The authority has no such route or object (404).";
  if (status === 403) return "You are not allowed to do this.";
  if (status === 401) return "Your session has ended. Sign in again.";
  if (status >= 500) return `The authority failed (${code || status}).`;
  return code || `Request failed (HTTP ${status}).`;
}

/** Unwraps the API envelope: `data` when present, the bare body otherwise, undefined for 204. */
async function unwrap<T>(res: Response): Promise<T> {
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  if (!text) return undefined as T;
  const body: unknown = JSON.parse(text);
  if (body && typeof body === "object" && !Array.isArray(body) && "data" in body) return (body as { data: T }).data;
  return body as T;
}

/** GET a JSON payload. */
export async function get<T>(path: string, query?: Query, signal?: AbortSignal, extra: RequestOptions = {}): Promise<T> {
  const opts: RequestOptions = { ...extra };
  if (query) opts.query = query;
  if (signal) opts.signal = signal;
  return unwrap<T>(await send("GET", path, opts));
}

/** POST a JSON body (or none) and read the payload. */
export async function post<T>(path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
  return unwrap<T>(await send("POST", path, body === undefined ? opts : { ...opts, body }));
}

/** PUT a JSON body (or none) and read the payload. */
export async function put<T>(path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
  return unwrap<T>(await send("PUT", path, body === undefined ? opts : { ...opts, body }));
}

/** DELETE, with an optional query and body. */
export async function del<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  return unwrap<T>(await send("DELETE", path, opts));
}

/** A raw request for downloads (CSV, zip): the response after the error check. */
export async function fetchRaw(method: "GET" | "POST", path: string, opts: RequestOptions = {}): Promise<Response> {
  return send(method, path, opts);
}

/** A message for any thrown value, for error states. */
export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) return e.code && !e.message.includes(e.code) ? `${e.message} (${e.code})` : e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
