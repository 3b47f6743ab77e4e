/**
 * The node's one HTTPS listener: `GET /healthz`, `/readyz`, `/metrics`, and two WebSocket
 * endpoints in `noServer` mode, authenticated in the HTTP `upgrade` handler before any frame:
 * `/v1/data` (Bearer storage token) and `/v1/tenant` (Bearer tenant secret, or none to
 * register). Subprotocol `cairn.vN` is negotiated there too (426 naming both version lists).
 * Limits: maxPayload per channel, no permessage-deflate, bounded fragments, connection caps
 * overall and per device, TLS handshake and header deadlines, ping/pong heartbeat (T39, T40).
 */
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import {
  CairnError,
  hashSecret,
  isCairnError,
  MAX_CONTROL_FRAME_BYTES,
  MAX_DATA_FRAME_BYTES,
  PROTOCOL_VERSIONS,
  parseSubprotocol,
  requireVersion,
  subprotocolName,
} from "@cairn/protocol";
import type WebSocket from "ws";
import { WebSocketServer } from "ws";
import { authenticateStorage } from "../auth.js";
import type { NodeContext } from "../context.js";
import { acceptRegistration, acceptTenant } from "../control/tenant-link.js";
import { DataConnection } from "./data-connection.js";

const NEGOTIATED = Symbol("cairn.version");

/** Writes an HTTP error on a raw socket (before the upgrade). */
function refuse(socket: Duplex, err: CairnError, extraHeaders: Record<string, string> = {}): void {
  const body = JSON.stringify({ error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } });
  const status = err.spec.http;
  const headers = { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), connection: "close", ...extraHeaders };
  const head = `HTTP/1.1 ${status} ${status === 426 ? "Upgrade Required" : "Error"}\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}`)
    .join("\r\n")}\r\n\r\n`;
  socket.end(head + body);
}

function bearer(req: IncomingMessage): string | null {
  const h = req.headers.authorization;
  if (typeof h !== "string") return null;
  const m = /^Bearer\s+(\S{1,4096})$/i.exec(h.trim());
  return m ? (m[1] as string) : null;
}

/** The HTTPS server and its WebSocket endpoints. */
export class NodeServer {
  readonly server: Server;
  private readonly dataWss: WebSocketServer;
  private readonly tenantWss: WebSocketServer;
  private heartbeat: NodeJS.Timeout | null = null;
  private readonly alive = new WeakMap<WebSocket, boolean>();

  constructor(private readonly ctx: NodeContext) {
    const wsOpts = {
      noServer: true,
      perMessageDeflate: false,
      clientTracking: true,
      // ws ≥ 8.21: bound fragments and buffered chunks of one message (T39).
      maxFragments: 1024,
      handleProtocols: (_p: Set<string>, req: IncomingMessage) => subprotocolName((req as unknown as Record<symbol, number>)[NEGOTIATED] ?? 1),
    };
    this.dataWss = new WebSocketServer({ ...wsOpts, maxPayload: MAX_DATA_FRAME_BYTES });
    this.tenantWss = new WebSocketServer({ ...wsOpts, maxPayload: MAX_CONTROL_FRAME_BYTES });
    const tlsOpts = {
      key: ctx.tls.key,
      cert: ctx.tls.cert,
      minVersion: "TLSv1.2" as const,
      handshakeTimeout: ctx.opts.authDeadlineMs,
      // Check header deadlines often enough that a silent connection goes within the auth deadline (T40).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(ctx.opts.authDeadlineMs / 4))),
    };
    this.server = createServer(tlsOpts, (req, res) => {
      this.request(req, res).catch((err: unknown) => {
        ctx.logger.error({ err }, "http request failed");
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    this.server.headersTimeout = ctx.opts.authDeadlineMs;
    this.server.requestTimeout = ctx.opts.authDeadlineMs * 3;
    this.server.keepAliveTimeout = 5000;
    this.server.maxHeadersCount = 64;
    this.server.maxConnections = ctx.opts.maxConnections + 64;
    this.server.on("upgrade", (req, socket, head) => {
      socket.on("error", () => socket.destroy());
      try {
        this.upgrade(req as IncomingMessage, socket, head);
      } catch (err) {
        refuse(socket, isCairnError(err) ? err : new CairnError("INTERNAL", "internal error"));
        if (!isCairnError(err)) ctx.logger.error({ err }, "upgrade failed");
      }
    });
    this.server.on("clientError", (_err, socket) => socket.destroy());
  }

  /** Listens; resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(port, host, () => {
        this.server.off("error", reject);
        const addr = this.server.address();
        resolve(typeof addr === "object" && addr ? addr.port : port);
      });
    }).then((p) => {
      this.startHeartbeat();
      return p as number;
    });
  }

  private startHeartbeat(): void {
    this.heartbeat = setInterval(() => {
      for (const wss of [this.dataWss, this.tenantWss]) {
        for (const ws of wss.clients) {
          // A socket the node paused itself (backpressure) cannot read pongs: not a stall.
          if (ws.isPaused) continue;
          if (this.alive.get(ws) === false) {
            ws.terminate();
            continue;
          }
          this.alive.set(ws, false);
          ws.ping();
        }
      }
    }, this.ctx.opts.heartbeatIntervalMs);
    this.heartbeat.unref();
  }

  private track(ws: WebSocket): void {
    this.alive.set(ws, true);
    ws.on("pong", () => this.alive.set(ws, true));
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const { ctx } = this;
    if (ctx.stopping) throw new CairnError("UNAVAILABLE", "the node is shutting down");
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/v1/data" && path !== "/v1/tenant") throw new CairnError("NOT_FOUND", "no such endpoint");
    if (this.dataWss.clients.size + this.tenantWss.clients.size >= ctx.opts.maxConnections) throw new CairnError("UNAVAILABLE", "too many connections");
    const offered = String(req.headers["sec-websocket-protocol"] ?? "")
      .split(",")
      .map((s) => parseSubprotocol(s))
      .filter((v): v is number => v !== null);
    try {
      (req as unknown as Record<symbol, number>)[NEGOTIATED] = requireVersion(offered, PROTOCOL_VERSIONS);
    } catch (err) {
      refuse(socket, err as CairnError, { "sec-websocket-version": "13", "x-cairn-protocol-versions": PROTOCOL_VERSIONS.map(subprotocolName).join(", ") });
      return;
    }
    const token = bearer(req);
    if (path === "/v1/data") {
      if (!token) throw new CairnError("UNAUTHORIZED", "a storage token is required");
      const auth = authenticateStorage(token, ctx.db, ctx.clock);
      if (ctx.hub.ofDevice(auth.ns, auth.claims.dev).length >= ctx.opts.maxConnectionsPerDevice) {
        throw new CairnError("RATE_LIMITED", "too many connections for this device");
      }
      this.dataWss.handleUpgrade(req, socket, head, (ws) => {
        this.track(ws);
        const conn = new DataConnection(ws, auth, ctx);
        ctx.hub.data.add(conn);
        ctx.metrics.activeConnections.inc({ channel: "data" });
      });
      return;
    }
    let tenantId: string | null = null;
    if (token) {
      const t = ctx.db.tenantBySecretHash(hashSecret(token));
      if (!t) throw new CairnError("UNAUTHORIZED", "unknown tenant secret");
      tenantId = t.id;
    }
    this.tenantWss.handleUpgrade(req, socket, head, (ws) => {
      this.track(ws);
      if (tenantId) acceptTenant(ctx, ws, tenantId);
      else acceptRegistration(ctx, ws);
    });
  }

  private async request(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? "").split("?")[0];
    const json = (status: number, body: unknown) => {
      const s = JSON.stringify(body);
      res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(s) }).end(s);
    };
    if (req.method !== "GET") return json(405, { error: { code: "BAD_REQUEST", message: "only GET" } });
    if (path === "/healthz") return json(200, { status: "ok" });
    if (path === "/readyz") {
      const r = await readiness(this.ctx);
      return json(r.status === "ok" ? 200 : 503, r);
    }
    if (path === "/metrics" && !this.ctx.opts.metrics) {
      res.writeHead(200, { "content-type": this.ctx.metrics.registry.contentType }).end(await this.ctx.metrics.text());
      return;
    }
    json(404, { error: { code: "NOT_FOUND", message: "not found" } });
  }

  /** Stops accepting connections and stops the heartbeat (connections are closed by the caller). */
  stopAccepting(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }

  /** Ends whatever is left (after graceful closes). */
  terminateAll(): void {
    for (const wss of [this.dataWss, this.tenantWss]) for (const ws of wss.clients) ws.terminate();
    this.server.closeAllConnections();
  }
}

/** The readiness check: database open, store points writable with room above the reserve. */
export async function readiness(ctx: NodeContext): Promise<{ status: "ok" | "unavailable"; checks: Record<string, string> }> {
  const checks: Record<string, string> = {};
  try {
    ctx.db.getSetting("serverGuid");
    checks.database = "ok";
  } catch {
    checks.database = "failed";
  }
  await ctx.space.refresh();
  for (const sp of ctx.registry.storePoints) {
    const writable = await access(sp.path, constants.W_OK).then(
      () => true,
      () => false,
    );
    checks[`storePoint:${sp.name}`] = !writable ? "not writable" : ctx.space.room(sp.id) > 0 ? "ok" : "full";
  }
  if (ctx.stopping) checks.state = "stopping";
  const ok = Object.values(checks).every((v) => v === "ok");
  return { status: ok ? "ok" : "unavailable", checks };
}
