/**
 * Devices and archives as the platform API shows them (API.md §6 computer object and
 * `backupUsage`, §7.1 archive object). Pure: the caller loads what is shown.
 */
import { isoTime } from "@cairn/protocol";
import type { ArchiveRecord, Device } from "../db/device-records.js";
import type { Org, User } from "../db/records.js";
import { ALERT_STATES, type AlertLevel, alertLevel, type Thresholds } from "./alert-state.js";

const iso = (t: number | null | undefined) => (t === null || t === undefined ? null : isoTime(t));

/** `Active`, `Deactivated` or `Active, Deauthorized` (API.md §6). */
export function deviceStatus(d: Pick<Device, "active" | "deauthorized">): string {
  if (!d.active) return "Deactivated";
  return d.deauthorized ? "Active, Deauthorized" : "Active";
}

/** `wss://node:443` → `https://node:443` (the platform's serverHostName). */
export function httpsUrlOf(wss: string | undefined): string | null {
  return wss === undefined ? null : wss.replace(/^wss:/i, "https:").replace(/\/+$/, "");
}

/** What a connected agent is doing. */
export interface Activity {
  connected: boolean;
  backingUp: boolean;
  restoring: boolean;
}

/** One `backupUsage` entry (API.md §6). */
export function backupUsageJson(a: ArchiveRecord, device: Device, t: Thresholds, now: number, activity: Activity): Record<string, unknown> {
  const level = alertLevel({ active: device.active, lastCompletedBackupAt: a.lastCompletedBackupAt, createdAt: a.createdAt }, t, now);
  const percent =
    a.selectedBytes <= 0 ? (a.lastCompletedBackupAt === null ? 0 : 100) : Math.max(0, Math.min(100, ((a.selectedBytes - a.todoBytes) / a.selectedBytes) * 100));
  return {
    targetComputerGuid: a.destinationGuid,
    targetComputerName: a.destinationName,
    targetComputerType: "SERVER",
    archiveGuid: a.archiveGuid,
    archiveFormat: "ARCHIVE_V1",
    selectedFiles: a.selectedFiles,
    selectedBytes: a.selectedBytes,
    todoFiles: a.todoFiles,
    todoBytes: a.todoBytes,
    archiveBytes: a.archiveBytes,
    billableBytes: a.archiveBytes,
    percentComplete: Math.round(percent * 10) / 10,
    lastBackup: iso(a.lastBackupAt),
    lastCompletedBackup: iso(a.lastCompletedBackupAt),
    lastConnected: iso(device.lastConnectedAt),
    lastMaintenanceDate: iso(a.lastMaintenanceAt),
    lastCompactDate: a.compactBytesRemoved > 0 ? iso(a.lastMaintenanceAt) : null,
    using: !a.cold,
    alertState: level,
    alertStates: ALERT_STATES[level],
    storePointId: a.storePointId,
    storePointName: a.storePointName,
    serverId: a.serverId,
    serverGuid: a.serverGuid,
    serverName: a.serverName,
    serverHostName: httpsUrlOf(a.serverUrls[0]),
    isProvider: a.destinationKind === "provider",
    // Cairn's own: the device's last failed backup to this destination (T20), null once one succeeds
    lastError: a.lastError === null ? null : { code: a.lastError.code, message: a.lastError.message, date: iso(a.lastError.at) },
    activity: {
      connected: activity.connected,
      backingUp: activity.backingUp,
      restoring: activity.restoring,
      timeRemainingInMs: 0,
      remainingFiles: a.todoFiles,
      remainingBytes: a.todoBytes,
    },
  };
}

/** The computer object without its `inc` parts. */
export function computerJson(d: Device, user: User | undefined, org: Org | undefined, t: Thresholds, now: number): Record<string, unknown> {
  const level: AlertLevel = alertLevel(d, t, now);
  return {
    computerId: d.deviceId,
    guid: d.deviceGuid,
    name: d.name,
    osHostname: d.osHostname ?? d.name,
    type: "COMPUTER",
    status: deviceStatus(d),
    active: d.active,
    blocked: d.blocked,
    alertState: level,
    alertStates: ALERT_STATES[level],
    userId: d.userId,
    userUid: user?.userUid ?? null,
    username: user?.username ?? null,
    orgId: d.orgId,
    orgUid: org?.orgUid ?? null,
    orgName: org?.name ?? null,
    computerExtRef: d.extRef,
    notes: d.notes,
    parentComputerId: null,
    parentComputerGuid: null,
    lastConnected: iso(d.lastConnectedAt),
    osName: d.osName,
    osVersion: d.osVersion,
    osArch: d.osArch,
    address: d.address,
    remoteAddress: d.remoteAddress,
    timeZone: d.timeZone,
    version: d.createdAt,
    // the version number, as API.md §6 shows it ("0.1.0"): the agent reports "cairn-agent/0.1.0"
    productVersion: d.agentVersion === null ? null : d.agentVersion.replace(/^[a-z-]+\//, ""),
    buildVersion: 1,
    creationDate: iso(d.createdAt),
    modificationDate: iso(d.modifiedAt),
    loginDate: iso(d.loginAt),
    service: "CrashPlan",
    lastCompletedBackup: iso(d.lastCompletedBackupAt),
  };
}

/** The archive object (API.md §7.1). */
export function archiveJson(a: ArchiveRecord): Record<string, unknown> {
  return {
    archiveGuid: a.archiveGuid,
    sourceGuid: a.deviceGuid,
    userId: a.userId,
    userUid: a.userUid,
    archiveBytes: a.archiveBytes,
    targetGuid: a.destinationGuid,
    lastCompletedBackup: iso(a.lastCompletedBackupAt),
    isColdStorage: a.cold,
    archiveHoldExpireDate: a.holdExpireDate,
    lastMaintained: iso(a.lastMaintenanceAt),
    maintenanceDuration: a.maintenanceDurationMs,
    compactBytesRemoved: a.compactBytesRemoved,
    storePointId: a.storePointId,
    selectedBytes: a.selectedBytes,
    selectedFiles: a.selectedFiles,
    todoBytes: a.todoBytes,
    todoFiles: a.todoFiles,
    format: "ARCHIVE_V1",
    archiveType: "BACKUP",
    lastBackup: iso(a.lastBackupAt),
    versionCount: a.versionCount,
    serverGuid: a.serverGuid,
    isProvider: a.destinationKind === "provider",
  };
}
