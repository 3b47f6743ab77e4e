/**
 * SQL of legal hold (API.md §11): preservation policies, matters, custodians (memberships) and
 * the event report. A matter belongs to its creator's org: who may see it follows from there.
 */
import type {
  LegalHoldEventFilter,
  LegalHoldEventRecord,
  LegalHoldEventType,
  LegalHoldFilter,
  LegalHoldMembershipRecord,
  LegalHoldPolicyRecord,
  LegalHoldReads,
  LegalHoldRecord,
  LegalHoldWrites,
  MembershipFilter,
} from "../operations-store.js";
import type { Page, PageResult } from "../store.js";
import { fromBool, likeSubstring, type SqlRunner, scopeParams, toBool } from "./runner.js";

interface PolicyRow {
  policy_id: number;
  policy_uid: string;
  name: string;
  policy_json: string;
  creator_user_id: number | null;
  creator_org_path: string | null;
  created_at: number;
  modified_at: number;
}

const POLICY_SELECT = `SELECT p.*, co.path AS creator_org_path FROM legal_hold_policies p
  LEFT JOIN users cu ON cu.user_id = p.creator_user_id LEFT JOIN orgs co ON co.org_id = cu.org_id`;
const POLICY_LIST_SQL = [POLICY_SELECT, "ORDER BY p.policy_id"].join("\n");
const POLICY_ONE_SQL = [POLICY_SELECT, "WHERE p.policy_uid = ?"].join("\n");

const toPolicy = (r: PolicyRow): LegalHoldPolicyRecord => ({
  policyId: r.policy_id,
  policyUid: r.policy_uid,
  name: r.name,
  policy: JSON.parse(r.policy_json) as Record<string, unknown>,
  creatorUserId: r.creator_user_id,
  creatorOrgPath: r.creator_org_path,
  createdAt: r.created_at,
  modifiedAt: r.modified_at,
});

interface HoldRow {
  hold_id: number;
  hold_uid: string;
  name: string;
  description: string | null;
  notes: string | null;
  ext_ref: string | null;
  policy_id: number;
  policy_uid: string;
  active: number;
  creator_user_id: number | null;
  creator_org_path: string | null;
  created_at: number;
  modified_at: number;
}

const toHold = (r: HoldRow): LegalHoldRecord => ({
  holdId: r.hold_id,
  holdUid: r.hold_uid,
  name: r.name,
  description: r.description,
  notes: r.notes,
  extRef: r.ext_ref,
  policyId: r.policy_id,
  policyUid: r.policy_uid,
  active: toBool(r.active),
  creatorUserId: r.creator_user_id,
  creatorOrgPath: r.creator_org_path,
  createdAt: r.created_at,
  modifiedAt: r.modified_at,
});

const HOLD_SELECT = `SELECT h.hold_id, h.hold_uid, h.name, h.description, h.notes, h.ext_ref, h.policy_id, p.policy_uid, h.active,
  h.creator_user_id, co.path AS creator_org_path, h.created_at, h.modified_at
  FROM legal_holds h JOIN legal_hold_policies p ON p.policy_id = h.policy_id
  LEFT JOIN users cu ON cu.user_id = h.creator_user_id LEFT JOIN orgs co ON co.org_id = cu.org_id`;

/** Matters visible in a scope: the creator's org in the range (a system-made matter: all-scope only). */
const HOLD_SCOPE = `((@scopeOrgId IS NULL AND @lo = '/' AND @hi = '0') OR (co.path >= @lo AND co.path < @hi AND (@scopeOrgId IS NULL OR co.org_id = @scopeOrgId)))`;

const HOLD_LIST_WHERE = [
  "WHERE",
  HOLD_SCOPE,
  "AND (@active IS NULL OR h.active = @active) AND (@creatorUid IS NULL OR cu.user_uid = @creatorUid)",
  "AND (@name IS NULL OR lower(h.name) LIKE @name ESCAPE '\\') AND (@extRef IS NULL OR h.ext_ref = @extRef)",
].join(" ");
const HOLD_LIST_SQL = [HOLD_SELECT, HOLD_LIST_WHERE, "ORDER BY h.hold_id LIMIT @limit OFFSET @offset"].join("\n");
const HOLD_COUNT_SQL = [
  "SELECT count(*) AS n FROM legal_holds h LEFT JOIN users cu ON cu.user_id = h.creator_user_id LEFT JOIN orgs co ON co.org_id = cu.org_id",
  HOLD_LIST_WHERE,
].join("\n");
const HOLD_ONE_SQL = [HOLD_SELECT, "WHERE h.hold_uid = ?"].join("\n");
const HOLDS_OF_USER_SQL = [
  HOLD_SELECT,
  "WHERE h.active = 1 AND h.hold_id IN (SELECT m.hold_id FROM legal_hold_memberships m WHERE m.user_id = ? AND m.active = 1) ORDER BY h.hold_id",
].join("\n");

interface MembershipRow {
  membership_id: number;
  membership_uid: string;
  hold_id: number;
  hold_uid: string;
  hold_name: string;
  user_id: number;
  active: number;
  created_at: number;
  modified_at: number;
}

const toMembership = (r: MembershipRow): LegalHoldMembershipRecord => ({
  membershipId: r.membership_id,
  membershipUid: r.membership_uid,
  holdId: r.hold_id,
  holdUid: r.hold_uid,
  holdName: r.hold_name,
  userId: r.user_id,
  active: toBool(r.active),
  createdAt: r.created_at,
  modifiedAt: r.modified_at,
});

const MEMBERSHIP_FROM = `FROM legal_hold_memberships m JOIN legal_holds h ON h.hold_id = m.hold_id JOIN users mu ON mu.user_id = m.user_id
  LEFT JOIN users cu ON cu.user_id = h.creator_user_id LEFT JOIN orgs co ON co.org_id = cu.org_id`;
const MEMBERSHIP_SELECT = [
  "SELECT m.membership_id, m.membership_uid, m.hold_id, h.hold_uid, h.name AS hold_name, m.user_id, m.active, m.created_at, m.modified_at",
  MEMBERSHIP_FROM,
].join("\n");
const MEMBERSHIP_WHERE = [
  "WHERE",
  HOLD_SCOPE,
  "AND (@active IS NULL OR m.active = @active)",
  "AND (@membershipUid IS NULL OR m.membership_uid = @membershipUid) AND (@holdUid IS NULL OR h.hold_uid = @holdUid)",
  "AND (@userUid IS NULL OR mu.user_uid = @userUid)",
  "AND (@user IS NULL OR lower(mu.username) LIKE @user ESCAPE '\\' OR lower(coalesce(mu.email, '')) LIKE @user ESCAPE '\\' OR lower(coalesce(mu.last_name, '')) LIKE @user ESCAPE '\\')",
].join(" ");
const MEMBERSHIP_LIST_SQL = [MEMBERSHIP_SELECT, MEMBERSHIP_WHERE, "ORDER BY m.membership_id LIMIT @limit OFFSET @offset"].join("\n");
const MEMBERSHIP_COUNT_SQL = ["SELECT count(*) AS n", MEMBERSHIP_FROM, MEMBERSHIP_WHERE].join("\n");
const MEMBERSHIP_ONE_SQL = [MEMBERSHIP_SELECT, "WHERE m.membership_uid = ?"].join("\n");
const MEMBERSHIP_OF_SQL = [MEMBERSHIP_SELECT, "WHERE m.hold_id = ? AND m.user_id = ?"].join("\n");

interface EventRow {
  event_id: number;
  event_uid: string;
  event_type: LegalHoldEventType;
  event_at: number;
  hold_id: number;
  hold_uid: string;
  membership_id: number | null;
  membership_uid: string | null;
  custodian_user_id: number | null;
  actor_user_id: number | null;
}

const toEvent = (r: EventRow): LegalHoldEventRecord => ({
  eventId: r.event_id,
  eventUid: r.event_uid,
  eventType: r.event_type,
  eventAt: r.event_at,
  holdId: r.hold_id,
  holdUid: r.hold_uid,
  membershipId: r.membership_id,
  membershipUid: r.membership_uid,
  custodianUserId: r.custodian_user_id,
  actorUserId: r.actor_user_id,
});

const EVENT_FROM = `FROM legal_hold_events e JOIN legal_holds h ON h.hold_id = e.hold_id
  LEFT JOIN legal_hold_memberships m ON m.membership_id = e.membership_id
  LEFT JOIN users cu ON cu.user_id = h.creator_user_id LEFT JOIN orgs co ON co.org_id = cu.org_id`;
const EVENT_WHERE = [
  "WHERE",
  HOLD_SCOPE,
  "AND (@holdUid IS NULL OR h.hold_uid = @holdUid) AND (@minAt IS NULL OR e.event_at >= @minAt) AND (@maxAt IS NULL OR e.event_at <= @maxAt)",
].join(" ");
const EVENT_LIST_SQL = [
  "SELECT e.event_id, e.event_uid, e.event_type, e.event_at, e.hold_id, h.hold_uid, e.membership_id, m.membership_uid, e.custodian_user_id, e.actor_user_id",
  EVENT_FROM,
  EVENT_WHERE,
  "ORDER BY e.event_at, e.event_id LIMIT @limit OFFSET @offset",
].join("\n");
const EVENT_COUNT_SQL = ["SELECT count(*) AS n", EVENT_FROM, EVENT_WHERE].join("\n");

const optBool = (v: boolean | undefined): number | null => (v === undefined ? null : fromBool(v));

/** Legal-hold queries on one connection. */
export class SqliteLegalHoldQueries implements LegalHoldReads, LegalHoldWrites {
  constructor(private readonly q: SqlRunner) {}

  async listLegalHoldPolicies(): Promise<LegalHoldPolicyRecord[]> {
    return this.q.all<PolicyRow>(POLICY_LIST_SQL).map(toPolicy);
  }

  async getLegalHoldPolicy(policyUid: string): Promise<LegalHoldPolicyRecord | undefined> {
    const r = this.q.get<PolicyRow>(POLICY_ONE_SQL, policyUid);
    return r && toPolicy(r);
  }

  async getLegalHold(holdUid: string): Promise<LegalHoldRecord | undefined> {
    const r = this.q.get<HoldRow>(HOLD_ONE_SQL, holdUid);
    return r && toHold(r);
  }

  async listLegalHolds(f: LegalHoldFilter, page: Page): Promise<PageResult<LegalHoldRecord>> {
    const p = {
      ...scopeParams(f.scope),
      active: optBool(f.active),
      creatorUid: f.creatorUserUid ?? null,
      name: f.name === undefined ? null : likeSubstring(f.name),
      extRef: f.extRef ?? null,
    };
    const total = this.q.get<{ n: number }>(HOLD_COUNT_SQL, p)?.n ?? 0;
    return { total, items: this.q.all<HoldRow>(HOLD_LIST_SQL, { ...p, limit: page.limit, offset: page.offset }).map(toHold) };
  }

  async getMembership(membershipUid: string): Promise<LegalHoldMembershipRecord | undefined> {
    const r = this.q.get<MembershipRow>(MEMBERSHIP_ONE_SQL, membershipUid);
    return r && toMembership(r);
  }

  async getMembershipOf(holdId: number, userId: number): Promise<LegalHoldMembershipRecord | undefined> {
    const r = this.q.get<MembershipRow>(MEMBERSHIP_OF_SQL, holdId, userId);
    return r && toMembership(r);
  }

  async listMemberships(f: MembershipFilter, page: Page): Promise<PageResult<LegalHoldMembershipRecord>> {
    const p = {
      ...scopeParams(f.scope),
      active: optBool(f.active),
      membershipUid: f.membershipUid ?? null,
      holdUid: f.holdUid ?? null,
      userUid: f.userUid ?? null,
      user: f.user === undefined ? null : likeSubstring(f.user),
    };
    const total = this.q.get<{ n: number }>(MEMBERSHIP_COUNT_SQL, p)?.n ?? 0;
    return { total, items: this.q.all<MembershipRow>(MEMBERSHIP_LIST_SQL, { ...p, limit: page.limit, offset: page.offset }).map(toMembership) };
  }

  async listLegalHoldEvents(f: LegalHoldEventFilter, page: Page): Promise<PageResult<LegalHoldEventRecord>> {
    const p = { ...scopeParams(f.scope), holdUid: f.holdUid ?? null, minAt: f.minEventAt ?? null, maxAt: f.maxEventAt ?? null };
    const total = this.q.get<{ n: number }>(EVENT_COUNT_SQL, p)?.n ?? 0;
    return { total, items: this.q.all<EventRow>(EVENT_LIST_SQL, { ...p, limit: page.limit, offset: page.offset }).map(toEvent) };
  }

  async activeHoldsOf(userId: number): Promise<LegalHoldRecord[]> {
    return this.q.all<HoldRow>(HOLDS_OF_USER_SQL, userId).map(toHold);
  }

  async insertLegalHoldPolicy(p: Omit<LegalHoldPolicyRecord, "policyId" | "modifiedAt" | "creatorOrgPath">): Promise<LegalHoldPolicyRecord> {
    const r = this.q.run(
      "INSERT INTO legal_hold_policies (policy_uid, name, policy_json, creator_user_id, created_at, modified_at) VALUES (?, ?, ?, ?, ?, ?)",
      p.policyUid,
      p.name,
      JSON.stringify(p.policy),
      p.creatorUserId,
      p.createdAt,
      p.createdAt,
    );
    return (await this.getLegalHoldPolicy(p.policyUid)) ?? { ...p, policyId: r.lastInsertRowid, modifiedAt: p.createdAt, creatorOrgPath: null };
  }

  async insertLegalHold(h: Omit<LegalHoldRecord, "holdId" | "modifiedAt" | "policyUid" | "creatorOrgPath" | "active">): Promise<number> {
    return this.q.run(
      "INSERT INTO legal_holds (hold_uid, name, description, notes, ext_ref, policy_id, active, creator_user_id, created_at, modified_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?)",
      h.holdUid,
      h.name,
      h.description,
      h.notes,
      h.extRef,
      h.policyId,
      h.creatorUserId,
      h.createdAt,
      h.createdAt,
    ).lastInsertRowid;
  }

  async setLegalHoldActive(holdId: number, active: boolean, at: number): Promise<void> {
    this.q.run("UPDATE legal_holds SET active = ?, modified_at = ? WHERE hold_id = ?", fromBool(active), at, holdId);
  }

  async insertMembership(m: { membershipUid: string; holdId: number; userId: number; createdAt: number }): Promise<number> {
    return this.q.run(
      "INSERT INTO legal_hold_memberships (membership_uid, hold_id, user_id, active, created_at, modified_at) VALUES (?, ?, ?, 1, ?, ?)",
      m.membershipUid,
      m.holdId,
      m.userId,
      m.createdAt,
      m.createdAt,
    ).lastInsertRowid;
  }

  async setMembershipActive(membershipId: number, active: boolean, at: number): Promise<void> {
    this.q.run("UPDATE legal_hold_memberships SET active = ?, modified_at = ? WHERE membership_id = ?", fromBool(active), at, membershipId);
  }

  async insertLegalHoldEvent(e: Omit<LegalHoldEventRecord, "eventId" | "holdUid" | "membershipUid">): Promise<void> {
    this.q.run(
      "INSERT INTO legal_hold_events (event_uid, event_type, event_at, hold_id, membership_id, custodian_user_id, actor_user_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
      e.eventUid,
      e.eventType,
      e.eventAt,
      e.holdId,
      e.membershipId,
      e.custodianUserId,
      e.actorUserId,
    );
  }
}
