/**
 * T24 (cross-tenant IDOR) and T25 (role escalation, mass assignment): the H8 seed — orgs A ⊃ A1
 * and B, a user of every role in A — and a matrix of every route that takes an id, called by
 * every principal with ids from outside its scope. Zero successes, no data of the other tenant in
 * any answer, nothing changed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAuthority, type TestAuthority } from "../src/testing.js";
import { type Caller, caller, createOrg, createUser, dataOf, errorName } from "./api-fixture.js";

interface Tenant {
  orgId: number;
  orgUid: string;
  name: string;
  userId: number;
  userUid: string;
  username: string;
}

let a: TestAuthority;
let admin: Caller;
let A: Tenant;
let A1: Tenant;
let B: Tenant;
const principals: Record<string, Caller> = {};

async function tenant(name: string, parentUid: string, username: string): Promise<Tenant> {
  const org = await createOrg(admin, name, parentUid);
  const u = await createUser(admin, org.orgUid, username);
  return { orgId: org.orgId, orgUid: org.orgUid, name, userId: u.userId, userUid: u.userUid, username };
}

beforeAll(async () => {
  a = await startTestAuthority();
  admin = await caller(a, a.adminUsername, a.adminPassword);
  A = await tenant("Tenant A", a.orgUid, "a-user@example.com");
  A1 = await tenant("Tenant A1", A.orgUid, "a1-user@example.com");
  B = await tenant("Tenant B", a.orgUid, "b-user@example.com");
  for (const [label, org, roles] of [
    ["Cross Org Admin (A)", A, ["Cross Org Admin"]],
    ["Org Admin (A)", A, ["Org Admin"]],
    ["Org Manager (A)", A, ["Org Manager"]],
    ["Admin Restore Limited (A)", A, ["Admin Restore Limited"]],
    ["Desktop User (A)", A, []],
    ["Org Admin (A1)", A1, ["Org Admin"]],
  ] as const) {
    const username = `${label.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}@example.com`;
    await createUser(admin, org.orgUid, username, [...roles]);
    principals[label] = await caller(a, username, "password123");
  }
});
afterAll(async () => {
  await a.dispose();
});

/** Every id-taking route, aimed at tenant `t` (and, for moves, the caller's own tenant `own`). */
function routes(t: Tenant, own: Tenant): [string, string, unknown?][] {
  return [
    ["GET", `/api/Org/${t.orgId}`],
    ["GET", `/api/Org/${t.orgUid}?idType=orgUid&incSettings=True&incDeviceDefaults=True&incInheritedOrgInfo=True&incCounts=True`],
    ["PUT", `/api/Org/${t.orgId}`, { orgName: "hijacked" }],
    ["PUT", `/api/OrgBlock/${t.orgId}`],
    ["DELETE", `/api/OrgBlock/${t.orgId}`],
    ["PUT", `/api/OrgDeactivation/${t.orgId}`],
    ["DELETE", `/api/OrgDeactivation/${t.orgId}`],
    ["GET", `/api/OrgSetting/${t.orgId}`],
    ["PUT", `/api/OrgSetting/${t.orgId}`, { packets: [{ key: "device_webRestore_enabled", value: "false", locked: true }] }],
    ["PUT", `/api/v1/orgs/${t.orgId}/parent`, { parentOrgId: own.orgId }],
    ["POST", `/api/v1/orgs/${t.orgId}/registration-key`],
    ["GET", `/api/v1/orgs/${t.orgId}/settings`],
    ["PUT", `/api/v1/orgs/${t.orgId}/settings`, { groups: { reporting: { values: { warnInDays: 1 } } } }],
    ["GET", `/api/v1/orgs/${t.orgId}/destinations`],
    ["PUT", `/api/v1/orgs/${t.orgId}/destinations`, { inherit: false, destinations: [] }],
    ["GET", `/api/v1/audit-log?orgId=${t.orgId}&pgNum=1&pgSize=10`],
    ["GET", `/api/User?orgUid=${t.orgUid}&pgNum=1&pgSize=10`],
    ["POST", "/api/User", { orgUid: t.orgUid, username: `planted-${t.orgId}-${Math.random()}@example.com`, password: "password123" }],
    ["POST", "/api/Org/", { orgName: "planted org", parentOrgUid: t.orgUid }],
    ["GET", `/api/User/${t.userId}`],
    ["GET", `/api/User/${t.userUid}?idType=uid&incRoles=True`],
    ["PUT", `/api/User/${t.userUid}?idType=uid`, { email: "hijack@example.com", password: "hijacked123" }],
    ["PUT", `/api/UserBlock/${t.userId}`],
    ["DELETE", `/api/UserBlock/${t.userId}`],
    ["PUT", `/api/UserDeactivation/${t.userId}`, { blockUser: true }],
    ["DELETE", `/api/UserDeactivation/${t.userId}`],
    ["POST", "/api/UserMoveProcess", { userId: t.userId, parentOrgId: own.orgId }],
    ["POST", "/api/UserMoveProcess", { userId: own.userId, parentOrgId: t.orgId }],
    ["GET", `/api/UserRole/${t.userId}`],
    ["POST", "/api/UserRole", { userId: t.userId, roleName: "Desktop User" }],
    ["DELETE", `/api/UserRole?userId=${t.userId}&roleName=Desktop%20User`],
    ["DELETE", `/api/v1/users/${t.userId}/totp`],
  ];
}

/** Who must get nothing from whom: subtree-scoped principals against orgs outside their subtree. */
const MATRIX: [string, () => Tenant, () => Tenant][] = [
  ["Org Admin (A)", () => B, () => A],
  ["Org Manager (A)", () => B, () => A],
  ["Admin Restore Limited (A)", () => B, () => A],
  ["Desktop User (A)", () => B, () => A],
  ["Desktop User (A)", () => A1, () => A],
  ["Org Admin (A1)", () => A, () => A1],
  ["Org Admin (A1)", () => B, () => A1],
];

describe("T24: tenant isolation over every id-taking route and every scoped role", () => {
  it.each(MATRIX.map(([who, target, own]) => [who, target, own] as const))("%s gets nothing from outside its scope", async (who, target, own) => {
    const p = principals[who] as Caller;
    const t = target();
    const failures: string[] = [];
    for (const [method, path, body] of routes(t, own())) {
      const r = await p.send(method, path, body);
      const okStatus = r.status === 404 || r.status === 403 || (r.status === 400 && errorName(r) === "ORG_NOT_FOUND");
      if (!okStatus) failures.push(`${method} ${path} → ${r.status} ${r.text.slice(0, 120)}`);
      if (r.text.includes(t.orgUid) || r.text.includes(t.userUid) || r.text.includes(t.username)) failures.push(`${method} ${path} leaked data`);
    }
    expect(failures).toEqual([]);
    // the other tenant is untouched
    const org = dataOf(await admin.get(`/api/Org/${t.orgId}?incSettings=True`));
    expect(org).toMatchObject({ orgName: t.name, active: true, blocked: false });
    expect(dataOf(await admin.get(`/api/User/${t.userId}`))).toMatchObject({ active: true, blocked: false, orgId: t.orgId, username: t.username });
  });

  it("lists and exports show nothing of other tenants", async () => {
    for (const who of ["Org Admin (A)", "Org Manager (A)", "Admin Restore Limited (A)", "Desktop User (A)"]) {
      const p = principals[who] as Caller;
      for (const path of [
        "/api/Org?pgNum=1&pgSize=500",
        "/api/User?pgNum=1&pgSize=500",
        `/api/User?username=${encodeURIComponent(B.username)}`,
        "/api/Org?q=Tenant%20B&pgNum=1&pgSize=10",
      ]) {
        const r = await p.get(path);
        expect(r.status, `${who} ${path}`).toBe(200);
        // the envelope's metadata echoes the caller's own query; the payload must hold nothing of B
        const payload = JSON.stringify((r.json as { data?: unknown }).data ?? r.json);
        expect(payload.includes(B.orgUid) || payload.includes(B.username), `${who} ${path} leaked`).toBe(false);
      }
      const csv = await p.get("/api/v1/orgs/export");
      expect(csv.text.includes(B.orgUid)).toBe(false);
    }
    // a Desktop User sees only itself and its own org
    const du = principals["Desktop User (A)"] as Caller;
    const users = dataOf<{ users: { userId: number }[] }>(await du.get("/api/User?pgNum=1&pgSize=500"));
    expect(users.users.map((u) => u.userId)).toEqual([du.userId]);
    const orgs = dataOf<{ orgs: { orgId: number }[] }>(await du.get("/api/Org?pgNum=1&pgSize=500"));
    expect(orgs.orgs.map((o) => o.orgId)).toEqual([A.orgId]);
  });

  it("all-organization roles reach other tenants, as the platform's roles reference says", async () => {
    const coa = principals["Cross Org Admin (A)"] as Caller;
    expect((await coa.get(`/api/Org/${B.orgId}`)).status).toBe(200);
    expect((await coa.get(`/api/User/${B.userId}`)).status).toBe(200);
    // the list is the caller's own subtree, own org first (API.md §4); allOrgs=True widens it
    const own = dataOf<{ orgs: { orgId: number }[] }>(await coa.get("/api/Org?pgNum=1&pgSize=100"));
    expect(own.orgs.map((o) => o.orgId)).toEqual([A.orgId, A1.orgId]);
    const all = dataOf<{ orgs: { orgId: number }[] }>(await coa.get("/api/Org?allOrgs=True&pgNum=1&pgSize=100"));
    expect(all.orgs.map((o) => o.orgId)).toContain(B.orgId);
    // a scoped role gains nothing from allOrgs
    const oa = principals["Org Admin (A)"] as Caller;
    expect(dataOf<{ orgs: { orgId: number }[] }>(await oa.get("/api/Org?allOrgs=True&pgNum=1&pgSize=100")).orgs.map((o) => o.orgId)).toEqual([
      A.orgId,
      A1.orgId,
    ]);
  });
});

describe("T25: role escalation and mass assignment", () => {
  it("an Org Admin cannot make itself Cross Org Admin, Customer Cloud Admin or SYSADMIN", async () => {
    const oa = principals["Org Admin (A)"] as Caller;
    for (const roleName of ["Cross Org Admin", "Customer Cloud Admin", "SYSADMIN", "Admin Restore", "Cross Org Manager"]) {
      const r = await oa.send("POST", "/api/UserRole", { userId: oa.userId, roleName });
      expect(r.status, roleName).toBe(403);
    }
    expect(dataOf<string[]>(await oa.get("/api/User/my?incRoles=True")) as unknown as { roles: string[] }).toMatchObject({
      roles: ["Org Admin", "Desktop User"],
    });
    // within its subtree it may hand out subtree roles
    expect((await oa.send("POST", "/api/UserRole", { userId: A1.userId, roleName: "Org Manager" })).status).toBe(200);
  });

  it("an Org Manager cannot assign roles at all, nor change org settings", async () => {
    const om = principals["Org Manager (A)"] as Caller;
    expect((await om.send("POST", "/api/UserRole", { userId: A.userId, roleName: "Desktop User" })).status).toBe(403);
    expect((await om.send("PUT", `/api/v1/orgs/${A.orgId}/settings`, { groups: { reporting: { values: { warnInDays: 1 } } } })).status).toBe(403);
    expect((await om.send("PUT", `/api/OrgDeactivation/${A.orgId}`)).status).toBe(403);
  });

  it("a plain user changing its own roles, org, status or key policy gets 403 and nothing changes", async () => {
    const du = principals["Desktop User (A)"] as Caller;
    const me = dataOf<Record<string, unknown>>(await du.get("/api/User/my"));
    for (const field of [
      { roles: ["SYSADMIN"] },
      { orgId: B.orgId },
      { orgUid: B.orgUid },
      { isAdmin: true },
      { securityKeyType: "CustomKey" },
      { blocked: true },
      { status: "Deactivated" },
      { quotaInBytes: 5 },
    ]) {
      const r = await du.send("PUT", `/api/User/${me.userUid}?idType=uid`, { firstName: "Changed", ...field });
      expect(r.status, JSON.stringify(field)).toBe(403);
    }
    const after = dataOf<Record<string, unknown>>(await du.get("/api/User/my"));
    expect(after.firstName).toBeNull();
    expect(after.orgId).toBe(A.orgId);
    // round-tripping the own object unchanged is fine
    expect((await du.send("PUT", `/api/User/${me.userUid}?idType=uid`, { ...me, firstName: "Me" })).status).toBe(200);
  });

  it("nobody administers an account that holds roles they do not hold: no takeover through a password, a block or a 2FA reset", async () => {
    const xoa = principals["Cross Org Admin (A)"] as Caller;
    const oa = principals["Org Admin (A)"] as Caller;
    const om = principals["Org Manager (A)"] as Caller;
    const sysadmin = dataOf<{ userId: number; userUid: string }>(await admin.get("/api/User/my"));
    for (const [label, by, victim] of [
      ["Org Admin on Cross Org Admin", oa, { userId: xoa.userId, userUid: xoa.userUid }],
      ["Org Manager on Org Admin", om, { userId: oa.userId, userUid: oa.userUid }],
      ["Cross Org Admin on SYSADMIN", xoa, sysadmin],
    ] as const) {
      const tries: [string, string, unknown?][] = [
        ["PUT", `/api/User/${victim.userUid}?idType=uid`, { password: "taken-over-1234" }],
        ["PUT", `/api/User/${victim.userUid}?idType=uid`, { email: "evil@example.com" }],
        ["PUT", `/api/UserBlock/${victim.userId}`],
        ["PUT", `/api/UserDeactivation/${victim.userId}`],
        ["DELETE", `/api/v1/users/${victim.userId}/totp`],
        ["POST", "/api/UserMoveProcess", { userId: victim.userId, parentOrgId: A1.orgId }],
        ["POST", "/api/UserRole", { userId: victim.userId, roleName: "Desktop User" }],
      ];
      for (const [method, path, body] of tries) {
        const r = await by.send(method, path, body);
        expect(r.status, `${label}: ${method} ${path} ${JSON.stringify(body ?? "")}`).toBe(403);
      }
    }
    // nothing changed: the victims still sign in with their own passwords, where they were
    expect((await caller(a, xoa.username, "password123")).userId).toBe(xoa.userId);
    expect((await caller(a, oa.username, "password123")).userId).toBe(oa.userId);
    expect((await caller(a, a.adminUsername, a.adminPassword)).userId).toBe(sysadmin.userId);
    for (const u of [xoa, oa, sysadmin]) expect(dataOf(await admin.get(`/api/User/${u.userId}`)).email).not.toBe("evil@example.com");
    expect(dataOf(await admin.get(`/api/User/${oa.userId}`)).orgId).toBe(A.orgId);
    // what each still administers: users who hold nothing it lacks
    expect((await om.send("PUT", `/api/User/${A.userUid}?idType=uid`, { firstName: "Managed" })).status).toBe(200);
    expect((await om.send("PUT", `/api/UserBlock/${A.userId}`)).status).toBe(204);
    expect((await om.send("DELETE", `/api/UserBlock/${A.userId}`)).status).toBe(204);
    const a1Admin = principals["Org Admin (A1)"] as Caller;
    expect((await oa.send("PUT", `/api/User/${a1Admin.userUid}?idType=uid`, { firstName: "Peer" })).status).toBe(200);
    expect((await xoa.send("PUT", `/api/User/${oa.userUid}?idType=uid`, { firstName: "Below" })).status).toBe(200);
    // and one's own account stays one's own
    expect((await om.send("PUT", `/api/User/${om.userUid}?idType=uid`, { firstName: "Self" })).status).toBe(200);
  });

  it("a member without a role over its org reads its name, not its registration key, settings or offers", async () => {
    const du = principals["Desktop User (A)"] as Caller;
    for (const path of ["/api/Org/my?incSettings=True&incDeviceDefaults=True&incCounts=True", `/api/Org/${A.orgId}?incSettings=True`]) {
      const org = dataOf<Record<string, unknown>>(await du.get(path));
      expect(org, path).toMatchObject({ orgId: A.orgId, orgName: A.name, registrationKey: null });
      expect(org.settings, path).toBeUndefined();
      expect(org.deviceDefaults, path).toBeUndefined();
    }
    const offers = await admin.get("/api/v1/settings/destinations");
    for (const [method, path, body] of [
      ["GET", "/api/v1/settings/destinations"],
      // unchanged offers too: the right is checked before anything is compared
      ["PUT", "/api/v1/settings/destinations", { destinations: dataOf<{ destinations: unknown[] }>(offers).destinations }],
      ["GET", `/api/v1/orgs/${A.orgId}/destinations`],
      ["PUT", `/api/v1/orgs/${A.orgId}/destinations`, { inherit: true }],
      ["GET", "/api/v1/destinations?pgNum=1&pgSize=10"],
      // nor through the CSV export or the settings routes
      ["GET", "/api/v1/orgs/export"],
      ["GET", `/api/OrgSetting/${A.orgId}`],
      ["GET", `/api/v1/orgs/${A.orgId}/settings`],
    ] as const) {
      const r = await du.send(method, path, body);
      expect([r.status, errorName(r)], `${method} ${path}`).toEqual([403, "FORBIDDEN"]);
    }
    // an administrator of the org still reads the key; a subtree admin is refused the system's storage, not told it is missing
    const oa = principals["Org Admin (A)"] as Caller;
    expect(dataOf<{ registrationKey: string | null }>(await oa.get(`/api/Org/${A.orgId}`)).registrationKey).toMatch(/\S/);
    expect((await oa.get("/api/v1/destinations?pgNum=1&pgSize=10")).status).toBe(403);
    expect((await oa.get("/api/v1/settings/destinations")).status).toBe(403);
  });

  it("an Org Admin cannot edit a user of sibling org B or move a user into B", async () => {
    const oa = principals["Org Admin (A)"] as Caller;
    expect((await oa.send("PUT", `/api/User/${B.userUid}?idType=uid`, { firstName: "x" })).status).toBe(404);
    expect((await oa.send("POST", "/api/UserMoveProcess", { userId: A.userId, parentOrgId: B.orgId })).status).toBe(404);
    expect(dataOf(await admin.get(`/api/User/${A.userId}`)).orgId).toBe(A.orgId);
  });
});
