/**
 * The block store of one archive: sealed blocks, keyed by their 32-byte id, with the SHA-256 of
 * each stored ciphertext so that the node can verify without keys (RELIABILITY.md §5.7).
 *
 * Contract every implementation keeps (checked by `runBlockStoreTests` in ./testing.ts):
 * - **Durable before resolved.** `putBatch` resolves only once every block it reports `stored`
 *   is durable and indexed; for a directory store: written to a temporary pack, fsync, rename,
 *   fsync of the directory, then the index rows committed. Callers acknowledge blocks only then.
 * - **All or nothing per batch.** If the batch fails (ENOSPC, EIO) nothing of it becomes visible
 *   and the call rejects with DESTINATION_FULL or STORE_IO; blocks written before are untouched.
 * - **Verified before visible.** A block whose bytes do not hash to the SHA-256 the caller gave
 *   is refused (`INTEGRITY`) and never indexed.
 * - **Idempotent.** Putting an id the store already holds (and that is not damaged) writes
 *   nothing and reports `present`; a damaged block is replaced (heal).
 * - **Never serve unverified data.** `get` checks length and SHA-256 on every read; a block that
 *   fails is marked damaged and `get` throws INTEGRITY; a missing one throws NOT_FOUND.
 * - **Index before data.** `deleteIndex` removes entries at once; their bytes are reclaimed
 *   later by `compact`, which writes new packs before it switches the index and only then deletes
 *   the old packs. The index never points at a deleted pack.
 * - **Synchronous index.** `has`, `stat`, `list` and `deleteIndex` are synchronous (the index
 *   is local for every implementation), so a caller can check references and delete in one turn
 *   of the event loop with nothing interleaving (GC relies on this).
 * - One writer: a store instance is used by one process; concurrent `putBatch` calls are allowed
 *   and are applied one after the other.
 */

/** A block to store. */
export interface PutBlock {
  /** 32-byte block id. */
  id: Buffer;
  /** SHA-256 of `data`, as the sender computed it. */
  sha: Buffer;
  data: Buffer;
}

/** Outcome of one block of a batch. */
export type PutOutcome = "stored" | "present" | "integrity";

/** What the index knows of a block. */
export interface BlockInfo {
  id: Buffer;
  length: number;
  sha: Buffer;
  /** Server time the block was stored. */
  storedAt: number;
  damaged: boolean;
}

/** Totals of a store. */
export interface BlockStoreStats {
  blocks: number;
  /** Sum of live block lengths. */
  bytes: number;
  /** Bytes of all pack files (live, dead and headers). */
  packBytes: number;
  packs: number;
  damaged: number;
}

/** Result of a verification pass. */
export interface VerifyResult {
  checked: number;
  /** Ids that failed (now marked damaged), including blocks whose pack is missing. */
  damaged: Buffer[];
  /** Blocks marked damaged before that read intact this time (their mark cleared). */
  repaired: number;
}

/** Result of compaction. */
export interface CompactResult {
  packsRewritten: number;
  bytesRemoved: number;
}

/** Result of the start-up scan. */
export interface RecoverResult {
  /** Temporary packs (never acknowledged) removed. */
  tempFilesRemoved: number;
  /** Packs found on disk but not in the index: their valid blocks adopted, then removed if empty. */
  orphanPacks: number;
  blocksAdopted: number;
  /** Indexed blocks whose pack is missing or too short: marked damaged. */
  blocksMissing: number;
}

/** Options of compaction. */
export interface CompactOptions {
  /** Rewrite a pack when live bytes are below this fraction of its size (default 0.5). */
  minLiveRatio?: number;
  /** Packs smaller than this are merged together (default 4 MiB). */
  smallPackBytes?: number;
  signal?: AbortSignal;
  /** Bytes the compaction may use for new packs (free space minus reserve). */
  spaceBudgetBytes?: number;
}

/** Options of {@link BlockStore.putBatch}. */
export interface PutBatchOptions {
  /**
   * Called synchronously inside the index transaction that makes the batch visible (alone when
   * nothing needed writing), with the outcomes: rows the caller writes to the same database here
   * commit atomically with the index rows.
   */
  onIndexed?: (outcomes: readonly PutOutcome[]) => void;
}

/** Spare bytes around a block read by {@link BlockStore.read}. */
export interface ReadRoom {
  before(length: number): number;
  after: number;
}

/** The block store of one archive. */
export interface BlockStore {
  /** Stores a batch durably (see the contract above). One result per block, in order. */
  putBatch(blocks: readonly PutBlock[], opts?: PutBatchOptions): Promise<PutOutcome[]>;
  /** Whether the store holds `id` undamaged. */
  has(id: Buffer): boolean;
  /** Index entry of `id`, damaged or not. */
  stat(id: Buffer): BlockInfo | null;
  /** Reads and verifies a block. Throws NOT_FOUND or INTEGRITY. */
  get(id: Buffer): Promise<Buffer>;
  /**
   * Looks `id` up now and starts reading it into a new buffer with `room.before(length)` spare
   * bytes ahead of the data and `room.after` behind it (so that a frame can be written around the
   * block in place). `length` is known at once (for read-ahead budgets); `done` resolves to the
   * whole buffer once the data is read and its SHA-256 checked. Throws NOT_FOUND or INTEGRITY
   * (at once from the index, or through `done`).
   */
  read(id: Buffer, room?: ReadRoom): { length: number; done: Promise<Buffer> };
  /** Index entries in id order after `afterId` (exclusive), at most `limit`. */
  list(afterId: Buffer | null, limit: number): BlockInfo[];
  /** Removes index entries (their bytes become dead until compaction); returns how many existed. */
  deleteIndex(ids: readonly Buffer[]): number;
  /** Up to `limit` ids of blocks marked damaged (what a device is asked to re-send). */
  damagedIds(limit: number): Buffer[];
  /** Marks blocks damaged (a failed read elsewhere). */
  markDamaged(ids: readonly Buffer[]): void;
  /** Reads every block and checks its SHA-256; marks failures damaged and clears the mark of damaged blocks read intact. */
  verify(opts?: { signal?: AbortSignal }): Promise<VerifyResult>;
  /** Rewrites packs that are mostly dead bytes, and merges small packs. */
  compact(opts?: CompactOptions): Promise<CompactResult>;
  /** Start-up scan: removes temp files, adopts orphan packs, marks blocks of missing packs. */
  recover(): Promise<RecoverResult>;
  /**
   * Marks damaged the blocks whose pack file is gone or truncated (T08: a pack deleted behind the
   * node's back while it runs); returns how many. Cheap: one size call per pack, no reads.
   */
  checkPacks(): Promise<number>;
  /** Drops the index and rebuilds it from the packs alone (T08). */
  rebuildIndex(): Promise<{ blocks: number; packs: number }>;
  stats(): BlockStoreStats;
  close(): Promise<void>;
}
