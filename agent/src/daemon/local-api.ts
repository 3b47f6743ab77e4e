/**
 * The daemon's local API: HTTP over a unix socket (`agent.sock` in the data directory, mode
 * 0600), no TCP port. The CLI uses it to ask a running daemon for live status and to reload the
 * selection; every command also works without it.
 */
import { chmodSync, existsSync, rmSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";

/** The socket path of a data directory. */
export function socketPath(dataDir: string): string {
  return join(dataDir, "agent.sock");
}

/** Handlers the daemon provides. */
export interface LocalApiHandlers {
  status(): unknown;
  reload(): Promise<unknown>;
  backup(): Promise<unknown>;
  /** `GET /readyz`: the readiness document and whether it is ready (503 otherwise). */
  readiness?(): { ready: boolean; body: unknown };
  /** `GET /metrics`: Prometheus text and its content type. */
  metrics?(): Promise<{ contentType: string; text: string }>;
}

/** Starts the local API; returns its close function. */
export async function startLocalApi(dataDir: string, h: LocalApiHandlers): Promise<() => Promise<void>> {
  const { default: Fastify } = await import("fastify");
  const app = Fastify({ logger: false });
  app.get("/status", async () => h.status());
  app.post("/reload", async () => h.reload());
  app.post("/backup", async () => h.backup());
  app.get("/healthz", async () => ({ status: "ok" }));
  const { readiness, metrics } = h;
  if (readiness)
    app.get("/readyz", async (_req, reply) => {
      const r = readiness();
      return reply.code(r.ready ? 200 : 503).send(r.body);
    });
  if (metrics)
    app.get("/metrics", async (_req, reply) => {
      const m = await metrics();
      return reply.type(m.contentType).send(m.text);
    });
  const path = socketPath(dataDir);
  if (existsSync(path)) rmSync(path, { force: true });
  await app.listen({ path });
  chmodSync(path, 0o600);
  return async () => {
    await app.close();
    rmSync(path, { force: true });
  };
}

/** Calls a running daemon; rejects when none listens. */
export function callDaemon(dataDir: string, method: "GET" | "POST", path: string, timeoutMs = 5000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socketPath(dataDir), method, path, timeout: timeoutMs }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => {
        try {
          resolve(body ? JSON.parse(body) : null);
        } catch (err) {
          reject(err);
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error("daemon did not answer")));
    req.on("error", reject);
    req.end();
  });
}
