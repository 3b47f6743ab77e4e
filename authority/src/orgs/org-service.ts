/**
 * Organizations as the caller may see and change them (API.md §4, the source document's
 * actions): create, look up, list, rename, block, deactivate, reactivate, change parent. Every
 * rule is checked before one transaction writes the change and its audit entry.
 */
import { CairnError, hashSecret, newGuid, newRegistrationKey, safeEqual } from "@cairn/protocol";
import { auditEntry } from "../audit/audit.js";
import { canSee, type Principal, requirePermission, scopeOf, type Target } from "../auth/access.js";
import { coldStore, coldStoreUnoffered, releaseOffered } from "../cold-storage/cold-storage.js";
import type { CoreDeps } from "../core.js";
import type { NewRevocation, Org } from "../db/records.js";
import type { Page, PageResult, SortOrder, StoreReader, StoreWriter } from "../db/store.js";
import { crashPoint } from "../faults.js";
import { strongerThan } from "../users/user-keys.js";
import { assertAcceptsMembers, assertCanBlock, assertCanDeactivate, assertCanMove, isInSubtree, validateOrgName } from "./org-tree.js";

/** The authorization target of an org. */
export function orgTarget(org: Pick<Org, "orgId" | "path">): Extract<Target, { kind: "org" }> {
  return { kind: "org", orgId: org.orgId, path: org.path };
}

/** Fields of POST /api/Org. */
export interface CreateOrgInput {
  orgName: unknown;
  orgExtRef?: unknown;
  notes?: unknown;
  parentOrgUid?: unknown;
}

/** Filters of GET /api/Org. */
export interface OrgListQuery {
  active?: boolean;
  q?: string;
  /** Only the direct children of this org (Cairn's filter for the console tree). */
  parentOrgId?: number;
  /** All-organization roles: list every org, not only the own subtree (Cairn's filter). */
  allOrgs?: boolean;
  /** Leave out this org and its descendants: the orgs it may move under (Cairn's filter). */
  excludeSubtreeOf?: number;
  sort?: SortOrder;
}

function optText(v: unknown, field: string, max = 4000): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== "string" || v.length > max) throw new CairnError("BAD_REQUEST", `${field} must be a string of at most ${max} characters`);
  return v;
}

/** Organization operations. */
export class OrgService {
  constructor(private readonly d: CoreDeps) {}

  /** An org, or NOT_FOUND when missing or invisible to `p`. */
  async visible(p: Principal, org: Org | undefined): Promise<Org> {
    if (org === undefined || !canSee(p, orgTarget(org))) throw new CairnError("NOT_FOUND", "No such organization");
    return org;
  }

  /** By numeric id. */
  async byId(p: Principal, orgId: number): Promise<Org> {
    return this.visible(p, await this.d.store.getOrg(orgId));
  }

  /** By uid. */
  async byUid(p: Principal, orgUid: string): Promise<Org> {
    return this.visible(p, await this.d.store.getOrgByUid(orgUid));
  }

  /** The caller's own org. */
  async mine(p: Principal): Promise<Org> {
    if (p.orgId === null) {
      const top = await this.d.store.getTopLevelOrg();
      if (top === undefined) throw new CairnError("NOT_FOUND", "No organization yet");
      return top;
    }
    return this.byId(p, p.orgId);
  }

  /**
   * The caller's org subtree (API.md §4: so the caller's own org comes first), or with
   * `allOrgs` every org an all-organization role may see; just its own org for a plain user.
   */
  async list(p: Principal, q: OrgListQuery, page: Page): Promise<PageResult<Org>> {
    const visible = scopeOf(p, "org.read");
    const scope = visible.kind === "all" && q.allOrgs !== true && p.orgPath !== null ? ({ kind: "subtree", path: p.orgPath } as const) : visible;
    const filter = {
      scope: scope.kind === "none" ? ({ kind: "org", orgId: p.orgId ?? -1 } as const) : scope,
      ...(q.active !== undefined ? { active: q.active } : {}),
      ...(q.q !== undefined ? { q: q.q } : {}),
      ...(q.sort !== undefined ? { sort: q.sort } : {}),
      ...(q.excludeSubtreeOf !== undefined ? { excludeSubtree: (await this.byId(p, q.excludeSubtreeOf)).path } : {}),
    };
    if (q.parentOrgId === undefined) return this.d.store.listOrgs(filter, page);
    // The direct children of a visible parent: every one the caller can see (canSee's scope,
    // not narrowed to their own subtree), filtered, sorted and paged by the query.
    const parent = await this.byId(p, q.parentOrgId);
    return this.d.store.listOrgs({ ...filter, scope: visible.kind === "none" ? { kind: "org", orgId: p.orgId ?? -1 } : visible, parentId: parent.orgId }, page);
  }

  /**
   * Maximum user subscriptions of an org and how many are used (users with an archive count,
   * DECISIONS.md): at the cap, new users cannot start backing up; moves may exceed it.
   */
  async seats(org: Org, reader: StoreReader = this.d.store): Promise<{ maxSeats: number; used: number; available: number | null }> {
    const maxSeats = (await this.d.settings.resolveOrg(org, reader)).values.quota.maxSeats;
    const used = (await reader.orgCounts([org.orgId])).get(org.orgId)?.licensedUserCount ?? 0;
    return { maxSeats, used, available: maxSeats < 0 ? null : Math.max(0, maxSeats - used) };
  }

  /**
   * The org a registration key belongs to, for device registration (T26): looked up by its
   * SHA-256, compared in constant time, and refused (REGISTRATION_KEY_INVALID, one answer for
   * every reason) when unknown, rotated away, or its org is deactivated or blocked.
   */
  async byRegistrationKey(key: unknown): Promise<Org> {
    const refuse = () => new CairnError("REGISTRATION_KEY_INVALID", "The registration key is unknown or revoked");
    if (typeof key !== "string" || key.length < 4 || key.length > 64) throw refuse();
    const normalized = key.trim().toUpperCase();
    const org = await this.d.store.getOrgByRegistrationKeyHash(hashSecret(normalized));
    if (org === undefined || !safeEqual(org.registrationKey, normalized)) throw refuse();
    const chain = await this.d.store.orgChainState(org.path);
    if (chain.blocked || chain.deactivated) throw refuse();
    return org;
  }

  /** Issues a new registration key for an org; the old one is refused from now on. */
  async rotateRegistrationKey(p: Principal, orgId: number): Promise<Org> {
    const org = await this.byId(p, orgId);
    requirePermission(p, "org.update", orgTarget(org), "organization");
    const now = this.d.clock.now();
    await this.d.store.transaction(async (tx) => {
      let key = newRegistrationKey();
      while ((await tx.getOrgByRegistrationKeyHash(hashSecret(key))) !== undefined) key = newRegistrationKey();
      await tx.setRegistrationKey(org.orgId, key, hashSecret(key), now);
      await tx.appendAudit(auditEntry(p, now, "org.registrationkey.rotate", { type: "org", id: org.orgId, orgId: org.orgId }));
    });
    return (await this.d.store.getOrg(org.orgId)) as Org;
  }

  /** Inserts an org with a unique registration key (inside `tx`). */
  async insert(tx: StoreWriter, input: { name: string; extRef: string | null; notes: string | null; parentId: number | null }, now: number): Promise<Org> {
    for (let attempt = 0; ; attempt++) {
      const registrationKey = newRegistrationKey();
      const registrationKeyHash = hashSecret(registrationKey);
      if ((await tx.getOrgByRegistrationKeyHash(registrationKeyHash)) !== undefined) {
        if (attempt > 5) throw new CairnError("INTERNAL", "cannot find a free registration key");
        continue;
      }
      return tx.insertOrg({
        orgUid: newGuid(),
        orgGuid: newGuid(),
        parentId: input.parentId,
        name: input.name,
        extRef: input.extRef,
        notes: input.notes,
        registrationKey,
        registrationKeyHash,
        createdAt: now,
      });
    }
  }

  /** POST /api/Org: a child of `parentOrgUid` (null: the caller's own org) inheriting every group. */
  async create(p: Principal, input: CreateOrgInput): Promise<Org> {
    const name = validateOrgName(input.orgName);
    const extRef = optText(input.orgExtRef, "orgExtRef", 500);
    const notes = optText(input.notes, "notes");
    let parent: Org | undefined;
    if (input.parentOrgUid === null || input.parentOrgUid === undefined) parent = await this.mine(p).catch(() => undefined);
    else if (typeof input.parentOrgUid === "string" || typeof input.parentOrgUid === "number")
      parent = await this.d.store.getOrgByUid(String(input.parentOrgUid));
    if (parent === undefined || !canSee(p, orgTarget(parent))) throw new CairnError("ORG_NOT_FOUND", "Organization was not found");
    requirePermission(p, "org.create", orgTarget(parent), "organization");
    assertAcceptsMembers(parent);
    const now = this.d.clock.now();
    const parentId = parent.orgId;
    return this.d.store.transaction(async (tx) => {
      const org = await this.insert(tx, { name, extRef, notes, parentId }, now);
      crashPoint(this.d.faults, "org.create.afterInsert");
      await tx.appendAudit(auditEntry(p, now, "org.create", { type: "org", id: org.orgId, orgId: org.orgId }, { name, parentOrgId: parentId }));
      return org;
    });
  }

  /** Name, external reference and notes (part of PUT /api/Org), inside `tx`. */
  async updateFields(
    tx: StoreWriter,
    p: Principal,
    org: Org,
    patch: { name?: string; extRef?: string | null; notes?: string | null },
    now: number,
  ): Promise<string[]> {
    const changed: string[] = [];
    if (patch.name !== undefined && patch.name !== org.name) changed.push("orgName");
    if (patch.extRef !== undefined && patch.extRef !== org.extRef) changed.push("orgExtRef");
    if (patch.notes !== undefined && patch.notes !== org.notes) changed.push("notes");
    if (changed.length === 0) return changed;
    requirePermission(p, "org.update", orgTarget(org), "organization");
    await tx.updateOrg(org.orgId, patch, now);
    return changed;
  }

  /** PUT (block) / DELETE (unblock) /api/OrgBlock/{id}; the block covers the subtree. */
  async setBlocked(p: Principal, orgId: number, blocked: boolean): Promise<void> {
    const org = await this.byId(p, orgId);
    requirePermission(p, "org.lifecycle", orgTarget(org), "organization");
    if (blocked) assertCanBlock(org);
    if (blocked && p.orgPath !== null && isInSubtree(p.orgPath, org.path)) throw new CairnError("BAD_REQUEST", "You cannot block your own organization");
    if (org.blocked === blocked) return;
    const now = this.d.clock.now();
    const revocations = blocked ? await this.userRevocations(org, now, "restore") : [];
    await this.d.store.transaction(async (tx) => {
      await tx.setOrgBlocked(org.orgId, blocked, now);
      await tx.addRevocations(revocations, now);
      await tx.appendAudit(auditEntry(p, now, blocked ? "org.block" : "org.unblock", { type: "org", id: org.orgId, orgId: org.orgId }));
    });
    if (blocked) this.d.events.emit("revoked", { revocations, userIds: [], deviceIds: [] });
  }

  private async userRevocations(org: Org, now: number, scope: "all" | "restore", reader: StoreReader = this.d.store): Promise<NewRevocation[]> {
    const users = await reader.listUsers({ scope: { kind: "subtree", path: org.path }, active: true }, { offset: 0, limit: 1_000_000 });
    return users.items.map((u) => ({ kind: "user", guid: u.userUid, before: now, scope }));
  }

  /** PUT /api/OrgDeactivation/{id}: the subtree, its users and devices; archives to cold storage. */
  async deactivate(p: Principal, orgId: number): Promise<void> {
    const org = await this.byId(p, orgId);
    requirePermission(p, "org.lifecycle", orgTarget(org), "organization");
    assertCanDeactivate(org);
    if (p.orgPath !== null && isInSubtree(p.orgPath, org.path)) throw new CairnError("BAD_REQUEST", "You cannot deactivate your own organization");
    if (!org.active) return;
    if (await this.d.store.subtreeHasActiveHold(org.path))
      throw new CairnError("ACTIVE_LEGAL_HOLD", "ACTIVE_LEGAL_HOLD: a user of this organization is on an active legal hold");
    const now = this.d.clock.now();
    const result = await this.d.store.transaction(async (tx) => {
      const revocations = await this.userRevocations(org, now, "all", tx);
      const orgIds = await tx.deactivateOrgs(org.path, org.orgId, now);
      crashPoint(this.d.faults, "org.deactivate.afterOrgs");
      const archives = await tx.liveArchivesOfOrgs(orgIds);
      const userIds = await tx.deactivateUsersOfOrgs(orgIds, org.orgId, now);
      const deviceIds = await tx.deactivateDevicesOfUsers(userIds, { orgId: org.orgId }, now);
      const cold = await coldStore(tx, this.d.settings, archives, "org", org.orgId, now);
      await tx.addRevocations(revocations, now);
      await tx.appendAudit(
        auditEntry(
          p,
          now,
          "org.deactivate",
          { type: "org", id: org.orgId, orgId: org.orgId },
          { orgs: orgIds.length, users: userIds.length, devices: deviceIds.length, coldArchives: cold },
        ),
      );
      return { revocations, userIds, deviceIds, owners: [...new Set(archives.map((a) => a.userId))] };
    });
    const { owners, ...revoked } = result;
    this.d.events.emit("revoked", revoked);
    // the nodes learn the archives are cold (placement sync, after the response)
    if (owners.length > 0) this.d.events.emit("users-changed", { userIds: owners });
  }

  /** DELETE /api/OrgDeactivation/{id}: undoes what that deactivation did (backups do not restart by themselves). */
  async reactivate(p: Principal, orgId: number): Promise<void> {
    const org = await this.byId(p, orgId);
    requirePermission(p, "org.lifecycle", orgTarget(org), "organization");
    if (org.active) return;
    if (org.deactivatedByOrgId !== null) throw new CairnError("ORG_DEACTIVATED", "This organization was deactivated with an ancestor; reactivate that one");
    const now = this.d.clock.now();
    const userIds = await this.d.store.transaction(async (tx) => {
      const orgIds = await tx.reactivateOrgs(org.orgId, now);
      const userIds = await tx.reactivateUsersDeactivatedBy(org.orgId, now);
      const deviceIds = await tx.reactivateDevicesDeactivatedBy({ orgId: org.orgId }, now);
      const released = await tx.releaseColdStorage("org", org.orgId);
      await tx.appendAudit(
        auditEntry(
          p,
          now,
          "org.reactivate",
          { type: "org", id: org.orgId, orgId: org.orgId },
          { orgs: orgIds.length, users: userIds.length, devices: deviceIds.length, releasedArchives: released },
        ),
      );
      return userIds;
    });
    // the released archives belong to the users this reactivation brought back: their nodes learn it
    if (userIds.length > 0) this.d.events.emit("users-changed", { userIds });
  }

  /** PUT /api/v1/orgs/{id}/parent: moves the org and its subtree under another active org. */
  async changeParent(p: Principal, orgId: number, newParentId: number): Promise<Org> {
    const org = await this.byId(p, orgId);
    requirePermission(p, "org.move", orgTarget(org), "organization");
    const parent = await this.d.store.getOrg(newParentId);
    if (parent === undefined || !canSee(p, orgTarget(parent))) throw new CairnError("ORG_NOT_FOUND", "Organization was not found");
    requirePermission(p, "org.create", orgTarget(parent), "organization");
    assertCanMove(org, parent);
    if (org.parentId === parent.orgId) return org;
    const now = this.d.clock.now();
    await this.d.store.transaction(async (tx) => {
      // T21: a move must not lower any moved org's (inherited) encryption key policy
      const policiesBefore = await this.d.settings.resolveMany(await tx.listSubtree(org.path), tx);
      await tx.moveOrg(org.orgId, parent, now);
      const moved = await tx.getOrg(org.orgId);
      const subtree = moved === undefined ? [] : await tx.listSubtree(moved.path);
      for (const [orgId, after] of await this.d.settings.resolveMany(subtree, tx)) {
        const before = policiesBefore.get(orgId)?.values.security.keyPolicy;
        if (before !== undefined && strongerThan(before, after.values.security.keyPolicy))
          throw new CairnError("KEY_POLICY_DOWNGRADE", "The move would lower an organization's encryption key policy; it can be raised, never lowered", {
            details: { orgId, from: before, to: after.values.security.keyPolicy },
          });
      }
      const cold = await coldStoreUnoffered(tx, this.d.settings, await tx.liveArchivesOfOrgs(subtree.map((o) => o.orgId)), org.orgId, now);
      const released = await releaseOffered(tx, this.d.settings, { orgIds: subtree.map((o) => o.orgId) });
      await tx.appendAudit(
        auditEntry(
          p,
          now,
          "org.move",
          { type: "org", id: org.orgId, orgId: org.orgId },
          { fromParentOrgId: org.parentId, toParentOrgId: parent.orgId, coldArchives: cold, releasedArchives: released },
        ),
      );
    });
    this.d.events.emit("settings-changed", { orgIds: [org.orgId] });
    return (await this.d.store.getOrg(org.orgId)) as Org;
  }
}
