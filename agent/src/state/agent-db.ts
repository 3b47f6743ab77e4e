/**
 * The agent's local SQLite database (`agent.db` in the data directory): configuration received
 * from the authority, the local selection, one row per archive (endpoint, token, last committed
 * seq and manifest hash for rollback detection, figures), and the file cache that makes an
 * unchanged tree cost one `lstat` per file (docs/agent.md, "Cache schema").
 *
 * Secrets (device token, user and archive keys) are not here: they live in `credentials.json`
 * (mode 0600), so that deauthorize can wipe them with one unlink.
 */
import { chmodSync, existsSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { CairnError } from "@cairn/protocol";

/** A better-sqlite3 database handle. */
export type Db = Database.Database;

const SCHEMA_VERSION = 1;

const MIGRATIONS: string[] = [
  `CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE archives (
     archive_guid TEXT PRIMARY KEY,
     destination_guid TEXT NOT NULL,
     destination_name TEXT NOT NULL DEFAULT '',
     server_guid TEXT,
     url TEXT NOT NULL,
     fingerprint TEXT NOT NULL,
     token TEXT NOT NULL,
     token_expires_at INTEGER NOT NULL DEFAULT 0,
     last_seq INTEGER NOT NULL DEFAULT 0,
     last_manifest_hash BLOB,
     session_id TEXT,
     last_backup INTEGER,
     last_completed_backup INTEGER,
     selected_files INTEGER NOT NULL DEFAULT 0,
     selected_bytes INTEGER NOT NULL DEFAULT 0,
     todo_files INTEGER NOT NULL DEFAULT 0,
     todo_bytes INTEGER NOT NULL DEFAULT 0,
     last_full_scan INTEGER
   );
   CREATE TABLE files (
     archive TEXT NOT NULL,
     parent TEXT NOT NULL,
     name TEXT NOT NULL,
     kind INTEGER NOT NULL,
     size INTEGER NOT NULL,
     mtime REAL NOT NULL,
     ctime REAL NOT NULL,
     ino INTEGER NOT NULL,
     mode INTEGER NOT NULL,
     blocks BLOB,
     PRIMARY KEY (archive, parent, name)
   ) WITHOUT ROWID;
   CREATE TABLE pending (
     seqno INTEGER PRIMARY KEY,
     archive TEXT NOT NULL,
     parent TEXT NOT NULL,
     name TEXT NOT NULL,
     deleted INTEGER NOT NULL,
     kind INTEGER NOT NULL,
     size INTEGER NOT NULL,
     mtime REAL NOT NULL,
     ctime REAL NOT NULL,
     ino INTEGER NOT NULL,
     mode INTEGER NOT NULL,
     blocks BLOB,
     file_id BLOB NOT NULL,
     meta BLOB
   );
   CREATE INDEX pending_archive ON pending (archive, seqno);`,
];

/** Opens (creating and migrating) the agent database in `dataDir`. */
export function openAgentDb(dataDir: string): Db {
  // a folder that was never set up holds no agent: NOT_REGISTERED (10) for every command, and
  // no folder is left behind by asking (callers that set one up create it first)
  if (!existsSync(dataDir)) throw new CairnError("NOT_REGISTERED", `no agent data folder at ${dataDir}: run \`cairn agent register\` (or pass --data)`);
  const path = join(dataDir, "agent.db");
  let db: Db;
  try {
    db = new Database(path);
  } catch (cause) {
    throw new CairnError("CONFIG_INVALID", `cannot open the agent database ${path}`, { cause });
  }
  try {
    chmodSync(path, 0o600);
  } catch {
    // best effort: the data directory itself is 0700
  }
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  db.pragma("busy_timeout = 10000");
  const current = db.pragma("user_version", { simple: true }) as number;
  if (current > SCHEMA_VERSION) throw new CairnError("CONFIG_INVALID", `agent database schema ${current} is newer than this agent (${SCHEMA_VERSION})`);
  for (let v = current; v < SCHEMA_VERSION; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v] as string);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
  return db;
}

/** The kv key of the guid a device had before it was signed out (deauthorized here). */
export const SIGNED_OUT_GUID_KEY = "signedOutDeviceGuid";

/** Reads a JSON value from the key-value table. */
export function kvGet<T>(db: Db, key: string): T | undefined {
  const row = db.prepare("SELECT value FROM kv WHERE key = ?").get(key) as { value: string } | undefined;
  return row ? (JSON.parse(row.value) as T) : undefined;
}

/** Writes a JSON value to the key-value table. */
export function kvSet(db: Db, key: string, value: unknown): void {
  db.prepare("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(key, JSON.stringify(value));
}

/** Deletes a key from the key-value table. */
export function kvDelete(db: Db, key: string): void {
  db.prepare("DELETE FROM kv WHERE key = ?").run(key);
}
