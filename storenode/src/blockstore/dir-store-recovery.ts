/**
 * The directory store's start-up scan and index rebuild (T03, T08): temporary packs removed,
 * packs the index does not know adopted from their self-describing records (or removed when they
 * hold nothing new, or were retired by compaction), indexed blocks whose pack is missing or too
 * short marked damaged so that they are never served.
 */
import { join } from "node:path";
import type { Clock } from "@cairn/protocol";
import type { RecoverResult } from "./blockstore.js";
import type { DirStoreIndex } from "./dir-store-index.js";
import { type PackScan, scanPack } from "./pack-format.js";
import type { StoreFs } from "./store-fs.js";

/** What recovery needs of the store. */
export interface RecoveryDeps {
  fs: StoreFs;
  index: DirStoreIndex;
  packsDir: string;
  packPath(id: number): string;
  clock: Clock;
  has(id: Buffer): boolean;
}

/** Indexes the valid blocks of a pack the index does not know; returns how many were new. */
export async function adoptPack(d: RecoveryDeps, packId: number, path: string): Promise<number> {
  const size = (await d.fs.size(path)) ?? 0;
  const f = await d.fs.openRead(path);
  let scan: PackScan;
  try {
    scan = await scanPack(f, size);
  } finally {
    await f.close();
  }
  const fresh = scan.records.filter((r) => !d.has(r.id));
  const created = scan.header?.createdMs ?? d.clock.now();
  d.index.insertPack({ id: packId, bytes: size, createdAt: created }, fresh, created);
  return fresh.length;
}

/** The start-up scan. Returns its figures and the highest pack id found on disk. */
export async function recoverPacks(d: RecoveryDeps): Promise<{ result: RecoverResult; maxOnDisk: number }> {
  const res: RecoverResult = { tempFilesRemoved: 0, orphanPacks: 0, blocksAdopted: 0, blocksMissing: 0 };
  const retired = new Set(d.index.retired());
  const onDisk = new Map<number, string>();
  for (const sub of await d.fs.readdir(d.packsDir)) {
    const subDir = join(d.packsDir, sub);
    for (const name of await d.fs.readdir(subDir)) {
      const m = /^([0-9a-f]{16})\.pack(\.tmp)?$/.exec(name);
      if (!m || m[2]) {
        // A temp pack was never acknowledged (and anything else here is not ours to serve).
        await d.fs.unlink(join(subDir, name));
        res.tempFilesRemoved++;
        continue;
      }
      onDisk.set(Number.parseInt(m[1] as string, 16), join(subDir, name));
    }
  }
  // An index with no packs at all while packs exist on disk was lost: adopt everything (T08).
  const indexLost = d.index.packs().length === 0 && retired.size === 0;
  for (const [id, path] of onDisk) {
    if (d.index.pack(id)) continue;
    res.orphanPacks++;
    if (!indexLost && retired.has(id)) {
      // Replaced by compaction (its switch was durable before the old packs were deleted).
      await d.fs.unlink(path);
      continue;
    }
    // A batch whose index commit did not happen or did not survive a power loss: its blocks
    // are adopted (acknowledged ones among them stay); a pack with nothing new goes.
    const fresh = await adoptPack(d, id, path);
    res.blocksAdopted += fresh;
    if (fresh === 0) {
      d.index.dropPack(id);
      await d.fs.unlink(path);
    }
  }
  d.index.forgetRetired([...retired]);
  res.blocksMissing += await markLostBlocks(d, (id) => onDisk.has(id));
  return { result: res, maxOnDisk: Math.max(0, ...onDisk.keys()) };
}

/**
 * Marks damaged the indexed blocks whose pack file is gone or too short to hold them (a pack
 * deleted or truncated behind the node's back); returns how many were newly marked. `mayExist`
 * skips the size call for packs known to be absent.
 */
export async function markLostBlocks(d: RecoveryDeps, mayExist: (packId: number) => boolean = () => true): Promise<number> {
  let marked = 0;
  for (const p of d.index.packs()) {
    const size = mayExist(p.id) ? await d.fs.size(d.packPath(p.id)) : null;
    const lost = d.index.blocksOfPack(p.id).filter((b) => !b.damaged && (size === null || b.offset + b.length > size));
    d.index.markDamaged(lost.map((b) => b.id));
    marked += lost.length;
  }
  return marked;
}

/** Drops the index and rebuilds it from every pack on disk. */
export async function rebuildFromPacks(d: RecoveryDeps): Promise<{ blocks: number; packs: number }> {
  d.index.clear();
  let blocks = 0;
  let packs = 0;
  for (const sub of await d.fs.readdir(d.packsDir)) {
    for (const name of await d.fs.readdir(join(d.packsDir, sub))) {
      const m = /^([0-9a-f]{16})\.pack$/.exec(name);
      if (!m) continue;
      blocks += await adoptPack(d, Number.parseInt(m[1] as string, 16), join(d.packsDir, sub, name));
      packs++;
    }
  }
  return { blocks, packs };
}
