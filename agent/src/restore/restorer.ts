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
 * ≤ 128 open files), several batches in flight.
 */
import {
  closeSync,
  constants,
  fchmodSync,
  ftruncateSync,
  futimesSync,
  lstatSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { type ArchiveKeys, CairnError, type FileMeta, isCairnError, openBlock, openFileMeta } from "@cairn/protocol";
import type { DataSession } from "../net/data-session.js";
import { noProgress, type ProgressSink } from "../progress.js";
import { archivePathComponents, type RestoreMapper, restoredName } from "./safe-path.js";

/** One restorable entry, decoded. */
export interface RestoreEntry {
  meta: FileMeta;
  blocks: Buffer;
  parts: string[];
  /** Leading parent components that are the device's own layout (original-place restores). */
  trust?: number;
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
  session: DataSession;
  mapper: RestoreMapper;
  existing: "overwrite" | "rename";
  progress?: ProgressSink;
  signal?: AbortSignal;
  /** Batches of `get` in flight (default 3). */
  concurrency?: number;
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

interface OpenTarget {
  entry: RestoreEntry;
  dest: string;
  temp: string;
  fd: number;
  failed: CairnError | null;
  written: number;
}

function errOf(path: string, err: unknown): RestoreError {
  const ce = isCairnError(err) ? err : null;
  const code = ce ? ce.code : ((err as NodeJS.ErrnoException)?.code ?? "INTERNAL");
  return { path: path.slice(0, 4096), code, message: err instanceof Error ? err.message : String(err) };
}

function isZero(b: Buffer): boolean {
  for (let i = 0; i < b.length; i += 8192) {
    const n = Math.min(8192, b.length - i);
    if (!b.subarray(i, i + n).equals(ZEROS.subarray(0, n))) return false;
  }
  return true;
}
const ZEROS = Buffer.alloc(8192);

/** Decodes one listed file version into a restore entry (throws on bad metadata). */
export function decodeEntry(keys: ArchiveKeys, fileId: Buffer, meta: Buffer, blocks: Buffer): RestoreEntry {
  const m = openFileMeta(keys, fileId, meta);
  return { meta: m, blocks, parts: archivePathComponents(m.path) };
}

/** Restores a list of entries. */
export class Restorer {
  private readonly result: RestoreResult = { files: 0, bytes: 0, dirs: 0, symlinks: 0, errors: 0, errorList: [] };
  private readonly progress: ProgressSink;
  private totalFiles = 0;
  private totalBytes = 0;

  constructor(private readonly o: RestorerOptions) {
    this.progress = o.progress ?? noProgress;
  }

  private error(path: string, err: unknown): void {
    this.result.errors++;
    if (this.result.errorList.length < 1000) this.result.errorList.push(errOf(path, err));
  }

  /** Restores `entries` (each with its components already relative to the mapper's root). */
  async run(entries: RestoreEntry[]): Promise<RestoreResult> {
    entries.sort((a, b) => (a.parts.join("/") < b.parts.join("/") ? -1 : 1));
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
      this.o.mapper.ensureParents(e.parts, e.meta.path, e.trust ?? 0);
      const p = this.o.mapper.local(e.parts);
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
      this.o.mapper.ensureParents([...e.parts, "x"], e.meta.path, e.trust ?? 0);
      this.result.dirs++;
      return p;
    } catch (err) {
      this.error(e.meta.path, err);
      return null;
    }
  }

  private makeLink(e: RestoreEntry): void {
    try {
      this.o.mapper.ensureParents(e.parts, e.meta.path, e.trust ?? 0);
      const dest = this.o.mapper.local(e.parts);
      const temp = tempName(dest);
      symlinkSync(e.meta.target ?? "", temp);
      try {
        this.place(temp, dest);
      } catch (err) {
        rmSync(temp, { force: true });
        throw err;
      }
      this.result.symlinks++;
    } catch (err) {
      this.error(e.meta.path, err);
    }
  }

  /** Moves a finished temp file into place according to the existing-file policy. */
  private place(temp: string, dest: string): string {
    let final = dest;
    const st = lstatSync(dest, { throwIfNoEntry: false });
    if (st) {
      if (st.isDirectory()) throw new CairnError("CONFLICT", `a directory is in the way of ${dest}`);
      if (this.o.existing === "rename") final = restoredName(dest, (p) => lstatSync(p, { throwIfNoEntry: false }) !== undefined);
    }
    renameSync(temp, final);
    return final;
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
    const concurrency = this.o.concurrency ?? 3;
    let next = 0;
    const worker = async () => {
      while (next < batches.length) {
        if (this.o.signal?.aborted) throw new CairnError("CANCELLED", "restore cancelled");
        const b = batches[next++] as RestoreEntry[];
        await this.restoreBatch(b);
        this.report();
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, batches.length) }, worker));
  }

  private open(e: RestoreEntry): OpenTarget | null {
    try {
      this.o.mapper.ensureParents(e.parts, e.meta.path, e.trust ?? 0);
      const dest = this.o.mapper.local(e.parts);
      const temp = tempName(dest);
      const fd = openSync(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      return { entry: e, dest, temp, fd, failed: null, written: 0 };
    } catch (err) {
      this.error(e.meta.path, err);
      return null;
    }
  }

  private async restoreBatch(batch: RestoreEntry[]): Promise<void> {
    const targets: OpenTarget[] = [];
    const wants = new Map<string, Array<{ t: OpenTarget; offset: number; size: number }>>();
    const order: Buffer[] = [];
    for (const e of batch) {
      const n = e.blocks.length / 32;
      if (n !== e.meta.blockSizes.length || e.meta.blockSizes.reduce((a, b) => a + b, 0) !== e.meta.size) {
        this.error(e.meta.path, new CairnError("INTEGRITY", `metadata of ${e.meta.path} does not match its block list`));
        continue;
      }
      const t = this.open(e);
      if (!t) continue;
      targets.push(t);
      let off = 0;
      for (let i = 0; i < n; i++) {
        const id = e.blocks.subarray(i * 32, i * 32 + 32);
        const key = id.toString("latin1");
        const size = e.meta.blockSizes[i] as number;
        let w = wants.get(key);
        if (!w) {
          w = [];
          wants.set(key, w);
          order.push(id);
        }
        w.push({ t, offset: off, size });
        off += size;
      }
    }
    const seen = new Set<string>();
    if (order.length > 0) {
      try {
        await this.o.session.call(
          "get",
          { ids: Buffer.concat(order) },
          {
            onBlock: (b) => {
              const key = Buffer.from(b.id).toString("latin1");
              const w = wants.get(key);
              if (!w || seen.has(key)) return;
              seen.add(key);
              let plain: Buffer;
              try {
                if (!b.data)
                  throw new CairnError(b.error?.code === "NOT_FOUND" ? "BLOCKS_MISSING" : "INTEGRITY", `block unavailable: ${b.error?.message ?? "missing"}`);
                plain = openBlock(this.o.keys, b.id, b.data);
              } catch (err) {
                const ce = isCairnError(err) ? err : new CairnError("INTEGRITY", "block failed to open", { cause: err });
                for (const x of w) x.t.failed ??= ce;
                return;
              }
              const zero = isZero(plain);
              for (const x of w) {
                if (x.t.failed) continue;
                if (plain.length !== x.size) {
                  x.t.failed = new CairnError("INTEGRITY", `a block of ${x.t.entry.meta.path} has the wrong size`);
                  continue;
                }
                try {
                  if (!zero) writeAll(x.t.fd, plain, x.offset);
                  x.t.written += plain.length;
                } catch (err) {
                  x.t.failed = isCairnError(err) ? err : new CairnError("INTERNAL", `writing ${x.t.temp} failed: ${(err as Error).message}`, { cause: err });
                }
              }
            },
            timeoutMs: 120_000,
          },
        );
      } catch (err) {
        const ce = isCairnError(err) ? err : new CairnError("INTERNAL", "get failed", { cause: err });
        for (const t of targets) t.failed ??= ce;
      }
    }
    for (const t of targets) {
      if (!t.failed && t.written !== t.entry.meta.size) t.failed = new CairnError("INTEGRITY", `${t.entry.meta.path}: the node did not serve every block`);
      this.finish(t);
    }
  }

  private finish(t: OpenTarget): void {
    const m = t.entry.meta;
    try {
      if (t.failed) throw t.failed;
      ftruncateSync(t.fd, m.size);
      fchmodSync(t.fd, m.mode);
      futimesSync(t.fd, unixSeconds(m.mtimeMs), unixSeconds(m.mtimeMs));
      closeSync(t.fd);
      t.fd = -1;
      this.place(t.temp, t.dest);
      this.result.files++;
      this.result.bytes += m.size;
    } catch (err) {
      if (t.fd >= 0) closeSync(t.fd);
      try {
        unlinkSync(t.temp);
      } catch {
        // already gone
      }
      this.error(m.path, err);
    }
  }
}

function writeAll(fd: number, buf: Buffer, position: number): void {
  let off = 0;
  while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, position + off);
}

function tempName(dest: string): string {
  return join(dirname(dest), `.${basename(dest).slice(0, 180)}.cairn-${randomBytes(6).toString("hex")}.tmp`);
}

/** Epoch ms → seconds for futimes, nudged by 500 ns (above the double precision of today's epoch seconds) so the kernel's truncation keeps the millisecond. */
function unixSeconds(ms: number): number {
  return ms / 1000 + 5e-7;
}
