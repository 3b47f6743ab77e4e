/**
 * One control link (node control channel, the node is side `b`), whichever side dialled: the
 * own authority's (the node dials `wss://A/v1/storenode`) or a tenant authority's (it dials
 * `wss://N/v1/tenant`). On start the node `announce`s (and applies the answer: trusted keys,
 * revocations, placements it missed), then reports its archives' figures every interval.
 */
import {
  type ArchivePlacement,
  type CairnError,
  createPeer,
  isCairnError,
  MAX_CONTROL_FRAME_BYTES,
  NODE_CHANNEL,
  type nodeStorenodeMethods,
  type Handlers,
  type ResultOf,
  type nodeAuthorityMethods,
  toBuffer,
} from "@cairn/protocol";
import type { Logger } from "pino";
import type WebSocket from "ws";
import type { NodeContext } from "../context.js";
import type { ControlConn, NodePeer } from "../hub.js";
import { socketDrain } from "../server/socket-drain.js";
import { NODE_VERSION } from "../version.js";
import { controlHandlers, reportsFor, storePointsFor } from "./handlers.js";
import { diskSpace } from "../space.js";

type AnnounceResult = ResultOf<typeof nodeAuthorityMethods, "announce">;

/** A live control link. */
export class ControlLink implements ControlConn {
  readonly peer: NodePeer;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  readonly log: Logger;
  /** Resolves when the socket closes. */
  readonly done: Promise<void>;

  constructor(
    readonly ws: WebSocket,
    public ns: string,
    private readonly ctx: NodeContext,
    readonly kind: "tenant" | "authority",
    handlers?: Handlers<typeof nodeStorenodeMethods>,
  ) {
    this.log = ctx.logger.child({ conn: kind, ns });
    this.peer = createPeer(NODE_CHANNEL, "b", {
      send: (f) => ws.send(f),
      maxFrameBytes: MAX_CONTROL_FRAME_BYTES,
      handlers: handlers ?? controlHandlers(ctx, ns),
      onProtocolError: (err) => ws.close(err.spec.close, err.message.slice(0, 120)),
      onHandlerError: (method, err) => this.log.error({ err, method }, "control handler failed"),
      drain: () => socketDrain(ws),
      timeoutMs: 120_000,
    });
    ctx.metrics.activeConnections.inc({ channel: kind });
    ws.on("message", (d) => this.peer.receive(toBuffer(d as Buffer)));
    ws.on("error", (err) => this.log.debug({ err }, "control socket error"));
    this.done = new Promise((resolve) => {
      ws.on("close", () => {
        this.onClose();
        resolve();
      });
    });
  }

  /** Serves the namespace from now on: registers with the hub, announces, starts reporting. */
  async activate(ns: string = this.ns): Promise<void> {
    // A registration socket the authority closed right after `tenant-register` has nothing to serve.
    if (this.closed) return;
    this.ns = ns;
    this.peer.handlers = controlHandlers(this.ctx, ns);
    this.ctx.hub.control.add(this);
    this.timer = setInterval(() => {
      this.report().catch((err: unknown) => this.log.warn({ err }, "report-archives failed"));
    }, this.ctx.opts.reportIntervalMs);
    this.timer.unref();
    await this.announce();
    await this.report();
  }

  /** Announces the node; applies keys, revocations and placements from the answer. */
  async announce(): Promise<void> {
    let r: AnnounceResult;
    try {
      r = await this.peer.call("announce", {
        urls: this.ctx.urls(),
        fingerprint: this.ctx.tls.fingerprint,
        storePoints: await storePointsFor(this.ctx, this.ns),
        connections: this.ctx.hub.data.size,
        nodeVersion: NODE_VERSION,
      });
    } catch (err) {
      // A tenant authority need not serve announce: placements then arrive as place-archive.
      if (this.kind === "tenant" && isCairnError(err, "UNSUPPORTED")) return;
      throw err;
    }
    await this.apply(r);
  }

  private async apply(r: AnnounceResult): Promise<void> {
    const { db, hub } = this.ctx;
    db.setKeys(this.ns, r.authorityPublicKeys);
    db.setRevocationsFromAnnounce(this.ns, r.revocations);
    if (r.revocations.length > 0) hub.revoke(this.ns, r.revocations);
    for (const p of r.placements) await this.placeQuietly(p);
  }

  private async placeQuietly(p: ArchivePlacement): Promise<void> {
    try {
      await this.ctx.registry.place(this.ns, p, async (sp) => (await diskSpace(sp.path)).freeBytes);
    } catch (err) {
      this.log.error({ err, archiveGuid: p.archiveGuid }, "placement from announce failed");
    }
  }

  /** Sends every archive's figures. */
  async report(): Promise<void> {
    if (this.closed) return;
    const archives = await reportsFor(this.ctx, this.ns);
    await this.peer.call("report-archives", { archives }).catch((err: CairnError) => {
      if (this.kind === "tenant" && isCairnError(err, "UNSUPPORTED")) return;
      throw err;
    });
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.peer.close();
    this.ctx.hub.control.delete(this);
    this.ctx.metrics.activeConnections.dec({ channel: this.kind });
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }
}
