/**
 * A destination from a provider key (DECISIONS.md "Provider tenants"): the first cluster's
 * storage node issues a key; a second authority (own data directory, own keys) adds a destination
 * with it, dials the node as its tenant and keeps that link up; its agent backs up and restores
 * through the node, while neither authority sees the other's archives. The second authority's
 * primary administrator may back up there but not restore.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createProviderKey } from "@cairn/storenode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, relinked, startCluster } from "./helpers/cluster.js";

let provider: Cluster;
let tenant: Cluster;

beforeAll(async () => {
  provider = await startCluster({ agents: 1 });
  tenant = await startCluster({ nodes: 0, agents: 0 });
}, 90_000);
afterAll(async () => {
  await tenant?.dispose();
  await provider?.dispose();
});

describe("provider destinations", () => {
  it("a second authority adds the provider's node with its key and backs up and restores through it", async () => {
    // the provider's own tenant backs up first
    const own = provider.agents[0]!;
    writeFileSync(join(own.home, "own.txt"), "provider's own data\n");
    own.select();
    await own.backup();

    const node = provider.nodes[0]!;
    const key = createProviderKey({ dataDir: node.dataDir, tenantName: "Second authority", urls: [node.handle.url] });
    const dest = await tenant.addProviderDestination("Cloud storage", key.providerKey);
    const py = tenant.authority.py42();
    const dests = (await py.data("GET", "/api/v1/destinations")) as { destinations: Record<string, unknown>[] };
    expect(dests.destinations).toEqual([
      expect.objectContaining({
        destinationId: dest.destinationId,
        type: "PROVIDER",
        isProvider: true,
        offeredSystemWide: true,
        autoStart: true,
        serverCount: 1,
      }),
    ]);
    // the key is spent: adding it again is refused and creates nothing
    const again = await py.call("POST", "/api/v1/destinations", { destinationName: "Again", providerKey: key.providerKey });
    expect(again.status).toBe(400);
    expect(again.text).toContain("PROVIDER_KEY_INVALID");

    const agent = await tenant.addAgent({ username: "tenant-user@example.com" });
    mkdirSync(join(agent.home, "docs"), { recursive: true });
    const files = { "notes.txt": Buffer.from("tenant data\n"), "docs/blob.bin": randomBytes(200_000) };
    for (const [p, b] of Object.entries(files)) writeFileSync(join(agent.home, p), b);
    agent.select();
    const r = await agent.backup();
    expect(r.errors).toBe(0);
    const target = join(tenant.dir, "restored");
    const res = await agent.restore({ target, paths: [`${agent.home}/`] });
    expect(res.errors).toBe(0);
    for (const [p, b] of Object.entries(files)) expect(readFileSync(join(target, "home1", p)).equals(b), p).toBe(true);

    // figures arrive over the tenant link
    await node.handle.report();
    const device = (await py.data("GET", `/api/Computer/${agent.registration.guid}?idType=guid&incBackupUsage=True`)) as {
      backupUsage: { archiveBytes: number; isProvider: boolean; targetComputerGuid: string }[];
    };
    expect(device.backupUsage[0]).toMatchObject({ isProvider: true, targetComputerGuid: dest.destinationGuid });
    await expect
      .poll(
        async () =>
          ((await py.data("GET", `/api/Computer/${agent.registration.guid}?idType=guid&incBackupUsage=True`)) as typeof device).backupUsage[0]?.archiveBytes,
      )
      .toBeGreaterThan(200_000);
  });

  it("keeps the archives of the two authorities apart", async () => {
    const tp = tenant.authority.py42();
    const pp = provider.authority.py42();
    const tenantArchives = (
      (await tp.data("GET", `/api/Archive?userUid=${tenant.agents[0]!.registration.userUid}&pgNum=1&pgSize=100`)) as { archives: { archiveGuid: string }[] }
    ).archives;
    const providerArchives = (
      (await pp.data("GET", `/api/Archive?userUid=${provider.agents[0]!.registration.userUid}&pgNum=1&pgSize=100`)) as { archives: { archiveGuid: string }[] }
    ).archives;
    expect(tenantArchives).toHaveLength(1);
    expect(providerArchives).toHaveLength(1);
    const t = tenantArchives[0]!.archiveGuid;
    const p = providerArchives[0]!.archiveGuid;
    expect((await pp.call("GET", `/api/Archive/${t}`)).status).toBe(404);
    expect((await tp.call("GET", `/api/Archive/${p}`)).status).toBe(404);
    // the node answers each authority about its own namespace only
    const tLink = tenant.authority.ctx.nodes.all()[0]!;
    await expect(tLink.peer.call("archive-versions", { archiveGuid: p })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect((await tLink.peer.call("archive-versions", { archiveGuid: t })).versions.length).toBeGreaterThan(0);
    const pLink = provider.authority.ctx.nodes.all()[0]!;
    await expect(pLink.peer.call("archive-versions", { archiveGuid: t })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("keeps the tenant link up across a restart of the provider's node", async () => {
    const link = tenant.authority.ctx.nodes.all()[0]!;
    await provider.nodes[0]!.restart();
    await relinked(tenant.authority, link.serverId, link);
    const agent = tenant.agents[0]!;
    writeFileSync(join(agent.home, "after-restart.txt"), "still here\n");
    const r = await agent.backup();
    expect(r.errors).toBe(0);
  });

  it("lets the tenant's primary administrator back up to the provider but not restore from it", async () => {
    const admin = await tenant.addAgent({ username: tenant.authority.adminUsername, password: tenant.authority.adminPassword });
    writeFileSync(join(admin.home, "admin.txt"), "admin data\n");
    admin.select();
    expect((await admin.backup()).errors).toBe(0);
    await expect(admin.restore({ target: join(tenant.dir, "admin-restore"), paths: [`${admin.home}/`] })).rejects.toMatchObject({ code: "FORBIDDEN" });
    const py = tenant.authority.py42();
    const r = await py.call("POST", "/api/DataKeyToken", { computerGuid: admin.registration.guid });
    expect(r.status).toBe(403);
    expect(r.text).toContain("PROVIDER_RESTORE_FORBIDDEN");
  });
});
