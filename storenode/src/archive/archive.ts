/**
 * One archive on a store point: its directory (`<store point>/archives/<namespace>/<guid>/`),
 * its index database, its block store and group-commit writer, its sessions and its catalog.
 *
 * Commit order (RELIABILITY.md §5.5): blocks durable (acknowledged only after fsync and index
 * commit) → staged file entries → `commit` checks every referenced block is present, then in one
 * SQLite transaction writes the version row (manifest and head), moves the staged entries to
 * `file_versions` and their references to `file_blocks`. That transaction is the single commit
 * point: a crash before it leaves the old head, after it the new one, never half.
 */
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import type Database from "better-sqlite3";
import {
  type ArchivePlacement,
  type ArchiveReport,
  CairnError,
  type Clock,
  type ParamsOf,
  type SelectionStats,
  sha256,
  type dataNodeMethods,
} from "@cairn/protocol";
import type { BlockStore } from "../blockstore/blockstore.js";
import { DirStore } from "../blockstore/dir-store.js";
import { durableTransaction } from "../blockstore/dir-store-index.js";
import { GroupCommit } from "../blockstore/group-commit.js";
import { nodeStoreFs, type StoreFs } from "../blockstore/store-fs.js";
import { type CrashPoint, noCrash } from "../crash.js";
import { Catalog } from "./catalog.js";
import { openArchiveDb, tidyArchiveDb } from "./schema.js";
import { Sessions } from "./sessions.js";

/** Options of {@link Archive.open}. */
export interface ArchiveOptions {
  dir: string;
  clock: Clock;
  crash?: CrashPoint;
  fs?: StoreFs;
  leaseTtlMs: number;
  maxBatchBytes?: number;
  /** Set when creating: the authority's placement. */
  placement?: ArchivePlacement;
}

/** Figures and records kept in the `meta` table. */
export interface ArchiveMeta {
  placement: ArchivePlacement;
  stats: SelectionStats;
  lastBackup: number | null;
  lastCompletedBackup: number | null;
  lastMaintenance: number | null;
  maintenanceDurationMs: number;
  compactBytesRemoved: number;
  lastGcAt: number | null;
}

const EMPTY_STATS: SelectionStats = { selectedFiles: 0, selectedBytes: 0, todoFiles: 0, todoBytes: 0 };

type CommitParams = ParamsOf<typeof dataNodeMethods, "commit">;

/** An open archive. */
export class Archive {
  readonly sessions: Sessions;
  readonly catalog: Catalog;
  readonly writer: GroupCommit<string>;
  /** Connections using the archive (the registry does not close an archive in use). */
  users = 0;
  /** Bytes of blocks stored (kept up to date as batches are indexed and GC removes entries). */
  private bytes: number;
  private readonly st;
  private cachedCounts: { versionCount: number; fileCount: number } | null = null;

  private constructor(
    readonly db: Database.Database,
    readonly store: BlockStore,
    private readonly clock: Clock,
    private readonly crash: CrashPoint,
    opts: ArchiveOptions,
  ) {
    this.sessions = new Sessions(db, clock, opts.leaseTtlMs);
    this.catalog = new Catalog(db);
    this.st = {
      getMeta: db.prepare<[string], { value: string }>("SELECT value FROM meta WHERE key = ?"),
      setMeta: db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"),
      staged: db.prepare<[string], { file_id: Buffer; deleted: number; size: number; blocks: Buffer; meta: Buffer | null }>(
        "SELECT file_id, deleted, size, blocks, meta FROM staged_files WHERE session_id = ? ORDER BY id",
      ),
      insertVersion: db.prepare("INSERT INTO versions (seq, time, client_time, manifest, manifest_hash, changed_files, complete) VALUES (?, ?, ?, ?, ?, ?, ?)"),
      insertFile: db.prepare("INSERT OR REPLACE INTO file_versions (file_id, seq, time, deleted, size, blocks, meta) VALUES (?, ?, ?, ?, ?, ?, ?)"),
      insertRef: db.prepare("INSERT OR IGNORE INTO file_blocks (block_id, file_id, seq) VALUES (?, ?, ?)"),
      dropStaged: db.prepare("DELETE FROM staged_files WHERE session_id = ?"),
      dropProtect: db.prepare("DELETE FROM session_blocks WHERE session_id = ?"),
    };
    this.writer = new GroupCommit<string>(store, {
      ...(opts.maxBatchBytes === undefined ? {} : { maxBatchBytes: opts.maxBatchBytes }),
      // Acknowledged blocks stay protected from GC while their session is open, committed with the index rows.
      onIndexed: (items, outcomes) => {
        this.protectItems(items);
        items.forEach((it, i) => {
          if (outcomes[i] === "stored") this.bytes += it.block.data.length;
        });
      },
    });
    this.bytes = store.stats().bytes;
  }

  private protectItems(items: readonly { block: { id: Buffer }; tag: string }[]): void {
    const bySession = new Map<string, Buffer[]>();
    for (const it of items) {
      const list = bySession.get(it.tag) ?? [];
      list.push(it.block.id);
      bySession.set(it.tag, list);
    }
    for (const [sid, ids] of bySession) this.sessions.protect(sid, ids);
  }

  /** Opens an archive directory (creating it when `placement` is given), after recovering its store. */
  static async open(opts: ArchiveOptions): Promise<Archive> {
    const created = !existsSync(opts.dir);
    const db = openArchiveDb(opts.dir);
    if (created) {
      // Make the new directory's entry durable up to the store point (archives/<ns>/<guid>).
      for (const d of [opts.dir, dirname(opts.dir), dirname(dirname(opts.dir))]) await nodeStoreFs.syncDir(d);
    }
    try {
      const store = new DirStore({ dir: opts.dir, db, clock: opts.clock, ...(opts.fs ? { fs: opts.fs } : {}), ...(opts.crash ? { crash: opts.crash } : {}) });
      const a = new Archive(db, store, opts.clock, opts.crash ?? noCrash, opts);
      if (opts.placement && !a.getMeta("placement")) a.setMeta("placement", opts.placement);
      if (!a.getMeta("placement")) throw new CairnError("STORE_INCONSISTENT", "archive directory has no placement");
      await store.recover();
      return a;
    } catch (err) {
      db.close();
      throw err;
    }
  }

  private placementCache: ArchivePlacement | null = null;

  /** A record from the meta table. */
  getMeta<K extends keyof ArchiveMeta>(key: K): ArchiveMeta[K] | undefined {
    const r = this.st.getMeta.get(key);
    return r ? (JSON.parse(r.value) as ArchiveMeta[K]) : undefined;
  }

  /** Writes a record of the meta table. */
  setMeta<K extends keyof ArchiveMeta>(key: K, value: ArchiveMeta[K]): void {
    this.st.setMeta.run(key, JSON.stringify(value));
    if (key === "placement") this.placementCache = value as ArchivePlacement;
  }

  /** The authority's current placement (quota, retention, cold). */
  get placement(): ArchivePlacement {
    this.placementCache ??= this.getMeta("placement") as ArchivePlacement;
    return this.placementCache;
  }

  /** Bytes of blocks stored (what quotas count). */
  usedBytes(): number {
    return this.bytes;
  }

  /** Recounts stored bytes from the index (after garbage collection). */
  recount(): void {
    this.bytes = this.store.stats().bytes;
    this.cachedCounts = null;
  }

  /**
   * Commits the session's staged files as version `p.seq` (see the file comment). Idempotent for
   * a retry of the version that is already the head. Throws CONFLICT (stale seq or hash chain),
   * INTEGRITY (manifest hash), BLOCKS_MISSING (with the missing ids).
   */
  commit(sessionId: string, p: CommitParams): { seq: number; versionTime: number } {
    this.sessions.requireLease(sessionId, true);
    const head = this.catalog.head();
    if (head && head.seq === p.seq && head.manifestHash.equals(p.manifestHash)) return { seq: head.seq, versionTime: head.time };
    const expected = (head?.seq ?? 0) + 1;
    if (p.seq !== expected)
      throw new CairnError("CONFLICT", `version ${p.seq} does not follow the head; expected ${expected}`, { details: { expectedSeq: expected } });
    const prev = head?.manifestHash ?? null;
    if ((prev === null) !== (p.prevManifestHash === null) || (prev && p.prevManifestHash && !prev.equals(p.prevManifestHash))) {
      throw new CairnError("CONFLICT", "prevManifestHash does not match the head's manifest");
    }
    if (!sha256(p.manifest).equals(p.manifestHash)) throw new CairnError("INTEGRITY", "manifest does not hash to manifestHash");
    const staged = this.st.staged.all(sessionId);
    const missing = new Set<string>();
    for (const f of staged) {
      for (let o = 0; o < f.blocks.length; o += 32) {
        const id = f.blocks.subarray(o, o + 32);
        if (!this.store.has(id)) missing.add(id.toString("hex"));
      }
    }
    if (missing.size > 0) {
      const list = [...missing];
      throw new CairnError("BLOCKS_MISSING", `${list.length} referenced block(s) are not stored`, {
        details: { missing: list.slice(0, 1000), count: list.length },
      });
    }
    this.crash("commit.beforeTransaction");
    const versionTime = Math.max(this.clock.now(), (head?.time ?? 0) + 1);
    // The single commit point, durable before the reply (synchronous=FULL for this transaction).
    durableTransaction(this.db, () => {
      this.st.insertVersion.run(p.seq, versionTime, p.clientTime, p.manifest, p.manifestHash, staged.length, p.complete ? 1 : 0);
      for (const f of staged) {
        this.st.insertFile.run(f.file_id, p.seq, versionTime, f.deleted, f.size, f.blocks, f.meta);
        for (let o = 0; o < f.blocks.length; o += 32) this.st.insertRef.run(f.blocks.subarray(o, o + 32), f.file_id, p.seq);
      }
      this.st.dropStaged.run(sessionId);
      this.st.dropProtect.run(sessionId);
      this.setMeta("lastBackup", versionTime);
      if (p.complete) this.setMeta("lastCompletedBackup", versionTime);
      this.setMeta("stats", p.stats);
    });
    this.cachedCounts = null;
    // The staged rows and protections just deleted leave free pages; the WAL holds the backup's index writes.
    tidyArchiveDb(this.db);
    this.crash("commit.afterTransactionBeforeReply");
    return { seq: p.seq, versionTime };
  }

  /** Ends a backup session (staged files and protections dropped) and gives the index's free space back. */
  endSession(sessionId: string, abort: boolean): void {
    this.sessions.end(sessionId, abort);
    tidyArchiveDb(this.db);
  }

  /** The archive's figures, as reported to its authority. */
  report(storePointId: number): ArchiveReport {
    this.cachedCounts ??= this.catalog.counts();
    const st = this.store.stats();
    const stats = this.getMeta("stats") ?? EMPTY_STATS;
    const placement = this.placement;
    return {
      archiveGuid: placement.archiveGuid,
      storePointId,
      archiveBytes: st.bytes,
      ...stats,
      versionCount: this.cachedCounts.versionCount,
      fileCount: this.cachedCounts.fileCount,
      lastBackup: this.getMeta("lastBackup") ?? null,
      lastCompletedBackup: this.getMeta("lastCompletedBackup") ?? null,
      lastMaintenance: this.getMeta("lastMaintenance") ?? null,
      maintenanceDurationMs: this.getMeta("maintenanceDurationMs") ?? 0,
      compactBytesRemoved: this.getMeta("compactBytesRemoved") ?? 0,
      damagedBlocks: st.damaged,
      cold: placement.cold,
    };
  }

  /** Finishes pending writes and closes the database. */
  async close(): Promise<void> {
    await this.writer.drain();
    await this.store.close();
    this.db.close();
  }
}
