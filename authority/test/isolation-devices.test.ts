/**
 * T24 and T25 over the device, archive and storage routes and the agent channel: orgs A ⊃ A1 and
 * B, each with a registered device and an archive, and every scoped role of A calling every
 * id-taking route with ids from outside its scope. Zero successes, no data of the other tenant in
 * any answer, nothing changed; a device's credential reaches only its own archives.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Caller, caller, createOrg, createUser, dataOf, errorName } from "./api-fixture.js";
import { type DeviceFixture, deviceFixture, type TestDevice } from "./device-fixture.js";

interface Tenant {
  orgId: number;
  orgUid: string;
  name: string;
  username: string;
  device: TestDevice;
}

let f: DeviceFixture;
let A: Tenant;
let A1: Tenant;
let B: Tenant;
const principals: Record<string, Caller> = {};

async function tenant(name: string, parentUid: string, username: string): Promise<Tenant> {
  const org = await createOrg(f.admin, name, parentUid);
  const device = await f.device({ username, registrationKey: org.registrationKey, deviceName: `${name}-laptop` });
  return { orgId: org.orgId, orgUid: org.orgUid, name, username, device };
}

beforeAll(async () => {
  f = await deviceFixture();
  A = await tenant("Tenant A", f.a.orgUid, "a-owner@example.com");
  A1 = await tenant("Tenant A1", A.orgUid, "a1-owner@example.com");
  B = await tenant("Tenant B", f.a.orgUid, "b-owner@example.com");
  for (const [label, org, roles] of [
    ["Org Admin (A)", A, ["Org Admin"]],
    ["Org Manager (A)", A, ["Org Manager"]],
    ["Admin Restore Limited (A)", A, ["Admin Restore Limited"]],
    ["Desktop User (A)", A, []],
    ["Org Admin (A1)", A1, ["Org Admin"]],
  ] as const) {
    const username = `${label.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}@example.com`;
    await createUser(f.admin, org.orgUid, username, [...roles]);
    principals[label] = await caller(f.a, username, "password123");
  }
}, 60_000);
afterAll(async () => {
  await f.dispose();
});

function routes(t: Tenant): [string, string, unknown?][] {
  const d = t.device;
  return [
    ["GET", `/api/Computer/${d.computerId}?incBackupUsage=True&incSettings=True`],
    ["GET", `/api/Computer/${d.deviceGuid}?idType=guid`],
    ["PUT", `/api/Computer/${d.computerId}`, { name: "hijacked" }],
    ["PUT", `/api/ComputerBlock/${d.computerId}`],
    ["DELETE", `/api/ComputerBlock/${d.computerId}`],
    ["POST", "/api/v4/computer-deactivation/update", { id: d.computerId }],
    ["POST", "/api/v4/computer-deactivation/remove", { id: d.computerId }],
    ["PUT", `/api/ComputerDeauthorization/${d.computerId}`],
    ["GET", `/api/Computer?orgUid=${t.orgUid}&pgNum=1&pgSize=10`],
    ["GET", `/api/Computer?userUid=${d.userUid}&pgNum=1&pgSize=10`],
    ["GET", `/api/Archive/${d.archiveGuid}`],
    ["GET", `/api/Archive?backupSourceGuid=${d.deviceGuid}&pgNum=1&pgSize=10`],
    ["GET", `/api/Archive?userUid=${d.userUid}&pgNum=1&pgSize=10`],
    ["GET", `/c42api/v3/BackupSets/${d.deviceGuid}/${f.dest.guid}`],
    ["POST", "/api/DataKeyToken", { computerGuid: d.deviceGuid }],
    ["POST", `/api/v1/orgs/${t.orgId}/upgrade-clients`],
    ["GET", "/api/v1/destinations"],
    ["POST", "/api/v1/destinations", { destinationName: "planted", providerKey: null }],
    ["PUT", `/api/v1/destinations/${f.dest.destinationId}`, { destinationName: "hijacked" }],
    ["DELETE", `/api/v1/destinations/${f.dest.destinationId}`],
    ["GET", `/api/v1/destinations/${f.dest.destinationId}`],
    ["GET", "/api/v1/servers"],
    ["GET", "/api/v1/store-points"],
    ["PUT", `/api/v1/store-points/${f.node.storePointIds[0]}`, { acceptingNew: false }],
    ["POST", "/api/v1/enroll-keys", { destinationId: f.dest.destinationId }],
  ];
}

const MATRIX: [string, () => Tenant][] = [
  ["Org Admin (A)", () => B],
  ["Org Manager (A)", () => B],
  ["Admin Restore Limited (A)", () => B],
  ["Desktop User (A)", () => B],
  ["Desktop User (A)", () => A1],
  ["Org Admin (A1)", () => A],
  ["Org Admin (A1)", () => B],
];

describe("T24: devices, archives and storage are isolated for every scoped role", () => {
  it.each(MATRIX.map(([who, target]) => [who, target] as const))("%s gets nothing from outside its scope", async (who, target) => {
    const p = principals[who] as Caller;
    const t = target();
    const failures: string[] = [];
    for (const [method, path, body] of routes(t)) {
      const r = await p.send(method, path, body);
      const ok = r.status === 404 || r.status === 403 || (r.status === 400 && errorName(r) === "ORG_NOT_FOUND");
      if (!ok) failures.push(`${method} ${path} → ${r.status} ${r.text.slice(0, 120)}`);
      for (const secret of [t.device.deviceGuid, t.device.archiveGuid as string, t.device.userUid, t.orgUid, t.username])
        if (r.text.includes(secret)) failures.push(`${method} ${path} leaked ${secret}`);
    }
    expect(failures).toEqual([]);
    expect(dataOf(await f.admin.get(`/api/Computer/${t.device.computerId}`))).toMatchObject({
      name: `${t.name}-laptop`,
      active: true,
      blocked: false,
      status: "Active",
    });
    expect(
      dataOf<{ destinations: { destinationName: string }[] }>(await f.admin.get("/api/v1/destinations")).destinations.map((d) => d.destinationName),
    ).toEqual(["Primary"]);
  });

  it("lists show nothing of other tenants", async () => {
    for (const who of Object.keys(principals)) {
      const p = principals[who] as Caller;
      for (const path of [
        "/api/Computer?pgNum=1&pgSize=500&incBackupUsage=True&incCounts=True",
        `/api/Archive?destinationGuid=${f.dest.guid}&pgNum=1&pgSize=500`,
      ]) {
        const r = await p.get(path);
        expect(r.status, `${who} ${path}`).toBe(200);
        const payload = JSON.stringify((r.json as { data?: unknown }).data ?? r.json);
        expect(payload.includes(B.device.deviceGuid) || payload.includes(B.device.archiveGuid as string), `${who} ${path} leaked B`).toBe(false);
      }
    }
    // a Desktop User sees its own devices only; an Org Admin of A sees A and A1
    const mine = dataOf<{ computers: { guid: string }[] }>(await (principals["Desktop User (A)"] as Caller).get("/api/Computer?pgNum=1&pgSize=500"));
    expect(mine.computers).toEqual([]);
    const oa = dataOf<{ computers: { guid: string }[] }>(await (principals["Org Admin (A)"] as Caller).get("/api/Computer?pgNum=1&pgSize=500"));
    expect(oa.computers.map((c) => c.guid).sort()).toEqual([A.device.deviceGuid, A1.device.deviceGuid].sort());
  });

  it("a device's credential reaches only its own archives", async () => {
    const link = A.device.link;
    const bArchive = B.device.archiveGuid as string;
    await expect(link.peer.call("set-archive-key", { archiveGuid: bArchive, wrappedArchiveKey: Buffer.alloc(61), keyVersion: 2 })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    const keys = await link.peer.call("get-archive-keys", {});
    expect(keys.keys.map((k) => k.archiveGuid)).toEqual([A.device.archiveGuid]);
    const tokens = await link.peer.call("renew-tokens", {});
    expect(tokens.tokens.map((t) => t.archiveGuid)).toEqual([A.device.archiveGuid]);
    await expect(link.peer.call("report-status", { agentVersion: "x", destinations: [] })).resolves.toEqual({});
  });
});

describe("T25 on devices", () => {
  it("a device's owner may rename it but not move, block or deactivate it", async () => {
    const owner = await caller(f.a, "a-owner@example.com", "device-password-1");
    const c = dataOf<Record<string, unknown>>(await owner.get(`/api/Computer/${A.device.computerId}`));
    expect((await owner.send("PUT", `/api/Computer/${A.device.computerId}`, { ...c, orgId: B.orgId })).status).toBe(403);
    expect((await owner.send("PUT", `/api/Computer/${A.device.computerId}`, { ...c, userId: 1 })).status).toBe(403);
    expect((await owner.send("PUT", `/api/ComputerBlock/${A.device.computerId}`)).status).toBe(403);
    expect((await owner.send("POST", "/api/v4/computer-deactivation/update", { id: A.device.computerId })).status).toBe(403);
    expect((await owner.send("PUT", `/api/Computer/${A.device.computerId}`, { ...c, name: "my laptop" })).status).toBe(200);
    expect(dataOf(await f.admin.get(`/api/Computer/${A.device.computerId}`))).toMatchObject({ name: "my laptop", orgId: A.orgId });
    dataOf(await f.admin.send("PUT", `/api/Computer/${A.device.computerId}`, { name: "Tenant A-laptop" }));
  });
});
