/**
 * Applies migrations in order, each in its own transaction together with the bump of
 * `PRAGMA user_version`, so a crash leaves the database at a whole version. Refuses a database
 * written by a newer build: running old code on a newer schema could corrupt it silently.
 */
import { CairnError } from "@cairn/protocol";
import { LATEST_SCHEMA_VERSION, MIGRATIONS } from "./migrations/index.js";
import type { Migration, MigrationEnv } from "./migrations/migration.js";
import type { SqliteDb } from "./open.js";

/** The schema version stored in the database (0 for a new file). */
export function schemaVersion(db: SqliteDb): number {
  return db.pragma("user_version", { simple: true }) as number;
}

/** What {@link migrate} did. */
export interface MigrateResult {
  from: number;
  to: number;
}

/**
 * Brings `db` to `target` (default: the latest version). Throws CONFIG_INVALID when the
 * database is newer than this build knows, and rethrows a failing migration's error after its
 * transaction rolled back.
 */
export function migrate(db: SqliteDb, env: MigrationEnv, target: number = LATEST_SCHEMA_VERSION, migrations: readonly Migration[] = MIGRATIONS): MigrateResult {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new CairnError("INTERNAL", `migration ${m.name} has version ${m.version}, expected ${i + 1}`);
  });
  const from = schemaVersion(db);
  if (from > migrations.length) {
    throw new CairnError(
      "CONFIG_INVALID",
      `the database has schema version ${from}, newer than this build supports (${migrations.length}); run a newer Cairn`,
      { details: { schemaVersion: from, supported: migrations.length } },
    );
  }
  if (target > migrations.length || target < from) throw new CairnError("INTERNAL", `cannot migrate from ${from} to ${target}`);
  for (const m of migrations.slice(from, target)) {
    const step = db.transaction(() => {
      m.up(db, env);
      // user_version is part of the database header and so of this transaction
      db.pragma(`user_version = ${m.version}`);
    });
    step.immediate();
  }
  return { from, to: Math.max(from, target) };
}
