/**
 * The standard roles (API.md §3) as permissions with a scope. A role's permissions apply to the
 * holder's own organization and its subtree (`subtree`), or to every organization (`all`: the
 * SYSADMIN, Customer Cloud Admin, the Cross Org roles and Admin Restore, per the platform's
 * roles reference "Scope: All organizations"). Every user may also act on their own account,
 * devices and restores ({@link SELF_PERMISSIONS}).
 */

/** Everything an authorization decision can be about. */
export const PERMISSIONS = [
  "org.read",
  "org.create",
  "org.update",
  "org.settings",
  "org.quota",
  "org.security",
  "org.lifecycle",
  "org.move",
  "user.read",
  "user.create",
  "user.update",
  "user.lifecycle",
  "user.move",
  "user.roles",
  "device.read",
  "device.update",
  "device.lifecycle",
  "restore.all",
  "restore.limited",
  "restore.personal",
  "coldstorage.read",
  "coldstorage.write",
  "restorehistory.read",
  "legalhold.read",
  "legalhold.write",
  "storage.read",
  "storage.write",
  "audit.read",
] as const;

/** One permission. */
export type Permission = (typeof PERMISSIONS)[number];

/** Where a role's permissions apply. */
export type RoleScope = "all" | "subtree";

/** A role's definition. */
export interface RoleSpec {
  readonly name: string;
  readonly scope: RoleScope;
  readonly permissions: readonly Permission[];
  /** An administrator role: granting it is announced to the Customer Cloud Admins. */
  readonly admin: boolean;
  readonly doc: string;
}

/** What every signed-in user may do to their own account, devices and archives. */
export const SELF_PERMISSIONS: readonly Permission[] = ["user.read", "user.update", "device.read", "device.update", "restore.personal"];

/** Permissions that include others (a full restore right includes the limited one). */
export const IMPLIED: Partial<Record<Permission, readonly Permission[]>> = {
  "restore.all": ["restore.limited", "restore.personal"],
  "restore.limited": ["restore.personal"],
};

const ALL = PERMISSIONS;
const ORG_ADMIN: readonly Permission[] = [
  "org.read",
  "org.create",
  "org.update",
  "org.settings",
  "org.quota",
  "org.lifecycle",
  "org.move",
  "user.read",
  "user.create",
  "user.update",
  "user.lifecycle",
  "user.move",
  "user.roles",
  "device.read",
  "device.update",
  "device.lifecycle",
  "restore.all",
  "coldstorage.read",
  "coldstorage.write",
  "restorehistory.read",
  "storage.read",
  "audit.read",
];
const MANAGER: readonly Permission[] = [
  "org.read",
  "user.read",
  "user.create",
  "user.update",
  "user.lifecycle",
  "user.move",
  "device.read",
  "device.update",
  "device.lifecycle",
  "restore.all",
  "coldstorage.read",
  "restorehistory.read",
];
const LEGAL: readonly Permission[] = ["org.read", "user.read", "device.read", "legalhold.read", "legalhold.write", "restore.all", "restorehistory.read"];
const RESTORE: readonly Permission[] = ["org.read", "user.read", "device.read", "restore.all", "restorehistory.read"];
const RESTORE_LIMITED: readonly Permission[] = ["org.read", "user.read", "device.read", "restore.limited"];

/** Every standard role, by name (the names and ids of migration 0001). */
export const ROLES: Readonly<Record<string, RoleSpec>> = Object.fromEntries(
  (
    [
      ["SYSADMIN", "all", ALL, true, "The primary administrator (the first account): everything, everywhere"],
      ["Customer Cloud Admin", "all", ALL, true, "Everything in every organization, including security settings and storage"],
      ["Cross Org Admin", "all", ORG_ADMIN, true, "Organizations, users, devices, restores and cold storage in every organization"],
      ["Org Admin", "subtree", ORG_ADMIN, true, "Organizations, users, devices, restores and cold storage in the own organization and below"],
      ["Cross Org Manager", "all", MANAGER, true, "Users, devices and restores in every organization"],
      ["Org Manager", "subtree", MANAGER, true, "Users, devices and restores in the own organization and below"],
      ["Cross Org Legal Admin", "all", LEGAL, true, "Legal holds and restores in every organization"],
      ["Org Legal Admin", "subtree", LEGAL, true, "Legal holds and restores in the own organization and below"],
      ["Admin Restore", "all", RESTORE, true, "Restores (administrator web restore limit) of any device"],
      ["Admin Restore Limited", "subtree", RESTORE_LIMITED, true, "Restores within the web restore limit, own organization and below"],
      ["Desktop User", "subtree", [], false, "Back up and restore own devices"],
      ["PROe User", "subtree", [], false, "Back up and restore own devices (the platform's legacy name)"],
    ] as const
  ).map(([name, scope, permissions, admin, doc]) => [name, { name, scope, permissions, admin, doc } satisfies RoleSpec]),
);

/** The role spec for a name (case-sensitive, as the platform's names), or undefined. */
export function roleSpec(name: string): RoleSpec | undefined {
  return Object.hasOwn(ROLES, name) ? ROLES[name] : undefined;
}

/** A permission and what it implies. */
export function expand(p: Permission): Permission[] {
  return [p, ...(IMPLIED[p] ?? [])];
}
