import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { isCairnError, LEASE_TTL_MS, ManualClock, sha256 } from "@cairn/protocol";
import { openArchiveDb } from "../src/archive/schema.js";
import { Sessions } from "../src/archive/sessions.js";
import { DataClient, randomBlocks, storageToken } from "../src/testing.js";
import { metric } from "./helpers/http.js";
import { type NodeFixture, startNode, testPlacement } from "./helpers/node.js";

let fx: NodeFixture | undefined;
afterEach(async () => {
  await fx?.teardown();
  fx = undefined;
});

const stats = { selectedFiles: 0, selectedBytes: 0, todoFiles: 0, todoBytes: 0 };

describe("upload sessions (T09, T12)", () => {
  it("a session resumed by a second live connection is cut from the first: one lease, one writer", async () => {
    fx = await startNode();
    const p = testPlacement();
    await fx.tenant.peer.call("place-archive", p);
    const token = storageToken(fx.key, p, fx.clock);
    const a = await DataClient.connect(fx.node.url, token);
    const first = await a.peer.call("open", { archiveGuid: p.archiveGuid, mode: "backup", sessionId: null, agentVersion: "t" });
    // a clone of the device (same token, same session id) resumes the session while the first runs
    const b = await DataClient.connect(fx.node.url, token);
    const again = await b.peer.call("open", { archiveGuid: p.archiveGuid, mode: "backup", sessionId: first.sessionId, agentVersion: "t" });
    expect(again).toMatchObject({ sessionId: first.sessionId, resumed: true });
    const code = await a.closed;
    expect(code).toBe(4409);
    // the resuming connection goes on
    const blocks = randomBlocks(2);
    await b.put(blocks);
    expect(await b.have(blocks.map((x) => x.id))).toEqual([true, true]);
    await b.close();
  });

  it("resumes after a dropped connection: acknowledged blocks and staged files kept, none sent again", async () => {
    fx = await startNode();
    const p = testPlacement();
    await fx.tenant.peer.call("place-archive", p);
    const token = storageToken(fx.key, p, fx.clock);
    const a = await DataClient.connect(fx.node.url, token);
    const first = await a.peer.call("open", { archiveGuid: p.archiveGuid, mode: "backup", sessionId: null, agentVersion: "t" });
    const blocks = randomBlocks(10);
    await a.put(blocks);
    const fileId = randomBytes(16);
    await a.peer.call("stage-files", {
      sessionId: first.sessionId,
      files: [{ fileId, deleted: false, size: 10, blocks: Buffer.concat(blocks.map((b) => b.id)), meta: null }],
    });
    const received = await metric(fx.node.url, "storenode_bytes_received_total");
    a.ws.terminate(); // the network drops: no close handshake
    await a.closed;

    const b = await DataClient.connect(fx.node.url, token);
    const again = await b.peer.call("open", { archiveGuid: p.archiveGuid, mode: "backup", sessionId: first.sessionId, agentVersion: "t" });
    expect(again).toMatchObject({ sessionId: first.sessionId, resumed: true, staged: 1 });
    expect(await b.have(blocks.map((x) => x.id))).toEqual(blocks.map(() => true));
    const manifest = randomBytes(64);
    const r = await b.peer.call("commit", {
      sessionId: again.sessionId,
      seq: 1,
      prevManifestHash: null,
      manifest,
      manifestHash: sha256(manifest),
      clientTime: 0,
      stats,
      complete: true,
    });
    expect(r.seq).toBe(1);
    // Nothing was sent again: the node received no more block bytes after the drop.
    expect(await metric(fx.node.url, "storenode_bytes_received_total")).toBe(received);
    await b.close();
  });

  it("leaves no free pages and no WAL in the archive index after a commit (auto_vacuum = INCREMENTAL, checkpoint)", async () => {
    fx = await startNode();
    const p = testPlacement();
    await fx.tenant.peer.call("place-archive", p);
    const a = await DataClient.connect(fx.node.url, storageToken(fx.key, p, fx.clock));
    const s = await a.peer.call("open", { archiveGuid: p.archiveGuid, mode: "backup", sessionId: null, agentVersion: "t" });
    const blocks = randomBlocks(300, 64);
    await a.put(blocks);
    // Many staged files and protections, deleted at commit: free pages without auto_vacuum.
    const files = blocks.map((b) => ({ fileId: randomBytes(16), deleted: false, size: 64, blocks: b.id, meta: randomBytes(200) }));
    await a.peer.call("stage-files", { sessionId: s.sessionId, files });
    const manifest = randomBytes(64);
    await a.peer.call("commit", {
      sessionId: s.sessionId,
      seq: 1,
      prevManifestHash: null,
      manifest,
      manifestHash: sha256(manifest),
      clientTime: 0,
      stats,
      complete: true,
    });
    const ns = readdirSync(join(fx.storePoint, "archives"))[0] as string;
    const dir = join(fx.storePoint, "archives", ns, p.archiveGuid);
    expect(statSync(join(dir, "index.db-wal")).size).toBe(0);
    const db = new Database(join(dir, "index.db"), { readonly: true });
    try {
      expect(db.pragma("auto_vacuum", { simple: true })).toBe(2);
      expect(db.pragma("freelist_count", { simple: true })).toBe(0);
      expect((db.prepare("SELECT COUNT(*) AS n FROM file_versions").get() as { n: number }).n).toBe(300);
    } finally {
      db.close();
    }
    await a.peer.call("end-session", { sessionId: s.sessionId, abort: false });
    await a.close();
  });

  it("lets one writer hold an archive: a second is refused, and proceeds once the first's lease expires", async () => {
    fx = await startNode();
    const p = testPlacement();
    await fx.tenant.peer.call("place-archive", p);
    const token = storageToken(fx.key, p, fx.clock);
    const a = await DataClient.connect(fx.node.url, token);
    const b = await DataClient.connect(fx.node.url, token);
    const sa = await a.peer.call("open", { archiveGuid: p.archiveGuid, mode: "backup", sessionId: null, agentVersion: "t" });
    const refused = await b.peer.call("open", { archiveGuid: p.archiveGuid, mode: "backup", sessionId: null, agentVersion: "t" }).catch((e: unknown) => e);
    expect(isCairnError(refused, "ARCHIVE_IN_USE")).toBe(true);
    // Restores are not writers: they open alongside.
    await b.peer.call("open", { archiveGuid: p.archiveGuid, mode: "restore", sessionId: null, agentVersion: "t" });
    a.ws.terminate(); // the holder is killed
    await a.closed;
    const stillHeld = await b.peer.call("open", { archiveGuid: p.archiveGuid, mode: "backup", sessionId: null, agentVersion: "t" }).catch((e: unknown) => e);
    expect(isCairnError(stillHeld, "ARCHIVE_IN_USE")).toBe(true);
    fx.clock.advance(LEASE_TTL_MS + 1);
    const sb = await b.peer.call("open", { archiveGuid: p.archiveGuid, mode: "backup", sessionId: null, agentVersion: "t" });
    expect(sb.sessionId).not.toBe(sa.sessionId);
    // The old holder cannot come back while the new one holds the lease: never two writers.
    const c = await DataClient.connect(fx.node.url, token);
    const back = await c.peer.call("open", { archiveGuid: p.archiveGuid, mode: "backup", sessionId: sa.sessionId, agentVersion: "t" }).catch((e: unknown) => e);
    expect(isCairnError(back, "ARCHIVE_IN_USE")).toBe(true);
    const put = randomBlocks(1);
    c.send(put);
    await c.settled(put);
    expect(c.nacked.get(put[0]?.id.toString("hex") ?? "")?.code).toBe("PROTOCOL_UNEXPECTED");
    await b.close();
    await c.close();
  });

  it("ends a session with end-session and releases the lease at once", async () => {
    fx = await startNode();
    const p = testPlacement();
    await fx.tenant.peer.call("place-archive", p);
    const token = storageToken(fx.key, p, fx.clock);
    const a = await DataClient.connect(fx.node.url, token);
    const s = await a.peer.call("open", { archiveGuid: p.archiveGuid, mode: "backup", sessionId: null, agentVersion: "t" });
    expect(s.leaseExpiresAt).toBe(fx.clock.now() + LEASE_TTL_MS);
    const renewed = await a.peer.call("renew-lease", { sessionId: s.sessionId });
    expect(renewed.leaseExpiresAt).toBeGreaterThanOrEqual(s.leaseExpiresAt ?? 0);
    await a.peer.call("end-session", { sessionId: s.sessionId, abort: true });
    const b = await DataClient.connect(fx.node.url, token);
    await b.peer.call("open", { archiveGuid: p.archiveGuid, mode: "backup", sessionId: null, agentVersion: "t" });
    await a.close();
    await b.close();
  });
});

describe("session protections (T13) written in multi-row inserts", () => {
  it("records every block a session protects or stages, whole statements and remainder alike", () => {
    const dir = mkdtempSync(join(tmpdir(), "cairn-protect-"));
    const db = openArchiveDb(dir);
    try {
      const s = new Sessions(db, new ManualClock(), LEASE_TTL_MS);
      const { sessionId } = s.open("123456", null, null);
      const ids = Array.from({ length: 150 }, () => randomBytes(32));
      s.protect(sessionId, [...ids, ...ids.slice(0, 70)]); // duplicates are ignored
      const count = () => (db.prepare("SELECT COUNT(*) AS n FROM session_blocks WHERE session_id = ?").get(sessionId) as { n: number }).n;
      expect(count()).toBe(150);
      const staged = Array.from({ length: 131 }, () => randomBytes(32));
      s.stage(sessionId, [{ fileId: randomBytes(16), deleted: false, size: 1, blocks: Buffer.concat(staged), meta: null }]);
      expect(count()).toBe(281);
      const has = db.prepare<[Buffer, string]>("SELECT 1 FROM session_blocks WHERE block_id = ? AND session_id = ?");
      for (const id of [...ids, ...staged]) expect(has.get(id, sessionId)).toBeDefined();
      s.end(sessionId, false);
      expect(count()).toBe(0);
    } finally {
      db.close();
    }
  });
});
