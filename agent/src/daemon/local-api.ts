/**
 * The daemon's local API: HTTP over a unix socket (`agent.sock` in the data directory, mode
 * 0600), no TCP port. The CLI uses it to ask a running daemon for live status, to reload the
 * selection and to back up now (`cairn agent backup` while `serve` runs: the daemon backs up
 * what its watcher saw change, and answers once the version is committed); every command also
 * works without it.
 *
 * Routes: `GET /status`, `POST /reload`, `POST /backup` (body `{"full": true}` optional; answers
 * `{result}` with the backup's summary, or an error status with `{error: {code, message}}`),
 * `GET /healthz`, `GET /readyz`, `GET /metrics`.
 */
import { chmodSync, existsSync, rmSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { CairnError, fromWire, isCairnError, type WireError } from "@cairn/protocol";

/** The socket path of a data directory. */
export function socketPath(dataDir: string): string {
  return join(dataDir, "agent.sock");
}

/** Handlers the daemon provides. */
export interface LocalApiHandlers {
  status(): unknown;
  reload(): Promise<unknown>;
  /** `POST /backup`: back up now and resolve with the committed version's summary. */
  backup(body: { full?: boolean }): Promise<unknown>;
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
  app.post("/backup", async (req, reply) => {
    const body = (req.body ?? {}) as { full?: unknown };
    try {
      return { result: await h.backup({ full: body.full === true }) };
    } catch (err) {
      const ce = isCairnError(err) ? err : new CairnError("INTERNAL", "the backup failed", { cause: err });
      return reply.code(ce.spec.http >= 400 ? ce.spec.http : 500).send({ error: ce.toWire() });
    }
  });
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

interface DaemonAnswer {
  status: number;
  body: unknown;
}

function daemonRequest(dataDir: string, method: "GET" | "POST", path: string, body: unknown, timeoutMs: number, signal?: AbortSignal): Promise<DaemonAnswer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        socketPath: socketPath(dataDir),
        method,
        path,
        // a socket of its own: Node's global agent times idle sockets out after 5 s, which cut
        // `POST /backup` (it answers only once the version is committed) after 5 s of backup
        agent: false,
        timeout: timeoutMs,
        ...(signal ? { signal } : {}),
        headers: payload === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => {
          text += c;
        });
        res.on("end", () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null });
          } catch (err) {
            reject(err);
          }
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("daemon did not answer")));
    req.on("error", reject);
    req.end(payload);
  });
}

/** Calls a running daemon; rejects when none listens. */
export async function callDaemon(dataDir: string, method: "GET" | "POST", path: string, timeoutMs = 5000): Promise<unknown> {
  return (await daemonRequest(dataDir, method, path, undefined, timeoutMs)).body;
}

/** Whether an error means that no daemon listens on the socket (absent, stale, or not ours to use). */
function noDaemon(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === "ENOENT" || code === "ECONNREFUSED" || code === "EACCES" || code === "EPERM" || code === "ENOTSOCK";
}

/** Options of {@link backupThroughDaemon}. */
export interface DaemonBackupOptions {
  /** Have the daemon scan everything instead of using its watcher's paths. */
  full?: boolean;
  /** Called about every `statusEveryMs` with the daemon's progress while it backs up. */
  onProgress?: (progress: unknown) => void;
  statusEveryMs?: number;
  signal?: AbortSignal;
}

/**
 * Asks the daemon serving `dataDir` to back up now and waits for the committed version: its
 * summary, or null when no daemon listens there (the caller backs up itself). A backup the daemon
 * ran and that failed rejects with its error.
 */
export async function backupThroughDaemon(dataDir: string, o: DaemonBackupOptions = {}): Promise<unknown | null> {
  if (!existsSync(socketPath(dataDir))) return null;
  const poll = o.onProgress
    ? setInterval(() => {
        daemonRequest(dataDir, "GET", "/status", undefined, 5000)
          .then((a) => {
            const p = (a.body as { progress?: unknown } | null)?.progress;
            if (p) o.onProgress?.(p);
          })
          .catch(() => undefined);
      }, o.statusEveryMs ?? 1000)
    : null;
  poll?.unref();
  try {
    let answer: DaemonAnswer;
    try {
      answer = await daemonRequest(dataDir, "POST", "/backup", { full: o.full === true }, 0, o.signal);
    } catch (err) {
      if (noDaemon(err)) return null;
      if (o.signal?.aborted) throw new CairnError("CANCELLED", "stopped waiting; the daemon's backup goes on");
      throw new CairnError("UNAVAILABLE", `the agent daemon did not answer: ${(err as Error).message}`, { cause: err });
    }
    const body = answer.body as { result?: unknown; error?: WireError } | null;
    if (answer.status === 200 && body && "result" in body) return body.result;
    if (body?.error) throw fromWire(body.error);
    throw new CairnError("INTERNAL", `the agent daemon answered HTTP ${answer.status}`);
  } finally {
    if (poll) clearInterval(poll);
  }
}
