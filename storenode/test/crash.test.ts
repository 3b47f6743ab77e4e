import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DAY_MS, isCairnError, type ArchivePlacement, sha256, systemClock } from "@cairn/protocol";
import { CRASH_POINTS, type CrashPointName } from "../src/crash.js";
import { DataClient, randomBlocks, storageToken, type TestBlock, testPlacement } from "../src/testing.js";
import { listFiles } from "./helpers/archive.js";
import { type ChildFixture, type ChildNode, childFixture, killChildren, spawnNode } from "./helpers/child.js";

const stats = { selectedFiles: 0, selectedBytes: 0, todoFiles: 0, todoBytes: 0 };
/** One bucket for years: a newer version of a file always replaces the older one at maintenance. */
const KEEP_NEWEST = { bands: [{ untilAgeMs: -1, spacingMs: 3650 * DAY_MS }], deletedRetentionMs: -1 };

let fx: ChildFixture;
beforeAll(async () => {
  fx = await childFixture();
});
afterAll(() => {
  killChildren();
  fx?.teardown();
});

async function connect(node: ChildNode, p: ArchivePlacement, mode: "backup" | "restore", sessionId: string | null = null) {
  const c = await DataClient.connect(node.url, storageToken(fx.key, p, systemClock));
  const o = await c.peer.call("open", { archiveGuid: p.archiveGuid, mode, sessionId, agentVersion: "t" });
  return { c, sessionId: o.sessionId, head: o.head };
}

async function place(node: ChildNode, p: ArchivePlacement): Promise<void> {
  const t = await fx.tenant(node);
  await t.peer.call("place-archive", p);
  await t.close();
}

/** Restarts cleanly and checks every given block is present and byte-identical. */
async function expectDurable(p: ArchivePlacement, blocks: readonly TestBlock[]): Promise<ChildNode> {
  const node = await spawnNode(fx.dataDir);
  const { c } = await connect(node, p, "restore");
  if (blocks.length > 0) {
    expect(await c.have(blocks.map((b) => b.id))).toEqual(blocks.map(() => true));
    const got = await c.get(blocks.map((b) => b.id));
    for (const b of blocks) expect((got.get(b.id.toString("hex")) as Buffer).equals(b.data)).toBe(true);
  }
  await c.close();
  // No temporary pack survives the start-up scan.
  const dir = join(fx.storePoint, "archives", fx.tenantId, p.archiveGuid);
  if (existsSync(dir)) expect(listFiles(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  return node;
}

async function stop(node: ChildNode): Promise<void> {
  node.proc.kill("SIGTERM");
  await node.exited;
}

async function commit(c: DataClient, sessionId: string, seq: number, prev: Buffer | null, files: { fileId: Buffer; blocks: TestBlock[] }[]) {
  await c.peer.call("stage-files", {
    sessionId,
    files: files.map((f) => ({ fileId: f.fileId, deleted: false, size: 1, blocks: Buffer.concat(f.blocks.map((b) => b.id)), meta: null })),
  });
  const manifest = randomBytes(64);
  const hash = sha256(manifest);
  return { hash, done: c.peer.call("commit", { sessionId, seq, prevManifestHash: prev, manifest, manifestHash: hash, clientTime: 0, stats, complete: true }) };
}

describe("crash points (RELIABILITY.md H2)", () => {
  it("are all exercised by a test below", () => {
    const tested: CrashPointName[] = [
      "put.beforeFsync",
      "put.afterFsyncBeforeRename",
      "put.afterRenameBeforeDirFsync",
      "put.afterIndexCommitBeforeAck",
      "commit.beforeTransaction",
      "commit.afterTransactionBeforeReply",
      "gc.afterMark",
      "gc.afterIndexWrite",
      "compact.afterWrite",
      "compact.afterIndexSwitch",
      "gc.midDelete",
      "gc.afterDeleteBeforeCatalog",
      "purge.afterUnregister",
    ];
    expect([...tested].sort()).toEqual([...CRASH_POINTS].sort());
  });
});

describe("T01: kill -9 of the node in the middle of block writes", () => {
  it.each(["put.beforeFsync", "put.afterFsyncBeforeRename", "put.afterRenameBeforeDirFsync", "put.afterIndexCommitBeforeAck"] as const)(
    "every block acknowledged before a crash at %s is present and verifies",
    async (point) => {
      const p = testPlacement();
      const node = await spawnNode(fx.dataDir, { crashAt: `${point},2` });
      await place(node, p);
      const { c, sessionId: s1 } = await connect(node, p, "backup");
      const all = randomBlocks(10, 32 * 1024);
      c.send(all.slice(0, 5));
      await c.settled(all.slice(0, 1));
      c.send(all.slice(5));
      const { signal } = await node.exited;
      expect(signal).toBe("SIGKILL");
      await c.closed;
      const acked = all.filter((b) => c.acked.has(b.id.toString("hex")));
      expect(acked.length).toBeGreaterThanOrEqual(1);
      expect(acked.length).toBeLessThan(10);
      const again = await expectDurable(p, acked);
      // The agent resumes its session, asks `have` and re-sends only what is absent; the backup completes.
      const { c: b, sessionId } = await connect(again, p, "backup", s1);
      expect(sessionId).toBe(s1);
      const present = await b.have(all.map((x) => x.id));
      await b.put(all.filter((_, i) => !present[i]));
      expect(b.nacked.size).toBe(0);
      const r = await commit(b, sessionId, 1, null, [{ fileId: randomBytes(16), blocks: all }]);
      expect((await r.done).seq).toBe(1);
      await b.close();
      await stop(again);
    },
  );

  const kills = Number(process.env.CAIRN_T01_KILLS ?? 3);
  it(`keeps every acknowledged block across ${kills} SIGKILLs at random moments`, async () => {
    const p = testPlacement();
    let node = await spawnNode(fx.dataDir);
    await place(node, p);
    const acked: TestBlock[] = [];
    const sent: TestBlock[] = [];
    let session: string | null = null;
    for (let i = 0; i < kills; i++) {
      const { c, sessionId } = await connect(node, p, "backup", session);
      session = sessionId;
      const blocks = randomBlocks(60, 16 * 1024);
      const threshold = 1 + Math.floor(Math.random() * 50);
      c.send(blocks);
      while (c.acked.size < threshold && c.closeCode === null) await c.settled(blocks.filter((b) => !c.acked.has(b.id.toString("hex"))).slice(0, 1));
      node.proc.kill("SIGKILL");
      await node.exited;
      await c.closed;
      acked.push(...blocks.filter((b) => c.acked.has(b.id.toString("hex"))));
      sent.push(...blocks);
      node = await expectDurable(p, acked);
    }
    // positive control: the session resumes, sends what is missing, commits every block ever
    // sent, and a restore reads each one back byte for byte; verification finds nothing damaged
    const { c: b, sessionId } = await connect(node, p, "backup", session);
    const present = await b.have(sent.map((x) => x.id));
    expect(present.filter(Boolean).length).toBeGreaterThanOrEqual(acked.length);
    await b.put(sent.filter((_, i) => !present[i]));
    expect(b.nacked.size).toBe(0);
    const fileId = randomBytes(16);
    expect((await (await commit(b, sessionId, 1, null, [{ fileId, blocks: sent }])).done).seq).toBe(1);
    await b.close();
    const { c: r } = await connect(node, p, "restore");
    const got = await r.get(sent.map((x) => x.id));
    for (const x of sent) expect((got.get(x.id.toString("hex")) as Buffer).equals(x.data)).toBe(true);
    await r.close();
    const t = await fx.tenant(node);
    expect(await t.peer.call("maintain", { archiveGuid: p.archiveGuid, verify: true })).toMatchObject({ damagedBlocks: 0 });
    await t.close();
    await stop(node);
  });
});

describe("T02: kill -9 during the version commit", () => {
  it.each(["commit.beforeTransaction", "commit.afterTransactionBeforeReply"] as const)("leaves the old head or the complete new one at %s", async (point) => {
    const p = testPlacement();
    const node = await spawnNode(fx.dataDir, { crashAt: point });
    await place(node, p);
    const { c, sessionId } = await connect(node, p, "backup");
    const blocks = randomBlocks(4);
    await c.put(blocks);
    const fileId = randomBytes(16);
    const r = await commit(c, sessionId, 1, null, [{ fileId, blocks }]);
    expect(isCairnError(await r.done.catch((e: unknown) => e), "CONNECTION_LOST")).toBe(true);
    await node.exited;
    const again = await expectDurable(p, blocks);
    const { c: b, sessionId: s2, head } = await connect(again, p, "backup", sessionId);
    const versions = (await b.peer.call("list-versions", {})).versions;
    if (point === "commit.beforeTransaction") {
      expect(head).toBeNull();
      expect(versions).toEqual([]);
    } else {
      expect(head?.seq).toBe(1);
      expect(versions.map((v) => v.seq)).toEqual([1]);
      const files = await b.peer.call("list-files", { at: null, cursor: null, limit: 10, includeDeleted: true });
      expect(files.files.map((f) => f.fileId.toString("hex"))).toEqual([fileId.toString("hex")]);
      expect(files.files[0]?.blocks.equals(Buffer.concat(blocks.map((x) => x.id)))).toBe(true);
    }
    // Nothing references a missing block.
    const t = await fx.tenant(again);
    expect(await t.peer.call("maintain", { archiveGuid: p.archiveGuid, verify: true })).toMatchObject({ damagedBlocks: 0 });
    await t.close();
    expect(s2).toBeTruthy();
    await b.close();
    await stop(again);
  });
});

describe("T14: crash during garbage collection, compaction and purge", () => {
  it.each(["gc.afterMark", "gc.afterIndexWrite", "compact.afterWrite", "compact.afterIndexSwitch", "gc.midDelete", "gc.afterDeleteBeforeCatalog"] as const)(
    "keeps referenced data intact and finishes on the next run after a crash at %s",
    async (point) => {
      const p = testPlacement({ retention: KEEP_NEWEST });
      let node = await spawnNode(fx.dataDir);
      await place(node, p);
      const fileId = randomBytes(16);
      const { c, sessionId } = await connect(node, p, "backup");
      const oldA = randomBlocks(3, 8192);
      const oldB = randomBlocks(3, 8192);
      await c.put(oldA);
      await c.put(oldB);
      const v1 = await commit(c, sessionId, 1, null, [{ fileId, blocks: [...oldA, ...oldB] }]);
      await v1.done;
      const keep = randomBlocks(2, 8192);
      await c.put(keep);
      await (await commit(c, sessionId, 2, v1.hash, [{ fileId, blocks: [...keep, oldA[0] as TestBlock] }])).done;
      await c.peer.call("end-session", { sessionId, abort: false });
      await c.close();
      await stop(node);

      node = await spawnNode(fx.dataDir, { crashAt: point });
      const t = await fx.tenant(node);
      const crashed = await t.peer.call("maintain", { archiveGuid: p.archiveGuid, verify: false }).catch((e: unknown) => e);
      expect(isCairnError(crashed, "CONNECTION_LOST")).toBe(true);
      expect((await node.exited).signal).toBe("SIGKILL");
      const referenced = [...keep, oldA[0] as TestBlock];
      node = await expectDurable(p, referenced);
      const t2 = await fx.tenant(node);
      await t2.peer.call("maintain", { archiveGuid: p.archiveGuid, verify: false });
      expect(await t2.peer.call("maintain", { archiveGuid: p.archiveGuid, verify: true })).toMatchObject({ damagedBlocks: 0, removedBlocks: 0 });
      const report = (await t2.peer.call("list-archives", {})).archives.find((a) => a.archiveGuid === p.archiveGuid);
      expect(report?.archiveBytes).toBe(3 * 8192);
      await t2.close();
      await stop(node);
      await stop(await expectDurable(p, referenced));
    },
  );

  it("finishes a purge interrupted after the registry row went", async () => {
    const p = testPlacement();
    const survivor = testPlacement();
    let node = await spawnNode(fx.dataDir, { crashAt: "purge.afterUnregister" });
    await place(node, p);
    await place(node, survivor);
    const { c } = await connect(node, survivor, "backup");
    const blocks = randomBlocks(2);
    await c.put(blocks);
    await c.close();
    const t = await fx.tenant(node);
    expect(isCairnError(await t.peer.call("purge-archive", { archiveGuid: p.archiveGuid }).catch((e: unknown) => e), "CONNECTION_LOST")).toBe(true);
    await node.exited;
    node = await expectDurable(survivor, blocks);
    expect(existsSync(join(fx.storePoint, "archives", fx.tenantId, p.archiveGuid))).toBe(false);
    const t2 = await fx.tenant(node);
    expect((await t2.peer.call("list-archives", {})).archives.map((a) => a.archiveGuid)).not.toContain(p.archiveGuid);
    await t2.close();
    await stop(node);
  });
});

describe("SIGTERM", () => {
  it("closes sockets with 1001, exits 0 and loses no acknowledged block", async () => {
    const p = testPlacement();
    const node = await spawnNode(fx.dataDir);
    await place(node, p);
    const { c } = await connect(node, p, "backup");
    const blocks = randomBlocks(80, 16 * 1024);
    c.send(blocks);
    await c.settled(blocks.slice(0, 10));
    node.proc.kill("SIGTERM");
    expect(await c.closed).toBe(1001);
    expect(await node.exited).toEqual({ code: 0, signal: null });
    const acked = blocks.filter((b) => c.acked.has(b.id.toString("hex")));
    expect(acked.length).toBeGreaterThanOrEqual(10);
    // Every block was either acknowledged or refused as the node went away: none left hanging unknown.
    await stop(await expectDurable(p, acked));
  });
});
