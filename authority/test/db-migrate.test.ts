import { join } from "node:path";
import { isCairnError } from "@cairn/protocol";
import { describe, expect, it } from "vitest";
import { migrate, schemaVersion } from "../src/db/migrate.js";
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from "../src/db/migrations/index.js";
import type { Migration } from "../src/db/migrations/migration.js";
import { openDatabase } from "../src/db/open.js";
import { tempDir } from "./helpers.js";

describe("migrate", () => {
  it("brings a new database to the latest version and is idempotent", () => {
    const db = openDatabase(join(tempDir(), "a.db"));
    expect(migrate(db, { now: 1 })).toEqual({ from: 0, to: LATEST_SCHEMA_VERSION });
    expect(migrate(db, { now: 2 })).toEqual({ from: LATEST_SCHEMA_VERSION, to: LATEST_SCHEMA_VERSION });
    expect(schemaVersion(db)).toBe(LATEST_SCHEMA_VERSION);
    db.close();
  });

  it("opens with WAL, synchronous=FULL and foreign keys", () => {
    const db = openDatabase(join(tempDir(), "a.db"));
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.pragma("synchronous", { simple: true })).toBe(2);
    expect(db.pragma("foreign_keys", { simple: true })).toBe(1);
    expect(db.pragma("busy_timeout", { simple: true })).toBe(5000);
    db.close();
  });

  it("refuses a database newer than this build", () => {
    const db = openDatabase(join(tempDir(), "a.db"));
    migrate(db, { now: 1 });
    db.pragma(`user_version = ${LATEST_SCHEMA_VERSION + 1}`);
    let err: unknown;
    try {
      migrate(db, { now: 1 });
    } catch (e) {
      err = e;
    }
    expect(isCairnError(err, "CONFIG_INVALID")).toBe(true);
    expect(String((err as Error).message)).toMatch(/newer than this build/);
    db.close();
  });

  it("rolls a failing migration back completely, version included", () => {
    const db = openDatabase(join(tempDir(), "a.db"));
    const failing: Migration = {
      version: MIGRATIONS.length + 1,
      name: "failing",
      up(d) {
        d.exec("CREATE TABLE half_done (x INTEGER)");
        throw new Error("boom");
      },
    };
    expect(() => migrate(db, { now: 1 }, MIGRATIONS.length + 1, [...MIGRATIONS, failing])).toThrow("boom");
    expect(schemaVersion(db)).toBe(MIGRATIONS.length);
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'half_done'").get()).toEqual({ n: 0 });
    db.close();
  });

  it("numbers migrations 1, 2, 3 … with one file each", () => {
    MIGRATIONS.forEach((m, i) => {
      expect(m.version).toBe(i + 1);
    });
  });
});
