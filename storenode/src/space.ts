/**
 * Free space of store points. Blocks are refused with DESTINATION_FULL once a store point's free
 * space would drop below its reserve, so that garbage collection, compaction and purge (which
 * need a little room for their own writes) can always run (T05, borg's `additional_free_space`).
 */
import { statfs } from "node:fs/promises";
import type { StorePointInfo } from "@cairn/protocol";
import type { StorePointRow } from "./node-db.js";

/** What maintenance leaves free on a store point whatever the reserve (the index's own writes: WAL, journal). */
export const MAINTENANCE_FLOOR_BYTES = 16 * 1024 * 1024;

/** Total and free bytes of the file system holding `path`. */
export async function diskSpace(path: string): Promise<{ totalBytes: number; freeBytes: number }> {
  const s = await statfs(path);
  return { totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
}

/** A store point as announced. */
export async function storePointInfo(sp: StorePointRow, idFor: (sp: StorePointRow) => number | null, reserveBytes: number): Promise<StorePointInfo> {
  const { totalBytes, freeBytes } = await diskSpace(sp.path);
  const room = freeBytes > reserveBytes;
  return { storePointId: idFor(sp), name: sp.name, totalBytes, freeBytes, acceptingNew: sp.acceptingNew && room, acceptingData: room };
}

/** Cached free space per store point, so the put path does not call statfs per block. */
export class SpaceMonitor {
  private readonly free = new Map<number, number>();
  private readonly written = new Map<number, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly points: readonly StorePointRow[],
    private readonly reserveBytes: number,
    private readonly onRefresh: (sp: StorePointRow, freeBytes: number) => void = () => {},
  ) {}

  /** Re-reads free space of every store point. */
  async refresh(): Promise<void> {
    for (const sp of this.points) {
      const { freeBytes } = await diskSpace(sp.path).catch(() => ({ freeBytes: 0 }));
      this.free.set(sp.id, freeBytes);
      this.written.set(sp.id, 0);
      this.onRefresh(sp, freeBytes);
    }
  }

  /** Refreshes every `ms` until {@link stop}. */
  start(ms: number): void {
    this.timer = setInterval(() => {
      this.refresh().catch(() => {});
    }, ms);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Free bytes left above the reserve. */
  room(spId: number): number {
    return (this.free.get(spId) ?? 0) - (this.written.get(spId) ?? 0) - this.reserveBytes;
  }

  /**
   * Free bytes maintenance may use: the reserve is kept for it (T05: GC and compaction must run
   * on a store point that refuses new blocks), all of it but a floor for the index's own writes.
   */
  roomForMaintenance(spId: number): number {
    return (this.free.get(spId) ?? 0) - (this.written.get(spId) ?? 0) - Math.min(this.reserveBytes, MAINTENANCE_FLOOR_BYTES);
  }

  /** Whether `bytes` more fit above the reserve. */
  canAccept(spId: number, bytes: number): boolean {
    return this.room(spId) >= bytes;
  }

  /** Counts bytes written since the last refresh. */
  noteWritten(spId: number, bytes: number): void {
    this.written.set(spId, (this.written.get(spId) ?? 0) + bytes);
  }

  /** Free bytes as last read. */
  freeBytes(spId: number): number {
    return this.free.get(spId) ?? 0;
  }
}
