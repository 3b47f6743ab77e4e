import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { migrate, schemaVersion } from "../src/db/migrate.js";
import { STANDARD_ROLES } from "../src/db/migrations/0001-initial.js";
import { openDatabase } from "../src/db/open.js";
import { tempDir } from "./helpers.js";

const EXPECTED_TABLES = [
  "api_tokens",
  "archives",
  "audit_log",
  "authority_meta",
  "cold_storage",
  "destinations",
  "device_destination_optins",
  "device_tokens",
  "devices",
  "enroll_keys",
  "legal_hold_events",
  "legal_hold_memberships",
  "legal_hold_policies",
  "legal_holds",
  "org_setting_groups",
  "org_setting_locks",
  "org_setting_packets",
  "orgs",
  "provider_keys",
  "restore_events",
  "revocations",
  "roles",
  "servers",
  "sessions",
  "sqlite_sequence",
  "store_points",
  "totp_uses",
  "user_credentials",
  "user_keys",
  "user_roles",
  "user_totp",
  "users",
];

describe("migration 0001-initial", () => {
  it("creates the whole schema on an empty database and seeds the standard roles", () => {
    const db = openDatabase(join(tempDir(), "a.db"));
    expect(schemaVersion(db)).toBe(0);
    migrate(db, { now: 1000 }, 1);
    expect(schemaVersion(db)).toBe(1);
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as { name: string }[]).map((r) => r.name);
    expect(tables).toEqual(EXPECTED_TABLES);
    const roles = db.prepare("SELECT role_id, name, created_at FROM roles ORDER BY role_id").all() as { role_id: number; name: string; created_at: number }[];
    expect(roles.map((r) => [r.role_id, r.name])).toEqual(STANDARD_ROLES.map(([id, n]) => [id, n]));
    expect(roles.every((r) => r.created_at === 1000)).toBe(true);
    expect(db.pragma("foreign_key_check")).toEqual([]);
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
    db.close();
  });

  it("enforces the tree, uniqueness and boolean constraints", () => {
    const db = openDatabase(join(tempDir(), "a.db"));
    migrate(db, { now: 1 }, 1);
    const ins = db.prepare(
      "INSERT INTO orgs (org_uid, org_guid, parent_id, path, depth, name, registration_key, registration_key_hash, created_at, modified_at) VALUES (?, ?, ?, ?, ?, 'n', ?, ?, 1, 1)",
    );
    ins.run("100000000000000001", "200000000000000001", null, "/1/", 0, "K1", "h1");
    // a second top-level org is refused
    expect(() => ins.run("100000000000000002", "200000000000000002", null, "/2/", 0, "K2", "h2")).toThrow(/UNIQUE/);
    // depth and parent must agree
    expect(() => ins.run("100000000000000003", "200000000000000003", 1, "/1/3/", 0, "K3", "h3")).toThrow(/CHECK/);
    // unknown parent is refused by the foreign key
    expect(() => ins.run("100000000000000004", "200000000000000004", 99, "/99/4/", 1, "K4", "h4")).toThrow(/FOREIGN KEY/);
    expect(() => db.prepare("UPDATE orgs SET active = 2").run()).toThrow(/CHECK/);
    db.close();
  });
});
