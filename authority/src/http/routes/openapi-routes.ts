/**
 * The served OpenAPI 3 document of every route (platform and Cairn's own), and a health check.
 * Registered last, so the document covers every route the other plugins declared.
 */
import type { FastifyInstance } from "fastify";
import type { ApiRouter } from "../api-router.js";
import { SENT } from "../api-router.js";

/** Where the document is served. */
export const OPENAPI_PATH = "/api/v1/openapi.json";

/** Registers the document and health routes. */
export function registerOpenApiRoutes(api: ApiRouter, app: FastifyInstance): void {
  api.route({
    method: "GET",
    url: "/api/v1/health",
    auth: "none",
    summary: "Liveness: the authority answers",
    tags: ["meta"],
    handler: async () => ({ status: "ok" }),
  });
  api.route({
    method: "GET",
    url: OPENAPI_PATH,
    auth: "none",
    summary: "This OpenAPI 3 document",
    tags: ["meta"],
    handler: async ({ reply }) => {
      reply.code(200).type("application/json; charset=utf-8").send(app.swagger());
      return SENT;
    },
  });
}
