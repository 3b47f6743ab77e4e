/**
 * SQL for archives: one per device and destination, with where it is placed, its wrapped key,
 * and the figures the storage nodes (bytes, versions, maintenance) and agents (selection,
 * to-do) report. Reads join the names the API shows.
 */
import type { ArchiveFigures, ArchiveFilter, ArchiveRecord, NewArchive, SelectionFigures } from "../device-records.js";
import type { ArchiveReads, ArchiveWrites } from "../device-store.js";
import type { Page, PageResult } from "../store.js";
import { fromBool, idList, type SqlRunner, scopeParams } from "./runner.js";

interface ArchiveRow {
  archive_id: number;
  archive_guid: string;
  device_id: number;
  device_guid: string;
  destination_id: number;
  destination_guid: string;
  destination_name: string;
  destination_kind: "cluster" | "provider";
  store_point_id: number | null;
  store_point_name: string | null;
  node_store_point_id: number | null;
  server_id: number | null;
  server_guid: string | null;
  server_name: string | null;
  urls_json: string | null;
  fingerprint: string | null;
  user_id: number;
  user_uid: string;
  org_id: number;
  org_uid: string;
  wrapped_archive_key: Buffer | null;
  key_version: number;
  archive_bytes: number;
  selected_files: number;
  selected_bytes: number;
  todo_files: number;
  todo_bytes: number;
  version_count: number;
  file_count: number;
  last_backup_at: number | null;
  last_completed_backup_at: number | null;
  last_maintenance_at: number | null;
  maintenance_duration_ms: number;
  compact_bytes_removed: number;
  damaged_blocks: number;
  last_error_code: string | null;
  last_error_message: string | null;
  last_error_at: number | null;
  reported_at: number | null;
  purged_at: number | null;
  created_at: number;
  hold_expire_date: string | null;
}

function toArchive(r: ArchiveRow): ArchiveRecord {
  return {
    archiveId: r.archive_id,
    archiveGuid: r.archive_guid,
    deviceId: r.device_id,
    deviceGuid: r.device_guid,
    destinationId: r.destination_id,
    destinationGuid: r.destination_guid,
    destinationName: r.destination_name,
    destinationKind: r.destination_kind,
    storePointId: r.store_point_id,
    storePointName: r.store_point_name,
    nodeStorePointId: r.node_store_point_id,
    serverId: r.server_id,
    serverGuid: r.server_guid,
    serverName: r.server_name,
    serverUrls: r.urls_json === null ? [] : (JSON.parse(r.urls_json) as string[]),
    serverFingerprint: r.fingerprint,
    userId: r.user_id,
    userUid: r.user_uid,
    orgId: r.org_id,
    orgUid: r.org_uid,
    wrappedArchiveKey: r.wrapped_archive_key,
    keyVersion: r.key_version,
    archiveBytes: r.archive_bytes,
    selectedFiles: r.selected_files,
    selectedBytes: r.selected_bytes,
    todoFiles: r.todo_files,
    todoBytes: r.todo_bytes,
    versionCount: r.version_count,
    fileCount: r.file_count,
    lastBackupAt: r.last_backup_at,
    lastCompletedBackupAt: r.last_completed_backup_at,
    lastMaintenanceAt: r.last_maintenance_at,
    maintenanceDurationMs: r.maintenance_duration_ms,
    compactBytesRemoved: r.compact_bytes_removed,
    damagedBlocks: r.damaged_blocks,
    lastError: r.last_error_code === null ? null : { code: r.last_error_code, message: r.last_error_message ?? "", at: r.last_error_at ?? 0 },
    reportedAt: r.reported_at,
    purgedAt: r.purged_at,
    createdAt: r.created_at,
    cold: r.hold_expire_date !== null,
    holdExpireDate: r.hold_expire_date,
  };
}

const SELECT =
  "SELECT a.archive_id, a.archive_guid, a.device_id, d.device_guid, a.destination_id, ds.destination_guid, ds.name AS destination_name, ds.kind AS destination_kind, a.store_point_id, sp.name AS store_point_name, sp.node_store_point_id, s.server_id, s.server_guid, s.name AS server_name, s.urls_json, s.fingerprint, a.user_id, u.user_uid, d.org_id, o.org_uid, a.wrapped_archive_key, a.key_version, a.archive_bytes, a.selected_files, a.selected_bytes, a.todo_files, a.todo_bytes, a.version_count, a.file_count, a.last_backup_at, a.last_completed_backup_at, a.last_maintenance_at, a.maintenance_duration_ms, a.compact_bytes_removed, a.damaged_blocks, a.last_error_code, a.last_error_message, a.last_error_at, a.reported_at, a.purged_at, a.created_at, c.hold_expire_date FROM archives a JOIN devices d ON d.device_id = a.device_id JOIN users u ON u.user_id = d.user_id JOIN orgs o ON o.org_id = d.org_id JOIN destinations ds ON ds.destination_id = a.destination_id LEFT JOIN store_points sp ON sp.store_point_id = a.store_point_id LEFT JOIN servers s ON s.server_id = sp.server_id LEFT JOIN cold_storage c ON c.archive_id = a.archive_id ";

const LIST_WHERE =
  "WHERE (@includePurged = 1 OR a.purged_at IS NULL) AND (@deviceId IS NULL OR a.device_id = @deviceId) AND (@userId IS NULL OR d.user_id = @userId) AND (@selfUserId IS NULL OR d.user_id = @selfUserId) AND (@destinationId IS NULL OR a.destination_id = @destinationId) AND (@serverId IS NULL OR s.server_id = @serverId) AND (@all = 1 OR o.path >= @lo AND o.path < @hi) AND (@scopeOrgId IS NULL OR d.org_id = @scopeOrgId) ";

/** Archive queries on one connection. */
export class SqliteArchiveQueries implements ArchiveReads, ArchiveWrites {
  constructor(private readonly q: SqlRunner) {}

  async getArchiveByGuid(archiveGuid: string): Promise<ArchiveRecord | undefined> {
    const r = this.q.get<ArchiveRow>(SELECT + "WHERE a.archive_guid = ?", archiveGuid);
    return r && toArchive(r);
  }

  async archiveOfDevice(deviceId: number, destinationId: number): Promise<ArchiveRecord | undefined> {
    const r = this.q.get<ArchiveRow>(SELECT + "WHERE a.device_id = ? AND a.destination_id = ?", deviceId, destinationId);
    return r && toArchive(r);
  }

  async archivesOfDevices(deviceIds: readonly number[]): Promise<ArchiveRecord[]> {
    return this.q
      .all<ArchiveRow>(
        SELECT +
          "WHERE a.device_id IN (SELECT value FROM json_each(?)) AND a.purged_at IS NULL ORDER BY a.device_id, a.last_completed_backup_at IS NULL, a.last_completed_backup_at DESC, a.archive_id",
        idList(deviceIds),
      )
      .map(toArchive);
  }

  async listArchives(filter: ArchiveFilter, page: Page): Promise<PageResult<ArchiveRecord>> {
    const s = scopeParams(filter.scope);
    const p = {
      all: fromBool(filter.scope.kind === "all"),
      lo: s.lo,
      hi: s.hi,
      scopeOrgId: s.scopeOrgId,
      includePurged: fromBool(filter.includePurged === true),
      deviceId: filter.deviceId ?? null,
      userId: filter.userId ?? null,
      selfUserId: filter.selfUserId ?? null,
      destinationId: filter.destinationId ?? null,
      serverId: filter.serverId ?? null,
    };
    const total =
      this.q.get<{ n: number }>(
        "SELECT count(*) AS n FROM archives a JOIN devices d ON d.device_id = a.device_id JOIN orgs o ON o.org_id = d.org_id LEFT JOIN store_points sp ON sp.store_point_id = a.store_point_id LEFT JOIN servers s ON s.server_id = sp.server_id " +
          LIST_WHERE,
        p,
      )?.n ?? 0;
    const rows = this.q.all<ArchiveRow>(SELECT + LIST_WHERE + "ORDER BY a.archive_id LIMIT @limit OFFSET @offset", {
      ...p,
      limit: page.limit,
      offset: page.offset,
    });
    return { total, items: rows.map(toArchive) };
  }

  async insertArchive(a: NewArchive): Promise<number> {
    return this.q.run(
      "INSERT INTO archives (archive_guid, device_id, destination_id, store_point_id, user_id, created_at, modified_at) VALUES (@archiveGuid, @deviceId, @destinationId, @storePointId, @userId, @createdAt, @createdAt)",
      { ...a },
    ).lastInsertRowid;
  }

  async setArchiveStorePoint(archiveId: number, storePointId: number, at: number): Promise<void> {
    this.q.run("UPDATE archives SET store_point_id = ?, modified_at = ? WHERE archive_id = ?", storePointId, at, archiveId);
  }

  async setArchiveKey(archiveId: number, wrapped: Buffer, keyVersion: number, userId: number, at: number): Promise<void> {
    this.q.run(
      "UPDATE archives SET wrapped_archive_key = ?, key_version = ?, user_id = ?, modified_at = ? WHERE archive_id = ?",
      wrapped,
      keyVersion,
      userId,
      at,
      archiveId,
    );
  }

  async putArchiveFigures(archiveGuid: string, serverId: number | null, f: ArchiveFigures, at: number): Promise<boolean> {
    return (
      this.q.run(
        "UPDATE archives SET archive_bytes = @archiveBytes, selected_files = coalesce(@selectedFiles, selected_files), selected_bytes = coalesce(@selectedBytes, selected_bytes), todo_files = coalesce(@todoFiles, todo_files), todo_bytes = coalesce(@todoBytes, todo_bytes), version_count = coalesce(@versionCount, version_count), file_count = coalesce(@fileCount, file_count), last_backup_at = CASE WHEN @lastBackupAt IS NULL THEN last_backup_at ELSE max(coalesce(last_backup_at, 0), @lastBackupAt) END, last_completed_backup_at = CASE WHEN @lastCompletedBackupAt IS NULL THEN last_completed_backup_at ELSE max(coalesce(last_completed_backup_at, 0), @lastCompletedBackupAt) END, last_maintenance_at = coalesce(@lastMaintenanceAt, last_maintenance_at), maintenance_duration_ms = coalesce(@maintenanceDurationMs, maintenance_duration_ms), compact_bytes_removed = coalesce(@compactBytesRemoved, compact_bytes_removed), damaged_blocks = coalesce(@damagedBlocks, damaged_blocks), reported_at = @at, modified_at = @at WHERE archive_guid = @archiveGuid AND purged_at IS NULL AND (@serverId IS NULL OR store_point_id IN (SELECT sp.store_point_id FROM store_points sp WHERE sp.server_id = @serverId))",
        {
          serverId,
          archiveBytes: f.archiveBytes,
          selectedFiles: f.selection?.selectedFiles ?? null,
          selectedBytes: f.selection?.selectedBytes ?? null,
          todoFiles: f.selection?.todoFiles ?? null,
          todoBytes: f.selection?.todoBytes ?? null,
          versionCount: f.versionCount ?? null,
          fileCount: f.fileCount ?? null,
          lastBackupAt: f.lastBackupAt ?? null,
          lastCompletedBackupAt: f.lastCompletedBackupAt ?? null,
          lastMaintenanceAt: f.lastMaintenanceAt ?? null,
          maintenanceDurationMs: f.maintenanceDurationMs ?? null,
          compactBytesRemoved: f.compactBytesRemoved ?? null,
          damagedBlocks: f.damagedBlocks ?? null,
          archiveGuid,
          at,
        },
      ).changes > 0
    );
  }

  async putSelectionFigures(archiveId: number, f: SelectionFigures, at: number): Promise<void> {
    if (f.lastError !== undefined) {
      this.q.run("UPDATE archives SET last_error_code = @code, last_error_message = @message, last_error_at = @at WHERE archive_id = @archiveId", {
        code: f.lastError?.code ?? null,
        message: f.lastError?.message ?? null,
        at: f.lastError?.at ?? null,
        archiveId,
      });
    }
    this.q.run(
      "UPDATE archives SET selected_files = @selectedFiles, selected_bytes = @selectedBytes, todo_files = @todoFiles, todo_bytes = @todoBytes, last_backup_at = CASE WHEN @lastBackupAt IS NULL THEN last_backup_at ELSE max(coalesce(last_backup_at, 0), @lastBackupAt) END, modified_at = @at WHERE archive_id = @archiveId AND purged_at IS NULL",
      {
        selectedFiles: f.selectedFiles,
        selectedBytes: f.selectedBytes,
        todoFiles: f.todoFiles,
        todoBytes: f.todoBytes,
        lastBackupAt: f.lastBackupAt,
        archiveId,
        at,
      },
    );
  }
}
