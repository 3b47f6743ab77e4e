/**
 * One backup of one archive: scan → read → chunk → keyed id → dedup (`have`, batched per
 * window) → compress when it pays → seal → `put`, then `stage-files` and `commit`.
 *
 * Stages and who runs them:
 * - main thread: scan (lstat + cache), dedup decisions, staging, socket writes (TLS), acks;
 * - chunk workers: reading, FastCDC, HMAC ids, zstd, AES-GCM, framing, file metadata sealing.
 *
 * Memory is bounded: each worker holds at most two 8 MiB windows awaiting a dedup answer, the
 * main thread stops answering windows while more than {@link BACKLOG_BYTES} are queued or
 * unacknowledged, and no file or version is ever held whole (staged entries go to SQLite in
 * batches). The cache changes only after the commit succeeds.
 */
import { lstatSync, readlinkSync } from "node:fs";
import type { Logger } from "pino";
import {
  type ArchiveKeys,
  CairnError,
  type Clock,
  deriveArchiveKeys,
  fileIdFor,
  isCairnError,
  sealFileMeta,
  sealManifest,
  type StagedFile,
} from "@cairn/protocol";
import { type ArchiveEndpoint, DataSession } from "../net/data-session.js";
import type { RateLimiter } from "../net/rate-limiter.js";
import { noProgress, type ProgressSink } from "../progress.js";
import { type DeletedEntry, entryOf, kindOf, type ScanEntry, type ScanError, Scanner } from "../scan/scanner.js";
import type { Selection } from "../selection.js";
import type { Db } from "../state/agent-db.js";
import { kvGet, kvSet } from "../state/agent-db.js";
import { ArchiveStore } from "../state/archive-store.js";
import { FileCache, KIND, type PendingEntry } from "../state/file-cache.js";
import { checkHead, type Head } from "./rollback.js";
import { putFrameId } from "./put-frame.js";
import { type FileJob, type FileResult, type FromWorker, SEALED_BUFFER_BYTES, unpackFileResults } from "./worker-protocol.js";
import { TASK_BYTES, TASK_FILES, WorkerPool } from "./worker-pool.js";

/** Most bytes queued or unacknowledged before the run stops sealing more. */
export const BACKLOG_BYTES = 64 * 1024 * 1024;
/** Most sealed-window buffers in flight (each {@link SEALED_BUFFER_BYTES}): the memory bound of the upload. */
export const MAX_SEALED_BUFFERS = 6;
const STAGE_BATCH_BYTES = 2 * 1024 * 1024;
const STAGE_BATCH_FILES = 1000;
const LARGE_FILE_BYTES = 1024 * 1024;
const MAX_ATTEMPTS = 3;

/** Options of {@link runArchiveBackup}. */
export interface BackupRunOptions {
  db: Db;
  endpoint: ArchiveEndpoint;
  archiveKey: Buffer;
  selection: Selection;
  clock: Clock;
  logger: Logger;
  agentVersion: string;
  /** Only these paths (the watcher's); a full scan when absent. */
  paths?: Iterable<string>;
  limiter?: RateLimiter;
  cpuPercent?: number;
  workers?: number;
  compress?: "auto" | "never";
  progress?: ProgressSink;
  signal?: AbortSignal;
  proxy?: string | null;
  /** Test hook: sees the session once it is open. */
  onSession?: (s: DataSession) => void;
}

/** What one archive backup did. */
export interface BackupSummary {
  archiveGuid: string;
  seq: number;
  versionTime: number;
  mode: "full" | "paths";
  /** Files and bytes in the selection. */
  files: number;
  bytes: number;
  changedFiles: number;
  changedBytes: number;
  deletedFiles: number;
  /** Sealed bytes the node acknowledged (new data only). */
  uploadedBytes: number;
  uploadedBlocks: number;
  /** Chunks the archive already held. */
  dedupBlocks: number;
  errors: number;
  errorList: ScanError[];
  complete: boolean;
  scannedDirs: number;
  statted: number;
  reconnects: number;
}

const PRESENT = 2;
const CLAIMED = 1;

/** Backs up one archive and commits a version. */
export async function runArchiveBackup(o: BackupRunOptions): Promise<BackupSummary> {
  const guid = o.endpoint.archiveGuid;
  const keys = deriveArchiveKeys(o.archiveKey, guid);
  const archives = new ArchiveStore(o.db);
  if (!archives.get(guid)) {
    archives.upsertEndpoint({
      archiveGuid: guid,
      destinationGuid: guid,
      url: o.endpoint.url,
      fingerprint: o.endpoint.fingerprint,
      token: o.endpoint.token,
      tokenExpiresAt: 0,
    });
  }
  const row = archives.get(guid) as NonNullable<ReturnType<ArchiveStore["get"]>>;
  const cache = new FileCache(o.db, guid);
  cache.clearPending();
  const run = new Run(o, keys, cache);
  const session = new DataSession({
    endpoint: o.endpoint,
    mode: "backup",
    agentVersion: o.agentVersion,
    clock: o.clock,
    logger: o.logger,
    proxy: o.proxy ?? null,
    sessionId: row.sessionId,
    ...(o.limiter ? { limiter: o.limiter } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    onAck: (id, n) => run.onAck(id, n),
    onReopen: (resumed) => run.onReopen(resumed),
    onHeal: (ids) => run.onHeal(ids),
  });
  run.session = session;
  try {
    const opened = await session.open();
    archives.update(guid, { sessionId: session.sessionId });
    o.onSession?.(session);
    const head = await checkHead(session, keys, opened.head, row.lastSeq, row.lastManifestHash);
    // An archive holding no block (a first backup) answers every `have` with "no": skip the round trips.
    run.archiveEmpty = opened.usedBytes === 0 && !opened.resumed;
    const summary = await run.execute(head);
    archives.update(guid, {
      lastSeq: summary.seq,
      lastManifestHash: run.manifestHash,
      sessionId: null,
      lastBackup: summary.versionTime,
      ...(summary.complete ? { lastCompletedBackup: summary.versionTime } : {}),
      selectedFiles: summary.files,
      selectedBytes: summary.bytes,
      todoFiles: run.todoFiles,
      todoBytes: run.todoBytes,
      ...(summary.mode === "full" ? { lastFullScan: o.clock.now() } : {}),
    });
    cache.applyPending();
    if (summary.mode === "full") kvSet(o.db, `roots:${guid}`, o.selection.roots());
    await session.close(false);
    return summary;
  } catch (err) {
    session.dropConnection();
    await session.close(false).catch(() => undefined);
    await run.stop();
    throw err;
  } finally {
    await run.stop();
  }
}

class Run {
  session!: DataSession;
  manifestHash: Buffer | null = null;
  /** The archive held no block when the session opened: no id needs a `have`. */
  archiveEmpty = false;
  todoFiles = 0;
  todoBytes = 0;
  private readonly state = new Map<string, number>();
  private pool: WorkerPool | null = null;
  private readonly jobs = new Map<number, { entry: ScanEntry; attempts: number }>();
  private nextIdx = 1;
  private remaining = 0;
  private openWindows = 0;
  /** Sealed buffers granted to workers and not yet fully acknowledged. */
  private sealedOut = 0;
  private sealedWaiters: Array<() => void> = [];
  /** The sealed buffer each unacknowledged frame lives in (by block id). */
  private readonly sealedOf = new Map<string, { worker: number; buf: ArrayBuffer; frames: number }>();
  private failure: CairnError | null = null;
  private wake: (() => void) | null = null;
  private stageBuf: PendingEntry[] = [];
  private stageBytes = 0;
  private stageChain: Promise<void> = Promise.resolve();
  private staged = 0;
  private changedFiles = 0;
  private readonly errors: ScanError[] = [];
  private uploadedBytes = 0;
  private uploadedBlocks = 0;
  private dedupBlocks = 0;
  private doneFiles = 0;
  private doneBytes = 0;
  private totalFiles = 0;
  private totalBytes = 0;
  private changedBytes = 0;
  private deletedFiles = 0;
  private readonly progress: ProgressSink;

  constructor(
    private readonly o: BackupRunOptions,
    private readonly keys: ArchiveKeys,
    private readonly cache: FileCache,
  ) {
    this.progress = o.progress ?? noProgress;
  }

  async execute(head: Head | null): Promise<BackupSummary> {
    const o = this.o;
    this.progress({ phase: "scan", totalFiles: 0, totalBytes: 0, doneFiles: 0, doneBytes: 0, uploadedBytes: 0, errors: 0 });
    const scanner = new Scanner(this.cache, o.selection);
    const mode = o.paths ? "paths" : "full";
    const scan = o.paths ? scanner.paths(o.paths) : scanner.full();
    if (mode === "full") this.deselectedRoots(scan.deleted);
    this.errors.push(...scan.errors);
    const jobs: FileJob[] = [];
    const inline: PendingEntry[] = [];
    for (const e of scan.changed) {
      if (e.kind === KIND.FILE && e.size > 0) {
        const idx = this.nextIdx++;
        this.jobs.set(idx, { entry: e, attempts: 0 });
        jobs.push(jobOf(idx, e));
        this.totalBytes += e.size;
        this.totalFiles++;
      } else {
        const p = this.inlineEntry(e);
        if (p) inline.push(p);
      }
    }
    for (const d of scan.deleted) inline.push(this.deletedEntry(d));
    this.deletedFiles = scan.deleted.filter((d) => d.kind === KIND.FILE).length;
    const totals = this.totals(scan.stats, mode, scan.changed, scan.deleted);
    for (const p of inline) this.stage(p);
    this.remaining = jobs.length;
    this.report("upload");
    if (jobs.length > 0) await this.upload(jobs);
    this.flushStage();
    await this.stageChain;
    this.report("commit");
    await this.session.flush();
    this.check();
    const complete = this.errors.length === 0;
    const seq = (head?.seq ?? 0) + 1;
    const now = o.clock.now();
    const { blob, hash } = sealManifest(this.keys, {
      v: 1,
      archiveGuid: this.keys.archiveGuid,
      seq,
      prevManifestHash: head?.manifestHash ?? null,
      createdClient: Math.max(0, Math.floor(now)),
      files: totals.files,
      bytes: totals.bytes,
      changedFiles: this.staged,
      complete: complete ? "yes" : "no",
    });
    for (const e of this.errors) {
      const r = this.jobsByPath.get(e.path);
      if (r) {
        this.todoFiles++;
        this.todoBytes += r.size;
      }
    }
    const res = await this.commit({
      seq,
      prevManifestHash: head?.manifestHash ?? null,
      manifest: blob,
      manifestHash: hash,
      clientTime: Math.max(0, Math.floor(now)),
      stats: { selectedFiles: totals.files, selectedBytes: totals.bytes, todoFiles: this.todoFiles, todoBytes: this.todoBytes },
      complete,
    });
    this.manifestHash = hash;
    return {
      archiveGuid: this.keys.archiveGuid,
      seq: res.seq,
      versionTime: res.versionTime,
      mode,
      files: totals.files,
      bytes: totals.bytes,
      changedFiles: this.changedFiles,
      changedBytes: this.changedBytes,
      deletedFiles: this.deletedFiles,
      uploadedBytes: this.uploadedBytes,
      uploadedBlocks: this.uploadedBlocks,
      dedupBlocks: this.dedupBlocks,
      errors: this.errors.length,
      errorList: this.errors.slice(0, 1000),
      complete,
      scannedDirs: scan.stats.dirs,
      statted: scan.stats.statted,
      reconnects: this.session.reconnects,
    };
  }

  private readonly jobsByPath = new Map<string, { size: number }>();

  private async commit(p: Parameters<DataSession["call"]>[1] & { seq: number; manifestHash: Buffer }): Promise<{ seq: number; versionTime: number }> {
    const params = { sessionId: this.session.sessionId ?? "", ...p } as never;
    try {
      return await this.session.call("commit", params, { retry: false });
    } catch (err) {
      if (!isCairnError(err, "CONNECTION_LOST") && !isCairnError(err, "TIMEOUT")) throw err;
      // Did the commit land before the connection dropped? Re-open and look at the head.
      const versions = await this.session.call("list-versions", {});
      const v = versions.versions.find((x) => x.seq === p.seq);
      if (v?.manifestHash.equals(p.manifestHash)) return { seq: v.seq, versionTime: v.time };
      return await this.session.call("commit", { ...(params as object), sessionId: this.session.sessionId ?? "" } as never, { retry: false });
    }
  }

  private totals(
    stats: { selectedFiles: number; selectedBytes: number },
    mode: string,
    changed: ScanEntry[],
    deleted: DeletedEntry[],
  ): { files: number; bytes: number } {
    if (mode === "full") return { files: stats.selectedFiles, bytes: stats.selectedBytes };
    const row = new ArchiveStore(this.o.db).get(this.keys.archiveGuid);
    let files = row?.selectedFiles ?? 0;
    let bytes = row?.selectedBytes ?? 0;
    for (const e of changed) {
      if (e.kind !== KIND.FILE) continue;
      const prev = this.cache.get(e.path);
      if (prev && prev.kind === KIND.FILE) bytes += e.size - Math.max(0, prev.size);
      else {
        files++;
        bytes += e.size;
      }
    }
    for (const d of deleted) {
      if (d.kind !== KIND.FILE) continue;
      const prev = this.cache.get(d.path);
      files--;
      bytes -= Math.max(0, prev?.size ?? 0);
    }
    return { files: Math.max(0, files), bytes: Math.max(0, bytes) };
  }

  private deselectedRoots(deleted: DeletedEntry[]): void {
    const prev = kvGet<string[]>(this.o.db, `roots:${this.keys.archiveGuid}`) ?? [];
    for (const r of prev) {
      if (this.o.selection.covers(r)) continue;
      const row = this.cache.get(r);
      if (!row) continue;
      deleted.push({ path: r, kind: row.kind });
      if (row.kind === KIND.DIR)
        for (const d of this.cache.descendants(r)) if (!this.o.selection.covers(d.path)) deleted.push({ path: d.path, kind: d.row.kind });
    }
  }

  private inlineEntry(e: ScanEntry): PendingEntry | null {
    const fileId = fileIdFor(this.keys, e.path);
    let target: string | undefined;
    if (e.kind === KIND.SYMLINK) {
      try {
        target = readlinkSync(e.path);
      } catch (err) {
        this.errors.push({ path: e.path, code: (err as NodeJS.ErrnoException).code ?? "EIO", message: (err as Error).message });
        return null;
      }
    }
    const type = e.kind === KIND.DIR ? "dir" : e.kind === KIND.SYMLINK ? "symlink" : "file";
    const meta = sealFileMeta(this.keys, fileId, {
      path: e.path,
      type,
      mode: e.mode,
      mtimeMs: Math.max(0, Math.floor(e.mtime)),
      size: e.kind === KIND.FILE ? 0 : 0,
      ...(target !== undefined ? { target } : {}),
      blockSizes: [],
      uid: e.uid,
      gid: e.gid,
    });
    return { path: e.path, deleted: false, kind: e.kind, size: e.size, mtime: e.mtime, ctime: e.ctime, ino: e.ino, mode: e.mode, blocks: null, fileId, meta };
  }

  private deletedEntry(d: DeletedEntry): PendingEntry {
    return {
      path: d.path,
      deleted: true,
      kind: d.kind,
      size: 0,
      mtime: 0,
      ctime: 0,
      ino: 0,
      mode: 0,
      blocks: null,
      fileId: fileIdFor(this.keys, d.path),
      meta: null,
    };
  }

  private stage(p: PendingEntry): void {
    if (p.kind === KIND.FILE && !p.deleted) this.changedFiles++;
    this.stageBuf.push(p);
    this.stageBytes += (p.blocks?.length ?? 0) + (p.meta?.length ?? 0) + 64;
    if (this.stageBuf.length >= STAGE_BATCH_FILES || this.stageBytes >= STAGE_BATCH_BYTES) this.flushStage();
  }

  private flushStage(): void {
    if (this.stageBuf.length === 0) return;
    const batch = this.stageBuf;
    this.stageBuf = [];
    this.stageBytes = 0;
    this.cache.addPending(batch);
    this.staged += batch.length;
    const files = batch.map(toStaged);
    this.stageChain = this.stageChain.then(async () => {
      await this.session.call("stage-files", { sessionId: this.session.sessionId ?? "", files });
    });
    this.stageChain.catch((err: unknown) => this.fail(err));
  }

  /** After a reconnect that lost the session: stage everything again from the pending table. */
  async onReopen(resumed: boolean): Promise<void> {
    if (resumed) return;
    let after = 0;
    for (;;) {
      const rows = this.cache.pendingAfter(after, 1000);
      if (rows.length === 0) break;
      after = (rows[rows.length - 1] as { seqno: number }).seqno;
      // called from inside the reconnect: use the raw link through call() (retry off: we are the retry)
      await this.session.call("stage-files", { sessionId: this.session.sessionId ?? "", files: rows.map(toStaged) }, { retry: false });
    }
  }

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
    while (this.sealedOut >= MAX_SEALED_BUFFERS && !this.failure && !this.session.error) await new Promise<void>((r) => this.sealedWaiters.push(r));
    await this.session.waitBacklogBelow(BACKLOG_BYTES);
  }

  onHeal(ids: Buffer): void {
    const list: Buffer[] = [];
    for (let o = 0; o + 32 <= ids.length; o += 32) list.push(ids.subarray(o, o + 32));
    const n = this.cache.invalidateBlocks(list);
    this.o.logger.warn({ blocks: list.length, files: n }, "the storage node asked to heal blocks; their files are re-read on the next backup");
  }

  private fail(err: unknown): void {
    if (this.failure) return;
    this.failure = isCairnError(err) ? err : new CairnError("INTERNAL", "backup failed", { cause: err });
    this.wake?.();
  }

  private check(): void {
    if (this.failure) throw this.failure;
    const e = this.session.error;
    if (e) throw e;
    if (this.o.signal?.aborted) throw new CairnError("CANCELLED", "backup cancelled");
  }

  private report(phase: "upload" | "commit"): void {
    this.progress({
      phase,
      totalFiles: this.totalFiles,
      totalBytes: this.totalBytes,
      doneFiles: this.doneFiles,
      doneBytes: this.doneBytes,
      uploadedBytes: this.uploadedBytes,
      errors: this.errors.length,
    });
  }

  private async upload(jobs: FileJob[]): Promise<void> {
    for (const j of jobs) this.jobsByPath.set(j.path, { size: j.size });
    this.pool = new WorkerPool(
      { archiveKey: this.o.archiveKey, archiveGuid: this.keys.archiveGuid, compress: this.o.compress ?? "auto", cpuPercent: this.o.cpuPercent ?? 100 },
      { onMessage: (w, m) => this.onWorker(w, m), onError: (e) => this.fail(e) },
      this.o.workers,
    );
    const tasks = makeTasks(jobs);
    let next = 0;
    const feed = () => {
      while (next < tasks.length && (this.pool as WorkerPool).outstandingTasks < (this.pool as WorkerPool).size * 3) {
        (this.pool as WorkerPool).submit(tasks[next++] as FileJob[]);
      }
    };
    feed();
    const abort = () => this.fail(new CairnError("CANCELLED", "backup cancelled"));
    this.o.signal?.addEventListener("abort", abort, { once: true });
    try {
      while (!this.failure && (this.remaining > 0 || this.openWindows > 0)) {
        await new Promise<void>((r) => {
          this.wake = r;
          setTimeout(r, 500).unref();
        });
        this.wake = null;
        feed();
        if (this.session.error) this.fail(this.session.error);
      }
    } finally {
      this.o.signal?.removeEventListener("abort", abort);
    }
    this.check();
  }

  private onWorker(w: number, m: FromWorker): void {
    switch (m.t) {
      case "win":
        this.openWindows++;
        this.onWindow(w, m).catch((err: unknown) => this.fail(err));
        return;
      case "sealed": {
        this.openWindows--;
        if (!m.buf) {
          this.sealedOut--;
          this.wakeSealed();
          this.wake?.();
          return;
        }
        const buf = Buffer.from(m.buf, 0, m.offsets[m.offsets.length - 1]);
        const sb = { worker: w, buf: m.buf, frames: m.offsets.length - 1 };
        for (let i = 0; i + 1 < m.offsets.length; i++) {
          const frame = buf.subarray(m.offsets[i] as number, m.offsets[i + 1] as number);
          const key = putFrameId(frame).toString("latin1");
          this.sealedOf.set(key, sb);
          this.session.put(key, frame);
        }
        this.wake?.();
        return;
      }
      case "files":
        for (const r of unpackFileResults(m)) this.onFile(r);
        this.report("upload");
        this.wake?.();
        return;
      case "taskdone":
        this.wake?.();
        return;
      case "fatal":
        this.fail(new CairnError("INTERNAL", `chunk worker: ${m.message}`));
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
    if (unknown.length > 0 && !this.archiveEmpty) {
      const q = Buffer.allocUnsafe(unknown.length * 32);
      unknown.forEach((i, j) => {
        ids.copy(q, j * 32, i * 32, i * 32 + 32);
      });
      present = (await this.session.call("have", { ids: q })).present;
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

  private onFile(m: FileResult): void {
    const job = this.jobs.get(m.idx);
    if (!job) return;
    if (m.ok) {
      const e = job.entry;
      this.jobs.delete(m.idx);
      this.remaining--;
      this.doneFiles++;
      this.doneBytes += m.size;
      this.changedBytes += m.size;
      this.stage({
        path: e.path,
        deleted: false,
        kind: KIND.FILE,
        size: m.size,
        mtime: m.mtime,
        ctime: m.ctime,
        ino: e.ino,
        mode: e.mode,
        blocks: Buffer.from(m.blocks.buffer, m.blocks.byteOffset, m.blocks.byteLength),
        fileId: Buffer.from(m.fileId.buffer, m.fileId.byteOffset, m.fileId.byteLength),
        meta: Buffer.from(m.meta.buffer, m.meta.byteOffset, m.meta.byteLength),
      });
      return;
    }
    if (m.changed && job.attempts + 1 < MAX_ATTEMPTS) {
      job.attempts++;
      let st: ReturnType<typeof lstatSync> | undefined;
      try {
        st = lstatSync(job.entry.path, { throwIfNoEntry: false });
      } catch {
        st = undefined;
      }
      if (!st || kindOf(st) !== KIND.FILE) {
        this.jobs.delete(m.idx);
        this.remaining--;
        const row = this.cache.get(job.entry.path);
        if (row) this.stage(this.deletedEntry({ path: job.entry.path, kind: row.kind }));
        return;
      }
      job.entry = entryOf(job.entry.path, KIND.FILE, st);
      if (job.entry.size === 0) {
        this.jobs.delete(m.idx);
        this.remaining--;
        const p = this.inlineEntry(job.entry);
        if (p) this.stage(p);
        return;
      }
      this.pool?.submit([jobOf(m.idx, job.entry)]);
      return;
    }
    this.jobs.delete(m.idx);
    this.remaining--;
    this.errors.push({ path: job.entry.path, code: m.code, message: m.changed ? "file kept changing while being read" : m.message });
  }

  async stop(): Promise<void> {
    const p = this.pool;
    this.pool = null;
    if (p) await p.close();
  }
}

function jobOf(idx: number, e: ScanEntry): FileJob {
  return { idx, path: e.path, size: e.size, mtime: e.mtime, ctime: e.ctime, ino: e.ino, mode: e.mode, uid: e.uid, gid: e.gid };
}

function makeTasks(jobs: FileJob[]): FileJob[][] {
  const tasks: FileJob[][] = [];
  let cur: FileJob[] = [];
  let bytes = 0;
  for (const j of jobs) {
    if (j.size >= LARGE_FILE_BYTES) {
      tasks.push([j]);
      continue;
    }
    cur.push(j);
    bytes += j.size;
    if (bytes >= TASK_BYTES || cur.length >= TASK_FILES) {
      tasks.push(cur);
      cur = [];
      bytes = 0;
    }
  }
  if (cur.length > 0) tasks.push(cur);
  return tasks;
}

function toStaged(p: PendingEntry): StagedFile {
  return {
    fileId: p.fileId,
    deleted: p.deleted,
    size: p.deleted || p.kind !== KIND.FILE ? 0 : p.size,
    blocks: p.blocks ?? Buffer.alloc(0),
    meta: p.deleted ? null : p.meta,
  };
}
