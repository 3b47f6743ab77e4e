/**
 * Health and metrics of a running authority: `GET /healthz` (liveness: the process answers),
 * `GET /readyz` (the database answers with this authority's GUID, the data directory's file
 * system has more free space than the reserve; storage nodes connected / known as a summary that
 * never fails readiness: agents back up to nodes without the authority), and `GET /metrics`
 * (Prometheus text). They are served on the HTTPS listener and, when the operator chooses an
 * address, on a separate plain-HTTP listener (then `/metrics` leaves the HTTPS port).
 */
import { statfsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AuthorityContext } from "../context.js";
import type { HttpPlugin } from "../http/server.js";
import { operationsOf } from "../operations-plugins.js";
import { AuthorityMetrics } from "./metrics.js";

/** Options of {@link healthPlugin}. */
export interface HealthOptions {
  dataDir: string;
  /** Free bytes below which /readyz fails. */
  reserveBytes: number;
  /** Serve /metrics on the HTTPS listener (false when a separate metrics address is set). */
  metricsOnHttps: boolean;
}

/** The /readyz document. */
export interface Readiness {
  status: "ok" | "fail";
  checks: {
    database: { status: "ok" | "fail"; error?: string };
    disk: { status: "ok" | "fail"; freeBytes: number | null; reserveBytes: number };
    nodes: { status: "ok"; connected: number; known: number };
  };
}

/** Evaluates readiness now. */
export async function readiness(ctx: AuthorityContext, o: Pick<HealthOptions, "dataDir" | "reserveBytes">): Promise<Readiness> {
  let database: Readiness["checks"]["database"] = { status: "ok" };
  try {
    const guid = await ctx.store.getMeta("authority_guid");
    if (guid !== ctx.authorityGuid) database = { status: "fail", error: "the database does not hold this authority" };
  } catch (err) {
    database = { status: "fail", error: (err as Error).message.slice(0, 200) };
  }
  let freeBytes: number | null = null;
  try {
    const s = statfsSync(o.dataDir);
    freeBytes = s.bavail * s.bsize;
  } catch {
    freeBytes = null;
  }
  const disk = { status: freeBytes !== null && freeBytes >= o.reserveBytes ? ("ok" as const) : ("fail" as const), freeBytes, reserveBytes: o.reserveBytes };
  let known = 0;
  try {
    known = (await ctx.store.listServers({}, { offset: 0, limit: 1 })).total;
  } catch {
    known = 0;
  }
  const nodes = { status: "ok" as const, connected: ctx.nodes.all().length, known };
  return { status: database.status === "ok" && disk.status === "ok" ? "ok" : "fail", checks: { database, disk, nodes } };
}

const metricsOf = new WeakMap<AuthorityContext, AuthorityMetrics>();

/** The metrics of the authority that owns `ctx` (undefined when the plugin is not registered). */
export function authorityMetricsOf(ctx: AuthorityContext): AuthorityMetrics | undefined {
  return metricsOf.get(ctx);
}

/** The plugin: routes on the HTTPS listener, request latencies, bytes of every connection. */
export function healthPlugin(o: HealthOptions): HttpPlugin {
  return {
    name: "health",
    register(api, ctx) {
      const metrics = new AuthorityMetrics(ctx);
      metricsOf.set(ctx, metrics);
      metrics.setOperations(() => {
        try {
          return operationsOf(ctx);
        } catch {
          return undefined;
        }
      });
      const app = api.app;
      app.server.on("connection", (s) => metrics.track(s));
      app.addHook("onResponse", (req, reply, done) => {
        const route = req.routeOptions.url ?? "(unmatched)";
        if (route !== "/metrics")
          metrics.requestDuration.observe({ route, method: req.method, status: `${Math.floor(reply.statusCode / 100)}xx` }, reply.elapsedTime / 1000);
        done();
      });
      const hide = { schema: { hide: true } };
      app.get("/healthz", hide, async () => ({ status: "ok" }));
      app.get("/readyz", hide, async (_req, reply) => {
        const r = await readiness(ctx, o);
        return reply.code(r.status === "ok" ? 200 : 503).send(r);
      });
      if (o.metricsOnHttps) {
        app.get("/metrics", hide, async (_req, reply) => reply.type(metrics.registry.contentType).send(await metrics.text()));
      }
    },
  };
}

/** A separate plain-HTTP listener for /metrics, /healthz and /readyz on an operator-chosen address. */
export function listenMetrics(ctx: AuthorityContext, o: Pick<HealthOptions, "dataDir" | "reserveBytes">, host: string, port: number): Promise<Server> {
  const s = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    const json = (status: number, body: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    const metrics = metricsOf.get(ctx);
    if (req.method !== "GET") return json(405, { error: { code: "BAD_REQUEST", message: "only GET" } });
    if (path === "/healthz") return json(200, { status: "ok" });
    if (path === "/readyz") {
      readiness(ctx, o).then(
        (r) => json(r.status === "ok" ? 200 : 503, r),
        () => json(503, { status: "fail" }),
      );
      return;
    }
    if (path === "/metrics" && metrics) {
      metrics.text().then(
        (t) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(t),
        () => res.writeHead(500).end(),
      );
      return;
    }
    json(404, { error: { code: "NOT_FOUND", message: "not found" } });
  });
  return new Promise((resolve, reject) => {
    s.once("error", reject);
    s.listen(port, host, () => {
      s.off("error", reject);
      resolve(s);
    });
  });
}
