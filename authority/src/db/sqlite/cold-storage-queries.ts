/**
 * SQL of the cold-storage list, purge dates and purges (API.md §7.2). An archive is in cold
 * storage while its `cold_storage` row exists; purging destroys its wrapped archive key and sets
 * `purged_at` first (crypto-shred), and the row goes once the storage node confirmed deleting
 * the blocks, so an unreachable node is retried on the next run.
 */
import type { ColdStorageFilter, ColdStorageReads, ColdStorageView, ColdStorageWrites, PurgeCandidate } from "../operations-store.js";
import type { Page, PageResult } from "../store.js";
import type { SqlRunner } from "./runner.js";
import { subtreeRange } from "./runner.js";

interface ColdRow {
  archive_id: number;
  archive_guid: string;
  archive_bytes: number;
  hold_expire_date: string;
  entered_at: number;
  cause: string;
  user_id: number;
  user_uid: string;
  username: string;
  first_name: string | null;
  last_name: string | null;
  email: string | null;
  device_id: number;
  device_guid: string;
  device_name: string;
  os_hostname: string | null;
  org_id: number;
  org_uid: string;
  org_name: string;
  org_path: string;
  destination_guid: string;
  destination_kind: "cluster" | "provider";
  store_point_id: number | null;
  store_point_name: string | null;
  server_guid: string | null;
  server_name: string | null;
  purged_at: number | null;
}

const COLUMNS = `a.archive_id, a.archive_guid, a.archive_bytes, c.hold_expire_date, c.entered_at, c.cause, a.purged_at,
  u.user_id, u.user_uid, u.username, u.first_name, u.last_name, u.email,
  d.device_id, d.device_guid, d.name AS device_name, d.os_hostname,
  o.org_id, o.org_uid, o.name AS org_name, o.path AS org_path,
  ds.destination_guid, ds.kind AS destination_kind,
  sp.store_point_id, sp.name AS store_point_name, sv.server_guid, sv.name AS server_name`;

const FROM = `FROM cold_storage c JOIN archives a ON a.archive_id = c.archive_id
  JOIN devices d ON d.device_id = a.device_id JOIN users u ON u.user_id = d.user_id JOIN orgs o ON o.org_id = u.org_id
  JOIN destinations ds ON ds.destination_id = a.destination_id
  LEFT JOIN store_points sp ON sp.store_point_id = a.store_point_id LEFT JOIN servers sv ON sv.server_id = sp.server_id`;

// an archive purged (its key destroyed) stays listed while its node has not confirmed deleting
// the blocks: they still take space there (`purgePending`)
const WHERE = `WHERE o.path >= @lo AND o.path < @hi AND (@orgId IS NULL OR o.org_id = @orgId)
  AND (@guids IS NULL OR a.archive_guid IN (SELECT value FROM json_each(@guids)))`;

const ORDER = `ORDER BY
  CASE WHEN @dir = 'asc' THEN CASE @sort WHEN 'archiveHoldExpireDate' THEN c.hold_expire_date WHEN 'orgName' THEN lower(o.name)
    WHEN 'mountPointName' THEN lower(sp.name) WHEN 'archiveBytes' THEN a.archive_bytes WHEN 'archiveType' THEN 'BACKUP' ELSE a.archive_id END END ASC,
  CASE WHEN @dir = 'desc' THEN CASE @sort WHEN 'archiveHoldExpireDate' THEN c.hold_expire_date WHEN 'orgName' THEN lower(o.name)
    WHEN 'mountPointName' THEN lower(sp.name) WHEN 'archiveBytes' THEN a.archive_bytes WHEN 'archiveType' THEN 'BACKUP' ELSE a.archive_id END END DESC,
  a.archive_id ASC`;

const LIST_SQL = ["SELECT", COLUMNS, FROM, WHERE, ORDER, "LIMIT @limit OFFSET @offset"].join("\n");
const COUNT_SQL = ["SELECT count(*) AS n", FROM, WHERE].join("\n");
const TOTALS_SQL = ["SELECT count(*) AS n, coalesce(sum(a.archive_bytes), 0) AS bytes", FROM, WHERE].join("\n");
const ONE_SQL = ["SELECT", COLUMNS, FROM, "WHERE a.purged_at IS NULL AND a.archive_guid = ?"].join("\n");
const ONE_BY_ID_SQL = ["SELECT", COLUMNS, FROM, "WHERE a.purged_at IS NULL AND a.archive_id = ?"].join("\n");

function toView(r: ColdRow): ColdStorageView {
  return {
    archiveId: r.archive_id,
    archiveGuid: r.archive_guid,
    archiveBytes: r.archive_bytes,
    holdExpireDate: r.hold_expire_date,
    enteredAt: r.entered_at,
    cause: r.cause,
    userId: r.user_id,
    userUid: r.user_uid,
    username: r.username,
    firstName: r.first_name,
    lastName: r.last_name,
    email: r.email,
    deviceId: r.device_id,
    deviceGuid: r.device_guid,
    deviceName: r.device_name,
    osHostname: r.os_hostname,
    orgId: r.org_id,
    orgUid: r.org_uid,
    orgName: r.org_name,
    orgPath: r.org_path,
    destinationGuid: r.destination_guid,
    destinationKind: r.destination_kind,
    storePointId: r.store_point_id,
    storePointName: r.store_point_name,
    serverGuid: r.server_guid,
    serverName: r.server_name,
    purgePending: r.purged_at !== null,
  };
}

interface CandidateRow {
  archive_id: number;
  archive_guid: string;
  org_id: number;
  user_id: number;
  hold_expire_date: string;
  purged_at: number | null;
  destination_guid: string;
  server_guid: string | null;
}

const CANDIDATES = `SELECT a.archive_id, a.archive_guid, u.org_id, u.user_id, c.hold_expire_date, a.purged_at, ds.destination_guid, sv.server_guid
  FROM cold_storage c JOIN archives a ON a.archive_id = c.archive_id JOIN devices d ON d.device_id = a.device_id
  JOIN users u ON u.user_id = d.user_id JOIN destinations ds ON ds.destination_id = a.destination_id
  LEFT JOIN store_points sp ON sp.store_point_id = a.store_point_id LEFT JOIN servers sv ON sv.server_id = sp.server_id`;

const DUE_SQL = [CANDIDATES, "WHERE a.purged_at IS NULL AND c.hold_expire_date <= ? ORDER BY c.hold_expire_date, a.archive_id"].join("\n");
const UNFINISHED_SQL = [CANDIDATES, "WHERE a.purged_at IS NOT NULL ORDER BY a.archive_id"].join("\n");

const toCandidate = (r: CandidateRow): PurgeCandidate => ({
  archiveId: r.archive_id,
  archiveGuid: r.archive_guid,
  orgId: r.org_id,
  userId: r.user_id,
  holdExpireDate: r.hold_expire_date,
  purgedAt: r.purged_at,
  destinationGuid: r.destination_guid,
  serverGuid: r.server_guid,
});

/** The named parameters of {@link WHERE} for a list filter. */
function listParams(filter: ColdStorageFilter): { lo: string; hi: string; orgId: number | null; guids: string | null } {
  const range = filter.subtreePath === null ? { lo: "/", hi: "0" } : subtreeRange(filter.subtreePath);
  return {
    ...range,
    orgId: filter.subtreePath === null ? filter.orgId : null,
    guids: filter.archiveGuids === undefined ? null : JSON.stringify(filter.archiveGuids),
  };
}

/** Cold-storage queries on one connection. */
export class SqliteColdStorageQueries implements ColdStorageReads, ColdStorageWrites {
  constructor(private readonly q: SqlRunner) {}

  async listColdStorage(filter: ColdStorageFilter, page: Page): Promise<PageResult<ColdStorageView>> {
    const p = listParams(filter);
    const total = this.q.get<{ n: number }>(COUNT_SQL, p)?.n ?? 0;
    const rows = this.q.all<ColdRow>(LIST_SQL, {
      ...p,
      sort: filter.sort?.key ?? "archiveId",
      dir: filter.sort?.dir ?? "asc",
      limit: page.limit,
      offset: page.offset,
    });
    return { total, items: rows.map(toView) };
  }

  async getColdStorage(archiveGuid: string): Promise<ColdStorageView | undefined> {
    const r = this.q.get<ColdRow>(ONE_SQL, archiveGuid);
    return r && toView(r);
  }

  async getColdStorageById(archiveId: number): Promise<ColdStorageView | undefined> {
    const r = this.q.get<ColdRow>(ONE_BY_ID_SQL, archiveId);
    return r && toView(r);
  }

  async coldStorageTotals(filter: ColdStorageFilter): Promise<{ count: number; bytes: number }> {
    const r = this.q.get<{ n: number; bytes: number }>(TOTALS_SQL, listParams(filter));
    return { count: r?.n ?? 0, bytes: r?.bytes ?? 0 };
  }

  async coldArchivesDue(date: string): Promise<PurgeCandidate[]> {
    return this.q.all<CandidateRow>(DUE_SQL, date).map(toCandidate);
  }

  async unfinishedPurges(): Promise<PurgeCandidate[]> {
    return this.q.all<CandidateRow>(UNFINISHED_SQL).map(toCandidate);
  }

  async setHoldExpireDate(archiveId: number, date: string): Promise<void> {
    this.q.run("UPDATE cold_storage SET hold_expire_date = ? WHERE archive_id = ?", date, archiveId);
  }

  async markArchivePurged(archiveId: number, at: number): Promise<boolean> {
    return (
      this.q.run(
        "UPDATE archives SET purged_at = ?, wrapped_archive_key = NULL, modified_at = ? WHERE archive_id = ? AND purged_at IS NULL AND archive_id IN (SELECT archive_id FROM cold_storage)",
        at,
        at,
        archiveId,
      ).changes > 0
    );
  }

  async finishPurge(archiveId: number): Promise<void> {
    this.q.run("DELETE FROM cold_storage WHERE archive_id = ? AND archive_id IN (SELECT archive_id FROM archives WHERE purged_at IS NOT NULL)", archiveId);
  }
}
