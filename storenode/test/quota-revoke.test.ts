import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { isCairnError, MINUTE_MS } from "@cairn/protocol";
import { NodeDb } from "../src/node-db.js";
import { connectTenant, DataClient, randomBlocks, storageToken, type TenantClient } from "../src/testing.js";
import { backupClient } from "./helpers/archive.js";
import { type NodeFixture, startNode, testPlacement } from "./helpers/node.js";

let fx: NodeFixture | undefined;
let extra: TenantClient | undefined;
afterEach(async () => {
  await extra?.close();
  extra = undefined;
  await fx?.teardown();
  fx = undefined;
});

describe("quotas", () => {
  it("refuses the block past the archive's quota with QUOTA_EXCEEDED, and accepts again once raised", async () => {
    fx = await startNode();
    const p = testPlacement({ quotaBytes: 3 * 4096 });
    const { c } = await backupClient(fx, p);
    const blocks = randomBlocks(4, 4096);
    await c.put(blocks);
    expect(blocks.map((b) => (c.acked.has(b.id.toString("hex")) ? "ok" : c.nacked.get(b.id.toString("hex"))?.code))).toEqual([
      "ok",
      "ok",
      "ok",
      "QUOTA_EXCEEDED",
    ]);
    // a block already stored costs nothing: sent again (a resend after a reconnect) it is acknowledged
    c.acked.clear();
    c.nacked.clear();
    await c.put(blocks.slice(0, 1));
    expect(c.acked.has(blocks[0]?.id.toString("hex") ?? "")).toBe(true);
    expect(c.nacked.size).toBe(0);
    await fx.tenant.peer.call("update-archive", { ...p, quotaBytes: 8 * 4096 });
    c.nacked.clear();
    await c.put(blocks.slice(3));
    expect(c.acked.has(blocks[3]?.id.toString("hex") ?? "")).toBe(true);
    await c.close();
  });

  it("refuses blocks past the tenant's quota across its archives", async () => {
    fx = await startNode();
    const { generateSigningKey } = await import("@cairn/protocol");
    const key = generateSigningKey();
    extra = await connectTenant(fx.node.url, { dataDir: fx.dataDir, key, tenantName: "small", quotaBytes: 5 * 1000 });
    const p1 = testPlacement();
    const p2 = testPlacement();
    await extra.peer.call("place-archive", p1);
    await extra.peer.call("place-archive", p2);
    const open = async (p: typeof p1) => {
      const c = await DataClient.connect(fx?.node.url ?? "", storageToken(key, p, fx?.clock ?? { now: () => 0 }));
      await c.peer.call("open", { archiveGuid: p.archiveGuid, mode: "backup", sessionId: null, agentVersion: "t" });
      return c;
    };
    const a = await open(p1);
    await a.put(randomBlocks(3, 1000));
    expect(a.nacked.size).toBe(0);
    const b = await open(p2);
    const more = randomBlocks(3, 1000);
    await b.put(more);
    expect(more.map((x) => b.nacked.get(x.id.toString("hex"))?.code ?? "ok")).toEqual(["ok", "ok", "QUOTA_EXCEEDED"]);
    await a.close();
    await b.close();
  });
});

describe("revocations", () => {
  it("refuses a revoked device at once: its open socket is closed and its token no longer upgrades", async () => {
    fx = await startNode();
    const p = testPlacement();
    const { c } = await backupClient(fx, p);
    const token = storageToken(fx.key, p, fx.clock);
    await fx.tenant.peer.call("revoke", { revocations: [{ kind: "device", guid: p.deviceGuid, before: fx.clock.now() + 1000, scope: "all" }] });
    expect(await c.closed).toBe(4401);
    expect(c.events.map((e) => e.event)).toContain("revoked");
    const again = await DataClient.connect(fx.node.url, token).catch((e: unknown) => e);
    expect((again as { status: number }).status).toBe(401);
    expect((again as { body: string }).body).toContain("TOKEN_REVOKED");
    // A token issued after the revocation (the device was authorized again) works.
    fx.clock.advance(MINUTE_MS);
    const fresh = await DataClient.connect(fx.node.url, storageToken(fx.key, p, fx.clock));
    await fresh.peer.call("open", { archiveGuid: p.archiveGuid, mode: "backup", sessionId: null, agentVersion: "t" });
    await fresh.close();
  });

  it("blocks restores only for a restore-scoped revocation (a blocked user keeps backing up)", async () => {
    fx = await startNode();
    const p = testPlacement();
    const { c } = await backupClient(fx, p);
    const token = storageToken(fx.key, p, fx.clock);
    const r = await DataClient.connect(fx.node.url, token);
    await r.peer.call("open", { archiveGuid: p.archiveGuid, mode: "restore", sessionId: null, agentVersion: "t" });
    await fx.tenant.peer.call("revoke", { revocations: [{ kind: "user", guid: p.userUid, before: fx.clock.now() + 1000, scope: "restore" }] });
    expect(await r.closed).toBe(4401);
    const blocks = randomBlocks(2);
    await c.put(blocks);
    expect(c.nacked.size).toBe(0);
    const r2 = await DataClient.connect(fx.node.url, token);
    const refused = await r2.peer.call("open", { archiveGuid: p.archiveGuid, mode: "restore", sessionId: null, agentVersion: "t" }).catch((e: unknown) => e);
    expect(isCairnError(refused, "TOKEN_REVOKED")).toBe(true);
    await r2.close();
    await c.close();
  });

  it("lift-revocations (an unblock) lets the same token restore again; a block newer than the lift and scope all stay", async () => {
    const node = await startNode();
    fx = node;
    const p = testPlacement();
    const { c } = await backupClient(node, p);
    await c.close();
    const token = storageToken(node.key, p, node.clock);
    // "open", or why not (a full revocation already refuses the socket's upgrade)
    const opens = async () => {
      const r = await DataClient.connect(node.node.url, token).catch((e: Error) => e);
      if (r instanceof Error) return /TOKEN_REVOKED/.test(r.message) ? "TOKEN_REVOKED" : r.message;
      try {
        await r.peer.call("open", { archiveGuid: p.archiveGuid, mode: "restore", sessionId: null, agentVersion: "t" });
        return "open";
      } catch (e) {
        return isCairnError(e) ? e.code : String(e);
      } finally {
        await r.close();
      }
    };
    const t0 = node.clock.now() + 1000;
    const block = { kind: "device" as const, guid: p.deviceGuid, before: t0, scope: "restore" as const };
    await node.tenant.peer.call("revoke", { revocations: [block] });
    expect(await opens()).toBe("TOKEN_REVOKED");
    // an unblock that predates a newer block does not lift it
    await node.tenant.peer.call("revoke", { revocations: [{ ...block, before: t0 + 5000 }] });
    await node.tenant.peer.call("lift-revocations", { revocations: [block] });
    expect(await opens()).toBe("TOKEN_REVOKED");
    await node.tenant.peer.call("lift-revocations", { revocations: [{ ...block, before: t0 + 5000 }] });
    expect(await opens()).toBe("open");
    // scope all (deauthorize, deactivate) is never lifted
    const gone = { kind: "device" as const, guid: p.deviceGuid, before: t0, scope: "all" as const };
    await node.tenant.peer.call("revoke", { revocations: [gone] });
    await node.tenant.peer.call("lift-revocations", { revocations: [gone] });
    expect(await opens()).toBe("TOKEN_REVOKED");
  });

  it("an announce answer replaces the restore revocations (a missed unblock is caught up) and never drops one of scope all", () => {
    const dir = mkdtempSync(join(tmpdir(), "cairn-nodedb-revocations-"));
    const db = new NodeDb(dir);
    try {
      const dev = "11111111-1111-4111-8111-111111111111";
      db.addRevocations("ns", [
        { kind: "device", guid: dev, before: 1000, scope: "restore" },
        { kind: "user", guid: dev, before: 1000, scope: "all" },
      ]);
      db.addRevocations("other", [{ kind: "device", guid: dev, before: 1000, scope: "restore" }]);
      // the authority unblocked the device while the link was down, and lost the full revocation (restored from an old backup)
      db.setRevocationsFromAnnounce("ns", []);
      expect(db.revocationsFor("ns", dev, dev)).toEqual([{ kind: "user", guid: dev, scope: "all", before: 1000 }]);
      expect(db.revocationsFor("other", dev, dev)).toHaveLength(1);
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses backups to an archive in cold storage but still restores it", async () => {
    fx = await startNode();
    const p = testPlacement();
    const { c } = await backupClient(fx, p);
    await fx.tenant.peer.call("update-archive", { ...p, cold: true });
    expect(await c.closed).toBe(4409);
    const again = await DataClient.connect(fx.node.url, storageToken(fx.key, p, fx.clock));
    const cold = await again.peer.call("open", { archiveGuid: p.archiveGuid, mode: "backup", sessionId: null, agentVersion: "t" }).catch((e: unknown) => e);
    expect(isCairnError(cold, "ARCHIVE_COLD")).toBe(true);
    await again.peer.call("open", { archiveGuid: p.archiveGuid, mode: "restore", sessionId: null, agentVersion: "t" });
    expect((await fx.tenant.peer.call("list-archives", {})).archives[0]?.cold).toBe(true);
    await again.close();
  });
});
