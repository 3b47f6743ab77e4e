/**
 * Every failure leaves the server as API.md §1.6 says: the registry's HTTP status and
 * `[{"name":"<CODE>","description":"…","objects":[]}]`. One function maps any thrown value;
 * unexpected errors become `500 SYSTEM` with a generic description, and the cause is logged with
 * the request id, never sent (CONVENTIONS.md B6).
 */
import { CairnError, ERROR_CODES, isCairnError } from "@cairn/protocol";

/** The wire shape of one error. */
export interface ApiError {
  name: string;
  description: string;
  objects: unknown[];
}

/** What to send for an error. */
export interface MappedError {
  status: number;
  body: ApiError[];
  /** Whether this is our fault (log at error level). */
  internal: boolean;
}

const FASTIFY_CODES: Record<string, { code: keyof typeof ERROR_CODES; message: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: "PAYLOAD_TOO_LARGE", message: "The request body is larger than allowed" },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: "BAD_REQUEST", message: "Send request bodies as application/json" },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: "BAD_REQUEST", message: "The request body is not valid JSON" },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: "BAD_REQUEST", message: "The request body is empty" },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { code: "BAD_REQUEST", message: "Content-Length does not match the body" },
  FST_ERR_VALIDATION: { code: "BAD_REQUEST", message: "The request is malformed" },
};

/** Builds one error body. */
export function errorBody(code: string, description: string): ApiError[] {
  return [{ name: code, description, objects: [] }];
}

/** Maps any thrown value to a status and body. */
export function mapError(err: unknown): MappedError {
  if (isCairnError(err)) {
    const spec = err.spec;
    const internal = spec.http >= 500 && (err.code === "INTERNAL" || err.code === "SYSTEM");
    const description = internal ? "An unexpected error occurred" : err.message;
    return { status: spec.http, body: errorBody(internal ? "SYSTEM" : err.code, description), internal };
  }
  const e = err as { code?: unknown; statusCode?: unknown; validation?: unknown } | null;
  const known = typeof e?.code === "string" ? FASTIFY_CODES[e.code] : undefined;
  if (known) return { status: ERROR_CODES[known.code].http, body: errorBody(known.code, known.message), internal: false };
  if (e?.validation !== undefined) return { status: 400, body: errorBody("BAD_REQUEST", "The request is malformed"), internal: false };
  if (err instanceof SyntaxError) return { status: 400, body: errorBody("BAD_REQUEST", "The request body is not valid JSON"), internal: false };
  const status = typeof e?.statusCode === "number" ? e.statusCode : 500;
  if (status >= 400 && status < 500) return { status, body: errorBody("BAD_REQUEST", "The request is malformed"), internal: false };
  return { status: 500, body: errorBody("SYSTEM", "An unexpected error occurred"), internal: true };
}

/** NOT_FOUND for an unknown route. */
export const noSuchRoute = (): CairnError => new CairnError("NOT_FOUND", "No such route");
