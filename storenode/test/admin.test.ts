import { randomBytes } from "node:crypto";
import { closeSync, openSync, readSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { maintainNode } from "../src/admin-client.js";
import { randomBlocks } from "../src/testing.js";
import { archiveDir, backupClient, blockLocation, commitFiles } from "./helpers/archive.js";
import { type NodeFixture, startNode, testPlacement } from "./helpers/node.js";

let fx: NodeFixture | undefined;
afterEach(async () => {
  await fx?.teardown();
  fx = undefined;
});
const logger = pino({ level: "silent" });

describe("operator maintenance and verification (cairn storenode maintain|verify)", () => {
  it("verifies every stored block through the running node's admin socket, and finds a flipped byte", async () => {
    fx = await startNode();
    expect(statSync(join(fx.dataDir, "admin.sock")).mode & 0o777).toBe(0o600);
    const p = testPlacement();
    const { c, sessionId } = await backupClient(fx, p);
    const blocks = randomBlocks(6);
    const fileId = randomBytes(16);
    await c.put(blocks);
    await commitFiles(c, sessionId, [{ fileId, blocks }]);
    await c.close();
    // the node's and the archive's databases (and their WAL files) are the service user's alone
    const archiveIndex = join(archiveDir(fx, p.archiveGuid), "index.db");
    for (const f of [join(fx.dataDir, "node.db"), `${join(fx.dataDir, "node.db")}-wal`, archiveIndex])
      expect((statSync(f).mode & 0o777).toString(8), f).toBe("600");

    const clean = await maintainNode({ dataDir: fx.dataDir, archiveGuid: null, verify: true, logger });
    expect(clean).toMatchObject({ via: "running node", archives: 1, damagedBlocks: 0 });

    const loc = blockLocation(fx, p.archiveGuid, blocks[2]?.id as Buffer);
    const flip = () => {
      const fd = openSync(loc.path, "r+");
      const b = Buffer.alloc(1);
      readSync(fd, b, 0, 1, loc.offset + Math.floor(loc.length / 2));
      b[0] = (b[0] as number) ^ 0x10;
      writeSync(fd, b, 0, 1, loc.offset + Math.floor(loc.length / 2));
      closeSync(fd);
    };
    flip();
    const damaged = await maintainNode({ dataDir: fx.dataDir, archiveGuid: p.archiveGuid, verify: true, verifyOnly: true, logger });
    expect(damaged.damagedBlocks).toBe(1);
    // T07: the report names the block, the file that references it and the version it was written in
    expect(damaged.damaged).toEqual([
      {
        archiveGuid: p.archiveGuid,
        blocks: 1,
        blockIds: [(blocks[2] as { id: Buffer }).id.toString("hex")],
        files: 1,
        fileIds: [fileId.toString("hex")],
        versions: [1],
      },
    ]);
    // the same block stays damaged for a maintenance run without verification (GC refuses on it)
    await expect(maintainNode({ dataDir: fx.dataDir, archiveGuid: p.archiveGuid, verify: false, logger })).rejects.toMatchObject({
      code: "STORE_INCONSISTENT",
    });

    // the operator puts the intact bytes back (a copy of the pack): the next verification clears the mark
    flip();
    const repaired = await maintainNode({ dataDir: fx.dataDir, archiveGuid: p.archiveGuid, verify: true, verifyOnly: true, logger });
    expect(repaired).toMatchObject({ damagedBlocks: 0, damaged: [] });
    expect(await maintainNode({ dataDir: fx.dataDir, archiveGuid: p.archiveGuid, verify: false, logger })).toMatchObject({ damagedBlocks: 0, refused: [] });
  });

  it("opens the data directory itself when no node is running", async () => {
    fx = await startNode();
    const p = testPlacement();
    const { c, sessionId } = await backupClient(fx, p);
    const blocks = randomBlocks(3);
    await c.put(blocks);
    await commitFiles(c, sessionId, [{ blocks }]);
    await c.close();
    await fx.node.close();
    const r = await maintainNode({ dataDir: fx.dataDir, archiveGuid: null, verify: true, logger });
    expect(r).toMatchObject({ via: "data directory", archives: 1, damagedBlocks: 0 });
  });
});
