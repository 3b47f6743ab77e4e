/**
 * An online copy of the authority's database while `serve` runs (better-sqlite3's backup API
 * over a connection of its own; WAL lets the server keep writing), and the checks a copy gets
 * before it is trusted: `PRAGMA integrity_check`, the schema version and the authority GUID.
 */
import Database from "better-sqlite3";
import { CairnError } from "@cairn/protocol";
import { LATEST_SCHEMA_VERSION } from "./migrations/index.js";

/** What a database file holds. */
export interface DatabaseFacts {
  schemaVersion: number;
  authorityGuid: string | null;
  integrity: string;
}

/**
 * Copies `source` into `dest` (a new file) as one consistent snapshot. The first step copies
 * 100 pages; every later step copies all remaining pages at once, so a write of the server
 * between two steps restarts the copy at most once more instead of chasing the writer.
 */
export async function copyDatabase(source: string, dest: string): Promise<void> {
  let db: Database.Database;
  try {
    db = new Database(source, { fileMustExist: true });
  } catch (cause) {
    throw new CairnError("CONFIG_INVALID", `cannot open the database ${source}`, { cause });
  }
  try {
    db.pragma("busy_timeout = 10000");
    await db.backup(dest, { progress: () => 1_000_000_000 });
  } finally {
    db.close();
  }
  // one self-contained file: the copy leaves WAL mode (the server turns it on again when it opens it)
  const copy = new Database(dest, { fileMustExist: true });
  try {
    copy.pragma("journal_mode = DELETE");
  } finally {
    copy.close();
  }
}

/** Reads the facts of a database file (read-only). */
export function inspectDatabase(file: string): DatabaseFacts {
  let db: Database.Database;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
  } catch (cause) {
    throw new CairnError("INTEGRITY", `cannot open the database ${file}`, { cause });
  }
  try {
    const integrity = (db.pragma("integrity_check") as { integrity_check: string }[]).map((r) => r.integrity_check).join("; ");
    const schemaVersion = db.pragma("user_version", { simple: true }) as number;
    let authorityGuid: string | null = null;
    try {
      authorityGuid = (db.prepare("SELECT value FROM authority_meta WHERE key = 'authority_guid'").get() as { value: string } | undefined)?.value ?? null;
    } catch {
      authorityGuid = null;
    }
    return { schemaVersion, authorityGuid, integrity };
  } finally {
    db.close();
  }
}

/** The schema version this build reads and writes. */
export const SUPPORTED_SCHEMA_VERSION = LATEST_SCHEMA_VERSION;
