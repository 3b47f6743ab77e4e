/**
 * Role assignment (API.md §3): who holds which roles, and granting and removing them. Nobody
 * grants beyond their own rights (403, T25); granting an administrator role is audited and
 * flagged for the Customer Cloud Admins ("Administrator role assignment email").
 */
import { CairnError } from "@cairn/protocol";
import { auditEntry } from "../audit/audit.js";
import { assignableRoles, canGrantRole, type Principal } from "../auth/access.js";
import { type RoleSpec, roleSpec } from "../auth/roles.js";
import type { CoreDeps } from "../core.js";
import type { RoleRecord } from "../db/records.js";
import { crashPoint } from "../faults.js";
import { type UserService, userTarget } from "./user-service.js";

/** A role as the API lists it. */
export interface RoleView {
  roleId: string;
  roleName: string;
  permissions: string[];
}

/** Role queries and changes. */
export class UserRoles {
  constructor(
    private readonly d: CoreDeps,
    private readonly users: UserService,
  ) {}

  private async table(): Promise<RoleRecord[]> {
    return this.d.store.listRoles();
  }

  private view(records: RoleRecord[], spec: RoleSpec): RoleView {
    const id = records.find((r) => r.name === spec.name)?.roleId ?? 0;
    return { roleId: String(id), roleName: spec.name, permissions: [...spec.permissions] };
  }

  /** GET /api/role: the roles `p` may assign. */
  async assignable(p: Principal): Promise<RoleView[]> {
    const records = await this.table();
    return assignableRoles(p)
      .map((s) => this.view(records, s))
      .sort((a, b) => Number(a.roleId) - Number(b.roleId));
  }

  /** GET /api/UserRole/{userId}. */
  async of(p: Principal, userId: number): Promise<RoleView[]> {
    const { user } = await this.users.byId(p, userId);
    const records = await this.table();
    const names = (await this.d.store.rolesOf([user.userId])).get(user.userId) ?? [];
    return names
      .map((n) => roleSpec(n))
      .filter((s): s is RoleSpec => s !== undefined)
      .map((s) => this.view(records, s));
  }

  private async resolve(p: Principal, userId: number, roleName: unknown) {
    if (typeof roleName !== "string") throw new CairnError("ROLE_NOT_FOUND", "ROLE_NOT_FOUND: roleName is required");
    const { user, org } = await this.users.byId(p, userId);
    const spec = roleSpec(roleName);
    const rec = (await this.table()).find((r) => r.name === roleName);
    if (spec === undefined || rec === undefined) throw new CairnError("ROLE_NOT_FOUND", `ROLE_NOT_FOUND: no role is named ${roleName}`);
    const target = userTarget(user, org);
    await this.users.requireAdminister(p, "user.roles", user, org);
    if (!canGrantRole(p, spec, target)) throw new CairnError("FORBIDDEN", `You may not grant or remove ${roleName}`);
    return { user, spec, rec };
  }

  /** POST /api/UserRole: grants a role (granting one the user has succeeds). */
  async add(p: Principal, userId: number, roleName: unknown): Promise<RoleView[]> {
    const { user, spec, rec } = await this.resolve(p, userId, roleName);
    const has = ((await this.d.store.rolesOf([user.userId])).get(user.userId) ?? []).includes(spec.name);
    if (!has) {
      const now = this.d.clock.now();
      await this.d.store.transaction(async (tx) => {
        await tx.grantRole(user.userId, rec.roleId, p.userId, now);
        crashPoint(this.d.faults, "user.role.afterGrant");
        await tx.appendAudit(
          auditEntry(
            p,
            now,
            "user.role.grant",
            { type: "user", id: user.userId, orgId: user.orgId },
            { role: spec.name, ...(spec.admin ? { notify: "Customer Cloud Admin" } : {}) },
          ),
        );
      });
      if (spec.admin) this.d.log.info({ userId: user.userId, role: spec.name, byUserId: p.userId }, "administrator role granted");
    }
    return this.of(p, userId);
  }

  /** DELETE /api/UserRole: removes a role (removing one the user lacks succeeds). */
  async remove(p: Principal, userId: number, roleName: unknown): Promise<void> {
    const { user, spec, rec } = await this.resolve(p, userId, roleName);
    const has = ((await this.d.store.rolesOf([user.userId])).get(user.userId) ?? []).includes(spec.name);
    if (!has) return;
    if (spec.name === "SYSADMIN" && (await this.d.store.usersWithRole(rec.roleId)).length <= 1) {
      throw new CairnError("BAD_REQUEST", "The last SYSADMIN keeps the role");
    }
    const now = this.d.clock.now();
    await this.d.store.transaction(async (tx) => {
      await tx.revokeRole(user.userId, rec.roleId);
      await tx.appendAudit(auditEntry(p, now, "user.role.revoke", { type: "user", id: user.userId, orgId: user.orgId }, { role: spec.name }));
    });
  }
}
