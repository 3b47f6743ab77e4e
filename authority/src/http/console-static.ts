/**
 * The administration console's static files (docs/console.md): the Vite build in
 * `authority/console/dist/`, served under `/console/` by @fastify/static on the authority's one
 * HTTPS listener; `/` redirects to `/console/`. The console routes by URL hash, so no fallback
 * route is needed. Hashed assets are cached for a year; `index.html` is revalidated.
 * Every answer carries a Content-Security-Policy that allows nothing from another origin.
 *
 * When the console was not built, `/console/` answers 503 with the command that builds it.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyReply } from "fastify";
import type { ApiRouter } from "./api-router.js";
import type { HttpPlugin } from "./server.js";

/** Where the built console is, from `src/http/` as from `dist/http/`. */
export const CONSOLE_DIST = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "console", "dist");

/** The console's URL prefix. */
export const CONSOLE_PREFIX = "/console/";

/** Same origin only; images may be data: URLs (the two-factor QR code); no framing. */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

function securityHeaders(reply: FastifyReply): void {
  reply.header("Content-Security-Policy", CSP);
  reply.header("X-Content-Type-Options", "nosniff");
  reply.header("Referrer-Policy", "no-referrer");
  reply.header("X-Frame-Options", "DENY");
}

/** Registers the console's routes on the listener (`root` defaults to {@link CONSOLE_DIST}). */
export async function registerConsoleStatic(api: ApiRouter, root = CONSOLE_DIST): Promise<void> {
  const app = api.app;
  const hide = { schema: { hide: true } };
  app.get("/", hide, async (_req, reply) => reply.redirect(CONSOLE_PREFIX, 302));
  if (!existsSync(join(root, "index.html"))) {
    app.get(`${CONSOLE_PREFIX}*`, hide, async (_req, reply) => {
      securityHeaders(reply);
      return reply
        .code(503)
        .type("text/plain; charset=utf-8")
        .send("The administration console is not built. Run `npm run build:console -w @cairn/authority`, then restart the authority.\n");
    });
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: CONSOLE_PREFIX,
    index: ["index.html"],
    redirect: false,
    wildcard: true,
    schemaHide: true,
    dotfiles: "deny",
    etag: true,
    lastModified: true,
    cacheControl: false,
    setHeaders: (reply, path) => {
      securityHeaders(reply);
      reply.header("Cache-Control", path.includes(join("dist", "assets")) ? "public, max-age=31536000, immutable" : "no-cache");
    },
  });
  // `/console/` itself: the listener ignores trailing slashes, so the wildcard route never sees it.
  app.get("/console", hide, async (_req, reply) => reply.sendFile("index.html"));
}

/** The console as an {@link HttpPlugin}: add it to the listener's plugins. */
export const CONSOLE_PLUGIN: HttpPlugin = { name: "console", register: (api) => registerConsoleStatic(api) };
