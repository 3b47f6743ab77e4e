import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { type BlockFrame, CairnError, DATA_CHANNEL, decodeFrame, MAX_DATA_FRAME_BYTES } from "@cairn/protocol";
import { streamBlocks } from "../src/server/data-handlers.js";
import { randomBlocks } from "../src/testing.js";
import { backupClient, commitFiles, restoreClient } from "./helpers/archive.js";
import { type NodeFixture, startNode, testPlacement } from "./helpers/node.js";

let fx: NodeFixture | undefined;
afterEach(async () => {
  await fx?.teardown();
  fx = undefined;
});

describe("restore streaming", () => {
  it("sends one block at a time and waits for the transport to drain before the next", async () => {
    const data = new Map(Array.from({ length: 5 }, () => [randomBytes(32).toString("hex"), randomBytes(100)] as const));
    const ids = Buffer.concat([...data.keys()].map((k) => Buffer.from(k, "hex")));
    const sent: string[] = [];
    let release: (() => void) | null = null;
    // A store double with the read interface: the block in a buffer with the room asked for around it.
    const store = {
      read(id: Buffer, room?: { before(length: number): number; after: number }) {
        const d = data.get(id.toString("hex"));
        if (!d) throw new CairnError("NOT_FOUND", "block not found");
        const before = room?.before(d.length) ?? 0;
        const buf = Buffer.alloc(before + d.length + (room?.after ?? 0));
        d.copy(buf, before);
        return { length: d.length, done: Promise.resolve(buf) };
      },
    };
    const p = streamBlocks(
      { store },
      ids,
      {
        reqId: 1,
        signal: new AbortController().signal,
        sendBlock: (id) => {
          sent.push(Buffer.from(id).toString("hex"));
        },
        drain: () =>
          new Promise<void>((r) => {
            release = r;
          }),
      },
      (frame) => {
        const m = decodeFrame(frame, DATA_CHANNEL.id, MAX_DATA_FRAME_BYTES) as { id: Buffer; data: Buffer };
        expect(m.data.equals(data.get(m.id.toString("hex")) as Buffer)).toBe(true);
        sent.push(m.id.toString("hex"));
      },
    );
    for (let i = 1; i <= 5; i++) {
      while (sent.length < i) await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      expect(sent.length).toBe(i); // nothing more until the transport drains
      (release as unknown as () => void)();
    }
    expect(await p).toBe(5);
    expect(sent).toEqual([...data.keys()]);
  });

  it("streams an archive's blocks to its authority (archive-files, archive-get) and to the agent", async () => {
    fx = await startNode();
    const p = testPlacement();
    const { c, sessionId } = await backupClient(fx, p);
    const blocks = randomBlocks(40, 64 * 1024);
    await c.put(blocks);
    await commitFiles(c, sessionId, [{ blocks: blocks.slice(0, 20) }, { blocks: blocks.slice(20) }]);
    await c.close();
    const files = await fx.tenant.peer.call("archive-files", { archiveGuid: p.archiveGuid, at: null, cursor: null, limit: 1, includeDeleted: false });
    expect(files.files).toHaveLength(1);
    expect(files.cursor).not.toBeNull();
    const rest = await fx.tenant.peer.call("archive-files", { archiveGuid: p.archiveGuid, at: null, cursor: files.cursor, limit: 10, includeDeleted: false });
    expect(rest.files).toHaveLength(1);
    expect(rest.cursor).toBeNull();
    const got: BlockFrame[] = [];
    const r = await fx.tenant.peer.call(
      "archive-get",
      { archiveGuid: p.archiveGuid, ids: Buffer.concat(blocks.map((b) => b.id)) },
      { onBlock: (b) => got.push(b) },
    );
    expect(r.count).toBe(40);
    expect(got.map((b) => b.id.toString("hex"))).toEqual(blocks.map((b) => b.id.toString("hex")));
    got.forEach((b, i) => {
      expect(b.data?.equals(blocks[i]?.data as Buffer)).toBe(true);
    });
    // Another archive of the same namespace holds none of these blocks: dedup is per archive.
    const q = testPlacement();
    const { c: other } = await backupClient(fx, q);
    expect(await other.have(blocks.slice(0, 3).map((b) => b.id))).toEqual([false, false, false]);
    await other.close();
    const agent = await restoreClient(fx, p);
    const viaAgent = await agent.get(blocks.map((b) => b.id));
    expect(viaAgent.size).toBe(40);
    await agent.close();
  });
});
