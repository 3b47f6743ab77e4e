/**
 * One agent's data connection (`wss://N/v1/data`), already authenticated at the upgrade: the
 * data channel's methods, `put` frames with group-committed, durable acknowledgements, and
 * restore streaming with backpressure. Every archive lookup is scoped to the token's namespace
 * and archive.
 */
import {
  CairnError,
  createPeer,
  DATA_CHANNEL,
  type Envelope,
  isCairnError,
  MAX_DATA_FRAME_BYTES,
  MAX_IDS_PER_REQUEST,
  type PutMessage,
  type StorageClaims,
  toBuffer,
  toCairnError,
} from "@cairn/protocol";
import type { Logger } from "pino";
import type WebSocket from "ws";
import type { Archive } from "../archive/archive.js";
import type { StorageAuth } from "../auth.js";
import type { NodeContext } from "../context.js";
import type { DataConn } from "../hub.js";
import { dataHandlers } from "./data-handlers.js";
import { socketDrain } from "./socket-drain.js";

/** State of one data connection, shared with its method handlers. */
export class DataConnection implements DataConn {
  readonly ns: string;
  readonly claims: StorageClaims;
  readonly peer;
  readonly log: Logger;
  mode: "backup" | "restore" | null = null;
  archive: Archive | null = null;
  sessionId: string | null = null;
  private acks: Buffer[] = [];
  private ackScheduled = false;
  private inflight = 0;
  private paused = false;
  private draining = false;
  private closed = false;
  private tenantQuota: number;
  private spId = 0;

  constructor(
    readonly ws: WebSocket,
    auth: StorageAuth,
    readonly ctx: NodeContext,
  ) {
    this.ns = auth.ns;
    this.claims = auth.claims;
    this.log = ctx.logger.child({ conn: "data", ns: auth.ns, archiveGuid: auth.claims.arc, deviceGuid: auth.claims.dev });
    this.tenantQuota = auth.ns === "own" ? -1 : (ctx.db.tenant(auth.ns)?.quotaBytes ?? -1);
    this.peer = createPeer(DATA_CHANNEL, "a", {
      send: (f) => ws.send(f),
      maxFrameBytes: MAX_DATA_FRAME_BYTES,
      handlers: dataHandlers(this),
      onFrame: (msg) => this.onFrame(msg),
      onProtocolError: (err) => ws.close(err.spec.close, err.message.slice(0, 120)),
      onHandlerError: (method, err) => this.log.error({ err, method }, "data handler failed"),
      drain: () => socketDrain(ws),
    });
    ws.on("message", (data) => this.peer.receive(toBuffer(data as Buffer)));
    ws.on("close", () => this.onClose());
    ws.on("error", (err) => this.log.debug({ err }, "data socket error"));
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.peer.close();
    if (this.archive) this.archive.users--;
    this.ctx.hub.data.delete(this);
    this.ctx.metrics.activeConnections.dec({ channel: "data" });
  }

  /** Binds the connection to its archive after `open` (counted as a user so it stays open). */
  attach(archive: Archive): void {
    this.spId = this.ctx.registry.row(this.ns, archive.placement.archiveGuid)?.storePointId ?? 0;
    if (this.archive === archive) return;
    if (this.archive) this.archive.users--;
    this.archive = archive;
    archive.users++;
  }

  /** The open archive, or PROTOCOL_UNEXPECTED before `open`. */
  requireArchive(): Archive {
    if (!this.archive) throw new CairnError("PROTOCOL_UNEXPECTED", "open the archive first");
    return this.archive;
  }

  private onFrame(msg: Extract<Envelope, { type: "put" | "ack" | "nack" }>): boolean {
    if (msg.type !== "put") return false;
    this.ctx.metrics.bytesReceived.inc(msg.data.length);
    this.onPut(msg).catch((err: unknown) => this.nack(msg.id, toCairnError(err, "STORE_IO")));
    return true;
  }

  private nack(id: Buffer, err: CairnError): void {
    if (this.closed) return;
    if (!isCairnError(err) || err.code === "INTERNAL") this.log.error({ err }, "put failed");
    try {
      this.peer.sendFrame({ type: "nack", id, error: { code: err.code, message: err.message } });
    } catch {
      // the socket closed meanwhile: the agent re-sends unacknowledged blocks
    }
  }

  private ack(id: Buffer): void {
    this.acks.push(id);
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    setImmediate(() => this.flushAcks());
  }

  private flushAcks(): void {
    this.ackScheduled = false;
    const all = this.acks;
    this.acks = [];
    if (this.closed) return;
    for (let i = 0; i < all.length; i += MAX_IDS_PER_REQUEST) {
      try {
        this.peer.sendFrame({ type: "ack", ids: Buffer.concat(all.slice(i, i + MAX_IDS_PER_REQUEST)) });
      } catch {
        return;
      }
    }
  }

  private async onPut(msg: PutMessage): Promise<void> {
    if (this.draining || this.ctx.stopping) throw new CairnError("UNAVAILABLE", "the node is shutting down");
    const a = this.archive;
    if (!a || this.mode !== "backup" || !this.sessionId) throw new CairnError("PROTOCOL_UNEXPECTED", "put outside a backup session");
    const sessionId = this.sessionId;
    a.sessions.requireLease(sessionId);
    const len = msg.data.length;
    const refusal = this.refusal(a, len);
    if (refusal) {
      // A block already stored costs no space: acknowledged even when quota or disk is used up.
      if (a.store.has(msg.id)) {
        a.sessions.protect(sessionId, [msg.id]);
        this.ack(msg.id);
        return;
      }
      throw refusal;
    }
    // Otherwise no lookup here: the agent puts what `have` reported missing, and the writer's batch
    // lookup reports a block stored meanwhile as present (protected and acknowledged the same way).
    const spId = this.spId;
    this.inflight += len;
    this.ctx.space.noteWritten(spId, len);
    if (!this.paused && this.inflight > this.ctx.opts.maxInflightBytesPerConnection) {
      this.paused = true;
      this.ws.pause();
    }
    try {
      const outcome = await a.writer.put({ id: msg.id, sha: msg.sha, data: msg.data }, sessionId);
      if (outcome === "integrity") throw new CairnError("INTEGRITY", "block does not match its SHA-256");
      if (outcome === "stored") this.ctx.metrics.blocksStored.inc();
      this.ack(msg.id);
    } finally {
      this.inflight -= len;
      if (this.paused && this.inflight <= this.ctx.opts.maxInflightBytesPerConnection / 2) {
        this.paused = false;
        this.ws.resume();
      }
    }
  }

  /** Why a put of `len` new bytes is refused now (quota, tenant quota, free space), or null. */
  private refusal(a: Archive, len: number): CairnError | null {
    const quota = a.placement.quotaBytes;
    if (quota >= 0 && a.usedBytes() + a.writer.pendingBytes + len > quota) {
      return new CairnError("QUOTA_EXCEEDED", "the archive's quota is used up", { details: { quotaBytes: quota, usedBytes: a.usedBytes() } });
    }
    if (this.tenantQuota >= 0 && this.ctx.registry.namespaceBytes(this.ns) + len > this.tenantQuota) {
      return new CairnError("QUOTA_EXCEEDED", "the tenant's quota on this node is used up", { details: { quotaBytes: this.tenantQuota } });
    }
    if (!this.ctx.space.canAccept(this.spId, len)) return new CairnError("DESTINATION_FULL", "destination full: the store point is out of space");
    return null;
  }

  revoke(reason: string): void {
    try {
      this.peer.emit("revoked", { reason });
    } finally {
      this.ws.close(4401, "revoked");
    }
  }

  heal(ids: Buffer): void {
    for (let i = 0; i < ids.length; i += 32 * MAX_IDS_PER_REQUEST) this.peer.emit("heal", { ids: ids.subarray(i, i + 32 * MAX_IDS_PER_REQUEST) });
  }

  /** Graceful shutdown: no new puts, in-flight writes finished and acknowledged, then 1001. */
  async shutdown(): Promise<void> {
    this.draining = true;
    this.ws.pause();
    if (this.archive) await this.archive.writer.drain();
    this.flushAcks();
    this.ws.close(1001, "server shutting down");
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }
}
