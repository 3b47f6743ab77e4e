/**
 * Pure parts of devices and storage: placement ranking, alert levels, the alert thresholds'
 * chain walk against the real resolver (property test), the agent's run-window days, and
 * migration 2's triggers that keep `devices.org_id` and `devices.last_completed_backup_at`.
 */
import { join } from "node:path";
import { MINUTE_MS } from "@cairn/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { migrate } from "../src/db/migrate.js";
import { openDatabase } from "../src/db/open.js";
import { agentRunWindowDays, dataUrlOf } from "../src/devices/agent-service.js";
import { alertLevel } from "../src/devices/alert-state.js";
import { deviceThresholds, thresholdsOfChain } from "../src/devices/alert-thresholds.js";
import { resolveSettings, type SettingsLayer } from "../src/settings/resolve.js";
import { defaultSettings } from "../src/settings/schema.js";
import { type PlacementCandidate, rankStorePoints } from "../src/storage/placement.js";
import { affectsPlacements } from "../src/storage/placement-sync.js";
import { destinationSpace } from "../src/storage/storage-service.js";
import { tempDir } from "./helpers.js";

const sp = (id: number, o: Partial<PlacementCandidate> = {}): PlacementCandidate => ({
  storePointId: id,
  serverId: 1,
  nodeStorePointId: id,
  name: `sp${id}`,
  totalBytes: 100,
  freeBytes: 50,
  acceptingNew: true,
  acceptingData: true,
  updatedAt: 0,
  destinationId: 1,
  serverName: "n",
  destinationName: "d",
  archiveCount: 0,
  archiveBytes: 0,
  online: true,
  nodeAcceptsNew: null,
  ...o,
});

describe("placement sync", () => {
  it("pushes placements for retention and quota changes, and for changes of unknown keys, not for the rest", () => {
    expect(affectsPlacements(undefined)).toBe(true);
    for (const keys of [["device.retention"], ["device"], ["quota.defaultUserMaxBytes"], ["quota"], ["reporting.warnInDays", "device.retention:lock"]])
      expect(affectsPlacements(keys)).toBe(true);
    for (const keys of [[], ["destinations"], ["device.backupSets"], ["reporting.warnInDays"], ["packets.device_webRestore_enabled"]])
      expect(affectsPlacements(keys)).toBe(false);
  });
});

describe("placement", () => {
  it("takes the least used store point that is online, accepting new archives and data, with space", () => {
    const ranked = rankStorePoints([
      sp(1, { archiveBytes: 500 }),
      sp(2, { archiveBytes: 100, archiveCount: 3 }),
      sp(3, { archiveBytes: 100, archiveCount: 1 }),
      sp(4, { archiveBytes: 0, online: false }),
      sp(5, { archiveBytes: 0, acceptingNew: false }),
      sp(6, { archiveBytes: 0, acceptingData: false }),
      sp(7, { archiveBytes: 0, freeBytes: 0 }),
      sp(8, { archiveBytes: 0, nodeAcceptsNew: false }),
    ]);
    expect(ranked.map((s) => s.storePointId)).toEqual([3, 2, 1]);
    expect(rankStorePoints([])).toEqual([]);
  });
});

describe("alert states", () => {
  const t = { warnMinutes: 60, severeMinutes: 120 };
  it("counts from the last completed backup, or registration, on the server clock; inactive devices are OK", () => {
    const now = 10_000 * MINUTE_MS;
    expect(alertLevel({ active: true, lastCompletedBackupAt: now - 59 * MINUTE_MS, createdAt: 0 }, t, now)).toBe(0);
    expect(alertLevel({ active: true, lastCompletedBackupAt: now - 61 * MINUTE_MS, createdAt: 0 }, t, now)).toBe(1);
    expect(alertLevel({ active: true, lastCompletedBackupAt: now - 121 * MINUTE_MS, createdAt: 0 }, t, now)).toBe(2);
    expect(alertLevel({ active: true, lastCompletedBackupAt: null, createdAt: now - 61 * MINUTE_MS }, t, now)).toBe(1);
    expect(alertLevel({ active: false, lastCompletedBackupAt: null, createdAt: 0 }, t, now)).toBe(0);
  });

  it("walks an org chain exactly like the resolver does for the two thresholds (property)", () => {
    const D = defaultSettings().device;
    const layer = fc.record({
      device: fc.option(fc.record({ w: fc.integer({ min: 1, max: 9999 }), s: fc.integer({ min: 1, max: 9999 }) }), { nil: undefined }),
      lockW: fc.boolean(),
      lockS: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(layer, { minLength: 1, maxLength: 8 }), (layers) => {
        const chain: SettingsLayer[] = layers.map((l, i) => ({
          id: i + 1,
          groups: l.device ? { device: { ...D, minutesUntilWarning: l.device.w, minutesUntilSevere: l.device.s } } : {},
          packets: {},
          locks: [...(l.lockW ? ["device.minutesUntilWarning"] : []), ...(l.lockS ? ["device.minutesUntilSevere"] : [])],
        }));
        const r = resolveSettings(chain);
        const t = thresholdsOfChain(chain);
        expect([t.warnMinutes, t.severeMinutes]).toEqual([r.values.device.minutesUntilWarning, r.values.device.minutesUntilSevere]);
        // a device below the chain: its own value counts unless an org of the chain locks the key
        const withDevice = resolveSettings([
          ...chain,
          { id: 0, groups: { device: { ...r.values.device, minutesUntilWarning: 7, minutesUntilSevere: 8 } }, packets: {}, locks: [] },
        ]);
        const dt = deviceThresholds(t, { overrides: { device: { minutesUntilWarning: 7, minutesUntilSevere: 8 }, locks: [] } });
        expect([dt.warnMinutes, dt.severeMinutes]).toEqual([withDevice.values.device.minutesUntilWarning, withDevice.values.device.minutesUntilSevere]);
      }),
      { numRuns: 300 },
    );
  });
});

describe("what agents receive", () => {
  it("spells run-window days the agent's way: a letter on, '-' off", () => {
    expect(agentRunWindowDays("SM_WHF_")).toBe("SM-WTF-");
    expect(agentRunWindowDays("_-_____")).toBe("-------");
    expect(agentRunWindowDays("smtwtfs")).toBe("SMTWTFS");
  });

  it("gives the node's data-channel URL", () => {
    expect(dataUrlOf("wss://node:443")).toBe("wss://node:443/v1/data");
    expect(dataUrlOf("wss://node:443/")).toBe("wss://node:443/v1/data");
    expect(dataUrlOf("wss://node:443/v1/data")).toBe("wss://node:443/v1/data");
  });
});

describe("migration 2", () => {
  it("keeps a device's org (through user moves) and newest completed backup (through archive reports and purges)", () => {
    const db = openDatabase(join(tempDir(), "m.db"));
    migrate(db, { now: 1 }, 1);
    const org = (uid: string, path: string, parent: number | null, depth: number) =>
      db
        .prepare(
          "INSERT INTO orgs (org_uid, org_guid, parent_id, path, depth, name, registration_key, registration_key_hash, created_at, modified_at) VALUES (?, ?, ?, ?, ?, 'o', ?, ?, 1, 1)",
        )
        .run(uid, uid, parent, path, depth, uid, uid).lastInsertRowid;
    const o1 = org("100000000000000001", "/1/", null, 0);
    const o2 = org("100000000000000002", "/1/2/", 1, 1);
    const u = db
      .prepare("INSERT INTO users (user_uid, org_id, username, username_key, created_at, modified_at) VALUES ('300000000000000001', ?, 'u', 'u', 1, 1)")
      .run(o1).lastInsertRowid;
    db.prepare("INSERT INTO destinations (destination_guid, name, kind, created_at, modified_at) VALUES ('600000000000000001', 'd', 'cluster', 1, 1)").run();
    const before = db.prepare("INSERT INTO devices (device_guid, user_id, name, created_at, modified_at) VALUES ('900000000000000001', ?, 'old', 1, 1)").run(u);
    db.prepare(
      "INSERT INTO archives (archive_guid, device_id, destination_id, user_id, last_completed_backup_at, created_at, modified_at) VALUES ('700000000000000001', ?, 1, ?, 50, 1, 1)",
    ).run(before.lastInsertRowid, u);
    migrate(db, { now: 2 });
    const row = (id: number | bigint) => db.prepare("SELECT org_id, last_completed_backup_at FROM devices WHERE device_id = ?").get(id);
    // rows that existed before the migration are filled in
    expect(row(before.lastInsertRowid)).toEqual({ org_id: Number(o1), last_completed_backup_at: 50 });
    const d = db.prepare("INSERT INTO devices (device_guid, user_id, name, created_at, modified_at) VALUES ('900000000000000002', ?, 'new', 1, 1)").run(u);
    expect(row(d.lastInsertRowid)).toEqual({ org_id: Number(o1), last_completed_backup_at: null });
    const a1 = db
      .prepare(
        "INSERT INTO archives (archive_guid, device_id, destination_id, user_id, last_completed_backup_at, created_at, modified_at) VALUES ('700000000000000002', ?, 1, ?, 100, 1, 1)",
      )
      .run(d.lastInsertRowid, u);
    expect(row(d.lastInsertRowid)).toEqual({ org_id: Number(o1), last_completed_backup_at: 100 });
    db.prepare("UPDATE archives SET last_completed_backup_at = 200 WHERE archive_id = ?").run(a1.lastInsertRowid);
    expect(row(d.lastInsertRowid)).toMatchObject({ last_completed_backup_at: 200 });
    db.prepare("UPDATE users SET org_id = ? WHERE user_id = ?").run(o2, u);
    expect(row(d.lastInsertRowid)).toMatchObject({ org_id: Number(o2) });
    expect(row(before.lastInsertRowid)).toMatchObject({ org_id: Number(o2) });
    db.prepare("UPDATE archives SET purged_at = 5 WHERE archive_id = ?").run(a1.lastInsertRowid);
    expect(row(d.lastInsertRowid)).toMatchObject({ last_completed_backup_at: null });
    db.close();
  });
});

describe("destinationSpace", () => {
  const GB = 1e9;
  const disk = { totalBytes: 500 * GB, freeBytes: 300 * GB };
  it("is the store points' space for our own servers and for an unlimited provider tenant", () => {
    expect(destinationSpace(disk, 10 * GB, [])).toEqual({ ...disk, quotaBytes: null });
    expect(destinationSpace(disk, 10 * GB, [-1])).toEqual({ ...disk, quotaBytes: null });
  });
  it("is the tenant quota for a provider's destination: the provider's disk is not ours to fill", () => {
    expect(destinationSpace(disk, 10 * GB, [50 * GB])).toEqual({ totalBytes: 50 * GB, freeBytes: 40 * GB, quotaBytes: 50 * GB });
    // over the quota: nothing free, never negative
    expect(destinationSpace(disk, 60 * GB, [50 * GB]).freeBytes).toBe(0);
    // a quota larger than the provider's disk: the disk is the limit
    expect(destinationSpace(disk, 10 * GB, [900 * GB])).toEqual({ totalBytes: 500 * GB, freeBytes: 300 * GB, quotaBytes: 900 * GB });
  });
});
