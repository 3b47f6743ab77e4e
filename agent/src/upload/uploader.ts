/**
 * The upload half of a backup run: the chunk workers, their windows, dedup, and the sealed
 * buffers on their way to the node.
 *
 * For each window a worker reports (the ids of its chunks), ids already seen in this run are
 * dedup hits; the others are asked with one `have` (skipped when the archive held no block at
 * open); the worker is told which chunks to seal. A `need` answer is held back while
 * {@link MAX_SEALED_BUFFERS} sealed buffers are in flight or the session's backlog exceeds
 * {@link BACKLOG_BYTES}: that is the memory bound of the upload. Sealed buffers go back to their
 * worker once every frame in them is acknowledged.
 */
import { type ArchiveKeys, CairnError } from "@cairn/protocol";
import type { DataSession } from "../net/data-session.js";
import { putFrameId } from "./put-frame.js";
import { type FileJob, type FileResult, type FromWorker, SEALED_BUFFER_BYTES, unpackFileResults } from "./worker-protocol.js";
import { WorkerPool } from "./worker-pool.js";

/** Most bytes queued or unacknowledged before the run stops sealing more. */
export const BACKLOG_BYTES = 64 * 1024 * 1024;
/** Most sealed-window buffers in flight (each {@link SEALED_BUFFER_BYTES}). */
export const MAX_SEALED_BUFFERS = 4;

const PRESENT = 2;
const CLAIMED = 1;

/** What the uploader needs from its run. */
export interface UploaderOptions {
  archiveKey: Buffer;
  keys: ArchiveKeys;
  session: DataSession;
  compress: "auto" | "never";
  cpuPercent: number;
  workers?: number;
  /** The archive held no block when the session opened: no `have` is needed. */
  archiveEmpty: boolean;
  onFile(r: FileResult): void;
  onWake(): void;
  fail(err: unknown): void;
}

/** The workers and the dedup/sealing traffic of one run. */
export class Uploader {
  private pool: WorkerPool | null = null;
  /** Ids of this run: claimed (being uploaded) or present (acknowledged, or held by the archive). */
  private readonly state = new Map<string, number>();
  private openWindows = 0;
  private sealedOut = 0;
  private sealedWaiters: Array<() => void> = [];
  /** The sealed buffer each unacknowledged frame lives in (by block id). */
  private readonly sealedOf = new Map<string, { worker: number; buf: ArrayBuffer; frames: number }>();
  uploadedBytes = 0;
  uploadedBlocks = 0;
  dedupBlocks = 0;

  constructor(private readonly o: UploaderOptions) {}

  /** Windows reported by workers and not sealed yet. */
  get busy(): boolean {
    return this.openWindows > 0;
  }

  /** Tasks queued on the workers (0 before the first). */
  get outstandingTasks(): number {
    return this.pool?.outstandingTasks ?? 0;
  }

  /** Workers in the pool (once started). */
  get size(): number {
    return this.pool?.size ?? 1;
  }

  /** Queues a task of files (starts the workers on the first). */
  submit(files: FileJob[]): void {
    this.pool ??= new WorkerPool(
      { archiveKey: this.o.archiveKey, archiveGuid: this.o.keys.archiveGuid, compress: this.o.compress, cpuPercent: this.o.cpuPercent },
      { onMessage: (w, m) => this.onWorker(w, m), onError: (e) => this.o.fail(e) },
      this.o.workers,
    );
    this.pool.submit(files);
  }

  /** A block the node acknowledged (or found present after a reconnect). */
  onAck(id: Buffer, frameBytes: number): void {
    const key = id.toString("latin1");
    this.state.set(key, PRESENT);
    this.uploadedBytes += frameBytes;
    this.uploadedBlocks++;
    const sb = this.sealedOf.get(key);
    if (!sb) return;
    this.sealedOf.delete(key);
    if (--sb.frames > 0) return;
    // every frame of that buffer is acknowledged: it goes back to its worker
    this.sealedOut--;
    if (sb.buf.byteLength === SEALED_BUFFER_BYTES) this.pool?.post(sb.worker, { t: "recycle", buf: sb.buf }, [sb.buf]);
    this.wakeSealed();
  }

  private wakeSealed(): void {
    const w = this.sealedWaiters;
    this.sealedWaiters = [];
    for (const f of w) f();
  }

  /** Waits until another sealed buffer may be in flight (memory bound) and the upload backlog is low. */
  private async sealedRoom(): Promise<void> {
    while (this.sealedOut >= MAX_SEALED_BUFFERS && !this.o.session.error) await new Promise<void>((r) => this.sealedWaiters.push(r));
    await this.o.session.waitBacklogBelow(BACKLOG_BYTES);
  }

  private onWorker(w: number, m: FromWorker): void {
    switch (m.t) {
      case "win":
        this.openWindows++;
        this.onWindow(w, m).catch((err: unknown) => this.o.fail(err));
        return;
      case "sealed": {
        this.openWindows--;
        if (!m.buf) {
          this.sealedOut--;
          this.wakeSealed();
          this.o.onWake();
          return;
        }
        const buf = Buffer.from(m.buf, 0, m.offsets[m.offsets.length - 1]);
        const sb = { worker: w, buf: m.buf, frames: m.offsets.length - 1 };
        for (let i = 0; i + 1 < m.offsets.length; i++) {
          const frame = buf.subarray(m.offsets[i] as number, m.offsets[i + 1] as number);
          const key = putFrameId(frame).toString("latin1");
          this.sealedOf.set(key, sb);
          this.o.session.put(key, frame);
        }
        this.o.onWake();
        return;
      }
      case "files":
        for (const r of unpackFileResults(m)) this.o.onFile(r);
        this.o.onWake();
        return;
      case "taskdone":
        this.o.onWake();
        return;
      case "fatal":
        this.o.fail(new CairnError("INTERNAL", `chunk worker: ${m.message}`));
    }
  }

  private async onWindow(w: number, m: Extract<FromWorker, { t: "win" }>): Promise<void> {
    const ids = Buffer.from(m.ids.buffer, m.ids.byteOffset, m.ids.byteLength);
    const n = m.sizes.length;
    const keys: string[] = new Array(n);
    const unknown: number[] = [];
    for (let i = 0; i < n; i++) {
      const k = ids.toString("latin1", i * 32, i * 32 + 32);
      keys[i] = k;
      if (!this.state.has(k)) unknown.push(i);
      else this.dedupBlocks++;
    }
    let present: Buffer | null = null;
    if (unknown.length > 0 && !this.o.archiveEmpty) {
      const q = Buffer.allocUnsafe(unknown.length * 32);
      unknown.forEach((i, j) => {
        ids.copy(q, j * 32, i * 32, i * 32 + 32);
      });
      present = (await this.o.session.call("have", { ids: q })).present;
    }
    const need = new Uint8Array(n);
    unknown.forEach((i, j) => {
      const k = keys[i] as string;
      if (this.state.has(k)) {
        this.dedupBlocks++;
        return;
      }
      if (present && ((present[j >> 3] as number) >> (7 - (j & 7))) & 1) {
        this.state.set(k, PRESENT);
        this.dedupBlocks++;
      } else {
        this.state.set(k, CLAIMED);
        need[i] = 1;
      }
    });
    await this.sealedRoom();
    this.sealedOut++;
    this.pool?.post(w, { t: "need", win: m.win, need });
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    const p = this.pool;
    this.pool = null;
    if (p) await p.close();
  }
}
