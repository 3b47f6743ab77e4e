/**
 * API.md §5 through HTTPS: py42's get_settings and update_settings sequences, the three rules of
 * the whole-object PUT, packets with locks and unknown keys, device defaults round trips, caps,
 * locks and raise-only (T21's downgrade refusal, T38's locked web restore).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Py42Client, startTestAuthority, type TestAuthority } from "../src/testing.js";
import { type Caller, caller, createOrg, createUser, dataOf, errorName, PartBRows } from "./api-fixture.js";

let a: TestAuthority;
let admin: Caller;
let py: Py42Client;
let rootId: number;
let dest: { destinationId: number; guid: string };
beforeAll(async () => {
  a = await startTestAuthority();
  admin = await caller(a, a.adminUsername, a.adminPassword);
  py = a.py42();
  rootId = dataOf<{ orgId: number }>(await admin.get("/api/Org/my")).orgId;
  const rows = new PartBRows(a);
  dest = rows.destination("Primary");
  rows.close();
  dataOf(await admin.send("PUT", "/api/v1/settings/destinations", { destinations: [{ destinationId: dest.destinationId, offered: true, autoStart: true }] }));
});
afterAll(async () => {
  await a.dispose();
});

type Obj = Record<string, unknown>;

/** py42's orgs.get_settings: exactly these two calls. */
async function getSettings(orgId: number): Promise<{ org: Obj; packets: Obj }> {
  const org = (await py.data("GET", `/api/Org/${orgId}?incSettings=True&incDeviceDefaults=True&incInheritedOrgInfo=True`)) as Obj;
  const packets = (await py.data("GET", `/api/OrgSetting/${orgId}`)) as Obj;
  return { org, packets };
}

const settingsOf = (org: Obj) => org.settings as Obj;
const sbc = (org: Obj) => (org.deviceDefaults as Obj).serviceBackupConfig as Obj;

describe("get_settings (API.md §5.1, §5.2)", () => {
  it("call 1 carries every part py42 needs, with the platform defaults", async () => {
    const child = await createOrg(admin, "Settings child", a.orgUid);
    const { org, packets } = await getSettings(child.orgId);
    expect(org).toMatchObject({ orgId: child.orgId, orgName: "Settings child", registrationKey: child.registrationKey });
    expect(settingsOf(org)).toMatchObject({
      maxSeats: -1,
      maxBytes: -1,
      archiveHoldDays: 365,
      defaultUserMaxBytes: -1,
      defaultUserMobileQuota: -1,
      webRestoreUserLimitMb: 250,
      webRestoreAdminLimitMb: 250,
      isUsingQuotaDefaults: true,
      warnInDays: 3,
      alertInDays: 5,
      reportSchedule: "_M_____",
      sendReports: true,
      isUsingReportingDefaults: true,
      isUsingDestinationDefaults: true,
      securityKeyType: "AccountPassword",
      securityKeyLocked: false,
      securityKeyInherit: true,
      usernameIsAnEmail: false,
      defaultRoles: ["Desktop User"],
      autoOfferSelf: false,
      allowLocalFolders: true,
    });
    // Additional recipients start empty: the first administrator receives reports without being listed there
    expect(settingsOf(org).recipients).toEqual([]);
    expect(settingsOf(org).destinations).toEqual([{ destinationId: dest.destinationId, guid: dest.guid, destinationName: "Primary", type: "CLUSTER" }]);
    expect(settingsOf(org).allDestinations).toEqual(settingsOf(org).destinations);
    expect(org.settingsSummary).toEqual(org.settings);
    expect((org.settingsInherited as Obj).archiveHoldDays).toBe(365);
    expect(org.orgInheritDto).toEqual({
      orgId: child.orgId,
      orgUid: child.orgUid,
      orgIdProvidingDestinations: rootId,
      orgUidProvidingDestinations: a.orgUid,
      orgNameProvidingDestinations: "Top Org",
      orgIdProvidingDeviceDefaults: rootId,
      orgUidProvidingDeviceDefaults: a.orgUid,
      orgNameProvidingDeviceDefaults: "Top Org",
    });
    const s = sbc(org);
    expect(s).toMatchObject({
      warningEmailEnabled: "true",
      severeEmailEnabled: "true",
      minutesUntilWarning: "4320",
      minutesUntilSevere: "7200",
      backupStatusEmailEnabled: "false",
      backupStatusEmailFreqInMinutes: "10080",
    });
    const sets = (s.backupConfig as Obj).backupSets as Obj[];
    expect(sets[0]?.["@id"]).toBe("1");
    expect(sets[0]?.destinations).toEqual([{ "@id": dest.guid }]);
    expect((s.backupConfig as Obj).frequencyMs).toBe("900000");
    // §5.4: each set has retentionPolicy (Cairn's one retention per device, shown in every set)
    expect((s.backupConfig as Obj).retentionPolicy).toMatchObject({ deletedRetentionMs: "-1" });
    for (const set of sets) expect(set.retentionPolicy).toEqual((s.backupConfig as Obj).retentionPolicy);
    expect(typeof (org.deviceDefaults as Obj).configDateMs).toBe("string");
    expect(packets.device_webRestore_enabled).toEqual({ scope: "ORG", value: "true", locked: false, lockedForChildren: false, id: rootId });
    expect(py.log.slice(-2).map((l) => l.path)).toEqual([
      `/api/Org/${child.orgId}?incSettings=True&incDeviceDefaults=True&incInheritedOrgInfo=True`,
      `/api/OrgSetting/${child.orgId}`,
    ]);
  });
});

describe("update_settings (API.md §5.1, §5.5)", () => {
  it("applies packets, then the whole object: an edit under a true flag overrides (rule 3)", async () => {
    const child = await createOrg(admin, "Edit child", a.orgUid);
    const { org } = await getSettings(child.orgId);
    expect(
      dataOf(await admin.send("PUT", `/api/OrgSetting/${child.orgId}`, { packets: [{ key: "device_webRestore_enabled", value: "false", locked: false }] }))
        .device_webRestore_enabled,
    ).toMatchObject({
      value: "false",
      id: child.orgId,
    });
    // py42 does not clear isUsingQuotaDefaults for web-restore limits
    settingsOf(org).webRestoreUserLimitMb = 0;
    org.orgName = "Edit child renamed";
    org.notes = "some notes";
    (org.deviceDefaults as Obj).settings = { serviceBackupConfig: structuredClone(sbc(org)) };
    const back = (await py.data("PUT", `/api/Org/${child.orgId}`, org)) as Obj;
    expect(back.orgName).toBe("Edit child renamed");
    expect(back.notes).toBe("some notes");
    expect(settingsOf(back)).toMatchObject({ webRestoreUserLimitMb: 0, isUsingQuotaDefaults: false, archiveHoldDays: 365 });
    // the unchanged device defaults (and py42's `settings` copy of them) change nothing: still inherited
    expect((back.orgInheritDto as Obj).orgIdProvidingDeviceDefaults).toBe(rootId);
    expect(settingsOf(back)).toMatchObject({
      isUsingReportingDefaults: true,
      securityKeyInherit: true,
      isUsingDestinationDefaults: true,
      isUsingDeviceDefaults: true,
    });
    const again = await getSettings(child.orgId);
    expect(settingsOf(again.org).webRestoreUserLimitMb).toBe(0);
    expect(again.packets.device_webRestore_enabled).toMatchObject({ value: "false", id: child.orgId });
    // a null notes clears it in the whole-object PUT
    const cleared = (await py.data("PUT", `/api/Org/${child.orgId}`, { ...again.org, notes: null })) as Obj;
    expect(cleared.notes).toBeNull();
  });

  it("flag true with nothing changed inherits again, dropping the override (rule 2)", async () => {
    const child = await createOrg(admin, "Inherit again", a.orgUid);
    let { org } = await getSettings(child.orgId);
    settingsOf(org).archiveHoldDays = 30;
    settingsOf(org).isUsingQuotaDefaults = false;
    await py.data("PUT", `/api/Org/${child.orgId}`, org);
    ({ org } = await getSettings(child.orgId));
    expect(settingsOf(org)).toMatchObject({ archiveHoldDays: 30, isUsingQuotaDefaults: false });
    settingsOf(org).isUsingQuotaDefaults = true;
    await py.data("PUT", `/api/Org/${child.orgId}`, org);
    ({ org } = await getSettings(child.orgId));
    expect(settingsOf(org)).toMatchObject({ archiveHoldDays: 365, isUsingQuotaDefaults: true });
  });

  it("shows a parent's change at once in inheriting children and never in overriding ones", async () => {
    const parent = await createOrg(admin, "Propagating parent", a.orgUid);
    const inheriting = await createOrg(admin, "Inheriting kid", parent.orgUid);
    const overriding = await createOrg(admin, "Overriding kid", parent.orgUid);
    dataOf(await admin.send("PUT", `/api/v1/orgs/${overriding.orgId}/settings`, { groups: { reporting: { values: { warnInDays: 9, alertInDays: 12 } } } }));
    dataOf(await admin.send("PUT", `/api/v1/orgs/${parent.orgId}/settings`, { groups: { reporting: { values: { warnInDays: 2, alertInDays: 4 } } } }));
    expect(settingsOf((await getSettings(inheriting.orgId)).org)).toMatchObject({ warnInDays: 2, alertInDays: 4, isUsingReportingDefaults: true });
    expect(settingsOf((await getSettings(overriding.orgId)).org)).toMatchObject({ warnInDays: 9, alertInDays: 12, isUsingReportingDefaults: false });
  });

  it("refuses a child's maxSeats above its parent's, applying nothing of the PUT", async () => {
    const parent = await createOrg(admin, "Seats parent", a.orgUid);
    const child = await createOrg(admin, "Seats child", parent.orgUid);
    dataOf(await admin.send("PUT", `/api/v1/orgs/${parent.orgId}/settings`, { groups: { quota: { values: { maxSeats: 10 } } } }));
    const { org } = await getSettings(child.orgId);
    expect(settingsOf(org).maxSeats).toBe(10);
    settingsOf(org).maxSeats = 11;
    settingsOf(org).isUsingQuotaDefaults = false;
    org.orgName = "Seats child renamed";
    const r = await admin.send("PUT", `/api/Org/${child.orgId}`, org);
    expect(r.status).toBe(400);
    expect(errorName(r)).toBe("MAX_SEATS_EXCEEDS_PARENT");
    expect(dataOf(await admin.get(`/api/Org/${child.orgId}`)).orgName).toBe("Seats child");
  });

  it("a child's own quota shown cut down to its parent's survives an unchanged round trip, and shows again when the cap goes", async () => {
    const parent = await createOrg(admin, "Cap parent", a.orgUid);
    const child = await createOrg(admin, "Cap child", parent.orgUid);
    const own = await getSettings(child.orgId);
    settingsOf(own.org).isUsingQuotaDefaults = false;
    settingsOf(own.org).archiveHoldDays = 30;
    await py.data("PUT", `/api/Org/${child.orgId}`, own.org);
    dataOf(await admin.send("PUT", `/api/v1/orgs/${parent.orgId}/settings`, { groups: { quota: { values: { maxSeats: 10 } } } }));
    const shown = await getSettings(child.orgId);
    expect(settingsOf(shown.org)).toMatchObject({ maxSeats: 10, archiveHoldDays: 30 });
    expect((await admin.send("PUT", `/api/Org/${child.orgId}`, shown.org)).status).toBe(200);
    dataOf(await admin.send("PUT", `/api/v1/orgs/${parent.orgId}/settings`, { groups: { quota: { values: { maxSeats: -1 } } } }));
    expect(settingsOf((await getSettings(child.orgId)).org)).toMatchObject({ maxSeats: -1, archiveHoldDays: 30 });
  });

  it.each([
    ["archiveHoldDays", 0],
    ["maxBytes", -2],
    ["warnInDays", "x"],
  ])("refuses %s = %j with 400", async (field, value) => {
    const child = await createOrg(admin, `Bad ${field}`, a.orgUid);
    const { org } = await getSettings(child.orgId);
    settingsOf(org)[field] = value;
    settingsOf(org).isUsingQuotaDefaults = false;
    settingsOf(org).isUsingReportingDefaults = false;
    expect((await admin.send("PUT", `/api/Org/${child.orgId}`, org)).status).toBe(400);
  });

  it("refuses a critical threshold that does not come after the warning threshold, applying nothing", async () => {
    const child = await createOrg(admin, "Thresholds", a.orgUid);
    const { org } = await getSettings(child.orgId);
    settingsOf(org).isUsingReportingDefaults = false;
    settingsOf(org).warnInDays = 6;
    settingsOf(org).alertInDays = 4;
    const r = await admin.send("PUT", `/api/Org/${child.orgId}`, org);
    expect(r.status).toBe(400);
    expect(r.text).toContain("alertInDays");
    expect(settingsOf(dataOf(await admin.get(`/api/Org/${child.orgId}?incSettings=True`))).warnInDays).toBe(3);
    const equal = await admin.send("PUT", `/api/v1/orgs/${child.orgId}/settings`, { groups: { reporting: { values: { warnInDays: 5, alertInDays: 5 } } } });
    expect(equal.status).toBe(400);
    // Device alerts, in minutes: the same rule.
    const severe = await admin.send("PUT", `/api/v1/orgs/${child.orgId}/settings`, {
      groups: { device: { values: { minutesUntilWarning: 7200, minutesUntilSevere: 4320 } } },
    });
    expect(severe.status).toBe(400);
    expect(severe.text).toContain("minutesUntilSevere");
    dataOf(await admin.send("PUT", `/api/v1/orgs/${child.orgId}/settings`, { groups: { reporting: { values: { warnInDays: 4, alertInDays: 9 } } } }));
    expect(settingsOf(dataOf(await admin.get(`/api/Org/${child.orgId}?incSettings=True`))).alertInDays).toBe(9);
  });

  it("keeps a locked packet: the child's PUT is 400 SETTING_LOCKED and applies no packet (T38)", async () => {
    const parent = await createOrg(admin, "Locking parent", a.orgUid);
    const child = await createOrg(admin, "Locked child", parent.orgUid);
    dataOf(await admin.send("PUT", `/api/OrgSetting/${parent.orgId}`, { packets: [{ key: "device_webRestore_enabled", value: "false", locked: true }] }));
    const { packets } = await getSettings(child.orgId);
    expect(packets.device_webRestore_enabled).toEqual({ scope: "ORG", value: "false", locked: true, lockedForChildren: false, id: parent.orgId });
    const r = await admin.send("PUT", `/api/OrgSetting/${child.orgId}`, {
      packets: [
        { key: "org-securityTools-enable", value: "true", locked: false },
        { key: "device_webRestore_enabled", value: "true", locked: false },
      ],
    });
    expect(r.status).toBe(400);
    expect(errorName(r)).toBe("SETTING_LOCKED");
    expect((await getSettings(child.orgId)).packets).not.toHaveProperty("org-securityTools-enable");
    expect(((await getSettings(parent.orgId)).packets.device_webRestore_enabled as Obj).lockedForChildren).toBe(true);
  });

  it("stores unknown packets verbatim, echoes them and lets children inherit them", async () => {
    const parent = await createOrg(admin, "Packet parent", a.orgUid);
    const child = await createOrg(admin, "Packet child", parent.orgUid);
    const put = dataOf(
      await admin.send("PUT", `/api/OrgSetting/${parent.orgId}`, {
        packets: [
          { key: "device_fileForensics_enabled", value: "true", locked: false },
          { key: "device_org_winAppActivity_binaryWhitelist", value: "a.exe,b.exe", locked: false },
        ],
      }),
    );
    expect(put.device_org_winAppActivity_binaryWhitelist).toMatchObject({ value: "a.exe,b.exe", id: parent.orgId });
    expect((await getSettings(child.orgId)).packets.device_fileForensics_enabled).toMatchObject({ value: "true", id: parent.orgId, locked: false });
    // a null value drops this org's own value again
    dataOf(await admin.send("PUT", `/api/OrgSetting/${parent.orgId}`, { packets: [{ key: "device_fileForensics_enabled", value: null, locked: false }] }));
    expect((await getSettings(child.orgId)).packets).not.toHaveProperty("device_fileForensics_enabled");
  });

  it("round-trips device defaults in py42's shapes and makes the org supply them", async () => {
    const child = await createOrg(admin, "Device child", a.orgUid);
    const { org } = await getSettings(child.orgId);
    const s = sbc(org);
    s.warningEmailEnabled = "false";
    s.minutesUntilWarning = "1440";
    s.minutesUntilSevere = { "@locked": "true", "#text": "2880" };
    const set = ((s.backupConfig as Obj).backupSets as Obj[])[0] as Obj;
    // what py42 writes after editing the selection and the exclusions
    (set.backupPaths as Obj).pathset = {
      paths: {
        "@os": "Linux",
        "@cleared": "false",
        path: [
          { "@include": "/home/", "@und": "false" },
          { "@exclude": "/home/tmp/", "@und": "false" },
        ],
      },
    };
    (set.backupPaths as Obj).excludeUser = {
      patternList: { pattern: [{ "@regex": ".*\\.tmp" }], windows: { pattern: [] }, macintosh: { pattern: [] }, linux: { pattern: [] } },
    };
    set.destinations = [{ "@id": dest.guid, "@locked": "true" }];
    const back = (await py.data("PUT", `/api/Org/${child.orgId}`, org)) as Obj;
    expect((back.orgInheritDto as Obj).orgIdProvidingDeviceDefaults).toBe(child.orgId);
    const again = (await getSettings(child.orgId)).org;
    const s2 = sbc(again);
    expect(s2).toMatchObject({ warningEmailEnabled: "false", minutesUntilWarning: "1440", minutesUntilSevere: { "@locked": "true", "#text": "2880" } });
    const set2 = ((s2.backupConfig as Obj).backupSets as Obj[])[0] as Obj;
    expect(set2.backupPaths).toEqual({
      pathset: [{ "@os": "Linux", path: [{ "@include": "/home/" }, { "@exclude": "/home/tmp/" }] }],
      excludeUser: [{ pattern: [{ "@regex": ".*\\.tmp" }], windows: [], macintosh: [], linux: [] }],
    });
    expect(set2.destinations).toEqual([{ "@id": dest.guid, "@locked": "true" }]);
    // a grandchild inherits them, with the lock
    const grand = await createOrg(admin, "Device grandchild", child.orgUid);
    const g = (await getSettings(grand.orgId)).org;
    expect((g.orgInheritDto as Obj).orgIdProvidingDeviceDefaults).toBe(child.orgId);
    expect(sbc(g).minutesUntilSevere).toEqual({ "@locked": "true", "#text": "2880" });
    // …and cannot change the locked value
    sbc(g).minutesUntilSevere = { "@locked": "true", "#text": "99" };
    const refused = await admin.send("PUT", `/api/Org/${grand.orgId}`, g);
    expect(errorName(refused)).toBe("SETTING_LOCKED");
    // a destination that is not offered is refused
    const sets = (sbc(again).backupConfig as Obj).backupSets as Obj[];
    (sets[0] as Obj).destinations = [{ "@id": "700000000000000001" }];
    expect((await admin.send("PUT", `/api/Org/${child.orgId}`, again)).status).toBe(400);
  });

  it("accepts the locked shapes of §5.4 (bare items, @locked containers)", async () => {
    const child = await createOrg(admin, "Shapes child", a.orgUid);
    const { org } = await getSettings(child.orgId);
    const bc = sbc(org).backupConfig as Obj;
    const set = (bc.backupSets as Obj[])[0] as Obj;
    set.backupPaths = {
      pathset: { "@locked": "true", paths: { "@os": "Linux", path: { "@include": "/srv/" } } },
      excludeUser: [{ pattern: { "@regex": "\\.bak$" } }],
    };
    bc.backupSets = { "@locked": "true", backupSet: set };
    await py.data("PUT", `/api/Org/${child.orgId}`, org);
    const again = sbc((await getSettings(child.orgId)).org).backupConfig as Obj;
    const container = again.backupSets as Obj;
    expect(container["@locked"]).toBe("true");
    const only = (container.backupSet as Obj[])[0] as Obj;
    expect(only.backupPaths).toEqual({
      pathset: [{ "@os": "Linux", path: [{ "@include": "/srv/" }] }],
      excludeUser: [{ pattern: [{ "@regex": "\\.bak$" }], windows: [], macintosh: [], linux: [] }],
    });
  });

  it("raises the key policy but never lowers it, for anyone (T21)", async () => {
    const child = await createOrg(admin, "Key child", a.orgUid);
    let { org } = await getSettings(child.orgId);
    settingsOf(org).securityKeyType = "PrivatePassword";
    const raised = (await py.data("PUT", `/api/Org/${child.orgId}`, org)) as Obj;
    expect(settingsOf(raised)).toMatchObject({ securityKeyType: "PrivatePassword", securityKeyInherit: false });
    ({ org } = await getSettings(child.orgId));
    settingsOf(org).securityKeyType = "AccountPassword";
    const lowered = await admin.send("PUT", `/api/Org/${child.orgId}`, org);
    expect(lowered.status).toBe(403);
    expect(errorName(lowered)).toBe("KEY_POLICY_DOWNGRADE");
    settingsOf(org).securityKeyType = "PrivatePassword";
    settingsOf(org).securityKeyInherit = true;
    expect(errorName(await admin.send("PUT", `/api/Org/${child.orgId}`, org))).toBe("KEY_POLICY_DOWNGRADE");
  });

  it("changes quotas only with rights on the parent org", async () => {
    const dept = await createOrg(admin, "Quota dept", a.orgUid);
    const team = await createOrg(admin, "Quota team", dept.orgUid);
    await createUser(admin, dept.orgUid, "deptadmin@example.com", ["Org Admin"]);
    const orgAdmin = await caller(a, "deptadmin@example.com", "password123");
    const own = dataOf(await orgAdmin.get(`/api/Org/${dept.orgId}?incSettings=True&incDeviceDefaults=True&incInheritedOrgInfo=True`));
    // settingsMeta.editable tells the console so before anyone tries (security settings need an all-org admin)
    expect((own.settingsMeta as Obj).editable).toMatchObject({ quota: false, reporting: true, security: false, device: true, destinations: true });
    (own.settings as Obj).archiveHoldDays = 10;
    expect((await orgAdmin.send("PUT", `/api/Org/${dept.orgId}`, own)).status).toBe(403);
    // unchanged quotas in the same whole object are fine
    const untouched = dataOf(await orgAdmin.get(`/api/Org/${dept.orgId}?incSettings=True&incDeviceDefaults=True&incInheritedOrgInfo=True`));
    untouched.orgName = "Quota dept renamed";
    expect((await orgAdmin.send("PUT", `/api/Org/${dept.orgId}`, untouched)).status).toBe(200);
    const sub = dataOf(await orgAdmin.get(`/api/Org/${team.orgId}?incSettings=True&incDeviceDefaults=True&incInheritedOrgInfo=True`));
    expect(((sub.settingsMeta as Obj).editable as Obj).quota).toBe(true);
    (sub.settings as Obj).archiveHoldDays = 10;
    expect(settingsOf(dataOf(await orgAdmin.send("PUT", `/api/Org/${team.orgId}`, sub))).archiveHoldDays).toBe(10);
  });

  it("reports sources and locks in settingsMeta and Cairn's settings route", async () => {
    const parent = await createOrg(admin, "Meta parent", a.orgUid);
    const child = await createOrg(admin, "Meta child", parent.orgUid);
    dataOf(
      await admin.send("PUT", `/api/v1/orgs/${parent.orgId}/settings`, {
        groups: { quota: { values: { archiveHoldDays: 40 } } },
        locks: { "quota.archiveHoldDays": true },
      }),
    );
    const meta = dataOf(await admin.get(`/api/Org/${child.orgId}?incSettings=True`)).settingsMeta as Obj;
    expect(meta.lockedBy).toEqual({ "quota.archiveHoldDays": { orgId: parent.orgId, orgName: "Meta parent" } });
    expect((meta.groupSource as Obj).quota).toEqual({ orgId: parent.orgId, orgName: "Meta parent" });
    const eff = dataOf(await admin.get(`/api/v1/orgs/${child.orgId}/settings`));
    expect((eff.source as Obj)["quota.archiveHoldDays"]).toBe(parent.orgId);
    expect(errorName(await admin.send("PUT", `/api/v1/orgs/${child.orgId}/settings`, { groups: { quota: { values: { archiveHoldDays: 41 } } } }))).toBe(
      "SETTING_LOCKED",
    );
  });
});
