/**
 * Migration 0005-device-local-selection: the selection a device's user made on the device, as its
 * agent reports it; devices that existed before have none until their agent reports.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { migrate, schemaVersion } from "../src/db/migrate.js";
import { openDatabase } from "../src/db/open.js";
import { seedOrgAndUser, tempDir } from "./helpers.js";

describe("migration 0005-device-local-selection", () => {
  it("adds the column to a version 4 database, empty for existing devices", () => {
    const db = openDatabase(join(tempDir(), "a.db"));
    migrate(db, { now: 1 }, 4);
    const u = seedOrgAndUser(db);
    db.prepare("INSERT INTO devices (device_guid, user_id, name, created_at, modified_at) VALUES ('800000000000000001', ?, 'laptop', 1, 1)").run(u);
    migrate(db, { now: 2 }, 5);
    expect(schemaVersion(db)).toBe(5);
    const row = () => db.prepare("SELECT local_selection_json FROM devices").get();
    expect(row()).toEqual({ local_selection_json: null });
    db.prepare("UPDATE devices SET local_selection_json = ?").run(JSON.stringify({ include: ["/home/u/"], exclude: [], excludePatterns: [] }));
    expect(JSON.parse((row() as { local_selection_json: string }).local_selection_json)).toEqual({ include: ["/home/u/"], exclude: [], excludePatterns: [] });
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
    db.close();
  });
});
