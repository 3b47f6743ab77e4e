/**
 * T24 over the operations routes: restores (LoginToken, the storage endpoints of API.md §8–§10
 * with a Bearer token and with a storage token `token t1-t2`, WebRestoreInfo, connectedServerUrl,
 * restore history), legal hold, cold storage, backup reports and API tokens. Orgs A ⊃ A1 and B,
 * each with a device and archive, an open restore session, a size job and a restore job of its
 * owner, a matter with a custodian, an archive in cold storage and an API token; every scoped
 * role of A calls every id-taking route with the ids of an org outside its scope. Zero successes,
 * the uniform 404/403, no data of the other tenant in any answer, nothing changed, and the
 * denials are in the audit log (the storage endpoints authenticate themselves and audit too).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { operationsOf } from "../src/operations-plugins.js";
import type { RestoreJob } from "../src/restores/restore-jobs.js";
import { type Caller, caller, createOrg, createUser, dataOf, errorName } from "./api-fixture.js";
import { type DeviceFixture, deviceFixture, type TestDevice } from "./device-fixture.js";

interface Tenant {
  orgId: number;
  orgUid: string;
  name: string;
  username: string;
  ownerUserId: number;
  device: TestDevice;
  sessionId: string;
  sizeJobId: string;
  restoreJobId: string;
  policyUid: string;
  holdUid: string;
  membershipUid: string;
  legalUsername: string;
  cold: { archiveId: number; archiveGuid: string; holdExpireDate: string };
  tokenId: number;
}

let f: DeviceFixture;
let A: Tenant;
let A1: Tenant;
let B: Tenant;
const principals: Record<string, Caller> = {};
/** A session each principal opened on a device of its own scope, when its role lets it. */
const ownSessions: Record<string, { sessionId: string; deviceGuid: string } | null> = {};
const DEVICE_PASSWORD = "device-password-1";

async function tenant(name: string, parentUid: string, username: string): Promise<Tenant> {
  const org = await createOrg(f.admin, name, parentUid);
  // an older device whose archive went to cold storage when it was deactivated
  const old = await f.device({ username, registrationKey: org.registrationKey, deviceName: `${name}-old` });
  expect((await f.admin.send("POST", "/api/v4/computer-deactivation/update", { id: old.computerId })).status).toBe(204);
  const coldRow = dataOf<{ coldStorageRows: { archiveId: number; archiveGuid: string; archiveHoldExpireDate: string }[] }>(
    await f.admin.get(`/api/ColdStorage?orgId=${org.orgId}&pgNum=1&pgSize=10`),
  ).coldStorageRows[0];
  if (coldRow === undefined) throw new Error("the deactivated device's archive is not in cold storage");
  const device = await f.device({ username, registrationKey: org.registrationKey, deviceName: `${name}-laptop` });
  const owner = await caller(f.a, username, DEVICE_PASSWORD);
  const session = dataOf<{ webRestoreSessionId: string }>(await owner.send("POST", "/api/WebRestoreSession", { computerGuid: device.deviceGuid }));
  // the owner's size job and restore job (the authority-only fixture reads no archive contents, so
  // they are placed as the services would hold them; ownership is what the routes check)
  const ops = operationsOf(f.a.ctx);
  const sizeJobId = `size${name.replace(/\W/g, "")}`;
  (ops.restores as unknown as { sizeJobs: Map<string, unknown> }).sizeJobs.set(sizeJobId, {
    userId: owner.userId,
    deviceGuid: device.deviceGuid,
    numFiles: 1,
    numDirs: 0,
    size: 5,
    createdAt: f.a.ctx.clock.now(),
  });
  const restoreJobId = `job${name.replace(/\W/g, "")}`;
  (ops.restoreJobs as unknown as { jobs: Map<string, Partial<RestoreJob>> }).jobs.set(restoreJobId, {
    jobId: restoreJobId,
    kind: "WEB",
    userId: owner.userId,
    state: "done",
    createdAt: f.a.ctx.clock.now(),
    expiresAt: f.a.ctx.clock.now() + 86_400_000,
    keys: null,
    streaming: false,
    ended: true,
    abort: new AbortController(),
  });
  const legalUsername = `legal-${name.replace(/\W+/g, "-").toLowerCase()}@example.com`;
  await createUser(f.admin, org.orgUid, legalUsername, ["Org Legal Admin"]);
  const legal = await caller(f.a, legalUsername, "password123");
  const policy = dataOf<{ legalHoldPolicyUid: string }>(await legal.send("POST", "/api/v4/legal-hold-policy/create", { name: `${name} policy`, policy: null }));
  const hold = dataOf<{ legalHoldUid: string }>(
    await legal.send("POST", "/api/LegalHold", {
      name: `${name} matter`,
      holdPolicyUid: policy.legalHoldPolicyUid,
      description: null,
      notes: null,
      holdExtRef: null,
    }),
  );
  const membership = dataOf<{ legalHoldMembershipUid: string }>(
    await legal.send("POST", "/api/LegalHoldMembership", { legalHoldUid: hold.legalHoldUid, userUid: device.userUid }),
  );
  const token = dataOf<{ tokenId: number }>(await owner.send("POST", "/api/v1/api-tokens", { name: `${name} script` }));
  return {
    orgId: org.orgId,
    orgUid: org.orgUid,
    name,
    username,
    ownerUserId: owner.userId,
    device,
    sessionId: session.webRestoreSessionId,
    sizeJobId,
    restoreJobId,
    policyUid: policy.legalHoldPolicyUid,
    holdUid: hold.legalHoldUid,
    membershipUid: membership.legalHoldMembershipUid,
    legalUsername,
    cold: { archiveId: coldRow.archiveId, archiveGuid: coldRow.archiveGuid, holdExpireDate: coldRow.archiveHoldExpireDate },
    tokenId: token.tokenId,
  };
}

beforeAll(async () => {
  f = await deviceFixture();
  A = await tenant("Tenant A", f.a.orgUid, "a-owner@example.com");
  A1 = await tenant("Tenant A1", A.orgUid, "a1-owner@example.com");
  B = await tenant("Tenant B", f.a.orgUid, "b-owner@example.com");
  for (const [label, org, roles] of [
    ["Org Admin (A)", A, ["Org Admin"]],
    ["Org Manager (A)", A, ["Org Manager"]],
    ["Org Legal Admin (A)", A, ["Org Legal Admin"]],
    ["Admin Restore Limited (A)", A, ["Admin Restore Limited"]],
    ["Desktop User (A)", A, []],
    ["Org Admin (A1)", A1, ["Org Admin"]],
  ] as const) {
    const username = `${label.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}@example.com`;
    await createUser(f.admin, org.orgUid, username, [...roles]);
    const c = await caller(f.a, username, "password123");
    principals[label] = c;
    const r = await c.send("POST", "/api/WebRestoreSession", { computerGuid: org.device.deviceGuid });
    ownSessions[label] =
      r.status === 200
        ? { sessionId: (r.json as { data: { webRestoreSessionId: string } }).data.webRestoreSessionId, deviceGuid: org.device.deviceGuid }
        : null;
  }
}, 120_000);
afterAll(async () => {
  await f?.dispose();
});

const FILES = [{ backupSetId: "1", files: [{ fileType: "DIRECTORY", path: "/", selected: true }] }];

/** Every id-taking operations route, aimed at tenant `t`; `own` is the caller's own session, if any. */
function routes(t: Tenant, own: { sessionId: string; deviceGuid: string } | null, ownHold: string): [string, string, unknown?][] {
  const d = t.device;
  const push = (sessionId: string, sourceGuid: string) => ({
    sourceComputerGuid: sourceGuid,
    acceptingComputerGuid: d.deviceGuid,
    webRestoreSessionId: sessionId,
    targetNodeGuid: f.node.serverGuid,
    restorePath: "/srv/restored",
    restoreGroups: FILES,
    numFiles: 1,
    numBytes: 1,
    showDeleted: null,
    permitRestoreToDifferentOsVersion: false,
    filePermissions: null,
    restoreFullPath: null,
    fileLocation: null,
    existingFiles: "RENAME_ORIGINAL",
  });
  return [
    // restores (API.md §8–§10)
    ["POST", "/api/LoginToken", { userId: "my", sourceGuid: d.deviceGuid, destinationGuid: f.dest.guid }],
    ["POST", "/api/WebRestoreSession", { computerGuid: d.deviceGuid, dataKeyToken: null, privatePassword: null, encryptionKey: null }],
    ["GET", `/api/WebRestoreTreeNode?webRestoreSessionId=${t.sessionId}&guid=${d.deviceGuid}&showDeleted=True`],
    ["POST", "/api/WebRestoreFileSizePolling", { guid: d.deviceGuid, fileId: "0123456789abcdef", timestamp: null, showDeleted: null }],
    ["GET", `/api/WebRestoreFileSizePolling?jobId=${t.sizeJobId}&guid=${d.deviceGuid}`],
    ["POST", "/api/v9/restore/web", { sourceComputerGuid: d.deviceGuid, webRestoreSessionId: t.sessionId, restoreGroups: FILES, showDeleted: true }],
    ["POST", "/api/v9/restore/web", { sourceComputerGuid: d.deviceGuid, webRestoreSessionId: t.sessionId, restoreGroups: FILES, restoreToServer: true }],
    ["POST", "/api/v9/restore/push", push(t.sessionId, d.deviceGuid)],
    ...(own ? ([["POST", "/api/v9/restore/push", push(own.sessionId, own.deviceGuid)]] as [string, string, unknown][]) : []),
    ["GET", `/api/WebRestoreJob/${t.restoreJobId}`],
    ["DELETE", "/api/WebRestoreJob", { jobId: t.restoreJobId }],
    ["GET", `/api/WebRestoreJobResult/${t.restoreJobId}`],
    ["GET", `/api/WebRestoreInfo?srcGuid=${d.deviceGuid}&destGuid=${f.dest.guid}`],
    ["GET", `/api/connectedServerUrl?guid=${d.deviceGuid}`],
    ["GET", `/api/RestoreHistory?orgId=${t.orgId}&pgNum=1&pgSize=10`],
    ["GET", `/api/RestoreHistory?userId=${t.ownerUserId}&pgNum=1&pgSize=10`],
    ["GET", `/api/RestoreHistory?computerId=${d.computerId}&pgNum=1&pgSize=10`],
    // legal hold (API.md §11)
    ["GET", `/api/LegalHold/${t.holdUid}`],
    ["POST", "/api/LegalHoldMembership", { legalHoldUid: t.holdUid, userUid: d.userUid }],
    ["POST", "/api/LegalHoldMembership", { legalHoldUid: ownHold, userUid: d.userUid }],
    ["GET", `/api/LegalHoldMembership?legalHoldUid=${t.holdUid}&pgNum=1&pgSize=10`],
    ["POST", "/api/LegalHoldMembershipDeactivation", { legalHoldMembershipUid: t.membershipUid }],
    ["POST", "/api/v4/legal-hold-deactivation/update", { legalHoldUid: t.holdUid }],
    ["PUT", `/api/LegalHoldReactivation/${t.holdUid}`],
    ["GET", `/api/LegalHoldEventReport?legalHoldUid=${t.holdUid}&pgNum=1&pgSize=10`],
    // cold storage (API.md §7.2)
    ["PUT", `/api/coldStorage/${t.cold.archiveId}`, { archiveHoldExpireDate: "2099-01-01" }],
    ["PUT", `/api/coldStorage/${t.cold.archiveGuid}?idType=guid`, { archiveHoldExpireDate: "2000-01-01" }],
    ["POST", "/api/v1/cold-storage/purge", { archiveGuids: [t.cold.archiveGuid] }],
    ["GET", `/api/ColdStorage?orgId=${t.orgId}&pgNum=1&pgSize=10`],
    ["POST", "/api/v1/cold-storage/export", { orgId: t.orgId }],
    // backup reports
    ["GET", `/api/v1/orgs/${t.orgId}/report-recipients`],
    ["POST", `/api/v1/orgs/${t.orgId}/backup-report`, { recipients: ["planted@example.com"], days: 7 }],
    // API tokens
    ["DELETE", `/api/v1/api-tokens/${t.tokenId}`],
  ];
}

const MATRIX: [string, () => Tenant, () => Tenant][] = [
  ["Org Admin (A)", () => B, () => A],
  ["Org Manager (A)", () => B, () => A],
  ["Org Legal Admin (A)", () => B, () => A],
  ["Admin Restore Limited (A)", () => B, () => A],
  ["Desktop User (A)", () => B, () => A],
  ["Desktop User (A)", () => A1, () => A],
  ["Org Admin (A1)", () => A, () => A1],
  ["Org Admin (A1)", () => B, () => A1],
];

const secretsOf = (t: Tenant) => [
  t.device.deviceGuid,
  t.device.archiveGuid as string,
  t.device.userUid,
  t.orgUid,
  t.username,
  t.legalUsername,
  t.cold.archiveGuid,
];

async function assertUntouched(t: Tenant): Promise<void> {
  const cold = dataOf<{ coldStorageRows: { archiveGuid: string; archiveHoldExpireDate: string }[] }>(
    await f.admin.get(`/api/ColdStorage?orgId=${t.orgId}&pgNum=1&pgSize=10`),
  ).coldStorageRows;
  expect(cold).toEqual([expect.objectContaining({ archiveGuid: t.cold.archiveGuid, archiveHoldExpireDate: t.cold.holdExpireDate })]);
  expect(dataOf(await f.admin.get(`/api/LegalHold/${t.holdUid}`))).toMatchObject({ active: true });
  const members = dataOf<{ legalHoldMemberships: { active: boolean }[] }>(
    await f.admin.get(`/api/LegalHoldMembership?legalHoldUid=${t.holdUid}&activeState=ALL&pgNum=1&pgSize=10`),
  ).legalHoldMemberships;
  expect(members.map((m) => m.active)).toEqual([true]);
  const owner = await caller(f.a, t.username, DEVICE_PASSWORD);
  const tokens = dataOf<{ apiTokens: { tokenId: number; revoked: boolean }[] }>(await owner.get("/api/v1/api-tokens")).apiTokens;
  expect(tokens).toContainEqual(expect.objectContaining({ tokenId: t.tokenId, revoked: false }));
  expect(
    operationsOf(f.a.ctx)
      .restoreJobs.list()
      .find((j) => j.jobId === t.restoreJobId)?.state,
  ).toBe("done");
  expect((await owner.get(`/api/WebRestoreTreeNode?webRestoreSessionId=${t.sessionId}&guid=${t.device.deviceGuid}`)).status).not.toBe(404);
}

describe("T24: restores, legal hold, cold storage, reports and API tokens are isolated for every scoped role", () => {
  it.each(MATRIX.map(([who, target, own]) => [who, target, own] as const))("%s gets nothing from outside its scope", async (who, target, own) => {
    const p = principals[who] as Caller;
    const t = target();
    const failures: string[] = [];
    for (const [method, path, body] of routes(t, ownSessions[who] ?? null, own().holdUid)) {
      const r = await p.send(method, path, body);
      const ok = r.status === 404 || r.status === 403;
      if (!ok) failures.push(`${method} ${path} ${JSON.stringify(body ?? null).slice(0, 60)} → ${r.status} ${errorName(r) ?? ""} ${r.text.slice(0, 120)}`);
      for (const secret of secretsOf(t)) if (r.text.includes(secret)) failures.push(`${method} ${path} leaked ${secret}`);
    }
    expect(failures).toEqual([]);
    await assertUntouched(t);
  });

  it("another org's archive answers exactly as an archive that does not exist", async () => {
    const oa = principals["Org Admin (A)"] as Caller;
    const made = "123456789012345678";
    const calls = (live: string, cold: string): [string, string, unknown?][] => [
      ["GET", `/api/Archive/${live}`],
      ["GET", `/api/Archive/${cold}`],
      ["PUT", `/api/coldStorage/${cold}?idType=guid`, { archiveHoldExpireDate: "2099-01-01" }],
      ["POST", "/api/v1/cold-storage/purge", { archiveGuids: [cold] }],
    ];
    const theirs = calls(B.device.archiveGuid as string, B.cold.archiveGuid);
    const none = calls(made, made);
    for (const [i, [method, path, body]] of theirs.entries()) {
      const [, madePath, madeBody] = none[i] as [string, string, unknown?];
      const [r, m] = [await oa.send(method, path, body), await oa.send(method, madePath, madeBody)];
      expect(r.status, `${method} ${path}`).toBe(404);
      expect({ status: r.status, body: r.text }, `${method} ${path}`).toEqual({ status: m.status, body: m.text });
    }
    await assertUntouched(B);
  });

  it("a storage token (token t1-t2) reaches no more than the user's Bearer token", async () => {
    const oa = principals["Org Admin (A)"] as Caller;
    const login = dataOf<{ loginToken: string }>(
      await oa.send("POST", "/api/LoginToken", { userId: "my", sourceGuid: A.device.deviceGuid, destinationGuid: f.dest.guid }),
    );
    const pair = (await f.a.client.request("POST", "/api/AuthToken", { headers: { authorization: `login_token ${login.loginToken}` } })).json as {
      data: string[];
    };
    const auth = { authorization: `token ${pair.data.join("-")}` };
    const failures: string[] = [];
    for (const [method, path, body] of routes(B, ownSessions["Org Admin (A)"] ?? null, A.holdUid)) {
      if (!/WebRestore(?!Info)|restore\/(web|push)/.test(path)) continue;
      const r = await f.a.client.request(method, path, { headers: auth, ...(body !== undefined ? { body } : {}) });
      if (r.status !== 404 && r.status !== 403) failures.push(`${method} ${path} → ${r.status} ${r.text.slice(0, 120)}`);
      for (const secret of secretsOf(B)) if (r.text.includes(secret)) failures.push(`${method} ${path} leaked ${secret}`);
    }
    expect(failures).toEqual([]);
    // the same token works on the caller's own device
    expect((await f.a.client.request("POST", "/api/WebRestoreSession", { headers: auth, body: { computerGuid: A.device.deviceGuid } })).status).toBe(200);
  });

  it("audits the denials, the storage endpoints' included", async () => {
    const entries = dataOf<{ auditEntries: { action: string; outcome: string; actorUsername: string | null }[] }>(
      await f.admin.get("/api/v1/audit-log?pgNum=1&pgSize=5000"),
    ).auditEntries.filter((e) => e.outcome === "denied");
    for (const who of ["Org Admin (A)", "Desktop User (A)", "Org Admin (A1)"]) {
      const mine = new Set(entries.filter((e) => e.actorUsername === (principals[who] as Caller).username).map((e) => e.action));
      for (const action of [
        "POST /api/WebRestoreSession",
        "GET /api/WebRestoreTreeNode",
        "POST /api/v9/restore/web",
        "POST /api/v9/restore/push",
        "GET /api/WebRestoreJob/:jobId",
        "DELETE /api/WebRestoreJob",
        "GET /api/WebRestoreJobResult/:jobId",
        "POST /api/LoginToken",
        "GET /api/LegalHold/:legalHoldUid",
        "POST /api/LegalHoldMembership",
        "PUT /api/coldStorage/:archiveId",
        "DELETE /api/v1/api-tokens/:tokenId",
      ])
        expect(mine.has(action), `${who}: ${action} is not audited`).toBe(true);
    }
  });

  it("keeps another org's legal-hold policy out of sight: not listed, not viewable, not usable for a matter (T24)", async () => {
    const la = principals["Org Legal Admin (A)"] as Caller;
    const view = await la.get(`/api/v4/legal-hold-policy/view?legalHoldPolicyUid=${B.policyUid}`);
    expect(view.status, view.text).toBe(404);
    const list = await la.get("/api/v4/legal-hold-policy/list");
    expect(list.status, list.text).toBe(200);
    expect(list.text).not.toContain(B.policyUid);
    expect(list.text).toContain(A.policyUid);
    for (const secret of secretsOf(B)) expect(list.text.includes(secret), `the list leaked ${secret}`).toBe(false);
    // a matter bound to B's policy is refused as for a policy that does not exist
    const matter = await la.send("POST", "/api/LegalHold", { name: "borrowed", holdPolicyUid: B.policyUid, description: null, notes: null, holdExtRef: null });
    expect(matter.status, matter.text).toBe(400);
    expect(dataOf<{ creatorUser: unknown }>(await la.get(`/api/v4/legal-hold-policy/view?legalHoldPolicyUid=${A.policyUid}`)).creatorUser).toMatchObject({
      username: A.legalUsername,
    });
  });
});
