import { mkdtempSync, openSync, readSync, rmSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash, randomBytes } from "node:crypto";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { ManualClock } from "@cairn/protocol";
import { DirStore } from "../src/blockstore/dir-store.js";
import { FaultyFs } from "../src/blockstore/faulty-fs.js";
import { nodeStoreFs, type StoreFs } from "../src/blockstore/store-fs.js";
import { type BlockStoreFixture, runBlockStoreTests } from "../src/blockstore/testing.js";

/**
 * The block index as archives created before 2026-12-02 have it (bs_blocks WITHOUT ROWID): those
 * keep it, and every query must work on both layouts.
 */
const OLD_INDEX_SCHEMA = `
CREATE TABLE bs_packs (id INTEGER PRIMARY KEY, bytes INTEGER NOT NULL, live_bytes INTEGER NOT NULL, created_at INTEGER NOT NULL);
CREATE TABLE bs_blocks (
  id BLOB PRIMARY KEY, pack INTEGER NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL,
  sha BLOB NOT NULL, stored_at INTEGER NOT NULL, damaged INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX bs_blocks_pack ON bs_blocks(pack, offset);
CREATE TABLE bs_retired (id INTEGER PRIMARY KEY);
`;

runBlockStoreTests("DirStore", () => dirStoreHarness(null));
runBlockStoreTests("DirStore on an index of the older layout (bs_blocks WITHOUT ROWID)", () => dirStoreHarness(OLD_INDEX_SCHEMA));

async function dirStoreHarness(schema: string | null): Promise<BlockStoreFixture> {
  const dir = mkdtempSync(join(tmpdir(), "cairn-dirstore-"));
  const clock = new ManualClock();
  const fs = new FaultyFs();
  let db = new Database(join(dir, "index.db"));
  if (schema) db.exec(schema);
  let store = new DirStore({ dir, db, clock, fs });
  await store.recover();
  return {
    store,
    async reopen() {
      await store.close();
      db.close();
      db = new Database(join(dir, "index.db"));
      store = new DirStore({ dir, db, clock, fs });
      await store.recover();
      return store;
    },
    async rot(id) {
      const info = db.prepare<[Buffer], { pack: number; offset: number }>("SELECT pack, offset FROM bs_blocks WHERE id = ?").get(id);
      if (!info) throw new Error("no such block");
      const path = store.packPath(info.pack);
      const fd = openSync(path, "r+");
      const b = Buffer.alloc(1);
      readSync(fd, b, 0, 1, info.offset + 3);
      b[0] = (b[0] as number) ^ 0x01;
      writeSync(fd, b, 0, 1, info.offset + 3);
      closeSync(fd);
    },
    failNextWrite(code) {
      fs.fail("write", code);
    },
    async teardown() {
      await store.close();
      db.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe("DirStore: a read whose block compaction moves before the pack is opened", () => {
  it("reads the block at its new place instead of calling it damaged", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cairn-dirstore-moved-"));
    const clock = new ManualClock();
    const blocks = Array.from({ length: 8 }, (_, i) => {
      const data = randomBytes(4000 + i);
      return { id: randomBytes(32), sha: createHash("sha256").update(data).digest(), data };
    });
    // The reader's first open of a pack waits until released: the lookup has happened, the open not.
    let release = (): void => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let reached = (): void => {};
    const waiting = new Promise<void>((r) => {
      reached = r;
    });
    let gated = false;
    const gatedFs: StoreFs = {
      ...nodeStoreFs,
      openRead: async (p) => {
        if (!gated) {
          gated = true;
          reached();
          await gate;
        }
        return nodeStoreFs.openRead(p);
      },
    };
    const dbA = new Database(join(dir, "index.db"));
    const reader = new DirStore({ dir, db: dbA, clock, fs: gatedFs });
    await reader.recover();
    await reader.putBatch(blocks);
    const kept = blocks[7] as (typeof blocks)[number];
    const where = () => dbA.prepare<[Buffer], { pack: number; offset: number }>("SELECT pack, offset FROM bs_blocks WHERE id = ?").get(kept.id);
    const before = where();
    expect(reader.deleteIndex(blocks.slice(0, 7).map((b) => b.id))).toBe(7);
    const read = reader.read(kept.id).done;
    await waiting;
    // Another store on the same folder and index compacts meanwhile: the block moves to a new
    // pack and the pack the reader looked it up in is deleted.
    const dbB = new Database(join(dir, "index.db"));
    const compactor = new DirStore({ dir, db: dbB, clock });
    await compactor.recover();
    const c = await compactor.compact({ minLiveRatio: 0.9 });
    expect(c.packsRewritten).toBe(1);
    const moved = where();
    expect(moved).toBeDefined();
    expect(moved?.pack).not.toBe(before?.pack);
    release();
    expect((await read).equals(kept.data)).toBe(true);
    expect(reader.stat(kept.id)?.damaged).toBe(false);
    await compactor.close();
    await reader.close();
    dbB.close();
    dbA.close();
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("compaction within a space budget (a nearly full store point, T05)", () => {
  it("rewrites in groups the room allows, counting the space each step gives back, and never writes past it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cairn-compact-budget-"));
    const db = new Database(join(dir, "index.db"));
    const store = new DirStore({ dir, db, clock: new ManualClock(Date.UTC(2026, 0, 1)) });
    await store.recover();
    const packs: Buffer[][] = [];
    for (let i = 0; i < 3; i++) {
      const batch = Array.from({ length: 4 }, () => {
        const data = randomBytes(4096);
        return { id: randomBytes(32), sha: createHash("sha256").update(data).digest(), data };
      });
      await store.putBatch(batch);
      packs.push(batch.map((b) => b.id));
    }
    expect(store.stats().packs).toBe(3);
    // three blocks of every pack die: 4 KiB live in each, 12 KiB in all
    store.deleteIndex(packs.flatMap((ids) => ids.slice(1)));
    // room for 10 KiB: not the 12 KiB of one group of all three, but two packs, then the third
    // with the space the first step gave back
    const r = await store.compact({ spaceBudgetBytes: 10 * 1024 });
    expect(r.packsRewritten).toBe(3);
    expect(store.stats().packs).toBe(2);
    for (const ids of packs) expect((await store.read(ids[0] as Buffer).done).length).toBe(4096);
    // no room at all: nothing is rewritten and the refusal says why
    store.deleteIndex([packs[0]?.[0] as Buffer]);
    await expect(store.compact({ spaceBudgetBytes: 0, minLiveRatio: 0.99 })).rejects.toMatchObject({ code: "DESTINATION_FULL" });
    await store.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
