/**
 * The node's own database, `<data>/node.db` (WAL, synchronous=FULL): settings, store points,
 * namespaces (the own authority and each provider tenant), the token-signing keys each namespace
 * trusts, revocations, and the registry of placed archives.
 *
 * A namespace is `own` (the authority the node enrolled with) or a tenant id (18 digits). Every
 * archive belongs to exactly one namespace; every lookup names the namespace (tenant scope in
 * every query, RELIABILITY.md §6.6).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { type ArchivePlacement, type ArchiveReport, CairnError, type PublicKeyInfo, type Revocation } from "@cairn/protocol";
import { keepDbPrivate } from "./private-db.js";

/** The own authority's namespace. */
export const OWN_NS = "own";

/** A store point row. */
export interface StorePointRow {
  id: number;
  path: string;
  name: string;
  /** The own authority's id for it (null until enrolled). */
  authorityId: number | null;
  acceptingNew: boolean;
}

/** A tenant (provider mode). */
export interface TenantRow {
  id: string;
  name: string;
  authorityGuid: string | null;
  authorityName: string | null;
  quotaBytes: number;
  registeredAt: number | null;
}

/** A placed archive. */
export interface ArchiveRow {
  ns: string;
  guid: string;
  storePointId: number;
  placement: ArchivePlacement;
  bytes: number;
  report: ArchiveReport | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS store_points (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, name TEXT NOT NULL, authority_id INTEGER, accepting_new INTEGER NOT NULL DEFAULT 1);
CREATE TABLE IF NOT EXISTS tenants (
  id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, authority_guid TEXT, authority_name TEXT, quota_bytes INTEGER NOT NULL,
  secret_hash TEXT UNIQUE, credential_hash TEXT UNIQUE, created_at INTEGER NOT NULL, registered_at INTEGER
);
CREATE TABLE IF NOT EXISTS authority_keys (ns TEXT NOT NULL, kid TEXT NOT NULL, public_key TEXT NOT NULL, PRIMARY KEY (ns, kid));
CREATE TABLE IF NOT EXISTS revocations (ns TEXT NOT NULL, kind TEXT NOT NULL, guid TEXT NOT NULL, scope TEXT NOT NULL, before INTEGER NOT NULL, PRIMARY KEY (ns, kind, guid, scope));
CREATE TABLE IF NOT EXISTS archives (
  ns TEXT NOT NULL, guid TEXT NOT NULL, store_point_id INTEGER NOT NULL, placement TEXT NOT NULL, bytes INTEGER NOT NULL DEFAULT 0,
  report TEXT, created_at INTEGER NOT NULL, PRIMARY KEY (ns, guid)
);
CREATE INDEX IF NOT EXISTS archives_guid ON archives(guid);
`;

interface RawTenant {
  id: string;
  name: string;
  authority_guid: string | null;
  authority_name: string | null;
  quota_bytes: number;
  registered_at: number | null;
}

function toTenant(r: RawTenant): TenantRow {
  return { id: r.id, name: r.name, authorityGuid: r.authority_guid, authorityName: r.authority_name, quotaBytes: r.quota_bytes, registeredAt: r.registered_at };
}

interface RawArchive {
  ns: string;
  guid: string;
  store_point_id: number;
  placement: string;
  bytes: number;
  report: string | null;
}

function toArchive(r: RawArchive): ArchiveRow {
  return {
    ns: r.ns,
    guid: r.guid,
    storePointId: r.store_point_id,
    placement: JSON.parse(r.placement) as ArchivePlacement,
    bytes: r.bytes,
    report: r.report ? (JSON.parse(r.report) as ArchiveReport) : null,
  };
}

/** The node database. */
export class NodeDb {
  readonly db: Database.Database;
  private readonly cache = new Map<string, Database.Statement>();

  /** A prepared statement, prepared once per SQL text. */
  private q<P extends unknown[] = unknown[], R = unknown>(sql: string): Database.Statement<P, R> {
    let st = this.cache.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.cache.set(sql, st);
    }
    return st as unknown as Database.Statement<P, R>;
  }

  /**
   * Opens the node database of an initialized data directory; CONFIG_INVALID (exit 78) naming
   * `storenode init` when the folder or its node.db does not exist (nothing is created).
   */
  static openInitialized(dataDir: string): NodeDb {
    if (!existsSync(join(dataDir, "node.db"))) throw new CairnError("CONFIG_INVALID", `${dataDir} is not initialized (run storenode init)`);
    return new NodeDb(dataDir);
  }

  constructor(dataDir: string) {
    this.db = new Database(join(dataDir, "node.db"));
    keepDbPrivate(join(dataDir, "node.db"));
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = FULL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(SCHEMA);
  }

  getSetting<T>(key: string): T | undefined {
    const r = this.q<[string], { value: string }>("SELECT value FROM settings WHERE key = ?").get(key);
    return r ? (JSON.parse(r.value) as T) : undefined;
  }

  setSetting(key: string, value: unknown): void {
    this.q("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)").run(key, JSON.stringify(value));
  }

  storePoints(): StorePointRow[] {
    return this.q<[], { id: number; path: string; name: string; authority_id: number | null; accepting_new: number }>("SELECT * FROM store_points ORDER BY id")
      .all()
      .map((r) => ({ id: r.id, path: r.path, name: r.name, authorityId: r.authority_id, acceptingNew: r.accepting_new !== 0 }));
  }

  addStorePoint(path: string, name: string): number {
    const existing = this.q<[string], { id: number }>("SELECT id FROM store_points WHERE path = ?").get(path);
    if (existing) return existing.id;
    return Number(this.q("INSERT INTO store_points (path, name) VALUES (?, ?)").run(path, name).lastInsertRowid);
  }

  setAuthorityStorePointId(localId: number, authorityId: number): void {
    this.q("UPDATE store_points SET authority_id = ? WHERE id = ?").run(authorityId, localId);
  }

  tenants(): TenantRow[] {
    return this.q<[], RawTenant>("SELECT * FROM tenants ORDER BY created_at").all().map(toTenant);
  }

  tenant(id: string): TenantRow | undefined {
    const r = this.q<[string], RawTenant>("SELECT * FROM tenants WHERE id = ?").get(id);
    return r ? toTenant(r) : undefined;
  }

  tenantByName(name: string): TenantRow | undefined {
    const r = this.q<[string], RawTenant>("SELECT * FROM tenants WHERE name = ?").get(name);
    return r ? toTenant(r) : undefined;
  }

  tenantBySecretHash(hash: string): TenantRow | undefined {
    const r = this.q<[string], RawTenant>("SELECT * FROM tenants WHERE secret_hash = ?").get(hash);
    return r ? toTenant(r) : undefined;
  }

  tenantByCredentialHash(hash: string): TenantRow | undefined {
    const r = this.q<[string], RawTenant>("SELECT * FROM tenants WHERE credential_hash = ?").get(hash);
    return r ? toTenant(r) : undefined;
  }

  /** Creates a tenant, or gives an existing one a new one-time credential (and quota). */
  upsertTenant(id: string, name: string, quotaBytes: number, credentialHash: string, now: number): void {
    this.q(
      `INSERT INTO tenants (id, name, quota_bytes, credential_hash, created_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(name) DO UPDATE SET quota_bytes = excluded.quota_bytes, credential_hash = excluded.credential_hash`,
    ).run(id, name, quotaBytes, credentialHash, now);
  }

  /** Consumes a tenant's credential and records its authority and secret (one transaction). */
  registerTenant(id: string, authorityGuid: string, authorityName: string, secretHash: string, keys: readonly PublicKeyInfo[], now: number): void {
    this.db.transaction(() => {
      this.q("UPDATE tenants SET authority_guid = ?, authority_name = ?, secret_hash = ?, credential_hash = NULL, registered_at = ? WHERE id = ?").run(
        authorityGuid,
        authorityName,
        secretHash,
        now,
        id,
      );
      this.setKeys(id, keys);
    })();
  }

  keys(ns: string): PublicKeyInfo[] {
    return this.q<[string], PublicKeyInfo>("SELECT kid, public_key AS publicKey FROM authority_keys WHERE ns = ?").all(ns);
  }

  setKeys(ns: string, keys: readonly PublicKeyInfo[]): void {
    this.db.transaction(() => {
      this.q("DELETE FROM authority_keys WHERE ns = ?").run(ns);
      const ins = this.q("INSERT OR REPLACE INTO authority_keys (ns, kid, public_key) VALUES (?, ?, ?)");
      for (const k of keys) ins.run(ns, k.kid, k.publicKey);
    })();
  }

  revocations(ns: string): Revocation[] {
    return this.q<[string], Revocation>("SELECT kind, guid, scope, before FROM revocations WHERE ns = ?").all(ns);
  }

  /** Revocations that name this device or user. */
  revocationsFor(ns: string, deviceGuid: string, userUid: string): Revocation[] {
    return this.q<[string, string, string], Revocation>(
      "SELECT kind, guid, scope, before FROM revocations WHERE ns = ? AND ((kind = 'device' AND guid = ?) OR (kind = 'user' AND guid = ?))",
    ).all(ns, deviceGuid, userUid);
  }

  /** Adds revocations (keeping the latest `before` of each subject and scope). */
  addRevocations(ns: string, list: readonly Revocation[]): void {
    const st = this.q(
      `INSERT INTO revocations (ns, kind, guid, scope, before) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(ns, kind, guid, scope) DO UPDATE SET before = MAX(before, excluded.before)`,
    );
    this.db.transaction(() => {
      for (const r of list) st.run(ns, r.kind, r.guid, r.scope, r.before);
    })();
  }

  /**
   * Lifts restore revocations (an unblock): each entry removes the row of its subject when the
   * row is no newer than the entry's `before`. Scope "all" is never lifted. Returns rows removed.
   */
  liftRestoreRevocations(ns: string, list: readonly Revocation[]): number {
    const st = this.q("DELETE FROM revocations WHERE ns = ? AND kind = ? AND guid = ? AND scope = 'restore' AND before <= ?");
    return this.db.transaction(() => {
      let n = 0;
      for (const r of list) if (r.scope === "restore") n += st.run(ns, r.kind, r.guid, r.before).changes;
      return n;
    })();
  }

  /**
   * The authority's announce answer holds every standing revocation of this namespace: its
   * restore revocations replace the node's (an unblock missed while the link was down is caught
   * up); revocations of scope "all" only ever add, so an authority restored from an older backup
   * cannot bring a deauthorized device back.
   */
  setRevocationsFromAnnounce(ns: string, list: readonly Revocation[]): void {
    this.db.transaction(() => {
      this.q("DELETE FROM revocations WHERE ns = ? AND scope = 'restore'").run(ns);
      this.addRevocations(ns, list);
    })();
  }

  /** Sum of the bytes recorded for a namespace's archives. */
  namespaceBytes(ns: string): number {
    return this.q<[string], { n: number | null }>("SELECT SUM(bytes) AS n FROM archives WHERE ns = ?").get(ns)?.n ?? 0;
  }

  archives(ns: string): ArchiveRow[] {
    return this.q<[string], RawArchive>("SELECT * FROM archives WHERE ns = ? ORDER BY guid").all(ns).map(toArchive);
  }

  allArchives(): ArchiveRow[] {
    return this.q<[], RawArchive>("SELECT * FROM archives ORDER BY ns, guid").all().map(toArchive);
  }

  archive(ns: string, guid: string): ArchiveRow | undefined {
    const r = this.q<[string, string], RawArchive>("SELECT * FROM archives WHERE ns = ? AND guid = ?").get(ns, guid);
    return r ? toArchive(r) : undefined;
  }

  /** Every namespace's archive with this GUID (tokens name the GUID; the signature picks one). */
  archivesByGuid(guid: string): ArchiveRow[] {
    return this.q<[string], RawArchive>("SELECT * FROM archives WHERE guid = ?").all(guid).map(toArchive);
  }

  insertArchive(ns: string, guid: string, storePointId: number, placement: ArchivePlacement, now: number): void {
    this.q("INSERT INTO archives (ns, guid, store_point_id, placement, created_at) VALUES (?, ?, ?, ?, ?)").run(
      ns,
      guid,
      storePointId,
      JSON.stringify(placement),
      now,
    );
  }

  updatePlacement(ns: string, guid: string, placement: ArchivePlacement): void {
    this.q("UPDATE archives SET placement = ? WHERE ns = ? AND guid = ?").run(JSON.stringify(placement), ns, guid);
  }

  updateReport(ns: string, guid: string, report: ArchiveReport): void {
    this.q("UPDATE archives SET report = ?, bytes = ? WHERE ns = ? AND guid = ?").run(JSON.stringify(report), report.archiveBytes, ns, guid);
  }

  deleteArchive(ns: string, guid: string): void {
    this.q("DELETE FROM archives WHERE ns = ? AND guid = ?").run(ns, guid);
  }

  close(): void {
    this.db.close();
  }
}
