/**
 * Restores from a provider destination (seed 000 "Restrictions"): a second authority's storage
 * node issues a provider key, this authority adds a destination with it and its agent backs up
 * there. The primary administrator (the first account) may not restore from it, by zip, server
 * or push restore (403 PROVIDER_RESTORE_FORBIDDEN, whether or not a data key token was asked
 * for), while another administrator with the right role restores all three ways.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type AgentHandle, startAgent } from "@cairn/agent";
import { operationsOf } from "@cairn/authority";
import { createProviderKey } from "@cairn/storenode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, type ClusterAgent, startCluster } from "./helpers/cluster.js";
import { Py42Restore, RestoreStepError, zipEntries } from "./helpers/restore-client.js";

let provider: Cluster;
let tenant: Cluster;
let agent: ClusterAgent;
let daemon: AgentHandle;
let primary: Py42Restore;
let second: Py42Restore;
let serverDir: string;
const blob = randomBytes(300_000);

beforeAll(async () => {
  provider = await startCluster({ agents: 0 });
  tenant = await startCluster({ nodes: 0, agents: 0 });
  const node = provider.nodes[0]!;
  const key = createProviderKey({ dataDir: node.dataDir, tenantName: "Tenant authority", urls: [node.handle.url] });
  await tenant.addProviderDestination("Cloud", key.providerKey);
  agent = await tenant.addAgent({ username: "cloud-user@example.com" });
  writeFileSync(join(agent.home, "blob.bin"), blob);
  agent.select();
  expect((await agent.backup()).errors).toBe(0);
  serverDir = join(tenant.dir, "server-restores");
  operationsOf(tenant.authority.ctx).restores.configure({ serverRestoreDir: serverDir });
  const py = tenant.authority.py42();
  await py.data("POST", "/api/User", {
    orgUid: tenant.authority.orgUid,
    username: "admin2@example.com",
    email: null,
    password: "second admin 12",
    firstName: null,
    lastName: null,
    notes: null,
  });
  const u = (await py.data("GET", "/api/User?username=admin2@example.com&pgNum=1&pgSize=1")) as { users: { userId: number }[] };
  await py.data("POST", "/api/UserRole", { userId: u.users[0]?.userId, roleName: "Cross Org Admin" });
  primary = new Py42Restore(tenant.authority, py);
  second = new Py42Restore(tenant.authority, tenant.authority.py42("admin2@example.com", "second admin 12"));
  daemon = await startAgent({ dataDir: agent.dataDir, clock: tenant.clock, logger: tenant.logger, tickMs: 0, localApi: false });
  const deviceId = (await tenant.authority.ctx.store.getDeviceByGuid(agent.registration.guid))?.deviceId as number;
  for (let i = 0; i < 400 && !tenant.authority.ctx.agents.isConnected(deviceId); i++) await new Promise((r) => setTimeout(r, 25));
}, 150_000);
afterAll(async () => {
  await daemon?.close();
  primary?.close();
  second?.close();
  await tenant?.dispose();
  await provider?.dispose();
});

async function refusal(p: Promise<unknown>): Promise<string | undefined> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof RestoreStepError)) throw new Error(`expected a refusal, got ${String(e)}`);
  return e.errorName;
}

describe("restores from a provider destination", () => {
  it("refuses the primary administrator: zip, server and push, with or without a data key token", async () => {
    const g = agent.registration.guid;
    const file = `${agent.home}/blob.bin`;
    expect(await refusal(primary.zip(g, [file]))).toBe("PROVIDER_RESTORE_FORBIDDEN");
    for (const o of [{}, { restoreToServer: true }])
      expect(await refusal(primary.zip(g, [file], { ...o, noDataKeyToken: true }))).toBe("PROVIDER_RESTORE_FORBIDDEN");
    expect(await refusal(primary.push(g, g, [file], { restorePath: join(tenant.dir, "never") }, { noDataKeyToken: true }))).toBe("PROVIDER_RESTORE_FORBIDDEN");
    const h = (await tenant.authority.py42().data("GET", "/api/RestoreHistory?pgNum=1&pgSize=10")) as { totalCount: number };
    expect(h.totalCount).toBe(0);
  });

  it("lets another administrator restore as a zip", async () => {
    const { zip } = await second.zip(agent.registration.guid, [`${agent.home}/blob.bin`]);
    expect((await zipEntries(zip.body)).get("blob.bin")?.equals(blob)).toBe(true);
  });

  it("lets another administrator restore to the server's file system", async () => {
    const jobId = await second.startWeb(agent.registration.guid, [`${agent.home}/blob.bin`], { restoreToServer: true });
    expect(await second.waitJob(jobId)).toMatchObject({ status: "done" });
    expect(readFileSync(join(serverDir, jobId, "blob.bin")).equals(blob)).toBe(true);
  });

  it("lets another administrator push to the device", async () => {
    const target = join(tenant.dir, "pushed");
    const jobId = await second.push(agent.registration.guid, agent.registration.guid, [`${agent.home}/blob.bin`], { restorePath: target });
    expect(await second.waitPlatformJob(jobId)).toMatchObject({ status: "done" });
    expect(readFileSync(join(target, "blob.bin")).equals(blob)).toBe(true);
  });
});
