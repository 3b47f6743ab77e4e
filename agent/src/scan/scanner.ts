/**
 * Finds what changed since the last committed version, comparing `lstat` with the file cache.
 *
 * A full scan walks every selected root synchronously (`readdirSync` + `lstatSync`: measured
 * faster than promise-based walking for trees of small files, and it needs no per-file promise),
 * reading each directory's cached rows with one query. An entry whose kind, size, mtime, ctime,
 * inode and mode match its row is unchanged and costs nothing more; no file content is read here.
 *
 * An incremental scan (the watcher's) looks only at the paths it is given: each is compared with
 * its row; a changed directory has its children compared (one level), and a new directory is
 * walked whole.
 *
 * Deletions: a cached entry that is no longer present (or no longer selected) is reported
 * deleted, with every cached entry below it. A directory that cannot be read is reported as an
 * error and its cached children are kept, never reported deleted.
 */
import { lstatSync, readdirSync, type Stats } from "node:fs";
import { isCairnError } from "@cairn/protocol";
import type { Selection } from "../selection.js";
import { type CacheRow, type FileCache, joinPath, KIND, type Kind, splitPath } from "../state/file-cache.js";

/** One entry found changed or new. */
export interface ScanEntry {
  path: string;
  kind: Kind;
  size: number;
  mtime: number;
  ctime: number;
  ino: number;
  /** Permission bits. */
  mode: number;
  uid: number;
  gid: number;
}

/** One entry found deleted. */
export interface DeletedEntry {
  path: string;
  kind: Kind;
}

/** A path the scan could not read. */
export interface ScanError {
  path: string;
  code: string;
  message: string;
}

/** Counters of one scan. */
export interface ScanStats {
  selectedFiles: number;
  selectedBytes: number;
  todoFiles: number;
  todoBytes: number;
  dirs: number;
  statted: number;
}

/** What a scan found. */
export interface ScanResult {
  changed: ScanEntry[];
  deleted: DeletedEntry[];
  errors: ScanError[];
  stats: ScanStats;
}

/** Part of what a scan found, handed over as the walk goes (so a huge tree is never one list). */
export interface ScanBatch {
  changed: ScanEntry[];
  deleted: DeletedEntry[];
  errors: ScanError[];
}

/** Entries (changed + deleted) per batch by default. */
export const SCAN_BATCH_ENTRIES = 2000;

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** The kind of a stat, or null for sockets, fifos and devices (never backed up). */
export function kindOf(st: Stats): Kind | null {
  const t = st.mode & S_IFMT;
  if (t === S_IFREG) return KIND.FILE;
  if (t === S_IFDIR) return KIND.DIR;
  if (t === S_IFLNK) return KIND.SYMLINK;
  return null;
}

/** Builds a scan entry from a stat. */
export function entryOf(path: string, kind: Kind, st: Stats): ScanEntry {
  return {
    path,
    kind,
    size: kind === KIND.DIR ? 0 : st.size,
    mtime: st.mtimeMs,
    ctime: st.ctimeMs,
    ino: st.ino,
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
  };
}

/** Whether a stat matches its cached row. */
export function unchanged(row: CacheRow | undefined, e: ScanEntry): boolean {
  if (!row || row.kind !== e.kind || row.mode !== e.mode || row.ino !== e.ino || row.mtime !== e.mtime) return false;
  if (e.kind === KIND.DIR) return true;
  return row.size === e.size && row.ctime === e.ctime;
}

function errorOf(path: string, err: unknown): ScanError {
  const code = isCairnError(err) ? err.code : ((err as NodeJS.ErrnoException)?.code ?? "EIO");
  const message = err instanceof Error ? err.message : String(err);
  return { path, code, message };
}

/**
 * Compares the selected tree (or some paths of it) with the cache. The walk is a generator that
 * hands over a batch every {@link SCAN_BATCH_ENTRIES} entries and is resumed only when the caller
 * wants more, so memory holds one batch and the directory stack, whatever the tree's size; the
 * counters ({@link Scanner.stats}) are complete once the generator is done.
 */
export class Scanner {
  private cur: ScanBatch = { changed: [], deleted: [], errors: [] };
  /**
   * A paths-mode run: the paths already counted (or marked deleted) and the folders already
   * listed. The watcher names a new folder and the files in it too; each is handled once, or the
   * run would count (and stage) them twice.
   */
  private once: { done: Set<string>; listed: Set<string> } | null = null;
  private batchSize = SCAN_BATCH_ENTRIES;
  /** This scan's selected folders that are missing (looked at once), and whether each was reported. */
  private gone: Map<string, boolean> | null = null;
  /** Counters of the running (or finished) scan. */
  stats: ScanStats = Scanner.emptyStats();

  constructor(
    private readonly cache: FileCache,
    private readonly selection: Selection,
  ) {}

  private static emptyStats(): ScanStats {
    return { selectedFiles: 0, selectedBytes: 0, todoFiles: 0, todoBytes: 0, dirs: 0, statted: 0 };
  }

  private reset(batchSize: number): void {
    this.gone = null;
    this.cur = { changed: [], deleted: [], errors: [] };
    this.stats = Scanner.emptyStats();
    this.batchSize = Math.max(1, batchSize);
  }

  private get full_(): boolean {
    return this.cur.changed.length + this.cur.deleted.length >= this.batchSize;
  }

  private take(): ScanBatch {
    const b = this.cur;
    this.cur = { changed: [], deleted: [], errors: [] };
    return b;
  }

  /** Walks every selected root, in batches. */
  *fullBatches(batchSize = SCAN_BATCH_ENTRIES): Generator<ScanBatch, ScanStats> {
    this.reset(batchSize);
    for (const root of this.selection.roots()) yield* this.visitPath(root, true);
    yield this.take();
    return this.stats;
  }

  /** Looks only at `paths` (from the watcher), in batches: each compared, changed dirs one level, new dirs whole. */
  *pathBatches(paths: Iterable<string>, batchSize = SCAN_BATCH_ENTRIES): Generator<ScanBatch, ScanStats> {
    this.reset(batchSize);
    this.once = { done: new Set(), listed: new Set() };
    try {
      for (const p of paths) {
        if (!this.selection.covers(p)) continue;
        yield* this.visitPath(p, false);
      }
      yield this.take();
      return this.stats;
    } finally {
      this.once = null;
    }
  }

  /** The whole scan as one result (small trees and tests). */
  full(): ScanResult {
    return Scanner.collect(this, this.fullBatches(Number.MAX_SAFE_INTEGER));
  }

  /** {@link Scanner.pathBatches} as one result. */
  paths(paths: Iterable<string>): ScanResult {
    return Scanner.collect(this, this.pathBatches(paths, Number.MAX_SAFE_INTEGER));
  }

  private static collect(sc: Scanner, g: Generator<ScanBatch, ScanStats>): ScanResult {
    const r: ScanResult = { changed: [], deleted: [], errors: [], stats: sc.stats };
    for (let n = g.next(); ; n = g.next()) {
      if (n.done) {
        r.stats = n.value;
        return r;
      }
      r.changed.push(...n.value.changed);
      r.deleted.push(...n.value.deleted);
      r.errors.push(...n.value.errors);
    }
  }

  private lstat(path: string): Stats | undefined | null {
    this.stats.statted++;
    try {
      return lstatSync(path, { throwIfNoEntry: false });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOTDIR") return undefined;
      this.cur.errors.push(errorOf(path, err));
      return null;
    }
  }

  private *visitPath(path: string, recursive: boolean): Generator<ScanBatch> {
    if (this.once?.done.has(path) && !this.once.listed.has(path)) {
      // counted already as a child of a folder listed before: only a folder still has to be listed
      const st = this.lstat(path);
      if (st && kindOf(st) === KIND.DIR) yield* this.visitDir(path, recursive);
      return;
    }
    if (this.once?.done.has(path)) return;
    const st = this.lstat(path);
    if (st === null) return;
    const kind = st ? kindOf(st) : null;
    const row = this.cache.get(path);
    if (st === undefined && this.underMissingRoot(path)) return;
    if (!st || kind === null || !this.selection.includes(path, kind === KIND.DIR)) {
      if (row) this.markDeleted(path, row);
      return;
    }
    const e = entryOf(path, kind, st);
    this.count(e, row);
    if (kind === KIND.DIR) yield* this.visitDir(path, recursive || !row);
  }

  /**
   * A selected folder that is not there at all (a drive not mounted, a share not connected, a
   * folder renamed) is not "everything in it deleted": that would start the deleted-file
   * retention on all of it. Whether `path` is such a folder or below one; the folder is reported
   * once per scan (exit 3) and what it held stays as backed up. The watcher names the folder's
   * children too when it goes: they are left alone the same way.
   */
  private underMissingRoot(path: string): boolean {
    if (this.gone === null) {
      this.gone = new Map();
      for (const r of this.selection.roots()) {
        if (this.cache.get(r)?.kind !== KIND.DIR) continue;
        if (lstatSync(r, { throwIfNoEntry: false }) === undefined) this.gone.set(r, false);
      }
    }
    for (const [root, reported] of this.gone) {
      if (path !== root && !path.startsWith(`${root}/`)) continue;
      if (!reported) {
        this.gone.set(root, true);
        this.cur.errors.push({
          path: root,
          code: "ENOENT",
          message:
            "the selected folder is missing (a drive not mounted, or renamed?): what it held is kept as last backed up; remove it from the selection if it is gone for good",
        });
      }
      return true;
    }
    return false;
  }

  private count(e: ScanEntry, row: CacheRow | undefined): void {
    if (this.once) {
      if (this.once.done.has(e.path)) return;
      this.once.done.add(e.path);
    }
    const s = this.stats;
    if (e.kind === KIND.FILE) {
      s.selectedFiles++;
      s.selectedBytes += e.size;
    }
    if (!unchanged(row, e)) {
      this.cur.changed.push(e);
      if (e.kind === KIND.FILE) {
        s.todoFiles++;
        s.todoBytes += e.size;
      }
    }
  }

  private markDeleted(path: string, row: CacheRow): void {
    const first = (p: string) => {
      if (!this.once) return true;
      if (this.once.done.has(p)) return false;
      this.once.done.add(p);
      return true;
    };
    if (first(path)) this.cur.deleted.push({ path, kind: row.kind });
    if (row.kind === KIND.DIR) for (const d of this.cache.descendants(path)) if (first(d.path)) this.cur.deleted.push({ path: d.path, kind: d.row.kind });
  }

  /** Compares one directory's children with the cache; descends into child dirs when `recursive` (or new). */
  private *visitDir(dir: string, recursive: boolean): Generator<ScanBatch> {
    const stack: Array<[string, boolean]> = [[dir, recursive]];
    while (stack.length > 0) {
      const [d, rec] = stack.pop() as [string, boolean];
      if (this.once) {
        if (this.once.listed.has(d)) continue;
        this.once.listed.add(d);
      }
      this.stats.dirs++;
      let names: string[];
      try {
        names = readdirSync(d);
      } catch (err) {
        this.cur.errors.push(errorOf(d, err));
        continue;
      }
      const rows = this.cache.children(d);
      for (const name of names) {
        const p = joinPath(d, name);
        const st = this.lstat(p);
        if (st === null) {
          rows.delete(name);
          continue;
        }
        if (!st) {
          // gone since the listing, or a name that is not UTF-8: decoded with U+FFFD in it, it
          // names no file, so it could never be read; say so instead of leaving it out silently
          // (only when selected: an excluded one is no error; its kind is unknown, so either counts)
          if (name.includes("\uFFFD") && (this.selection.includes(p, false) || this.selection.includes(p, true))) {
            this.cur.errors.push({ path: p, code: "EILSEQ", message: "the file name is not valid UTF-8: rename it to have it backed up" });
          }
          continue;
        }
        const kind = kindOf(st);
        if (kind === null || !this.selection.includes(p, kind === KIND.DIR)) continue;
        const row = rows.get(name);
        rows.delete(name);
        const e = entryOf(p, kind, st);
        this.count(e, row);
        if (kind === KIND.DIR && (rec || !row || row.kind !== KIND.DIR)) stack.push([p, rec || !row || row.kind !== KIND.DIR]);
        if (this.full_) yield this.take();
      }
      for (const [name, row] of rows) this.markDeleted(joinPath(d, name), row);
      if (this.full_) yield this.take();
    }
  }
}

/** Parent directories of a path up to "/" (for diagnostics and tests). */
export function parentsOf(path: string): string[] {
  const out: string[] = [];
  let p = splitPath(path)[0];
  while (p !== "" && p !== "/") {
    out.push(p);
    p = splitPath(p)[0];
  }
  return out;
}
