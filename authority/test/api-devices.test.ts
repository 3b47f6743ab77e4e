/**
 * API.md §6 and §7.1 as py42 calls them, field by field, against devices registered over the
 * agent channel and figures reported by a (fake) storage node: the computer object and its
 * `backupUsage`, the list's filters, counts and paging, alert states on the server's clock, the
 * §5.4 settings tree round trip with its refusals, block / deactivate / reactivate with cold
 * storage and legal hold, archives, backup sets, data key tokens, and org rollups.
 */
import { join } from "node:path";
import { DAY_MS, isoTime, ManualClock, MINUTE_MS } from "@cairn/protocol";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOrg, dataOf, errorName } from "./api-fixture.js";
import { type DeviceFixture, deviceFixture, type TestDevice } from "./device-fixture.js";

const T0 = Date.UTC(2026, 5, 1, 10, 0, 0);
const clock = new ManualClock(T0);
let f: DeviceFixture;
let org: { orgId: number; orgUid: string; registrationKey: string };
let ana: TestDevice;
beforeAll(async () => {
  f = await deviceFixture({ clock });
  org = await createOrg(f.admin, "Devices org", f.a.orgUid);
  ana = await f.device({ username: "ana@example.com", registrationKey: org.registrationKey, deviceName: "ana-laptop" });
});
afterAll(async () => {
  await f.dispose();
});

const report = (archiveGuid: string, o: Partial<Record<string, unknown>> = {}) => ({
  archiveGuid,
  storePointId: f.node.storePointIds[0] as number,
  archiveBytes: 1_745_757_673,
  selectedFiles: 596,
  selectedBytes: 1_658_317_953,
  todoFiles: 0,
  todoBytes: 0,
  versionCount: 3,
  fileCount: 596,
  lastBackup: clock.now(),
  lastCompletedBackup: clock.now(),
  lastMaintenance: null,
  maintenanceDurationMs: 0,
  compactBytesRemoved: 0,
  damagedBlocks: 0,
  cold: false,
  ...o,
});

describe("the computer object (API.md §6)", () => {
  it("has the platform's fields, and backupUsage from the node's report", async () => {
    await f.node.peer.call("report-archives", { archives: [report(ana.archiveGuid as string)] });
    const py = f.a.py42();
    const c = (await py.data("GET", `/api/Computer/${ana.computerId}?incBackupUsage=True`)) as Record<string, unknown>;
    const user = dataOf<{ userId: number; userUid: string }>(await f.admin.get("/api/User?username=ana@example.com")) as unknown as {
      users: { userId: number; userUid: string }[];
    };
    expect(c).toEqual({
      computerId: ana.computerId,
      guid: ana.deviceGuid,
      name: "ana-laptop",
      osHostname: "test-host",
      type: "COMPUTER",
      status: "Active",
      active: true,
      blocked: false,
      alertState: 0,
      alertStates: ["OK"],
      userId: user.users[0]?.userId,
      userUid: ana.userUid,
      username: "ana@example.com",
      orgId: org.orgId,
      orgUid: org.orgUid,
      orgName: "Devices org",
      computerExtRef: null,
      notes: null,
      parentComputerId: null,
      parentComputerGuid: null,
      lastConnected: isoTime(T0),
      osName: "linux",
      osVersion: "6.1",
      osArch: "x64",
      address: null,
      remoteAddress: "127.0.0.1",
      timeZone: "UTC",
      version: T0,
      productVersion: "0.1.0",
      buildVersion: 1,
      creationDate: isoTime(T0),
      modificationDate: isoTime(T0),
      loginDate: isoTime(T0),
      service: "CrashPlan",
      lastCompletedBackup: isoTime(T0),
      backupUsage: [
        {
          targetComputerGuid: f.dest.guid,
          targetComputerName: "Primary",
          targetComputerType: "SERVER",
          archiveGuid: ana.archiveGuid,
          archiveFormat: "ARCHIVE_V1",
          selectedFiles: 596,
          selectedBytes: 1_658_317_953,
          todoFiles: 0,
          todoBytes: 0,
          archiveBytes: 1_745_757_673,
          billableBytes: 1_745_757_673,
          percentComplete: 100,
          lastBackup: isoTime(T0),
          lastCompletedBackup: isoTime(T0),
          lastConnected: isoTime(T0),
          lastMaintenanceDate: null,
          lastCompactDate: null,
          lastError: null,
          using: true,
          alertState: 0,
          alertStates: ["OK"],
          storePointId: f.node.storePointIds[0],
          storePointName: "sp1",
          serverId: expect.any(Number),
          serverGuid: f.node.serverGuid,
          serverName: "fake-node",
          serverHostName: "https://127.0.0.1:1",
          isProvider: false,
          activity: { connected: true, backingUp: false, restoring: false, timeRemainingInMs: 0, remainingFiles: 0, remainingBytes: 0 },
        },
      ],
    });
    // by guid, the same object
    expect(await py.data("GET", `/api/Computer/${ana.deviceGuid}?idType=guid&incBackupUsage=True`)).toEqual(c);
    // without incBackupUsage there is none; with it and no archive, []
    expect((await py.data("GET", `/api/Computer/${ana.computerId}`)) as object).not.toHaveProperty("backupUsage");
    const bare = await f.device({ username: "bare@example.com", registrationKey: org.registrationKey, archive: false });
    expect(((await py.data("GET", `/api/Computer/${bare.computerId}?incBackupUsage=True`)) as { backupUsage: unknown[] }).backupUsage).toEqual([]);
  });

  it("adds settings, availableDestinations and orgSettings with incSettings", async () => {
    const c = dataOf<Record<string, Record<string, unknown>>>(await f.admin.get(`/api/Computer/${ana.computerId}?incSettings=True`));
    expect(c.availableDestinations).toEqual([{ destinationId: f.dest.destinationId, guid: f.dest.guid, destinationName: "Primary", type: "CLUSTER" }]);
    expect(c.orgSettings).toEqual({ securityKeyLocked: false });
    const s = c.settings as { serviceBackupConfig: Record<string, unknown>; configDateMs: string; javaMemoryHeapMax: string };
    expect(s.configDateMs).toMatch(/^\d+$/);
    expect(s.serviceBackupConfig).toMatchObject({ minutesUntilWarning: "4320", minutesUntilSevere: "7200", warningEmailEnabled: "true" });
    const sets = (s.serviceBackupConfig.backupConfig as { backupSets: Record<string, unknown>[] }).backupSets;
    expect(sets[0]).toMatchObject({ "@id": "1", name: "Backup Set 1", destinations: [{ "@id": f.dest.guid }] });
  });

  it("shows the retention policy in every backup set (API.md §5.4), read only", async () => {
    const py = f.a.py42();
    const c = (await py.data("GET", `/api/Computer/${ana.computerId}?incSettings=True`)) as Record<string, any>;
    const bc = c.settings.serviceBackupConfig.backupConfig;
    expect(bc.retentionPolicy).toMatchObject({ deletedRetentionMs: expect.any(String) });
    for (const set of bc.backupSets) expect(set.retentionPolicy).toEqual(bc.retentionPolicy);
    // the copy in a set is not where retention is edited: PUT back with it changed, nothing changes
    bc.backupSets[0].retentionPolicy = { bands: [], deletedRetentionMs: "1" };
    c.settings.configDateMs = String(clock.now());
    await py.data("PUT", `/api/Computer/${ana.computerId}`, c);
    const back = (await py.data("GET", `/api/Computer/${ana.computerId}?incSettings=True`)) as Record<string, any>;
    expect(back.settings.serviceBackupConfig.backupConfig.backupSets[0].retentionPolicy).toEqual(bc.retentionPolicy);
  });
});

describe("the list (API.md §6)", () => {
  it("filters by org, user and destination, pages like py42 (one page past the end), and refuses an unknown org", async () => {
    const py = f.a.py42();
    const mine = await py.allPages(`/api/Computer?incCounts=True&orgUid=${org.orgUid}`, "computers", 1);
    expect(mine.pages).toBe(3);
    expect((mine.items as { name: string }[]).map((x) => x.name).sort()).toEqual(["ana-laptop", "test-device"]);
    const last = (await py.data("GET", `/api/Computer?orgUid=${org.orgUid}&pgNum=3&pgSize=1`)) as Record<string, unknown>;
    expect(last).toEqual({ totalCount: 2, computers: [] });
    const byUser = (await py.data("GET", `/api/Computer?userUid=${ana.userUid}&pgNum=1&pgSize=10`)) as { computers: { guid: string }[] };
    expect(byUser.computers.map((x) => x.guid)).toEqual([ana.deviceGuid]);
    const byDest = (await py.data("GET", `/api/Computer?targetComputerGuid=${f.dest.guid}&orgUid=${org.orgUid}&pgNum=1&pgSize=10`)) as {
      computers: { guid: string }[];
    };
    expect(byDest.computers.map((x) => x.guid)).toEqual([ana.deviceGuid]);
    const q = (await py.data("GET", `/api/Computer?q=ANA-LAP&pgNum=1&pgSize=10`)) as { computers: { guid: string }[] };
    expect(q.computers.map((x) => x.guid)).toEqual([ana.deviceGuid]);
    const unknown = await py.call("GET", "/api/Computer?orgUid=123456789012345678&pgNum=1&pgSize=10");
    expect(unknown.status).toBe(400);
    expect(unknown.text).toContain("Unable to find org");
    for (const orgUid of ["12345", "abc", "9".repeat(41)]) {
      const bad = await py.call("GET", `/api/Computer?orgUid=${orgUid}&pgNum=1&pgSize=10`);
      expect(bad.status, orgUid).toBe(400);
      expect(bad.text, orgUid).toContain("Unable to find org");
    }
    const sorted = dataOf<{ computers: { name: string }[] }>(await f.admin.get(`/api/Computer?orgUid=${org.orgUid}&srtKey=name&srtDir=desc`));
    expect(sorted.computers.map((x) => x.name)).toEqual(["test-device", "ana-laptop"]);
  });

  it("turns warning and critical on the server's clock, by the device settings' minutes, in objects and counts", async () => {
    const counts = async () => dataOf<{ warningCount: number; criticalCount: number }>(await f.admin.get(`/api/Computer?incCounts=True&orgUid=${org.orgUid}`));
    expect(await counts()).toMatchObject({ warningCount: 0, criticalCount: 0 });
    clock.advance(4320 * MINUTE_MS + MINUTE_MS);
    // "bare" never completed a backup: its registration counts
    expect(await counts()).toMatchObject({ warningCount: 2, criticalCount: 0 });
    expect(dataOf(await f.admin.get(`/api/Computer/${ana.computerId}?incBackupUsage=True`))).toMatchObject({
      alertState: 1,
      alertStates: ["WARNING"],
      backupUsage: [expect.objectContaining({ alertState: 1 })],
    });
    clock.advance(2 * DAY_MS);
    expect(await counts()).toMatchObject({ warningCount: 0, criticalCount: 2 });
    // a completed backup (server time of the node's report) makes it OK again
    await f.node.peer.call("report-archives", { archives: [report(ana.archiveGuid as string)] });
    expect(await counts()).toMatchObject({ warningCount: 0, criticalCount: 1 });
    expect(dataOf(await f.admin.get(`/api/Computer/${ana.computerId}`))).toMatchObject({ alertState: 0, lastCompletedBackup: isoTime(clock.now()) });
    // an org's own thresholds count for its devices
    dataOf(
      await f.admin.send("PUT", `/api/v1/orgs/${org.orgId}/settings`, { groups: { device: { values: { minutesUntilWarning: 10, minutesUntilSevere: 20 } } } }),
    );
    clock.advance(15 * MINUTE_MS);
    expect(await counts()).toMatchObject({ warningCount: 1, criticalCount: 1 });
    expect(dataOf(await f.admin.get(`/api/Computer/${ana.computerId}`))).toMatchObject({ alertState: 1 });
    // and the org's rollups (by its warnInDays / alertInDays) come from the same data
    expect(dataOf(await f.admin.get(`/api/Org/${org.orgId}?incCounts=True`))).toMatchObject({
      computerCount: 2,
      backupComputerCount: 1,
      archiveBytes: 1_745_757_673,
      selectedFiles: 596,
      criticalCount: 1,
    });
    dataOf(await f.admin.send("PUT", `/api/v1/orgs/${org.orgId}/settings`, { groups: { device: { inherit: true } } }));
  });
});

describe("settings PUT (API.md §6, §5.4)", () => {
  it("round-trips name, computerExtRef, notes, alert fields and the selection, and tells the agent", async () => {
    const py = f.a.py42();
    const c = (await py.data("GET", `/api/Computer/${ana.computerId}?incSettings=True`)) as Record<string, any>;
    const events = ana.link.events.length;
    c.name = "ana-desktop";
    c.computerExtRef = "asset-17";
    c.notes = "second floor";
    const svc = c.settings.serviceBackupConfig;
    svc.minutesUntilWarning = "60";
    svc.warningEmailEnabled = "false";
    svc.backupConfig.backupSets[0].backupPaths.pathset = {
      paths: { "@os": "Linux", "@cleared": "false", path: [{ "@include": "/home/ana/", "@und": "false" }] },
    };
    c.settings.configDateMs = String(clock.now());
    const put = (await py.data("PUT", `/api/Computer/${ana.computerId}`, c)) as Record<string, any>;
    expect(put).toMatchObject({ name: "ana-desktop", computerExtRef: "asset-17", notes: "second floor" });
    const back = (await py.data("GET", `/api/Computer/${ana.computerId}?incSettings=True`)) as Record<string, any>;
    expect(back.settings.serviceBackupConfig).toMatchObject({ minutesUntilWarning: "60", warningEmailEnabled: "false", minutesUntilSevere: "7200" });
    expect(back.settings.serviceBackupConfig.backupConfig.backupSets[0].backupPaths.pathset).toEqual([
      { "@os": "Linux", path: [{ "@include": "/home/ana/" }] },
    ]);
    await expect.poll(() => ana.link.events.slice(events).map((e) => e.event)).toContain("config-changed");
    const cfg = await ana.link.peer.call("get-config", {});
    expect(cfg.settings.minutesUntilWarning).toBe(60);
    expect(cfg.settings.backupSets[0]?.include).toEqual(["/home/ana/"]);
    expect(cfg.device.name).toBe("ana-desktop");
    // a null notes clears them; the unchanged object changes nothing
    back.notes = null;
    expect(((await py.data("PUT", `/api/Computer/${ana.computerId}`, back)) as { notes: unknown }).notes).toBeNull();
    // one destination as the bare item (API.md §5.4: a list of one may arrive so) is that destination
    const set = back.settings.serviceBackupConfig.backupConfig.backupSets[0];
    const dests = set.destinations as { "@id": string }[];
    expect(dests).toHaveLength(1);
    set.destinations = dests[0];
    back.settings.configDateMs = String(clock.now());
    await py.data("PUT", `/api/Computer/${ana.computerId}`, back);
    const again = (await py.data("GET", `/api/Computer/${ana.computerId}?incSettings=True`)) as Record<string, any>;
    expect(again.settings.serviceBackupConfig.backupConfig.backupSets[0].destinations).toEqual(dests);
  });

  it("refuses a warning after the critical threshold for a device, as for its org (400)", async () => {
    const c = dataOf<Record<string, any>>(await f.admin.get(`/api/Computer/${ana.computerId}?incSettings=True`));
    const svc = c.settings.serviceBackupConfig;
    svc.minutesUntilWarning = "9000";
    svc.minutesUntilSevere = "7000";
    const r = await f.admin.send("PUT", `/api/Computer/${ana.computerId}`, c);
    expect([r.status, r.text]).toEqual([400, expect.stringContaining("must be greater than")]);
    const after = dataOf<Record<string, any>>(await f.admin.get(`/api/Computer/${ana.computerId}?incSettings=True`));
    expect(after.settings.serviceBackupConfig.minutesUntilWarning).not.toBe("9000");
  });

  it("refuses a locked value and a destination not offered with 400, an identity change with 403, and changes nothing", async () => {
    dataOf(await f.admin.send("PUT", `/api/v1/orgs/${org.orgId}/settings`, { locks: { "device.minutesUntilSevere": true } }));
    const c = dataOf<Record<string, any>>(await f.admin.get(`/api/Computer/${ana.computerId}?incSettings=True`));
    expect(c.settings.serviceBackupConfig.minutesUntilSevere).toEqual({ "@locked": "true", "#text": "7200" });
    const locked = structuredClone(c);
    locked.settings.serviceBackupConfig.minutesUntilSevere = { "@locked": "true", "#text": "100" };
    const r1 = await f.admin.send("PUT", `/api/Computer/${ana.computerId}`, locked);
    expect(r1.status).toBe(400);
    expect(errorName(r1)).toBe("SETTING_LOCKED");
    const foreign = structuredClone(c);
    foreign.settings.serviceBackupConfig.backupConfig.backupSets[0].destinations = [{ "@id": "123456789012345678" }];
    expect((await f.admin.send("PUT", `/api/Computer/${ana.computerId}`, foreign)).status).toBe(400);
    expect((await f.admin.send("PUT", `/api/Computer/${ana.computerId}`, { ...c, userId: 1 })).status).toBe(403);
    expect((await f.admin.send("PUT", `/api/Computer/${ana.computerId}`, c)).status).toBe(200);
    dataOf(await f.admin.send("PUT", `/api/v1/orgs/${org.orgId}/settings`, { locks: { "device.minutesUntilSevere": false } }));
  });
});

describe("lifecycle, archives, backup sets, data key tokens", () => {
  it("refuses to deactivate a custodian's device (ACTIVE_LEGAL_HOLD), and nothing changes", async () => {
    const db = new Database(join(f.a.dataDir, "authority.db"));
    const user = db.prepare("SELECT user_id FROM users WHERE user_uid = ?").get(ana.userUid) as { user_id: number };
    const pol = db
      .prepare("INSERT INTO legal_hold_policies (policy_uid, name, policy_json, created_at, modified_at) VALUES ('900000000000000001', 'p', '{}', 1, 1)")
      .run();
    const hold = db
      .prepare("INSERT INTO legal_holds (hold_uid, name, policy_id, created_at, modified_at) VALUES ('900000000000000002', 'Case', ?, 1, 1)")
      .run(pol.lastInsertRowid);
    const m = db
      .prepare("INSERT INTO legal_hold_memberships (membership_uid, hold_id, user_id, created_at, modified_at) VALUES ('900000000000000003', ?, ?, 1, 1)")
      .run(hold.lastInsertRowid, user.user_id);
    const r = await f.a.py42().call("POST", "/api/v4/computer-deactivation/update", { id: ana.computerId });
    expect(r.status).toBe(400);
    expect(r.text).toContain("ACTIVE_LEGAL_HOLD");
    db.prepare("UPDATE legal_hold_memberships SET active = 0 WHERE membership_id = ?").run(m.lastInsertRowid);
    db.close();
    expect(dataOf(await f.admin.get(`/api/Computer/${ana.computerId}`))).toMatchObject({ active: true });
  });

  it("lists archives by device, user and destination, and one by GUID (API.md §7.1)", async () => {
    const py = f.a.py42();
    const a = (await py.data("GET", `/api/Archive/${ana.archiveGuid}`)) as Record<string, unknown>;
    expect(a).toMatchObject({
      archiveGuid: ana.archiveGuid,
      sourceGuid: ana.deviceGuid,
      userUid: ana.userUid,
      archiveBytes: 1_745_757_673,
      targetGuid: f.dest.guid,
      isColdStorage: false,
      archiveHoldExpireDate: null,
      lastMaintained: null,
      maintenanceDuration: 0,
      compactBytesRemoved: 0,
      storePointId: f.node.storePointIds[0],
      selectedBytes: 1_658_317_953,
      selectedFiles: 596,
      todoBytes: 0,
      format: "ARCHIVE_V1",
    });
    for (const q of [`backupSourceGuid=${ana.deviceGuid}`, `userUid=${ana.userUid}`]) {
      expect(await py.data("GET", `/api/Archive?${q}&pgNum=1&pgSize=500`)).toEqual({ totalCount: 1, archives: [a] });
    }
    const byDest = (await py.data("GET", `/api/Archive?destinationGuid=${f.dest.guid}&pgNum=1&pgSize=500`)) as { archives: { archiveGuid: string }[] };
    expect(byDest.archives.map((x) => x.archiveGuid)).toContain(ana.archiveGuid);
    expect((await py.call("GET", "/api/Archive/123456789012345678")).status).toBe(404);
  });

  it("answers backup sets per destination, and a data key token to whoever may restore", async () => {
    const py = f.a.py42();
    expect(await py.data("GET", `/c42api/v3/BackupSets/${ana.deviceGuid}/${f.dest.guid}`)).toEqual({
      backupSets: [{ backupSetId: "1", name: "Backup Set 1" }],
    });
    expect((await py.call("GET", `/c42api/v3/BackupSets/${ana.deviceGuid}/123456789012345678`)).status).toBe(404);
    expect((await py.call("GET", `/c42api/v3/BackupSets/123456789012345678/${f.dest.guid}`)).status).toBe(404);
    const t = (await py.data("POST", "/api/DataKeyToken", { computerGuid: ana.deviceGuid })) as { dataKeyToken: string };
    expect(t.dataKeyToken).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  });

  it("removing a destination sends its archives to cold storage", async () => {
    const second = dataOf<{ destinationId: number; guid: string }>(
      await f.admin.send("POST", "/api/v1/destinations", { destinationName: "Second", providerKey: null }),
    );
    const key = dataOf<{ enrollKey: string }>(await f.admin.send("POST", "/api/v1/enroll-keys", { destinationId: second.destinationId }));
    const { fakeNode } = await import("./ws-peers.js");
    const node2 = await fakeNode(f.a, key.enrollKey);
    dataOf(
      await f.admin.send("PUT", "/api/v1/settings/destinations", {
        destinations: [
          { destinationId: f.dest.destinationId, offered: true, autoStart: true },
          { destinationId: second.destinationId, offered: true, autoStart: false },
        ],
      }),
    );
    const d = await f.device({ username: "two-dests@example.com", archive: false });
    const a2 = await d.link.peer.call("create-archive", { destinationGuid: second.guid });
    expect((await f.admin.send("DELETE", `/api/v1/destinations/${second.destinationId}`)).status).toBe(204);
    expect(dataOf(await f.admin.get(`/api/Archive/${a2.archiveGuid}`))).toMatchObject({ isColdStorage: true });
    expect((await d.link.peer.call("get-config", {})).destinations.map((x) => x.destinationGuid)).toEqual([f.dest.guid]);
    node2.close();
  });
});

describe("upgrade clients (API.md §1.6: a failing request changes nothing)", () => {
  const upgradeEntries = async (orgId: number) =>
    dataOf<{ auditEntries: { action: string }[] }>(await f.admin.get(`/api/v1/audit-log?orgId=${orgId}&pgNum=1&pgSize=500`)).auditEntries.filter(
      (e) => e.action === "org.upgradeClients",
    );

  it("refuses a bad version with 400 (a missing package with 404) before writing the audit entry or telling any agent", async () => {
    const o = await createOrg(f.admin, "Upgrade org", f.a.orgUid);
    const d = await f.device({ username: "upgrader@example.com", registrationKey: o.registrationKey, archive: false });
    const told: string[] = [];
    d.link.ws.on("message", (m) => told.push(String(m)));
    for (const version of [42, "", "../../etc/passwd", "1.2", ["1.2.3"]]) {
      const r = await f.admin.send("POST", `/api/v1/orgs/${o.orgId}/upgrade-clients`, { version });
      expect(r.status, JSON.stringify(version)).toBe(400);
      expect(errorName(r)).toBe("BAD_REQUEST");
    }
    const missing = await f.admin.send("POST", `/api/v1/orgs/${o.orgId}/upgrade-clients`, { version: "9.9.9" });
    expect(missing.status).toBe(404);
    expect(await upgradeEntries(o.orgId)).toEqual([]);
    const configPushes = async () => {
      await new Promise((r) => setTimeout(r, 150));
      return told.filter((m) => m.includes("config-changed")).length;
    };
    expect(await configPushes()).toBe(0);
    // a good request (no package imported yet) is audited once and reaches the agent
    expect(dataOf(await f.admin.send("POST", `/api/v1/orgs/${o.orgId}/upgrade-clients`, {}))).toMatchObject({ deviceCount: 1, offeredVersion: null });
    expect(await upgradeEntries(o.orgId)).toHaveLength(1);
    expect(await configPushes()).toBe(1);
  });
});
