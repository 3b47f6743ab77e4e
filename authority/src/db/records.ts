/**
 * The domain records the store reads and writes. Plain data in camelCase; `db/sqlite/*` maps
 * them to and from snake_case rows, and nothing outside `db/` sees a row.
 */

/** An organization. */
export interface Org {
  orgId: number;
  orgUid: string;
  orgGuid: string;
  parentId: number | null;
  /** `/1/5/9/`: ids from the top-level org down to this one. */
  path: string;
  /** 0 for the top-level org. */
  depth: number;
  name: string;
  extRef: string | null;
  notes: string | null;
  type: string;
  classification: string;
  registrationKey: string;
  active: boolean;
  /** Blocked itself (an ancestor's block also applies: see {@link OrgAccessState}). */
  blocked: boolean;
  deactivatedByOrgId: number | null;
  createdAt: number;
  modifiedAt: number;
  deactivatedAt: number | null;
}

/** A new organization (ids and path are assigned by the store). */
export interface NewOrg {
  orgUid: string;
  orgGuid: string;
  parentId: number | null;
  name: string;
  extRef: string | null;
  notes: string | null;
  registrationKey: string;
  registrationKeyHash: string;
  createdAt: number;
}

/** A user account. */
export interface User {
  userId: number;
  userUid: string;
  orgId: number;
  username: string;
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  notes: string | null;
  extRef: string | null;
  quotaBytes: number;
  active: boolean;
  blocked: boolean;
  invited: boolean;
  deactivatedByOrgId: number | null;
  authVersion: number;
  createdAt: number;
  modifiedAt: number;
  deactivatedAt: number | null;
  lastLoginAt: number | null;
}

/** A new user. */
export interface NewUser {
  userUid: string;
  orgId: number;
  username: string;
  usernameKey: string;
  email: string | null;
  firstName: string | null;
  lastName: string | null;
  notes: string | null;
  quotaBytes: number;
  createdAt: number;
}

/** Fields of a user that an update may change (absent: unchanged). */
export interface UserPatch {
  username?: string;
  usernameKey?: string;
  email?: string | null;
  firstName?: string | null;
  lastName?: string | null;
  notes?: string | null;
  quotaBytes?: number;
}

/** A role as stored (permissions live in code: `auth/roles.ts`). */
export interface RoleRecord {
  roleId: number;
  name: string;
}

/** How a user's key is kept. */
export interface UserKeyRecord {
  userId: number;
  keyPolicy: "escrow" | "password" | "custom";
  keyVersion: number;
  escrowWrapped: Buffer | null;
  passwordWrapped: Buffer | null;
}

/** A user's TOTP enrollment. */
export interface TotpRecord {
  userId: number;
  secretSealed: Buffer;
  state: "pending" | "active";
  createdAt: number;
  activatedAt: number | null;
}

/** A console session (the cookie value itself is never stored). */
export interface SessionRecord {
  sessionHash: string;
  userId: number;
  csrfHash: string;
  authVersion: number;
  enrollOnly: boolean;
  source: string | null;
  createdAt: number;
  lastSeenAt: number;
  expiresAt: number;
  revokedAt: number | null;
}

/** A long-lived API token (the token itself is never stored). */
export interface ApiTokenRecord {
  tokenId: number;
  tokenHash: string;
  userId: number;
  name: string;
  createdAt: number;
  expiresAt: number | null;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

/** Who did something, for the audit log. */
export type ActorKind = "user" | "system" | "device" | "node";

/** One audit-log entry. */
export interface AuditEntry {
  auditId: number;
  at: number;
  actorKind: ActorKind;
  actorUserId: number | null;
  actorUsername: string | null;
  source: string | null;
  requestId: string | null;
  action: string;
  outcome: "ok" | "denied";
  targetType: string | null;
  targetId: string | null;
  orgId: number | null;
  details: Record<string, unknown> | null;
}

/** An audit entry to append. */
export type NewAuditEntry = Omit<AuditEntry, "auditId">;

/** What one org stores of its settings: the raw layer the resolver merges. */
export interface OrgSettingsLayer {
  orgId: number;
  /** Groups this org overrides, with its values. */
  groups: Record<string, Record<string, unknown>>;
  /** Per-key values set at this org (`group.field` or `packets.<key>`). */
  packets: Record<string, unknown>;
  /** Keys this org locks for its descendants. */
  locks: string[];
}

/** Counts shown with an org (API.md §4 `incCounts`). */
export interface OrgCounts {
  orgId: number;
  /** Active users. */
  userCount: number;
  /** Active devices of the org's users. */
  computerCount: number;
  /** Active devices with at least one archive. */
  backupComputerCount: number;
  /** Active users with at least one archive (they count toward maximum user subscriptions). */
  licensedUserCount: number;
  /** Active child orgs. */
  orgCount: number;
}

/** Backup figures of one org's devices, summed over their archives (CSV export). */
export interface OrgUsage {
  orgId: number;
  selectedFiles: number;
  selectedBytes: number;
  todoFiles: number;
  todoBytes: number;
  archiveBytes: number;
  /** Destination GUIDs holding the org's archives, ascending. */
  destinationGuids: string[];
}

/** When each of an org's active devices last completed a backup (alert counts). */
export interface DeviceBackupAge {
  orgId: number;
  deviceId: number;
  /** Newest completed backup over the device's archives; null: never. */
  lastCompletedBackupAt: number | null;
  createdAt: number;
}

/** A destination, as the org settings list it. */
export interface DestinationSummary {
  destinationId: number;
  destinationGuid: string;
  name: string;
  kind: "cluster" | "provider";
  active: boolean;
}

/** A live (not purged, not in cold storage) archive, for cascades into cold storage. */
export interface LiveArchive {
  archiveId: number;
  archiveGuid: string;
  deviceId: number;
  userId: number;
  orgId: number;
  destinationGuid: string;
}

/** One archive entering cold storage. */
export interface ColdStorageEntry {
  archiveId: number;
  holdExpireDate: string;
  cause: "device" | "user" | "org" | "move" | "destination";
  causeId: number | null;
}

/** A revocation the storage nodes must honour. */
export interface NewRevocation {
  kind: "device" | "user";
  guid: string;
  before: number;
  scope: "all" | "restore";
}
