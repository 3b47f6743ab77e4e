/**
 * API.md §3 through HTTPS, field by field, with py42's habits: creates with nulls, every failing
 * request sent twice (nothing created), one page past the end, empty bodies on block and
 * deactivate, roles as bare arrays when empty.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Py42Client, startTestAuthority, type TestAuthority } from "../src/testing.js";
import { type Caller, caller, createOrg, createUser, dataOf, errorName } from "./api-fixture.js";

let a: TestAuthority;
let admin: Caller;
let py: Py42Client;
beforeAll(async () => {
  a = await startTestAuthority();
  admin = await caller(a, a.adminUsername, a.adminPassword);
  py = a.py42();
});
afterAll(async () => {
  await a.dispose();
});

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe("users (API.md §3)", () => {
  it("creates a user with the fields py42 sends and answers the user object", async () => {
    const org = await createOrg(admin, "QA team", a.orgUid);
    const u = (await py.data("POST", "/api/User", {
      orgUid: org.orgUid,
      username: "ana@example.com",
      email: "ana@example.com",
      password: "password123",
      firstName: "Ana",
      lastName: "Diaz",
      notes: null,
    })) as Record<string, unknown>;
    expect(u).toMatchObject({
      status: "Active",
      username: "ana@example.com",
      email: "ana@example.com",
      firstName: "Ana",
      lastName: "Diaz",
      quotaInBytes: -1,
      orgId: org.orgId,
      orgUid: org.orgUid,
      orgName: "QA team",
      userExtRef: null,
      notes: null,
      active: true,
      blocked: false,
      invited: false,
      usernameIsAnEmail: true,
    });
    expect(typeof u.userId).toBe("number");
    expect(u.userUid).toMatch(/^[1-9]\d{17}$/);
    expect(u.creationDate).toMatch(ISO);
    expect(u.modificationDate).toMatch(ISO);
    const byId = (await py.data("GET", `/api/User/${u.userId}?incRoles=True`)) as Record<string, unknown>;
    expect(byId.roles).toEqual(["Desktop User"]);
    const byUid = (await py.data("GET", `/api/User/${u.userUid}?idType=uid`)) as Record<string, unknown>;
    expect(byUid.userId).toBe(u.userId);
    const byName = (await py.data("GET", "/api/User?username=ANA%40example.com")) as { totalCount: number; users: { userId: number }[] };
    expect(byName.totalCount).toBe(1);
    expect(byName.users[0]?.userId).toBe(u.userId);
    const none = (await py.data("GET", "/api/User?username=zed%40example.com")) as unknown;
    expect(none).toEqual({ totalCount: 0, users: [] });
  });

  it("refuses a duplicate (case-insensitive) with 500 USER_DUPLICATE, twice, creating nothing", async () => {
    const before = ((await py.data("GET", "/api/User?pgNum=1&pgSize=500")) as { totalCount: number }).totalCount;
    const fresh = a.py42();
    const r = await fresh.call("POST", "/api/User", {
      orgUid: a.orgUid,
      username: "ANA@EXAMPLE.COM",
      email: null,
      password: null,
      firstName: null,
      lastName: null,
      notes: null,
    });
    expect(r.status).toBe(500);
    expect(r.text).toContain("USER_DUPLICATE");
    expect(fresh.log.filter((l) => l.path === "/api/User").map((l) => l.status)).toEqual([500, 500]);
    expect(((await py.data("GET", "/api/User?pgNum=1&pgSize=500")) as { totalCount: number }).totalCount).toBe(before);
  });

  it.each([
    ["NEW_PASSWORD_INVALID", { username: "p@example.com", password: "short" }, 500],
    ["EMAIL_INVALID", { username: "e@example.com", email: "not an email" }, 500],
    ["INVALID_USERNAME", { username: "a/b" }, 500],
    ["ORG_NOT_FOUND", { username: "o@example.com", orgUid: "123456789012345678" }, 400],
  ])("refuses %s with %j", async (name, fields, status) => {
    const r = await admin.send("POST", "/api/User", { orgUid: a.orgUid, email: null, password: null, firstName: null, lastName: null, notes: null, ...fields });
    expect(r.status).toBe(status);
    expect(errorName(r)).toBe(name);
  });

  it("updates with nulls unchanged, refuses bad values with the platform's names", async () => {
    const u = await createUser(admin, a.orgUid, "upd@example.com");
    const r = (await py.data("PUT", `/api/User/${u.userUid}?idType=uid`, {
      username: null,
      email: "upd2@example.com",
      password: null,
      firstName: "Up",
      lastName: null,
      notes: "note",
      quotaInBytes: 1000,
    })) as Record<string, unknown>;
    expect(r).toMatchObject({ username: "upd@example.com", email: "upd2@example.com", firstName: "Up", lastName: null, notes: "note", quotaInBytes: 1000 });
    const bad = await admin.send("PUT", `/api/User/${u.userUid}?idType=uid`, { username: null, email: "x", password: null });
    expect(bad.status).toBe(500);
    expect(bad.text).toContain("EMAIL_INVALID");
    expect(errorName(await admin.send("PUT", `/api/User/${u.userUid}?idType=uid`, { password: "short" }))).toBe("NEW_PASSWORD_INVALID");
    expect(errorName(await admin.send("PUT", `/api/User/${u.userUid}?idType=uid`, { username: "ana@example.com" }))).toBe("USER_DUPLICATE");
  });

  it("asks for usernames that are emails where the org requires it", async () => {
    const org = await createOrg(admin, "Email org", a.orgUid);
    dataOf(await admin.send("PUT", `/api/v1/orgs/${org.orgId}/settings`, { packets: [{ key: "general.usernameIsAnEmail", value: true }] }));
    const r = await admin.send("POST", "/api/User", { orgUid: org.orgUid, username: "plainname", email: null, password: null });
    expect(r.status).toBe(500);
    expect(r.text).toContain("USERNAME_NOT_AN_EMAIL");
  });

  it("lists with filters and pages; the page past the end is 200 with an empty list", async () => {
    const org = await createOrg(admin, "Paging org", a.orgUid);
    for (let i = 0; i < 4; i++) await createUser(admin, org.orgUid, `page${i}@example.com`);
    const all = await py.allPages(`/api/User?orgUid=${org.orgUid}`, "users", 2);
    expect(all.pages).toBe(3);
    expect(all.items).toHaveLength(4);
    const past = (await py.data("GET", `/api/User?orgUid=${org.orgUid}&pgNum=3&pgSize=2`)) as unknown;
    expect(past).toEqual({ totalCount: 4, users: [] });
    const q = (await py.data("GET", `/api/User?orgUid=${org.orgUid}&q=PAGE2&pgNum=1&pgSize=10`)) as { users: { username: string }[] };
    expect(q.users.map((x) => x.username)).toEqual(["page2@example.com"]);
    expect(((await py.data("GET", `/api/User?orgUid=${org.orgUid}&active=False&pgNum=1&pgSize=10`)) as { totalCount: number }).totalCount).toBe(0);
    expect(((await py.data("GET", `/api/User?orgUid=${org.orgUid}&active=True&pgNum=1&pgSize=10`)) as { totalCount: number }).totalCount).toBe(4);
    const sorted = (await py.data("GET", `/api/User?orgUid=${org.orgUid}&srtKey=username&srtDir=desc&pgNum=1&pgSize=10`)) as { users: { username: string }[] };
    expect(sorted.users.map((x) => x.username)).toEqual(["page3@example.com", "page2@example.com", "page1@example.com", "page0@example.com"]);
    expect((await admin.get("/api/User?srtKey=password&pgNum=1&pgSize=10")).status).toBe(400);
  });

  it("honours pgSize 1000 (py42 stops at the first short page)", async () => {
    const r = (await py.data("GET", "/api/User?pgNum=1&pgSize=1000")) as { users: unknown[]; totalCount: number };
    expect(r.users.length).toBe(r.totalCount);
  });

  it("answers an unknown orgUid with 400 'Organization was not found'", async () => {
    const r = await admin.get("/api/User?orgUid=123456789012345678&pgNum=1&pgSize=10");
    expect(r.status).toBe(400);
    expect(r.text).toContain("Organization was not found");
  });

  it("answers a malformed orgUid (not a uid at all) the same way, so py42 raises Py42OrgNotFoundError", async () => {
    for (const orgUid of ["12345", "abc", "0".repeat(30)]) {
      const r = await admin.get(`/api/User?orgUid=${orgUid}&pgNum=1&pgSize=10`);
      expect(r.status, orgUid).toBe(400);
      expect(r.text, orgUid).toContain("Organization was not found");
    }
  });

  it("blocks, deactivates and reactivates with empty bodies and 204s", async () => {
    const u = await createUser(admin, a.orgUid, "life@example.com");
    for (const [method, path, status] of [
      ["PUT", `/api/UserBlock/${u.userId}`, 204],
      ["DELETE", `/api/UserBlock/${u.userId}`, 204],
      ["PUT", `/api/UserDeactivation/${u.userId}`, 204],
      ["DELETE", `/api/UserDeactivation/${u.userId}?unblockUser=True`, 204],
    ] as const) {
      const r = await a.client.request(method, path, { bearer: admin.token });
      expect(r.status, `${method} ${path}: ${r.text}`).toBe(status);
      expect(r.text).toBe("");
    }
    expect(dataOf(await admin.get(`/api/User/${u.userId}`))).toMatchObject({ status: "Active", active: true, blocked: false });
    // deactivation with blockUser, as py42 sends it
    expect((await admin.send("PUT", `/api/UserDeactivation/${u.userId}`, { blockUser: true })).status).toBe(204);
    expect(dataOf(await admin.get(`/api/User/${u.userId}`))).toMatchObject({ status: "Deactivated", active: false, blocked: true });
    expect(((await py.data("GET", "/api/User?active=False&pgNum=1&pgSize=100")) as { users: { userId: number }[] }).users.map((x) => x.userId)).toContain(
      u.userId,
    );
    // deactivating yourself is refused
    expect((await admin.send("PUT", `/api/UserDeactivation/${admin.userId}`, { blockUser: null })).status).toBe(400);
  });

  it("moves a user to another org; a deactivated target is 400", async () => {
    const from = await createOrg(admin, "Move from", a.orgUid);
    const to = await createOrg(admin, "Move to", a.orgUid);
    const dead = await createOrg(admin, "Move dead", a.orgUid);
    expect((await admin.send("PUT", `/api/OrgDeactivation/${dead.orgId}`)).status).toBe(204);
    const u = await createUser(admin, from.orgUid, "mover@example.com");
    expect((await admin.send("POST", "/api/UserMoveProcess", { userId: u.userId, parentOrgId: to.orgId })).status).toBe(204);
    expect(dataOf(await admin.get(`/api/User/${u.userId}`)).orgId).toBe(to.orgId);
    const r = await admin.send("POST", "/api/UserMoveProcess", { userId: String(u.userId), parentOrgId: String(dead.orgId) });
    expect(r.status).toBe(400);
    expect(errorName(r)).toBe("ORG_DEACTIVATED");
  });
});

describe("roles (API.md §3)", () => {
  it("lists, grants and removes roles; unknown names are 400 ROLE_NOT_FOUND", async () => {
    const roles = (await py.data("GET", "/api/role")) as { roleId: string; roleName: string }[];
    expect(roles.map((r) => r.roleName)).toEqual(
      expect.arrayContaining(["SYSADMIN", "Customer Cloud Admin", "Org Admin", "Cross Org Admin", "Org Manager", "Desktop User"]),
    );
    expect(roles.every((r) => /^\d+$/.test(r.roleId))).toBe(true);
    const u = await createUser(admin, a.orgUid, "roles@example.com");
    const after = (await py.data("POST", "/api/UserRole", { userId: u.userId, roleName: "Org Manager" })) as { roleName: string }[];
    expect(after.map((r) => r.roleName)).toEqual(["Org Manager", "Desktop User"]);
    // granting again succeeds, removing with %20 in the query as py42 sends it
    expect((await admin.send("POST", "/api/UserRole", { userId: String(u.userId), roleName: "Org Manager" })).status).toBe(200);
    expect((await admin.send("DELETE", `/api/UserRole?userId=${u.userId}&roleName=Org%20Manager`)).status).toBe(204);
    expect((await admin.send("DELETE", `/api/UserRole?userId=${u.userId}&roleName=Org+Manager`)).status).toBe(204);
    const left = (await py.data("GET", `/api/UserRole/${u.userId}`)) as { roleName: string }[];
    expect(left.map((r) => r.roleName)).toEqual(["Desktop User"]);
    const bad = await admin.send("POST", "/api/UserRole", { userId: u.userId, roleName: "Emperor" });
    expect(bad.status).toBe(400);
    expect(errorName(bad)).toBe("ROLE_NOT_FOUND");
  });

  it("sends a bare [] when a list of roles is empty (the falsy-payload rule)", async () => {
    await createUser(admin, a.orgUid, "plain@example.com");
    const plain = await caller(a, "plain@example.com", "password123");
    const r = await plain.get("/api/role");
    expect(r.status).toBe(200);
    expect(r.json).toEqual([]);
    const u = await createUser(admin, a.orgUid, "noroles@example.com");
    await admin.send("DELETE", `/api/UserRole?userId=${u.userId}&roleName=Desktop%20User`);
    expect((await admin.get(`/api/UserRole/${u.userId}`)).json).toEqual([]);
  });
});
