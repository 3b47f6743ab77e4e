/**
 * Opens the authority's SQLite database with the settings every connection needs:
 * WAL (readers never block the writer), `synchronous=FULL` (a committed transaction survives
 * power loss, RELIABILITY.md T04: WAL+NORMAL "might roll back following a power loss"),
 * foreign keys on, and a busy timeout. Only `db/` imports better-sqlite3.
 */
import { chmodSync, existsSync, statSync } from "node:fs";
import Database from "better-sqlite3";
import { CairnError } from "@cairn/protocol";

/** A better-sqlite3 connection. */
export type SqliteDb = Database.Database;

/** Options of {@link openDatabase}. */
export interface OpenDatabaseOptions {
  /** Open read-only (a second connection for reads outside transactions). */
  readonly?: boolean;
  /** How long a statement waits for a lock held by another connection, ms (default 5000). */
  busyTimeoutMs?: number;
  /**
   * Caps the database at this many pages (`PRAGMA max_page_count`); writes beyond it fail with
   * STORAGE_FULL. An operator's knob, and how T06 fills the database in tests.
   */
  maxPageCount?: number;
}

/**
 * Sets the database file (and its `-wal`/`-shm` files, which take its mode) to 0600 when group
 * or others have any access: SQLite creates it with the umask (0644 under the usual 022).
 */
function keepDbPrivate(path: string): void {
  for (const p of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      if (existsSync(p) && (statSync(p).mode & 0o077) !== 0) chmodSync(p, 0o600);
    } catch {
      // a file system without modes, or not ours to change: the data folder's mode stands
    }
  }
}

/** Opens (creating when needed, unless read-only) the database file at `file`. */
export function openDatabase(file: string, opts: OpenDatabaseOptions = {}): SqliteDb {
  let db: SqliteDb;
  try {
    db = new Database(file, { readonly: opts.readonly === true, fileMustExist: opts.readonly === true });
  } catch (cause) {
    throw new CairnError("CONFIG_INVALID", `cannot open the database ${file}`, { cause });
  }
  const busy = opts.busyTimeoutMs ?? 5000;
  if (!Number.isSafeInteger(busy) || busy < 0) throw new CairnError("CONFIG_INVALID", "busyTimeoutMs must be a non-negative integer");
  db.pragma(`busy_timeout = ${busy}`);
  if (opts.readonly !== true) {
    keepDbPrivate(file);
    db.pragma("journal_mode = WAL");
  }
  db.pragma("synchronous = FULL");
  db.pragma("foreign_keys = ON");
  if (opts.maxPageCount !== undefined) {
    if (!Number.isSafeInteger(opts.maxPageCount) || opts.maxPageCount < 1) throw new CairnError("CONFIG_INVALID", "maxPageCount must be a positive integer");
    db.pragma(`max_page_count = ${opts.maxPageCount}`);
  }
  return db;
}

/** True when `err` is SQLite's "database or disk is full". */
export function isSqliteFull(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "SQLITE_FULL";
}

/** True when `err` is a UNIQUE constraint violation. */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "SQLITE_CONSTRAINT_UNIQUE" || code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}
