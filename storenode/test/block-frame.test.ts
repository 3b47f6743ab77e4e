import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { DATA_CHANNEL, decodeFrame, encodeFrame, MAX_DATA_FRAME_BYTES, ManualClock, sha256 } from "@cairn/protocol";
import { DirStore } from "../src/blockstore/dir-store.js";
import { nodeStoreFs, type StoreFile, type StoreFs } from "../src/blockstore/store-fs.js";
import { BlockFramer } from "../src/server/block-frame.js";
import { streamBlocks } from "../src/server/data-handlers.js";

describe("hand-written block frames", () => {
  it("are byte for byte what the protocol codec encodes, and decode with it", () => {
    for (const req of [0, 1, 127, 128, 255, 256, 65535, 65536, 2 ** 31, 2 ** 32 - 1]) {
      for (const length of [1, 255, 256, 65535, 65536, 1024 * 1024 + 17]) {
        const framer = new BlockFramer(req);
        const id = randomBytes(32);
        const data = randomBytes(length);
        const head = framer.headBytes(length);
        const out = Buffer.alloc(head + length + BlockFramer.tailBytes, 0xee);
        data.copy(out, head);
        const frame = framer.frame(out, id, length);
        const want = encodeFrame(DATA_CHANNEL.id, { type: "block", req, id, data, error: null });
        expect(frame.equals(want), `req ${req} length ${length}`).toBe(true);
        const msg = decodeFrame(frame, DATA_CHANNEL.id, MAX_DATA_FRAME_BYTES);
        expect(msg).toMatchObject({ type: "block", req, error: null });
        expect((msg as { data: Buffer }).data.equals(data)).toBe(true);
      }
    }
  });
});

function openFds(dir: string): string[] {
  const out: string[] = [];
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const t = readlinkSync(`/proc/self/fd/${fd}`);
      if (t.startsWith(dir) && t.includes(".pack")) out.push(t);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

/**
 * The real StoreFs, with hooks run before each read of an opened (pack) file: `read` before
 * every `read`, `readv` (given the number of buffers) before every `readv`; without a `readv`
 * hook the files have no `readv`, so the store reads block by block.
 */
function packReadsFs(hooks: { read(): Promise<void> | void; readv?(buffers: number): void }): StoreFs {
  return {
    ...nodeStoreFs,
    openRead: async (p) => {
      const f = await nodeStoreFs.openRead(p);
      const file: StoreFile = {
        write: (b) => f.write(b),
        sync: () => f.sync(),
        close: () => f.close(),
        read: async (buf, off, len, pos) => {
          await hooks.read();
          return f.read(buf, off, len, pos);
        },
      };
      const readv = f.readv?.bind(f);
      if (hooks.readv && readv) {
        const before = hooks.readv;
        file.readv = (bufs, pos) => {
          before(bufs.length);
          return readv(bufs, pos);
        };
      }
      return file;
    },
  };
}

/**
 * A real StoreFs whose `n`-th pack read after `arm()` waits until `release()`; `reached`
 * resolves when that read is waiting.
 */
function gatedStoreFs(n: number): { fs: StoreFs; arm(on?: boolean): void; reached: Promise<void>; release(): void } {
  let reads = 0;
  let armed = false;
  let release = (): void => {};
  const gate = new Promise<void>((r) => {
    release = r;
  });
  let gated = (): void => {};
  const reached = new Promise<void>((r) => {
    gated = r;
  });
  const fs = packReadsFs({
    // no readv: every block is its own counted read
    read: async () => {
      if (armed && ++reads === n) {
        gated();
        await gate;
      }
    },
  });
  const arm = (on = true): void => {
    armed = on;
  };
  return { fs, arm, reached, release };
}

describe("restore streaming from the directory store", () => {
  it("streams blocks in order with read-ahead, keeps a bounded set of packs open, closes those compaction deletes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cairn-stream-"));
    const db = new Database(join(dir, "index.db"));
    const store = new DirStore({ dir, db, clock: new ManualClock(), maxOpenPacks: 3 });
    await store.recover();
    const blocks = Array.from({ length: 40 }, (_, i) => {
      const data = randomBytes(100 + i * 997);
      return { id: randomBytes(32), sha: sha256(data), data };
    });
    // One pack per four blocks: ten packs.
    for (let i = 0; i < blocks.length; i += 4) await store.putBatch(blocks.slice(i, i + 4));
    const missing = randomBytes(32);
    const order = [...blocks.slice(20), missing, ...blocks.slice(0, 20)];
    const frames: Buffer[] = [];
    const errors: string[] = [];
    const count = await streamBlocks(
      { store },
      Buffer.concat(order.map((b) => ("id" in b ? b.id : b))),
      {
        reqId: 7,
        signal: new AbortController().signal,
        sendBlock: (_id, _data, error) => errors.push(error?.code ?? "none"),
        drain: async () => {
          expect(openFds(dir).length).toBeLessThanOrEqual(3 + 8);
        },
      },
      (f) => frames.push(Buffer.from(f)),
    );
    expect(count).toBe(40);
    expect(errors).toEqual(["NOT_FOUND"]);
    const sent = order.filter((b): b is (typeof blocks)[number] => "id" in b);
    frames.forEach((f, i) => {
      const m = decodeFrame(f, DATA_CHANNEL.id, MAX_DATA_FRAME_BYTES) as { req: number; id: Buffer; data: Buffer };
      expect(m.req).toBe(7);
      expect(m.id.equals((sent[i] as (typeof blocks)[number]).id)).toBe(true);
      expect(m.data.equals((sent[i] as (typeof blocks)[number]).data)).toBe(true);
    });
    expect(openFds(dir).length).toBeLessThanOrEqual(3);
    // Compaction merges the small packs and deletes them: no handle keeps a deleted pack alive.
    store.deleteIndex(blocks.slice(0, 30).map((b) => b.id));
    await store.compact();
    await new Promise((r) => setTimeout(r, 50));
    expect(openFds(dir).filter((t) => t.endsWith("(deleted)"))).toEqual([]);
    for (const b of blocks.slice(30)) expect((await store.get(b.id)).equals(b.data)).toBe(true);
    await store.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(openFds(dir)).toEqual([]);
    db.close();
  });
});

describe("merged pack reads", () => {
  it("reads a restore's adjacent blocks with few readv calls, and serves a truncated pack's intact blocks", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cairn-readv-"));
    const db = new Database(join(dir, "index.db"));
    const calls = { read: 0, readv: 0, blocks: 0 };
    const fs = packReadsFs({
      read: () => {
        calls.read++;
      },
      readv: (buffers) => {
        calls.readv++;
        calls.blocks += (buffers + 1) / 2;
      },
    });
    const store = new DirStore({ dir, db, clock: new ManualClock(), fs });
    await store.recover();
    const blocks = Array.from({ length: 64 }, (_, i) => {
      const data = randomBytes(1000 + i * 61);
      return { id: randomBytes(32), sha: sha256(data), data };
    });
    await store.putBatch(blocks.slice(0, 32));
    await store.putBatch(blocks.slice(32));
    const frames: Buffer[] = [];
    const stream = () =>
      streamBlocks(
        { store },
        Buffer.concat(blocks.map((b) => b.id)),
        { reqId: 1, signal: new AbortController().signal, sendBlock: () => {}, drain: async () => {} },
        (f) => frames.push(Buffer.from(f)),
      );
    expect(await stream()).toBe(64);
    frames.forEach((f, i) => {
      const m = decodeFrame(f, DATA_CHANNEL.id, MAX_DATA_FRAME_BYTES) as { id: Buffer; data: Buffer };
      expect(m.id.equals((blocks[i] as (typeof blocks)[number]).id)).toBe(true);
      expect(m.data.equals((blocks[i] as (typeof blocks)[number]).data)).toBe(true);
    });
    // 64 blocks in two packs, topped up four at a time: runs of several blocks, not 64 reads
    expect(calls.read + calls.readv).toBeLessThanOrEqual(24);
    expect(calls.blocks).toBeGreaterThanOrEqual(48);
    // the second pack loses its last bytes: its blocks before the cut are still served
    const packs = readdirSync(join(dir, "packs"), { recursive: true })
      .map(String)
      .filter((n) => n.endsWith(".pack"))
      .sort();
    const last = join(dir, "packs", packs[packs.length - 1] as string);
    await store.close();
    const { truncateSync, statSync } = await import("node:fs");
    truncateSync(last, statSync(last).size - 3000);
    const again = new DirStore({ dir, db, clock: new ManualClock(), fs });
    const results = await Promise.allSettled(blocks.slice(32).map((b) => again.get(b.id)));
    const served = results.map((r) => r.status);
    expect(served.slice(0, 20).every((s) => s === "fulfilled")).toBe(true);
    expect(served[served.length - 1]).toBe("rejected");
    results.forEach((r, i) => {
      if (r.status === "fulfilled") expect(r.value.equals((blocks[32 + i] as (typeof blocks)[number]).data)).toBe(true);
    });
    await again.close();
    db.close();
  });
});

describe("a verification racing compaction", () => {
  it("does not mark damaged the blocks compaction moved while it read their old pack", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cairn-race-"));
    const db = new Database(join(dir, "index.db"));
    // The third pack read of the verification waits: meanwhile compaction rewrites the pack and
    // deletes it, so the verification's later reads find no file at the old place.
    const g = gatedStoreFs(3);
    const fs = g.fs;
    const store = new DirStore({ dir, db, clock: new ManualClock(), fs, maxOpenPacks: 4 });
    await store.recover();
    const blocks = Array.from({ length: 48 }, () => {
      const data = randomBytes(4096);
      return { id: randomBytes(32), sha: sha256(data), data };
    });
    // Two small packs of 24 blocks (a fifth of each deleted): compaction merges them. Twenty live
    // blocks a pack is more than the verification reads ahead, so some reads start after the gate.
    await store.putBatch(blocks.slice(0, 24));
    await store.putBatch(blocks.slice(24));
    const gone = (i: number) => i % 5 === 0;
    store.deleteIndex(blocks.filter((_, i) => gone(i)).map((b) => b.id));
    g.arm();
    const verifying = store.verify();
    await g.reached;
    g.arm(false);
    await store.compact();
    g.release();
    const v = await verifying;
    expect(v.damaged).toEqual([]);
    expect((await store.verify()).damaged).toEqual([]);
    for (const b of blocks.filter((_, i) => !gone(i))) expect((await store.get(b.id)).equals(b.data)).toBe(true);
    await store.close();
    db.close();
  });
});

describe("a store closed during a verification", () => {
  it("stops the verification and leaves no pack file open", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cairn-close-"));
    const db = new Database(join(dir, "index.db"));
    const g = gatedStoreFs(3);
    const fs = g.fs;
    const store = new DirStore({ dir, db, clock: new ManualClock(), fs });
    await store.recover();
    const blocks = Array.from({ length: 30 }, () => {
      const data = randomBytes(4096);
      return { id: randomBytes(32), sha: sha256(data), data };
    });
    await store.putBatch(blocks.slice(0, 15));
    await store.putBatch(blocks.slice(15));
    g.arm();
    const verifying = store.verify().then(
      () => "finished",
      (err: { code?: string }) => err.code,
    );
    await g.reached;
    await store.close();
    g.release();
    expect(await verifying).toBe("UNAVAILABLE");
    await new Promise((r) => setTimeout(r, 50));
    expect(openFds(dir)).toEqual([]);
    db.close();
  });
});
