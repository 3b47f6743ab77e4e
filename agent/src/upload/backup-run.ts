/**
 * One backup of one archive: scan → read → chunk → keyed id → dedup (`have`, batched per
 * window) → compress when it pays → seal → `put`, then `stage-files` and `commit`. The scan is
 * pulled batch by batch as the workers need work (uploader.ts), entries are staged in batches
 * (stager.ts).
 *
 * Stages and who runs them:
 * - main thread: scan (lstat + cache), dedup decisions, staging, socket writes (TLS), acks;
 * - chunk workers: reading, FastCDC, HMAC ids, zstd, AES-GCM, framing, file metadata sealing.
 *
 * Memory is bounded: the scan is a generator resumed only while the workers have room; each
 * worker holds at most two 4 MiB windows (plus one chunk) awaiting a dedup answer; at most six
 * sealed buffers are in flight (uploader.ts); no file or version is ever held whole (staged
 * entries go to SQLite in batches). The cache changes only after the commit succeeds.
 */
import type { ProxySetting } from "../net/ws-link.js";
import { lstatSync, readlinkSync } from "node:fs";
import { dirname } from "node:path";
import type { Logger } from "pino";
import {
  type ArchiveKeys,
  blocksHashOf,
  CairnError,
  type Clock,
  deriveArchiveKeys,
  fileIdFor,
  isCairnError,
  LEASE_TTL_MS,
  openFileMeta,
  sealFileMeta,
  sealManifest,
} from "@cairn/protocol";

/** The block-list hash of an entry without blocks (directories, symlinks). */
const EMPTY_BLOCKS_HASH = blocksHashOf(Buffer.alloc(0));
import { type ArchiveEndpoint, DataSession } from "../net/data-session.js";
import type { NetworkPolicy } from "../net/network-policy.js";
import type { RateLimiter } from "../net/rate-limiter.js";
import { noProgress, type ProgressSink } from "../progress.js";
import { type DeletedEntry, entryOf, kindOf, type ScanBatch, type ScanEntry, type ScanError, type ScanStats, Scanner } from "../scan/scanner.js";
import type { Selection } from "../selection.js";
import type { Db } from "../state/agent-db.js";
import { effectiveProxy } from "../config/org-proxy.js";
import { kvDelete, kvGet, kvSet } from "../state/agent-db.js";
import { ArchiveStore } from "../state/archive-store.js";
import { FileCache, KIND, type Kind, type PendingEntry } from "../state/file-cache.js";
import { checkHead, type Head } from "./rollback.js";
import { Stager } from "./stager.js";
import { asLocalDiskFull } from "../state/disk-full.js";
import { Uploader } from "./uploader.js";
import type { FileJob, FileResult } from "./worker-protocol.js";
import { TASK_BYTES, TASK_FILES } from "./worker-pool.js";

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
  /** Network exclusions: no block is sent over an excluded interface or Wi-Fi network. */
  network?: NetworkPolicy;
  cpuPercent?: number;
  workers?: number;
  compress?: "auto" | "never";
  progress?: ProgressSink;
  signal?: AbortSignal;
  proxy?: ProxySetting;
  /**
   * How long to keep trying when another session holds the archive's lease (default: one lease,
   * 65 s): a run of this device that was killed right after the node granted it a session, before
   * its id was stored, holds the lease until it expires. 0 fails at once with ARCHIVE_IN_USE.
   */
  leaseWaitMs?: number;
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

/**
 * A paths-mode run (the watcher's changes) of an archive this device never committed a version
 * to scans the whole selection instead: a destination offered since the last full scan starts
 * empty, and the changed paths alone would give it an almost empty first version.
 */
function fullWhenNew(o: BackupRunOptions): BackupRunOptions {
  if (o.paths === undefined) return o;
  const row = new ArchiveStore(o.db).get(o.endpoint.archiveGuid);
  if (row !== undefined && row.lastSeq > 0) return o;
  const { paths: _changed, ...full } = o;
  o.logger.info({ archiveGuid: o.endpoint.archiveGuid }, "first backup to this archive: a full scan instead of the changed paths");
  return full;
}

/** Backs up one archive and commits a version. */
export async function runArchiveBackup(given: BackupRunOptions): Promise<BackupSummary> {
  const o = fullWhenNew(given);
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
  let row = archives.get(guid) as NonNullable<ReturnType<ArchiveStore["get"]>>;
  const cache = new FileCache(o.db, guid);
  const run = new Run(o, keys, cache);
  const session = new DataSession({
    endpoint: o.endpoint,
    mode: "backup",
    agentVersion: o.agentVersion,
    clock: o.clock,
    logger: o.logger,
    proxy: effectiveProxy(o.proxy, o.db),
    sessionId: row.sessionId,
    ...(o.limiter ? { limiter: o.limiter } : {}),
    ...(o.network ? { network: o.network } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    onAck: (id, n) => run.onAck(id, n),
    onReopen: (resumed) => run.onReopen(resumed),
    onHeal: (ids) => run.onHeal(ids),
  });
  run.session = session;
  try {
    let opened = await openWaitingForLease(session, o);
    // The stored session is one a killed or failed run left open: resuming it takes its lease
    // over at once, but its staged files are that run's view of the tree, not this one's (this
    // run staged nothing yet): committed, they would bring back files deleted since.
    if (opened.resumed) opened = await session.startFresh();
    archives.update(guid, { sessionId: session.sessionId });
    // A run killed after its commit landed and before it recorded it: its pending entries are that
    // version. Recorded now, or the next backups would not know the files it added (a file deleted
    // since would stay in every later version). Otherwise they are a run's that never committed.
    const committing = kvGet<{ seq: number; manifestHash: string }>(o.db, committingKey(guid));
    if (committing && opened.head?.seq === committing.seq && opened.head.manifestHash.toString("hex") === committing.manifestHash) {
      cache.applyPending();
      archives.update(guid, { lastSeq: committing.seq, lastManifestHash: opened.head.manifestHash });
      row = archives.get(guid) as typeof row;
      o.logger.info({ archiveGuid: guid, seq: committing.seq }, "recorded the version an interrupted run committed");
    }
    kvDelete(o.db, committingKey(guid));
    cache.clearPending();
    o.onSession?.(session);
    const head = await checkHead(session, keys, opened.head, row.lastSeq, row.lastManifestHash);
    // An archive holding no block (a first backup) answers every `have` with "no": skip the round trips.
    run.archiveEmpty = opened.usedBytes === 0 && !opened.resumed;
    // A head this device has no record of (its database was lost, or a new install took the
    // archive over): the cache does not know the head's files, so a full run lists them.
    // (A paths-mode run leaves it to the next full one.)
    if (head !== null && row.lastSeq === 0) kvSet(o.db, reconcileKey(guid), true);
    run.unknownHead = kvGet<boolean>(o.db, reconcileKey(guid)) === true;
    const summary = await run.execute(head);
    archives.update(guid, {
      lastSeq: summary.seq,
      lastManifestHash: run.manifestHash,
      lastBackup: summary.versionTime,
      ...(summary.complete ? { lastCompletedBackup: summary.versionTime } : {}),
      selectedFiles: summary.files,
      selectedBytes: summary.bytes,
      todoFiles: run.todoFiles,
      todoBytes: run.todoBytes,
      ...(summary.mode === "full" ? { lastFullScan: o.clock.now() } : {}),
    });
    cache.applyPending();
    kvDelete(o.db, committingKey(guid));
    if (summary.mode === "full") {
      kvSet(o.db, `roots:${guid}`, o.selection.roots());
      kvDelete(o.db, reconcileKey(guid));
    }
    await session.close(false);
    // forgotten only once the node ended it: a run killed before that takes its lease over
    archives.update(guid, { sessionId: null });
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

/** `open`, retried every 5 s while another session holds the lease, for up to `leaseWaitMs`. */
async function openWaitingForLease(session: DataSession, o: BackupRunOptions): Promise<Awaited<ReturnType<DataSession["open"]>>> {
  // counted in tries of real timers, not read from the (injected) clock: the lease runs out on the node's
  const tries = Math.floor((o.leaseWaitMs ?? LEASE_TTL_MS + 5000) / LEASE_POLL_MS);
  for (let attempt = 0; ; attempt++) {
    try {
      return await session.open();
    } catch (err) {
      if (!isCairnError(err, "ARCHIVE_IN_USE") || attempt >= tries || o.signal?.aborted) throw err;
      o.logger.info({ archiveGuid: o.endpoint.archiveGuid }, "another session holds the archive's lease; waiting for it to end or expire");
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          o.signal?.removeEventListener("abort", done);
          resolve();
        };
        const t = setTimeout(done, LEASE_POLL_MS);
        o.signal?.addEventListener("abort", done, { once: true });
      });
    }
  }
}

/** Whether a path exists as a file, directory or symlink (what the scan backs up): a path that cannot be checked for another reason is kept. */
function existsAsEntry(path: string): boolean {
  try {
    return kindOf(lstatSync(path)) !== null;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code !== "ENOENT" && code !== "ENOTDIR";
  }
}

/** The kv key set while the head's file list is still to be reconciled with the disk. */
function reconcileKey(archiveGuid: string): string {
  return `reconcile:${archiveGuid}`;
}

/** The kv key of the version a run is committing (seq and manifest hash), until it is recorded. */
function committingKey(archiveGuid: string): string {
  return `committing:${archiveGuid}`;
}

/** How often a run waiting for the archive's lease tries again. */
const LEASE_POLL_MS = 5000;

class Run {
  session!: DataSession;
  manifestHash: Buffer | null = null;
  /** The archive held no block when the session opened: no id needs a `have`. */
  archiveEmpty = false;
  /** The head is a version this device's cache knows nothing of: reconcile against its file list. */
  unknownHead = false;
  todoFiles = 0;
  todoBytes = 0;
  private up: Uploader | null = null;
  /** Files handed to the workers and not finished, by the run's index. */
  private readonly jobs = new Map<number, { entry: ScanEntry; attempts: number }>();
  private nextIdx = 1;
  private failure: CairnError | null = null;
  private wake: (() => void) | null = null;
  private readonly stager: Stager;
  private changedFiles = 0;
  private readonly errors: ScanError[] = [];
  private doneFiles = 0;
  private doneBytes = 0;
  private totalFiles = 0;
  private totalBytes = 0;
  private changedBytes = 0;
  private deletedFiles = 0;
  /** Paths mode: the selection's totals change by these amounts. */
  private filesDelta = 0;
  private bytesDelta = 0;
  private readonly progress: ProgressSink;

  constructor(
    private readonly o: BackupRunOptions,
    private readonly keys: ArchiveKeys,
    private readonly cache: FileCache,
  ) {
    this.progress = o.progress ?? noProgress;
    this.stager = new Stager(
      cache,
      () => this.session,
      (err) => this.fail(err),
    );
  }

  async execute(head: Head | null): Promise<BackupSummary> {
    const o = this.o;
    this.progress({ phase: "scan", totalFiles: 0, totalBytes: 0, doneFiles: 0, doneBytes: 0, uploadedBytes: 0, errors: 0 });
    const scanner = new Scanner(this.cache, o.selection);
    // an exclusion pattern left out (it could hang the scan) is the administrators' to fix: said
    // in every backup's errors (exit 3), while what it would exclude is backed up
    for (const r of o.selection.refusedPatterns) {
      o.logger.error({ pattern: r.pattern, reason: r.reason }, "an exclusion pattern was left out: it could take for ever to match");
      this.errors.push({
        path: `(exclusion pattern ${JSON.stringify(r.pattern).slice(0, 200)})`,
        code: "CONFIG_INVALID",
        message: `left out, it could take for ever to match (${r.reason}); what it would exclude is backed up`,
      });
    }
    const mode = o.paths ? "paths" : "full";
    if (mode === "full") for (const d of this.deselectedRoots()) this.onDeleted(d, mode);
    const gen = o.paths ? scanner.pathBatches(o.paths) : scanner.fullBatches();
    this.up = new Uploader({
      archiveKey: o.archiveKey,
      keys: this.keys,
      session: this.session,
      compress: o.compress ?? "auto",
      cpuPercent: o.cpuPercent ?? 100,
      ...(o.workers ? { workers: o.workers } : {}),
      archiveEmpty: this.archiveEmpty,
      // the file's staging writes the local database: a full disk there fails the run, it must
      // not escape the worker's message handler (the run would wait for that file forever)
      onFile: (r) => {
        try {
          this.onFile(r);
        } catch (err) {
          this.fail(err);
        }
      },
      onWake: () => this.wake?.(),
      fail: (err) => this.fail(err),
    });
    const stats = await this.scanAndUpload(gen, mode);
    if (mode === "full" && this.unknownHead) await this.reconcileWithHead();
    this.stager.flush();
    await this.stager.drain();
    // every file is read; what is still queued goes out now (at the bandwidth limit, this is
    // most of a large backup): progress keeps counting the bytes sent until the commit
    const sending = setInterval(() => this.report("upload"), 500);
    try {
      await this.session.flush();
    } finally {
      clearInterval(sending);
    }
    this.report("commit");
    this.check();
    // complete: everything selected was seen and sent. A file that could not be read, a folder
    // that could not be listed, a selected folder that is missing (a drive unplugged for months
    // must show in the warning and critical counts) keep it incomplete. Only a name no archive
    // can hold (not UTF-8: no retry will ever store it) is listed (exit 3) without holding the
    // last completed backup back, or one such name would send the device to critical for ever;
    // nor does an exclusion pattern left out (everything was backed up, more than asked).
    const complete = this.todoFiles === 0 && this.errors.every((e) => e.code === "EILSEQ" || e.code === "CONFIG_INVALID");
    const seq = (head?.seq ?? 0) + 1;
    const now = o.clock.now();
    const totals = mode === "full" ? { files: stats.selectedFiles, bytes: stats.selectedBytes } : this.pathTotals();
    const { blob, hash } = sealManifest(this.keys, {
      v: 1,
      archiveGuid: this.keys.archiveGuid,
      seq,
      prevManifestHash: head?.manifestHash ?? null,
      createdClient: Math.max(0, Math.floor(now)),
      files: totals.files,
      bytes: totals.bytes,
      changedFiles: this.stager.staged,
      complete: complete ? "yes" : "no",
    });
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
    const up = this.up;
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
      uploadedBytes: up.uploadedBytes,
      uploadedBlocks: up.uploadedBlocks,
      dedupBlocks: up.dedupBlocks,
      errors: this.errors.length,
      errorList: this.errors.slice(0, 1000),
      complete,
      scannedDirs: stats.dirs,
      statted: stats.statted,
      reconnects: this.session.reconnects,
    };
  }

  /**
   * Pulls scan batches only while the workers have room (≤ 3 tasks each queued), so the scan's
   * changed entries never pile up: memory holds one batch, the open tasks and the files in flight.
   */
  private async scanAndUpload(gen: Generator<ScanBatch, ScanStats>, mode: "full" | "paths"): Promise<ScanStats> {
    const up = this.up as Uploader;
    let task: FileJob[] = [];
    let taskBytes = 0;
    const flushTask = () => {
      if (task.length === 0) return;
      up.submit(task);
      task = [];
      taskBytes = 0;
    };
    const addFile = (e: ScanEntry) => {
      const idx = this.nextIdx++;
      this.jobs.set(idx, { entry: e, attempts: 0 });
      this.totalBytes += e.size;
      this.totalFiles++;
      const job = jobOf(idx, e);
      if (e.size >= LARGE_FILE_BYTES) return up.submit([job]);
      task.push(job);
      taskBytes += e.size;
      if (taskBytes >= TASK_BYTES || task.length >= TASK_FILES) flushTask();
    };
    let stats: ScanStats | null = null;
    const abort = () => this.fail(new CairnError("CANCELLED", "backup cancelled"));
    this.o.signal?.addEventListener("abort", abort, { once: true });
    try {
      for (;;) {
        while (stats === null && !this.failure && up.outstandingTasks < up.size * 3) {
          const n = gen.next();
          if (n.done) {
            stats = n.value;
            flushTask();
            break;
          }
          this.onScanBatch(n.value, mode, addFile);
          if (up.outstandingTasks === 0) flushTask(); // idle workers get what there is
        }
        this.report("upload");
        if (this.failure || (stats !== null && this.jobs.size === 0 && !up.busy)) break;
        await new Promise<void>((r) => {
          this.wake = r;
          setTimeout(r, 500).unref();
        });
        this.wake = null;
        if (this.session.error) this.fail(this.session.error);
      }
    } finally {
      this.o.signal?.removeEventListener("abort", abort);
    }
    this.check();
    return stats as ScanStats;
  }

  private onScanBatch(b: ScanBatch, mode: "full" | "paths", addFile: (e: ScanEntry) => void): void {
    this.errors.push(...b.errors);
    for (const e of b.changed) {
      if (mode === "paths" && e.kind === KIND.FILE) {
        const prev = this.cache.get(e.path);
        if (prev && prev.kind === KIND.FILE) this.bytesDelta += e.size - Math.max(0, prev.size);
        else {
          this.filesDelta++;
          this.bytesDelta += e.size;
        }
      }
      if (e.kind === KIND.FILE && e.size > 0) addFile(e);
      else {
        const p = this.inlineEntry(e);
        if (p) this.stage(p);
      }
    }
    for (const d of b.deleted) this.onDeleted(d, mode);
  }

  private onDeleted(d: DeletedEntry, mode: "full" | "paths"): void {
    if (d.kind === KIND.FILE) {
      this.deletedFiles++;
      if (mode === "paths") {
        this.filesDelta--;
        this.bytesDelta -= Math.max(0, this.cache.get(d.path)?.size ?? 0);
      }
    }
    this.stage(this.deletedEntry(d));
  }

  /** The selection's totals after a paths-mode run: the last ones, moved by what changed. */
  private pathTotals(): { files: number; bytes: number } {
    const row = new ArchiveStore(this.o.db).get(this.keys.archiveGuid);
    return { files: Math.max(0, (row?.selectedFiles ?? 0) + this.filesDelta), bytes: Math.max(0, (row?.selectedBytes ?? 0) + this.bytesDelta) };
  }

  private async commit(p: Parameters<DataSession["call"]>[1] & { seq: number; manifestHash: Buffer }): Promise<{ seq: number; versionTime: number }> {
    // written before the commit is sent: a run killed after it landed is recognised by the next one
    kvSet(this.o.db, committingKey(this.keys.archiveGuid), { seq: p.seq, manifestHash: p.manifestHash.toString("hex") });
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

  /**
   * Files of the head version that are gone from the disk, or no longer selected, are recorded as
   * deleted. Run when the cache knows nothing of the head (a lost agent database, an archive taken
   * over by a new install): otherwise they would stay in every later version and come back in
   * every restore. A path that still exists was scanned (changed or not) and is left to the scan.
   */
  private async reconcileWithHead(): Promise<void> {
    let cursor: string | null = null;
    let deleted = 0;
    do {
      const page: { files: Array<{ fileId: Buffer; deleted: boolean; meta: Buffer | null }>; cursor: string | null } = await this.session.call("list-files", {
        at: null,
        cursor,
        limit: 5000,
        includeDeleted: false,
      });
      for (const f of page.files) {
        if (f.deleted || !f.meta) continue;
        let path: string;
        let kind: Kind;
        try {
          const m = openFileMeta(this.keys, f.fileId, f.meta);
          path = m.path;
          kind = m.type === "dir" ? KIND.DIR : m.type === "symlink" ? KIND.SYMLINK : KIND.FILE;
        } catch (err) {
          // not this run's to judge (verify and restores report damaged entries); kept as it is
          this.o.logger.warn({ fileId: f.fileId.toString("hex"), err: (err as Error).message }, "a file of the head version does not open; left in place");
          continue;
        }
        if (this.selectedWithParents(path, kind) && existsAsEntry(path)) continue;
        this.onDeleted({ path, kind }, "full");
        deleted++;
      }
      cursor = page.cursor;
    } while (cursor);
    if (deleted > 0)
      this.o.logger.info({ archiveGuid: this.keys.archiveGuid, deleted }, "files of the last version no longer on this device recorded as deleted");
  }

  /** Whether the scan would reach `path`: it and every directory above it up to its root are selected. */
  private selectedWithParents(path: string, kind: Kind): boolean {
    const sel = this.o.selection;
    if (!sel.includes(path, kind === KIND.DIR)) return false;
    let child = path;
    for (let d = dirname(child); d !== child && sel.covers(d); child = d, d = dirname(d)) if (!sel.includes(d, true)) return false;
    return true;
  }

  /** Roots backed up last time that are no longer selected: deleted, with what the cache holds below them. */
  private deselectedRoots(): DeletedEntry[] {
    const out: DeletedEntry[] = [];
    const prev = kvGet<string[]>(this.o.db, `roots:${this.keys.archiveGuid}`) ?? [];
    for (const r of prev) {
      if (this.o.selection.covers(r)) continue;
      const row = this.cache.get(r);
      if (!row) continue;
      out.push({ path: r, kind: row.kind });
      if (row.kind === KIND.DIR) for (const d of this.cache.descendants(r)) if (!this.o.selection.covers(d.path)) out.push({ path: d.path, kind: d.row.kind });
    }
    return out;
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
      size: 0,
      ...(target !== undefined ? { target } : {}),
      blockSizes: [],
      uid: e.uid,
      gid: e.gid,
      blocksHash: EMPTY_BLOCKS_HASH,
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
    this.stager.add(p);
  }

  /** After a reconnect that lost the session: stage everything again from the pending table. */
  onReopen(resumed: boolean): Promise<void> {
    return this.stager.restage(resumed);
  }

  onAck(id: Buffer, frameBytes: number): void {
    this.up?.onAck(id, frameBytes);
  }

  onHeal(ids: Buffer): void {
    const list: Buffer[] = [];
    for (let o = 0; o + 32 <= ids.length; o += 32) list.push(ids.subarray(o, o + 32));
    let n: number;
    try {
      n = this.cache.invalidateBlocks(list);
    } catch (err) {
      this.fail(err);
      return;
    }
    this.o.logger.warn({ blocks: list.length, files: n }, "the storage node asked to heal blocks; their files are re-read on the next backup");
  }

  private fail(err: unknown): void {
    if (this.failure) return;
    const e = asLocalDiskFull(err, "backup");
    this.failure = isCairnError(e) ? e : new CairnError("INTERNAL", "backup failed", { cause: e });
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
      uploadedBytes: this.up?.uploadedBytes ?? 0,
      errors: this.errors.length,
    });
  }

  private onFile(m: FileResult): void {
    const job = this.jobs.get(m.idx);
    if (!job) return;
    if (m.ok) {
      const e = job.entry;
      this.jobs.delete(m.idx);
      if (m.fuzzy) this.o.logger.warn({ path: e.path, size: m.size }, "the file kept changing while it was read: backed up as read, read again next time");
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
        const row = this.cache.get(job.entry.path);
        if (row) this.stage(this.deletedEntry({ path: job.entry.path, kind: row.kind }));
        return;
      }
      job.entry = entryOf(job.entry.path, KIND.FILE, st);
      if (job.entry.size === 0) {
        this.jobs.delete(m.idx);
        const p = this.inlineEntry(job.entry);
        if (p) this.stage(p);
        return;
      }
      this.up?.submit([{ ...jobOf(m.idx, job.entry), lastTry: job.attempts >= MAX_ATTEMPTS - 1 }]);
      return;
    }
    this.jobs.delete(m.idx);
    this.todoFiles++;
    this.todoBytes += job.entry.size;
    this.errors.push({ path: job.entry.path, code: m.code, message: m.changed ? "file kept changing while being read" : m.message });
  }

  async stop(): Promise<void> {
    const u = this.up;
    this.up = null;
    if (u) await u.close();
  }
}

function jobOf(idx: number, e: ScanEntry): FileJob {
  return { idx, path: e.path, size: e.size, mtime: e.mtime, ctime: e.ctime, ino: e.ino, mode: e.mode, uid: e.uid, gid: e.gid };
}
