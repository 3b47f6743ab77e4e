/**
 * The store's part for the administrators' everyday tools (issue 6): cold storage listings and
 * purges, restore history, legal hold, and what backup reports read. Records and the read and
 * write interfaces live here; `db/sqlite/{cold-storage,restore-history,legal-hold,report}-queries.ts`
 * hold the SQL, and `store.ts` merges these interfaces into `StoreReader` / `StoreWriter`.
 */
import type { OrgScope, Page, PageResult, SortOrder } from "./store.js";

// ------------------------------------------------------------------ cold storage

/** Sort keys of the cold-storage list (API.md §7.2; default: archive id). */
export const COLD_SORT_KEYS = ["archiveHoldExpireDate", "orgName", "mountPointName", "archiveBytes", "archiveType"] as const;

/** One archive in cold storage, with what the list and the CSV show of it. */
export interface ColdStorageView {
  archiveId: number;
  archiveGuid: string;
  archiveBytes: number;
  holdExpireDate: string;
  enteredAt: number;
  cause: string;
  userId: number;
  userUid: string;
  username: string;
  firstName: string | null;
  lastName: string | null;
  email: string | null;
  deviceId: number;
  deviceGuid: string;
  deviceName: string;
  osHostname: string | null;
  orgId: number;
  orgUid: string;
  orgName: string;
  orgPath: string;
  destinationGuid: string;
  destinationKind: "cluster" | "provider";
  storePointId: number | null;
  storePointName: string | null;
  serverGuid: string | null;
  /** Purged (key destroyed), its node's deletion of the blocks not confirmed yet: it is retried every run. */
  purgePending: boolean;
  serverName: string | null;
}

/** Which cold archives a list shows. */
export interface ColdStorageFilter {
  /** The org whose archives are listed. */
  orgId: number;
  /** Its path, when its descendants are included. */
  subtreePath: string | null;
  /** Only these archives (the CSV of a selection). */
  archiveGuids?: readonly string[];
  sort?: SortOrder;
}

/** An archive whose purge is due or unfinished. */
export interface PurgeCandidate {
  archiveId: number;
  archiveGuid: string;
  orgId: number;
  /** The archive's owner (a custodian's archive is not purged while the hold is active). */
  userId: number;
  holdExpireDate: string;
  /** Set once the wrapped key is destroyed; the node's deletion may still be pending. */
  purgedAt: number | null;
  destinationGuid: string;
  serverGuid: string | null;
}

/** Cold-storage reads. */
export interface ColdStorageReads {
  listColdStorage(filter: ColdStorageFilter, page: Page): Promise<PageResult<ColdStorageView>>;
  /** One archive in cold storage (not purged), by GUID. */
  getColdStorage(archiveGuid: string): Promise<ColdStorageView | undefined>;
  /** One archive in cold storage (not purged), by numeric archive id. */
  getColdStorageById(archiveId: number): Promise<ColdStorageView | undefined>;
  /** How many archives a list query matches and the sum of their `archiveBytes`. */
  coldStorageTotals(filter: ColdStorageFilter): Promise<{ count: number; bytes: number }>;
  /** Cold archives not yet purged whose purge date is on or before `date` (YYYY-MM-DD). */
  coldArchivesDue(date: string): Promise<PurgeCandidate[]>;
  /** Archives whose key is destroyed but whose blocks the node has not confirmed deleting. */
  unfinishedPurges(): Promise<PurgeCandidate[]>;
}

/** Cold-storage writes. */
export interface ColdStorageWrites {
  setHoldExpireDate(archiveId: number, date: string): Promise<void>;
  /** Destroys the wrapped archive key and marks the archive purged (crypto-shred). */
  markArchivePurged(archiveId: number, at: number): Promise<boolean>;
  /** The node deleted the blocks: the archive leaves cold storage for good. */
  finishPurge(archiveId: number): Promise<void>;
}

// ------------------------------------------------------------------ restore history

/** Kinds of restore (API.md §7.3). */
export type RestoreType = "WEB" | "PUSH" | "SERVER";
/** States of a restore event. */
export type RestoreStatus = "STARTED" | "COMPLETED" | "FAILED" | "CANCELED";

/** One row of the restore history as written. */
export interface NewRestoreEvent {
  eventUid: string;
  jobId: string;
  restoreType: RestoreType;
  status: RestoreStatus;
  sourceDeviceId: number | null;
  acceptingDeviceId: number | null;
  sourceUserId: number | null;
  requestingUserId: number | null;
  orgId: number | null;
  numFiles: number;
  numBytes: number;
  startedAt: number;
  completedAt: number | null;
  eventAt: number;
}

/** A restore event with the names the list and the CSV show. */
export interface RestoreEventView extends NewRestoreEvent {
  restoreEventId: number;
  sourceDeviceGuid: string | null;
  sourceDeviceName: string | null;
  sourceUserUid: string | null;
  sourceUsername: string | null;
  acceptingDeviceGuid: string | null;
  acceptingDeviceName: string | null;
  acceptingOsName: string | null;
  requestingUserUid: string | null;
  requestingUsername: string | null;
}

/** Filters of the restore history (API.md §7.3). */
export interface RestoreHistoryFilter {
  /** Where the caller holds `restorehistory.read`. */
  scope: OrgScope;
  /** Restores this user requested or of this user's devices are visible whatever the scope. */
  selfUserId: number | null;
  orgId?: number;
  /** With `orgId`: its subtree (incChildOrgs). */
  orgPath?: string;
  userId?: number;
  computerId?: number;
  /** Events at or after this time. */
  since?: number;
}

/** Restore-history reads. */
export interface RestoreHistoryReads {
  /** The newest event of each restore job matching the filter, newest first. */
  listRestoreEvents(filter: RestoreHistoryFilter, page: Page): Promise<PageResult<RestoreEventView>>;
  /** Every event of one job, oldest first. */
  restoreEventsOfJob(jobId: string): Promise<RestoreEventView[]>;
}

/** Restore-history writes. */
export interface RestoreHistoryWrites {
  insertRestoreEvent(e: NewRestoreEvent): Promise<void>;
}

// ------------------------------------------------------------------ legal hold

/** A preservation policy. */
export interface LegalHoldPolicyRecord {
  policyId: number;
  policyUid: string;
  name: string;
  policy: Record<string, unknown>;
  creatorUserId: number | null;
  /** The creator's org path (who may see and use the policy); null when made by the system. */
  creatorOrgPath: string | null;
  createdAt: number;
  modifiedAt: number;
}

/** A matter. */
export interface LegalHoldRecord {
  holdId: number;
  holdUid: string;
  name: string;
  description: string | null;
  notes: string | null;
  extRef: string | null;
  policyId: number;
  policyUid: string;
  active: boolean;
  creatorUserId: number | null;
  /** The creator's org path (who else may see the matter). */
  creatorOrgPath: string | null;
  createdAt: number;
  modifiedAt: number;
}

/** A custodian of a matter. */
export interface LegalHoldMembershipRecord {
  membershipId: number;
  membershipUid: string;
  holdId: number;
  holdUid: string;
  holdName: string;
  userId: number;
  active: boolean;
  createdAt: number;
  modifiedAt: number;
}

/** Event types of the legal-hold event report (API.md §11). */
export type LegalHoldEventType =
  | "HoldCreated"
  | "HoldDeactivated"
  | "HoldReactivated"
  | "MembershipCreated"
  | "MembershipDeactivated"
  | "MembershipReactivated"
  | "Restore";

/** One event of the report. */
export interface LegalHoldEventRecord {
  eventId: number;
  eventUid: string;
  eventType: LegalHoldEventType;
  eventAt: number;
  holdId: number;
  holdUid: string;
  membershipId: number | null;
  membershipUid: string | null;
  custodianUserId: number | null;
  actorUserId: number | null;
}

/** Filters of the matter list. */
export interface LegalHoldFilter {
  /** Matters whose creator is in this scope (the caller's `legalhold.read`). */
  scope: OrgScope;
  active?: boolean;
  creatorUserUid?: string;
  name?: string;
  extRef?: string;
}

/** Filters of the membership list (at least one criterion is checked by the service). */
export interface MembershipFilter {
  scope: OrgScope;
  active?: boolean;
  membershipUid?: string;
  holdUid?: string;
  userUid?: string;
  /** Substring of username, email or last name. */
  user?: string;
}

/** Filters of the event report. */
export interface LegalHoldEventFilter {
  scope: OrgScope;
  holdUid?: string;
  minEventAt?: number;
  maxEventAt?: number;
}

/** Legal-hold reads. */
export interface LegalHoldReads {
  listLegalHoldPolicies(): Promise<LegalHoldPolicyRecord[]>;
  getLegalHoldPolicy(policyUid: string): Promise<LegalHoldPolicyRecord | undefined>;
  getLegalHold(holdUid: string): Promise<LegalHoldRecord | undefined>;
  listLegalHolds(filter: LegalHoldFilter, page: Page): Promise<PageResult<LegalHoldRecord>>;
  getMembership(membershipUid: string): Promise<LegalHoldMembershipRecord | undefined>;
  getMembershipOf(holdId: number, userId: number): Promise<LegalHoldMembershipRecord | undefined>;
  listMemberships(filter: MembershipFilter, page: Page): Promise<PageResult<LegalHoldMembershipRecord>>;
  listLegalHoldEvents(filter: LegalHoldEventFilter, page: Page): Promise<PageResult<LegalHoldEventRecord>>;
  /** Active matters in which the user is an active custodian. */
  activeHoldsOf(userId: number): Promise<LegalHoldRecord[]>;
}

/** Legal-hold writes. */
export interface LegalHoldWrites {
  insertLegalHoldPolicy(p: Omit<LegalHoldPolicyRecord, "policyId" | "modifiedAt" | "creatorOrgPath">): Promise<LegalHoldPolicyRecord>;
  insertLegalHold(h: Omit<LegalHoldRecord, "holdId" | "modifiedAt" | "policyUid" | "creatorOrgPath" | "active">): Promise<number>;
  setLegalHoldActive(holdId: number, active: boolean, at: number): Promise<void>;
  insertMembership(m: { membershipUid: string; holdId: number; userId: number; createdAt: number }): Promise<number>;
  setMembershipActive(membershipId: number, active: boolean, at: number): Promise<void>;
  insertLegalHoldEvent(e: Omit<LegalHoldEventRecord, "eventId" | "holdUid" | "membershipUid">): Promise<void>;
}

// ------------------------------------------------------------------ reports

/** An active device as the backup report and alert emails see it. */
export interface ReportDevice {
  deviceId: number;
  deviceGuid: string;
  deviceName: string;
  osName: string | null;
  userId: number;
  username: string;
  email: string | null;
  orgId: number;
  /** Newest completed backup over the device's live archives; null: never. */
  lastCompletedBackupAt: number | null;
  createdAt: number;
  /** Device-level setting overrides (JSON), if any. */
  settingsJson: string | null;
  archiveBytes: number;
  selectedBytes: number;
  todoBytes: number;
  /** Files selected for backup / still to back up, over the device's live archives. */
  selectedFiles: number;
  todoFiles: number;
}

/** Restores from one device's archives that completed in a period. */
export interface DeviceRestoreTotals {
  deviceId: number;
  restores: number;
  files: number;
  bytes: number;
}

/** Report reads. */
export interface ReportReads {
  /** Active devices of users in these orgs, by device id. */
  reportDevices(orgIds: readonly number[]): Promise<ReportDevice[]>;
  /** Emails of active users holding one of these roles in these orgs (admins of an org). */
  roleHolderEmails(orgIds: readonly number[], roleIds: readonly number[]): Promise<string[]>;
  /** When each of these users was last sent the backup status email (users never sent one are absent). */
  statusEmailsSentAt(userIds: readonly number[]): Promise<Map<number, number>>;
  /**
   * Restores of archives of these orgs that completed with `since <= event time <= until`, per
   * source device (devices without one are absent).
   */
  completedRestoresByDevice(orgIds: readonly number[], since: number, until: number): Promise<Map<number, DeviceRestoreTotals>>;
}

/** Report writes. */
export interface ReportWrites {
  /** Records that the user was sent the backup status email at `at`. */
  setStatusEmailSentAt(userId: number, at: number): Promise<void>;
}

/** Everything of this file readable. */
export interface OperationsReads extends ColdStorageReads, RestoreHistoryReads, LegalHoldReads, ReportReads {}
/** Everything of this file writable. */
export interface OperationsWrites extends ColdStorageWrites, RestoreHistoryWrites, LegalHoldWrites, ReportWrites {}
