import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { DAY_MS, HOUR_MS, isCairnError, MINUTE_MS, type RetentionPolicy } from "@cairn/protocol";
import { checkCron } from "../src/maintenance/schedule.js";
import { diskSpace } from "../src/space.js";
import { randomBlocks, type TestBlock } from "../src/testing.js";
import { backupClient, commitFiles, restoreClient } from "./helpers/archive.js";
import { type NodeFixture, startNode, testPlacement } from "./helpers/node.js";

let fx: NodeFixture | undefined;
afterEach(async () => {
  await fx?.teardown();
  fx = undefined;
});

/** Keep at most one version per day, deleted files for two days. */
const DAILY: RetentionPolicy = { bands: [{ untilAgeMs: -1, spacingMs: DAY_MS }], deletedRetentionMs: 2 * DAY_MS };

async function packBytes(fx: NodeFixture, guid: string): Promise<number> {
  const { default: Database } = await import("better-sqlite3");
  const db = new Database(`${fx.storePoint}/archives/${fx.tenant.tenantId}/${guid}/index.db`, { readonly: true });
  try {
    return db.prepare<[], { n: number }>("SELECT COALESCE(SUM(bytes), 0) AS n FROM bs_packs").get()?.n ?? 0;
  } finally {
    db.close();
  }
}

describe("maintenance: prune, collect, compact", () => {
  it("prunes versions by the policy, collects their blocks after the grace period and compaction shrinks the packs", async () => {
    fx = await startNode({ gcGraceMs: HOUR_MS });
    const p = testPlacement({ retention: DAILY });
    const { c, sessionId } = await backupClient(fx, p);
    const fileId = randomBytes(16);
    const versions: TestBlock[][] = [];
    // Four versions of one file within the same day: only the newest survives a daily policy.
    for (let i = 0; i < 4; i++) {
      const blocks = randomBlocks(4, 8192);
      versions.push(blocks);
      await c.put(blocks);
      await commitFiles(c, sessionId, [{ fileId, blocks }]);
      fx.clock.advance(10 * MINUTE_MS);
    }
    await c.peer.call("end-session", { sessionId, abort: false });
    const before = await packBytes(fx, p.archiveGuid);
    // Within the grace period nothing unreferenced is collected yet.
    const early = await fx.tenant.peer.call("maintain", { archiveGuid: p.archiveGuid, verify: false });
    expect(early.prunedVersions).toBe(3);
    expect(early.removedBlocks).toBe(0);
    fx.clock.advance(2 * HOUR_MS);
    const r = await fx.tenant.peer.call("maintain", { archiveGuid: p.archiveGuid, verify: true });
    expect(r).toMatchObject({ archives: 1, prunedVersions: 0, removedBlocks: 12, damagedBlocks: 0 });
    expect(r.compactBytesRemoved).toBeGreaterThan(12 * 8192);
    const after = await packBytes(fx, p.archiveGuid);
    expect(after).toBeLessThan(before - 12 * 8192);
    const rc = await restoreClient(fx, p);
    const vs = (await rc.peer.call("list-versions", {})).versions;
    expect(vs.map((v) => v.seq)).toEqual([4]);
    const newest = versions[3] as TestBlock[];
    const got = await rc.get(newest.map((b) => b.id));
    for (const b of newest) expect((got.get(b.id.toString("hex")) as Buffer).equals(b.data)).toBe(true);
    const gone = await rc.get([(versions[0] as TestBlock[])[0]?.id as Buffer]);
    expect(isCairnError([...gone.values()][0], "NOT_FOUND")).toBe(true);
    const report = (await fx.tenant.peer.call("list-archives", {})).archives[0];
    expect(report).toMatchObject({ versionCount: 1, fileCount: 1, archiveBytes: 4 * 8192 });
    expect(report?.compactBytesRemoved).toBe(early.compactBytesRemoved + r.compactBytesRemoved);
    expect(report?.lastMaintenance).toBe(fx.clock.now());
    await rc.close();
    await c.close();
  });

  it("forgets a deleted file after the deleted-file retention, and keeps it before", async () => {
    fx = await startNode({ gcGraceMs: 0 });
    const p = testPlacement({ retention: DAILY });
    const { c, sessionId } = await backupClient(fx, p);
    const fileId = randomBytes(16);
    const blocks = randomBlocks(2);
    await c.put(blocks);
    await commitFiles(c, sessionId, [{ fileId, blocks }]);
    fx.clock.advance(DAY_MS);
    await commitFiles(c, sessionId, [{ fileId, blocks: [], deleted: true }]);
    fx.clock.advance(DAY_MS);
    expect((await fx.tenant.peer.call("maintain", { archiveGuid: p.archiveGuid, verify: false })).removedBlocks).toBe(0);
    fx.clock.advance(2 * DAY_MS);
    const r = await fx.tenant.peer.call("maintain", { archiveGuid: p.archiveGuid, verify: false });
    expect(r.prunedVersions).toBe(2);
    expect(r.removedBlocks).toBe(2);
    const files = await c.peer.call("list-files", { at: null, cursor: null, limit: 10, includeDeleted: true });
    expect(files.files).toEqual([]);
    await c.close();
  });

  it("T13: never collects a block an open session relies on, even one deduplicated during GC", async () => {
    fx = await startNode({ gcGraceMs: 0 });
    const p = testPlacement({ retention: DAILY });
    const { c, sessionId } = await backupClient(fx, p);
    const fileId = randomBytes(16);
    const old = randomBlocks(3);
    await c.put(old);
    await commitFiles(c, sessionId, [{ fileId, blocks: old }]);
    fx.clock.advance(HOUR_MS);
    const replacement = randomBlocks(1);
    await c.put(replacement);
    await commitFiles(c, sessionId, [{ fileId, blocks: replacement }]); // old blocks now unreferenced once pruned
    await c.peer.call("end-session", { sessionId, abort: false });
    fx.clock.advance(HOUR_MS);
    const { c: c2, sessionId: s2 } = await backupClient(fx, p, false);
    let resumed = false;
    const gc = fx.node.maintain({
      ns: fx.tenant.tenantId,
      archiveGuid: p.archiveGuid,
      verify: false,
      afterMark: async () => {
        // GC has marked old[0..2] as candidates; the agent now dedups against old[0] and commits.
        expect(await c2.have([(old[0] as TestBlock).id])).toEqual([true]);
        await commitFiles(c2, s2, [{ blocks: [old[0] as TestBlock] }]);
        resumed = true;
      },
    });
    const r = await gc;
    expect(resumed).toBe(true);
    expect(r.removedBlocks).toBe(2);
    const rc = await restoreClient(fx, p);
    expect(((await rc.get([(old[0] as TestBlock).id])).get((old[0] as TestBlock).id.toString("hex")) as Buffer).equals((old[0] as TestBlock).data)).toBe(true);
    expect(await fx.node.maintain({ ns: fx.tenant.tenantId, archiveGuid: p.archiveGuid, verify: true })).toMatchObject({ damagedBlocks: 0 });
    await rc.close();
    await c2.close();
    await c.close();
  });

  it("T13: protects blocks uploaded to an open session that has not committed yet", async () => {
    fx = await startNode({ gcGraceMs: 0 });
    const p = testPlacement();
    const { c, sessionId } = await backupClient(fx, p);
    const blocks = randomBlocks(3);
    await c.put(blocks);
    fx.clock.advance(DAY_MS);
    expect((await fx.tenant.peer.call("maintain", { archiveGuid: p.archiveGuid, verify: false })).removedBlocks).toBe(0);
    expect((await commitFiles(c, sessionId, [{ blocks }])).seq).toBe(1);
    await c.close();
  });

  it("T16: refuses maintenance when the server clock went backwards, and ignores client time", async () => {
    fx = await startNode({ gcGraceMs: 0 });
    const p = testPlacement();
    const { c, sessionId } = await backupClient(fx, p);
    await commitFiles(c, sessionId, []);
    await fx.tenant.peer.call("maintain", { archiveGuid: p.archiveGuid, verify: false });
    fx.clock.advance(-HOUR_MS);
    const err = await fx.tenant.peer.call("maintain", { archiveGuid: p.archiveGuid, verify: false }).catch((e: unknown) => e);
    expect(isCairnError(err, "CLOCK_WENT_BACKWARDS")).toBe(true);
    // a verification only reads: it runs whatever the clock says, so bit rot is still found
    expect(await fx.node.maintain({ ns: fx.tenant.tenantId, archiveGuid: p.archiveGuid, verify: true, verifyOnly: true })).toMatchObject({
      archives: 1,
      damagedBlocks: 0,
    });
    fx.clock.advance(2 * HOUR_MS);
    await fx.tenant.peer.call("maintain", { archiveGuid: p.archiveGuid, verify: false });
    // Version times are server times, strictly increasing, whatever clientTime says.
    const r = await c.peer.call("list-versions", {});
    expect(r.versions[0]?.clientTime).toBe(0);
    expect(r.versions[0]?.time).toBeGreaterThan(0);
    await c.close();
  });

  it("T16: a forward clock jump does not expire a session an agent is connected to, nor free its blocks", async () => {
    fx = await startNode({ gcGraceMs: 0 });
    const p = testPlacement();
    const { c, sessionId } = await backupClient(fx, p);
    const blocks = randomBlocks(3);
    await c.put(blocks); // acknowledged in the open session, not committed yet
    fx.clock.advance(30 * DAY_MS);
    const r = await fx.tenant.peer.call("maintain", { archiveGuid: p.archiveGuid, verify: false });
    expect(r.removedBlocks).toBe(0);
    expect(await c.have(blocks.map((b) => b.id))).toEqual([true, true, true]);
    await commitFiles(c, sessionId, [{ blocks }]);
    await c.close();
  });

  it("T16: a session nobody is connected to still expires after its idle time, and its uncommitted blocks go", async () => {
    fx = await startNode({ gcGraceMs: 0 });
    const p = testPlacement();
    const { c } = await backupClient(fx, p);
    await c.put(randomBlocks(3));
    await c.close();
    fx.clock.advance(30 * DAY_MS);
    // the node notices the closed socket a moment later; until then the session counts as live
    let removed = 0;
    for (let i = 0; i < 100 && removed < 3; i++) {
      removed += (await fx.tenant.peer.call("maintain", { archiveGuid: p.archiveGuid, verify: false })).removedBlocks;
      if (removed < 3) await new Promise((r) => setTimeout(r, 20));
    }
    expect(removed).toBe(3);
  });

  it("has valid default cron expressions", () => {
    expect(() => checkCron("0 3 * * *")).not.toThrow();
    expect(() => checkCron("0 4 * * 0")).not.toThrow();
    expect(() => checkCron("not cron")).toThrow();
  });
});

/**
 * One pack holding a file's old version (four blocks) and its new one (two): after pruning by a
 * daily retention, two thirds of the pack are dead and compaction must write the rest anew.
 */
async function partlyDeadPack(f: NodeFixture) {
  const p = testPlacement({ retention: DAILY });
  const { c, sessionId } = await backupClient(f, p);
  const fileId = randomBytes(16);
  const oldBlocks = randomBlocks(4, 4096);
  const kept = randomBlocks(2, 4096);
  await c.put([...oldBlocks, ...kept]);
  await commitFiles(c, sessionId, [{ fileId, blocks: oldBlocks }]);
  f.clock.advance(MINUTE_MS);
  await commitFiles(c, sessionId, [{ fileId, blocks: kept }]);
  await c.peer.call("end-session", { sessionId, abort: false });
  return { p, c, kept };
}

describe("T05: maintenance on a store point that refuses new blocks", () => {
  it("compacts into the reserve: a store point with no room above it still gets its dead bytes back", async () => {
    fx = await startNode({ gcGraceMs: 0 });
    const { p, c, kept } = await partlyDeadPack(fx);
    await c.close();
    // a reserve larger than the free space: new blocks are refused, yet maintenance may use it
    const { freeBytes } = await diskSpace(fx.storePoint);
    await fx.restart({ reserveBytes: freeBytes + 1024 * 1024 * 1024 });
    const r = await fx.tenant.peer.call("maintain", { archiveGuid: p.archiveGuid, verify: true });
    expect(r).toMatchObject({ damagedBlocks: 0 });
    expect(r.compactBytesRemoved).toBeGreaterThan(0);
    expect((await fx.tenant.peer.call("list-archives", {})).archives[0]?.archiveBytes).toBe(2 * 4096);
    const rc = await restoreClient(fx, p);
    for (const b of kept) expect(((await rc.get([b.id])).get(b.id.toString("hex")) as Buffer).equals(b.data)).toBe(true);
    await rc.close();
  });
});

describe("T14: a full disk during compaction", () => {
  it("aborts compaction without deleting anything, and finishes once space is back", async () => {
    const { FaultyFs } = await import("../src/testing.js");
    const disk = new FaultyFs();
    fx = await startNode({ gcGraceMs: 0, fs: disk });
    const { p, c, kept } = await partlyDeadPack(fx);
    disk.failAlways("write", "ENOSPC");
    const err = await fx.tenant.peer.call("maintain", { archiveGuid: p.archiveGuid, verify: false }).catch((e: unknown) => e);
    expect(isCairnError(err, "DESTINATION_FULL")).toBe(true);
    disk.clear();
    const rc = await restoreClient(fx, p);
    for (const b of kept) expect(((await rc.get([b.id])).get(b.id.toString("hex")) as Buffer).equals(b.data)).toBe(true);
    const r = await fx.tenant.peer.call("maintain", { archiveGuid: p.archiveGuid, verify: true });
    expect(r.damagedBlocks).toBe(0);
    expect((await fx.tenant.peer.call("list-archives", {})).archives[0]?.archiveBytes).toBe(2 * 4096);
    await rc.close();
    await c.close();
  });
});
