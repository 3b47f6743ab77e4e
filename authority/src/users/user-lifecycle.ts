/**
 * Block, deactivate, reactivate and move users, with the consequences API.md §3 and the source
 * document list: a block stops sign-in and restores but not backups; a deactivation makes the
 * user and their devices inactive and sends their archives to cold storage; a reactivation undoes
 * exactly that; a move takes the devices along and cold-stores archives on destinations the new
 * org does not offer. Each is one transaction with its audit entry, after every check passed.
 * Deactivation and reactivation then tell the storage nodes the archives' cold state
 * (`users-changed`: the placement sync pushes the user's placements after the response).
 */
import { CairnError } from "@cairn/protocol";
import { auditEntry } from "../audit/audit.js";
import { type Principal, requirePermission } from "../auth/access.js";
import { coldStore, coldStoreUnoffered, releaseOffered } from "../cold-storage/cold-storage.js";
import type { CoreDeps } from "../core.js";
import type { NewRevocation, User } from "../db/records.js";
import { crashPoint } from "../faults.js";
import { assertAcceptsMembers } from "../orgs/org-tree.js";
import type { UserService } from "./user-service.js";

const SYSADMIN_ROLE_ID = 1;

/** User lifecycle operations. */
export class UserLifecycle {
  constructor(
    private readonly d: CoreDeps,
    private readonly users: UserService,
  ) {}

  private async guardLastSysadmin(user: User): Promise<void> {
    const admins = await this.d.store.usersWithRole(SYSADMIN_ROLE_ID);
    if (!admins.includes(user.userId)) return;
    const others = (await Promise.all(admins.filter((id) => id !== user.userId).map((id) => this.d.store.getUser(id)))).filter((u) => u?.active && !u.blocked);
    if (others.length === 0) throw new CairnError("BAD_REQUEST", "This is the last active SYSADMIN; grant the role to another user first");
  }

  /** PUT (block) / DELETE (unblock) /api/UserBlock/{id}. */
  async setBlocked(p: Principal, userId: number, blocked: boolean): Promise<void> {
    const { user, org } = await this.users.byId(p, userId);
    await this.users.requireAdminister(p, "user.lifecycle", user, org);
    if (blocked && user.userId === p.userId) throw new CairnError("BAD_REQUEST", "You cannot block yourself");
    if (blocked) await this.guardLastSysadmin(user);
    if (user.blocked === blocked) return;
    const now = this.d.clock.now();
    const revocations: NewRevocation[] = blocked ? [{ kind: "user", guid: user.userUid, before: now, scope: "restore" }] : [];
    let lifted: NewRevocation[] = [];
    await this.d.store.transaction(async (tx) => {
      await tx.setUserBlocked(user.userId, blocked, now);
      if (blocked) {
        await tx.bumpAuthVersion(user.userId, now);
        await tx.revokeSessionsOf(user.userId, now);
        await tx.addRevocations(revocations, now);
      } else lifted = await tx.liftRestoreRevocations("user", user.userUid, now);
      await tx.appendAudit(auditEntry(p, now, blocked ? "user.block" : "user.unblock", { type: "user", id: user.userId, orgId: user.orgId }));
    });
    if (blocked) this.d.events.emit("revoked", { revocations, userIds: [user.userId], deviceIds: [] });
    else if (lifted.length > 0) this.d.events.emit("revocations-lifted", { revocations: lifted });
  }

  /** PUT /api/UserDeactivation/{id}: inactive, devices inactive, archives to cold storage. */
  async deactivate(p: Principal, userId: number, blockUser: boolean): Promise<void> {
    const { user, org } = await this.users.byId(p, userId);
    await this.users.requireAdminister(p, "user.lifecycle", user, org);
    if (user.userId === p.userId) throw new CairnError("BAD_REQUEST", "You cannot deactivate yourself");
    if (!user.active) {
      if (blockUser && !user.blocked) await this.setBlocked(p, userId, true);
      return;
    }
    if (await this.d.store.isOnActiveHold(user.userId))
      throw new CairnError("ACTIVE_LEGAL_HOLD", "ACTIVE_LEGAL_HOLD: the user is a custodian on an active legal hold");
    await this.guardLastSysadmin(user);
    const now = this.d.clock.now();
    const revocations: NewRevocation[] = [{ kind: "user", guid: user.userUid, before: now, scope: "all" }];
    const deviceIds = await this.d.store.transaction(async (tx) => {
      await tx.setUserActive(user.userId, false, null, now);
      crashPoint(this.d.faults, "user.deactivate.afterUser");
      if (blockUser) await tx.setUserBlocked(user.userId, true, now);
      const archives = await tx.liveArchivesOfUsers([user.userId]);
      const devices = await tx.deactivateDevicesOfUsers([user.userId], { userId: user.userId }, now);
      const cold = await coldStore(tx, this.d.settings, archives, "user", user.userId, now);
      await tx.revokeSessionsOf(user.userId, now);
      await tx.addRevocations(revocations, now);
      await tx.appendAudit(
        auditEntry(p, now, "user.deactivate", { type: "user", id: user.userId, orgId: user.orgId }, { devices: devices.length, coldArchives: cold, blockUser }),
      );
      return devices;
    });
    this.d.events.emit("revoked", { revocations, userIds: [user.userId], deviceIds });
    // the nodes learn the archives are cold (placement sync, after the response)
    this.d.events.emit("users-changed", { userIds: [user.userId] });
  }

  /** DELETE /api/UserDeactivation/{id}: undoes what the user's deactivation did. */
  async reactivate(p: Principal, userId: number, unblockUser: boolean): Promise<void> {
    const { user, org } = await this.users.byId(p, userId);
    await this.users.requireAdminister(p, "user.lifecycle", user, org);
    if (user.active) {
      if (unblockUser && user.blocked) await this.setBlocked(p, userId, false);
      return;
    }
    assertAcceptsMembers(org);
    const now = this.d.clock.now();
    await this.d.store.transaction(async (tx) => {
      await tx.setUserActive(user.userId, true, null, now);
      if (unblockUser) await tx.setUserBlocked(user.userId, false, now);
      const devices = await tx.reactivateDevicesDeactivatedBy({ userId: user.userId }, now);
      const released = await tx.releaseColdStorage("user", user.userId);
      await tx.appendAudit(
        auditEntry(
          p,
          now,
          "user.reactivate",
          { type: "user", id: user.userId, orgId: user.orgId },
          { devices: devices.length, releasedArchives: released, unblockUser },
        ),
      );
    });
    this.d.events.emit("users-changed", { userIds: [user.userId] });
  }

  /**
   * POST /api/UserMoveProcess: the user (and devices) move; archives on destinations the new org
   * does not offer go to cold storage. Moves may leave the new org over its maximum user
   * subscriptions: allowed, and reported in the audit entry and the log (DECISIONS.md).
   */
  async move(p: Principal, userId: number, parentOrgId: number): Promise<{ overSeats: boolean }> {
    const { user, org: from } = await this.users.byId(p, userId);
    await this.users.requireAdminister(p, "user.move", user, from);
    const to = await this.d.store.getOrg(parentOrgId);
    if (to === undefined) throw new CairnError("ORG_NOT_FOUND", "Organization was not found");
    requirePermission(p, "user.move", { kind: "org", orgId: to.orgId, path: to.path }, "organization");
    assertAcceptsMembers(to);
    if (to.orgId === from.orgId) return { overSeats: false };
    const now = this.d.clock.now();
    const overSeats = await this.d.store.transaction(async (tx) => {
      await tx.moveUser(user.userId, to.orgId, now);
      const archives = await tx.liveArchivesOfUsers([user.userId]);
      const cold = await coldStoreUnoffered(tx, this.d.settings, archives, user.userId, now);
      // and the archives a move away had sent to cold storage come back where the destination is offered
      const released = await releaseOffered(tx, this.d.settings, { userIds: [user.userId] });
      const settings = await this.d.settings.resolveOrg(to, tx);
      const seats = settings.values.quota.maxSeats;
      const used = (await tx.orgCounts([to.orgId])).get(to.orgId)?.licensedUserCount ?? 0;
      const over = seats >= 0 && used > seats;
      await tx.appendAudit(
        auditEntry(
          p,
          now,
          "user.move",
          { type: "user", id: user.userId, orgId: to.orgId },
          { fromOrgId: from.orgId, toOrgId: to.orgId, coldArchives: cold, releasedArchives: released, overSeats: over },
        ),
      );
      return over;
    });
    if (overSeats) this.d.log.warn({ userId: user.userId, orgId: to.orgId }, "user move left the organization over its maximum user subscriptions");
    this.d.events.emit("users-moved", { userIds: [user.userId], toOrgId: to.orgId });
    return { overSeats };
  }
}
