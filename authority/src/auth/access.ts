/**
 * The one authorization function: {@link authorize} decides whether a principal may exercise a
 * permission on a target; every route, and every later WebSocket operation, asks it (through the
 * services). {@link canSee} decides visibility: a target the caller may not even read is reported
 * as NOT_FOUND, never as FORBIDDEN, so ids of other tenants reveal nothing (T24).
 */
import { CairnError } from "@cairn/protocol";
import type { OrgScope } from "../db/store.js";
import { isInSubtree } from "../orgs/org-tree.js";
import { expand, type Permission, ROLES, type RoleSpec, roleSpec, SELF_PERMISSIONS } from "./roles.js";

/** Who is asking. */
export interface Principal {
  kind: "user" | "system";
  userId: number | null;
  userUid: string | null;
  username: string | null;
  /** The principal's own org and its path (`/1/5/`). */
  orgId: number | null;
  orgPath: string | null;
  roles: readonly string[];
  /** How the caller authenticated. */
  via: "jwt" | "session" | "basic" | "api-token" | "system";
  /** Client address (for the audit log and TOTP reuse). */
  source: string | null;
  requestId: string | null;
  /** Console session (hash), when signed in through one. */
  sessionHash?: string;
  /** A session that may only enroll two-factor authentication. */
  enrollOnly?: boolean;
}

/** What a permission is exercised on. `path` is the org path of the target (its owner's org). */
export type Target =
  | { kind: "system" }
  | { kind: "org"; orgId: number; path: string }
  | { kind: "user"; userId: number; orgId: number; path: string }
  | { kind: "device"; deviceId: number; userId: number; orgId: number; path: string };

/** The principal of the authority itself (init, schedules). */
export const SYSTEM_PRINCIPAL: Principal = {
  kind: "system",
  userId: null,
  userUid: null,
  username: null,
  orgId: null,
  orgPath: null,
  roles: ["SYSADMIN"],
  via: "system",
  source: null,
  requestId: null,
};

function specs(p: Principal): RoleSpec[] {
  return p.roles.map((r) => roleSpec(r)).filter((s): s is RoleSpec => s !== undefined);
}

function grants(spec: RoleSpec, perm: Permission): boolean {
  return spec.permissions.some((q) => expand(q).includes(perm));
}

function isSelf(p: Principal, target: Target): boolean {
  if (p.userId === null) return false;
  if (target.kind === "user" || target.kind === "device") return target.userId === p.userId;
  return false;
}

/** May `p` exercise `perm` on `target` through one of its roles (self rules left out)? */
export function authorizeByRole(p: Principal, perm: Permission, target: Target): boolean {
  if (p.kind === "system") return true;
  for (const spec of specs(p)) {
    if (!grants(spec, perm)) continue;
    if (spec.scope === "all") return true;
    if (target.kind !== "system" && p.orgPath !== null && isInSubtree(target.path, p.orgPath)) return true;
  }
  return false;
}

/** May `p` exercise `perm` on `target`? */
export function authorize(p: Principal, perm: Permission, target: Target): boolean {
  if (authorizeByRole(p, perm, target)) return true;
  if (SELF_PERMISSIONS.some((q) => expand(q).includes(perm)) && isSelf(p, target)) return true;
  // everyone may read their own organization (API.md GET /api/Org/my)
  return perm === "org.read" && target.kind === "org" && target.orgId === p.orgId;
}

const READ_PERMISSION: Record<Target["kind"], Permission> = {
  system: "storage.read",
  org: "org.read",
  user: "user.read",
  device: "device.read",
};

/** May `p` know that `target` exists? */
export function canSee(p: Principal, target: Target): boolean {
  return authorize(p, READ_PERMISSION[target.kind], target);
}

/**
 * Throws unless `p` may exercise `perm` on `target`: NOT_FOUND when the target is invisible to
 * `p`, FORBIDDEN when it is visible but the permission is missing. The system (storage, the
 * deployment's own settings) is no tenant's secret: a caller without the right gets FORBIDDEN.
 */
export function requirePermission(p: Principal, perm: Permission, target: Target, what = "object"): void {
  if (target.kind !== "system" && !canSee(p, target)) throw new CairnError("NOT_FOUND", `No such ${what}`);
  if (!authorize(p, perm, target)) throw new CairnError("FORBIDDEN", `Not allowed: ${perm}`, { details: { permission: perm } });
}

/**
 * The orgs where `p` holds `perm` through a role, for list queries: every org, the principal's
 * subtree, or none (then only self rules apply, which the caller adds as an explicit filter).
 */
export function scopeOf(p: Principal, perm: Permission): OrgScope {
  if (p.kind === "system") return { kind: "all" };
  let subtree = false;
  for (const spec of specs(p)) {
    if (!grants(spec, perm)) continue;
    if (spec.scope === "all") return { kind: "all" };
    subtree = true;
  }
  return subtree && p.orgPath !== null ? { kind: "subtree", path: p.orgPath } : { kind: "none" };
}

/**
 * May `p` grant (or remove) `role` to a user at `target`? Requires `user.roles` over the user,
 * and every permission of the role at least at the role's scope: nobody hands out more than they
 * hold (T25). SYSADMIN is granted only by a SYSADMIN.
 */
export function canGrantRole(p: Principal, role: RoleSpec, target: Extract<Target, { kind: "user" }>): boolean {
  return authorize(p, "user.roles", target) && holdsRole(p, role, target);
}

/** Does `p` hold every permission of `role` at least at the role's scope, over a user at `target`? */
function holdsRole(p: Principal, role: RoleSpec, target: Extract<Target, { kind: "user" }>): boolean {
  if (p.kind === "system") return true;
  if (role.name === "SYSADMIN") return p.roles.includes("SYSADMIN");
  return role.permissions.every((perm) => (role.scope === "all" ? scopeOf(p, perm).kind === "all" : authorize(p, perm, target)));
}

/**
 * May `p` administer the account of a user at `target` who holds `targetRoles` (change its
 * password, email or name, block, deactivate or move it, reset its two-factor enrollment)? Only
 * when `p` holds at least every role of that user, as for granting them: an Org Admin who could
 * set a Cross Org Admin's password would sign in as one (T25). One's own account is always one's own.
 */
export function outranks(p: Principal, targetRoles: readonly string[], target: Extract<Target, { kind: "user" }>): boolean {
  if (p.kind === "system" || (p.userId !== null && p.userId === target.userId)) return true;
  return targetRoles.every((name) => {
    const role = roleSpec(name);
    return role === undefined || holdsRole(p, role, target);
  });
}

/** The roles `p` could grant to a user of its own org (GET /api/role). */
export function assignableRoles(p: Principal): RoleSpec[] {
  if (p.kind !== "system" && (p.orgId === null || p.orgPath === null || p.userId === null)) return [];
  const target: Extract<Target, { kind: "user" }> = { kind: "user", userId: -1, orgId: p.orgId ?? 0, path: p.orgPath ?? "/" };
  return Object.values(ROLES).filter((r) => canGrantRole(p, r, target));
}
