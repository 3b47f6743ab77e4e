/**
 * The shape of one schema migration (Signal-Desktop's: one file per version, applied in order,
 * each in its own transaction that also bumps `PRAGMA user_version`).
 */
import type { SqliteDb } from "../open.js";

/** What a migration may use besides the connection. */
export interface MigrationEnv {
  /** The time of the migration run, epoch ms (seed rows take it as their creation time). */
  now: number;
}

/** One migration: `up` turns a database at `version - 1` into one at `version`. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  /** Runs inside a transaction; must not commit, must be deterministic. */
  up(db: SqliteDb, env: MigrationEnv): void;
}
