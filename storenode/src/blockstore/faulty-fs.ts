/**
 * Test doubles for the disk (RELIABILITY.md H1 and H3), injected through the `fs` option of a
 * block store. Test-only: exported through `@cairn/storenode/testing`, never used by `src/`.
 *
 * - {@link FaultyFs} wraps a real {@link StoreFs} and fails chosen calls with an errno
 *   (ENOSPC, EIO, EACCES), flips a bit on read, or delays calls.
 * - {@link RecordingFs} records every create, write, fsync, rename and unlink, and
 *   {@link RecordingFs.materializeCrash} writes out a state the disk might be in after a power
 *   loss at any recorded moment: un-fsynced bytes dropped or torn, renames and creations not
 *   followed by a directory fsync reverted.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { nodeStoreFs, type StoreFile, type StoreFs } from "./store-fs.js";

/** Operations {@link FaultyFs} can fail. */
export type FsOp = "create" | "write" | "sync" | "rename" | "syncDir" | "read" | "unlink";

interface Fault {
  op: FsOp;
  code: string;
  remaining: number;
  pathIncludes: string | undefined;
}

function errno(code: string, op: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected fault in ${op}`), { code });
}

/** A store fs whose calls fail on demand. */
export class FaultyFs implements StoreFs {
  private faults: Fault[] = [];
  private gates: { op: FsOp; gate: Promise<void> }[] = [];
  private flips = 0;
  /** Calls seen per operation. */
  readonly calls: Record<FsOp, number> = { create: 0, write: 0, sync: 0, rename: 0, syncDir: 0, read: 0, unlink: 0 };

  constructor(private readonly inner: StoreFs = nodeStoreFs) {}

  /** The next `count` calls of `op` (on paths containing `pathIncludes`) fail with `code`. */
  fail(op: FsOp, code: string, count = 1, pathIncludes?: string): this {
    this.faults.push({ op, code, remaining: count, pathIncludes });
    return this;
  }

  /** Every call of `op` fails with `code` until {@link clear}. */
  failAlways(op: FsOp, code: string): this {
    return this.fail(op, code, Number.POSITIVE_INFINITY);
  }

  /** The next `count` reads return data with one bit flipped. */
  flipNextReads(count = 1): this {
    this.flips += count;
    return this;
  }

  /**
   * Holds every call of `op` (a disk slower than the network) until the returned function is
   * called.
   */
  hold(op: FsOp): () => void {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    this.gates.push({ op, gate });
    return () => {
      this.gates = this.gates.filter((g) => g.gate !== gate);
      release();
    };
  }

  private async gated(op: FsOp): Promise<void> {
    for (const g of this.gates) if (g.op === op) await g.gate;
  }

  /** Removes every pending fault. */
  clear(): void {
    this.faults = [];
    this.flips = 0;
  }

  private check(op: FsOp, path: string): void {
    this.calls[op]++;
    const f = this.faults.find((x) => x.op === op && x.remaining > 0 && (x.pathIncludes === undefined || path.includes(x.pathIncludes)));
    if (!f) return;
    f.remaining--;
    throw errno(f.code, op);
  }

  private wrap(file: StoreFile, path: string): StoreFile {
    const read = async (buf: Buffer, offset: number, length: number, position: number): Promise<number> => {
      this.check("read", path);
      const n = await file.read(buf, offset, length, position);
      if (this.flips > 0 && n > 0) {
        this.flips--;
        buf[offset + Math.floor(n / 2)] = (buf[offset + Math.floor(n / 2)] as number) ^ 0x10;
      }
      return n;
    };
    return {
      write: async (bufs) => {
        this.check("write", path);
        await this.gated("write");
        await file.write(bufs);
      },
      read,
      // buffer by buffer through `read`, so that its faults and bit flips apply to runs too
      readv: async (bufs, position) => {
        let got = 0;
        for (const b of bufs) {
          const n = await read(b, 0, b.length, position + got);
          got += n;
          if (n < b.length) break;
        }
        return got;
      },
      sync: async () => {
        this.check("sync", path);
        await this.gated("sync");
        await file.sync();
      },
      close: () => file.close(),
    };
  }

  async create(path: string, opts?: { direct?: boolean }): Promise<StoreFile> {
    this.check("create", path);
    return this.wrap(await this.inner.create(path, opts), path);
  }
  async openRead(path: string): Promise<StoreFile> {
    return this.wrap(await this.inner.openRead(path), path);
  }
  async rename(from: string, to: string): Promise<void> {
    this.check("rename", to);
    await this.inner.rename(from, to);
  }
  async unlink(path: string): Promise<void> {
    this.check("unlink", path);
    await this.inner.unlink(path);
  }
  mkdirp(path: string): Promise<boolean> {
    return this.inner.mkdirp(path);
  }
  readdir(path: string): Promise<string[]> {
    return this.inner.readdir(path);
  }
  size(path: string): Promise<number | null> {
    return this.inner.size(path);
  }
  async syncDir(path: string): Promise<void> {
    this.check("syncDir", path);
    await this.inner.syncDir(path);
  }
}

/** One recorded operation. */
export type RecordedOp =
  | { kind: "create"; path: string; inode: number }
  | { kind: "write"; inode: number; data: Buffer }
  | { kind: "sync"; inode: number }
  | { kind: "rename"; from: string; to: string }
  | { kind: "unlink"; path: string }
  | { kind: "mkdir"; path: string }
  | { kind: "syncDir"; path: string }
  | { kind: "mark"; label: string };

/** Deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A store fs that records what reaches the disk, for power-loss simulation. */
export class RecordingFs implements StoreFs {
  readonly ops: RecordedOp[] = [];
  private nextInode = 1;

  constructor(
    /** Only paths under this root are recorded and materialized. */
    private readonly root: string,
    private readonly inner: StoreFs = nodeStoreFs,
  ) {}

  /** Adds a labelled marker (e.g. "ack") at the current position. */
  mark(label: string): number {
    this.ops.push({ kind: "mark", label });
    return this.ops.length;
  }

  async create(path: string, opts?: { direct?: boolean }): Promise<StoreFile> {
    const f = await this.inner.create(path, opts);
    const inode = this.nextInode++;
    this.ops.push({ kind: "create", path, inode });
    return {
      write: async (bufs) => {
        await f.write(bufs);
        this.ops.push({ kind: "write", inode, data: Buffer.concat(bufs as Buffer[]) });
      },
      read: (b, o, l, p) => f.read(b, o, l, p),
      sync: async () => {
        await f.sync();
        this.ops.push({ kind: "sync", inode });
      },
      close: () => f.close(),
    };
  }
  openRead(path: string): Promise<StoreFile> {
    return this.inner.openRead(path);
  }
  async rename(from: string, to: string): Promise<void> {
    await this.inner.rename(from, to);
    this.ops.push({ kind: "rename", from, to });
  }
  async unlink(path: string): Promise<void> {
    await this.inner.unlink(path);
    this.ops.push({ kind: "unlink", path });
  }
  async mkdirp(path: string): Promise<boolean> {
    const made = await this.inner.mkdirp(path);
    if (made) this.ops.push({ kind: "mkdir", path });
    return made;
  }
  readdir(path: string): Promise<string[]> {
    return this.inner.readdir(path);
  }
  size(path: string): Promise<number | null> {
    return this.inner.size(path);
  }
  async syncDir(path: string): Promise<void> {
    await this.inner.syncDir(path);
    this.ops.push({ kind: "syncDir", path });
  }

  /**
   * Writes into `target` the files under `root` as they might be after a power loss right
   * after operation `upTo` (exclusive): each file keeps its fsynced bytes plus a random prefix
   * of the rest; each directory entry created, renamed or removed since that directory's last
   * fsync is randomly kept or reverted. Returns the number of files written.
   */
  materializeCrash(seed: number, upTo: number, target: string): number {
    const rnd = prng(seed);
    const content = new Map<number, { durable: number; data: Buffer[] }>();
    // per directory: name → inode, volatile and as of the last fsync of that directory
    const live = new Map<string, Map<string, number>>();
    const synced = new Map<string, Map<string, number>>();
    const dirOf = (p: string) => {
      const d = dirname(p);
      if (!live.has(d)) live.set(d, new Map());
      if (!synced.has(d)) synced.set(d, new Map());
      return { d, name: basename(p), live: live.get(d) as Map<string, number> };
    };
    for (const op of this.ops.slice(0, upTo)) {
      if (op.kind === "create") {
        content.set(op.inode, { durable: 0, data: [] });
        const e = dirOf(op.path);
        e.live.set(e.name, op.inode);
      } else if (op.kind === "write") content.get(op.inode)?.data.push(op.data);
      else if (op.kind === "sync") {
        const c = content.get(op.inode);
        if (c) c.durable = c.data.reduce((n, b) => n + b.length, 0);
      } else if (op.kind === "rename") {
        const a = dirOf(op.from);
        const b = dirOf(op.to);
        const inode = a.live.get(a.name);
        a.live.delete(a.name);
        if (inode !== undefined) b.live.set(b.name, inode);
      } else if (op.kind === "unlink") {
        const a = dirOf(op.path);
        a.live.delete(a.name);
      } else if (op.kind === "syncDir") {
        const d = dirOf(join(op.path, "x")).d;
        synced.set(d, new Map(live.get(d)));
      }
    }
    let files = 0;
    for (const [d, entries] of live) {
      const durable = synced.get(d) ?? new Map<string, number>();
      const names = new Set([...entries.keys(), ...durable.keys()]);
      for (const name of names) {
        const v = entries.get(name);
        const s = durable.get(name);
        const inode = v === s ? v : rnd() < 0.5 ? v : s;
        if (inode === undefined) continue;
        const c = content.get(inode);
        if (!c) continue;
        const all = Buffer.concat(c.data);
        const keep = c.durable + Math.floor(rnd() * (all.length - c.durable + 1));
        const out = join(target, relative(this.root, d));
        mkdirSync(out, { recursive: true });
        writeFileSync(join(out, name), all.subarray(0, keep));
        files++;
      }
    }
    return files;
  }
}
