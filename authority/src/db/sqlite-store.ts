/**
 * {@link AuthorityStore} on SQLite (better-sqlite3). Two connections to one WAL database: a
 * read-only one for reads outside transactions (they see the last commit, never a transaction in
 * flight), and the writer, on which transactions run one at a time (`BEGIN IMMEDIATE`, then
 * COMMIT or ROLLBACK). Queries live in `db/sqlite/*`, one file per domain.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { CairnError, type Clock } from "@cairn/protocol";
import { migrate } from "./migrate.js";
import { openDatabase, type SqliteDb } from "./open.js";
import { SqliteAuditQueries } from "./sqlite/audit-queries.js";
import { SqliteAuthQueries } from "./sqlite/auth-queries.js";
import { SqliteArchiveQueries } from "./sqlite/archive-queries.js";
import { SqliteDeviceQueries } from "./sqlite/device-queries.js";
import { SqliteStorageQueries } from "./sqlite/storage-queries.js";
import { SqliteColdStorageQueries } from "./sqlite/cold-storage-queries.js";
import { SqliteLegalHoldQueries } from "./sqlite/legal-hold-queries.js";
import { type SecretCodec, SqliteOrgQueries, sealStoredRegistrationKeys } from "./sqlite/org-queries.js";
import { SqliteReportQueries } from "./sqlite/report-queries.js";
import { SqliteRestoreHistoryQueries } from "./sqlite/restore-history-queries.js";
import { mapDbError, SqlRunner } from "./sqlite/runner.js";
import { SqliteSettingsQueries } from "./sqlite/settings-queries.js";
import { SqliteUsageQueries } from "./sqlite/usage-queries.js";
import { SqliteUserQueries } from "./sqlite/user-queries.js";
import type { AuthorityStore, StoreReader, StoreWriter } from "./store.js";

/** Options of {@link openSqliteStore}. */
export interface SqliteStoreOptions {
  /** The database file (created when missing). */
  file: string;
  clock: Clock;
  /** Caps the database size in pages (T06, and an operator's guard). */
  maxPageCount?: number;
  /** Seals the orgs' registration keys at rest (the authority's KEK); absent: stored as given. */
  registrationKeys?: SecretCodec;
}

/** Binds an object's prototype methods to it, so they can be spread into one facade. */
function bindAll<T extends object>(o: T): { [K in keyof T]: T[K] } {
  const out: Record<string, unknown> = {};
  let proto: object | null = Object.getPrototypeOf(o) as object | null;
  while (proto !== null && proto !== Object.prototype) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      const v = (o as Record<string, unknown>)[name];
      if (name !== "constructor" && typeof v === "function" && !(name in out)) out[name] = (v as (...a: unknown[]) => unknown).bind(o);
    }
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  return out as { [K in keyof T]: T[K] };
}

function queriesOn(db: SqliteDb, registrationKeys?: SecretCodec): StoreWriter {
  const q = new SqlRunner(db);
  return {
    ...bindAll(new SqliteOrgQueries(q, registrationKeys)),
    ...bindAll(new SqliteUserQueries(q)),
    ...bindAll(new SqliteAuthQueries(q)),
    ...bindAll(new SqliteSettingsQueries(q)),
    ...bindAll(new SqliteAuditQueries(q)),
    ...bindAll(new SqliteUsageQueries(q)),
    ...bindAll(new SqliteDeviceQueries(q)),
    ...bindAll(new SqliteArchiveQueries(q)),
    ...bindAll(new SqliteStorageQueries(q)),
    ...bindAll(new SqliteColdStorageQueries(q)),
    ...bindAll(new SqliteRestoreHistoryQueries(q)),
    ...bindAll(new SqliteLegalHoldQueries(q)),
    ...bindAll(new SqliteReportQueries(q)),
  };
}

/** A FIFO async mutex: transactions on the one writer connection run strictly one after another. */
class Mutex {
  private tail: Promise<void> = Promise.resolve();
  lock(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((r) => {
      release = r;
    });
    const ready = this.tail.then(() => release);
    this.tail = this.tail.then(() => next);
    return ready;
  }
}

/** Opens (creating and migrating as needed) the SQLite store. */
export function openSqliteStore(opts: SqliteStoreOptions): AuthorityStore {
  const writer = openDatabase(opts.file, opts.maxPageCount === undefined ? {} : { maxPageCount: opts.maxPageCount });
  try {
    migrate(writer, { now: opts.clock.now() });
    if (opts.registrationKeys) {
      const codec = opts.registrationKeys;
      writer.transaction(() => sealStoredRegistrationKeys(new SqlRunner(writer), codec))();
    }
  } catch (err) {
    writer.close();
    throw mapDbError(err);
  }
  const reader = openDatabase(opts.file, { readonly: true });
  const writeOps = queriesOn(writer, opts.registrationKeys);
  const readOps: StoreReader = queriesOn(reader, opts.registrationKeys);
  const mutex = new Mutex();
  // a transaction opened from inside another would wait for itself forever: refuse it instead
  const inTransaction = new AsyncLocalStorage<true>();
  let closed = false;

  const transaction = async <T>(fn: (tx: StoreWriter) => Promise<T>): Promise<T> => {
    if (inTransaction.getStore() === true) throw new CairnError("INTERNAL", "store.transaction() called inside a transaction; use the tx you were given");
    const release = await mutex.lock();
    try {
      if (closed) throw new CairnError("UNAVAILABLE", "the store is closed");
      try {
        writer.exec("BEGIN IMMEDIATE");
      } catch (err) {
        throw mapDbError(err);
      }
      try {
        const result = await inTransaction.run(true, () => fn(writeOps));
        writer.exec("COMMIT");
        return result;
      } catch (err) {
        // SQLite has already rolled back after SQLITE_FULL and some other errors
        if (writer.inTransaction) writer.exec("ROLLBACK");
        throw mapDbError(err);
      }
    } finally {
      release();
    }
  };

  return {
    ...readOps,
    transaction,
    async integrityCheck() {
      const rows = reader.pragma("integrity_check") as { integrity_check: string }[];
      return rows.map((r) => r.integrity_check).join("\n");
    },
    async close() {
      const release = await mutex.lock();
      try {
        if (closed) return;
        closed = true;
        reader.close();
        writer.pragma("wal_checkpoint(TRUNCATE)");
        writer.close();
      } finally {
        release();
      }
    },
  };
}
