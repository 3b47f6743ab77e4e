import { createHash, randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { isCairnError, MINUTE_MS, sha256 } from "@cairn/protocol";
import { DataClient, randomBlocks, storageToken, type TestBlock } from "../src/testing.js";
import { type NodeFixture, startNode, testPlacement } from "./helpers/node.js";

let fx: NodeFixture | undefined;
afterEach(async () => {
  await fx?.teardown();
  fx = undefined;
});

function manifestFor(seq: number) {
  const manifest = randomBytes(200);
  return { manifest, manifestHash: sha256(manifest), seq };
}

const stats = { selectedFiles: 1, selectedBytes: 1, todoFiles: 0, todoBytes: 0 };

async function commitVersion(c: DataClient, sessionId: string, seq: number, prev: Buffer | null, files: { fileId: Buffer; blocks: TestBlock[] }[]) {
  await c.peer.call("stage-files", {
    sessionId,
    files: files.map((f) => ({
      fileId: f.fileId,
      deleted: false,
      size: f.blocks.length,
      blocks: Buffer.concat(f.blocks.map((b) => b.id)),
      meta: randomBytes(40),
    })),
  });
  const m = manifestFor(seq);
  const r = await c.peer.call("commit", { sessionId, prevManifestHash: prev, ...m, clientTime: 0, stats, complete: true });
  return { ...r, manifestHash: m.manifestHash };
}

describe("backup and restore over real sockets", () => {
  it("puts, dedups, commits versions and restores every version byte for byte", async () => {
    fx = await startNode();
    const p = testPlacement();
    expect(await fx.tenant.peer.call("place-archive", p)).toMatchObject({ archiveGuid: p.archiveGuid });
    const c = await DataClient.connect(fx.node.url, storageToken(fx.key, p, fx.clock));
    const opened = await c.peer.call("open", { archiveGuid: p.archiveGuid, mode: "backup", sessionId: null, agentVersion: "test" });
    expect(opened.head).toBeNull();
    expect(opened.resumed).toBe(false);
    const fileA = randomBytes(16);
    const fileB = randomBytes(16);
    const v1 = randomBlocks(6);
    expect(await c.have(v1.map((b) => b.id))).toEqual(v1.map(() => false));
    await c.put(v1);
    expect(c.nacked.size).toBe(0);
    expect(await c.have(v1.map((b) => b.id))).toEqual(v1.map(() => true));
    const r1 = await commitVersion(c, opened.sessionId, 1, null, [
      { fileId: fileA, blocks: v1.slice(0, 3) },
      { fileId: fileB, blocks: v1.slice(3) },
    ]);
    expect(r1.seq).toBe(1);
    fx.clock.advance(20 * MINUTE_MS);
    const v2 = randomBlocks(2);
    await c.put([...v2, v1[0] as TestBlock]); // one duplicate: stored once
    const r2 = await commitVersion(c, opened.sessionId, 2, r1.manifestHash, [{ fileId: fileA, blocks: [v1[0] as TestBlock, ...v2] }]);
    expect(r2.versionTime).toBeGreaterThan(r1.versionTime);
    await c.peer.call("end-session", { sessionId: opened.sessionId, abort: false });
    await c.close();

    const r = await DataClient.connect(fx.node.url, storageToken(fx.key, p, fx.clock));
    await r.peer.call("open", { archiveGuid: p.archiveGuid, mode: "restore", sessionId: null, agentVersion: "test" });
    const versions = (await r.peer.call("list-versions", {})).versions;
    expect(versions.map((v) => v.seq)).toEqual([1, 2]);
    const all = new Map([...v1, ...v2].map((b) => [b.id.toString("hex"), b.data]));
    const expected = { 1: { a: v1.slice(0, 3), b: v1.slice(3) }, 2: { a: [v1[0], ...v2], b: v1.slice(3) } } as const;
    for (const v of versions) {
      const files = (await r.peer.call("list-files", { at: v.time, cursor: null, limit: 100, includeDeleted: false })).files;
      expect(files).toHaveLength(2);
      for (const f of files) {
        const want = f.fileId.equals(fileA) ? expected[v.seq as 1 | 2].a : expected[v.seq as 1 | 2].b;
        expect(f.blocks.equals(Buffer.concat(want.map((b) => (b as TestBlock).id)))).toBe(true);
        const got = await r.get(want.map((b) => (b as TestBlock).id));
        for (const b of want)
          expect((got.get((b as TestBlock).id.toString("hex")) as Buffer).equals(all.get((b as TestBlock).id.toString("hex")) as Buffer)).toBe(true);
      }
    }
    const m = await r.peer.call("get-manifest", { seq: 2 });
    expect(createHash("sha256").update(m.manifest).digest().equals(m.manifestHash)).toBe(true);
    await r.close();
  });

  it("refuses a commit that names blocks the archive lacks, listing them", async () => {
    fx = await startNode();
    const p = testPlacement();
    await fx.tenant.peer.call("place-archive", p);
    const c = await DataClient.connect(fx.node.url, storageToken(fx.key, p, fx.clock));
    const { sessionId } = await c.peer.call("open", { archiveGuid: p.archiveGuid, mode: "backup", sessionId: null, agentVersion: "t" });
    const [have, lack] = randomBlocks(2) as [TestBlock, TestBlock];
    await c.put([have]);
    const err = await commitVersion(c, sessionId, 1, null, [{ fileId: randomBytes(16), blocks: [have, lack] }]).catch((e: unknown) => e);
    expect(isCairnError(err, "BLOCKS_MISSING")).toBe(true);
    expect((err as { details: { missing: string[] } }).details.missing).toEqual([lack.id.toString("hex")]);
    expect((await c.peer.call("list-versions", {})).versions).toEqual([]);
    await c.put([lack]);
    const r = await commitVersion(c, sessionId, 1, null, [{ fileId: randomBytes(16), blocks: [have, lack] }]);
    expect(r.seq).toBe(1);
    await c.close();
  });
});
