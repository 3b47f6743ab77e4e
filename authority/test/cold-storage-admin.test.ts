/**
 * Cold storage as administrators use it (API.md §7.2, seed 001 "Cold Storage", RELIABILITY.md
 * T15's authority half): the list of an org with its children and py42's sort keys, purge dates
 * (YYYY-MM-DD, 400 otherwise, 404 when not cold, a past date purges at the next run), purge now
 * (who may, audited, cross-org denied), the CSV export with the source document's columns, the
 * node-cron purge schedule (read from node-cron, run with an injected time), reactivation before
 * the date, and the crypto-shred of the wrapped archive key.
 */
import { join } from "node:path";
import { DAY_MS, isoDate, ManualClock } from "@cairn/protocol";
import Database from "better-sqlite3";
import { getTasks } from "node-cron";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COLD_CSV_COLUMNS } from "../src/cold-storage/cold-storage-routes.js";
import { purgeTaskName } from "../src/cold-storage/purge-schedule.js";
import { operationsOf } from "../src/operations-plugins.js";
import { startTestAuthority, type TestAuthority } from "../src/testing.js";
import { type Caller, caller, createOrg, createUser, dataOf, errorName, PartBRows } from "./api-fixture.js";

const clock = new ManualClock(Date.UTC(2026, 4, 4, 12, 0, 0));
let a: TestAuthority;
let admin: Caller;
let rows: PartBRows;
let dest: { destinationId: number; guid: string };
let parent: { orgId: number; orgUid: string };
let child: { orgId: number; orgUid: string };
let sibling: { orgId: number; orgUid: string };
const figures = { selectedFiles: 1, selectedBytes: 1, todoFiles: 0, todoBytes: 0, archiveBytes: 10, lastCompleted: null };

function wrappedKey(archiveId: number): Buffer | null {
  const db = new Database(join(a.dataDir, "authority.db"), { readonly: true });
  try {
    return (db.prepare("SELECT wrapped_archive_key AS k FROM archives WHERE archive_id = ?").get(archiveId) as { k: Buffer | null }).k;
  } finally {
    db.close();
  }
}

function setWrappedKey(archiveId: number): void {
  const db = new Database(join(a.dataDir, "authority.db"));
  db.pragma("busy_timeout = 5000");
  db.prepare("UPDATE archives SET wrapped_archive_key = ? WHERE archive_id = ?").run(Buffer.alloc(61, 7), archiveId);
  db.close();
}

/** A user with one device and one archive in `orgUid`; returns ids. */
async function archived(orgUid: string, name: string, bytes = 10): Promise<{ userId: number; deviceId: number; archiveId: number; archiveGuid: string }> {
  const u = await createUser(admin, orgUid, `${name}@example.com`);
  const d = rows.device(u.userId, `${name}-laptop`, clock.now());
  const archiveId = rows.archive(d.deviceId, u.userId, dest.destinationId, { ...figures, archiveBytes: bytes });
  setWrappedKey(archiveId);
  const db = new Database(join(a.dataDir, "authority.db"), { readonly: true });
  const archiveGuid = (db.prepare("SELECT archive_guid AS g FROM archives WHERE archive_id = ?").get(archiveId) as { g: string }).g;
  db.close();
  return { userId: u.userId, deviceId: d.deviceId, archiveId, archiveGuid };
}

let p1: Awaited<ReturnType<typeof archived>>;
let c1: Awaited<ReturnType<typeof archived>>;
let s1: Awaited<ReturnType<typeof archived>>;
let manager: Caller;
let siblingAdmin: Caller;
let parentAdmin: Caller;

beforeAll(async () => {
  a = await startTestAuthority({ clock, operations: { purgeSchedule: "15 2 * * *" } });
  admin = await caller(a, a.adminUsername, a.adminPassword);
  rows = new PartBRows(a);
  dest = rows.destination("Primary");
  dataOf(await admin.send("PUT", "/api/v1/settings/destinations", { destinations: [{ destinationId: dest.destinationId, offered: true, autoStart: true }] }));
  parent = await createOrg(admin, "Cold parent", a.orgUid);
  child = await createOrg(admin, "Cold child", parent.orgUid);
  sibling = await createOrg(admin, "Cold sibling", a.orgUid);
  dataOf(await admin.send("PUT", `/api/v1/orgs/${child.orgId}/settings`, { groups: { quota: { values: { archiveHoldDays: 10 } } } }));
  p1 = await archived(parent.orgUid, "pia", 300);
  c1 = await archived(child.orgUid, "carl", 100);
  s1 = await archived(sibling.orgUid, "sven", 200);
  await createUser(admin, parent.orgUid, "manager@example.com", ["Org Manager"]);
  await createUser(admin, sibling.orgUid, "sibadmin@example.com", ["Org Admin"]);
  await createUser(admin, parent.orgUid, "padmin@example.com", ["Org Admin"]);
  manager = await caller(a, "manager@example.com", "password123");
  siblingAdmin = await caller(a, "sibadmin@example.com", "password123");
  parentAdmin = await caller(a, "padmin@example.com", "password123");
  for (const x of [p1, c1, s1]) expect((await admin.send("POST", "/api/v4/computer-deactivation/update", { id: x.deviceId })).status).toBeLessThan(500);
  // device deactivation is the devices part's; until it lands, deactivate the users instead
  for (const x of [p1, c1, s1]) if (rows.coldRows().every((r) => r.archiveId !== x.archiveId)) await admin.send("PUT", `/api/UserDeactivation/${x.userId}`);
});
afterAll(async () => {
  rows.close();
  await a.dispose();
});

type ColdList = { totalCount: number; totalBytes: number; coldStorageRows: Record<string, unknown>[] };

describe("cold storage list", () => {
  it("lists an org's archives, with its descendants on incChildOrgs=True, in the platform's row shape", async () => {
    const only = dataOf<ColdList>(await admin.get(`/api/ColdStorage?orgId=${parent.orgId}&pgNum=1&pgSize=100`));
    expect(only.coldStorageRows.map((r) => r.archiveGuid)).toEqual([p1.archiveGuid]);
    const both = dataOf<ColdList>(await admin.get(`/api/ColdStorage?orgId=${parent.orgId}&incChildOrgs=True&pgNum=1&pgSize=100`));
    expect(both.totalCount).toBe(2);
    const row = both.coldStorageRows.find((r) => r.archiveGuid === c1.archiveGuid);
    expect(row).toMatchObject({
      archiveBytes: 100,
      archiveType: "BACKUP",
      archiveHoldExpireDate: isoDate(clock.now() + 10 * DAY_MS),
      purgeDate: isoDate(clock.now() + 10 * DAY_MS),
      sourceUserUsername: "carl@example.com",
      sourceComputerName: "carl-laptop",
      sourceComputerOsHostname: "carl-laptop",
      orgId: child.orgId,
      orgName: "Cold child",
      destinationGuid: dest.guid,
    });
  });

  it("sorts by archiveHoldExpireDate, archiveBytes and orgName both ways, and pages", async () => {
    const top = (await a.ctx.store.getTopLevelOrg())?.orgId;
    const q = (s: string) => admin.get(`/api/ColdStorage?orgId=${top}&incChildOrgs=True&pgNum=1&pgSize=100&${s}`);
    const guids = async (s: string) => dataOf<ColdList>(await q(s)).coldStorageRows.map((r) => r.archiveGuid);
    expect(await guids("srtKey=archiveHoldExpireDate&srtDir=asc")).toEqual([c1.archiveGuid, p1.archiveGuid, s1.archiveGuid]);
    expect(await guids("srtKey=archiveBytes&srtDir=DESC")).toEqual([p1.archiveGuid, s1.archiveGuid, c1.archiveGuid]);
    expect(await guids("srtKey=orgName&srtDir=asc")).toEqual([c1.archiveGuid, p1.archiveGuid, s1.archiveGuid]);
    expect((await q("srtKey=bogus")).status).toBe(400);
    const page2 = dataOf<ColdList>(await admin.get(`/api/ColdStorage?orgId=${top}&incChildOrgs=True&pgNum=2&pgSize=2`));
    expect(page2.totalCount).toBe(3);
    expect(page2.coldStorageRows).toHaveLength(1);
  });

  it("adds totalBytes: the archiveBytes of every matching row, whatever the page (org details' cold storage used)", async () => {
    const only = dataOf<ColdList>(await admin.get(`/api/ColdStorage?orgId=${parent.orgId}&pgNum=1&pgSize=100`));
    expect([only.totalCount, only.totalBytes]).toEqual([1, 300]);
    const both = dataOf<ColdList>(await admin.get(`/api/ColdStorage?orgId=${parent.orgId}&incChildOrgs=True&pgNum=1&pgSize=1`));
    expect([both.totalCount, both.coldStorageRows.length, both.totalBytes]).toEqual([2, 1, 400]);
    const top = (await a.ctx.store.getTopLevelOrg())?.orgId;
    expect(dataOf<ColdList>(await admin.get(`/api/ColdStorage?orgId=${top}&pgNum=1&pgSize=10`)).totalBytes).toBe(0);
    expect(dataOf<ColdList>(await admin.get(`/api/ColdStorage?orgId=${top}&incChildOrgs=True&pgNum=1&pgSize=10`)).totalBytes).toBe(600);
  });

  it("limits the list by role: a sibling org's admin does not see the parent's archives", async () => {
    expect((await siblingAdmin.get(`/api/ColdStorage?orgId=${parent.orgId}&incChildOrgs=True`)).status).toBe(404);
    expect(dataOf<ColdList>(await manager.get(`/api/ColdStorage?orgId=${parent.orgId}&incChildOrgs=True`)).totalCount).toBe(2);
  });
});

describe("purge dates, purge now and the schedule", () => {
  it("changes a purge date (YYYY-MM-DD only; 404 when the archive is not in cold storage)", async () => {
    const r = dataOf(await admin.send("PUT", `/api/coldStorage/${p1.archiveGuid}?idType=guid`, { archiveHoldExpireDate: "2027-01-31" }));
    expect(r).toMatchObject({ archiveGuid: p1.archiveGuid, archiveHoldExpireDate: "2027-01-31" });
    for (const bad of ["2027-02-30", "31.01.2027", "2027-1-5", null, 20270131]) {
      expect((await admin.send("PUT", `/api/coldStorage/${p1.archiveGuid}?idType=guid`, { archiveHoldExpireDate: bad })).status, String(bad)).toBe(400);
    }
    expect((await admin.send("PUT", "/api/coldStorage/123456789012345678?idType=guid", { archiveHoldExpireDate: "2027-01-31" })).status).toBe(404);
    expect((await manager.send("PUT", `/api/coldStorage/${p1.archiveGuid}?idType=guid`, { archiveHoldExpireDate: "2020-01-01" })).status).toBe(403);
  });

  it("reads the path id as the numeric archive id without idType (API.md §1.4), the GUID with idType=guid", async () => {
    const byId = dataOf(await admin.send("PUT", `/api/coldStorage/${p1.archiveId}`, { archiveHoldExpireDate: "2027-02-28" }));
    expect(byId).toMatchObject({ archiveId: p1.archiveId, archiveGuid: p1.archiveGuid, archiveHoldExpireDate: "2027-02-28" });
    expect(dataOf(await admin.send("PUT", `/api/coldStorage/${p1.archiveId}?idType=id`, { archiveHoldExpireDate: "2027-03-01" }))).toMatchObject({
      archiveGuid: p1.archiveGuid,
      archiveHoldExpireDate: "2027-03-01",
    });
    const row = dataOf<ColdList>(await admin.get(`/api/ColdStorage?orgId=${parent.orgId}&pgNum=1&pgSize=10`)).coldStorageRows[0];
    expect(row).toMatchObject({ archiveId: p1.archiveId, archiveHoldExpireDate: "2027-03-01" });
    // a GUID without idType=guid is not an archive id; an id not in cold storage is 404 either way
    expect((await admin.send("PUT", `/api/coldStorage/${p1.archiveGuid}`, { archiveHoldExpireDate: "2027-01-31" })).status).toBe(404);
    expect((await admin.send("PUT", "/api/coldStorage/987654", { archiveHoldExpireDate: "2027-01-31" })).status).toBe(404);
    expect((await admin.send("PUT", `/api/coldStorage/${p1.archiveId}?idType=uid`, { archiveHoldExpireDate: "2027-01-31" })).status).toBe(400);
    expect((await admin.send("PUT", `/api/coldStorage/${p1.archiveId}`, { archiveHoldExpireDate: "2027-02-30" })).status).toBe(400);
    expect((await manager.send("PUT", `/api/coldStorage/${p1.archiveId}`, { archiveHoldExpireDate: "2020-01-01" })).status).toBe(403);
    expect((await siblingAdmin.send("PUT", `/api/coldStorage/${p1.archiveId}`, { archiveHoldExpireDate: "2020-01-01" })).status).toBe(404);
    dataOf(await admin.send("PUT", `/api/coldStorage/${p1.archiveGuid}?idType=guid`, { archiveHoldExpireDate: "2027-01-31" }));
  });

  it("registers the purge with node-cron at start with the configured expression", () => {
    const task = [...getTasks().values()].find((t) => t.name === purgeTaskName(a.ctx.authorityGuid));
    expect(task?.getPattern()).toBe("15 2 * * *");
    expect(operationsOf(a.ctx).tasks.purge).toBe(task);
  });

  it("purges nothing before the date; a past date purges at the next run: the wrapped key is destroyed and audited", async () => {
    const ops = operationsOf(a.ctx).coldStorage;
    expect((await ops.purgeDue(clock.now())).purged).toEqual([]);
    dataOf(await admin.send("PUT", `/api/coldStorage/${c1.archiveGuid}?idType=guid`, { archiveHoldExpireDate: "2026-05-01" }));
    expect(wrappedKey(c1.archiveId)).not.toBeNull();
    const run = await ops.purgeDue(clock.now());
    expect(run.purged).toEqual([c1.archiveGuid]);
    expect(wrappedKey(c1.archiveId)).toBeNull();
    expect((await admin.send("PUT", `/api/coldStorage/${c1.archiveGuid}?idType=guid`, { archiveHoldExpireDate: "2030-01-01" })).status).toBe(404);
    const audit = dataOf<{ auditEntries: { action: string; targetId: string; details: { reason: string } }[] }>(
      await admin.get("/api/v1/audit-log?action=coldstorage.purge&pgNum=1&pgSize=10"),
    );
    expect(audit.auditEntries.find((e) => e.targetId === c1.archiveGuid)?.details.reason).toBe("scheduled");
  });

  it("purges by the schedule at a given time: not the day before the date, on the date", async () => {
    const ops = operationsOf(a.ctx).coldStorage;
    expect((await ops.purgeDue(Date.UTC(2027, 0, 30, 23, 59))).purged).toEqual([]);
    expect((await ops.purgeDue(Date.UTC(2027, 0, 31, 2, 15))).purged).toEqual([p1.archiveGuid]);
    expect(wrappedKey(p1.archiveId)).toBeNull();
  });

  it("purge now: an Org Manager may not, another org's admin sees nothing, an Org Admin over it may (audited as early)", async () => {
    const s2 = await archived(sibling.orgUid, "sara");
    await admin.send("PUT", `/api/UserDeactivation/${s2.userId}`);
    expect(errorName(await manager.send("POST", "/api/v1/cold-storage/purge", { archiveGuids: [s2.archiveGuid] }))).toBe("NOT_FOUND");
    expect(errorName(await parentAdmin.send("POST", "/api/v1/cold-storage/purge", { archiveGuids: [s2.archiveGuid] }))).toBe("NOT_FOUND");
    const mgr = await createUser(admin, sibling.orgUid, "sibmanager@example.com", ["Org Manager"]);
    void mgr;
    const sibManager = await caller(a, "sibmanager@example.com", "password123");
    expect(errorName(await sibManager.send("POST", "/api/v1/cold-storage/purge", { archiveGuids: [s2.archiveGuid] }))).toBe("FORBIDDEN");
    expect(wrappedKey(s2.archiveId)).not.toBeNull();
    expect((await siblingAdmin.send("POST", "/api/v1/cold-storage/purge", { archiveGuids: [] })).status).toBe(400);
    expect(dataOf(await siblingAdmin.send("POST", "/api/v1/cold-storage/purge", { archiveGuids: [s2.archiveGuid] }))).toMatchObject({ purged: 1 });
    expect(wrappedKey(s2.archiveId)).toBeNull();
    const audit = dataOf<{ auditEntries: { targetId: string; actorUsername: string; details: { reason: string } }[] }>(
      await admin.get("/api/v1/audit-log?action=coldstorage.purge&pgNum=1&pgSize=10"),
    );
    expect(audit.auditEntries.find((e) => e.targetId === s2.archiveGuid)).toMatchObject({
      actorUsername: "sibadmin@example.com",
      details: { reason: "early" },
    });
  });

  it("reactivation before the purge date takes the archive out of cold storage with its key intact", async () => {
    expect((await admin.send("DELETE", `/api/UserDeactivation/${s1.userId}`)).status).toBe(204);
    await admin.send("POST", "/api/v4/computer-deactivation/remove", { id: s1.deviceId });
    expect(dataOf<ColdList>(await admin.get(`/api/ColdStorage?orgId=${sibling.orgId}`)).coldStorageRows.map((r) => r.archiveGuid)).not.toContain(
      s1.archiveGuid,
    );
    expect(wrappedKey(s1.archiveId)).not.toBeNull();
    expect((await operationsOf(a.ctx).coldStorage.purgeDue(clock.now() + 400 * DAY_MS)).purged).not.toContain(s1.archiveGuid);
    expect(wrappedKey(s1.archiveId)).not.toBeNull();
  });
});

describe("cold storage CSV", () => {
  it("exports the source document's columns in order, all rows or the selected ones", async () => {
    const c2 = await archived(child.orgUid, "=cmd");
    await admin.send("PUT", `/api/UserDeactivation/${c2.userId}`);
    const all = await admin.send("POST", "/api/v1/cold-storage/export", { orgId: parent.orgId, incChildOrgs: true, archiveGuids: null });
    expect(all.status).toBe(200);
    expect(all.headers["content-type"]).toMatch(/^text\/csv/);
    const lines = all.text.trim().split("\r\n");
    expect(lines[0]?.split(",")).toEqual([...COLD_CSV_COLUMNS]);
    expect(COLD_CSV_COLUMNS).toHaveLength(19);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(c2.archiveGuid);
    expect(lines[1]).toContain("'=cmd@example.com");
    const fields = (lines[1] as string).split(",");
    expect(fields[COLD_CSV_COLUMNS.indexOf("id")]).toBe(String(c2.archiveId));
    expect(fields[COLD_CSV_COLUMNS.indexOf("orgName")]).toBe("Cold child");
    expect(fields[COLD_CSV_COLUMNS.indexOf("purgeDate")]).toBe(isoDate(clock.now() + 10 * DAY_MS));
    const none = await admin.send("POST", "/api/v1/cold-storage/export", { orgId: parent.orgId, incChildOrgs: true, archiveGuids: [s1.archiveGuid] });
    expect(none.text.trim().split("\r\n")).toHaveLength(1);
    expect((await siblingAdmin.send("POST", "/api/v1/cold-storage/export", { orgId: parent.orgId })).status).toBe(404);
  });
});

describe("the schedule stops with the server", () => {
  it("destroys its node-cron tasks on close", async () => {
    const b = await startTestAuthority({ clock });
    const name = purgeTaskName(b.ctx.authorityGuid);
    expect([...getTasks().values()].some((t) => t.name === name)).toBe(true);
    await b.dispose();
    expect([...getTasks().values()].some((t) => t.name === name)).toBe(false);
  });
});
