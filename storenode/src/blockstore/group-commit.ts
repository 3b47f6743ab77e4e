/**
 * Group commit in front of a {@link BlockStore}: blocks that arrive while a batch is being made
 * durable wait and go together into the next batch, so many blocks share one set of fsyncs. With
 * a fast sender batches grow to (throughput × fsync latency); with a slow one each block is its
 * own small batch (compaction merges small packs later). Each `put` resolves when its block is
 * durable and indexed, never before.
 */
import type { BlockStore, PutBlock, PutOutcome } from "./blockstore.js";

interface Item<T> {
  block: PutBlock;
  tag: T;
  resolve(o: PutOutcome): void;
  reject(e: unknown): void;
}

/** Options of {@link GroupCommit}. */
export interface GroupCommitOptions<T> {
  /** Largest batch in bytes (default 32 MiB). */
  maxBatchBytes?: number;
  /** Batches in flight at once (default 3): a second starts only once it has a few MiB to write. */
  maxConcurrentBatches?: number;
  /** Runs inside each batch's index transaction with the tags and outcomes of its blocks. */
  onIndexed?: (items: readonly { block: PutBlock; tag: T }[], outcomes: readonly PutOutcome[]) => void;
}

/** A batching writer for one block store. */
export class GroupCommit<T> {
  private queue: Item<T>[] = [];
  private queued = 0;
  private inFlight = 0;
  private flushing: Promise<void> | null = null;
  private batches = 0;
  private readonly maxBatchBytes: number;
  private readonly maxConcurrent: number;
  private readonly minConcurrentBytes: number;

  constructor(
    private readonly store: BlockStore,
    private readonly opts: GroupCommitOptions<T> = {},
  ) {
    this.maxBatchBytes = opts.maxBatchBytes ?? 16 * 1024 * 1024;
    this.maxConcurrent = opts.maxConcurrentBatches ?? 3;
    this.minConcurrentBytes = Math.min(this.maxBatchBytes, 4 * 1024 * 1024);
  }

  /** Bytes accepted but not yet durable. */
  get pendingBytes(): number {
    return this.queued + this.inFlight;
  }

  /** Queues a block; resolves once it is durable (or rejects with the batch's error). */
  put(block: PutBlock, tag: T): Promise<PutOutcome> {
    return new Promise<PutOutcome>((resolve, reject) => {
      this.queue.push({ block, tag, resolve, reject });
      this.queued += block.data.length;
      this.kick();
    });
  }

  /** Resolves when everything queued so far is durable or failed. */
  async drain(): Promise<void> {
    while (this.flushing !== null) await this.flushing;
  }

  private kick(): void {
    if (this.scheduled) return;
    if (this.flushing === null) {
      // Let the blocks that arrive in this turn of the event loop join the first batch.
      this.flushing = new Promise<void>((resolve) => {
        this.idle = resolve;
      });
      this.scheduled = true;
      setImmediate(() => this.dispatch());
      return;
    }
    this.dispatch();
  }

  private idle: (() => void) | null = null;
  private scheduled = false;

  private dispatch(): void {
    this.scheduled = false;
    // Start batches while slots are free: the first at once, more only when they are worth an fsync.
    while (this.queue.length > 0 && this.batches < this.maxConcurrent && (this.batches === 0 || this.queued >= this.minConcurrentBytes)) {
      this.startBatch();
    }
    if (this.batches === 0 && this.queue.length === 0) {
      this.flushing = null;
      this.idle?.();
      this.idle = null;
    }
  }

  private startBatch(): void {
    let n = 0;
    let bytes = 0;
    while (n < this.queue.length && (n === 0 || bytes + (this.queue[n] as Item<T>).block.data.length <= this.maxBatchBytes)) {
      bytes += (this.queue[n] as Item<T>).block.data.length;
      n++;
    }
    const batch = this.queue.splice(0, n);
    this.queued -= bytes;
    this.inFlight += bytes;
    this.batches++;
    const items = batch.map((i) => ({ block: i.block, tag: i.tag }));
    const onIndexed = this.opts.onIndexed;
    this.store
      .putBatch(
        items.map((i) => i.block),
        onIndexed ? { onIndexed: (o) => onIndexed(items, o) } : {},
      )
      .then(
        (outcomes) => {
          batch.forEach((it, i) => {
            it.resolve(outcomes[i] as PutOutcome);
          });
        },
        (err: unknown) => {
          for (const it of batch) it.reject(err);
        },
      )
      .finally(() => {
        this.inFlight -= bytes;
        this.batches--;
        this.dispatch();
      });
  }
}
