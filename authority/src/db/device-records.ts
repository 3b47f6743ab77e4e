/**
 * Records of devices and storage (issue 5 part B): devices and their credentials, archives,
 * destinations, servers, store points, enroll and provider keys. Plain data in camelCase;
 * `db/sqlite/device-queries.ts` and `storage-queries.ts` map them to rows.
 */
import type { OrgScope, SortOrder } from "./store.js";

/** Device-level settings overrides (PUT /api/Computer): the last settings layer of a device. */
export interface DeviceOverrides {
  /** Device group fields the device overrides (validated values, `settings/schema.ts`). */
  device: Record<string, unknown>;
  /** `device.<field>` keys locked on the device (the agent's user may not change them). */
  locks: string[];
}

/** A registered device. */
export interface Device {
  deviceId: number;
  deviceGuid: string;
  userId: number;
  /** The org of the device's user. */
  orgId: number;
  name: string;
  osHostname: string | null;
  osName: "linux" | "mac" | "win" | null;
  osVersion: string | null;
  osArch: string | null;
  agentVersion: string | null;
  timeZone: string | null;
  address: string | null;
  remoteAddress: string | null;
  extRef: string | null;
  notes: string | null;
  active: boolean;
  blocked: boolean;
  deauthorized: boolean;
  deactivatedByUserId: number | null;
  deactivatedByOrgId: number | null;
  overrides: DeviceOverrides | null;
  /** The selection the device's user made on the device (its agent's `report-selection`); null until reported. */
  localSelection: DeviceLocalSelection | null;
  configVersion: number;
  createdAt: number;
  modifiedAt: number;
  deactivatedAt: number | null;
  lastConnectedAt: number | null;
  loginAt: number | null;
  /** Newest completed backup over the device's archives (null: never). */
  lastCompletedBackupAt: number | null;
}

/** A device to insert at registration. */
export interface NewDevice {
  deviceGuid: string;
  userId: number;
  name: string;
  osHostname: string;
  osName: "linux" | "mac" | "win";
  osVersion: string;
  osArch: string;
  agentVersion: string;
  timeZone: string;
  remoteAddress: string | null;
  createdAt: number;
}

/** What a re-registration of an existing device refreshes. */
export type DeviceRegistrationPatch = Omit<NewDevice, "deviceGuid" | "userId" | "createdAt">;

/** Editable device fields (absent: unchanged). */
export interface DevicePatch {
  name?: string;
  extRef?: string | null;
  notes?: string | null;
  overrides?: DeviceOverrides | null;
}

/** Sort keys of the device list (default computerId). */
export const DEVICE_SORT_KEYS = ["computerId", "name", "status", "lastConnected", "lastCompletedBackup", "userId"] as const;

/** Filters of the device list (API.md §6). */
export interface DeviceFilter {
  scope: OrgScope;
  /** Only this user's devices (a caller who sees only itself). */
  userId?: number;
  /** Devices whose user is in exactly this org. */
  orgId?: number;
  active?: boolean;
  blocked?: boolean;
  /** Devices with an archive on this destination. */
  destinationId?: number;
  /** Case-insensitive substring of name, host name or guid. */
  q?: string;
  sort?: SortOrder;
}

/** A destination. */
export interface Destination {
  destinationId: number;
  destinationGuid: string;
  name: string;
  kind: "cluster" | "provider";
  active: boolean;
  createdAt: number;
  modifiedAt: number;
}

/** A storage server of a destination (an own node, or a provider's node). */
export interface Server {
  serverId: number;
  serverGuid: string;
  destinationId: number;
  name: string;
  urls: string[];
  fingerprint: string | null;
  /** Own nodes: SHA-256 of the node secret. */
  nodeSecretHash: string | null;
  /** Provider nodes: this authority's tenant id there. */
  providerTenantId: string | null;
  /** Provider nodes: the tenant secret, sealed with the `provider` box. */
  providerSecretSealed: Buffer | null;
  quotaBytes: number;
  nodeVersion: string | null;
  state: string;
  lastSeenAt: number | null;
  createdAt: number;
}

/** A store point of a server. */
export interface StorePoint {
  storePointId: number;
  serverId: number;
  /** The id the node speaks for it (own nodes: our id; provider nodes: the node's). */
  nodeStorePointId: number | null;
  name: string;
  totalBytes: number;
  freeBytes: number;
  acceptingNew: boolean;
  acceptingData: boolean;
  updatedAt: number;
}

/** A store point with what placement and the lists need. */
export interface StorePointLoad extends StorePoint {
  destinationId: number;
  serverName: string;
  destinationName: string;
  archiveCount: number;
  archiveBytes: number;
}

/** A one-time enroll key (only its hash is stored). */
export interface EnrollKeyRecord {
  enrollKeyId: number;
  keyHash: string;
  destinationId: number;
  createdByUserId: number | null;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
  usedByServerId: number | null;
}

/** An archive with the names around it (backupUsage, the Archive API, placements). */
export interface ArchiveRecord {
  archiveId: number;
  archiveGuid: string;
  deviceId: number;
  deviceGuid: string;
  destinationId: number;
  destinationGuid: string;
  destinationName: string;
  destinationKind: "cluster" | "provider";
  storePointId: number | null;
  storePointName: string | null;
  nodeStorePointId: number | null;
  serverId: number | null;
  serverGuid: string | null;
  serverName: string | null;
  serverUrls: string[];
  serverFingerprint: string | null;
  userId: number;
  userUid: string;
  orgId: number;
  orgUid: string;
  wrappedArchiveKey: Buffer | null;
  keyVersion: number;
  archiveBytes: number;
  selectedFiles: number;
  selectedBytes: number;
  todoFiles: number;
  todoBytes: number;
  versionCount: number;
  fileCount: number;
  lastBackupAt: number | null;
  lastCompletedBackupAt: number | null;
  lastMaintenanceAt: number | null;
  maintenanceDurationMs: number;
  compactBytesRemoved: number;
  damagedBlocks: number;
  /** The device's last failed backup to this archive (T20), null once one succeeds. */
  lastError: ArchiveLastError | null;
  reportedAt: number | null;
  purgedAt: number | null;
  createdAt: number;
  /** In cold storage, and until when. */
  cold: boolean;
  holdExpireDate: string | null;
}

/** A new archive of a device on a destination. */
export interface NewArchive {
  archiveGuid: string;
  deviceId: number;
  destinationId: number;
  storePointId: number;
  userId: number;
  createdAt: number;
}

/** Figures of one archive as a node reports them (absent: unchanged; `archive-changed` sends a few). */
export interface ArchiveFigures {
  archiveBytes: number;
  selection?: { selectedFiles: number; selectedBytes: number; todoFiles: number; todoBytes: number };
  versionCount?: number;
  fileCount?: number;
  lastBackupAt?: number | null;
  /** Server time of the newest complete version. */
  lastCompletedBackupAt?: number | null;
  lastMaintenanceAt?: number | null;
  maintenanceDurationMs?: number;
  compactBytesRemoved?: number;
  damagedBlocks?: number;
}

/** Selection figures of one archive as its agent reports them. */
export interface SelectionFigures {
  selectedFiles: number;
  selectedBytes: number;
  todoFiles: number;
  todoBytes: number;
  lastBackupAt: number | null;
  /** The device's last failed backup to this archive; null clears it; absent (older agents) leaves it. */
  lastError?: ArchiveLastError | null;
}

/** A backup failure a device reported for one archive (T20). */
export interface ArchiveLastError {
  code: string;
  message: string;
  at: number;
}

/** Filters of the archive list (API.md §7.1). */
export interface ArchiveFilter {
  scope: OrgScope;
  /** Only archives of this user's devices (a caller who sees only itself). */
  selfUserId?: number;
  deviceId?: number;
  userId?: number;
  destinationId?: number;
  serverId?: number;
  includePurged?: boolean;
}

/** Filters of the server list. */
export interface ServerFilter {
  destinationId?: number;
}

/** Filters of the store point list. */
export interface StorePointFilter {
  serverId?: number;
  destinationId?: number;
}

/** A revocation as stored. */
export interface RevocationRecord {
  kind: "device" | "user";
  guid: string;
  before: number;
  scope: "all" | "restore";
}

/** A device's own file selection (`cairn agent select`), as its agent reports it. */
export interface DeviceLocalSelection {
  include: string[];
  exclude: string[];
  excludePatterns: string[];
}
