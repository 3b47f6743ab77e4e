/**
 * Compaction of a directory store: packs that are mostly dead bytes (after GC removed index
 * entries) and small packs (slow senders make one pack per block) are rewritten. Order: copy the
 * live blocks (verifying each) into a new pack written durably → switch the index in one durable
 * transaction that records the old packs as retired → delete the old packs → fsync their
 * directories → forget the retired records. A crash anywhere leaves either the old packs
 * indexed, or the new one indexed and the retired ones deleted at start (T14).
 */
import { dirname } from "node:path";
import { CairnError, type Clock } from "@cairn/protocol";
import type { CrashPoint } from "../crash.js";
import type { CompactOptions, CompactResult } from "./blockstore.js";
import type { DirStoreIndex, PackRow } from "./dir-store-index.js";
import { blockSha, encodePackHeader, encodeRecordHeader, PACK_HEADER_BYTES, RECORD_HEADER_BYTES } from "./pack-format.js";
import type { StoreFs } from "./store-fs.js";

/** Largest pack compaction writes. */
export const MAX_COMPACT_PACK_BYTES = 24 * 1024 * 1024;

/** What compaction needs of the store. */
export interface CompactDeps {
  index: DirStoreIndex;
  fs: StoreFs;
  clock: Clock;
  crash: CrashPoint;
  allocPackId(): number;
  packPath(id: number): string;
  readBlock(pack: number, offset: number, length: number): Promise<Buffer | null>;
  /** Closes the pack's cached read handle (before the pack file is deleted). */
  forgetPack(id: number): void;
  writePack(id: number, bufs: readonly Buffer[]): Promise<void>;
  serial<T>(fn: () => Promise<T>): Promise<T>;
}

/** Chooses packs and rewrites them in groups of at most {@link MAX_COMPACT_PACK_BYTES}. */
export async function compactPacks(d: CompactDeps, opts: CompactOptions): Promise<CompactResult> {
  const minLive = opts.minLiveRatio ?? 0.5;
  const small = opts.smallPackBytes ?? 4 * 1024 * 1024;
  let budget = opts.spaceBudgetBytes ?? Number.POSITIVE_INFINITY;
  const packs = d.index.packs();
  const sparse = packs.filter((p) => p.liveBytes < p.bytes * minLive);
  const smalls = packs.filter((p) => p.liveBytes >= p.bytes * minLive && p.bytes < small);
  const chosen = [...sparse, ...(smalls.length >= 2 ? smalls : [])];
  let packsRewritten = 0;
  let bytesRemoved = 0;
  let skipped = 0;
  let group: PackRow[] = [];
  let groupLive = 0;
  const flush = async () => {
    if (group.length === 0) return;
    if (groupLive + PACK_HEADER_BYTES > budget) {
      // this pack's live bytes do not fit yet: later groups (and the space they free) may let
      // the next run take it
      skipped += group.length;
    } else {
      const old = group;
      const r = await d.serial(() => rewrite(d, old));
      // the new pack took its bytes, the deleted packs gave theirs back (r.removed is the net)
      budget += r.removed;
      packsRewritten += group.length;
      bytesRemoved += r.removed;
    }
    group = [];
    groupLive = 0;
  };
  // sparse packs first, the emptiest first: they need the least room and free the most
  chosen.sort((x, y) => x.liveBytes / Math.max(1, x.bytes) - y.liveBytes / Math.max(1, y.bytes) || x.liveBytes - y.liveBytes);
  for (const p of chosen) {
    opts.signal?.throwIfAborted();
    // a group is as large as the room allows (a nearly full store point compacts in small steps)
    if (group.length > 0 && groupLive + p.liveBytes > Math.min(MAX_COMPACT_PACK_BYTES, budget - PACK_HEADER_BYTES)) await flush();
    group.push(p);
    groupLive += p.liveBytes;
  }
  await flush();
  if (skipped > 0 && packsRewritten === 0) throw new CairnError("DESTINATION_FULL", `not enough free space to compact (${skipped} packs wait for room)`);
  return { packsRewritten, bytesRemoved };
}

/** Copies the live blocks of `old` packs into one new pack, switches the index, deletes them. */
async function rewrite(d: CompactDeps, old: readonly PackRow[]): Promise<{ removed: number; newBytes: number }> {
  const now = d.clock.now();
  const packId = d.allocPackId();
  const bufs: Buffer[] = [encodePackHeader(packId, now)];
  const moves: { id: Buffer; from: number; offset: number }[] = [];
  const bad: Buffer[] = [];
  let pos = PACK_HEADER_BYTES;
  for (const p of old) {
    for (const b of d.index.blocksOfPack(p.id)) {
      if (b.damaged) continue;
      const data = await d.readBlock(p.id, b.offset, b.length);
      if (!data || !blockSha(data).equals(b.sha)) {
        bad.push(b.id);
        continue;
      }
      bufs.push(encodeRecordHeader(b.id, b.length, b.sha), data);
      moves.push({ id: b.id, from: p.id, offset: pos + RECORD_HEADER_BYTES });
      pos += RECORD_HEADER_BYTES + b.length;
    }
  }
  // Damaged blocks are not copied: their entries keep the old pack alive until healed or collected.
  d.index.markDamaged(bad);
  if (moves.length > 0) await d.writePack(packId, bufs);
  d.crash("compact.afterWrite");
  const emptied = d.index.switchPacks(
    moves.length > 0 ? { id: packId, bytes: pos, createdAt: now } : null,
    moves,
    old.map((p) => p.id),
  );
  if (emptied.length > 0) d.crash("compact.afterIndexSwitch");
  let removed = 0;
  const dirs = new Set<string>();
  for (const p of old) {
    if (!emptied.includes(p.id)) continue;
    const path = d.packPath(p.id);
    d.forgetPack(p.id);
    await d.fs.unlink(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== "ENOENT") throw new CairnError("STORE_IO", "deleting a pack failed", { cause: err });
    });
    dirs.add(dirname(path));
    removed += p.bytes;
    if (removed === p.bytes) d.crash("gc.midDelete");
  }
  for (const dir of dirs) await d.fs.syncDir(dir);
  d.index.forgetRetired(emptied);
  const newBytes = moves.length > 0 ? pos : 0;
  return { removed: removed - newBytes, newBytes };
}
