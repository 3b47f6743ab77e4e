/**
 * What administrators do with cold storage (API.md §7.2, seed 001 "Cold Storage"): list an
 * org's archives in cold storage (children included), change purge dates (YYYY-MM-DD; a past
 * date means "at the next run"), purge at once, and the scheduled purge of every archive whose
 * date has passed ({@link ColdStorageService.purgeDue}).
 *
 * A purge is a crypto-shred first: one transaction destroys the wrapped archive key and marks
 * the archive purged (nobody can decrypt any copy from then on, and no restore can start), with
 * its audit entry. Then the storage node deletes the blocks (`purge-archive`) through the
 * {@link ArchivePurger} the storage part provides; when the node is unreachable the deletion is
 * retried by every later run until the node confirms it, and only then does the archive leave
 * cold storage.
 *
 * Legal hold (API.md §11) comes first: an archive whose owner is on active hold is never
 * purged. Purge now refuses it with ACTIVE_LEGAL_HOLD before anything is purged; the scheduled
 * purge leaves it in cold storage (its date passed: it goes at the first run after the hold
 * ends). The check is made again inside each purge's transaction, so a custodian added during a
 * run is not shredded.
 */
import { CairnError, isoDate } from "@cairn/protocol";
import { auditEntry } from "../audit/audit.js";
import { type Principal, requirePermission, SYSTEM_PRINCIPAL } from "../auth/access.js";
import type { CoreDeps } from "../core.js";
import type { ColdStorageFilter, ColdStorageView, PurgeCandidate } from "../db/operations-store.js";
import type { Page, PageResult, SortOrder } from "../db/store.js";
import { crashPoint } from "../faults.js";

/** Deletes an archive's blocks on its storage node (the storage part implements it). */
export interface ArchivePurger {
  /**
   * Asks the node holding the archive to delete it (`purge-archive`). Resolves `true` once the
   * node confirmed (or the archive never reached a node), `false` when the node is unreachable
   * now (the purge is retried later).
   */
  purgeOnNode(archive: PurgeCandidate): Promise<boolean>;
}

/** Until the storage part registers one: only archives never placed on a node finish. */
export const NO_NODE_PURGER: ArchivePurger = {
  async purgeOnNode(a) {
    return a.serverGuid === null;
  },
};

/** Query of the cold-storage list. */
export interface ColdListQuery {
  orgId: number;
  incChildOrgs: boolean;
  sort?: SortOrder;
  archiveGuids?: readonly string[];
}

/** An archive of `PUT /api/coldStorage/{id}`: its numeric id (the default), or its GUID (`idType=guid`). */
export type ColdArchiveRef = { archiveId: number } | { archiveGuid: string };

/** What a purge run did. */
export interface PurgeRun {
  /** Archives whose key was destroyed in this run. */
  purged: string[];
  /** Archives whose blocks the node confirmed deleting in this run. */
  deleted: string[];
  /** Archives whose node deletion is still pending. */
  pending: string[];
  /** Archives due but left in cold storage because their owner is on active legal hold. */
  held: string[];
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A `YYYY-MM-DD` date that exists; BAD_REQUEST otherwise. */
export function parsePurgeDate(v: unknown): string {
  const m = typeof v === "string" ? DATE.exec(v) : null;
  const t = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : Number.NaN;
  if (!m || Number.isNaN(t) || isoDate(t) !== v) {
    throw new CairnError("BAD_REQUEST", "archiveHoldExpireDate must be a date as YYYY-MM-DD", { details: { field: "archiveHoldExpireDate" } });
  }
  return v as string;
}

const orgTarget = (r: Pick<ColdStorageView, "orgId" | "orgPath">) => ({ kind: "org" as const, orgId: r.orgId, path: r.orgPath });

/** Cold-storage operations. */
export class ColdStorageService {
  private purger: ArchivePurger = NO_NODE_PURGER;
  private running: Promise<PurgeRun> | null = null;
  private readonly shredListeners: ((archiveGuid: string) => void)[] = [];

  constructor(private readonly d: CoreDeps) {}

  /** Called with each archive whose key was destroyed (open restores of it end). */
  onShredded(fn: (archiveGuid: string) => void): void {
    this.shredListeners.push(fn);
  }

  /** The storage part's way to delete blocks on nodes. */
  setPurger(p: ArchivePurger): void {
    this.purger = p;
  }

  /** The store filter of a list query; needs `coldstorage.read` over the org. */
  private async filterFor(p: Principal, q: ColdListQuery): Promise<ColdStorageFilter> {
    const org = await this.d.store.getOrg(q.orgId);
    if (org === undefined) throw new CairnError("NOT_FOUND", "No such organization");
    requirePermission(p, "coldstorage.read", { kind: "org", orgId: org.orgId, path: org.path }, "organization");
    return {
      orgId: org.orgId,
      subtreePath: q.incChildOrgs ? org.path : null,
      ...(q.sort ? { sort: q.sort } : {}),
      ...(q.archiveGuids ? { archiveGuids: q.archiveGuids } : {}),
    };
  }

  /** GET /api/ColdStorage: needs `coldstorage.read` over the org. */
  async list(p: Principal, q: ColdListQuery, page: Page): Promise<PageResult<ColdStorageView>> {
    return this.d.store.listColdStorage(await this.filterFor(p, q), page);
  }

  /** How many archives a list query matches and the bytes they hold (seed 001 org details "Cold storage"). */
  async totals(p: Principal, q: ColdListQuery): Promise<{ count: number; bytes: number }> {
    return this.d.store.coldStorageTotals(await this.filterFor(p, q));
  }

  /** Every row of a list query (CSV export). */
  async listAll(p: Principal, q: ColdListQuery): Promise<ColdStorageView[]> {
    const out: ColdStorageView[] = [];
    for (let offset = 0; ; offset += 5000) {
      const r = await this.list(p, q, { offset, limit: 5000 });
      out.push(...r.items);
      if (r.items.length < 5000) return out;
    }
  }

  private async visibleRow(p: Principal, ref: string | ColdArchiveRef, perm: "coldstorage.read" | "coldstorage.write"): Promise<ColdStorageView> {
    const r: ColdArchiveRef = typeof ref === "string" ? { archiveGuid: ref } : ref;
    const row = "archiveId" in r ? await this.d.store.getColdStorageById(r.archiveId) : await this.d.store.getColdStorage(r.archiveGuid);
    // an archive that is not in cold storage and another org's read alike (T24)
    if (row === undefined) throw new CairnError("NOT_FOUND", "No such archive in cold storage");
    requirePermission(p, perm, orgTarget(row), "archive in cold storage");
    return row;
  }

  /** PUT /api/coldStorage/{id}: a new purge date; 404 when the archive is not in cold storage. */
  async setPurgeDate(p: Principal, ref: string | ColdArchiveRef, date: unknown): Promise<ColdStorageView> {
    const day = parsePurgeDate(date);
    const row = await this.visibleRow(p, ref, "coldstorage.write");
    const now = this.d.clock.now();
    await this.d.store.transaction(async (tx) => {
      await tx.setHoldExpireDate(row.archiveId, day);
      await tx.appendAudit(
        auditEntry(p, now, "coldstorage.purge-date", { type: "archive", id: row.archiveGuid, orgId: row.orgId }, { from: row.holdExpireDate, to: day }),
      );
    });
    return { ...row, holdExpireDate: day };
  }

  /** Purges these archives now (Cairn's route; audited as an early purge). All are checked first. */
  async purgeNow(p: Principal, archiveGuids: readonly string[]): Promise<PurgeRun> {
    const rows: ColdStorageView[] = [];
    for (const g of new Set(archiveGuids)) rows.push(await this.visibleRow(p, g, "coldstorage.write"));
    const onHold = await this.d.store.usersOnActiveHold([...new Set(rows.map((r) => r.userId))]);
    const held = rows.filter((r) => onHold.has(r.userId)).map((r) => r.archiveGuid);
    if (held.length > 0)
      throw new CairnError("ACTIVE_LEGAL_HOLD", "ACTIVE_LEGAL_HOLD: the archive's owner is a custodian on an active legal hold; nothing was purged", {
        details: { archiveGuids: held },
      });
    const run: PurgeRun = { purged: [], deleted: [], pending: [], held: [] };
    const candidates = rows.map((r) => ({
      archiveId: r.archiveId,
      archiveGuid: r.archiveGuid,
      orgId: r.orgId,
      userId: r.userId,
      holdExpireDate: r.holdExpireDate,
      purgedAt: null,
      destinationGuid: r.destinationGuid,
      serverGuid: r.serverGuid,
    }));
    for (const c of candidates) await this.purgeOne(p, c, "early", run);
    this.d.events.emit("purge-run", { trigger: "now", purged: run.purged.length });
    return run;
  }

  /**
   * The scheduled purge: every archive whose purge date is on or before `now`'s UTC date, and
   * every earlier purge the node has not confirmed yet. One run at a time.
   */
  purgeDue(now: number): Promise<PurgeRun> {
    if (this.running !== null) return this.running;
    this.running = (async () => {
      const run: PurgeRun = { purged: [], deleted: [], pending: [], held: [] };
      try {
        for (const c of await this.d.store.unfinishedPurges()) await this.finishOnNode(c, run);
        for (const c of await this.d.store.coldArchivesDue(isoDate(now))) await this.purgeOne(SYSTEM_PRINCIPAL, c, "scheduled", run, now);
        if (run.held.length > 0) this.d.log.info({ held: run.held.length }, "cold storage purge skipped archives of custodians on active legal hold");
        if (run.purged.length + run.pending.length > 0) this.d.log.info({ ...counts(run) }, "cold storage purge run");
        this.d.events.emit("purge-run", { trigger: "scheduled", purged: run.purged.length });
        return run;
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  private async purgeOne(p: Principal, c: PurgeCandidate, why: "early" | "scheduled", run: PurgeRun, at = this.d.clock.now()): Promise<void> {
    const outcome = await this.d.store.transaction(async (tx) => {
      // checked in the purge's own transaction: a custodian added since the candidates were read is kept
      if (await tx.isOnActiveHold(c.userId)) return "held" as const;
      if (!(await tx.markArchivePurged(c.archiveId, at))) return "gone" as const;
      // T04: a kill here keeps the key and the cold-storage row, with no purge audit: the next run purges it
      crashPoint(this.d.faults, "coldstorage.purge.afterShred");
      await tx.appendAudit(
        auditEntry(p, at, "coldstorage.purge", { type: "archive", id: c.archiveGuid, orgId: c.orgId }, { reason: why, holdExpireDate: c.holdExpireDate }),
      );
      return "shredded" as const;
    });
    if (outcome === "held") run.held.push(c.archiveGuid);
    if (outcome !== "shredded") return;
    run.purged.push(c.archiveGuid);
    // T04: a kill here leaves a recorded purge (no key, audited) that the next run finishes on the node
    crashPoint(this.d.faults, "coldstorage.purge.afterCommit");
    for (const fn of this.shredListeners) fn(c.archiveGuid);
    await this.finishOnNode(c, run);
  }

  private async finishOnNode(c: PurgeCandidate, run: PurgeRun): Promise<void> {
    let done = false;
    try {
      done = await this.purger.purgeOnNode(c);
    } catch (err) {
      this.d.log.warn({ err, archiveGuid: c.archiveGuid }, "purge on the storage node failed; retrying at the next run");
    }
    if (!done) {
      run.pending.push(c.archiveGuid);
      return;
    }
    await this.d.store.transaction((tx) => tx.finishPurge(c.archiveId));
    run.deleted.push(c.archiveGuid);
  }
}

function counts(r: PurgeRun): Record<string, number> {
  return { purged: r.purged.length, deleted: r.deleted.length, pending: r.pending.length, held: r.held.length };
}
