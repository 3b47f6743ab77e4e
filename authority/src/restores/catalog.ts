/**
 * The file tree of one archive at one point in time, decrypted in memory for one restore
 * session (API.md §8 steps 7–9): the node lists the newest version of every file at or before
 * the time (`archive-files`), and the session's archive keys open each file's sealed metadata.
 * Deleted files carry no metadata; with `showDeleted` their path comes from the newest version
 * that still had it (`archive-file-history`). Directories that hold backed-up files but were not
 * backed up themselves (the parents of the selection) are added so every path has its parents.
 *
 * Node ids are the file ids (hex): stable for a path, and the agent's own ids.
 */
import { type ArchiveKeys, type FileMeta, fileIdFor, type FileVersion, openFileVersion } from "@cairn/protocol";
import { baseName, parentPath } from "./zip-names.js";

/** How the authority reads an archive on its storage node (the storage part's node registry). */
export interface ArchiveSource {
  /** One page of `archive-files`. */
  files(archiveGuid: string, at: number | null, cursor: string | null, includeDeleted: boolean): Promise<{ files: FileVersion[]; cursor: string | null }>;
  /** `archive-file-history` of one file. */
  fileHistory(archiveGuid: string, fileId: Buffer): Promise<FileVersion[]>;
  /** `archive-get`: streams each block to `onBlock`; resolves with the count. */
  getBlocks(archiveGuid: string, ids: Buffer, onBlock: (id: Buffer, data: Buffer | null, error: string | null) => void, signal?: AbortSignal): Promise<number>;
  /** `archive-missing`: the hex ids among `ids` (concatenated 32-byte ids) the node cannot serve. */
  missingBlocks(archiveGuid: string, ids: Buffer): Promise<Set<string>>;
}

/** One path of the tree. */
export interface CatalogEntry {
  /** 32 hex characters: the node id of API.md §8. */
  id: string;
  fileId: Buffer;
  path: string;
  type: "file" | "dir" | "symlink";
  deleted: boolean;
  /** Added as the parent of backed-up paths (no version of its own). */
  synthetic: boolean;
  size: number;
  mtimeMs: number;
  mode: number;
  target: string | null;
  blocks: Buffer;
  blockSizes: number[];
  /** Server time of the version this entry comes from. */
  versionTime: number;
}

/** Deleted files whose path is looked up at most (each costs one node call). */
export const MAX_DELETED_LOOKUPS = 10_000;

const lower = (p: string) => p.toLowerCase();

/** The tree of an archive at a time. */
export class Catalog {
  private readonly byPath = new Map<string, CatalogEntry>();
  private readonly byLower = new Map<string, CatalogEntry>();
  private readonly byId = new Map<string, CatalogEntry>();
  private readonly kids = new Map<string, CatalogEntry[]>();
  /** Entries whose metadata did not open (a damaged or foreign object). */
  readonly unreadable: string[] = [];

  constructor(
    private readonly keys: ArchiveKeys,
    readonly at: number | null,
    readonly includesDeleted: boolean,
  ) {}

  /** Adds an entry (later versions of a path replace earlier ones); adds missing parents. */
  add(e: CatalogEntry): void {
    const old = this.byPath.get(e.path);
    if (old !== undefined && !old.synthetic && old.versionTime > e.versionTime) return;
    if (old !== undefined) this.remove(old);
    this.byPath.set(e.path, e);
    this.byLower.set(lower(e.path), e);
    this.byId.set(e.id, e);
    const parent = parentPath(e.path);
    if (parent === null) return;
    if (!this.byPath.has(parent)) this.add(this.synthetic(parent, e.versionTime));
    const list = this.kids.get(parent) ?? [];
    list.push(e);
    this.kids.set(parent, list);
  }

  private remove(e: CatalogEntry): void {
    const parent = parentPath(e.path);
    if (parent !== null)
      this.kids.set(
        parent,
        (this.kids.get(parent) ?? []).filter((x) => x !== e),
      );
    this.byId.delete(e.id);
  }

  private synthetic(path: string, time: number): CatalogEntry {
    const fileId = fileIdFor(this.keys, path);
    return {
      id: fileId.toString("hex"),
      fileId,
      path,
      type: "dir",
      deleted: false,
      synthetic: true,
      size: 0,
      mtimeMs: time,
      mode: 0o755,
      target: null,
      blocks: Buffer.alloc(0),
      blockSizes: [],
      versionTime: time,
    };
  }

  /** The root directories (`/`, or one per drive). */
  roots(): CatalogEntry[] {
    return [...this.byPath.values()].filter((e) => parentPath(e.path) === null).sort((a, b) => (a.path < b.path ? -1 : 1));
  }

  /** The direct children of a directory, by name. */
  children(dir: CatalogEntry, showDeleted: boolean): CatalogEntry[] {
    return (this.kids.get(dir.path) ?? []).filter((e) => showDeleted || !this.isDeleted(e)).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** A deleted file, or a directory holding only deleted things (and not backed up itself as live). */
  isDeleted(e: CatalogEntry): boolean {
    if (e.deleted) return true;
    if (!e.synthetic) return false;
    const kids = this.kids.get(e.path) ?? [];
    return kids.length > 0 && kids.every((k) => this.isDeleted(k));
  }

  /** An entry by node id. */
  get(id: string): CatalogEntry | undefined {
    return this.byId.get(id.toLowerCase());
  }

  /** An entry by path: exact first, then case-insensitively (py42 matches that way). */
  find(path: string): CatalogEntry | undefined {
    const p = path.length > 1 && path.endsWith("/") && !/^[A-Za-z]:\/$/.test(path) ? path.slice(0, -1) : path;
    return this.byPath.get(p) ?? this.byLower.get(lower(p));
  }

  /** Every entry at and below `e`, parents before children. */
  *subtree(e: CatalogEntry, showDeleted: boolean): Generator<CatalogEntry> {
    yield e;
    if (e.type !== "dir") return;
    for (const k of this.children(e, showDeleted)) yield* this.subtree(k, showDeleted);
  }

  /** Files, directories and bytes at and below `e` (API.md §8 step 9: numDirs counts `e`). */
  measure(e: CatalogEntry, showDeleted: boolean): { numFiles: number; numDirs: number; size: number } {
    let numFiles = 0;
    let numDirs = 0;
    let size = 0;
    for (const x of this.subtree(e, showDeleted)) {
      if (x.type === "dir") numDirs++;
      else {
        numFiles++;
        size += x.size;
      }
    }
    return { numFiles, numDirs, size };
  }

  /** Number of paths. */
  get size(): number {
    return this.byPath.size;
  }

  /** Opens one listed version into an entry (null when its metadata does not open). */
  entryOf(v: FileVersion, meta: FileMeta, deleted: boolean): CatalogEntry {
    return {
      id: Buffer.from(v.fileId).toString("hex"),
      fileId: Buffer.from(v.fileId),
      path: meta.path,
      type: meta.type,
      deleted,
      synthetic: false,
      size: deleted ? meta.size : v.size,
      mtimeMs: meta.mtimeMs,
      mode: meta.mode,
      target: meta.target ?? null,
      blocks: Buffer.from(v.blocks),
      blockSizes: meta.blockSizes,
      versionTime: v.time,
    };
  }
}

function openMeta(keys: ArchiveKeys, v: FileVersion): FileMeta | null {
  if (v.meta === null) return null;
  try {
    return openFileVersion(keys, v.fileId, v.meta, v.blocks);
  } catch {
    return null;
  }
}

/**
 * The catalog path of a stored path: absolute POSIX (`/…`) or drive (`C:/…`) paths as they are
 * (without a trailing slash); anything else, which no real agent stores, is put below `/` as it
 * is, so it shows in the tree and meets the entry-name checks (T35) instead of hiding as a root.
 */
function cleanPath(p: string): string {
  const q = p.startsWith("/") || /^[A-Za-z]:\//.test(p) ? p : `/${p}`;
  return q.length > 1 && q.endsWith("/") && !/^[A-Za-z]:\/$/.test(q) ? q.slice(0, -1) : q;
}

/** Lists and opens an archive's tree at `at` (null: the latest). */
export async function loadCatalog(src: ArchiveSource, archiveGuid: string, keys: ArchiveKeys, at: number | null, includeDeleted: boolean): Promise<Catalog> {
  const cat = new Catalog(keys, at, includeDeleted);
  const deleted: FileVersion[] = [];
  let cursor: string | null = null;
  do {
    const page = await src.files(archiveGuid, at, cursor, includeDeleted);
    for (const v of page.files) {
      if (v.deleted) {
        deleted.push(v);
        continue;
      }
      const meta = openMeta(keys, v);
      if (meta === null || typeof meta.path !== "string" || meta.path === "") {
        cat.unreadable.push(Buffer.from(v.fileId).toString("hex"));
        continue;
      }
      cat.add(cat.entryOf(v, { ...meta, path: cleanPath(meta.path) }, false));
    }
    cursor = page.cursor;
  } while (cursor !== null);
  for (const v of deleted.slice(0, MAX_DELETED_LOOKUPS)) {
    const history = await src.fileHistory(archiveGuid, Buffer.from(v.fileId));
    const last = history
      .filter((h) => h.meta !== null && !h.deleted && (at === null || h.time <= at))
      .sort((x, y) => y.seq - x.seq)
      .map((h) => ({ h, meta: openMeta(keys, h) }))
      .find((x) => x.meta !== null);
    if (last?.meta)
      cat.add({ ...cat.entryOf(last.h, { ...last.meta, path: cleanPath(last.meta.path) }, true), versionTime: v.time, blocks: Buffer.from(last.h.blocks) });
  }
  return cat;
}

/** The name a tree node shows (`/` for the POSIX root, `C:` for a drive). */
export function displayName(e: CatalogEntry): string {
  if (e.path === "/") return "/";
  if (/^[A-Za-z]:\/$/.test(e.path)) return e.path.slice(0, 2);
  return baseName(e.path);
}
