/**
 * Shapes of the objects the console reads, as API.md defines them (§3 users, §4 orgs, §5 settings,
 * §6 devices, §7 cold storage and restore history) and as docs/console.md defines Cairn's own
 * `/api/v1/…` routes. Only the fields the console uses are typed; the server may send more.
 */

/** A page of a list endpoint: `totalCount` next to the list key (API.md §1.5). */
export interface Page<T> {
  totalCount: number;
  items: T[];
}

/** Active or Deactivated (API.md §3, §4). */
export type Status = "Active" | "Deactivated";

/** An organization (API.md §4), with the `incCounts` part. */
export interface Org {
  orgId: number;
  orgUid: string;
  orgName: string;
  orgExtRef: string | null;
  notes: string | null;
  status: Status;
  active: boolean;
  blocked: boolean;
  parentOrgId: number | null;
  parentOrgUid: string | null;
  parentOrgName?: string | null;
  registrationKey: string;
  creationDate: string;
  modificationDate?: string;
  deactivationDate?: string | null;
  computerCount?: number;
  backupComputerCount?: number;
  userCount?: number;
  licensedUserCount?: number;
  orgCount?: number;
  planCount?: number;
}

/** A user (API.md §3). */
export interface User {
  userId: number;
  userUid: string;
  status: Status;
  username: string;
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  quotaInBytes: number;
  orgId: number;
  orgUid: string;
  orgName: string;
  userExtRef?: string | null;
  notes: string | null;
  active: boolean;
  blocked: boolean;
  creationDate: string;
  roles?: string[];
  computerCount?: number;
  lastLoginDate?: string | null;
}

/** One entry of a device's `backupUsage` (API.md §6). */
export interface BackupUsage {
  targetComputerGuid: string;
  targetComputerName: string;
  archiveGuid: string;
  selectedFiles: number;
  selectedBytes: number;
  todoFiles: number;
  todoBytes: number;
  archiveBytes: number;
  percentComplete: number;
  lastBackup: string | null;
  lastCompletedBackup: string | null;
  storePointName?: string;
  serverName?: string;
  isProvider?: boolean;
  alertStates?: string[];
  /** Cairn's own: the device's last failed backup to this destination, null once one succeeds. */
  lastError?: { code: string; message: string; date: string | null } | null;
}

/** A device (API.md §6). */
export interface Computer {
  computerId: number;
  guid: string;
  name: string;
  osHostname: string;
  status: string;
  active: boolean;
  blocked: boolean;
  alertState: number;
  alertStates: string[];
  userId: number;
  userUid: string;
  username?: string;
  orgId: number;
  orgUid: string;
  orgName?: string;
  computerExtRef: string | null;
  notes: string | null;
  lastConnected: string | null;
  osName: string;
  osVersion: string;
  productVersion: string;
  creationDate: string;
  /** The newest completed backup over the device's archives. */
  lastCompletedBackup?: string | null;
  backupUsage?: BackupUsage[];
  settings?: SettingsTree;
  availableDestinations?: DestinationRef[];
}

/** A destination as the org settings list it (API.md §5.2). */
export interface DestinationRef {
  destinationId: number;
  guid: string;
  destinationName: string;
  type: string;
}

/** A node of the agent-configuration tree written as JSON (API.md §5.4). */
export type SettingsTree = { [key: string]: unknown };

/** The org's settings groups (API.md §5.2). */
export interface OrgSettingsValues {
  maxSeats: number;
  maxBytes: number;
  archiveHoldDays: number;
  defaultUserMaxBytes: number;
  webRestoreUserLimitMb: number;
  webRestoreAdminLimitMb: number;
  isUsingQuotaDefaults: boolean;
  warnInDays: number;
  alertInDays: number;
  recipients: string[];
  reportSchedule: string;
  sendReports: boolean;
  isUsingReportingDefaults: boolean;
  destinations: DestinationRef[];
  allDestinations?: DestinationRef[];
  isUsingDestinationDefaults: boolean;
  securityKeyType: string;
  securityKeyLocked: boolean;
  securityKeyInherit: boolean;
  usernameIsAnEmail?: boolean;
  [key: string]: unknown;
}

/** `orgInheritDto` (API.md §5.2). */
export interface OrgInherit {
  orgIdProvidingDestinations?: number | null;
  orgNameProvidingDestinations?: string | null;
  orgIdProvidingDeviceDefaults?: number | null;
  orgNameProvidingDeviceDefaults?: string | null;
}

/** An org named in settings metadata. */
export interface OrgRef {
  orgId: number;
  orgName: string;
}

/**
 * Cairn: where each setting comes from and which locks hold it (the resolver's answer,
 * docs/console.md "Settings metadata"). Keys are `group.field` (`quota.maxSeats`,
 * `packets.device_webRestore_enabled`).
 */
export interface SettingsMeta {
  groupSource: Record<string, OrgRef>;
  /** Where each group would come from if this org inherited it; null: the system-wide defaults. */
  parentSource?: Record<string, OrgRef | null>;
  /** Per group, whether the signed-in administrator may change it here. */
  editable?: Record<string, boolean>;
  inherits: Record<string, boolean>;
  lockedBy: Record<string, OrgRef>;
  ownLocks: string[];
}

/** The org with every `inc` part: what PUT /api/Org/{id} takes back whole (API.md §5.1). */
export interface OrgWithSettings extends Org {
  settings: OrgSettingsValues;
  settingsInherited?: Partial<OrgSettingsValues>;
  settingsSummary?: Partial<OrgSettingsValues>;
  orgInheritDto?: OrgInherit;
  deviceDefaults?: SettingsTree;
  settingsMeta?: SettingsMeta;
  /** Cairn, in PUT bodies only: this org's locks for its descendants (absent keys unchanged). */
  settingsLocks?: Record<string, boolean>;
  [key: string]: unknown;
}

/** One `/api/OrgSetting` packet (API.md §5.3). */
export interface SettingPacket {
  scope?: string;
  value: string;
  locked: boolean;
  /** The orgId that supplies the value. */
  id?: number;
  /** Cairn: this org itself locks the key for its descendants. */
  lockedForChildren?: boolean;
}

/** A cold-storage row (API.md §7.2). */
export interface ColdStorageRow {
  archiveGuid: string;
  /** Purged, its storage node's deletion not confirmed yet (retried every run). */
  purgePending?: boolean;
  archiveBytes: number;
  archiveType: string;
  archiveHoldExpireDate: string;
  sourceUserId: number;
  sourceUserUsername: string;
  sourceComputerId: number | null;
  sourceComputerName: string | null;
  sourceComputerOsHostname: string | null;
  orgId: number;
  orgName: string;
  storePointName: string | null;
  serverName: string | null;
}

/** A restore-history event (API.md §7.3). */
export interface RestoreEvent {
  eventUid: string;
  restoreType: string;
  status: string;
  eventDate: string;
  startDate: string | null;
  completedDate: string | null;
  durationMs: number | null;
  sourceComputerName: string | null;
  sourceUsername: string | null;
  acceptingComputerName: string | null;
  acceptingComputerOsName: string | null;
  requestingUsername: string | null;
  /** Cairn: the requester is not the archive's owner (the seed's warning mark). */
  restoredByAnotherUser?: boolean;
  numFiles: number;
  numBytes: number;
  transferRateBytesPerSec: number | null;
}
