/**
 * Maintenance of archives, on demand (`maintain` over a control link) or on schedule:
 *   prune (retention) → verify (optional: SHA-256 of every block; damaged ones marked, the
 *   connected agent asked to re-send them, otherwise the authority told by file id) → garbage
 *   collection (refused on a missing referenced block or a clock that went backwards) →
 *   compaction (rewrites mostly-dead and small packs within the free space above the reserve) →
 *   the archive's figures recorded.
 */
import { CairnError, isCairnError } from "@cairn/protocol";
import type { Archive } from "../archive/archive.js";
import type { NodeContext } from "../context.js";
import { collectGarbage, missingReferencedBlocks } from "./gc.js";
import { pruneArchive } from "./prune.js";

/** Options of one maintenance run. */
export interface MaintainOptions {
  verify: boolean;
  /** Verify only: no pruning, garbage collection or compaction (the operator's `verify`). */
  verifyOnly?: boolean;
  /** Test hook: runs between GC's mark and sweep (T13). */
  afterMark?: () => Promise<void>;
}

/** What a run did (the `maintain` result). */
export interface MaintainResult {
  archives: number;
  prunedVersions: number;
  removedBlocks: number;
  compactBytesRemoved: number;
  damagedBlocks: number;
  /**
   * Archives whose maintenance was refused (STORE_INCONSISTENT, CLOCK_WENT_BACKWARDS, …) in a run
   * over many archives: the others went on, and the operator's command fails naming these.
   */
  refused: MaintainRefusal[];
  /** Per archive with damaged blocks: which blocks, and the file versions that reference them (T07). */
  damaged: DamageReport[];
}

/** What damaged blocks affect in one archive (lists capped at {@link DAMAGE_LIST_MAX}). */
export interface DamageReport {
  archiveGuid: string;
  /** Damaged blocks in the archive. */
  blocks: number;
  /** Their ids (hex). */
  blockIds: string[];
  /** Files with a committed version that references one of them. */
  files: number;
  /** The files' ids (hex): keyed hashes of their paths, which only the device (holding the keys) can name. */
  fileIds: string[];
  /** The backup versions (seq) in which an affected file version was written. */
  versions: number[];
}

/** Longest list a {@link DamageReport} carries. */
export const DAMAGE_LIST_MAX = 100;

/** One archive's refused maintenance. */
export interface MaintainRefusal {
  archiveGuid: string;
  code: string;
  message: string;
}

/** An empty result, to add runs to. */
export function emptyMaintainResult(): MaintainResult {
  return { archives: 0, prunedVersions: 0, removedBlocks: 0, compactBytesRemoved: 0, damagedBlocks: 0, refused: [], damaged: [] };
}

/** Adds `r` to `total`. */
export function addMaintainResult(total: MaintainResult, r: MaintainResult): void {
  total.archives += r.archives;
  total.prunedVersions += r.prunedVersions;
  total.removedBlocks += r.removedBlocks;
  total.compactBytesRemoved += r.compactBytesRemoved;
  total.damagedBlocks += r.damagedBlocks;
  total.refused.push(...r.refused);
  total.damaged.push(...r.damaged);
}

const running = new WeakSet<Archive>();

/** Maintains one archive. Throws CLOCK_WENT_BACKWARDS or STORE_INCONSISTENT (after verifying). */
export async function maintainArchive(ctx: NodeContext, ns: string, a: Archive, opts: MaintainOptions): Promise<MaintainResult> {
  if (running.has(a)) throw new CairnError("CONFLICT", "maintenance is already running on this archive");
  running.add(a);
  a.users++;
  try {
    return await maintainNow(ctx, ns, a, opts);
  } finally {
    a.users--;
    running.delete(a);
  }
}

async function maintainNow(ctx: NodeContext, ns: string, a: Archive, opts: MaintainOptions): Promise<MaintainResult> {
  const now = ctx.clock.now();
  const started = now;
  const last = a.getMeta("lastMaintenance");
  // only what deletes depends on the clock (T16): a verification, which reads, runs whatever it says
  if (!opts.verifyOnly && last !== undefined && last !== null && now < last) {
    throw new CairnError("CLOCK_WENT_BACKWARDS", "the server clock is earlier than the last maintenance; refusing", { details: { lastMaintenance: last } });
  }
  const guid = a.placement.archiveGuid;
  const log = ctx.logger.child({ ns, archiveGuid: guid });
  // a session an agent is connected to is not stale, whatever the clock says (T16: after a forward
  // jump its recorded activity looks old, and its blocks would lose their protection)
  const live = new Set(ctx.hub.onArchive(ns, guid).flatMap((c) => (c.sessionId ? [c.sessionId] : [])));
  a.sessions.expireStale(ctx.opts.sessionMaxIdleMs, live);
  const pruned = opts.verifyOnly ? { fileVersions: 0 } : pruneArchive(a, a.placement.retention, now);
  // a pack deleted behind the node's back: its blocks count as damaged, so that GC refuses (T08)
  const lost = await a.store.checkPacks();
  if (lost > 0) log.error({ lostBlocks: lost }, "pack files are missing or truncated");
  let damaged = a.store.stats().damaged;
  let damagedIds: readonly Buffer[] = damaged > 0 ? a.store.damagedIds(DAMAGE_LIST_MAX) : [];
  if (opts.verify) {
    if (missingReferencedBlocks(a).count > 0 && a.store.stats().blocks === 0) await a.store.rebuildIndex();
    const v = await a.store.verify();
    damaged = v.damaged.length;
    damagedIds = v.damaged;
    if (v.repaired > 0) log.info({ repairedBlocks: v.repaired }, "blocks marked damaged read intact again: mark cleared");
    if (damaged > 0) {
      ctx.metrics.damagedBlocks.inc(damaged);
      log.error({ damagedBlocks: damaged }, "verification found damaged blocks");
      await reportDamage(ctx, ns, a, v.damaged);
    }
  }
  const damageReports = damaged > 0 ? [damageReport(a, damaged, damagedIds)] : [];
  if (opts.verifyOnly) {
    a.recount();
    ctx.registry.saveReport(ns, a);
    log.info({ damagedBlocks: damaged }, "verification ran");
    return { archives: 1, prunedVersions: 0, removedBlocks: 0, compactBytesRemoved: 0, damagedBlocks: damaged, refused: [], damaged: damageReports };
  }
  const sp = ctx.registry.row(ns, guid)?.storePointId ?? 0;
  let removedBlocks = 0;
  let compactBytes = 0;
  try {
    removedBlocks = (await collectGarbage(a, { now, graceMs: ctx.opts.gcGraceMs, crash: ctx.crash, ...(opts.afterMark ? { afterMark: opts.afterMark } : {}) }))
      .removedBlocks;
    compactBytes = (await a.store.compact({ spaceBudgetBytes: Math.max(0, ctx.space.roomForMaintenance(sp)) })).bytesRemoved;
    ctx.crash("gc.afterDeleteBeforeCatalog");
  } finally {
    a.setMeta("lastMaintenance", now);
    a.setMeta("maintenanceDurationMs", Math.max(0, ctx.clock.now() - started));
    a.setMeta("compactBytesRemoved", (a.getMeta("compactBytesRemoved") ?? 0) + compactBytes);
    a.recount();
    ctx.registry.saveReport(ns, a);
  }
  log.info({ prunedVersions: pruned.fileVersions, removedBlocks, compactBytesRemoved: compactBytes, damagedBlocks: damaged }, "maintenance ran");
  return {
    archives: 1,
    prunedVersions: pruned.fileVersions,
    removedBlocks,
    compactBytesRemoved: compactBytes,
    damagedBlocks: damaged,
    refused: [],
    damaged: damageReports,
  };
}

/** The files and versions that reference damaged blocks (`ids`: the damaged blocks, or the first of them). */
export function damageReport(a: Archive, blocks: number, ids: readonly Buffer[]): DamageReport {
  const q = a.db.prepare<[Buffer], { file_id: Buffer; seq: number }>("SELECT file_id, seq FROM file_blocks WHERE block_id = ?");
  const files = new Set<string>();
  const versions = new Set<number>();
  for (const id of ids)
    for (const r of q.all(id)) {
      files.add(r.file_id.toString("hex"));
      versions.add(r.seq);
    }
  return {
    archiveGuid: a.placement.archiveGuid,
    blocks,
    blockIds: ids.slice(0, DAMAGE_LIST_MAX).map((id) => id.toString("hex")),
    files: files.size,
    fileIds: [...files].slice(0, DAMAGE_LIST_MAX),
    versions: [...versions].sort((x, y) => x - y).slice(0, DAMAGE_LIST_MAX),
  };
}

/**
 * Damaged blocks: a connected agent is asked to re-send them (heal), and the authority hears of
 * them either way (its audit log and the archive's figures: T07's alert), with the files they
 * belong to.
 */
async function reportDamage(ctx: NodeContext, ns: string, a: Archive, ids: readonly Buffer[]): Promise<void> {
  const guid = a.placement.archiveGuid;
  ctx.hub.heal(ns, guid, Buffer.concat(ids as Buffer[]));
  const q = a.db.prepare<[Buffer], { file_id: Buffer }>("SELECT DISTINCT file_id FROM file_blocks WHERE block_id = ?");
  const files = new Map<string, Buffer>();
  for (const id of ids) for (const r of q.all(id)) files.set(r.file_id.toString("hex"), r.file_id);
  for (const link of ctx.hub.links(ns)) {
    await link.peer
      .call("report-damage", { archiveGuid: guid, damagedBlocks: ids.length, fileIds: [...files.values()].slice(0, 10_000) })
      .catch((err: unknown) => ctx.logger.warn({ err }, "report-damage failed"));
  }
}

/**
 * Maintains one archive of a namespace, or all of them (`archiveGuid` null). With one archive a
 * refusal is the call's error; across many, refused archives are logged and skipped.
 */
export async function runMaintenance(ctx: NodeContext, ns: string, archiveGuid: string | null, opts: MaintainOptions): Promise<MaintainResult> {
  const total = emptyMaintainResult();
  const guids = archiveGuid ? [archiveGuid] : ctx.db.archives(ns).map((r) => r.guid);
  for (const guid of guids) {
    const a = await ctx.registry.get(ns, guid);
    if (!a) throw new CairnError("NOT_FOUND", "no such archive");
    try {
      addMaintainResult(total, await maintainArchive(ctx, ns, a, opts));
    } catch (err) {
      if (archiveGuid) throw err;
      const code = isCairnError(err) ? err.code : "INTERNAL";
      ctx.logger.error({ err, ns, archiveGuid: guid, code }, "maintenance refused");
      total.refused.push({ archiveGuid: guid, code, message: (err as Error).message.slice(0, 2000) });
    }
  }
  return total;
}
