/**
 * Users: lookup and lists as the caller may see them, create and update (API.md §3). Lifecycle
 * (block, deactivate, move) is in `user-lifecycle.ts`, roles in `user-roles.ts`.
 */
import { isDeepStrictEqual } from "node:util";
import { CairnError, generateKey, newGuid, wrapContext, wrapKey } from "@cairn/protocol";
import { auditEntry } from "../audit/audit.js";
import { authorizeByRole, canSee, outranks, type Principal, requirePermission, scopeOf, type Target } from "../auth/access.js";
import { MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, type PasswordHasher } from "../auth/passwords.js";
import { type Permission, roleSpec } from "../auth/roles.js";
import type { CoreDeps } from "../core.js";
import type { Org, User, UserPatch } from "../db/records.js";
import type { Page, PageResult, SortOrder, StoreReader, StoreWriter } from "../db/store.js";
import { assertAcceptsMembers } from "../orgs/org-tree.js";
import { usernameKey, validateEmail, validateUsername } from "./usernames.js";

/** The authorization target of a user. */
export function userTarget(user: Pick<User, "userId" | "orgId">, org: Pick<Org, "path">): Extract<Target, { kind: "user" }> {
  return { kind: "user", userId: user.userId, orgId: user.orgId, path: org.path };
}

/** Fields of POST /api/User. */
export interface CreateUserInput {
  orgUid: unknown;
  username: unknown;
  email?: unknown;
  password?: unknown;
  firstName?: unknown;
  lastName?: unknown;
  notes?: unknown;
}

/** Filters of GET /api/User. */
export interface UserListQuery {
  active?: boolean;
  email?: string;
  orgUid?: string;
  roleId?: number;
  q?: string;
  username?: string;
  sort?: SortOrder;
}

/** Fields a caller may never change through PUT /api/User (403 when they try, T25). */
const FORBIDDEN_FIELDS: Record<string, (u: User, org: Org) => unknown> = {
  userId: (u) => u.userId,
  userUid: (u) => u.userUid,
  orgId: (u) => u.orgId,
  orgUid: (_u, o) => o.orgUid,
  status: (u) => (u.active ? "Active" : "Deactivated"),
  active: (u) => u.active,
  blocked: (u) => u.blocked,
  invited: (u) => u.invited,
  isAdmin: () => undefined,
  securityKeyType: () => undefined,
  keyPolicy: () => undefined,
};

/** Checks a new password; throws NEW_PASSWORD_INVALID. */
export function validatePassword(v: unknown): string {
  if (typeof v !== "string" || v.length < MIN_PASSWORD_CHARS || v.length > MAX_PASSWORD_CHARS) {
    throw new CairnError("NEW_PASSWORD_INVALID", `NEW_PASSWORD_INVALID: passwords have ${MIN_PASSWORD_CHARS} to ${MAX_PASSWORD_CHARS} characters`);
  }
  return v;
}

function optText(v: unknown, field: string, max = 4000): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== "string" || v.length > max) throw new CairnError("BAD_REQUEST", `${field} must be a string of at most ${max} characters`);
  return v;
}

/** Users as the caller may see and change them. */
export class UserService {
  constructor(
    private readonly d: CoreDeps,
    private readonly hasher: PasswordHasher,
  ) {}

  /** A user and its org, or NOT_FOUND when missing or invisible to `p`. */
  async visible(p: Principal, user: User | undefined, reader: StoreReader = this.d.store): Promise<{ user: User; org: Org }> {
    const org = user === undefined ? undefined : await reader.getOrg(user.orgId);
    if (user === undefined || org === undefined || !canSee(p, userTarget(user, org))) throw new CairnError("NOT_FOUND", "No such user");
    return { user, org };
  }

  /** By numeric id. */
  async byId(p: Principal, userId: number): Promise<{ user: User; org: Org }> {
    return this.visible(p, await this.d.store.getUser(userId));
  }

  /**
   * Throws unless `p` may exercise `perm` on the account of `user` (T25): the permission, and, for
   * another's account, every role the user holds is one `p` holds too (FORBIDDEN otherwise).
   */
  async requireAdminister(p: Principal, perm: Permission, user: User, org: Org): Promise<void> {
    const target = userTarget(user, org);
    requirePermission(p, perm, target, "user");
    const roles = (await this.d.store.rolesOf([user.userId])).get(user.userId) ?? [];
    if (!outranks(p, roles, target))
      throw new CairnError("FORBIDDEN", "You may not change a user who holds roles you do not hold", { details: { permission: perm } });
  }

  /** By uid. */
  async byUid(p: Principal, userUid: string): Promise<{ user: User; org: Org }> {
    return this.visible(p, await this.d.store.getUserByUid(userUid));
  }

  /** The users `p` may see, filtered and paged. An unknown (or invisible) `orgUid` is ORG_NOT_FOUND. */
  async list(p: Principal, q: UserListQuery, page: Page): Promise<PageResult<User>> {
    let orgId: number | undefined;
    if (q.orgUid !== undefined) {
      const org = await this.d.store.getOrgByUid(q.orgUid);
      if (org === undefined || !canSee(p, { kind: "org", orgId: org.orgId, path: org.path }))
        throw new CairnError("ORG_NOT_FOUND", "Organization was not found");
      orgId = org.orgId;
    }
    const scope = scopeOf(p, "user.read");
    const self = scope.kind === "none";
    return this.d.store.listUsers(
      {
        scope: self ? { kind: "all" } : scope,
        ...(self ? { userId: p.userId ?? -1 } : {}),
        ...(orgId !== undefined ? { orgId } : {}),
        ...(q.active !== undefined ? { active: q.active } : {}),
        ...(q.email !== undefined ? { email: q.email } : {}),
        ...(q.roleId !== undefined ? { roleId: q.roleId } : {}),
        ...(q.q !== undefined ? { q: q.q } : {}),
        ...(q.username !== undefined ? { usernameKey: usernameKey(q.username) } : {}),
        ...(q.sort !== undefined ? { sort: q.sort } : {}),
      },
      page,
    );
  }

  /**
   * Creates a user (API.md §3): validation first (py42 sends a failing request twice, so
   * nothing is created before an error), then one transaction with the default roles, the
   * user's key, and the audit entry.
   */
  async create(p: Principal, input: CreateUserInput): Promise<User> {
    if (typeof input.orgUid !== "string" && typeof input.orgUid !== "number") throw new CairnError("ORG_NOT_FOUND", "Organization was not found");
    const org = await this.d.store.getOrgByUid(String(input.orgUid));
    if (org === undefined || !canSee(p, { kind: "org", orgId: org.orgId, path: org.path })) throw new CairnError("ORG_NOT_FOUND", "Organization was not found");
    requirePermission(p, "user.create", { kind: "org", orgId: org.orgId, path: org.path }, "organization");
    assertAcceptsMembers(org);
    const settings = await this.d.settings.resolveOrg(org);
    const username = validateUsername(input.username, settings.values.general.usernameIsAnEmail);
    const email = validateEmail(input.email);
    const password = input.password === null || input.password === undefined ? null : validatePassword(input.password);
    const firstName = optText(input.firstName, "firstName", 200);
    const lastName = optText(input.lastName, "lastName", 200);
    const notes = optText(input.notes, "notes");
    const key = usernameKey(username);
    if ((await this.d.store.getUserByUsernameKey(key)) !== undefined)
      throw new CairnError("USER_DUPLICATE", "USER_DUPLICATE: a user with that username already exists");
    const hash = password === null ? null : await this.hasher.hash(password);
    const now = this.d.clock.now();
    const roles = settings.values.general.defaultRoles.map((r) => roleSpec(r)).filter((r) => r !== undefined);
    return this.d.store.transaction(async (tx) => {
      if ((await tx.getUserByUsernameKey(key)) !== undefined)
        throw new CairnError("USER_DUPLICATE", "USER_DUPLICATE: a user with that username already exists");
      const user = await tx.insertUser({
        userUid: newGuid(),
        orgId: org.orgId,
        username,
        usernameKey: key,
        email,
        firstName,
        lastName,
        notes,
        quotaBytes: -1,
        createdAt: now,
      });
      if (hash !== null) await tx.setPasswordHash(user.userId, hash, now);
      const allRoles = await tx.listRoles();
      for (const r of roles) {
        const id = allRoles.find((x) => x.name === r.name)?.roleId;
        if (id !== undefined) await tx.grantRole(user.userId, id, p.userId, now);
      }
      await this.createUserKey(tx, user, settings.values.security.keyPolicy, now);
      await tx.appendAudit(
        auditEntry(p, now, "user.create", { type: "user", id: user.userId, orgId: org.orgId }, { username, roles: roles.map((r) => r.name) }),
      );
      return user;
    });
  }

  /**
   * One encryption key per user: under the escrow policy the authority makes it and keeps it
   * wrapped by its KEK; under password or custom policies the first device makes it.
   */
  async createUserKey(tx: StoreWriter, user: User, policy: "escrow" | "password" | "custom", now: number): Promise<void> {
    const escrowWrapped = policy === "escrow" ? wrapKey(this.d.keys.escrowKek, generateKey(), wrapContext.userKey(user.userUid, 1)) : null;
    await tx.putUserKey({ userId: user.userId, keyPolicy: policy, keyVersion: 1, escrowWrapped, passwordWrapped: null }, now);
  }

  /**
   * PUT /api/User/{uid}: null or absent fields stay unchanged; a field the caller may not change
   * (roles, org, status, key policy, or another's quota) is refused with 403 when its value differs.
   */
  async update(p: Principal, userUid: string, body: Record<string, unknown>): Promise<User> {
    const { user, org } = await this.byUid(p, userUid);
    const target = userTarget(user, org);
    await this.requireAdminister(p, "user.update", user, org);
    if (body.roles !== undefined && body.roles !== null) {
      const have = ((await this.d.store.rolesOf([user.userId])).get(user.userId) ?? []).slice().sort();
      const sent = Array.isArray(body.roles) ? body.roles.map(String).sort() : null;
      if (!isDeepStrictEqual(sent, have)) throw new CairnError("FORBIDDEN", "roles are changed through /api/UserRole", { details: { field: "roles" } });
    }
    for (const [field, current] of Object.entries(FORBIDDEN_FIELDS)) {
      const v = body[field];
      if (v === undefined || v === null) continue;
      const now = current(user, org);
      if (now === undefined || !isDeepStrictEqual(typeof now === "number" ? Number(v) : v, now)) {
        throw new CairnError("FORBIDDEN", `${field} cannot be changed here`, { details: { field } });
      }
    }
    const patch: UserPatch = {};
    const settings = await this.d.settings.resolveOrg(org);
    if (body.username !== undefined && body.username !== null) {
      const username = validateUsername(body.username, settings.values.general.usernameIsAnEmail);
      if (username !== user.username) {
        const clash = await this.d.store.getUserByUsernameKey(usernameKey(username));
        if (clash !== undefined && clash.userId !== user.userId)
          throw new CairnError("USER_DUPLICATE", "USER_DUPLICATE: a user with that username already exists");
        patch.username = username;
        patch.usernameKey = usernameKey(username);
      }
    }
    if (body.email !== undefined && body.email !== null) patch.email = validateEmail(body.email);
    if (body.firstName !== undefined && body.firstName !== null) patch.firstName = optText(body.firstName, "firstName", 200);
    if (body.lastName !== undefined && body.lastName !== null) patch.lastName = optText(body.lastName, "lastName", 200);
    if (body.notes !== undefined && body.notes !== null) patch.notes = optText(body.notes, "notes");
    if (body.quotaInBytes !== undefined && body.quotaInBytes !== null) {
      const q = Number(body.quotaInBytes);
      if (!Number.isSafeInteger(q) || q < -1) throw new CairnError("BAD_REQUEST", "quotaInBytes must be an integer of at least -1");
      if (q !== user.quotaBytes) {
        if (!authorizeByRole(p, "user.update", target))
          throw new CairnError("FORBIDDEN", "quotaInBytes is changed by administrators", { details: { field: "quotaInBytes" } });
        patch.quotaBytes = q;
      }
    }
    const password = body.password === undefined || body.password === null ? null : validatePassword(body.password);
    const hash = password === null ? null : await this.hasher.hash(password);
    const now = this.d.clock.now();
    await this.d.store.transaction(async (tx) => {
      if (patch.usernameKey !== undefined) {
        const clash = await tx.getUserByUsernameKey(patch.usernameKey);
        if (clash !== undefined && clash.userId !== user.userId)
          throw new CairnError("USER_DUPLICATE", "USER_DUPLICATE: a user with that username already exists");
      }
      await tx.updateUser(user.userId, patch, now);
      if (hash !== null) {
        await tx.setPasswordHash(user.userId, hash, now);
        // every token and session issued before the change dies (T28)
        await tx.bumpAuthVersion(user.userId, now);
        await tx.revokeSessionsOf(user.userId, now);
      }
      const changed = [...Object.keys(patch).filter((k) => k !== "usernameKey"), ...(hash !== null ? ["password"] : [])];
      await tx.appendAudit(auditEntry(p, now, "user.update", { type: "user", id: user.userId, orgId: user.orgId }, { changed }));
    });
    if (patch.quotaBytes !== undefined) this.d.events.emit("users-changed", { userIds: [user.userId] });
    return (await this.d.store.getUser(user.userId)) as User;
  }
}
