/**
 * One session on a storage node's data channel, surviving dropped connections.
 *
 * `open` takes the archive's writer lease (backup) or a read session (restore). When the socket
 * drops, the session reconnects with jittered exponential backoff and re-`open`s with its
 * `sessionId`; the node keeps the session's acknowledged blocks and staged files, so only the
 * blocks still unacknowledged are sent again (after a `have` that drops those that became durable
 * before the ack was lost). Idempotent calls (`have`, `stage-files`, `list-*`, `get`…) are retried
 * across the reconnect; the caller sees one slow call instead of an error. The first connection
 * gets two quick retries of a transient failure (up to 30 reconnects after that); a connection
 * that drops again while the session reopens is reconnected by the same attempt.
 *
 * Uploads: {@link DataSession.put} queues a framed block; frames go out while the unacknowledged
 * bytes stay under the window and the socket's `bufferedAmount` is low (backpressure), paced by
 * the bandwidth limiter. Each frame is kept until its `ack`, for re-sending.
 */
import type { Logger } from "pino";
import {
  type BlockFrame,
  CairnError,
  type Clock,
  DATA_CHANNEL,
  fromWire,
  isCairnError,
  MAX_DATA_FRAME_BYTES,
  type ParamsOf,
  type ResultOf,
} from "@cairn/protocol";
import { NETWORK_PENDING, type NetworkPolicy } from "./network-policy.js";
import type { RateLimiter } from "./rate-limiter.js";
import { type Link, type LinkTarget, openLink, type ProxySetting } from "./ws-link.js";

type NodeMethods = (typeof DATA_CHANNEL)["a"]["methods"];
type OpenResult = ResultOf<NodeMethods, "open">;

/** Where an archive lives and the credential to reach it. */
export interface ArchiveEndpoint {
  archiveGuid: string;
  /** `wss://host:port/v1/data`. */
  url: string;
  fingerprint: string;
  token: string;
}

/** Options of {@link DataSession}. */
export interface DataSessionOptions {
  endpoint: ArchiveEndpoint;
  mode: "backup" | "restore";
  agentVersion: string;
  clock: Clock;
  logger: Logger;
  proxy?: ProxySetting;
  /** Session to resume (from a previous process). */
  sessionId?: string | null;
  limiter?: RateLimiter;
  /** The Network tab's exclusions: no block is sent while the connection runs over an excluded network. */
  network?: NetworkPolicy;
  /** Most unacknowledged bytes in flight (default 48 MiB). */
  windowBytes?: number;
  /** Reconnect attempts before giving up (default 30). */
  maxReconnects?: number;
  onAck?: (id: Buffer, frameBytes: number) => void;
  onHeal?: (ids: Buffer) => void;
  /** Called after a reconnect re-opened the session; `resumed` false means staged files were lost. */
  onReopen?: (resumed: boolean) => Promise<void>;
  signal?: AbortSignal;
}

const LOW_WATER = 4 * 1024 * 1024;
/** How long an answer of the network policy is reused (it lists the interfaces, may ask for the SSID). */
const NETWORK_CHECK_MS = 2000;

/** A resumable data-channel session. */
export class DataSession {
  private link: Link<(typeof DATA_CHANNEL)["b"], (typeof DATA_CHANNEL)["a"]> | null = null;
  private connecting: Promise<void> | null = null;
  private closedByUs = false;
  private failed: CairnError | null = null;
  sessionId: string | null;
  opened: OpenResult | null = null;
  /** Unacknowledged frames by block id (latin1 key). */
  private readonly unacked = new Map<string, Buffer>();
  private readonly queue: Array<{ key: string; frame: Buffer }> = [];
  private unackedBytes = 0;
  private queuedBytes = 0;
  private readonly windowBytes: number;
  private waiters: Array<() => void> = [];
  private pumpTimer: ReturnType<typeof setTimeout> | null = null;
  private leaseTimer: ReturnType<typeof setInterval> | null = null;
  /** Bytes of put frames written to the socket (including re-sends). */
  sentBytes = 0;
  /** Times the connection was re-established. */
  reconnects = 0;
  private nackError: CairnError | null = null;
  private readPaused = false;
  private networkChecked = { at: Number.NEGATIVE_INFINITY, link: null as unknown, reason: null as string | null };
  /** Why block uploads are paused by the network exclusions (null: they are not). */
  networkBlocked: string | null = null;

  constructor(private readonly opts: DataSessionOptions) {
    this.sessionId = opts.sessionId ?? null;
    this.windowBytes = opts.windowBytes ?? 48 * 1024 * 1024;
  }

  /** Connects and opens the session. */
  async open(): Promise<OpenResult> {
    await this.connect(false);
    return this.opened as OpenResult;
  }

  /**
   * Opens a new session on the same connection in place of the one `open` resumed: the node
   * ends the resumed session (its staged files dropped, its lease released) and starts another.
   * A run resumes the session stored by a run that died only to take its lease over at once;
   * that run's staged files describe a tree this run has not seen and must not be committed.
   */
  async startFresh(): Promise<OpenResult> {
    const link = this.link;
    if (!link) throw new CairnError("CONNECTION_LOST", "not connected to the storage node");
    const opened = await link.peer.call("open", {
      archiveGuid: this.opts.endpoint.archiveGuid,
      mode: this.opts.mode,
      sessionId: null,
      agentVersion: this.opts.agentVersion,
    });
    this.sessionId = opened.sessionId;
    this.opened = opened;
    return opened;
  }

  private target(): LinkTarget {
    const e = this.opts.endpoint;
    return { url: e.url, fingerprint: e.fingerprint, token: e.token, proxy: this.opts.proxy ?? null };
  }

  private async connectOnce(): Promise<void> {
    const link = await openLink(this.target(), {
      channel: DATA_CHANNEL,
      maxFrameBytes: MAX_DATA_FRAME_BYTES,
      onFrame: (msg) => {
        if (msg.type === "ack") {
          this.onAck(msg.ids);
          return true;
        }
        if (msg.type === "nack") {
          this.onNack(msg.id, fromWire(msg.error));
          return true;
        }
        return false;
      },
      onEvent: (event, data) => {
        if (event === "heal") this.opts.onHeal?.((data as { ids: Buffer }).ids);
        if (event === "revoked") this.fail(new CairnError("TOKEN_REVOKED", (data as { reason: string }).reason || "access revoked"));
      },
    });
    let opened: OpenResult;
    try {
      opened = await link.peer.call("open", {
        archiveGuid: this.opts.endpoint.archiveGuid,
        mode: this.opts.mode,
        sessionId: this.sessionId,
        agentVersion: this.opts.agentVersion,
      });
    } catch (err) {
      link.close();
      throw err;
    }
    this.link = link;
    if (this.readPaused) link.ws.pause();
    const resumedFrom = this.sessionId;
    this.sessionId = opened.sessionId;
    this.opened = opened;
    if (resumedFrom && !opened.resumed) this.opts.logger.warn({ archiveGuid: this.opts.endpoint.archiveGuid }, "upload session expired; starting a new one");
    void link.closed.then(({ code, reason }) => this.onClosed(link, code, reason));
    if (this.opts.mode === "backup" && !this.leaseTimer) {
      this.leaseTimer = setInterval(() => {
        if (!this.link || !this.sessionId) return;
        this.link.peer.call("renew-lease", { sessionId: this.sessionId }).catch((err: unknown) => {
          this.opts.logger.warn({ err }, "lease renewal failed");
        });
      }, 20_000);
      this.leaseTimer.unref();
    }
  }

  private async connect(isRetry: boolean): Promise<void> {
    if (this.connecting !== null) return this.connecting;
    this.connecting = (async () => {
      // the first connection gets a few quick tries too: one cut or refused handshake (a node
      // restarting, a flaky link) should not fail a backup the user is waiting for
      const max = isRetry ? (this.opts.maxReconnects ?? 30) : Math.min(2, this.opts.maxReconnects ?? 2);
      let attempt = 0;
      for (;;) {
        if (this.failed) throw this.failed;
        if (this.opts.signal?.aborted) throw new CairnError("CANCELLED", "cancelled");
        // closed meanwhile (a restore that had everything it needed when the connection dropped)
        if (this.closedByUs) return;
        try {
          await this.connectOnce();
          if (this.closedByUs) {
            // `close` ran while this attempt connected: the new connection would keep the process alive
            this.link?.close(1000, "done");
            this.link = null;
            return;
          }
          this.opts.logger.debug(
            { attempt, isRetry, resumed: this.opened?.resumed, unacked: this.unacked.size, queued: this.queue.length },
            "connected to the storage node",
          );
          if (isRetry) await this.afterReconnect();
          // A close while the session reopened found this attempt in progress and left the
          // reconnect to it: connect again rather than return without a connection (nothing
          // else would, and every waiter would wait for ever).
          if (this.link === null && !this.closedByUs) throw new CairnError("CONNECTION_LOST", "the connection closed while the session reopened");
          return;
        } catch (err) {
          const ce = isCairnError(err) ? err : new CairnError("UNAVAILABLE", "connection failed", { cause: err });
          const retryable = ce.spec.retryable && ce.code !== "ARCHIVE_IN_USE";
          if (!retryable || attempt >= max) throw ce;
          attempt++;
          const delay = Math.min(5000, 100 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random() / 2);
          this.opts.logger.info({ attempt, delayMs: Math.round(delay), err: ce.message }, "reconnecting to the storage node");
          await new Promise((r) => setTimeout(r, delay));
        }
      }
    })();
    try {
      await this.connecting;
    } finally {
      this.connecting = null;
    }
  }

  private onClosed(link: Link<(typeof DATA_CHANNEL)["b"], (typeof DATA_CHANNEL)["a"]>, code: number, reason: string): void {
    if (this.link !== link) return;
    this.link = null;
    if (this.closedByUs || this.failed) return;
    if (code === 4401 || code === 4403 || code === 1008) {
      this.fail(new CairnError("UNAUTHORIZED", reason || "the storage node closed the connection"));
      return;
    }
    // another connection took this session over (a clone of this device resumed it): reconnecting
    // would take it back and the two would cut each other in turn (T12: one writer)
    if (code === 4409 && reason.includes("resumed by another connection")) {
      this.fail(new CairnError("ARCHIVE_IN_USE", reason || "another connection holds this backup session"));
      return;
    }
    this.reconnects++;
    this.opts.logger.debug({ code, reason, connecting: this.connecting !== null }, "connection to the storage node closed; reconnecting");
    this.connect(true).catch((err: unknown) => this.fail(isCairnError(err) ? err : new CairnError("CONNECTION_LOST", "reconnect failed", { cause: err })));
  }

  private async afterReconnect(): Promise<void> {
    await this.opts.onReopen?.(this.opened?.resumed ?? false);
    // Frames sent but not acknowledged: drop those the node holds now, re-queue the rest.
    if (this.unacked.size === 0) {
      this.pump();
      return;
    }
    const keys = [...this.unacked.keys()];
    const present = new Set<string>();
    for (let i = 0; i < keys.length; i += 8192) {
      const part = keys.slice(i, i + 8192);
      const ids = Buffer.concat(part.map((k) => Buffer.from(k, "latin1")));
      const res = await (this.link as NonNullable<typeof this.link>).peer.call("have", { ids });
      part.forEach((k, j) => {
        if (((res.present[j >> 3] as number) >> (7 - (j & 7))) & 1) present.add(k);
      });
    }
    const requeue: Array<{ key: string; frame: Buffer }> = [];
    for (const [key, frame] of this.unacked) {
      this.unackedBytes -= frame.length;
      if (present.has(key)) {
        this.opts.onAck?.(Buffer.from(key, "latin1"), frame.length);
        continue;
      }
      requeue.push({ key, frame });
    }
    this.unacked.clear();
    for (const r of requeue) this.queuedBytes += r.frame.length;
    this.queue.unshift(...requeue);
    this.wake();
    this.pump();
  }

  private fail(err: CairnError): void {
    if (this.failed) return;
    this.failed = err;
    this.link?.close(1000, "");
    this.wake();
  }

  /** The error that ended the session, if any. */
  get error(): CairnError | null {
    return this.failed ?? this.nackError;
  }

  /** Calls a node method, retrying across reconnects (every data method is idempotent except commit). */
  async call<M extends keyof NodeMethods & string>(
    method: M,
    params: ParamsOf<NodeMethods, M>,
    opts: { retry?: boolean; onBlock?: (b: BlockFrame) => void; timeoutMs?: number } = {},
  ): Promise<ResultOf<NodeMethods, M>> {
    const retry = opts.retry ?? method !== "commit";
    for (let attempt = 0; ; attempt++) {
      if (this.failed) throw this.failed;
      // closed: no connection will come back (a call still under way would otherwise spin here)
      if (this.closedByUs) throw new CairnError("CANCELLED", "the session to the storage node is closed");
      if (!this.link) {
        // Without retry the caller handles a lost connection: the commit, and the re-staging that
        // runs inside a reconnect (waiting for the reconnect there would wait for itself).
        if (!retry) throw new CairnError("CONNECTION_LOST", "not connected to the storage node");
        await this.connect(true);
      }
      const link = this.link;
      if (!link) continue;
      const p = this.withSession(method, params);
      try {
        return (await link.peer.call(method, p as never, { onBlock: opts.onBlock, timeoutMs: opts.timeoutMs } as never)) as ResultOf<NodeMethods, M>;
      } catch (err) {
        const ce = isCairnError(err) ? err : new CairnError("INTERNAL", "call failed", { cause: err });
        if (!retry || attempt >= 5 || (ce.code !== "CONNECTION_LOST" && ce.code !== "TIMEOUT")) throw ce;
        if (ce.code === "TIMEOUT") link.close(4000, "timeout");
        await this.waitReconnected();
      }
    }
  }

  private withSession(method: string, params: unknown): unknown {
    if (this.sessionId && params && typeof params === "object" && "sessionId" in (params as object)) {
      return { ...(params as object), sessionId: this.sessionId };
    }
    void method;
    return params;
  }

  private async waitReconnected(): Promise<void> {
    for (let i = 0; i < 200 && !this.link && !this.failed && !this.closedByUs; i++) {
      if (this.connecting === null) await this.connect(true).catch(() => undefined);
      else await this.connecting.catch(() => undefined);
    }
  }

  /** Queues one framed block (kept until acknowledged). */
  put(idKey: string, frame: Buffer): void {
    this.queue.push({ key: idKey, frame });
    this.queuedBytes += frame.length;
    this.pump();
  }

  /** Bytes queued or awaiting acknowledgement (for the run's backpressure). */
  get backlogBytes(): number {
    return this.queuedBytes + this.unackedBytes;
  }

  /** Blocks awaiting acknowledgement or still queued. */
  get outstanding(): number {
    return this.queue.length + this.unacked.size;
  }

  private pump(): void {
    if (this.pumpTimer) return;
    const link = this.link;
    if (!link || this.failed) return;
    while (this.queue.length > 0) {
      // a full window waits for acks (onAck pumps again)
      if (this.unackedBytes >= this.windowBytes) return;
      if (link.ws.bufferedAmount > LOW_WATER) {
        this.waitDrain(link);
        return;
      }
      const head = this.queue[0] as { key: string; frame: Buffer };
      const wait = this.networkWait(link) || (this.opts.limiter?.reserve(head.frame.length) ?? 0);
      if (wait > 0) {
        this.pumpTimer = setTimeout(() => {
          this.pumpTimer = null;
          this.pump();
        }, wait);
        return;
      }
      this.queue.shift();
      this.queuedBytes -= head.frame.length;
      this.unacked.set(head.key, head.frame);
      this.unackedBytes += head.frame.length;
      this.opts.limiter?.consume(head.frame.length);
      try {
        link.ws.send(head.frame);
        this.sentBytes += head.frame.length;
      } catch {
        // the close handler re-queues unacknowledged frames after reconnecting
        return;
      }
    }
  }

  /** Milliseconds to wait because the connection runs over an excluded network (0: send). */
  private networkWait(link: NonNullable<typeof this.link>): number {
    const policy = this.opts.network;
    if (!policy) return 0;
    const now = performance.now();
    const c = this.networkChecked;
    if (c.link !== link || now - c.at >= NETWORK_CHECK_MS) {
      const local = (link.ws as unknown as { _socket?: { localAddress?: string } })._socket?.localAddress;
      const reason = policy.blocked(local);
      // the SSID is being asked for in the background: wait a moment, ask again
      if (reason === NETWORK_PENDING) return 200;
      if (reason !== this.networkBlocked) {
        if (reason)
          this.opts.logger.warn({ archiveGuid: this.opts.endpoint.archiveGuid, reason }, "uploads paused: the connection runs over an excluded network");
        else if (this.networkBlocked)
          this.opts.logger.info({ archiveGuid: this.opts.endpoint.archiveGuid }, "uploads resumed: the network is no longer excluded");
      }
      this.networkBlocked = reason;
      this.networkChecked = { at: now, link, reason };
    }
    return this.networkBlocked ? 1000 : 0;
  }

  /** Pumps again when the socket has written out its buffer ('drain'), with a timer as a backstop. */
  private waitDrain(link: NonNullable<typeof this.link>): void {
    const sock = (link.ws as unknown as { _socket?: { once(e: "drain", f: () => void): void; off(e: "drain", f: () => void): void } })._socket;
    const again = () => {
      if (this.pumpTimer) clearTimeout(this.pumpTimer);
      this.pumpTimer = null;
      sock?.off("drain", again);
      this.pump();
    };
    sock?.once("drain", again);
    this.pumpTimer = setTimeout(again, 50);
  }

  private onAck(ids: Buffer): void {
    for (let o = 0; o + 32 <= ids.length; o += 32) {
      const key = ids.toString("latin1", o, o + 32);
      const frame = this.unacked.get(key);
      if (!frame) continue;
      this.unacked.delete(key);
      this.unackedBytes -= frame.length;
      this.opts.onAck?.(ids.subarray(o, o + 32), frame.length);
    }
    this.wake();
    this.pump();
  }

  private onNack(id: Buffer, err: CairnError): void {
    const key = id.toString("latin1");
    const frame = this.unacked.get(key);
    if (frame && err.code === "INTEGRITY" && !frame.equals(Buffer.alloc(0))) {
      // a corrupted transfer: send it once more
      this.unacked.delete(key);
      this.unackedBytes -= frame.length;
      this.queue.push({ key, frame });
      this.queuedBytes += frame.length;
      this.pump();
      return;
    }
    this.nackError = err;
    this.fail(err);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when the backlog is below `bytes` (or the session failed). */
  async waitBacklogBelow(bytes: number): Promise<void> {
    while (this.backlogBytes > bytes && !this.failed) await new Promise<void>((r) => this.waiters.push(r));
    if (this.failed) throw this.failed;
  }

  /** Resolves when every queued block is acknowledged. */
  async flush(): Promise<void> {
    await this.waitBacklogBelow(0);
  }

  /** Ends the session (aborting an uncommitted upload when `abort`) and closes the socket. */
  async close(abort = false): Promise<void> {
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    this.leaseTimer = null;
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    const link = this.link;
    if (link && this.sessionId && !this.failed) {
      await link.peer.call("end-session", { sessionId: this.sessionId, abort }, { timeoutMs: 5000 }).catch(() => undefined);
    }
    this.closedByUs = true;
    link?.close(1000, "done");
    this.link = null;
  }

  /** Stops (or resumes) reading from the socket: backpressure from a consumer of streamed blocks. */
  pauseReading(paused: boolean): void {
    this.readPaused = paused;
    if (paused) this.link?.ws.pause();
    else this.link?.ws.resume();
  }

  /** Drops the socket without ending the session (tests and shutdown). */
  dropConnection(): void {
    this.link?.ws.terminate();
  }

  /** Drops the socket and never reconnects, leaving the session open on the node: what a killed process leaves behind (tests). */
  abandon(): void {
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    this.leaseTimer = null;
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    this.closedByUs = true;
    this.link?.ws.terminate();
    this.link = null;
  }
}
