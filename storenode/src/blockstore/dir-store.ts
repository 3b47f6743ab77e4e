/**
 * A block store on a directory: blocks appended, batch by batch, to write-once pack files under
 * `<dir>/packs/<xx>/<packId>.pack` (xx = low byte of the pack id, to keep directories small),
 * indexed in SQLite tables `bs_packs` and `bs_blocks` of a database the caller owns (the
 * archive's index, so that version rows and block rows share one transaction log).
 *
 * Write path of one batch (group commit: many blocks share one fsync):
 *   write `<id>.pack.tmp` → fsync → rename to `<id>.pack` → fsync the directory → index rows
 *   committed → resolve (the caller acknowledges). The pack is the durable record: its header
 *   names every block, so if a power loss takes the index rows (committed with
 *   synchronous=NORMAL), the start-up scan adopts the pack again.
 */
import { join } from "node:path";
import type Database from "better-sqlite3";
import { CairnError, type Clock, MAX_SEALED_BLOCK_BYTES } from "@cairn/protocol";
import { type CrashPoint, noCrash } from "../crash.js";
import type {
  BlockInfo,
  BlockStore,
  BlockStoreStats,
  CompactOptions,
  CompactResult,
  PutBatchOptions,
  PutBlock,
  PutOutcome,
  ReadRoom,
  RecoverResult,
  VerifyResult,
} from "./blockstore.js";
import { blockSha, decodeRecordHeader, encodePackHeader, encodeRecordHeader, PACK_HEADER_BYTES, RECORD_HEADER_BYTES } from "./pack-format.js";
import { nodeStoreFs, type StoreFile, type StoreFs } from "./store-fs.js";
import { DirStoreIndex } from "./dir-store-index.js";
import { markLostBlocks, type RecoveryDeps, rebuildFromPacks, recoverPacks } from "./dir-store-recovery.js";
import { type CompactDeps, compactPacks } from "./dir-store-compact.js";

/** Options of {@link DirStore}. */
export interface DirStoreOptions {
  /** The archive directory; packs go to `<dir>/packs`. */
  dir: string;
  /** Database holding the index tables (created if absent). */
  db: Database.Database;
  clock: Clock;
  /** File-system calls (a faulty or recording one in tests). */
  fs?: StoreFs;
  crash?: CrashPoint;
  /** Batches written at the same time, so that one batch's fsync overlaps the next one's writes (default 3). */
  concurrentBatches?: number;
  /** Pack files kept open for reading (default 32). */
  maxOpenPacks?: number;
}

/** An open pack file of the read cache; closed once evicted (or its pack deleted) and no read uses it. */
interface OpenPack {
  file: Promise<StoreFile>;
  refs: number;
  dead: boolean;
}

/** Whether a record's header (the first bytes of `rec`) is intact and names the indexed block. */
function recordIntact(rec: Buffer, b: { id: Buffer; length: number; sha: Buffer }): boolean {
  const h = decodeRecordHeader(rec.subarray(0, RECORD_HEADER_BYTES));
  return h !== null && h.length === b.length && h.id.equals(b.id) && h.sha.equals(b.sha);
}

/** Blocks verify reads ahead of its hashing. */
const VERIFY_AHEAD = 8;

const NO_ROOM: ReadRoom = { before: () => 0, after: 0 };

/** Most blocks read by one `readv` (their records adjacent in one pack). */
const MAX_READ_RUN = 16;

/** A block read waiting for the end of the current turn, to be merged with its neighbours. */
interface QueuedRead {
  packId: number;
  offset: number;
  length: number;
  into: Buffer;
  at: number;
  resolve(b: Buffer | null): void;
  reject(e: unknown): void;
}

/** Maps an fs error to the node's error codes: a full disk is DESTINATION_FULL, nothing else. */
export function storeError(err: unknown, what: string): CairnError {
  if (err instanceof CairnError) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === "ENOSPC" || code === "EDQUOT") return new CairnError("DESTINATION_FULL", "destination full: the store point is out of space", { cause: err });
  return new CairnError("STORE_IO", `${what} failed`, { cause: err });
}

function closePack(p: OpenPack): void {
  p.file.then(
    (f) => f.close().catch(() => {}),
    () => {},
  );
}

/** The directory block store. */
export class DirStore implements BlockStore {
  private readonly dir: string;
  private readonly packsDir: string;
  private readonly fs: StoreFs;
  private readonly clock: Clock;
  private readonly crash: CrashPoint;
  private readonly index: DirStoreIndex;
  private nextPackId: number;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly knownDirs = new Set<string>();
  /** Blocks being written by a batch in flight: resolves true once durable and indexed. */
  private readonly inflight = new Map<string, Promise<boolean>>();
  private readonly running = new Set<Promise<unknown>>();
  private slots: number;
  private readonly waiting: (() => void)[] = [];
  private closed = false;
  /** Pack files open for reading, least recently used first (packs are write-once: an fd stays valid). */
  private readonly openPacks = new Map<number, OpenPack>();
  private readonly maxOpenPacks: number;
  /** Packs deleted (or being deleted) by compaction: ids are never reused, so they stay uncached. */
  private readonly deletedPacks = new Set<number>();
  /** Block reads asked for in this turn (see {@link queueRead}). */
  private readQueue: QueuedRead[] = [];
  /** Where a run's `readv` puts the record headers between its blocks (never looked at). */
  private readonly gapScratch = Buffer.allocUnsafe(RECORD_HEADER_BYTES);

  constructor(opts: DirStoreOptions) {
    this.dir = opts.dir;
    this.packsDir = join(opts.dir, "packs");
    this.fs = opts.fs ?? nodeStoreFs;
    this.clock = opts.clock;
    this.crash = opts.crash ?? noCrash;
    this.index = new DirStoreIndex(opts.db);
    this.nextPackId = this.index.maxPackId() + 1;
    this.slots = opts.concurrentBatches ?? 3;
    this.maxOpenPacks = opts.maxOpenPacks ?? 32;
  }

  /** Path of a pack file. */
  packPath(packId: number): string {
    // 256 consecutive packs share a directory: a batch rarely has to create (and fsync) one.
    return join(
      this.packsDir,
      Math.floor(packId / 256)
        .toString(16)
        .padStart(6, "0"),
      `${packId.toString(16).padStart(16, "0")}.pack`,
    );
  }

  putBatch(blocks: readonly PutBlock[], opts: PutBatchOptions = {}): Promise<PutOutcome[]> {
    const run = this.withSlot(() => this.writeBatch(blocks, opts));
    this.running.add(run);
    run.then(
      () => this.running.delete(run),
      () => this.running.delete(run),
    );
    return run;
  }

  private async withSlot<T>(fn: () => Promise<T>): Promise<T> {
    while (this.slots === 0) await new Promise<void>((r) => this.waiting.push(r));
    this.slots--;
    try {
      return await fn();
    } finally {
      this.slots++;
      this.waiting.shift()?.();
    }
  }

  /** Runs compaction rewrites one after the other. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(() => {
      // A rewrite queued before close() and reached after it does not start.
      if (this.closed) throw new CairnError("UNAVAILABLE", "block store is closed");
      return fn();
    });
    this.chain = run.catch(() => {});
    return run;
  }

  private async writeBatch(blocks: readonly PutBlock[], opts: PutBatchOptions): Promise<PutOutcome[]> {
    if (this.closed) throw new CairnError("UNAVAILABLE", "block store is closed");
    const out: PutOutcome[] = [];
    const toWrite: PutBlock[] = [];
    const inBatch = new Set<string>();
    const others: Promise<boolean>[] = [];
    // One index query per 256 blocks rather than one per block.
    const indexed = this.index.lookup(blocks.filter((b) => b.id.length === 32).map((b) => b.id));
    for (const b of blocks) {
      const key = b.id.toString("hex");
      if (b.data.length < 1 || b.data.length > MAX_SEALED_BLOCK_BYTES || b.id.length !== 32 || !blockSha(b.data).equals(b.sha)) {
        out.push("integrity");
      } else if (inBatch.has(key) || indexed.get(key) === false) {
        out.push("present");
      } else if (this.inflight.has(key)) {
        // Another batch in flight writes it: present once that batch is durable (awaited below).
        others.push(this.inflight.get(key) as Promise<boolean>);
        out.push("present");
      } else {
        inBatch.add(key);
        toWrite.push(b);
        out.push("stored");
      }
    }
    if (toWrite.length === 0) {
      await this.awaitOthers(others);
      opts.onIndexed?.(out);
      return out;
    }
    let settle!: (ok: boolean) => void;
    const mine = new Promise<boolean>((r) => {
      settle = r;
    });
    for (const key of inBatch) this.inflight.set(key, mine);
    let ok = false;
    try {
      const packId = this.nextPackId++;
      const now = this.clock.now();
      const bufs: Buffer[] = [encodePackHeader(packId, now)];
      const rows: { id: Buffer; offset: number; length: number; sha: Buffer; replacing: boolean }[] = [];
      let pos = PACK_HEADER_BYTES;
      for (const b of toWrite) {
        bufs.push(encodeRecordHeader(b.id, b.data.length, b.sha), b.data);
        // A damaged entry is replaced (its pack's live bytes change); a new id has no row (and no
        // other batch can add one meanwhile: `inflight` makes it wait for this one).
        const replacing = indexed.has(b.id.toString("hex"));
        rows.push({ id: b.id, offset: pos + RECORD_HEADER_BYTES, length: b.data.length, sha: b.sha, replacing });
        pos += RECORD_HEADER_BYTES + b.data.length;
      }
      await this.writePack(packId, bufs, "put");
      await this.awaitOthers(others);
      this.index.insertPack({ id: packId, bytes: pos, createdAt: now }, rows, now, () => opts.onIndexed?.(out));
      ok = true;
      this.crash("put.afterIndexCommitBeforeAck");
      return out;
    } finally {
      for (const key of inBatch) this.inflight.delete(key);
      settle(ok);
    }
  }

  /** Waits for the batches in flight that write blocks this batch reports present. */
  private async awaitOthers(others: readonly Promise<boolean>[]): Promise<void> {
    for (const ok of await Promise.all(others)) {
      if (!ok) throw new CairnError("STORE_IO", "a concurrent write of the same block failed");
    }
  }

  /** Writes a pack durably: temp file, fsync, rename, fsync of the directory. */
  private async writePack(packId: number, bufs: readonly Buffer[], kind: "put" | "compact"): Promise<void> {
    const final = this.packPath(packId);
    const sub = join(final, "..");
    const tmp = `${final}.tmp`;
    let renamed = false;
    try {
      if (!this.knownDirs.has(sub)) {
        if (await this.fs.mkdirp(sub)) {
          // The new directory's entry (and packs/ itself, the first time) must survive power loss too.
          await this.fs.syncDir(this.packsDir);
          await this.fs.syncDir(this.dir);
        }
        this.knownDirs.add(sub);
      }
      const f = await this.fs.create(tmp, { direct: true });
      try {
        await f.write(bufs);
        if (kind === "put") this.crash("put.beforeFsync");
        await f.sync();
      } finally {
        await f.close();
      }
      if (kind === "put") this.crash("put.afterFsyncBeforeRename");
      await this.fs.rename(tmp, final);
      renamed = true;
      if (kind === "put") this.crash("put.afterRenameBeforeDirFsync");
      await this.fs.syncDir(sub);
    } catch (err) {
      await this.fs.unlink(renamed ? final : tmp).catch(() => {});
      throw storeError(err, "writing a pack");
    }
  }

  has(id: Buffer): boolean {
    return this.index.hasIntact(id);
  }

  stat(id: Buffer): BlockInfo | null {
    const r = this.index.block(id);
    return r ? { id: r.id, length: r.length, sha: r.sha, storedAt: r.storedAt, damaged: r.damaged } : null;
  }

  get(id: Buffer): Promise<Buffer> {
    try {
      return this.read(id).done;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  read(id: Buffer, room: ReadRoom = NO_ROOM): { length: number; done: Promise<Buffer> } {
    const r = this.index.block(id);
    if (!r) throw new CairnError("NOT_FOUND", "block not found");
    if (r.damaged) throw new CairnError("INTEGRITY", "block is damaged", { details: { blockId: id.toString("hex") } });
    const before = room.before(r.length);
    const buf = Buffer.allocUnsafe(before + r.length + room.after);
    const done = this.queueRead(r.pack, r.offset, r.length, buf, before).then(async (data) => {
      if (data && blockSha(data).equals(r.sha)) return buf;
      // Compaction may have moved the block (and deleted the pack this read looked it up in)
      // between the lookup and the read: the block is damaged only if it is still where it was
      // read from; otherwise it is read once more at its new place.
      const now = this.index.block(id);
      if (now && !now.damaged && this.movedSince(id, r) && now.length === r.length) {
        const again = await this.readBlock(now.pack, now.offset, now.length, buf, before);
        if (again && blockSha(again).equals(now.sha)) return buf;
        if (!this.movedSince(id, now)) this.index.markDamaged([id]);
      } else if (now && !this.movedSince(id, r)) this.index.markDamaged([id]);
      throw new CairnError("INTEGRITY", "block failed its SHA-256 check", { details: { blockId: id.toString("hex") } });
    });
    return { length: r.length, done };
  }

  /**
   * Reads `length` bytes of a pack at `offset` (into `into` at `at`, or a new buffer) through the
   * open-pack cache; returns the bytes read, or null when the pack is missing or short.
   */
  private async readBlock(packId: number, offset: number, length: number, into?: Buffer, at = 0): Promise<Buffer | null> {
    const p = this.openPack(packId);
    try {
      let f: StoreFile;
      try {
        f = await p.file;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
        throw storeError(err, "reading a pack");
      }
      const buf = into ?? Buffer.allocUnsafe(length);
      try {
        const n = await f.read(buf, at, length, offset);
        return n === length ? buf.subarray(at, at + length) : null;
      } catch (err) {
        throw storeError(err, "reading a pack");
      }
    } finally {
      this.releasePack(p);
    }
  }

  /**
   * {@link readBlock}, but merged with the other reads asked for in the same turn: reads of
   * blocks whose records are adjacent in a pack (a restore asks for the blocks of consecutive
   * files, which a backup wrote together) become one `readv` of the run, the record headers
   * between them read into a scratch buffer. On this project's VM each asynchronous read cost the
   * event loop ~20 µs whatever its size, 2.8 s of a 1 GB restore's node profile.
   */
  private queueRead(packId: number, offset: number, length: number, into: Buffer, at: number): Promise<Buffer | null> {
    return new Promise<Buffer | null>((resolve, reject) => {
      this.readQueue.push({ packId, offset, length, into, at, resolve, reject });
      if (this.readQueue.length === 1) queueMicrotask(() => this.flushReads());
    });
  }

  private flushReads(): void {
    const q = this.readQueue;
    this.readQueue = [];
    q.sort((a, b) => a.packId - b.packId || a.offset - b.offset);
    for (let i = 0; i < q.length; ) {
      let j = i + 1;
      while (j < q.length && j - i < MAX_READ_RUN) {
        const prev = q[j - 1] as QueuedRead;
        const cur = q[j] as QueuedRead;
        // blocks of adjacent records (a record header between them), or reads that touch (verify
        // reads each record's header with its data)
        const gap = cur.offset - (prev.offset + prev.length);
        if (cur.packId !== prev.packId || (gap !== RECORD_HEADER_BYTES && gap !== 0)) break;
        j++;
      }
      const run = q.slice(i, j);
      if (run.length === 1) {
        const r = run[0] as QueuedRead;
        this.readBlock(r.packId, r.offset, r.length, r.into, r.at).then(r.resolve, r.reject);
      } else void this.readRun(run);
      i = j;
    }
  }

  /** Reads adjacent blocks of one pack with one `readv`; each read settles on its own. */
  private async readRun(run: readonly QueuedRead[]): Promise<void> {
    const first = run[0] as QueuedRead;
    const one = (r: QueuedRead): void => {
      this.readBlock(r.packId, r.offset, r.length, r.into, r.at).then(r.resolve, r.reject);
    };
    const p = this.openPack(first.packId);
    try {
      let f: StoreFile;
      try {
        f = await p.file;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") for (const r of run) r.resolve(null);
        else for (const r of run) r.reject(storeError(err, "reading a pack"));
        return;
      }
      if (!f.readv) {
        for (const r of run) one(r);
        return;
      }
      const bufs: Buffer[] = [];
      let want = 0;
      let end = first.offset;
      for (const r of run) {
        if (r.offset !== end) {
          bufs.push(this.gapScratch);
          want += RECORD_HEADER_BYTES;
        }
        bufs.push(r.into.subarray(r.at, r.at + r.length));
        want += r.length;
        end = r.offset + r.length;
      }
      let n: number;
      try {
        n = await f.readv(bufs, first.offset);
      } catch (err) {
        for (const r of run) r.reject(storeError(err, "reading a pack"));
        return;
      }
      if (n === want) for (const r of run) r.resolve(r.into.subarray(r.at, r.at + r.length));
      else for (const r of run) one(r); // the pack ends early: each block finds out on its own
    } finally {
      this.releasePack(p);
    }
  }

  /** The open pack file (opening it), with a reference the caller releases. */
  private openPack(packId: number): OpenPack {
    let p = this.openPacks.get(packId);
    if (p) {
      this.openPacks.delete(packId); // most recently used goes last
    } else {
      const file = this.fs.openRead(this.packPath(packId));
      // A pack compaction is deleting (a read that looked its block up before the switch) is
      // opened for this read alone, never cached: no handle keeps a deleted pack's space.
      // So is any pack opened after close() (a verification or compaction still finishing).
      p = { file, refs: 0, dead: this.closed || this.deletedPacks.has(packId) };
      // A failed open is not cached: the next read tries again.
      file.catch(() => {
        if (this.openPacks.get(packId) === p) this.openPacks.delete(packId);
      });
      this.evictPacks(this.maxOpenPacks - 1);
    }
    p.refs++;
    if (!p.dead) this.openPacks.set(packId, p);
    return p;
  }

  private releasePack(p: OpenPack): void {
    p.refs--;
    if (p.dead && p.refs === 0) closePack(p);
    else if (this.openPacks.size > this.maxOpenPacks) this.evictPacks(this.maxOpenPacks);
  }

  /** Closes least recently used packs no read is using until at most `keep` are open. */
  private evictPacks(keep: number): void {
    for (const [id, p] of this.openPacks) {
      if (this.openPacks.size <= keep) return;
      if (p.refs > 0) continue;
      this.openPacks.delete(id);
      closePack(p);
    }
  }

  /** Closes a pack's cached file (before the pack is deleted; reads in progress finish first). */
  private forgetPack(packId: number): void {
    this.deletedPacks.add(packId);
    const p = this.openPacks.get(packId);
    if (!p) return;
    this.openPacks.delete(packId);
    p.dead = true;
    if (p.refs === 0) closePack(p);
  }

  list(afterId: Buffer | null, limit: number): BlockInfo[] {
    return this.index.list(afterId, limit);
  }

  deleteIndex(ids: readonly Buffer[]): number {
    return this.index.deleteBlocks(ids);
  }

  /** Whether the index now places block `id` somewhere other than `at`. */
  private movedSince(id: Buffer, at: { pack: number; offset: number }): boolean {
    const now = this.index.block(id);
    return now !== undefined && (now.pack !== at.pack || now.offset !== at.offset);
  }

  damagedIds(limit: number): Buffer[] {
    return this.index.damagedIds(limit);
  }

  markDamaged(ids: readonly Buffer[]): void {
    this.index.markDamaged(ids);
  }

  async verify(opts: { signal?: AbortSignal } = {}): Promise<VerifyResult> {
    const damaged: Buffer[] = [];
    const repaired: Buffer[] = [];
    const blockAt = new Map<string, { pack: number; offset: number }>();
    let checked = 0;
    for (const pack of this.index.packs()) {
      const blocks = this.index.blocksOfPack(pack.id);
      // Reads run VERIFY_AHEAD to 2·VERIFY_AHEAD blocks ahead of the hashing, started
      // VERIFY_AHEAD at a time so that adjacent ones merge into one readv (queueRead). Each read
      // is settled into a result at once (no unhandled rejection while it waits its turn).
      const reads: (Promise<{ data: Buffer | null } | { err: unknown }> | null)[] = [];
      const start = (i: number): void => {
        const b = blocks[i];
        if (b)
          // the record's header with its data: a header whose CRC, id, length or SHA-256 no longer
          // matches loses the block at the next index rebuild from the packs (T08), so it counts
          // a block already marked damaged is read again: an intact record (its pack put back
          // from a copy) clears the mark; a read that fails keeps it
          reads[i] = this.queueRead(
            pack.id,
            b.offset - RECORD_HEADER_BYTES,
            b.length + RECORD_HEADER_BYTES,
            Buffer.allocUnsafe(RECORD_HEADER_BYTES + b.length),
            0,
          ).then(
            (data) => ({ data }),
            (err: unknown) => ({ err }),
          );
      };
      for (let i = 0; i < 2 * VERIFY_AHEAD; i++) start(i);
      for (let i = 0; i < blocks.length; i++) {
        const b = blocks[i] as (typeof blocks)[number];
        opts.signal?.throwIfAborted();
        if (this.closed) throw new CairnError("UNAVAILABLE", "block store is closed");
        if (i > 0 && i % VERIFY_AHEAD === 0) for (let k = 0; k < VERIFY_AHEAD; k++) start(i + VERIFY_AHEAD + k);
        checked++;
        const read = reads[i];
        reads[i] = null;
        const r = read !== null && read !== undefined ? await read : { data: null };
        if ("err" in r && !b.damaged) throw r.err;
        const data = "data" in r ? r.data : null;
        if (!data || !recordIntact(data, b) || !blockSha(data.subarray(RECORD_HEADER_BYTES)).equals(b.sha)) {
          damaged.push(b.id);
          blockAt.set(b.id.toString("hex"), { pack: pack.id, offset: b.offset });
        } else if (b.damaged) repaired.push(b.id);
      }
    }
    // A block compaction moved while the verification read its old pack is not damaged.
    const stillDamaged = damaged.filter((id) => {
      const at = blockAt.get(id.toString("hex"));
      return at === undefined ? this.index.block(id) !== undefined : this.index.block(id) !== undefined && !this.movedSince(id, at);
    });
    this.index.markDamaged(stillDamaged);
    this.index.markIntact(repaired);
    return { checked, damaged: stillDamaged, repaired: repaired.length };
  }

  async compact(opts: CompactOptions = {}): Promise<CompactResult> {
    const deps: CompactDeps = {
      index: this.index,
      fs: this.fs,
      clock: this.clock,
      crash: this.crash,
      allocPackId: () => this.nextPackId++,
      packPath: (id) => this.packPath(id),
      readBlock: (pack, offset, length) => this.readBlock(pack, offset, length),
      forgetPack: (id) => this.forgetPack(id),
      writePack: (id, bufs) => this.writePack(id, bufs, "compact"),
      // Rewrites run one after the other (puts go on concurrently; switches are guarded).
      serial: (fn) => this.serial(fn),
    };
    return compactPacks(deps, opts);
  }

  async recover(): Promise<RecoverResult> {
    const { result, maxOnDisk } = await recoverPacks(this.recoveryDeps());
    this.nextPackId = Math.max(this.nextPackId, this.index.maxPackId() + 1, maxOnDisk + 1);
    return result;
  }

  checkPacks(): Promise<number> {
    return markLostBlocks(this.recoveryDeps());
  }

  async rebuildIndex(): Promise<{ blocks: number; packs: number }> {
    const r = await rebuildFromPacks(this.recoveryDeps());
    this.nextPackId = Math.max(this.nextPackId, this.index.maxPackId() + 1);
    return r;
  }

  private recoveryDeps(): RecoveryDeps {
    return { fs: this.fs, index: this.index, packsDir: this.packsDir, packPath: (id) => this.packPath(id), clock: this.clock, has: (id) => this.has(id) };
  }

  stats(): BlockStoreStats {
    return this.index.stats();
  }

  async close(): Promise<void> {
    await this.chain.catch(() => {});
    await Promise.allSettled([...this.running]);
    this.closed = true;
    for (const [id, p] of [...this.openPacks]) {
      this.openPacks.delete(id);
      p.dead = true;
      if (p.refs === 0) closePack(p);
    }
  }
}
