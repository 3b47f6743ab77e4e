/**
 * The restore history (API.md §7.3, seed 001 "Restore history"): rows written when a restore
 * job is created and when it ends, each restore listed once with its newest state, the filters
 * py42 sends (days, orgId with incChildOrgs, userId, computerId), role limits, the seed's
 * columns (operating system, user with the "another user started it" mark, restore to, files,
 * size, transfer rate, date, duration) and the CSV export.
 */
import { DAY_MS, ManualClock, newOpaqueId } from "@cairn/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RESTORE_CSV_COLUMNS, type RestoreRecord, recordRestoreEnd, recordRestoreStart } from "../src/restores/restore-history.js";
import { startTestAuthority, type TestAuthority } from "../src/testing.js";
import { type Caller, caller, createOrg, createUser, dataOf, PartBRows } from "./api-fixture.js";

const clock = new ManualClock(Date.UTC(2026, 5, 10, 8, 0, 0));
let a: TestAuthority;
let admin: Caller;
let rows: PartBRows;
let org: { orgId: number; orgUid: string };
let child: { orgId: number; orgUid: string };
let other: { orgId: number; orgUid: string };
let ana: { userId: number; userUid: string };
let anaCaller: Caller;
let otherManager: Caller;
let laptop: { deviceId: number; guid: string };
let desktop: { deviceId: number; guid: string };
let bobLaptop: { deviceId: number; guid: string };
let oscarBox: { deviceId: number; guid: string };
const jobs: Record<string, RestoreRecord> = {};

async function restore(
  name: string,
  r: Omit<RestoreRecord, "jobId" | "startedAt">,
  end: { status: "COMPLETED" | "FAILED" | "CANCELED"; files: number; bytes: number; ms: number } | null,
) {
  const rec: RestoreRecord = { ...r, jobId: newOpaqueId(), startedAt: clock.now() };
  jobs[name] = rec;
  await a.ctx.store.transaction((tx) => recordRestoreStart(tx, rec, end?.files ?? 1, end?.bytes ?? 1));
  if (end) {
    clock.advance(end.ms);
    await a.ctx.store.transaction((tx) => recordRestoreEnd(tx, rec, end.status, end.files, end.bytes, clock.now()));
  }
  clock.advance(60_000);
}

beforeAll(async () => {
  a = await startTestAuthority({ clock });
  admin = await caller(a, a.adminUsername, a.adminPassword);
  rows = new PartBRows(a);
  org = await createOrg(admin, "History org", a.orgUid);
  child = await createOrg(admin, "History child", org.orgUid);
  other = await createOrg(admin, "History other", a.orgUid);
  ana = await createUser(admin, org.orgUid, "ana@example.com");
  const bob = await createUser(admin, child.orgUid, "bob@example.com");
  const oscar = await createUser(admin, other.orgUid, "oscar@example.com");
  await createUser(admin, other.orgUid, "othermgr@example.com", ["Org Manager"]);
  anaCaller = await caller(a, "ana@example.com", "password123");
  otherManager = await caller(a, "othermgr@example.com", "password123");
  laptop = rows.device(ana.userId, "ana-laptop", clock.now());
  desktop = rows.device(ana.userId, "ana-desktop", clock.now());
  bobLaptop = rows.device(bob.userId, "bob-laptop", clock.now());
  oscarBox = rows.device(oscar.userId, "oscar-box", clock.now());
  const adminId = admin.userId;
  // 20 days ago: the admin downloads a zip of ana's laptop
  clock.advance(-20 * DAY_MS);
  await restore(
    "adminZip",
    { restoreType: "WEB", sourceDeviceId: laptop.deviceId, acceptingDeviceId: null, sourceUserId: ana.userId, requestingUserId: adminId, orgId: org.orgId },
    { status: "COMPLETED", files: 12, bytes: 40_960, ms: 1200 },
  );
  clock.advance(20 * DAY_MS);
  // ana pushes her laptop's files to her desktop
  await restore(
    "anaPush",
    {
      restoreType: "PUSH",
      sourceDeviceId: laptop.deviceId,
      acceptingDeviceId: desktop.deviceId,
      sourceUserId: ana.userId,
      requestingUserId: ana.userId,
      orgId: org.orgId,
    },
    { status: "COMPLETED", files: 3, bytes: 3_000_000, ms: 2000 },
  );
  // a server restore of bob's laptop (child org), still running
  await restore(
    "bobServer",
    {
      restoreType: "SERVER",
      sourceDeviceId: bobLaptop.deviceId,
      acceptingDeviceId: null,
      sourceUserId: bob.userId,
      requestingUserId: adminId,
      orgId: child.orgId,
    },
    null,
  );
  // oscar's own zip, in another org, that failed
  await restore(
    "oscarZip",
    {
      restoreType: "WEB",
      sourceDeviceId: oscarBox.deviceId,
      acceptingDeviceId: null,
      sourceUserId: oscar.userId,
      requestingUserId: oscar.userId,
      orgId: other.orgId,
    },
    { status: "FAILED", files: 0, bytes: 0, ms: 10 },
  );
});
afterAll(async () => {
  rows.close();
  await a.dispose();
});

type History = { totalCount: number; restoreEvents: Record<string, unknown>[] };
const jobIds = (h: History) => h.restoreEvents.map((e) => e.jobId);

describe("restore history", () => {
  it("records each restore at creation and at its end, and lists it once with its newest state", async () => {
    expect((await a.ctx.store.restoreEventsOfJob(jobs.anaPush?.jobId as string)).map((e) => e.status)).toEqual(["STARTED", "COMPLETED"]);
    const h = dataOf<History>(await admin.get("/api/RestoreHistory?pgNum=1&pgSize=100"));
    expect(h.totalCount).toBe(4);
    expect(jobIds(h)).toEqual([jobs.oscarZip?.jobId, jobs.bobServer?.jobId, jobs.anaPush?.jobId, jobs.adminZip?.jobId]);
    const push = h.restoreEvents.find((e) => e.jobId === jobs.anaPush?.jobId);
    expect(push).toMatchObject({
      eventName: "PushRestore",
      restoreType: "PUSH",
      status: "COMPLETED",
      sourceComputerGuid: laptop.guid,
      sourceComputerName: "ana-laptop",
      sourceUsername: "ana@example.com",
      acceptingComputerGuid: desktop.guid,
      acceptingComputerName: "ana-desktop",
      acceptingComputerOsName: "linux",
      requestingUsername: "ana@example.com",
      restoredByAnotherUser: false,
      orgId: org.orgId,
      numFiles: 3,
      numBytes: 3_000_000,
      durationMs: 2000,
      transferRateBytesPerSec: 1_500_000,
    });
    expect(h.restoreEvents.find((e) => e.jobId === jobs.adminZip?.jobId)).toMatchObject({ restoredByAnotherUser: true, requestingUsername: a.adminUsername });
    expect(h.restoreEvents.find((e) => e.jobId === jobs.bobServer?.jobId)).toMatchObject({ status: "STARTED", durationMs: null, completedDate: null });
  });

  it("filters by days, orgId (incChildOrgs), userId and computerId", async () => {
    const q = async (s: string) => jobIds(dataOf<History>(await admin.get(`/api/RestoreHistory?pgNum=1&pgSize=100&${s}`)));
    expect(await q("days=7")).not.toContain(jobs.adminZip?.jobId);
    expect(await q("days=30")).toContain(jobs.adminZip?.jobId);
    expect(await q(`orgId=${org.orgId}`)).toEqual([jobs.anaPush?.jobId, jobs.adminZip?.jobId]);
    expect(await q(`orgId=${org.orgId}&incChildOrgs=True`)).toEqual([jobs.bobServer?.jobId, jobs.anaPush?.jobId, jobs.adminZip?.jobId]);
    expect(await q(`userId=${ana.userId}`)).toEqual([jobs.anaPush?.jobId, jobs.adminZip?.jobId]);
    expect(await q(`userId=${admin.userId}`)).toEqual([jobs.bobServer?.jobId, jobs.adminZip?.jobId]);
    expect(await q(`computerId=${desktop.deviceId}`)).toEqual([jobs.anaPush?.jobId]);
    expect((await admin.get("/api/RestoreHistory?days=soon")).status).toBe(400);
  });

  it("is role-limited: a user sees their own restores, another org's manager sees only their org's", async () => {
    expect(jobIds(dataOf<History>(await anaCaller.get("/api/RestoreHistory?pgNum=1&pgSize=100")))).toEqual([jobs.anaPush?.jobId, jobs.adminZip?.jobId]);
    expect(jobIds(dataOf<History>(await otherManager.get("/api/RestoreHistory?pgNum=1&pgSize=100")))).toEqual([jobs.oscarZip?.jobId]);
    expect((await otherManager.get(`/api/RestoreHistory?orgId=${org.orgId}`)).status).toBe(404);
    expect((await anaCaller.get(`/api/RestoreHistory?orgId=${other.orgId}&pgNum=1&pgSize=10`)).status).toBe(404);
  });

  it("answers 404 for a computerId the caller may not see, as for orgId and userId", async () => {
    expect((await otherManager.get(`/api/RestoreHistory?userId=${ana.userId}&pgNum=1&pgSize=10`)).status).toBe(404);
    expect((await otherManager.get(`/api/RestoreHistory?computerId=${laptop.deviceId}&pgNum=1&pgSize=10`)).status).toBe(404);
    expect((await anaCaller.get(`/api/RestoreHistory?computerId=${oscarBox.deviceId}&pgNum=1&pgSize=10`)).status).toBe(404);
    expect((await admin.get("/api/RestoreHistory?computerId=987654321&pgNum=1&pgSize=10")).status).toBe(404);
    // a device the caller may see still lists
    const of = async (who: Caller, id: number) => jobIds(dataOf<History>(await who.get(`/api/RestoreHistory?computerId=${id}&pgNum=1&pgSize=10`)));
    expect(await of(otherManager, oscarBox.deviceId)).toEqual([jobs.oscarZip?.jobId]);
    expect(await of(anaCaller, desktop.deviceId)).toEqual([jobs.anaPush?.jobId]);
  });

  it("exports the seed's columns as CSV, with the mark when another user started the restore", async () => {
    const r = await admin.get(`/api/v1/restore-history/export?orgId=${org.orgId}&incChildOrgs=true&days=30`);
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toMatch(/^text\/csv/);
    const [header, ...lines] = r.text.trim().split("\r\n");
    expect(header?.split(",")).toEqual([...RESTORE_CSV_COLUMNS]);
    expect(lines).toHaveLength(3);
    const col = (line: string, c: (typeof RESTORE_CSV_COLUMNS)[number]) => line.split(",")[RESTORE_CSV_COLUMNS.indexOf(c)];
    const push = lines.find((l) => col(l, "restoreType") === "PUSH") as string;
    expect([col(push, "operatingSystem"), col(push, "user"), col(push, "restoredByAnotherUser"), col(push, "restoreTo")]).toEqual([
      "linux",
      "ana@example.com",
      "FALSE",
      "ana-desktop",
    ]);
    expect([col(push, "numFiles"), col(push, "numBytes"), col(push, "transferRateBytesPerSec"), col(push, "durationMs")]).toEqual([
      "3",
      "3000000",
      "1500000",
      "2000",
    ]);
    const zip = lines.find((l) => col(l, "restoreType") === "WEB") as string;
    expect([col(zip, "restoredByAnotherUser"), col(zip, "requestingUser"), col(zip, "restoreTo")]).toEqual(["TRUE", a.adminUsername, "Download (zip)"]);
    const server = lines.find((l) => col(l, "restoreType") === "SERVER") as string;
    expect([col(server, "restoreTo"), col(server, "status"), col(server, "durationMs")]).toEqual(["Server file system", "STARTED", ""]);
  });

  it("lists a push into another org's device in that org's history and its owner's, not in a third org's", async () => {
    await restore(
      "crossPush",
      {
        restoreType: "PUSH",
        sourceDeviceId: laptop.deviceId,
        acceptingDeviceId: oscarBox.deviceId,
        sourceUserId: ana.userId,
        requestingUserId: admin.userId,
        orgId: org.orgId,
      },
      { status: "COMPLETED", files: 1, bytes: 10, ms: 100 },
    );
    const push = jobs.crossPush?.jobId;
    const list = async (who: Caller, q = "") => jobIds(dataOf<History>(await who.get(`/api/RestoreHistory?pgNum=1&pgSize=100${q}`)));
    expect(await list(otherManager)).toEqual([push, jobs.oscarZip?.jobId]);
    expect(await list(otherManager, `&orgId=${other.orgId}`)).toEqual([push, jobs.oscarZip?.jobId]);
    expect(await list(otherManager, `&computerId=${oscarBox.deviceId}`)).toEqual([push, jobs.oscarZip?.jobId]);
    const oscar = await caller(a, "oscar@example.com", "password123");
    expect(await list(oscar)).toEqual([push, jobs.oscarZip?.jobId]);
    expect(await list(anaCaller)).toContain(push);
    // a manager of neither org sees nothing of it
    const third = await createOrg(admin, "History third", a.orgUid);
    await createUser(admin, third.orgUid, "thirdmgr@example.com", ["Org Manager"]);
    expect(await list(await caller(a, "thirdmgr@example.com", "password123"))).toEqual([]);
  });
});
