import { describe, expect, it } from "vitest";
import { assignableRoles, authorize, canGrantRole, canSee, type Principal, scopeOf, type Target } from "../src/auth/access.js";
import { type Permission, ROLES } from "../src/auth/roles.js";

// Orgs: root /1/, A /1/2/, A1 /1/2/3/, B /1/4/
const org = (orgId: number, path: string): Target => ({ kind: "org", orgId, path });
const A = org(2, "/1/2/");
const A1 = org(3, "/1/2/3/");
const B = org(4, "/1/4/");
const ROOT = org(1, "/1/");
const who = (roles: string[], orgId = 2, path = "/1/2/", userId = 100): Principal => ({
  kind: "user",
  userId,
  userUid: "900000000000000100",
  username: "u",
  orgId,
  orgPath: path,
  roles,
  via: "jwt",
  source: null,
  requestId: null,
});

interface Row {
  roles: string[];
  perm: Permission;
  target: Target;
  want: boolean;
}

const table: Row[] = [
  { roles: ["Org Admin"], perm: "org.update", target: A, want: true },
  { roles: ["Org Admin"], perm: "org.update", target: A1, want: true },
  { roles: ["Org Admin"], perm: "org.update", target: B, want: false },
  { roles: ["Org Admin"], perm: "org.read", target: ROOT, want: false },
  { roles: ["Org Admin"], perm: "org.security", target: A, want: false },
  { roles: ["Org Admin"], perm: "storage.write", target: { kind: "system" }, want: false },
  { roles: ["Cross Org Admin"], perm: "org.update", target: B, want: true },
  { roles: ["Cross Org Admin"], perm: "org.security", target: B, want: false },
  { roles: ["Customer Cloud Admin"], perm: "org.security", target: B, want: true },
  { roles: ["Customer Cloud Admin"], perm: "storage.write", target: { kind: "system" }, want: true },
  { roles: ["Org Manager"], perm: "user.update", target: { kind: "user", userId: 7, orgId: 3, path: "/1/2/3/" }, want: true },
  { roles: ["Org Manager"], perm: "org.update", target: A, want: false },
  { roles: ["Org Manager"], perm: "user.roles", target: { kind: "user", userId: 7, orgId: 2, path: "/1/2/" }, want: false },
  { roles: ["Admin Restore Limited"], perm: "restore.limited", target: { kind: "device", deviceId: 1, userId: 7, orgId: 3, path: "/1/2/3/" }, want: true },
  { roles: ["Admin Restore Limited"], perm: "restore.all", target: { kind: "device", deviceId: 1, userId: 7, orgId: 3, path: "/1/2/3/" }, want: false },
  { roles: ["Admin Restore Limited"], perm: "restore.limited", target: { kind: "device", deviceId: 1, userId: 7, orgId: 4, path: "/1/4/" }, want: false },
  { roles: ["Admin Restore"], perm: "restore.all", target: { kind: "device", deviceId: 1, userId: 7, orgId: 4, path: "/1/4/" }, want: true },
  { roles: ["Desktop User"], perm: "user.update", target: { kind: "user", userId: 100, orgId: 2, path: "/1/2/" }, want: true },
  { roles: ["Desktop User"], perm: "user.update", target: { kind: "user", userId: 101, orgId: 2, path: "/1/2/" }, want: false },
  { roles: ["Desktop User"], perm: "restore.personal", target: { kind: "device", deviceId: 1, userId: 100, orgId: 2, path: "/1/2/" }, want: true },
  { roles: ["Desktop User"], perm: "restore.limited", target: { kind: "device", deviceId: 1, userId: 100, orgId: 2, path: "/1/2/" }, want: false },
  { roles: ["Desktop User"], perm: "org.read", target: A, want: true },
  { roles: ["Desktop User"], perm: "org.read", target: A1, want: false },
  { roles: [], perm: "user.read", target: { kind: "user", userId: 100, orgId: 2, path: "/1/2/" }, want: true },
];

describe("authorize", () => {
  it.each(table)("$roles $perm on $target.kind $target.path → $want", ({ roles, perm, target, want }) => {
    expect(authorize(who(roles), perm, target)).toBe(want);
  });

  it("distinguishes invisible (404) from forbidden (403)", () => {
    const mgr = who(["Org Manager"]);
    expect(canSee(mgr, B)).toBe(false);
    expect(canSee(mgr, A)).toBe(true);
    expect(authorize(mgr, "org.update", A)).toBe(false);
  });

  it("scopes lists: all, subtree, or none", () => {
    expect(scopeOf(who(["Cross Org Manager"]), "user.read")).toEqual({ kind: "all" });
    expect(scopeOf(who(["Org Admin"]), "user.read")).toEqual({ kind: "subtree", path: "/1/2/" });
    expect(scopeOf(who(["Desktop User"]), "user.read")).toEqual({ kind: "none" });
  });
});

describe("role grants (T25)", () => {
  const inA = { kind: "user", userId: 7, orgId: 2, path: "/1/2/" } as const;
  const inB = { kind: "user", userId: 8, orgId: 4, path: "/1/4/" } as const;
  const orgAdmin = who(["Org Admin"]);

  it("an Org Admin cannot hand out all-org roles, not even to itself", () => {
    expect(canGrantRole(orgAdmin, ROLES["Cross Org Admin"]!, { ...inA, userId: 100 })).toBe(false);
    expect(canGrantRole(orgAdmin, ROLES["Customer Cloud Admin"]!, inA)).toBe(false);
    expect(canGrantRole(orgAdmin, ROLES.SYSADMIN!, inA)).toBe(false);
  });

  it("an Org Admin grants subtree roles within its subtree only", () => {
    expect(canGrantRole(orgAdmin, ROLES["Org Admin"]!, inA)).toBe(true);
    expect(canGrantRole(orgAdmin, ROLES["Org Manager"]!, inA)).toBe(true);
    expect(canGrantRole(orgAdmin, ROLES["Admin Restore Limited"]!, inA)).toBe(true);
    expect(canGrantRole(orgAdmin, ROLES["Org Manager"]!, inB)).toBe(false);
  });

  it("only a SYSADMIN grants SYSADMIN; a Customer Cloud Admin grants the rest", () => {
    const cca = who(["Customer Cloud Admin"]);
    expect(canGrantRole(cca, ROLES.SYSADMIN!, inB)).toBe(false);
    expect(canGrantRole(cca, ROLES["Cross Org Admin"]!, inB)).toBe(true);
    expect(canGrantRole(who(["SYSADMIN"]), ROLES.SYSADMIN!, inB)).toBe(true);
  });

  it("lists what a caller may assign", () => {
    expect(assignableRoles(who(["Desktop User"]))).toEqual([]);
    expect(assignableRoles(who(["Org Manager"]))).toEqual([]);
    const names = assignableRoles(orgAdmin).map((r) => r.name);
    expect(names).toContain("Org Admin");
    expect(names).not.toContain("Cross Org Admin");
  });
});
