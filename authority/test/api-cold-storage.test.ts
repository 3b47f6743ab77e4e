/**
 * The consequences API.md §3, §4 and §7.2 list for deactivation and moves, on the device and
 * archive tables: devices deactivate with their user or org, archives enter cold storage with
 * purge date = today (UTC) + the org's effective archiveHoldDays, storage nodes get revocations,
 * and reactivation undoes exactly that; a move cold-stores archives on destinations the new org
 * does not offer.
 */
import { DAY_MS, isoDate, ManualClock } from "@cairn/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestAuthority, type TestAuthority } from "../src/testing.js";
import { type Caller, caller, createOrg, createUser, dataOf, PartBRows } from "./api-fixture.js";

const clock = new ManualClock(Date.UTC(2026, 9, 10, 23, 30, 0));
let a: TestAuthority;
let admin: Caller;
let rows: PartBRows;
let dest: { destinationId: number; guid: string };
beforeAll(async () => {
  a = await startTestAuthority({ clock });
  admin = await caller(a, a.adminUsername, a.adminPassword);
  rows = new PartBRows(a);
  dest = rows.destination("Primary");
  dataOf(await admin.send("PUT", "/api/v1/settings/destinations", { destinations: [{ destinationId: dest.destinationId, offered: true, autoStart: true }] }));
});
afterAll(async () => {
  rows.close();
  await a.dispose();
});

const figures = { selectedFiles: 1, selectedBytes: 1, todoFiles: 0, todoBytes: 0, archiveBytes: 10, lastCompleted: null };

describe("cold storage cascades", () => {
  it("user deactivation: devices inactive, archives cold until today + archiveHoldDays, revocations; reactivation undoes it", async () => {
    const org = await createOrg(admin, "Hold 30", a.orgUid);
    dataOf(await admin.send("PUT", `/api/v1/orgs/${org.orgId}/settings`, { groups: { quota: { values: { archiveHoldDays: 30 } } } }));
    const u = await createUser(admin, org.orgUid, "cold@example.com");
    const d = rows.device(u.userId, "cold-laptop", clock.now());
    const arc = rows.archive(d.deviceId, u.userId, dest.destinationId, figures);
    expect(dataOf(await admin.get(`/api/Org/${org.orgId}?incCounts=True`))).toMatchObject({
      computerCount: 1,
      backupComputerCount: 1,
      licensedUserCount: 1,
      userCount: 1,
    });
    expect((await admin.send("PUT", `/api/UserDeactivation/${u.userId}`, { blockUser: null })).status).toBe(204);
    expect(rows.deviceActive(d.deviceId)).toBe(false);
    expect(rows.coldRows().find((r) => r.archiveId === arc)).toEqual({
      archiveId: arc,
      holdExpireDate: isoDate(clock.now() + 30 * DAY_MS),
      cause: "user",
      causeId: u.userId,
    });
    expect(rows.revocationsFor(u.userUid)).toEqual([{ kind: "user", scope: "all" }]);
    expect(dataOf(await admin.get(`/api/Org/${org.orgId}?incCounts=True`))).toMatchObject({ computerCount: 0, userCount: 0 });
    expect((await admin.send("DELETE", `/api/UserDeactivation/${u.userId}`)).status).toBe(204);
    expect(rows.deviceActive(d.deviceId)).toBe(true);
    expect(rows.coldRows().find((r) => r.archiveId === arc)).toBeUndefined();
  });

  it("org deactivation cascades to the subtree's devices and archives, and reactivation releases them", async () => {
    const parent = await createOrg(admin, "Cold parent", a.orgUid);
    const child = await createOrg(admin, "Cold child", parent.orgUid);
    const u = await createUser(admin, child.orgUid, "coldchild@example.com");
    const d = rows.device(u.userId, "child-laptop", clock.now());
    const arc = rows.archive(d.deviceId, u.userId, dest.destinationId, figures);
    expect((await admin.send("PUT", `/api/OrgDeactivation/${parent.orgId}`)).status).toBe(204);
    expect(rows.deviceActive(d.deviceId)).toBe(false);
    expect(rows.coldRows().find((r) => r.archiveId === arc)).toMatchObject({
      cause: "org",
      causeId: parent.orgId,
      holdExpireDate: isoDate(clock.now() + 365 * DAY_MS),
    });
    expect((await admin.send("DELETE", `/api/OrgDeactivation/${parent.orgId}`)).status).toBe(204);
    expect(rows.deviceActive(d.deviceId)).toBe(true);
    expect(rows.coldRows().find((r) => r.archiveId === arc)).toBeUndefined();
  });

  it("a device deactivated on its own stays deactivated when its user comes back", async () => {
    const u = await createUser(admin, a.orgUid, "twodevices@example.com");
    const own = rows.device(u.userId, "own", clock.now());
    const other = rows.device(u.userId, "other", clock.now());
    rows.close();
    // the devices part deactivates one device by itself (deactivated_by_* stay NULL)
    const Database = (await import("better-sqlite3")).default;
    const db = new Database(`${a.dataDir}/authority.db`);
    db.prepare("UPDATE devices SET active = 0 WHERE device_id = ?").run(own.deviceId);
    db.close();
    rows = new PartBRows(a);
    await admin.send("PUT", `/api/UserDeactivation/${u.userId}`, { blockUser: null });
    await admin.send("DELETE", `/api/UserDeactivation/${u.userId}`);
    expect(rows.deviceActive(own.deviceId)).toBe(false);
    expect(rows.deviceActive(other.deviceId)).toBe(true);
  });

  it("a move cold-stores archives on destinations the new org does not offer", async () => {
    const offering = await createOrg(admin, "Offering org", a.orgUid);
    const bare = await createOrg(admin, "Bare org", a.orgUid);
    dataOf(await admin.send("PUT", `/api/v1/orgs/${bare.orgId}/destinations`, { inherit: false, destinations: [] }));
    const u = await createUser(admin, offering.orgUid, "mover-cold@example.com");
    const d = rows.device(u.userId, "mover-laptop", clock.now());
    const arc = rows.archive(d.deviceId, u.userId, dest.destinationId, figures);
    expect((await admin.send("POST", "/api/UserMoveProcess", { userId: u.userId, parentOrgId: bare.orgId })).status).toBe(204);
    expect(rows.coldRows().find((r) => r.archiveId === arc)).toMatchObject({ cause: "move", causeId: u.userId });
    expect(rows.deviceActive(d.deviceId)).toBe(true);
  });

  it("reports a move that leaves the org over its maximum user subscriptions, and allows it", async () => {
    const full = await createOrg(admin, "Full org", a.orgUid);
    dataOf(await admin.send("PUT", `/api/v1/orgs/${full.orgId}/settings`, { groups: { quota: { values: { maxSeats: 0 } } } }));
    const u = await createUser(admin, a.orgUid, "seat@example.com");
    rows.archive(rows.device(u.userId, "seat-laptop", clock.now()).deviceId, u.userId, dest.destinationId, figures);
    const r = await admin.send("POST", "/api/UserMoveProcess", { userId: u.userId, parentOrgId: full.orgId });
    expect(r.status).toBe(204);
    expect(r.headers["x-cairn-over-seats"]).toBe("true");
    expect(await a.ctx.orgs.seats((await a.ctx.store.getOrg(full.orgId))!)).toEqual({ maxSeats: 0, used: 1, available: 0 });
  });
});
