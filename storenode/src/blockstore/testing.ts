/**
 * The block-store conformance suite: every {@link BlockStore} implementation must pass it (the
 * directory store now, an S3-compatible store later). Test-only; call it from a test file with a
 * `setup` that makes a fresh, empty store (restic's backend test suite, automerge's storage
 * adapter tests).
 */
import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { isCairnError } from "@cairn/protocol";
import type { BlockStore, PutBlock } from "./blockstore.js";
import { blockSha } from "./pack-format.js";

/** What a conformance setup provides. */
export interface BlockStoreFixture {
  store: BlockStore;
  /** Closes the store and opens it again over the same storage (runs recovery). */
  reopen(): Promise<BlockStore>;
  /** Flips one stored byte of a block, behind the store's back (bit rot). */
  rot(id: Buffer): Promise<void>;
  /** Makes the next write of block data fail with this errno (ENOSPC, EIO). */
  failNextWrite(code: string): void;
  teardown(): Promise<void>;
}

/** A random sealed-looking block of `size` bytes. */
export function makeBlock(size = 1024 + Math.floor(Math.random() * 4096)): PutBlock {
  const data = randomBytes(size);
  return { id: randomBytes(32), sha: blockSha(data), data };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "resolved";
  } catch (err) {
    return isCairnError(err) ? err.code : String(err);
  }
}

/** Registers the conformance tests for one implementation. */
export function runBlockStoreTests(name: string, setup: () => Promise<BlockStoreFixture>): void {
  describe(`BlockStore conformance: ${name}`, () => {
    let fx: BlockStoreFixture | undefined;
    const open = async () => {
      fx = await setup();
      return fx;
    };
    afterEach(async () => {
      await fx?.teardown();
      fx = undefined;
    });

    it("stores a batch and reads every block back byte for byte", async () => {
      const { store } = await open();
      const blocks = Array.from({ length: 20 }, () => makeBlock());
      expect(await store.putBatch(blocks)).toEqual(blocks.map(() => "stored"));
      for (const b of blocks) {
        expect(store.has(b.id)).toBe(true);
        expect((await store.get(b.id)).equals(b.data)).toBe(true);
        expect(store.stat(b.id)?.sha.equals(b.sha)).toBe(true);
      }
      const st = store.stats();
      expect(st.blocks).toBe(20);
      expect(st.bytes).toBe(blocks.reduce((n, b) => n + b.data.length, 0));
    });

    it("is idempotent: a block already held is reported present and written once", async () => {
      const { store } = await open();
      const a = makeBlock();
      await store.putBatch([a]);
      const before = store.stats().packBytes;
      expect(await store.putBatch([a, a])).toEqual(["present", "present"]);
      expect(store.stats().packBytes).toBe(before);
      const b = makeBlock();
      expect(await store.putBatch([b, b])).toEqual(["stored", "present"]);
      expect(store.stats().blocks).toBe(2);
    });

    it("refuses a block whose bytes do not match its SHA-256, before it becomes visible", async () => {
      const { store } = await open();
      const good = makeBlock();
      const bad = { ...makeBlock(), sha: randomBytes(32) };
      expect(await store.putBatch([bad, good])).toEqual(["integrity", "stored"]);
      expect(store.has(bad.id)).toBe(false);
      expect(await codeOf(store.get(bad.id))).toBe("NOT_FOUND");
    });

    it("answers NOT_FOUND for an unknown block", async () => {
      const { store } = await open();
      expect(store.has(randomBytes(32))).toBe(false);
      expect(store.stat(randomBytes(32))).toBeNull();
      expect(await codeOf(store.get(randomBytes(32)))).toBe("NOT_FOUND");
    });

    it("lists index entries in id order, page by page", async () => {
      const { store } = await open();
      const blocks = Array.from({ length: 25 }, () => makeBlock(100));
      await store.putBatch(blocks);
      const seen: string[] = [];
      let after: Buffer | null = null;
      for (;;) {
        const page = store.list(after, 10);
        if (page.length === 0) break;
        seen.push(...page.map((b) => b.id.toString("hex")));
        after = page[page.length - 1]?.id ?? null;
      }
      expect(seen).toEqual(blocks.map((b) => b.id.toString("hex")).sort());
    });

    it("keeps every stored block across a reopen", async () => {
      const f = await open();
      const blocks = Array.from({ length: 10 }, () => makeBlock());
      await f.store.putBatch(blocks.slice(0, 5));
      await f.store.putBatch(blocks.slice(5));
      const again = await f.reopen();
      for (const b of blocks) expect((await again.get(b.id)).equals(b.data)).toBe(true);
    });

    it("applies concurrent batches one after the other without losing any", async () => {
      const { store } = await open();
      const batches = Array.from({ length: 8 }, () => Array.from({ length: 5 }, () => makeBlock(500)));
      await Promise.all(batches.map((b) => store.putBatch(b)));
      expect(store.stats().blocks).toBe(40);
      for (const b of batches.flat()) expect((await store.get(b.id)).equals(b.data)).toBe(true);
    });

    it("fails a whole batch on a full disk, shows none of it, and loses nothing stored before", async () => {
      const f = await open();
      const first = makeBlock();
      await f.store.putBatch([first]);
      const batch = [makeBlock(), makeBlock()];
      f.failNextWrite("ENOSPC");
      expect(await codeOf(f.store.putBatch(batch))).toBe("DESTINATION_FULL");
      for (const b of batch) expect(f.store.has(b.id)).toBe(false);
      expect((await f.store.get(first.id)).equals(first.data)).toBe(true);
      f.failNextWrite("EIO");
      expect(await codeOf(f.store.putBatch(batch))).toBe("STORE_IO");
      expect(await f.store.putBatch(batch)).toEqual(["stored", "stored"]);
    });

    it("never serves a rotten block: get fails INTEGRITY, verify reports it, a re-put heals it", async () => {
      const f = await open();
      const blocks = Array.from({ length: 4 }, () => makeBlock());
      await f.store.putBatch(blocks);
      const victim = blocks[1] as PutBlock;
      await f.rot(victim.id);
      const v = await f.store.verify();
      expect(v.checked).toBe(4);
      expect(v.damaged.map((d) => d.toString("hex"))).toEqual([victim.id.toString("hex")]);
      expect(f.store.has(victim.id)).toBe(false);
      expect(await codeOf(f.store.get(victim.id))).toBe("INTEGRITY");
      expect(await f.store.putBatch([victim])).toEqual(["stored"]);
      expect((await f.store.get(victim.id)).equals(victim.data)).toBe(true);
      expect(store2Damaged(f.store)).toBe(0);
    });

    it("detects rot on a plain read too", async () => {
      const f = await open();
      const b = makeBlock();
      await f.store.putBatch([b]);
      await f.rot(b.id);
      expect(await codeOf(f.store.get(b.id))).toBe("INTEGRITY");
      expect(f.store.stat(b.id)?.damaged).toBe(true);
    });

    it("deletes index entries first and reclaims their bytes by compaction", async () => {
      const { store } = await open();
      const keep = Array.from({ length: 3 }, () => makeBlock(2000));
      const drop = Array.from({ length: 9 }, () => makeBlock(2000));
      await store.putBatch([...keep, ...drop]);
      const before = store.stats().packBytes;
      expect(store.deleteIndex(drop.map((b) => b.id))).toBe(9);
      for (const b of drop) expect(store.has(b.id)).toBe(false);
      expect(store.stats().packBytes).toBe(before);
      const r = await store.compact();
      expect(r.packsRewritten).toBe(1);
      expect(r.bytesRemoved).toBeGreaterThan(9 * 2000);
      expect(store.stats().packBytes).toBeLessThan(before - 9 * 2000);
      for (const b of keep) expect((await store.get(b.id)).equals(b.data)).toBe(true);
    });

    it("merges small packs into one", async () => {
      const { store } = await open();
      const blocks = Array.from({ length: 6 }, () => makeBlock(300));
      for (const b of blocks) await store.putBatch([b]);
      expect(store.stats().packs).toBe(6);
      await store.compact();
      expect(store.stats().packs).toBe(1);
      for (const b of blocks) expect((await store.get(b.id)).equals(b.data)).toBe(true);
    });

    it("rebuilds its index from the stored data alone", async () => {
      const { store } = await open();
      const blocks = Array.from({ length: 12 }, () => makeBlock());
      await store.putBatch(blocks.slice(0, 6));
      await store.putBatch(blocks.slice(6));
      const r = await store.rebuildIndex();
      expect(r.blocks).toBe(12);
      for (const b of blocks) expect((await store.get(b.id)).equals(b.data)).toBe(true);
    });
  });
}

function store2Damaged(s: BlockStore): number {
  return s.stats().damaged;
}
