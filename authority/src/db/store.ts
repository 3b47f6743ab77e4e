/**
 * The authority's only data-access API. Services depend on this interface, never on SQL:
 * `sqlite-store.ts` implements it on better-sqlite3, and a PostgreSQL implementation can follow
 * (every method is async for that reason).
 *
 * Contract:
 * - Reads outside a transaction see the last committed state (never another transaction's
 *   uncommitted writes).
 * - Every write happens inside {@link AuthorityStore.transaction}: all of it commits, or none
 *   (RELIABILITY.md T04). Transactions are serialized; keep them short and do slow work (password
 *   hashing, network) before opening one.
 * - A full database surfaces as CairnError STORAGE_FULL with nothing written (T06); reads keep
 *   working.
 * - Every query is a prepared statement with bound parameters (T32).
 */
import type {
  ApiTokenRecord,
  AuditEntry,
  ColdStorageEntry,
  DestinationSummary,
  DeviceBackupAge,
  LiveArchive,
  NewAuditEntry,
  NewOrg,
  NewRevocation,
  NewUser,
  Org,
  OrgCounts,
  OrgSettingsLayer,
  OrgUsage,
  RoleRecord,
  SessionRecord,
  TotpRecord,
  User,
  UserKeyRecord,
  UserPatch,
} from "./records.js";
import type { PartBReads, PartBWrites } from "./device-store.js";
import type { OperationsReads, OperationsWrites } from "./operations-store.js";

/** A page request: rows `offset .. offset + limit - 1` in the list's stable order. */
export interface Page {
  offset: number;
  limit: number;
}

/** One page of a list and the total number of matches. */
export interface PageResult<T> {
  total: number;
  items: T[];
}

/**
 * Which orgs a query may touch: every org, one org's subtree (its `path`), or one org only.
 * Built by the authorization layer (`auth/access.ts`), never from request input.
 */
export type OrgScope = { kind: "all" } | { kind: "subtree"; path: string } | { kind: "org"; orgId: number } | { kind: "none" };

/** A sort order for a list: a key the list knows (validated by the caller) and a direction. */
export interface SortOrder {
  key: string;
  dir: "asc" | "desc";
}

/** Sort keys of the org list (default orgId). */
export const ORG_SORT_KEYS = ["orgId", "orgName", "status", "userCount", "computerCount"] as const;
/** Sort keys of the user list (default userId). */
export const USER_SORT_KEYS = ["userId", "username", "email", "lastName", "status", "orgName"] as const;

/** Filters of the org list (API.md §4). */
export interface OrgFilter {
  scope: OrgScope;
  sort?: SortOrder;
  active?: boolean;
  /** Case-insensitive substring of the name. */
  q?: string;
  /** Only the direct children of this org (the console's tree pages through them). */
  parentId?: number;
  /** Leave out the org at this path and its descendants (the candidates for a new parent). */
  excludeSubtree?: string;
}

/** Filters of the user list (API.md §3). */
export interface UserFilter {
  scope: OrgScope;
  sort?: SortOrder;
  /** Only this user (a caller who may see only themself). */
  userId?: number;
  /** Exactly this org, not its children. */
  orgId?: number;
  active?: boolean;
  /** Exact username, case-insensitive. */
  usernameKey?: string;
  email?: string;
  roleId?: number;
  /** Case-insensitive substring of username, email, first or last name. */
  q?: string;
}

/** Filters of the audit log. */
export interface AuditFilter {
  scope: OrgScope;
  action?: string;
  targetType?: string;
  targetId?: string;
  since?: number;
  until?: number;
  /** Newest entry first (the console's default); oldest first otherwise. */
  newestFirst?: boolean;
}

/** Organization reads. */
export interface OrgReads {
  getOrg(orgId: number): Promise<Org | undefined>;
  getOrgByUid(orgUid: string): Promise<Org | undefined>;
  getTopLevelOrg(): Promise<Org | undefined>;
  /** The org whose registration key has this SHA-256 (callers compare the key in constant time). */
  getOrgByRegistrationKeyHash(hash: string): Promise<Org | undefined>;
  /** Orgs by id, in the order of `orgIds` (missing ids are skipped). */
  getOrgs(orgIds: readonly number[]): Promise<Org[]>;
  listOrgs(filter: OrgFilter, page: Page): Promise<PageResult<Org>>;
  /** Every org of a subtree (the org itself first, then by path). */
  listSubtree(path: string): Promise<Org[]>;
  /** Whether any org on `path` (ancestors and self) is blocked or deactivated. */
  orgChainState(path: string): Promise<{ blocked: boolean; deactivated: boolean }>;
}

/** Organization writes. */
export interface OrgWrites {
  insertOrg(org: NewOrg): Promise<Org>;
  updateOrg(orgId: number, patch: { name?: string; extRef?: string | null; notes?: string | null }, at: number): Promise<void>;
  setOrgBlocked(orgId: number, blocked: boolean, at: number): Promise<void>;
  /** Replaces an org's registration key (the old one stops working at once). */
  setRegistrationKey(orgId: number, key: string, keyHash: string, at: number): Promise<void>;
  /** Deactivates every active org of the subtree at `path`, recording `byOrgId` on the others. */
  deactivateOrgs(path: string, byOrgId: number, at: number): Promise<number[]>;
  /** Reactivates the org and every org its deactivation deactivated. */
  reactivateOrgs(orgId: number, at: number): Promise<number[]>;
  /** Moves an org (and its subtree) under a new parent: rewrites paths and depths. */
  moveOrg(orgId: number, newParent: Org, at: number): Promise<void>;
}

/** User, role and credential reads. */
export interface UserReads {
  getUser(userId: number): Promise<User | undefined>;
  getUserByUid(userUid: string): Promise<User | undefined>;
  getUserByUsernameKey(usernameKey: string): Promise<User | undefined>;
  listUsers(filter: UserFilter, page: Page): Promise<PageResult<User>>;
  listRoles(): Promise<RoleRecord[]>;
  /** Role names per user id. */
  rolesOf(userIds: readonly number[]): Promise<Map<number, string[]>>;
  /** Users holding a role (e.g. every SYSADMIN). */
  usersWithRole(roleId: number): Promise<number[]>;
  getPasswordHash(userId: number): Promise<string | null>;
  getTotp(userId: number): Promise<TotpRecord | undefined>;
  getTotpUse(userId: number, timeStep: number): Promise<{ source: string; uses: number } | undefined>;
  getUserKey(userId: number): Promise<UserKeyRecord | undefined>;
  /** Whether the user is an active custodian of an active legal hold. */
  isOnActiveHold(userId: number): Promise<boolean>;
  /** Those of `userIds` that are active custodians of an active legal hold (one query). */
  usersOnActiveHold(userIds: readonly number[]): Promise<Set<number>>;
  /** Whether any user of the orgs at/below `path` is on active hold. */
  subtreeHasActiveHold(path: string): Promise<boolean>;
}

/** User, role and credential writes. */
export interface UserWrites {
  insertUser(user: NewUser): Promise<User>;
  updateUser(userId: number, patch: UserPatch, at: number): Promise<void>;
  setPasswordHash(userId: number, hash: string | null, at: number): Promise<void>;
  /** Invalidates every token and session issued to the user so far. */
  bumpAuthVersion(userId: number, at: number): Promise<void>;
  setUserBlocked(userId: number, blocked: boolean, at: number): Promise<void>;
  /** Deactivates one user (`byOrgId` when an org deactivation cascades). */
  setUserActive(userId: number, active: boolean, byOrgId: number | null, at: number): Promise<void>;
  /** Deactivates the active users of these orgs, recording `byOrgId`; returns their ids. */
  deactivateUsersOfOrgs(orgIds: readonly number[], byOrgId: number, at: number): Promise<number[]>;
  /** Reactivates the users that `byOrgId`'s deactivation deactivated; returns their ids. */
  reactivateUsersDeactivatedBy(byOrgId: number, at: number): Promise<number[]>;
  moveUser(userId: number, orgId: number, at: number): Promise<void>;
  grantRole(userId: number, roleId: number, byUserId: number | null, at: number): Promise<void>;
  revokeRole(userId: number, roleId: number): Promise<void>;
  putUserKey(key: UserKeyRecord, at: number): Promise<void>;
  putTotp(totp: TotpRecord): Promise<void>;
  deleteTotp(userId: number): Promise<void>;
  recordTotpUse(userId: number, timeStep: number, source: string, at: number): Promise<void>;
  touchLogin(userId: number, at: number): Promise<void>;
}

/** Sessions and API tokens. */
export interface AuthReads {
  getSession(sessionHash: string): Promise<SessionRecord | undefined>;
  getApiTokenByHash(tokenHash: string): Promise<ApiTokenRecord | undefined>;
  listApiTokens(userId: number): Promise<ApiTokenRecord[]>;
}

/** Session and API token writes. */
export interface AuthWrites {
  insertSession(s: SessionRecord): Promise<void>;
  touchSession(sessionHash: string, at: number, expiresAt: number): Promise<void>;
  revokeSession(sessionHash: string, at: number): Promise<void>;
  revokeSessionsOf(userId: number, at: number): Promise<void>;
  /** A session that finished two-factor enrollment may do everything. */
  clearSessionEnrollOnly(sessionHash: string): Promise<void>;
  insertApiToken(t: Omit<ApiTokenRecord, "tokenId">): Promise<ApiTokenRecord>;
  revokeApiToken(tokenId: number, at: number): Promise<void>;
  touchApiToken(tokenId: number, at: number): Promise<void>;
}

/** Settings layers. */
export interface SettingsReads {
  /** The stored settings of each org, in the order of `orgIds` (orgs with nothing stored included). */
  getSettingsLayers(orgIds: readonly number[]): Promise<OrgSettingsLayer[]>;
}

/** Settings writes. */
export interface SettingsWrites {
  /** Sets (values) or removes (null: inherit again) an org's override of a group. */
  putSettingsGroup(orgId: number, group: string, values: Record<string, unknown> | null, at: number): Promise<void>;
  /** Sets (value) or removes (undefined) one per-key setting at an org. */
  putSettingsPacket(orgId: number, key: string, value: unknown, at: number): Promise<void>;
  setSettingsLock(orgId: number, key: string, locked: boolean, at: number): Promise<void>;
}

/** Audit log. */
export interface AuditReads {
  listAudit(filter: AuditFilter, page: Page): Promise<PageResult<AuditEntry>>;
}

/** Audit writes. */
export interface AuditWrites {
  appendAudit(entry: NewAuditEntry): Promise<void>;
}

/**
 * Figures over devices, archives and destinations (tables the devices and storage parts fill);
 * the org screens and the CSV export read them.
 */
export interface UsageReads {
  orgCounts(orgIds: readonly number[]): Promise<Map<number, OrgCounts>>;
  /** Active devices per user. */
  deviceCountsOfUsers(userIds: readonly number[]): Promise<Map<number, number>>;
  orgUsage(orgIds: readonly number[]): Promise<Map<number, OrgUsage>>;
  deviceBackupAges(orgIds: readonly number[]): Promise<DeviceBackupAge[]>;
  listDestinations(): Promise<DestinationSummary[]>;
  /** Live archives of these users' devices. */
  liveArchivesOfUsers(userIds: readonly number[]): Promise<LiveArchive[]>;
  /** Live archives of the devices of users in these orgs. */
  liveArchivesOfOrgs(orgIds: readonly number[]): Promise<LiveArchive[]>;
}

/** Cascades into devices, archives and revocations. */
export interface UsageWrites {
  /** Deactivates these users' active devices, recording the cause; returns device ids. */
  deactivateDevicesOfUsers(userIds: readonly number[], cause: { userId: number } | { orgId: number }, at: number): Promise<number[]>;
  /** Reactivates the devices a user's or an org's deactivation deactivated. */
  reactivateDevicesDeactivatedBy(cause: { userId: number } | { orgId: number }, at: number): Promise<number[]>;
  putColdStorage(entries: readonly ColdStorageEntry[], at: number): Promise<void>;
  /** Takes archives out of cold storage that this cause put there (unless purged). */
  releaseColdStorage(cause: ColdStorageEntry["cause"], causeId: number): Promise<number>;
  /**
   * Archives in cold storage because their destination was not offered (cause `move`), of active
   * devices of active users of these users or orgs: those an offer may bring back.
   */
  unofferedColdArchives(o: { userIds?: readonly number[]; orgIds?: readonly number[] }): Promise<LiveArchive[]>;
  /** Takes these archives out of cold storage. */
  releaseColdArchives(archiveIds: readonly number[]): Promise<number>;
  addRevocations(revocations: readonly NewRevocation[], at: number): Promise<void>;
  /** Lifts the standing restore revocations of a subject (an unblock); returns what was lifted. */
  liftRestoreRevocations(kind: NewRevocation["kind"], guid: string, at: number): Promise<NewRevocation[]>;
}

/** Small key-value facts about this authority (its GUID, tenant uid, init time). */
export interface MetaReads {
  getMeta(key: string): Promise<string | undefined>;
}

/** Meta writes. */
export interface MetaWrites {
  setMeta(key: string, value: string): Promise<void>;
}

/** Everything readable. */
export interface StoreReader extends OrgReads, UserReads, AuthReads, SettingsReads, AuditReads, UsageReads, MetaReads, OperationsReads, PartBReads {}

/** Everything readable and writable, inside one transaction. */
export interface StoreWriter
  extends StoreReader,
    OrgWrites,
    UserWrites,
    AuthWrites,
    SettingsWrites,
    AuditWrites,
    UsageWrites,
    MetaWrites,
    OperationsWrites,
    PartBWrites {}

/** The store: committed reads, and transactions for writes. */
export interface AuthorityStore extends StoreReader {
  /**
   * Runs `fn` in one serialized transaction: commits when it resolves, rolls back when it
   * throws (and rethrows). Do not call `transaction` inside `fn`.
   */
  transaction<T>(fn: (tx: StoreWriter) => Promise<T>): Promise<T>;
  /** `PRAGMA integrity_check` (`"ok"` when healthy). */
  integrityCheck(): Promise<string>;
  /** Closes the connections (checkpointing the WAL). */
  close(): Promise<void>;
}
