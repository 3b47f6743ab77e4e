/**
 * The index of one archive: one SQLite file `<archive dir>/index.db` (WAL; synchronous=NORMAL,
 * with the transactions that must survive a power loss before the node acts on them run
 * synchronous=FULL: see `durableTransaction`), holding the block index of the archive's block
 * store (`bs_*` tables, blockstore/dir-store-index.ts) and these tables:
 *
 *     meta          key → JSON value: placement, figures, maintenance records
 *     versions      one row per committed backup version (the head is the highest seq):
 *                   the sealed manifest and its hash, server time, client time, counts
 *     file_versions one row per changed file per version: file id, seq, server time, deleted,
 *                   size, block ids (concatenated 32-byte ids), sealed metadata
 *     file_blocks   references: (block id, file id, seq) for every block a file version lists
 *     sessions      upload sessions: device, writer lease expiry (server time), activity, ended
 *     staged_files  file entries staged in an open session, moved to file_versions at commit
 *     session_blocks blocks an open session relies on (acknowledged to it, reported present to
 *                   it, or listed by its staged files): garbage collection never removes them
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { keepDbPrivate } from "../private-db.js";
import Database from "better-sqlite3";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS versions (
  seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, client_time INTEGER NOT NULL, manifest BLOB NOT NULL,
  manifest_hash BLOB NOT NULL, changed_files INTEGER NOT NULL, complete INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS file_versions (
  id INTEGER PRIMARY KEY, file_id BLOB NOT NULL, seq INTEGER NOT NULL, time INTEGER NOT NULL, deleted INTEGER NOT NULL,
  size INTEGER NOT NULL, blocks BLOB NOT NULL, meta BLOB
);
CREATE UNIQUE INDEX IF NOT EXISTS file_versions_file ON file_versions(file_id, seq);
CREATE INDEX IF NOT EXISTS file_versions_seq ON file_versions(seq);
CREATE TABLE IF NOT EXISTS file_blocks (block_id BLOB NOT NULL, file_id BLOB NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (block_id, file_id, seq)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS file_blocks_version ON file_blocks(file_id, seq);
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY, device_guid TEXT NOT NULL, created_at INTEGER NOT NULL, lease_expires_at INTEGER NOT NULL,
  last_active_at INTEGER NOT NULL, ended INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS staged_files (
  id INTEGER PRIMARY KEY, session_id TEXT NOT NULL, file_id BLOB NOT NULL, deleted INTEGER NOT NULL, size INTEGER NOT NULL,
  blocks BLOB NOT NULL, meta BLOB
);
CREATE UNIQUE INDEX IF NOT EXISTS staged_files_file ON staged_files(session_id, file_id);
CREATE TABLE IF NOT EXISTS session_blocks (block_id BLOB NOT NULL, session_id TEXT NOT NULL, PRIMARY KEY (block_id, session_id)) WITHOUT ROWID;
`;

/** Opens (creating if needed) an archive's index database. */
export function openArchiveDb(dir: string): Database.Database {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const db = new Database(join(dir, "index.db"));
  keepDbPrivate(join(dir, "index.db"));
  // Free pages go back to the file system (tidyArchiveDb): staged_files and session_blocks rows
  // are deleted at every commit. Only takes effect on a new file (before its first table);
  // an older file keeps auto_vacuum = NONE and works as before.
  db.pragma("auto_vacuum = INCREMENTAL");
  db.pragma("journal_mode = WAL");
  // NORMAL: no fsync per block batch (the packs carry durability; docs/storenode.md "Crash
  // safety"). Version commits and compaction switches use durableTransaction (FULL).
  db.pragma("synchronous = NORMAL");
  db.pragma("foreign_keys = OFF");
  db.exec(SCHEMA);
  // session_blocks is read by block id (GC) and deleted by session at its end, when it holds
  // the rows of few sessions (one writer per archive, plus unfinished ones until they expire): a
  // scan then costs less than keeping a second random-keyed B-tree up to date on every put.
  // Older files had that index.
  db.exec("DROP INDEX IF EXISTS session_blocks_session");
  return db;
}

/**
 * Gives the index's free pages back (incremental_vacuum, on files created with auto_vacuum =
 * INCREMENTAL) and empties the WAL into the database file (wal_checkpoint(TRUNCATE)), so that a
 * finished backup leaves neither behind. Called after a version commit and when a session ends;
 * both are committed before, so a failure here only leaves the space for the next call.
 */
export function tidyArchiveDb(db: Database.Database): void {
  try {
    if ((db.pragma("auto_vacuum", { simple: true }) as number) === 2) db.pragma("incremental_vacuum");
    db.pragma("wal_checkpoint(TRUNCATE)");
  } catch {
    // SQLITE_BUSY or an I/O error: nothing is lost, the space is reclaimed next time
  }
}
