/**
 * SQL that backup reports, alert emails and backup status emails read and write: each active
 * device of an org with its owner and its newest completed backup, the administrators of an org
 * (default recipients), the restores completed in a report's period, and when each user was last
 * sent the backup status email (`user_status_emails`, migration 3).
 */
import type { DeviceRestoreTotals, ReportDevice, ReportReads, ReportWrites } from "../operations-store.js";
import { idList, type SqlRunner } from "./runner.js";

interface DeviceRow {
  device_id: number;
  device_guid: string;
  name: string;
  os_name: string | null;
  user_id: number;
  username: string;
  email: string | null;
  org_id: number;
  last: number | null;
  created_at: number;
  settings_json: string | null;
  archive_bytes: number | null;
  selected_bytes: number | null;
  todo_bytes: number | null;
  selected_files: number | null;
  todo_files: number | null;
}

/** Report queries on one connection. */
export class SqliteReportQueries implements ReportReads, ReportWrites {
  constructor(private readonly q: SqlRunner) {}

  async reportDevices(orgIds: readonly number[]): Promise<ReportDevice[]> {
    return this.q
      .all<DeviceRow>(
        `SELECT d.device_id, d.device_guid, d.name, d.os_name, u.user_id, u.username, u.email, u.org_id, d.created_at, d.settings_json,
           (SELECT max(a.last_completed_backup_at) FROM archives a WHERE a.device_id = d.device_id AND a.purged_at IS NULL) AS last,
           (SELECT sum(a.archive_bytes) FROM archives a WHERE a.device_id = d.device_id AND a.purged_at IS NULL) AS archive_bytes,
           (SELECT sum(a.selected_bytes) FROM archives a WHERE a.device_id = d.device_id AND a.purged_at IS NULL) AS selected_bytes,
           (SELECT sum(a.todo_bytes) FROM archives a WHERE a.device_id = d.device_id AND a.purged_at IS NULL) AS todo_bytes,
           (SELECT sum(a.selected_files) FROM archives a WHERE a.device_id = d.device_id AND a.purged_at IS NULL) AS selected_files,
           (SELECT sum(a.todo_files) FROM archives a WHERE a.device_id = d.device_id AND a.purged_at IS NULL) AS todo_files
         FROM devices d JOIN users u ON u.user_id = d.user_id
         WHERE d.active = 1 AND u.active = 1 AND u.org_id IN (SELECT value FROM json_each(?)) ORDER BY d.device_id`,
        idList(orgIds),
      )
      .map((r) => ({
        deviceId: r.device_id,
        deviceGuid: r.device_guid,
        deviceName: r.name,
        osName: r.os_name,
        userId: r.user_id,
        username: r.username,
        email: r.email,
        orgId: r.org_id,
        lastCompletedBackupAt: r.last,
        createdAt: r.created_at,
        settingsJson: r.settings_json,
        archiveBytes: r.archive_bytes ?? 0,
        selectedBytes: r.selected_bytes ?? 0,
        todoBytes: r.todo_bytes ?? 0,
        selectedFiles: r.selected_files ?? 0,
        todoFiles: r.todo_files ?? 0,
      }));
  }

  async roleHolderEmails(orgIds: readonly number[], roleIds: readonly number[]): Promise<string[]> {
    return this.q
      .all<{ email: string }>(
        `SELECT DISTINCT u.email FROM users u JOIN user_roles r ON r.user_id = u.user_id
         WHERE u.active = 1 AND u.blocked = 0 AND u.email IS NOT NULL AND u.org_id IN (SELECT value FROM json_each(?))
           AND r.role_id IN (SELECT value FROM json_each(?)) ORDER BY u.email`,
        idList(orgIds),
        idList(roleIds),
      )
      .map((r) => r.email);
  }

  async statusEmailsSentAt(userIds: readonly number[]): Promise<Map<number, number>> {
    const rows = this.q.all<{ user_id: number; last_sent_at: number }>(
      "SELECT user_id, last_sent_at FROM user_status_emails WHERE user_id IN (SELECT value FROM json_each(?))",
      idList(userIds),
    );
    return new Map(rows.map((r) => [r.user_id, r.last_sent_at]));
  }

  async completedRestoresByDevice(orgIds: readonly number[], since: number, until: number): Promise<Map<number, DeviceRestoreTotals>> {
    const rows = this.q.all<{ device_id: number; restores: number; files: number; bytes: number }>(
      `SELECT r.source_device_id AS device_id, count(*) AS restores, sum(r.num_files) AS files, sum(r.num_bytes) AS bytes
       FROM restore_events r
       WHERE r.org_id IN (SELECT value FROM json_each(?)) AND r.status = 'COMPLETED' AND r.event_at >= ? AND r.event_at <= ?
         AND r.source_device_id IS NOT NULL
       GROUP BY r.source_device_id`,
      idList(orgIds),
      since,
      until,
    );
    return new Map(rows.map((r) => [r.device_id, { deviceId: r.device_id, restores: r.restores, files: r.files, bytes: r.bytes }]));
  }

  async setStatusEmailSentAt(userId: number, at: number): Promise<void> {
    this.q.run(
      "INSERT INTO user_status_emails (user_id, last_sent_at) VALUES (?, ?) ON CONFLICT (user_id) DO UPDATE SET last_sent_at = excluded.last_sent_at",
      userId,
      at,
    );
  }
}
