/**
 * Restores files from an archive: any version (`list-files {at}`), the whole tree or chosen
 * paths, to the original place or another folder, overwriting or renaming existing files.
 *
 * Order: directories first (created 0700), then regular files, then symlinks, then the
 * directories' modes and mtimes (deepest first, since writing into a directory changes its
 * mtime). Each regular file is written to a temporary name in its directory (`O_EXCL |
 * O_NOFOLLOW`), every block is opened with `openBlock` (AEAD plus a check that its keyed id
 * matches), sizes are checked, and only then is the file renamed into place. A file with a
 * damaged or missing block fails with a clear error and nothing of it remains. All-zero blocks
 * are not written, so sparse files stay sparse.
 *
 * Blocks are fetched with `get` in batches of consecutive files (≤ 4096 distinct ids, ≤ 64 MiB,
 * ≤ 128 open files), two batches in flight per restore worker. This thread checks paths and
 * makes directories; the workers (restore-worker.ts) create the temp files, open and verify every
 * block, write, and rename, so decryption, decompression and file writes use every core. A block
 * the socket delivered in a buffer of its own is moved to its worker, not copied.
 */
import { closeSync, constants, fchmodSync, futimesSync, lstatSync, lutimesSync, mkdirSync, openSync, rmSync, symlinkSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { type ArchiveKeys, type BlockFrame, CairnError, type FileMeta, isCairnError, isErrorCode, type WireError } from "@cairn/protocol";
import type { DataSession } from "../net/data-session.js";
import { ExternalGarbage } from "../gc.js";
import { noProgress, type ProgressSink } from "../progress.js";
import { RestorePool } from "./restore-pool.js";
import type { RestoreFileJob } from "./restore-protocol.js";
import { placeRestored, type RestoreMapper, utf8Prefix } from "./safe-path.js";
import { targetErrorCode } from "./target-errors.js";

/**
 * One restorable entry, decoded. A whole-archive restore holds one per file for its duration
 * (20,203 in the benchmark), so it is kept lean: the path below the restore root as one string
 * (its components are split off when used), `blocks` a view of a compact per-page buffer.
 */
export interface RestoreEntry {
  meta: FileMeta;
  blocks: Buffer;
  /** The safe components below the restore root, joined with "/" ("" for the root itself). */
  rel: string;
  /** Leading parent components that are the device's own layout (original-place restores). */
  trust?: number;
}

/** The components of an entry's path below the restore root. */
export function entryParts(e: RestoreEntry): string[] {
  return e.rel === "" ? [] : e.rel.split("/");
}

/**
 * What a restore keeps of a file's metadata: everything but `blocksHash`, which
 * `openFileVersion` has checked already.
 */
export function leanMeta(m: FileMeta): FileMeta {
  const out: FileMeta = { path: m.path, type: m.type, mode: m.mode, mtimeMs: m.mtimeMs, size: m.size, blockSizes: m.blockSizes };
  if (m.target !== undefined) out.target = m.target;
  if (m.uid !== undefined) out.uid = m.uid;
  if (m.gid !== undefined) out.gid = m.gid;
  return out;
}

/** A per-item failure. */
export interface RestoreError {
  path: string;
  code: string;
  message: string;
}

/** Options of {@link Restorer}. */
export interface RestorerOptions {
  keys: ArchiveKeys;
  /** The archive key (the workers derive their own subkeys from it). */
  archiveKey: Buffer;
  session: DataSession;
  mapper: RestoreMapper;
  existing: "overwrite" | "rename";
  progress?: ProgressSink;
  signal?: AbortSignal;
  /** Batches of `get` in flight (default: two per worker). */
  concurrency?: number;
  /** Restore workers (default: one per core, at most 4). */
  workers?: number;
}

/** What a restore did. */
export interface RestoreResult {
  files: number;
  bytes: number;
  dirs: number;
  symlinks: number;
  errors: number;
  errorList: RestoreError[];
}

const BATCH_IDS = 4096;
const BATCH_BYTES = 64 * 1024 * 1024;
const BATCH_FILES = 128;

function errOf(path: string, err: unknown): RestoreError {
  const ce = isCairnError(err) ? err : null;
  const errno = (err as NodeJS.ErrnoException)?.code;
  const code = ce ? ce.code : (targetErrorCode(errno) ?? errno ?? "INTERNAL");
  return { path: path.slice(0, 4096), code, message: err instanceof Error ? err.message : String(err) };
}

/** Restores a list of entries. */
export class Restorer {
  private readonly result: RestoreResult = { files: 0, bytes: 0, dirs: 0, symlinks: 0, errors: 0, errorList: [] };
  private readonly progress: ProgressSink;
  private totalFiles = 0;
  private totalBytes = 0;
  /** Temp names: `.<name>.cairn-<random per restore><counter>.tmp` (created O_EXCL). */
  private readonly tempPrefix = randomBytes(6).toString("hex");
  private tempSeq = 0;
  /** Set when a file failed for want of space: no further batch is started. */
  private targetFull = false;
  /**
   * Every block is read in 16 KiB TLS buffers and assembled by `ws`: scavenged every 8 MiB
   * (../gc.ts). Not more often: a scavenge of this thread's young generation costs ~3 ms (a
   * worker's ~1 ms), and this thread parses every frame of the restore.
   */
  private readonly garbage = new ExternalGarbage(8 * 1024 * 1024);

  constructor(private readonly o: RestorerOptions) {
    this.progress = o.progress ?? noProgress;
  }

  private error(path: string, err: unknown): void {
    this.result.errors++;
    const e = errOf(path, err);
    // a full disk stays full: no further batch is started (a folder that could not be made counts)
    if (e.code === "TARGET_FULL") this.targetFull = true;
    if (this.result.errorList.length < 1000) this.result.errorList.push(e);
  }

  /** Restores `entries` (each with its components already relative to the mapper's root). */
  async run(entries: RestoreEntry[]): Promise<RestoreResult> {
    entries.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
    const dirs = entries.filter((e) => e.meta.type === "dir");
    const files = entries.filter((e) => e.meta.type === "file");
    const links = entries.filter((e) => e.meta.type === "symlink");
    this.totalFiles = files.length;
    this.totalBytes = files.reduce((a, f) => a + f.meta.size, 0);
    const madeDirs: Array<{ e: RestoreEntry; path: string }> = [];
    for (const d of dirs) {
      const p = this.makeDir(d);
      if (p) madeDirs.push({ e: d, path: p });
    }
    await this.restoreFiles(files);
    for (const l of links) this.makeLink(l);
    for (const { e, path } of madeDirs.reverse()) {
      try {
        const st = lstatSync(path);
        if (!st.isDirectory()) continue;
        const fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
        try {
          fchmodSync(fd, e.meta.mode);
          futimesSync(fd, unixSeconds(e.meta.mtimeMs), unixSeconds(e.meta.mtimeMs));
        } finally {
          closeSync(fd);
        }
      } catch (err) {
        this.error(e.meta.path, err);
      }
    }
    this.report();
    return this.result;
  }

  private report(): void {
    this.progress({
      phase: "restore",
      totalFiles: this.totalFiles,
      totalBytes: this.totalBytes,
      doneFiles: this.result.files,
      doneBytes: this.result.bytes,
      uploadedBytes: 0,
      errors: this.result.errors,
    });
  }

  private makeDir(e: RestoreEntry): string | null {
    try {
      const parts = entryParts(e);
      this.o.mapper.ensureParents(parts, e.meta.path, e.trust ?? 0);
      const p = this.o.mapper.local(parts);
      const st = lstatSync(p, { throwIfNoEntry: false });
      if (!st) {
        try {
          // mkdir fails with EEXIST on anything at p, a dangling symlink included: it never follows
          mkdirSync(p, { mode: 0o700 });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        }
      } else if (st.isSymbolicLink()) {
        throw new CairnError("UNSAFE_PATH", `a symlink is in the way of directory ${p}`, { details: { path: e.meta.path.slice(0, 200) } });
      } else if (!st.isDirectory()) {
        throw new CairnError("CONFLICT", `a file is in the way of directory ${p}`);
      }
      this.o.mapper.ensureParents([...parts, "x"], e.meta.path, e.trust ?? 0);
      this.result.dirs++;
      return p;
    } catch (err) {
      this.error(e.meta.path, err);
      return null;
    }
  }

  private makeLink(e: RestoreEntry): void {
    try {
      const parts = entryParts(e);
      this.o.mapper.ensureParents(parts, e.meta.path, e.trust ?? 0);
      const dest = this.o.mapper.local(parts);
      const temp = this.tempName(dest);
      symlinkSync(e.meta.target ?? "", temp);
      try {
        // the link's own time (lutimes never follows it), kept by the rename
        lutimesSync(temp, unixSeconds(e.meta.mtimeMs), unixSeconds(e.meta.mtimeMs));
        placeRestored(temp, dest, this.o.existing);
      } catch (err) {
        rmSync(temp, { force: true });
        throw err;
      }
      this.result.symlinks++;
    } catch (err) {
      this.error(e.meta.path, err);
    }
  }

  private async restoreFiles(files: RestoreEntry[]): Promise<void> {
    const batches: RestoreEntry[][] = [];
    let cur: RestoreEntry[] = [];
    let ids = 0;
    let bytes = 0;
    for (const f of files) {
      const n = f.blocks.length / 32;
      if (cur.length > 0 && (ids + n > BATCH_IDS || bytes + f.meta.size > BATCH_BYTES || cur.length >= BATCH_FILES)) {
        batches.push(cur);
        cur = [];
        ids = 0;
        bytes = 0;
      }
      cur.push(f);
      ids += n;
      bytes += f.meta.size;
    }
    if (cur.length > 0) batches.push(cur);
    if (batches.length === 0) return;
    const pool = new RestorePool(
      { archiveKey: this.o.archiveKey, archiveGuid: this.o.keys.archiveGuid, existing: this.o.existing },
      (paused) => this.o.session.pauseReading(paused),
      this.o.workers,
    );
    const concurrency = this.o.concurrency ?? 2 * pool.size;
    let next = 0;
    const onAbort = () => this.o.session.dropConnection();
    this.o.signal?.addEventListener("abort", onAbort, { once: true });
    // Each lane finishes the batch it is in (its worker removes the temp files of what did not
    // complete) before the restore stops, so an interrupted restore leaves no partial file behind.
    const lane = async (k: number) => {
      while (next < batches.length && !this.o.signal?.aborted && !pool.error && !this.targetFull) {
        const b = batches[next++] as RestoreEntry[];
        await this.restoreBatch(pool, k % pool.size, next, b);
        this.report();
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(concurrency, batches.length) }, (_, k) => lane(k)));
      if (pool.error) throw pool.error;
      // A full disk stays full: the batches not started are not fetched, each of their files is
      // reported as not restored (what was restored is complete; no existing file was replaced).
      for (const b of this.targetFull ? batches.slice(next) : []) {
        for (const e of b) this.error(e.meta.path, new CairnError("TARGET_FULL", "not restored: the restore target's disk is full"));
      }
      if (this.o.signal?.aborted) throw new CairnError("CANCELLED", "restore cancelled");
    } finally {
      this.o.signal?.removeEventListener("abort", onAbort);
      this.o.session.pauseReading(false);
      await pool.close();
    }
  }

  /** Prepares a batch on this thread (path checks), has a worker write it while its blocks stream in. */
  private async restoreBatch(pool: RestorePool, worker: number, batch: number, entries: RestoreEntry[]): Promise<void> {
    const jobs: RestoreFileJob[] = [];
    const order: Buffer[] = [];
    const seen = new Set<string>();
    // every file's block ids in one buffer moved to the worker (a Buffer in a message would be
    // cloned with the whole list-files page it is a view of)
    const ids = Buffer.allocUnsafeSlow(
      Math.max(
        1,
        entries.reduce((a, e) => a + e.blocks.length, 0),
      ),
    );
    let idsAt = 0;
    for (const e of entries) {
      const n = e.blocks.length / 32;
      if (n !== e.meta.blockSizes.length || e.meta.blockSizes.reduce((a, b) => a + b, 0) !== e.meta.size) {
        this.error(e.meta.path, new CairnError("INTEGRITY", `metadata of ${e.meta.path} does not match its block list`));
        continue;
      }
      let dest: string;
      try {
        const parts = entryParts(e);
        this.o.mapper.ensureParents(parts, e.meta.path, e.trust ?? 0);
        dest = this.o.mapper.local(parts);
      } catch (err) {
        this.error(e.meta.path, err);
        continue;
      }
      jobs.push({
        i: jobs.length,
        path: e.meta.path,
        dest,
        temp: this.tempName(dest),
        size: e.meta.size,
        mode: e.meta.mode,
        mtimeMs: e.meta.mtimeMs,
        blocksAt: idsAt,
        blockSizes: e.meta.blockSizes,
      });
      ids.set(e.blocks, idsAt);
      idsAt += e.blocks.length;
      for (let i = 0; i < n; i++) {
        const id = e.blocks.subarray(i * 32, i * 32 + 32);
        const key = id.toString("latin1");
        if (seen.has(key)) continue;
        seen.add(key);
        order.push(id);
      }
    }
    if (jobs.length === 0) return;
    const idsBuf = ids.buffer as ArrayBuffer;
    pool.post(worker, { t: "batch", batch, files: jobs, ids: idsBuf }, [idsBuf]);
    let error: WireError | null = null;
    if (order.length > 0) {
      try {
        await this.o.session.call("get", { ids: Buffer.concat(order) }, { onBlock: (b) => this.forward(pool, worker, batch, b), timeoutMs: 120_000 });
      } catch (err) {
        error = (isCairnError(err) ? err : new CairnError("INTERNAL", "get failed", { cause: err })).toWire();
      }
    }
    const results = await pool.end(worker, batch, { t: "end", batch, error });
    for (const r of results) {
      const job = jobs[r.i] as RestoreFileJob;
      if (r.ok) {
        this.result.files++;
        this.result.bytes += job.size;
      } else this.error(job.path, new CairnError(isErrorCode(r.code) ? r.code : "INTERNAL", r.message));
    }
  }

  /** Hands one streamed block to the batch's worker, moving (not copying) a buffer the block owns. */
  private forward(pool: RestorePool, worker: number, batch: number, b: BlockFrame): void {
    const data = b.data;
    const n = data?.length ?? 0;
    this.garbage.add(n);
    const ab = data?.buffer;
    // The websocket message buffer holds just this frame when the frame starts it and the block
    // ends it (only the msgpack `error: nil` follows): `ws` assembled it from 16 KiB TLS reads
    // into a buffer of its own, so it can be moved. A view into a read chunk `ws` still uses
    // would not pass (the chunk continues past the frame), and is copied instead.
    if (data && ab instanceof ArrayBuffer && n >= 64 * 1024 && b.id.buffer === ab && data.byteOffset < 160 && ab.byteLength - (data.byteOffset + n) < 16) {
      pool.post(worker, { t: "block", batch, buf: ab, idAt: b.id.byteOffset, dataAt: data.byteOffset, len: n, error: null }, [ab], n);
      return;
    }
    const out = Buffer.allocUnsafeSlow(32 + n);
    out.set(b.id, 0);
    if (data) out.set(data, 32);
    const buf = out.buffer as ArrayBuffer;
    pool.post(worker, { t: "block", batch, buf, idAt: 0, dataAt: data ? 32 : -1, len: n, error: b.error }, [buf], n);
  }

  private tempName(dest: string): string {
    // at most 100 bytes of the name: with the suffix, well inside 255 bytes whatever its script
    return join(dirname(dest), `.${utf8Prefix(basename(dest), 100)}.cairn-${this.tempPrefix}${(this.tempSeq++).toString(36)}.tmp`);
  }
}

/** Epoch ms → seconds for futimes, nudged by 500 ns (above the double precision of today's epoch seconds) so the kernel's truncation keeps the millisecond. */
function unixSeconds(ms: number): number {
  return ms / 1000 + 5e-7;
}
