/**
 * What every WebSocket endpoint of the authority checks in the HTTP upgrade request, before any
 * frame (docs/architecture.md "Ports and TLS"): the subprotocol (`cairn.vN`, the highest common
 * version, else 426 naming both lists), a browser's `Origin` (cross-site hijacking, T31: a
 * foreign Origin gets 403; agents and nodes send none), and the Bearer credential. Refusals are
 * `{"error":{"code","message"}}`, the body the peers' WebSocket clients read. Then the socket:
 * a heartbeat (ping every 15 s, dropped after two missed pongs) and the RPC peer.
 */
import {
  CairnError,
  type ChannelSpec,
  createPeer,
  HEARTBEAT_INTERVAL_MS,
  isCairnError,
  MAX_CONTROL_FRAME_BYTES,
  PROTOCOL_VERSIONS,
  parseSubprotocol,
  requireVersion,
  subprotocolName,
  toBuffer,
  toCairnError,
} from "@cairn/protocol";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Logger } from "pino";
import type WebSocket from "ws";

/** Refuses an upgrade with the error's status and the peers' error body. */
export function refuseUpgrade(reply: FastifyReply, err: unknown): FastifyReply {
  const e = toCairnError(err, "INTERNAL");
  const status = e.spec.http >= 400 && e.spec.http < 600 ? e.spec.http : 500;
  const message = e.code === "INTERNAL" ? "internal error" : e.message;
  if (status === 426) void reply.header("x-cairn-protocol-versions", PROTOCOL_VERSIONS.map(subprotocolName).join(", "));
  return reply
    .code(status)
    .type("application/json")
    .header("connection", "close")
    .send({ error: { code: e.code, message, ...(e.details && e.code === "PROTOCOL_VERSION_UNSUPPORTED" ? { details: e.details } : {}) } });
}

/** Picks the subprotocol (and makes the WebSocket server answer with that one). */
export function negotiateSubprotocol(req: FastifyRequest): number {
  const header = String(req.headers["sec-websocket-protocol"] ?? "");
  const offered = header
    .split(",")
    .map((s) => parseSubprotocol(s))
    .filter((v): v is number => v !== null);
  const version = requireVersion(offered);
  // ws answers with the first protocol the client listed: leave it only the chosen one
  req.raw.headers["sec-websocket-protocol"] = subprotocolName(version);
  return version;
}

/** T31: a browser's cross-site upgrade (foreign or opaque Origin) is refused. */
export function assertSameOriginUpgrade(req: FastifyRequest): void {
  const origin = req.headers.origin;
  if (origin === undefined) return;
  const host = req.headers.host;
  if (origin === "null" || host === undefined || origin.toLowerCase() !== `https://${host}`.toLowerCase())
    throw new CairnError("FORBIDDEN", "Cross-site WebSocket upgrades are refused");
}

/** The Bearer credential of the upgrade request, if any. */
export function bearerOf(req: FastifyRequest): string | null {
  const h = req.headers.authorization;
  if (typeof h !== "string" || h.trim() === "") return null;
  const m = /^Bearer\s+(\S{1,4096})\s*$/i.exec(h);
  if (!m) throw new CairnError("UNAUTHORIZED", "Only Bearer credentials are accepted here");
  return m[1] as string;
}

/** Options of {@link attachPeer}. */
export interface AttachOptions<C extends ChannelSpec> {
  channel: C;
  handlers: object;
  onEvent?: (event: string, data: unknown) => void;
  log: Logger;
  /** Close an unauthenticated socket after this long (ms). */
  deadlineMs?: number;
  heartbeatMs?: number;
  timeoutMs?: number;
  onClose?: () => void;
}

/** Side `a` of a channel on a server socket, with a heartbeat. */
export function attachPeer<C extends ChannelSpec>(ws: WebSocket, o: AttachOptions<C>) {
  const peer = createPeer(o.channel, "a", {
    send: (f) => ws.send(f),
    maxFrameBytes: MAX_CONTROL_FRAME_BYTES,
    handlers: o.handlers as never,
    onEvent: ((event: string, data: unknown) => {
      try {
        o.onEvent?.(event, data);
      } catch (err) {
        o.log.error({ err, event }, "event handler failed");
      }
    }) as never,
    onProtocolError: (err) => ws.close(err.spec.close, err.message.slice(0, 120)),
    onHandlerError: (method, err) => o.log.error({ err, method }, "handler failed"),
    timeoutMs: o.timeoutMs ?? 60_000,
  });
  let alive = true;
  const beat = setInterval(() => {
    if (!alive) {
      ws.terminate();
      return;
    }
    alive = false;
    ws.ping();
  }, o.heartbeatMs ?? HEARTBEAT_INTERVAL_MS);
  beat.unref();
  const deadline = o.deadlineMs === undefined ? undefined : setTimeout(() => ws.close(4401, "not authenticated in time"), o.deadlineMs);
  deadline?.unref();
  ws.on("pong", () => {
    alive = true;
  });
  ws.on("message", (data, isBinary) => {
    if (!isBinary) {
      ws.close(1003, "binary frames only");
      return;
    }
    peer.receive(toBuffer(data as Buffer));
  });
  ws.on("error", (err) => o.log.debug({ err }, "socket error"));
  ws.on("close", () => {
    clearInterval(beat);
    if (deadline) clearTimeout(deadline);
    peer.close();
    o.onClose?.();
  });
  return peer;
}

/** A Cairn error for a WebSocket close: its close code and a short reason. */
export function closeFor(err: unknown): [number, string] {
  const e = isCairnError(err) ? err : new CairnError("INTERNAL", "internal error");
  return [e.spec.close, e.message.slice(0, 120)];
}
