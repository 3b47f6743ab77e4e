/**
 * Who is calling: `Authorization: Bearer <jwt | cna_ token>`, `Authorization: Basic` (scripts;
 * refused for two-factor users, API.md §2.3), or the console's session cookie. Session requests
 * that change state must carry the session's CSRF token in `X-CSRF-Token`, and a cross-site
 * `Origin` / `Sec-Fetch-Site` is refused (T31); SameSite=Strict keeps the cookie home anyway.
 */
import { CairnError, safeEqual } from "@cairn/protocol";
import type {} from "@fastify/cookie";
import type { FastifyRequest } from "fastify";
import type { Principal } from "../auth/access.js";
import { SESSION_COOKIE } from "../auth/auth-service.js";
import type { AuthorityContext } from "../context.js";

/** The CSRF header the console sends. */
export const CSRF_HEADER = "x-csrf-token";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Refuses a cross-site browser request (Origin or Fetch Metadata say so). */
export function assertSameOrigin(req: FastifyRequest): void {
  const site = req.headers["sec-fetch-site"];
  if (typeof site === "string" && site !== "same-origin" && site !== "none") throw new CairnError("FORBIDDEN", "Cross-site requests are refused");
  const origin = req.headers.origin;
  if (typeof origin === "string" && origin !== "null") {
    const host = req.headers.host;
    if (host === undefined || origin.toLowerCase() !== `https://${host}`.toLowerCase()) throw new CairnError("FORBIDDEN", "Cross-site requests are refused");
  }
  if (origin === "null") throw new CairnError("FORBIDDEN", "Cross-site requests are refused");
}

function basicCredentials(header: string): { username: string; password: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!m) return undefined;
  const text = Buffer.from(m[1] as string, "base64").toString("utf8");
  const i = text.indexOf(":");
  return i < 0 ? undefined : { username: text.slice(0, i), password: text.slice(i + 1) };
}

/** The `Basic` credentials of a request, if any (the JWT route reads them). */
export function basicAuth(req: FastifyRequest): { username: string; password: string } | undefined {
  const h = req.headers.authorization;
  return typeof h === "string" ? basicCredentials(h) : undefined;
}

/** Authenticates a request; throws 401-class errors (and 403 for a failed CSRF check). */
export async function authenticate(ctx: AuthorityContext, req: FastifyRequest): Promise<Principal> {
  const source = req.ip;
  const h = req.headers.authorization;
  if (typeof h === "string" && h.trim() !== "") {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(h);
    if (bearer) return ctx.auth.authenticateBearer(bearer[1] as string, source, req.id);
    const basic = basicCredentials(h);
    if (basic) {
      const { user } = await ctx.auth.signIn(basic.username, basic.password, null, source, "basic");
      return ctx.auth.principalFor(user, "basic", source, req.id);
    }
    throw new CairnError("UNAUTHORIZED", "Unsupported Authorization scheme");
  }
  const cookie = req.cookies[SESSION_COOKIE];
  if (typeof cookie === "string" && cookie !== "") {
    const p = await ctx.auth.authenticateSession(cookie, source, req.id);
    if (!SAFE_METHODS.has(req.method)) {
      assertSameOrigin(req);
      const sent = req.headers[CSRF_HEADER];
      if (typeof sent !== "string" || !safeEqual(sent, ctx.auth.csrfFor(cookie))) throw new CairnError("FORBIDDEN", "The CSRF token is missing or wrong");
    }
    return p;
  }
  throw new CairnError("UNAUTHORIZED", "Authentication required");
}
