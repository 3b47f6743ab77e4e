/**
 * Migration 0003-status-emails: the table of when each user was last sent the backup status
 * email, one row per user, tied to the users table.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { migrate, schemaVersion } from "../src/db/migrate.js";
import { openDatabase } from "../src/db/open.js";
import { seedOrgAndUser, tempDir } from "./helpers.js";

describe("migration 0003-status-emails", () => {
  it("adds user_status_emails to a version 2 database, one row per existing user", () => {
    const db = openDatabase(join(tempDir(), "a.db"));
    migrate(db, { now: 1 }, 2);
    const u = seedOrgAndUser(db);
    migrate(db, { now: 2 }, 3);
    expect(schemaVersion(db)).toBe(3);
    db.prepare("INSERT INTO user_status_emails (user_id, last_sent_at) VALUES (?, 5)").run(u);
    expect(db.prepare("SELECT user_id, last_sent_at FROM user_status_emails").all()).toEqual([{ user_id: Number(u), last_sent_at: 5 }]);
    // one row per user, and only for users that exist
    expect(() => db.prepare("INSERT INTO user_status_emails (user_id, last_sent_at) VALUES (?, 6)").run(u)).toThrow(/UNIQUE|PRIMARY/);
    expect(() => db.prepare("INSERT INTO user_status_emails (user_id, last_sent_at) VALUES (999, 6)").run()).toThrow(/FOREIGN KEY/);
    expect(() => db.prepare("INSERT INTO user_status_emails (user_id, last_sent_at) VALUES (?, 'soon')").run(u)).toThrow();
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
    db.close();
  });
});
