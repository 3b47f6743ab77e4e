/**
 * Migration 0004-archive-last-error: an archive's last reported backup failure (RELIABILITY T20),
 * three nullable columns; archives that existed before have none.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { migrate, schemaVersion } from "../src/db/migrate.js";
import { openDatabase } from "../src/db/open.js";
import { seedOrgAndUser, tempDir } from "./helpers.js";

describe("migration 0004-archive-last-error", () => {
  it("adds the last-error columns to a version 3 database, empty for existing archives", () => {
    const db = openDatabase(join(tempDir(), "a.db"));
    migrate(db, { now: 1 }, 3);
    const u = seedOrgAndUser(db);
    db.prepare("INSERT INTO destinations (destination_guid, name, kind, created_at, modified_at) VALUES ('600000000000000001', 'd', 'cluster', 1, 1)").run();
    const d = db.prepare("INSERT INTO devices (device_guid, user_id, name, created_at, modified_at) VALUES ('800000000000000001', ?, 'laptop', 1, 1)").run(u);
    db.prepare(
      "INSERT INTO archives (archive_guid, device_id, destination_id, user_id, created_at, modified_at) VALUES ('700000000000000001', ?, 1, ?, 1, 1)",
    ).run(d.lastInsertRowid, u);
    migrate(db, { now: 2 }, 4);
    expect(schemaVersion(db)).toBe(4);
    const row = () => db.prepare("SELECT last_error_code, last_error_message, last_error_at FROM archives").get();
    expect(row()).toEqual({ last_error_code: null, last_error_message: null, last_error_at: null });
    db.prepare("UPDATE archives SET last_error_code = 'ROLLBACK_DETECTED', last_error_message = 'older head', last_error_at = 5").run();
    expect(row()).toEqual({ last_error_code: "ROLLBACK_DETECTED", last_error_message: "older head", last_error_at: 5 });
    // STRICT: a time is an integer
    expect(() => db.prepare("UPDATE archives SET last_error_at = 'soon'").run()).toThrow();
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
    db.close();
  });
});
