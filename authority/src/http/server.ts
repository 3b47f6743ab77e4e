/**
 * The authority's one HTTPS listener: fastify with the API.md §1 conventions installed once
 * (case-insensitive routes, trailing slashes, JSON bodies with size and depth limits, the error
 * shape, the envelope), cookies, WebSockets, the OpenAPI document, and the route plugins.
 *
 * Extending it: pass more {@link HttpPlugin}s (`plugins: [...CORE_PLUGINS, devicePlugin]`).
 * A plugin declares REST routes through `api.route(...)` (authenticated, enveloped, listed in
 * the OpenAPI document) and may register WebSocket endpoints on `api.app` with
 * `{ websocket: true }` (@fastify/websocket is installed here with the protocol's limits).
 */
import fastifyCookie from "@fastify/cookie";
import fastifySwagger from "@fastify/swagger";
import fastifyWebsocket from "@fastify/websocket";
import { MAX_CONTROL_FRAME_BYTES, newOpaqueId } from "@cairn/protocol";
import Fastify, { type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { AuthorityContext } from "../context.js";
import { ApiRouter } from "./api-router.js";
import { CONSOLE_PLUGIN } from "./console-static.js";
import { mapError, noSuchRoute } from "./errors.js";
import { installJsonBodies, MAX_JSON_DEPTH } from "./json-body.js";
import { registerAuditRoutes } from "./routes/audit-routes.js";
import { registerAuthRoutes } from "./routes/auth-routes.js";
import { DEVICE_STORAGE_PLUGINS } from "./routes/device-storage-plugins.js";
import { registerExportRoutes } from "./routes/export-routes.js";
import { registerOfferRoutes } from "./routes/offer-routes.js";
import { registerOpenApiRoutes } from "./routes/openapi-routes.js";
import { registerOrgRoutes } from "./routes/org-routes.js";
import { registerRoleRoutes } from "./routes/role-routes.js";
import { registerUserRoutes } from "./routes/user-routes.js";

/** A module of routes (and WebSocket endpoints) on the authority's listener. */
export interface HttpPlugin {
  readonly name: string;
  register(api: ApiRouter, ctx: AuthorityContext): void | Promise<void>;
}

/** The core's route modules: authentication, users, roles, orgs and settings, exports, audit. */
export const CORE_PLUGINS: readonly HttpPlugin[] = [
  { name: "auth", register: registerAuthRoutes },
  { name: "users", register: registerUserRoutes },
  { name: "roles", register: registerRoleRoutes },
  { name: "orgs", register: registerOrgRoutes },
  { name: "offers", register: registerOfferRoutes },
  { name: "exports", register: registerExportRoutes },
  { name: "audit", register: registerAuditRoutes },
  ...DEVICE_STORAGE_PLUGINS,
  CONSOLE_PLUGIN,
];

/** Largest request body (T40: a 100 MB body gets 413). */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

/** Options of {@link buildHttpServer}. */
export interface HttpServerOptions {
  ctx: AuthorityContext;
  tls: { key: string; cert: string };
  logger: Logger;
  /** Route modules, in order (default {@link CORE_PLUGINS}). */
  plugins?: readonly HttpPlugin[];
  bodyLimitBytes?: number;
  maxJsonDepth?: number;
}

/** A route fastify serves, as registered. */
export interface ServedRoute {
  method: string;
  url: string;
  hidden: boolean;
}

/** Builds the server (not yet listening). */
export async function buildHttpServer(o: HttpServerOptions): Promise<{ app: FastifyInstance; api: ApiRouter; served: ServedRoute[] }> {
  const app = Fastify({
    https: { key: o.tls.key, cert: o.tls.cert, minVersion: "TLSv1.2" },
    loggerInstance: o.logger,
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true, maxParamLength: 200 },
    exposeHeadRoutes: false,
    bodyLimit: o.bodyLimitBytes ?? MAX_BODY_BYTES,
    genReqId: () => newOpaqueId(),
    requestTimeout: 120_000,
    trustProxy: false,
  }) as unknown as FastifyInstance;
  await app.register(fastifyCookie);
  await app.register(fastifyWebsocket, { options: { maxPayload: MAX_CONTROL_FRAME_BYTES, perMessageDeflate: false } });
  await app.register(fastifySwagger, {
    openapi: {
      openapi: "3.0.3",
      info: { title: "Cairn authority API", version: "1", description: "The platform API of API.md (py42-compatible) and Cairn's own /api/v1 routes" },
      components: {
        securitySchemes: {
          bearer: { type: "http", scheme: "bearer", description: "A JWT from /c42api/v3/auth/jwt, or an API token cna_…" },
          basic: { type: "http", scheme: "basic", description: "Username and password (not for two-factor users)" },
          session: { type: "apiKey", in: "cookie", name: "cairn_session", description: "Console session; state changes need X-CSRF-Token" },
        },
      },
    },
  });
  installJsonBodies(app, o.maxJsonDepth ?? MAX_JSON_DEPTH);
  const served: ServedRoute[] = [];
  app.addHook("onRoute", (r) => {
    for (const m of Array.isArray(r.method) ? r.method : [r.method])
      served.push({ method: m, url: r.url, hidden: (r.schema as { hide?: boolean } | undefined)?.hide === true });
  });
  app.setErrorHandler((err, req, reply) => {
    const m = mapError(err);
    if (m.internal) req.log.error({ err }, "request failed");
    else req.log.info({ code: m.body[0]?.name, status: m.status }, "request refused");
    void reply.code(m.status).type("application/json; charset=utf-8").send(m.body);
  });
  app.setNotFoundHandler((_req, reply) => {
    const m = mapError(noSuchRoute());
    void reply.code(m.status).type("application/json; charset=utf-8").send(m.body);
  });
  const api = new ApiRouter(app, o.ctx);
  for (const plugin of o.plugins ?? CORE_PLUGINS) await plugin.register(api, o.ctx);
  registerOpenApiRoutes(api, app);
  return { app, api, served };
}
