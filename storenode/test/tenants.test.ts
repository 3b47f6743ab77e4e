import { existsSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { generateSigningKey, isCairnError, publicKeyInfo } from "@cairn/protocol";
import { connectTenant, DataClient, randomBlocks, storageToken, type TenantClient } from "../src/testing.js";
import { archiveDir, commitFiles, restoreClient } from "./helpers/archive.js";
import { type NodeFixture, startNode, testPlacement } from "./helpers/node.js";

let fx: NodeFixture | undefined;
let other: TenantClient | undefined;
afterEach(async () => {
  await other?.close();
  other = undefined;
  await fx?.teardown();
  fx = undefined;
});

async function refusedStatus(url: string, token: string): Promise<number> {
  try {
    const c = await DataClient.connect(url, token);
    await c.close();
    return 101;
  } catch (err) {
    return (err as { status: number }).status;
  }
}

describe("provider mode: tenants never reach each other's archives", () => {
  it("keeps each tenant in its own namespace for data, control, figures and purges", async () => {
    fx = await startNode();
    const keyB = generateSigningKey();
    other = await connectTenant(fx.node.url, { dataDir: fx.dataDir, key: keyB, tenantName: "tenant-b" });
    expect(other.tenantId).not.toBe(fx.tenant.tenantId);

    const x = testPlacement();
    await fx.tenant.peer.call("place-archive", x);
    const c = await DataClient.connect(fx.node.url, storageToken(fx.key, x, fx.clock));
    const { sessionId } = await c.peer.call("open", { archiveGuid: x.archiveGuid, mode: "backup", sessionId: null, agentVersion: "t" });
    const blocks = randomBlocks(3);
    await c.put(blocks);
    await commitFiles(c, sessionId, [{ blocks }]);
    await c.close();

    // Tenant B's key cannot open tenant A's archive, whatever the claims say.
    expect(await refusedStatus(fx.node.url, storageToken(keyB, x, fx.clock))).toBe(401);
    // Nor can the own namespace's keys.
    const ownKey = generateSigningKey();
    await fx.restart({ trustedAuthorityKeys: [publicKeyInfo(ownKey)] });
    other = await connectTenant(fx.node.url, { key: keyB, secret: other.tenantSecret });
    expect(await refusedStatus(fx.node.url, storageToken(ownKey, x, fx.clock))).toBe(401);

    // B's control link sees nothing of A: not found, like an archive that does not exist.
    const notFound = async (p: Promise<unknown>) => isCairnError(await p.catch((e: unknown) => e), "NOT_FOUND");
    expect(await notFound(other.peer.call("archive-versions", { archiveGuid: x.archiveGuid }))).toBe(true);
    expect(await notFound(other.peer.call("archive-files", { archiveGuid: x.archiveGuid, at: null, cursor: null, limit: 10, includeDeleted: true }))).toBe(
      true,
    );
    expect(await notFound(other.peer.call("archive-get", { archiveGuid: x.archiveGuid, ids: blocks[0]?.id ?? Buffer.alloc(32) }))).toBe(true);
    expect(await notFound(other.peer.call("maintain", { archiveGuid: x.archiveGuid, verify: false }))).toBe(true);
    expect(await notFound(other.peer.call("update-archive", { ...x, quotaBytes: 1 }))).toBe(true);
    expect(await other.peer.call("purge-archive", { archiveGuid: x.archiveGuid })).toEqual({ freedBytes: 0, existed: false });
    expect((await other.peer.call("list-archives", {})).archives).toEqual([]);
    expect(await other.peer.call("device-connected", { deviceGuid: x.deviceGuid })).toEqual({ connected: false });

    // B may even use the same archive GUID: it gets its own archive, A's is untouched.
    const y = testPlacement({ archiveGuid: x.archiveGuid });
    await other.peer.call("place-archive", y);
    const cb = await DataClient.connect(fx.node.url, storageToken(keyB, y, fx.clock));
    const ob = await cb.peer.call("open", { archiveGuid: y.archiveGuid, mode: "backup", sessionId: null, agentVersion: "t" });
    expect(ob.head).toBeNull();
    expect(await cb.have(blocks.map((b) => b.id))).toEqual([false, false, false]);
    await cb.close();
    expect((await other.peer.call("list-archives", {})).archives.map((a) => a.archiveBytes)).toEqual([0]);
    const listA = (await fx.tenant.peer.call("list-archives", {})).archives;
    expect(listA).toHaveLength(1);
    expect(listA[0]?.archiveBytes).toBe(blocks.reduce((n, b) => n + b.data.length, 0));

    // A restores, then purges; B's archive of the same GUID survives.
    const r = await restoreClient(fx, x);
    for (const b of blocks) expect(((await r.get([b.id])).get(b.id.toString("hex")) as Buffer).equals(b.data)).toBe(true);
    await r.close();
    expect(await fx.tenant.peer.call("purge-archive", { archiveGuid: x.archiveGuid })).toMatchObject({ existed: true });
    expect(existsSync(archiveDir(fx, x.archiveGuid))).toBe(false);
    expect((await other.peer.call("archive-versions", { archiveGuid: y.archiveGuid })).versions).toEqual([]);
    expect(await refusedStatus(fx.node.url, storageToken(fx.key, x, fx.clock))).toBe(401);
  });

  it("registers a tenant once per provider key and authenticates it by its secret afterwards", async () => {
    fx = await startNode();
    expect(fx.tenant.tenantSecret).toMatch(/^cnt_/);
    const again = await connectTenant(fx.node.url, { key: fx.key, secret: fx.tenant.tenantSecret });
    expect((await again.peer.call("status", {})).serverGuid).toBe(fx.node.serverGuid);
    await again.close();
    const wrong = await connectTenant(fx.node.url, { key: fx.key, secret: "cnt_wrong-secret-wrong-secret-wrong" }).catch((e: unknown) => e);
    expect((wrong as { status: number }).status).toBe(401);
  });

  it("shows a tenant with a quota its quota as the node's size, once across its store points, never the host's disk", async () => {
    fx = await startNode({}, { storePoints: 2 });
    const quota = 5 * 1024 * 1024;
    other = await connectTenant(fx.node.url, { dataDir: fx.dataDir, key: generateSigningKey(), tenantName: "metered", quotaBytes: quota });
    const { storePoints } = await other.peer.call("status", {});
    expect(storePoints).toHaveLength(2);
    expect(storePoints.reduce((n, sp) => n + sp.totalBytes, 0)).toBe(quota);
    expect(storePoints.reduce((n, sp) => n + sp.freeBytes, 0)).toBeLessThanOrEqual(quota);
    // a tenant without a quota is sized by the disk
    for (const sp of (await fx.tenant.peer.call("status", {})).storePoints) expect(sp.totalBytes).toBeGreaterThan(quota);
  });

  it("quarantines an archive directory that has no placement instead of deleting it", async () => {
    fx = await startNode();
    const { mkdirSync, writeFileSync, readdirSync } = await import("node:fs");
    const stray = archiveDir(fx, "123456789012345678");
    mkdirSync(stray, { recursive: true });
    writeFileSync(`${stray}/keep-me`, "operator data");
    await fx.restart();
    expect(existsSync(stray)).toBe(false);
    const orphaned = readdirSync(`${fx.storePoint}/orphaned`);
    expect(orphaned).toHaveLength(1);
    expect(existsSync(`${fx.storePoint}/orphaned/${orphaned[0]}/keep-me`)).toBe(true);
  });

  it("takes the tenant's token-signing keys from set-authority-keys (rotation)", async () => {
    fx = await startNode();
    const p = testPlacement();
    await fx.tenant.peer.call("place-archive", p);
    const next = generateSigningKey();
    await fx.tenant.peer.call("set-authority-keys", { authorityPublicKeys: [publicKeyInfo(next)] });
    expect(await refusedStatus(fx.node.url, storageToken(fx.key, p, fx.clock))).toBe(401);
    expect(await refusedStatus(fx.node.url, storageToken(next, p, fx.clock))).toBe(101);
  });
});
