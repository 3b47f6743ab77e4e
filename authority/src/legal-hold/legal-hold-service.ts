/**
 * Legal hold (API.md §11): preservation policies, matters, custodians and the event report.
 * A user with an active membership in an active matter is on active hold: the user, device and
 * org deactivations refuse them with ACTIVE_LEGAL_HOLD (`isOnActiveHold`,
 * `subtreeHasActiveHold`). A matter belongs to its creator's org: `legalhold.read` over that org
 * lets one see it, `legalhold.write` change it; an unknown or invisible matter is FORBIDDEN
 * (py42's Py42LegalHoldNotFoundOrPermissionDeniedError). Every change is one transaction with
 * its audit entry and its event.
 *
 * Who is on active hold decides what storage keeps (storage/placements.ts: a custodian's
 * archives keep every version) and what cold storage may purge (none of theirs). So each change
 * of that (a custodian added or removed, a matter closed or reopened) emits `holds-changed` with
 * the users concerned, once committed: their agents get the legal-hold set, their archives'
 * placements reach the nodes (storage/placement-sync.ts).
 */
import { CairnError, newGuid } from "@cairn/protocol";
import { auditEntry } from "../audit/audit.js";
import { authorize, canSee, type Principal, scopeOf } from "../auth/access.js";
import type { CoreDeps } from "../core.js";
import type {
  LegalHoldEventRecord,
  LegalHoldEventType,
  LegalHoldMembershipRecord,
  LegalHoldPolicyRecord,
  LegalHoldRecord,
  MembershipFilter,
} from "../db/operations-store.js";
import type { User } from "../db/records.js";
import type { Page, PageResult, StoreWriter } from "../db/store.js";
import { isInSubtree } from "../orgs/org-tree.js";
import { userTarget } from "../users/user-service.js";

/** The preservation policy used when a policy is created with `policy: null`. */
export const DEFAULT_HOLD_POLICY: Readonly<Record<string, unknown>> = {
  /** Every version of every file, deleted files included, forever. */
  retention: { bands: [{ untilAgeMs: -1, spacingMs: 0 }], deletedRetentionMs: -1 },
  backupFrequencyMs: 900_000,
  /** What the hidden legal-hold backup set selects on each custodian's devices. */
  include: [],
  exclude: [],
  destinations: "all",
};

/** Inputs of a new matter. */
export interface NewMatter {
  name: string;
  holdPolicyUid: string;
  description: string | null;
  notes: string | null;
  holdExtRef: string | null;
}

/** List filters of matters. */
export interface MatterQuery {
  active?: boolean;
  creatorUserUid?: string;
  name?: string;
  holdExtRef?: string;
}

function text(v: unknown, name: string, max: number, required = false): string | null {
  if (v === undefined || v === null || v === "") {
    if (required) throw new CairnError("BAD_REQUEST", `${name} is required`, { details: { field: name } });
    return null;
  }
  if (typeof v !== "string" || v.length > max || v.includes("\0")) throw new CairnError("BAD_REQUEST", `${name} must be text of at most ${max} characters`);
  return v;
}

/** Legal-hold operations. */
export class LegalHoldService {
  constructor(private readonly d: CoreDeps) {}

  /** May `p` see this matter (its creator's org within `legalhold.read`)? */
  canSeeHold(p: Principal, h: LegalHoldRecord): boolean {
    const scope = scopeOf(p, "legalhold.read");
    if (scope.kind === "all") return true;
    return scope.kind === "subtree" && h.creatorOrgPath !== null && isInSubtree(h.creatorOrgPath, scope.path);
  }

  private assertWrite(p: Principal): void {
    if (p.orgId === null && p.kind !== "system") throw new CairnError("FORBIDDEN", "Not allowed: legalhold.write");
    const target = { kind: "org" as const, orgId: p.orgId ?? 0, path: p.orgPath ?? "/" };
    if (!authorize(p, "legalhold.write", target))
      throw new CairnError("FORBIDDEN", "Not allowed: legalhold.write", { details: { permission: "legalhold.write" } });
  }

  private assertWriteHold(p: Principal, h: LegalHoldRecord): void {
    if (!this.canSeeHold(p, h)) throw new CairnError("FORBIDDEN", "No such legal hold, or not allowed");
    const path = h.creatorOrgPath ?? "/";
    const orgId = Number(path.split("/").filter(Boolean).at(-1) ?? 0);
    if (!authorize(p, "legalhold.write", { kind: "org", orgId, path })) throw new CairnError("FORBIDDEN", "Not allowed: legalhold.write");
  }

  private async event(tx: StoreWriter, type: LegalHoldEventType, h: LegalHoldRecord, m: LegalHoldMembershipRecord | null, p: Principal, at: number) {
    await tx.insertLegalHoldEvent({
      eventUid: newGuid(),
      eventType: type,
      eventAt: at,
      holdId: h.holdId,
      membershipId: m?.membershipId ?? null,
      custodianUserId: m?.userId ?? null,
      actorUserId: p.userId,
    });
  }

  // ---------------------------------------------------------------- policies

  /** POST /api/v4/legal-hold-policy/create. */
  async createPolicy(p: Principal, body: Record<string, unknown>): Promise<LegalHoldPolicyRecord> {
    this.assertWrite(p);
    const name = text(body.name, "name", 200, true) as string;
    const policy = body.policy === undefined || body.policy === null ? { ...DEFAULT_HOLD_POLICY } : body.policy;
    if (typeof policy !== "object" || Array.isArray(policy)) throw new CairnError("BAD_REQUEST", "policy must be an object or null");
    if (JSON.stringify(policy).length > 64 * 1024) throw new CairnError("BAD_REQUEST", "policy is too large");
    const now = this.d.clock.now();
    return this.d.store.transaction(async (tx) => {
      const rec = await tx.insertLegalHoldPolicy({
        policyUid: newGuid(),
        name,
        policy: policy as Record<string, unknown>,
        creatorUserId: p.userId,
        createdAt: now,
      });
      await tx.appendAudit(auditEntry(p, now, "legalhold.policy.create", { type: "legal-hold-policy", id: rec.policyUid, orgId: p.orgId }, { name }));
      return rec;
    });
  }

  /**
   * Policies are scoped by their creator's org (T24: another branch's policy is invisible): a
   * caller with legalhold.read sees those made in its subtree and those made above it (a policy
   * flows down the tree, as settings do); a role over every org, and a policy the system made,
   * see and are seen everywhere.
   */
  canSeePolicy(p: Principal, rec: LegalHoldPolicyRecord): boolean {
    const scope = scopeOf(p, "legalhold.read");
    if (scope.kind === "all" || rec.creatorOrgPath === null) return scope.kind !== "none";
    return scope.kind === "subtree" && (isInSubtree(rec.creatorOrgPath, scope.path) || isInSubtree(scope.path, rec.creatorOrgPath));
  }

  /** The policies `p` may see. */
  async listPolicies(p: Principal): Promise<LegalHoldPolicyRecord[]> {
    if (scopeOf(p, "legalhold.read").kind === "none") throw new CairnError("FORBIDDEN", "Not allowed: legalhold.read");
    return (await this.d.store.listLegalHoldPolicies()).filter((r) => this.canSeePolicy(p, r));
  }

  /** One policy; NOT_FOUND when unknown or another org's. */
  async policy(p: Principal, policyUid: string): Promise<LegalHoldPolicyRecord> {
    if (scopeOf(p, "legalhold.read").kind === "none") throw new CairnError("FORBIDDEN", "Not allowed: legalhold.read");
    const rec = await this.d.store.getLegalHoldPolicy(policyUid);
    if (rec === undefined || !this.canSeePolicy(p, rec)) throw new CairnError("NOT_FOUND", "No such legal hold policy");
    return rec;
  }

  // ---------------------------------------------------------------- matters

  /** POST /api/LegalHold: a new active matter (HoldCreated). */
  async createMatter(p: Principal, input: NewMatter): Promise<LegalHoldRecord> {
    this.assertWrite(p);
    const name = text(input.name, "name", 200, true) as string;
    const policy = await this.d.store.getLegalHoldPolicy(input.holdPolicyUid);
    // another org's policy answers as an unknown one (T24)
    if (policy === undefined || !this.canSeePolicy(p, policy))
      throw new CairnError("BAD_REQUEST", "No such legal hold policy", { details: { field: "holdPolicyUid" } });
    const description = text(input.description, "description", 4000);
    const notes = text(input.notes, "notes", 4000);
    const extRef = text(input.holdExtRef, "holdExtRef", 200);
    const now = this.d.clock.now();
    const holdUid = newGuid();
    await this.d.store.transaction(async (tx) => {
      await tx.insertLegalHold({ holdUid, name, description, notes, extRef, policyId: policy.policyId, creatorUserId: p.userId, createdAt: now });
      const h = (await tx.getLegalHold(holdUid)) as LegalHoldRecord;
      await this.event(tx, "HoldCreated", h, null, p, now);
      await tx.appendAudit(auditEntry(p, now, "legalhold.create", { type: "legal-hold", id: holdUid, orgId: p.orgId }, { name }));
    });
    return (await this.d.store.getLegalHold(holdUid)) as LegalHoldRecord;
  }

  /** A matter `p` may see; FORBIDDEN for unknown and invisible ones alike. */
  async matter(p: Principal, holdUid: string): Promise<LegalHoldRecord> {
    const h = await this.d.store.getLegalHold(holdUid);
    if (h === undefined || !this.canSeeHold(p, h)) throw new CairnError("FORBIDDEN", "No such legal hold, or not allowed");
    return h;
  }

  /** GET /api/LegalHold. */
  async listMatters(p: Principal, q: MatterQuery, page: Page): Promise<PageResult<LegalHoldRecord>> {
    return this.d.store.listLegalHolds({ scope: scopeOf(p, "legalhold.read"), ...q, ...(q.holdExtRef !== undefined ? { extRef: q.holdExtRef } : {}) }, page);
  }

  /** Closes (false) or reopens (true) a matter. */
  async setMatterActive(p: Principal, holdUid: string, active: boolean): Promise<void> {
    const h = await this.matter(p, holdUid);
    this.assertWriteHold(p, h);
    if (h.active === active) return;
    const now = this.d.clock.now();
    await this.d.store.transaction(async (tx) => {
      await tx.setLegalHoldActive(h.holdId, active, now);
      await this.event(tx, active ? "HoldReactivated" : "HoldDeactivated", h, null, p, now);
      await tx.appendAudit(auditEntry(p, now, active ? "legalhold.reactivate" : "legalhold.deactivate", { type: "legal-hold", id: h.holdUid, orgId: p.orgId }));
    });
    const userIds = await this.activeCustodians(h);
    if (userIds.length > 0) this.d.events.emit("holds-changed", { userIds });
  }

  /** Users with an active membership in the matter (whether or not the matter is active). */
  private async activeCustodians(h: LegalHoldRecord): Promise<number[]> {
    const out: number[] = [];
    for (let offset = 0; ; offset += 1000) {
      const page = await this.d.store.listMemberships({ scope: { kind: "all" }, holdUid: h.holdUid, active: true }, { offset, limit: 1000 });
      out.push(...page.items.map((m) => m.userId));
      if (page.items.length < 1000) return out;
    }
  }

  // ---------------------------------------------------------------- custodians

  /**
   * POST /api/LegalHoldMembership: the user becomes a custodian (MembershipCreated), or their
   * deactivated membership comes back (MembershipReactivated). USER_ALREADY_IN_HOLD when active.
   */
  async addCustodian(p: Principal, holdUid: string, userUid: string): Promise<LegalHoldMembershipRecord> {
    const h = await this.d.store.getLegalHold(holdUid);
    // unknown and invisible matters alike (T24), as GET /api/LegalHold/{uid}
    if (h === undefined || !this.canSeeHold(p, h)) throw new CairnError("FORBIDDEN", "No such legal hold, or not allowed");
    this.assertWriteHold(p, h);
    if (!h.active) throw new CairnError("BAD_REQUEST", "The legal hold is closed", { details: { field: "legalHoldUid" } });
    const user = await this.d.store.getUserByUid(userUid);
    const org = user && (await this.d.store.getOrg(user.orgId));
    if (user === undefined || org === undefined || !canSee(p, userTarget(user, org))) throw new CairnError("NOT_FOUND", "No such user");
    if (!authorize(p, "legalhold.write", userTarget(user, org))) throw new CairnError("FORBIDDEN", "Not allowed: legalhold.write");
    const existing = await this.d.store.getMembershipOf(h.holdId, user.userId);
    if (existing?.active === true)
      throw new CairnError("USER_ALREADY_IN_HOLD", `USER_ALREADY_IN_HOLD: ${user.username} is already a custodian of ${h.name}`, {
        details: { legalHoldUid: h.holdUid },
      });
    const now = this.d.clock.now();
    const uid = existing?.membershipUid ?? newGuid();
    await this.d.store.transaction(async (tx) => {
      if (existing === undefined) await tx.insertMembership({ membershipUid: uid, holdId: h.holdId, userId: user.userId, createdAt: now });
      else await tx.setMembershipActive(existing.membershipId, true, now);
      const m = (await tx.getMembership(uid)) as LegalHoldMembershipRecord;
      await this.event(tx, existing === undefined ? "MembershipCreated" : "MembershipReactivated", h, m, p, now);
      await tx.appendAudit(
        auditEntry(p, now, "legalhold.custodian.add", { type: "user", id: user.userId, orgId: user.orgId }, { legalHoldUid: h.holdUid, membershipUid: uid }),
      );
    });
    this.d.events.emit("holds-changed", { userIds: [user.userId] });
    return (await this.d.store.getMembership(uid)) as LegalHoldMembershipRecord;
  }

  /** POST /api/LegalHoldMembershipDeactivation (MembershipDeactivated). */
  async removeCustodian(p: Principal, membershipUid: string): Promise<void> {
    const m = await this.d.store.getMembership(membershipUid);
    const h = m && (await this.d.store.getLegalHold(m.holdUid));
    if (m === undefined || h === undefined || !this.canSeeHold(p, h)) throw new CairnError("FORBIDDEN", "No such legal hold membership, or not allowed");
    this.assertWriteHold(p, h);
    if (!m.active) return;
    const user = (await this.d.store.getUser(m.userId)) as User;
    const now = this.d.clock.now();
    await this.d.store.transaction(async (tx) => {
      await tx.setMembershipActive(m.membershipId, false, now);
      await this.event(tx, "MembershipDeactivated", h, m, p, now);
      await tx.appendAudit(
        auditEntry(p, now, "legalhold.custodian.remove", { type: "user", id: m.userId, orgId: user.orgId }, { legalHoldUid: h.holdUid, membershipUid }),
      );
    });
    this.d.events.emit("holds-changed", { userIds: [user.userId] });
  }

  /** GET /api/LegalHoldMembership: at least one criterion (LEGAL_HOLD_CRITERIA_MISSING). */
  async listMemberships(p: Principal, f: Omit<MembershipFilter, "scope">, page: Page): Promise<PageResult<LegalHoldMembershipRecord>> {
    if (f.membershipUid === undefined && f.holdUid === undefined && f.userUid === undefined && f.user === undefined)
      throw new CairnError("LEGAL_HOLD_CRITERIA_MISSING", "At least one criteria must be specified");
    if (f.holdUid !== undefined) await this.matter(p, f.holdUid);
    return this.d.store.listMemberships({ ...f, scope: scopeOf(p, "legalhold.read") }, page);
  }

  /** GET /api/LegalHoldEventReport. */
  async events(p: Principal, f: { holdUid?: string; minEventAt?: number; maxEventAt?: number }, page: Page): Promise<PageResult<LegalHoldEventRecord>> {
    if (f.holdUid !== undefined) await this.matter(p, f.holdUid);
    return this.d.store.listLegalHoldEvents({ ...f, scope: scopeOf(p, "legalhold.read") }, page);
  }

  /** Records a `Restore` event on each active matter holding the restored archive's owner. */
  async recordRestore(tx: StoreWriter, p: Principal, custodianUserId: number, at: number): Promise<void> {
    for (const h of await tx.activeHoldsOf(custodianUserId)) {
      const m = await tx.getMembershipOf(h.holdId, custodianUserId);
      await this.event(tx, "Restore", h, m ?? null, p, at);
    }
  }
}
