/**
 * The registry of placed archives: which namespace owns which archive, on which store point,
 * and the open {@link Archive} handles (opened on demand, closed when idle past a cap).
 *
 * Placement inserts the registry row before the directory is made, so a crash in between leaves
 * a row whose directory the next open creates. Purge removes the row first (nobody can open the
 * archive any more) after marking the directory `.purging`, renames it into `<store point>/trash/`
 * and deletes it. Start-up empties `trash/`, finishes purges (a directory with no row and the
 * marker), and moves any other directory without a row to `<store point>/orphaned/` for an
 * operator to look at: nothing is deleted that was not purged.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type ArchivePlacement, CairnError, type Clock } from "@cairn/protocol";
import type { Logger } from "pino";
import type { StoreFs } from "../blockstore/store-fs.js";
import type { CrashPoint } from "../crash.js";
import type { ArchiveRow, NodeDb, StorePointRow } from "../node-db.js";
import { OWN_NS } from "../node-db.js";
import { Archive } from "./archive.js";

/** Options of {@link ArchiveRegistry}. */
export interface RegistryOptions {
  db: NodeDb;
  clock: Clock;
  crash: CrashPoint;
  logger: Logger;
  leaseTtlMs: number;
  maxBatchBytes: number;
  /** Most archives kept open at once (idle ones beyond it are closed). */
  maxOpenArchives: number;
  fs?: StoreFs;
}

const GUID = /^[1-9][0-9]{5,19}$/;
/** Written into an archive directory before its registry row is deleted. */
const PURGE_MARKER = ".purging";
const NS = /^(own|[1-9][0-9]{5,19})$/;

/** Placed archives and their open handles. */
export class ArchiveRegistry {
  private readonly open = new Map<string, Promise<Archive>>();
  /** The open archives whose opening finished (synchronous access for quota sums). */
  private readonly loaded = new Map<string, Archive>();
  private readonly lastUse = new Map<string, number>();
  /** Bytes recorded in the registry row of each open archive (to correct the SQL sum with live figures). */
  private readonly savedBytes = new Map<string, number>();
  private useCounter = 0;
  readonly storePoints: StorePointRow[];

  constructor(private readonly opts: RegistryOptions) {
    this.storePoints = opts.db.storePoints();
  }

  /** Empties trash, finishes interrupted purges, quarantines unknown archive directories (start-up). */
  sweep(): void {
    const known = new Set(this.opts.db.allArchives().map((r) => `${r.ns}/${r.guid}`));
    for (const sp of this.storePoints) {
      rmSync(join(sp.path, "trash"), { recursive: true, force: true });
      const root = join(sp.path, "archives");
      for (const ns of safeList(root)) {
        for (const guid of safeList(join(root, ns))) {
          if (known.has(`${ns}/${guid}`)) continue;
          const dir = join(root, ns, guid);
          if (existsSync(join(dir, PURGE_MARKER))) {
            this.trash(sp, dir);
            this.opts.logger.info({ ns, archiveGuid: guid }, "interrupted purge finished");
            continue;
          }
          const q = join(sp.path, "orphaned");
          mkdirSync(q, { recursive: true, mode: 0o700 });
          renameSync(dir, join(q, `${ns}-${guid}-${randomBytes(4).toString("hex")}`));
          this.opts.logger.error({ ns, archiveGuid: guid }, "archive directory without a placement moved to orphaned/");
        }
      }
      rmSync(join(sp.path, "trash"), { recursive: true, force: true });
    }
  }

  private trash(sp: StorePointRow, dir: string): void {
    const t = join(sp.path, "trash");
    mkdirSync(t, { recursive: true, mode: 0o700 });
    renameSync(dir, join(t, randomBytes(8).toString("hex")));
  }

  private storePoint(id: number): StorePointRow {
    const sp = this.storePoints.find((s) => s.id === id);
    if (!sp) throw new CairnError("STORE_INCONSISTENT", `unknown store point ${id}`);
    return sp;
  }

  /** Directory of an archive. */
  dirOf(row: { ns: string; guid: string; storePointId: number }): string {
    if (!NS.test(row.ns) || !GUID.test(row.guid)) throw new CairnError("BAD_REQUEST", "invalid archive id");
    return join(this.storePoint(row.storePointId).path, "archives", row.ns, row.guid);
  }

  /** A store point's id as a namespace sees it (the own authority has its own numbering). */
  storePointIdFor(ns: string, localId: number): number {
    if (ns !== OWN_NS) return localId;
    return this.storePoints.find((s) => s.id === localId)?.authorityId ?? localId;
  }

  private localStorePoint(ns: string, requested: number | null): StorePointRow | null {
    if (requested === null) return null;
    return this.storePoints.find((s) => (ns === OWN_NS ? (s.authorityId ?? s.id) : s.id) === requested) ?? null;
  }

  /** Registry row of an archive in a namespace. */
  row(ns: string, guid: string): ArchiveRow | undefined {
    return this.opts.db.archive(ns, guid);
  }

  /** The open archive, or null when the namespace has no such archive. */
  async get(ns: string, guid: string): Promise<Archive | null> {
    const row = this.row(ns, guid);
    if (!row) return null;
    return this.openRow(row);
  }

  private openRow(row: ArchiveRow): Promise<Archive> {
    const key = `${row.ns}/${row.guid}`;
    this.lastUse.set(key, ++this.useCounter);
    let p = this.open.get(key);
    if (!p) {
      p = Archive.open({
        dir: this.dirOf(row),
        clock: this.opts.clock,
        crash: this.opts.crash,
        leaseTtlMs: this.opts.leaseTtlMs,
        maxBatchBytes: this.opts.maxBatchBytes,
        placement: row.placement,
        ...(this.opts.fs ? { fs: this.opts.fs } : {}),
      });
      this.open.set(key, p);
      this.savedBytes.set(key, row.bytes);
      p.then(
        (a) => this.loaded.set(key, a),
        () => this.open.delete(key),
      );
      void this.evictIdle();
    }
    return p;
  }

  private async evictIdle(): Promise<void> {
    if (this.open.size <= this.opts.maxOpenArchives) return;
    const order = [...this.lastUse.entries()].sort((a, b) => a[1] - b[1]);
    for (const [key] of order) {
      if (this.open.size <= this.opts.maxOpenArchives) break;
      const p = this.open.get(key);
      if (!p) continue;
      const a = await p.catch(() => null);
      if (!a || a.users > 0 || a.writer.pendingBytes > 0) continue;
      this.saveReport(key.split("/")[0] as string, a);
      this.open.delete(key);
      this.loaded.delete(key);
      this.lastUse.delete(key);
      this.savedBytes.delete(key);
      await a.close();
    }
  }

  /** The archive if it is open now (no opening). */
  loadedArchive(ns: string, guid: string): Archive | undefined {
    return this.loaded.get(`${ns}/${guid}`);
  }

  /** Open archives of a namespace (for quota sums and maintenance). */
  openArchives(ns: string): Promise<Archive>[] {
    return [...this.open.entries()].filter(([k]) => k.startsWith(`${ns}/`)).map(([, p]) => p);
  }

  /** Bytes a namespace stores (tenant quota), counting blocks not yet durable. Synchronous. */
  namespaceBytes(ns: string): number {
    let total = this.opts.db.namespaceBytes(ns);
    for (const [key, a] of this.loaded) {
      if (key.startsWith(`${ns}/`)) total += a.usedBytes() + a.writer.pendingBytes - (this.savedBytes.get(key) ?? 0);
    }
    return total;
  }

  /**
   * Places an archive in a namespace (or updates its placement when it exists). Returns the
   * store point in the namespace's numbering.
   */
  async place(
    ns: string,
    placement: ArchivePlacement,
    freeBytes: (sp: StorePointRow) => Promise<number>,
  ): Promise<{ archiveGuid: string; storePointId: number }> {
    const existing = this.row(ns, placement.archiveGuid);
    if (existing) {
      await this.update(ns, placement);
      return { archiveGuid: placement.archiveGuid, storePointId: this.storePointIdFor(ns, existing.storePointId) };
    }
    let sp = this.localStorePoint(ns, placement.storePointId);
    if (!sp) {
      const candidates = this.storePoints.filter((s) => s.acceptingNew);
      if (candidates.length === 0) throw new CairnError("DESTINATION_FULL", "no store point accepts new archives");
      const free = await Promise.all(candidates.map(freeBytes));
      sp = candidates[free.indexOf(Math.max(...free))] as StorePointRow;
    }
    this.opts.db.insertArchive(ns, placement.archiveGuid, sp.id, placement, this.opts.clock.now());
    const a = await this.openRow(this.row(ns, placement.archiveGuid) as ArchiveRow);
    this.saveReport(ns, a);
    return { archiveGuid: placement.archiveGuid, storePointId: this.storePointIdFor(ns, sp.id) };
  }

  /** Changes quota, retention or cold state. Throws NOT_FOUND outside the namespace. */
  async update(ns: string, placement: ArchivePlacement): Promise<Archive> {
    const a = await this.get(ns, placement.archiveGuid);
    if (!a) throw new CairnError("NOT_FOUND", "no such archive");
    const merged = { ...placement, storePointId: a.placement.storePointId };
    a.setMeta("placement", merged);
    this.opts.db.updatePlacement(ns, placement.archiveGuid, merged);
    return a;
  }

  /** Records an archive's figures in the registry (list-archives reads them without opening it). */
  saveReport(ns: string, a: Archive): void {
    const row = this.row(ns, a.placement.archiveGuid);
    if (!row) return;
    const report = a.report(this.storePointIdFor(ns, row.storePointId));
    this.opts.db.updateReport(ns, row.guid, report);
    this.savedBytes.set(`${ns}/${row.guid}`, report.archiveBytes);
  }

  /**
   * Deletes an archive and all its blocks. `beforeClose` lets the caller close the archive's
   * connections first. Returns the bytes freed.
   */
  async purge(ns: string, guid: string, beforeClose: () => Promise<void>): Promise<{ freedBytes: number; existed: boolean }> {
    const row = this.row(ns, guid);
    if (!row) return { freedBytes: 0, existed: false };
    await beforeClose();
    const key = `${ns}/${guid}`;
    const p = this.open.get(key);
    let freed = row.bytes;
    if (p) {
      const a = await p.catch(() => null);
      this.open.delete(key);
      this.loaded.delete(key);
      this.lastUse.delete(key);
      this.savedBytes.delete(key);
      if (a) {
        freed = a.store.stats().packBytes;
        await a.close();
      }
    }
    const dir = this.dirOf(row);
    if (existsSync(dir)) writeFileSync(join(dir, PURGE_MARKER), "");
    this.opts.db.deleteArchive(ns, guid);
    this.opts.crash("purge.afterUnregister");
    const sp = this.storePoint(row.storePointId);
    try {
      this.trash(sp, this.dirOf(row));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    rmSync(join(sp.path, "trash"), { recursive: true, force: true });
    this.opts.logger.info({ ns, archiveGuid: guid, freedBytes: freed }, "archive purged");
    return { freedBytes: freed, existed: true };
  }

  /** Closes every open archive (shutdown). */
  async closeAll(): Promise<void> {
    const all = [...this.open.entries()];
    this.open.clear();
    this.loaded.clear();
    for (const [key, p] of all) {
      const a = await p.catch(() => null);
      if (!a) continue;
      this.saveReport(key.split("/")[0] as string, a);
      await a.close();
    }
  }
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
