import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, openSync, readFileSync, readSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { isCairnError } from "@cairn/protocol";
import { FaultyFs, randomBlocks, type TestBlock } from "../src/testing.js";
import { CAIRN_BIN } from "./helpers/child.js";
import { archiveDir, backupClient, blockLocation, commitFiles, listFiles, restoreClient } from "./helpers/archive.js";
import { metric } from "./helpers/http.js";
import { type NodeFixture, startNode, testPlacement } from "./helpers/node.js";

let fx: NodeFixture | undefined;
afterEach(async () => {
  await fx?.teardown();
  fx = undefined;
});

function flipByte(path: string, at: number): void {
  const fd = openSync(path, "r+");
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, at);
  b[0] = (b[0] as number) ^ 0x40;
  writeSync(fd, b, 0, 1, at);
  closeSync(fd);
}

describe("T05: a full disk during upload", () => {
  it("answers DESTINATION_FULL, leaves no partial file, and completes later without re-sending acknowledged blocks", async () => {
    const disk = new FaultyFs();
    fx = await startNode({ fs: disk });
    const p = testPlacement();
    const { c, sessionId } = await backupClient(fx, p);
    const before = randomBlocks(5);
    await c.put(before);
    await commitFiles(c, sessionId, [{ blocks: before }]);
    disk.failAlways("write", "ENOSPC");
    const during = randomBlocks(3);
    await c.put(during);
    for (const b of during) expect(c.nacked.get(b.id.toString("hex"))?.code).toBe("DESTINATION_FULL");
    expect(listFiles(archiveDir(fx, p.archiveGuid)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    // Existing versions restore fine meanwhile.
    const r = await restoreClient(fx, p);
    for (const [, v] of await r.get(before.map((b) => b.id))) expect(Buffer.isBuffer(v)).toBe(true);
    await r.close();
    disk.clear();
    const received = await metric(fx.node.url, "storenode_bytes_received_total");
    c.nacked.clear();
    await c.put(during); // only the refused blocks go again
    expect(c.nacked.size).toBe(0);
    expect(await metric(fx.node.url, "storenode_bytes_received_total")).toBe(received + during.reduce((n, b) => n + b.data.length, 0));
    expect((await commitFiles(c, sessionId, [{ blocks: [...before, ...during] }])).seq).toBe(2);
    await c.close();
  });

  it("keeps a space reserve: blocks are refused while maintenance still runs", async () => {
    fx = await startNode({ reserveBytes: Number.MAX_SAFE_INTEGER });
    const p = testPlacement();
    const { c } = await backupClient(fx, p);
    const blocks = randomBlocks(2);
    await c.put(blocks);
    for (const b of blocks) expect(c.nacked.get(b.id.toString("hex"))?.code).toBe("DESTINATION_FULL");
    expect(await fx.tenant.peer.call("maintain", { archiveGuid: p.archiveGuid, verify: true })).toMatchObject({ archives: 1 });
    expect(await fx.tenant.peer.call("purge-archive", { archiveGuid: p.archiveGuid })).toMatchObject({ existed: true });
    await c.closed;
  });
});

describe("T07: bit rot in a stored block", () => {
  it("is found by verification, never served, healed by the connected agent", async () => {
    fx = await startNode();
    const p = testPlacement();
    const { c, sessionId } = await backupClient(fx, p);
    const blocks = randomBlocks(4);
    await c.put(blocks);
    await commitFiles(c, sessionId, [{ blocks: blocks.slice(0, 2) }, { blocks: blocks.slice(2) }]);
    const victim = blocks[1] as TestBlock;
    const loc = blockLocation(fx, p.archiveGuid, victim.id);
    flipByte(loc.path, loc.offset + 10);
    const m = await fx.tenant.peer.call("maintain", { archiveGuid: p.archiveGuid, verify: true }).catch((e: unknown) => e);
    // GC refuses while a referenced block is damaged, after verification has recorded it.
    expect(isCairnError(m, "STORE_INCONSISTENT")).toBe(true);
    const heal = c.events.find((e) => e.event === "heal")?.data as { ids: Buffer } | undefined;
    expect(heal?.ids.equals(victim.id)).toBe(true);
    // the authority hears of it too (its audit log), though an agent is there to heal it
    const report = fx.tenant.received.find((x) => x.method === "report-damage")?.params as { archiveGuid: string; damagedBlocks: number } | undefined;
    expect(report).toMatchObject({ archiveGuid: p.archiveGuid, damagedBlocks: 1 });
    const r = await restoreClient(fx, p);
    const got = await r.get(blocks.map((b) => b.id));
    expect(isCairnError(got.get(victim.id.toString("hex")), "INTEGRITY")).toBe(true);
    for (const b of blocks) if (b !== victim) expect((got.get(b.id.toString("hex")) as Buffer).equals(b.data)).toBe(true);
    expect(await c.have([victim.id])).toEqual([false]);
    c.acked.delete(victim.id.toString("hex"));
    await c.put([victim]); // the agent re-sends it
    expect(await fx.tenant.peer.call("maintain", { archiveGuid: p.archiveGuid, verify: true })).toMatchObject({ damagedBlocks: 0 });
    expect(((await r.get([victim.id])).get(victim.id.toString("hex")) as Buffer).equals(victim.data)).toBe(true);
    await r.close();
    await c.close();
  });

  it("asks a device that was away when verification found the damage to re-send it when its next backup session opens", async () => {
    fx = await startNode();
    const p = testPlacement();
    const first = await backupClient(fx, p);
    const blocks = randomBlocks(3);
    await first.c.put(blocks);
    await commitFiles(first.c, first.sessionId, [{ blocks }]);
    await first.c.close();
    const victim = blocks[2] as TestBlock;
    const loc = blockLocation(fx, p.archiveGuid, victim.id);
    flipByte(loc.path, loc.offset + 3);
    // nobody is connected while the verification runs
    await fx.tenant.peer.call("maintain", { archiveGuid: p.archiveGuid, verify: true }).catch(() => undefined);
    // the device comes back after the first session's lease ran out
    fx.clock.advance(60 * 60_000);
    const later = await backupClient(fx, p);
    await expect.poll(() => later.c.events.some((e) => e.event === "heal"), { timeout: 5000 }).toBe(true);
    const heal = later.c.events.find((e) => e.event === "heal")?.data as { ids: Buffer };
    expect(heal.ids.equals(victim.id)).toBe(true);
    later.c.acked.delete(victim.id.toString("hex"));
    await later.c.put([victim]);
    expect(await fx.tenant.peer.call("maintain", { archiveGuid: p.archiveGuid, verify: true })).toMatchObject({ damagedBlocks: 0 });
    await later.c.close();
  });

  it("counts a record whose header rotted (its stored SHA-256, id or CRC) as damaged, though its data is intact", async () => {
    fx = await startNode();
    const p = testPlacement();
    const { c, sessionId } = await backupClient(fx, p);
    const blocks = randomBlocks(3);
    await c.put(blocks);
    await commitFiles(c, sessionId, [{ blocks }]);
    const victim = blocks[1] as TestBlock;
    const loc = blockLocation(fx, p.archiveGuid, victim.id);
    // the record header is the 76 bytes before the data; byte 50 is inside its SHA-256 field
    flipByte(loc.path, loc.offset - 76 + 50);
    const m = await fx.tenant.peer.call("maintain", { archiveGuid: p.archiveGuid, verify: true }).catch((e: unknown) => e);
    expect(isCairnError(m, "STORE_INCONSISTENT")).toBe(true);
    const heal = c.events.find((e) => e.event === "heal")?.data as { ids: Buffer } | undefined;
    expect(heal?.ids.equals(victim.id)).toBe(true);
    const list = await fx.tenant.peer.call("list-archives", {});
    expect(list.archives.find((a) => a.archiveGuid === p.archiveGuid)?.damagedBlocks).toBe(1);
    await c.close();
  });

  it("reports damaged files to the authority when no agent is connected either", async () => {
    fx = await startNode();
    const p = testPlacement();
    const { c, sessionId } = await backupClient(fx, p);
    const blocks = randomBlocks(2);
    await c.put(blocks);
    const fileId = Buffer.alloc(16, 7);
    await commitFiles(c, sessionId, [{ fileId, blocks }]);
    await c.close();
    const loc = blockLocation(fx, p.archiveGuid, (blocks[0] as TestBlock).id);
    flipByte(loc.path, loc.offset);
    await fx.tenant.peer.call("maintain", { archiveGuid: p.archiveGuid, verify: true }).catch(() => undefined);
    const report = fx.tenant.received.find((x) => x.method === "report-damage")?.params as { archiveGuid: string; damagedBlocks: number; fileIds: Buffer[] };
    expect(report).toMatchObject({ archiveGuid: p.archiveGuid, damagedBlocks: 1 });
    expect(report.fileIds.map((f) => f.toString("hex"))).toEqual([fileId.toString("hex")]);
    const list = await fx.tenant.peer.call("list-archives", {});
    expect(list.archives.find((a) => a.archiveGuid === p.archiveGuid)?.damagedBlocks).toBe(1);
  });
});

describe("T08: missing data and metadata", () => {
  it("verify reports a deleted pack precisely and GC refuses, naming the missing blocks", async () => {
    fx = await startNode();
    const p = testPlacement();
    const { c, sessionId } = await backupClient(fx, p);
    const a = randomBlocks(3);
    await c.put(a);
    const b = randomBlocks(2);
    await c.put(b);
    await commitFiles(c, sessionId, [{ blocks: [...a, ...b] }]);
    await c.close();
    const pack = blockLocation(fx, p.archiveGuid, (b[0] as TestBlock).id).path;
    const copy = readFileSync(pack);
    unlinkSync(pack);
    const err = await fx.tenant.peer.call("maintain", { archiveGuid: p.archiveGuid, verify: true }).catch((e: unknown) => e);
    expect(isCairnError(err, "STORE_INCONSISTENT")).toBe(true);
    expect(new Set((err as { details: { missing: string[] } }).details.missing)).toEqual(new Set(b.map((x) => x.id.toString("hex"))));
    const list = await fx.tenant.peer.call("list-archives", {});
    expect(list.archives[0]?.damagedBlocks).toBe(2);

    // the operator puts the pack back from a copy: verification reads its blocks intact and
    // clears their marks, and GC runs again
    writeFileSync(pack, copy);
    expect(await fx.tenant.peer.call("maintain", { archiveGuid: p.archiveGuid, verify: true })).toMatchObject({ damagedBlocks: 0 });
    expect((await fx.tenant.peer.call("list-archives", {})).archives[0]?.damagedBlocks).toBe(0);
  });

  it("the operator's maintain of every archive fails, naming the refused archive and its missing blocks; an unknown --archive is NOT_FOUND", async () => {
    fx = await startNode();
    const p = testPlacement();
    const { c, sessionId } = await backupClient(fx, p);
    const b = randomBlocks(2);
    await c.put(b);
    await commitFiles(c, sessionId, [{ blocks: b }]);
    await c.close();
    unlinkSync(blockLocation(fx, p.archiveGuid, (b[0] as TestBlock).id).path);
    // asynchronously: the node in this process answers the command's admin socket
    const cairn = (...args: string[]) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = execFile(
          process.execPath,
          [CAIRN_BIN, "--json", "storenode", "maintain", "--data", fx?.dataDir as string, ...args],
          { encoding: "utf8", env: { ...process.env, FAULT_CRASH_AT: "" } },
          (_err, stdout, stderr) => resolve({ status: child.exitCode, stdout, stderr }),
        );
      });
    const all = await cairn();
    expect(all.status, `${all.stdout}\n${all.stderr}`).toBe(1);
    expect(JSON.parse(all.stdout)).toMatchObject({ refused: [{ archiveGuid: p.archiveGuid, code: "STORE_INCONSISTENT" }] });
    expect(all.stderr).toContain("STORE_INCONSISTENT");
    expect(all.stderr).toContain(p.archiveGuid);
    for (const x of b) expect(all.stderr).toContain(x.id.toString("hex"));
    const unknown = await cairn("--archive", "123456789012345678");
    expect([unknown.status, unknown.stderr.includes("NOT_FOUND")]).toEqual([10, true]);
    expect((await cairn("--archive", "../../etc")).status).toBe(2);
  });

  it("rebuilds a lost block index from the packs", async () => {
    fx = await startNode();
    const p = testPlacement();
    const { c, sessionId } = await backupClient(fx, p);
    const blocks = randomBlocks(6);
    await c.put(blocks.slice(0, 3));
    await c.put(blocks.slice(3));
    await commitFiles(c, sessionId, [{ blocks }]);
    await c.close();
    await fx.tenant.close();
    await fx.node.close();
    const Database = (await import("better-sqlite3")).default;
    const db = new Database(`${archiveDir(fx, p.archiveGuid)}/index.db`);
    db.exec("DELETE FROM bs_blocks; DELETE FROM bs_packs;");
    db.close();
    await fx.restart();
    const r = await restoreClient(fx, p);
    const got = await r.get(blocks.map((x) => x.id));
    for (const x of blocks) expect((got.get(x.id.toString("hex")) as Buffer).equals(x.data)).toBe(true);
    expect(await fx.tenant.peer.call("maintain", { archiveGuid: p.archiveGuid, verify: true })).toMatchObject({ damagedBlocks: 0 });
    await r.close();
  });
});

describe("T10: duplicate, malformed and premature frames", () => {
  it("stores duplicates once, refuses a hash mismatch before it is visible, and puts before open", async () => {
    fx = await startNode();
    const p = testPlacement();
    await fx.tenant.peer.call("place-archive", p);
    const { DataClient, storageToken } = await import("../src/testing.js");
    const early = await DataClient.connect(fx.node.url, storageToken(fx.key, p, fx.clock));
    const premature = randomBlocks(1);
    await early.put(premature);
    expect(early.nacked.get((premature[0] as TestBlock).id.toString("hex"))?.code).toBe("PROTOCOL_UNEXPECTED");
    await early.close();
    const { c, sessionId } = await backupClient(fx, p, false);
    const [x, y] = randomBlocks(2) as [TestBlock, TestBlock];
    await c.put([x, x, x]);
    const bad = { ...y, sha: Buffer.alloc(32, 1) };
    await c.put([bad]);
    expect(c.nacked.get(y.id.toString("hex"))?.code).toBe("INTEGRITY");
    expect(await c.have([x.id, y.id])).toEqual([true, false]);
    await commitFiles(c, sessionId, [{ blocks: [x] }]);
    const list = await fx.tenant.peer.call("list-archives", {});
    expect(list.archives[0]?.archiveBytes).toBe(x.data.length);
    // A commit that follows the head but whose manifest does not hash to its claimed hash is
    // refused, and the head stays where it was.
    const head = (await c.peer.call("list-versions", {})).versions.at(-1);
    const commit2 = (manifestHash: Buffer, prevManifestHash: Buffer | null) =>
      c.peer
        .call("commit", {
          sessionId,
          seq: 2,
          prevManifestHash,
          manifest: Buffer.alloc(10, 1),
          manifestHash,
          clientTime: 0,
          stats: { selectedFiles: 0, selectedBytes: 0, todoFiles: 0, todoBytes: 0 },
          complete: true,
        })
        .catch((e: unknown) => e);
    expect(isCairnError(await commit2(Buffer.alloc(32), head?.manifestHash ?? null), "INTEGRITY")).toBe(true);
    // one that does not chain to the head is a CONFLICT
    expect(isCairnError(await commit2(createHash("sha256").update(Buffer.alloc(10, 1)).digest(), null), "CONFLICT")).toBe(true);
    expect((await c.peer.call("list-versions", {})).versions.map((v) => v.seq)).toEqual([1]);
    // blocks sent after a commit belong to the session's next version: accepted and stored
    const [z] = randomBlocks(1) as [TestBlock];
    await c.put([z]);
    expect(await c.have([z.id])).toEqual([true]);
    await commitFiles(c, sessionId, [{ blocks: [z] }]);
    expect((await c.peer.call("list-versions", {})).versions.map((v) => v.seq)).toEqual([1, 2]);
    await c.close();
  });
});
