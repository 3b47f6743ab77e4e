/**
 * Read side of an archive's index: version heads, manifests, and file versions as of a point in
 * time. The node sees only the shape of versions (file ids, times, block ids, deleted flags,
 * sizes); names and contents stay sealed in `meta` and in the blocks.
 */
import type Database from "better-sqlite3";
import type { FileVersion, VersionInfo } from "@cairn/protocol";

/** Largest page `list-files` returns in bytes of block ids and metadata (frames are ≤ 16 MiB). */
export const MAX_PAGE_BYTES = 12 * 1024 * 1024;

interface FileRow {
  file_id: Buffer;
  seq: number;
  time: number;
  deleted: number;
  size: number;
  blocks: Buffer;
  meta: Buffer | null;
}

function toFile(r: FileRow): FileVersion {
  return { fileId: r.file_id, seq: r.seq, time: r.time, deleted: r.deleted !== 0, size: r.size, blocks: r.blocks, meta: r.meta };
}

/** The head (newest committed version) of an archive. */
export interface Head {
  seq: number;
  manifestHash: Buffer;
  time: number;
}

/** Queries over one archive's committed versions. */
export class Catalog {
  private readonly st;

  constructor(db: Database.Database) {
    this.st = {
      head: db.prepare<[], { seq: number; manifest_hash: Buffer; time: number }>("SELECT seq, manifest_hash, time FROM versions ORDER BY seq DESC LIMIT 1"),
      versions: db.prepare<[], { seq: number; time: number; client_time: number; manifest_hash: Buffer; changed_files: number; complete: number }>(
        "SELECT seq, time, client_time, manifest_hash, changed_files, complete FROM versions ORDER BY seq",
      ),
      manifest: db.prepare<[number], { manifest: Buffer; manifest_hash: Buffer }>("SELECT manifest, manifest_hash FROM versions WHERE seq = ?"),
      list: db.prepare<[Buffer, number, number, number, number], FileRow>(
        `SELECT f.file_id, f.seq, f.time, f.deleted, f.size, f.blocks, f.meta FROM file_versions f
         WHERE f.file_id > ? AND f.time <= ?
           AND f.seq = (SELECT MAX(g.seq) FROM file_versions g WHERE g.file_id = f.file_id AND g.time <= ?)
           AND (? = 1 OR f.deleted = 0)
         ORDER BY f.file_id LIMIT ?`,
      ),
      history: db.prepare<[Buffer], FileRow>("SELECT file_id, seq, time, deleted, size, blocks, meta FROM file_versions WHERE file_id = ? ORDER BY seq"),
      versionCount: db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM versions"),
      fileCount: db.prepare<[], { n: number }>(
        "SELECT COUNT(*) AS n FROM file_versions f WHERE f.deleted = 0 AND f.seq = (SELECT MAX(g.seq) FROM file_versions g WHERE g.file_id = f.file_id)",
      ),
    };
  }

  head(): Head | null {
    const r = this.st.head.get();
    return r ? { seq: r.seq, manifestHash: r.manifest_hash, time: r.time } : null;
  }

  versions(): VersionInfo[] {
    return this.st.versions.all().map((r) => ({
      seq: r.seq,
      time: r.time,
      clientTime: r.client_time,
      manifestHash: r.manifest_hash,
      changedFiles: r.changed_files,
      complete: r.complete !== 0,
    }));
  }

  manifest(seq: number): { manifest: Buffer; manifestHash: Buffer } | null {
    const r = this.st.manifest.get(seq);
    return r ? { manifest: r.manifest, manifestHash: r.manifest_hash } : null;
  }

  /**
   * For each file id after `cursor`, its newest version at or before `at` (null: now), in file
   * id order, at most `limit` and at most {@link MAX_PAGE_BYTES}. The cursor is the last file id
   * returned (hex), or null when the listing is complete.
   */
  listFiles(at: number | null, cursor: string | null, limit: number, includeDeleted: boolean): { files: FileVersion[]; cursor: string | null } {
    const after = cursor && /^[0-9a-f]{32}$/.test(cursor) ? Buffer.from(cursor, "hex") : Buffer.alloc(0);
    const t = at ?? Number.MAX_SAFE_INTEGER;
    const rows = this.st.list.all(after, t, t, includeDeleted ? 1 : 0, limit + 1);
    const files: FileVersion[] = [];
    let bytes = 0;
    for (const r of rows) {
      const size = r.blocks.length + (r.meta?.length ?? 0) + 64;
      if (files.length >= limit || (files.length > 0 && bytes + size > MAX_PAGE_BYTES)) {
        const last = files[files.length - 1] as FileVersion;
        return { files, cursor: last.fileId.toString("hex") };
      }
      bytes += size;
      files.push(toFile(r));
    }
    return { files, cursor: null };
  }

  /** Every version of one file, oldest first (capped at {@link MAX_PAGE_BYTES}, newest kept). */
  fileHistory(fileId: Buffer): FileVersion[] {
    const all = this.st.history.all(fileId).map(toFile);
    let bytes = 0;
    let from = all.length;
    while (from > 0) {
      const f = all[from - 1] as FileVersion;
      const size = f.blocks.length + (f.meta?.length ?? 0) + 64;
      if (bytes + size > MAX_PAGE_BYTES && from < all.length) break;
      bytes += size;
      from--;
    }
    return all.slice(from);
  }

  /** Number of versions, and of files whose newest version is not a deletion. */
  counts(): { versionCount: number; fileCount: number } {
    return { versionCount: this.st.versionCount.get()?.n ?? 0, fileCount: this.st.fileCount.get()?.n ?? 0 };
  }
}
