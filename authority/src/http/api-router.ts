/**
 * How routes are declared: one {@link ApiRouter.route} call per method and path, with its
 * authentication, OpenAPI summary and handler. The router authenticates (API.md §2.3), enforces
 * two-factor enrollment, writes the envelope (falsy payloads bare) or 204, and records every
 * route so the OpenAPI document and the route table can be compared.
 */
import type {} from "@fastify/swagger";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { CairnError, isCairnError } from "@cairn/protocol";
import { auditDenied } from "../audit/audit.js";
import type { Principal } from "../auth/access.js";
import type { AuthorityContext } from "../context.js";
import { envelope } from "./envelope.js";
import { authenticate } from "./request-auth.js";

/** Return this from a handler for `204 No Content`. */
export const NO_CONTENT: unique symbol = Symbol("no content");
/** Return this from a handler that wrote the reply itself (downloads). */
export const SENT: unique symbol = Symbol("sent");

/** An HTTP method the API uses. */
export type Method = "GET" | "POST" | "PUT" | "DELETE";

/** One call, as a handler sees it. */
export interface ApiCall<P extends Principal | null = Principal> {
  req: FastifyRequest;
  reply: FastifyReply;
  /** The caller (null on unauthenticated routes). */
  p: P;
  query: Record<string, unknown>;
  params: Record<string, string>;
  body: unknown;
}

interface RouteBase {
  method: Method;
  /** Path in the platform's spelling (`/api/User/:id`); matched case-insensitively. */
  url: string;
  summary: string;
  tags: string[];
  description?: string;
  /** A session still enrolling two-factor authentication may call this route. */
  allowEnrollOnly?: boolean;
}

/** A route that needs a signed-in caller. */
export interface AuthedRoute extends RouteBase {
  auth: "user";
  handler(call: ApiCall<Principal>): Promise<unknown>;
}

/** A route anyone may call (sign-in, the login configuration, the OpenAPI document). */
export interface OpenRoute extends RouteBase {
  auth: "none";
  handler(call: ApiCall<null>): Promise<unknown>;
}

/** One declared route. */
export type RouteDef = AuthedRoute | OpenRoute;

/** A route as recorded for the OpenAPI comparison. */
export interface RouteRecord {
  method: Method;
  url: string;
  auth: RouteDef["auth"];
}

/**
 * Runs `fn` for `p` and audits a FORBIDDEN or NOT_FOUND it throws (T24: attempts on what the
 * caller may not see or change). The router does this for every `auth: "user"` route; routes
 * that authenticate themselves (the storage endpoints of API.md §9) call it with their caller.
 */
export async function auditingDenials<T>(
  ctx: AuthorityContext,
  p: Principal,
  def: Pick<RouteBase, "method" | "url">,
  req: FastifyRequest,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isCairnError(err, "FORBIDDEN") || isCairnError(err, "NOT_FOUND")) {
      await auditDenied(ctx.store, p, ctx.clock.now(), `${def.method} ${def.url}`, { type: "request", id: req.url.slice(0, 300), orgId: p.orgId }, err.code);
    }
    throw err;
  }
}

const SECURITY = [{ bearer: [] }, { basic: [] }, { session: [] }];

/** Declares routes on the fastify instance. */
export class ApiRouter {
  readonly routes: RouteRecord[] = [];

  constructor(
    readonly app: FastifyInstance,
    readonly ctx: AuthorityContext,
  ) {}

  /** Adds one route. */
  route(def: RouteDef): void {
    this.routes.push({ method: def.method, url: def.url, auth: def.auth });
    const ctx = this.ctx;
    this.app.route({
      method: def.method,
      url: def.url,
      schema: {
        summary: def.summary,
        tags: def.tags,
        ...(def.description !== undefined ? { description: def.description } : {}),
        ...(def.auth === "user" ? { security: SECURITY } : { security: [] }),
      },
      handler: async (req, reply) => {
        const base = { req, reply, query: (req.query ?? {}) as Record<string, unknown>, params: (req.params ?? {}) as Record<string, string>, body: req.body };
        let result: unknown;
        if (def.auth === "user") {
          const p = await authenticate(ctx, req);
          if (p.enrollOnly === true && def.allowEnrollOnly !== true) {
            throw new CairnError("FORBIDDEN", "Set up two-factor authentication first (POST /api/v1/totp)");
          }
          result = await auditingDenials(ctx, p, def, req, () => def.handler({ ...base, p }));
        } else {
          result = await def.handler({ ...base, p: null });
        }
        if (result === SENT) return reply;
        if (result === NO_CONTENT) return reply.code(204).send();
        return reply
          .code(200)
          .type("application/json; charset=utf-8")
          .send(envelope(result, base.query, ctx.clock.now()));
      },
    });
  }
}
