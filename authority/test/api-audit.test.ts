/**
 * The audit log through the API: the test's own mutations are there, in order, with actor and
 * target; denied attempts too; an Org Admin reads only its subtree's entries.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAuthority, type TestAuthority } from "../src/testing.js";
import { caller, createOrg, createUser, dataOf } from "./api-fixture.js";

let a: TestAuthority;
beforeAll(async () => {
  a = await startTestAuthority();
});
afterAll(async () => {
  await a.dispose();
});

interface Entry {
  auditId: number;
  at: string;
  actorUsername: string | null;
  action: string;
  outcome: string;
  targetType: string | null;
  targetId: string | null;
  orgId: number | null;
  details: Record<string, unknown> | null;
}

describe("audit log", () => {
  it("holds an entry for every mutating call, readable through the API", async () => {
    const admin = await caller(a, a.adminUsername, a.adminPassword);
    const org = await createOrg(admin, "Audited org", a.orgUid);
    const user = await createUser(admin, org.orgUid, "audited@example.com", ["Org Manager"]);
    await admin.send("PUT", `/api/User/${user.userUid}?idType=uid`, { firstName: "Au" });
    await admin.send("PUT", `/api/UserBlock/${user.userId}`);
    await admin.send("DELETE", `/api/UserBlock/${user.userId}`);
    await admin.send("DELETE", `/api/UserRole?userId=${user.userId}&roleName=Org%20Manager`);
    await admin.send("PUT", `/api/OrgSetting/${org.orgId}`, { packets: [{ key: "device_webRestore_enabled", value: "false", locked: true }] });
    await admin.send("PUT", `/api/OrgDeactivation/${org.orgId}`);
    await admin.send("DELETE", `/api/OrgDeactivation/${org.orgId}`);
    const page = dataOf<{ totalCount: number; auditEntries: Entry[] }>(await admin.get(`/api/v1/audit-log?orgId=${org.orgId}&pgNum=1&pgSize=100`));
    expect(page.auditEntries.map((e) => e.action)).toEqual([
      "org.create",
      "user.create",
      "user.role.grant",
      "user.update",
      "user.block",
      "user.unblock",
      "user.role.revoke",
      "org.settings.packets",
      "org.deactivate",
      "org.reactivate",
    ]);
    expect(page.auditEntries.every((e) => e.actorUsername === a.adminUsername && e.outcome === "ok")).toBe(true);
    const grant = page.auditEntries.find((e) => e.action === "user.role.grant");
    expect(grant).toMatchObject({
      targetType: "user",
      targetId: String(user.userId),
      orgId: org.orgId,
      details: { role: "Org Manager", notify: "Customer Cloud Admin" },
    });
    expect(page.auditEntries[0]?.at).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    const update = page.auditEntries.find((e) => e.action === "user.update");
    expect(update?.details).toEqual({ changed: ["firstName"] });
    // filters
    expect(dataOf<{ totalCount: number }>(await admin.get(`/api/v1/audit-log?orgId=${org.orgId}&action=user.block&pgNum=1&pgSize=10`)).totalCount).toBe(1);
  });

  it("records denied attempts, and scopes reading to the reader's subtree", async () => {
    const admin = await caller(a, a.adminUsername, a.adminPassword);
    const mine = await createOrg(admin, "Reader org", a.orgUid);
    const other = await createOrg(admin, "Other org", a.orgUid);
    await createUser(admin, mine.orgUid, "reader@example.com", ["Org Admin"]);
    await createUser(admin, other.orgUid, "target@example.com");
    const reader = await caller(a, "reader@example.com", "password123");
    expect((await reader.send("PUT", `/api/OrgDeactivation/${other.orgId}`)).status).toBe(404);
    const visible = dataOf<{ auditEntries: Entry[] }>(await reader.get("/api/v1/audit-log?pgNum=1&pgSize=500"));
    expect(visible.auditEntries.length).toBeGreaterThan(0);
    expect(visible.auditEntries.every((e) => e.orgId === mine.orgId)).toBe(true);
    expect((await reader.get(`/api/v1/audit-log?orgId=${other.orgId}&pgNum=1&pgSize=10`)).status).toBe(404);
    const denied = dataOf<{ auditEntries: Entry[] }>(await admin.get("/api/v1/audit-log?pgNum=1&pgSize=500")).auditEntries.filter(
      (e) => e.outcome === "denied",
    );
    expect(denied.map((e) => [e.action, e.actorUsername, e.details?.reason])).toContainEqual([
      "PUT /api/OrgDeactivation/:id",
      "reader@example.com",
      "NOT_FOUND",
    ]);
    await createUser(admin, mine.orgUid, "plainreader@example.com");
    expect((await (await caller(a, "plainreader@example.com", "password123")).get("/api/v1/audit-log?pgNum=1&pgSize=10")).status).toBe(403);
  });
});
