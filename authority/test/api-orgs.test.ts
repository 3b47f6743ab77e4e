/**
 * API.md §4 through HTTPS: create (trailing slash, nulls, twice on failure), lookups, the list in
 * ascending id with one page past the end, block, deactivation cascades, the top level's rules,
 * Cairn's change-parent route, and the routing conventions of §1.1.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Py42Client, startTestAuthority, type TestAuthority } from "../src/testing.js";
import { type Caller, caller, createOrg, createUser, dataOf, errorName, tokenFor } from "./api-fixture.js";

let a: TestAuthority;
let admin: Caller;
let py: Py42Client;
let rootId: number;
beforeAll(async () => {
  a = await startTestAuthority();
  admin = await caller(a, a.adminUsername, a.adminPassword);
  py = a.py42();
  rootId = dataOf<{ orgId: number }>(await admin.get("/api/Org/my")).orgId;
});
afterAll(async () => {
  await a.dispose();
});

describe("organizations (API.md §4)", () => {
  it("creates under the caller's org when parentOrgUid is null, with a unique registration key", async () => {
    const org = (await py.data("POST", "/api/Org/", { orgName: "  Sales  ", orgExtRef: "EXT-1", notes: null, parentOrgUid: null })) as Record<string, unknown>;
    expect(org).toMatchObject({
      orgName: "Sales",
      orgExtRef: "EXT-1",
      notes: null,
      status: "Active",
      active: true,
      blocked: false,
      parentOrgId: rootId,
      parentOrgUid: a.orgUid,
      type: "ENTERPRISE",
      classification: "BASIC",
      deactivationDate: null,
    });
    expect(org.registrationKey).toMatch(/^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$/);
    expect(org.registrationKey).not.toBe(a.registrationKey);
    expect(org.orgUid).toMatch(/^[1-9]\d{17}$/);
    expect(org.creationDate).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it.each([
    ["ab", "ORG_NAME_INVALID"],
    ["x".repeat(221), "ORG_NAME_INVALID"],
  ])("refuses the name %j with 400 %s, twice, creating nothing", async (orgName, name) => {
    const before = ((await py.data("GET", "/api/Org?pgNum=1&pgSize=500")) as { totalCount: number }).totalCount;
    const fresh = a.py42();
    const r = await fresh.call("POST", "/api/Org/", { orgName, orgExtRef: null, notes: null, parentOrgUid: null });
    expect(r.status).toBe(400);
    expect(errorName(r)).toBe(name);
    expect(fresh.log.filter((l) => l.path === "/api/Org/").length).toBe(2);
    expect(((await py.data("GET", "/api/Org?pgNum=1&pgSize=500")) as { totalCount: number }).totalCount).toBe(before);
  });

  it("refuses an unknown parent (ORG_NOT_FOUND) and a deactivated one (ORG_DEACTIVATED)", async () => {
    expect(errorName(await admin.send("POST", "/api/Org/", { orgName: "Orphan", parentOrgUid: "123456789012345678" }))).toBe("ORG_NOT_FOUND");
    const dead = await createOrg(admin, "Dead parent", a.orgUid);
    await admin.send("PUT", `/api/OrgDeactivation/${dead.orgId}`);
    expect(errorName(await admin.send("POST", "/api/Org/", { orgName: "Child of dead", parentOrgUid: dead.orgUid }))).toBe("ORG_DEACTIVATED");
    expect(errorName(await admin.send("POST", "/api/User", { orgUid: dead.orgUid, username: "late@example.com" }))).toBe("ORG_DEACTIVATED");
  });

  it("finds orgs by id, by uid and as the caller's own, case-insensitively and with a trailing slash", async () => {
    const org = await createOrg(admin, "Lookup", a.orgUid);
    expect(dataOf(await admin.get(`/api/Org/${org.orgId}`)).orgUid).toBe(org.orgUid);
    expect(dataOf(await admin.get(`/api/Org/${org.orgUid}?idType=orgUid`)).orgId).toBe(org.orgId);
    expect(dataOf(await admin.get("/API/org/MY/")).orgId).toBe(rootId);
    const counts = dataOf(await admin.get(`/api/Org/${org.orgId}?incCounts=True`));
    expect(counts).toMatchObject({
      computerCount: 0,
      backupComputerCount: 0,
      userCount: 0,
      licensedUserCount: 0,
      orgCount: 0,
      planCount: 0,
      warningCount: 0,
      criticalCount: 0,
    });
    expect((await admin.get("/api/Org/999999")).status).toBe(404);
    expect((await admin.get("/api/Org/not-a-number")).status).toBe(400);
  });

  it("routes on idType, not on the id's look: a uid sent as an id, or an id as a uid, names nothing (404)", async () => {
    const org = await createOrg(admin, "Routing", a.orgUid);
    const me = dataOf<{ userId: number; userUid: string }>(await admin.get("/api/User/my"));
    for (const path of [
      `/api/Org/${org.orgUid}`,
      `/api/Org/${org.orgId}?idType=orgUid`,
      `/api/User/${me.userUid}`,
      `/api/User/${me.userId}?idType=uid`,
      `/api/Computer/${org.orgUid}`,
      `/api/Computer/7?idType=guid`,
      "/api/Org/0",
    ]) {
      const r = await admin.get(path);
      expect([r.status, errorName(r)], path).toEqual([404, "NOT_FOUND"]);
    }
    // what is not digits at all is a malformed request
    for (const path of ["/api/Org/1e3", "/api/User/abc?idType=uid", "/api/Computer/-4"]) expect((await admin.get(path)).status, path).toBe(400);
  });

  it("lists the caller's subtree in ascending orgId, own org first, with one page past the end", async () => {
    const r = (await py.data("GET", "/api/Org?pgNum=1&pgSize=500")) as { totalCount: number; orgs: { orgId: number }[] };
    expect(r.orgs[0]?.orgId).toBe(rootId);
    expect(r.orgs.map((o) => o.orgId)).toEqual([...r.orgs.map((o) => o.orgId)].sort((x, y) => x - y));
    const size = r.totalCount;
    const all = await py.allPages("/api/Org", "orgs", size);
    expect(all.pages).toBe(2);
    expect((await py.data("GET", `/api/Org?pgNum=2&pgSize=${size}`)) as unknown).toEqual({ totalCount: size, orgs: [] });
    const active = (await py.data("GET", "/api/Org?active=False&pgNum=1&pgSize=500")) as { orgs: { status: string }[] };
    expect(active.orgs.every((o) => o.status === "Deactivated")).toBe(true);
  });

  it("deactivates a subtree with its users, accepts nothing new, and reactivation undoes exactly that", async () => {
    const parent = await createOrg(admin, "Cascade", a.orgUid);
    const child = await createOrg(admin, "Cascade child", parent.orgUid);
    const early = await createOrg(admin, "Cascade early", parent.orgUid);
    await createUser(admin, child.orgUid, "cascade@example.com");
    expect((await admin.send("PUT", `/api/OrgDeactivation/${early.orgId}`)).status).toBe(204);
    expect((await admin.send("PUT", `/api/OrgDeactivation/${parent.orgId}`)).status).toBe(204);
    expect(dataOf(await admin.get(`/api/Org/${child.orgId}`))).toMatchObject({ status: "Deactivated", active: false });
    expect((await a.client.request("GET", "/c42api/v3/auth/jwt", { basic: ["cascade@example.com", "password123"] })).status).toBe(401);
    expect((await admin.send("DELETE", `/api/OrgDeactivation/${parent.orgId}`)).status).toBe(204);
    expect(dataOf(await admin.get(`/api/Org/${child.orgId}`)).status).toBe("Active");
    expect(dataOf(await admin.get(`/api/Org/${early.orgId}`)).status).toBe("Deactivated");
    await tokenFor(a, "cascade@example.com", "password123");
  });

  it("keeps the top-level org in place: no deactivation, no move, no block", async () => {
    expect(errorName(await admin.send("PUT", `/api/OrgDeactivation/${rootId}`))).toBe("ORG_TOP_LEVEL");
    const other = await createOrg(admin, "Some org", a.orgUid);
    expect(errorName(await admin.send("PUT", `/api/v1/orgs/${rootId}/parent`, { parentOrgId: other.orgId }))).toBe("ORG_TOP_LEVEL");
    expect(errorName(await admin.send("PUT", `/api/OrgBlock/${rootId}`))).toBe("ORG_TOP_LEVEL");
  });

  it("changes an org's parent, never under its own descendant", async () => {
    const x = await createOrg(admin, "Mover X", a.orgUid);
    const x1 = await createOrg(admin, "Mover X1", x.orgUid);
    const y = await createOrg(admin, "Mover Y", a.orgUid);
    expect(errorName(await admin.send("PUT", `/api/v1/orgs/${x.orgId}/parent`, { parentOrgId: x1.orgId }))).toBe("ORG_MOVE_INVALID");
    const moved = dataOf(await admin.send("PUT", `/api/v1/orgs/${x.orgId}/parent`, { parentOrgId: y.orgId }));
    expect(moved.parentOrgId).toBe(y.orgId);
    expect(dataOf(await admin.get(`/api/Org/${x1.orgId}`)).parentOrgId).toBe(x.orgId);
    const list = (await py.data("GET", `/api/Org?parentOrgId=${y.orgId}&pgNum=1&pgSize=10`)) as { orgs: { orgId: number }[] };
    expect(list.orgs.map((o) => o.orgId)).toEqual([x.orgId]);
  });

  it("ignores unknown fields and answers blocks with empty bodies", async () => {
    const org = await createOrg(admin, "Extra fields", a.orgUid);
    const r = await admin.send("POST", "/api/Org/", { orgName: "Extra 2", parentOrgUid: org.orgUid, somethingNew: 1, orgId: 5 });
    expect(r.status).toBe(200);
    const b = await a.client.request("PUT", `/api/OrgBlock/${org.orgId}`, { bearer: admin.token });
    expect(b.status).toBe(204);
    expect(b.headers["content-type"]).toBeUndefined();
    expect(dataOf(await admin.get(`/api/Org/${org.orgId}`)).blocked).toBe(true);
  });
});
