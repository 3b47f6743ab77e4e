/**
 * SQL for users, their roles, credentials, TOTP enrollments and user keys.
 */
import type { NewUser, RoleRecord, TotpRecord, User, UserKeyRecord, UserPatch } from "../records.js";
import type { Page, PageResult, UserFilter, UserReads, UserWrites } from "../store.js";
import { fromBool, idList, likeSubstring, type SqlRunner, scopeParams, subtreeRange, toBool } from "./runner.js";

/** A `users` row as SQLite returns it. */
export interface UserRow {
  user_id: number;
  user_uid: string;
  org_id: number;
  username: string;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  notes: string | null;
  ext_ref: string | null;
  quota_bytes: number;
  active: number;
  blocked: number;
  invited: number;
  deactivated_by_org_id: number | null;
  auth_version: number;
  created_at: number;
  modified_at: number;
  deactivated_at: number | null;
  last_login_at: number | null;
}

/** A `users` row as a {@link User}. */
export function toUser(r: UserRow): User {
  return {
    userId: r.user_id,
    userUid: r.user_uid,
    orgId: r.org_id,
    username: r.username,
    email: r.email,
    firstName: r.first_name,
    lastName: r.last_name,
    notes: r.notes,
    extRef: r.ext_ref,
    quotaBytes: r.quota_bytes,
    active: toBool(r.active),
    blocked: toBool(r.blocked),
    invited: toBool(r.invited),
    deactivatedByOrgId: r.deactivated_by_org_id,
    authVersion: r.auth_version,
    createdAt: r.created_at,
    modifiedAt: r.modified_at,
    deactivatedAt: r.deactivated_at,
    lastLoginAt: r.last_login_at,
  };
}

/** User queries on one connection. */
export class SqliteUserQueries implements UserReads, UserWrites {
  constructor(private readonly q: SqlRunner) {}

  async getUser(userId: number): Promise<User | undefined> {
    const r = this.q.get<UserRow>("SELECT * FROM users WHERE user_id = ?", userId);
    return r && toUser(r);
  }

  async getUserByUid(userUid: string): Promise<User | undefined> {
    const r = this.q.get<UserRow>("SELECT * FROM users WHERE user_uid = ?", userUid);
    return r && toUser(r);
  }

  async getUserByUsernameKey(usernameKey: string): Promise<User | undefined> {
    const r = this.q.get<UserRow>("SELECT * FROM users WHERE username_key = ?", usernameKey);
    return r && toUser(r);
  }

  async listUsers(filter: UserFilter, page: Page): Promise<PageResult<User>> {
    const p = {
      ...scopeParams(filter.scope),
      userId: filter.userId ?? null,
      orgId: filter.orgId ?? null,
      active: filter.active === undefined ? null : fromBool(filter.active),
      usernameKey: filter.usernameKey ?? null,
      email: filter.email ?? null,
      roleId: filter.roleId ?? null,
      q: filter.q === undefined ? null : likeSubstring(filter.q),
    };
    const total = this.q.get<{ n: number }>(
      "SELECT count(*) AS n FROM users u JOIN orgs o ON o.org_id = u.org_id WHERE o.path >= @lo AND o.path < @hi AND (@scopeOrgId IS NULL OR u.org_id = @scopeOrgId) AND (@userId IS NULL OR u.user_id = @userId) AND (@orgId IS NULL OR u.org_id = @orgId) AND (@active IS NULL OR u.active = @active) AND (@usernameKey IS NULL OR u.username_key = @usernameKey) AND (@email IS NULL OR lower(u.email) = lower(@email)) AND (@roleId IS NULL OR EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.user_id AND r.role_id = @roleId)) AND (@q IS NULL OR lower(u.username) LIKE @q ESCAPE '\\' OR lower(coalesce(u.email, '')) LIKE @q ESCAPE '\\' OR lower(coalesce(u.first_name, '')) LIKE @q ESCAPE '\\' OR lower(coalesce(u.last_name, '')) LIKE @q ESCAPE '\\')",
      p,
    );
    const rows = this.q.all<UserRow>(
      "SELECT u.* FROM users u JOIN orgs o ON o.org_id = u.org_id WHERE o.path >= @lo AND o.path < @hi AND (@scopeOrgId IS NULL OR u.org_id = @scopeOrgId) AND (@userId IS NULL OR u.user_id = @userId) AND (@orgId IS NULL OR u.org_id = @orgId) AND (@active IS NULL OR u.active = @active) AND (@usernameKey IS NULL OR u.username_key = @usernameKey) AND (@email IS NULL OR lower(u.email) = lower(@email)) AND (@roleId IS NULL OR EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.user_id AND r.role_id = @roleId)) AND (@q IS NULL OR lower(u.username) LIKE @q ESCAPE '\\' OR lower(coalesce(u.email, '')) LIKE @q ESCAPE '\\' OR lower(coalesce(u.first_name, '')) LIKE @q ESCAPE '\\' OR lower(coalesce(u.last_name, '')) LIKE @q ESCAPE '\\') ORDER BY CASE WHEN @dir = 'asc' THEN CASE @sort WHEN 'username' THEN u.username_key WHEN 'email' THEN lower(coalesce(u.email, '')) WHEN 'lastName' THEN lower(coalesce(u.last_name, '')) WHEN 'status' THEN CASE u.active WHEN 1 THEN 'Active' ELSE 'Deactivated' END WHEN 'orgName' THEN lower(o.name) ELSE u.user_id END END ASC, CASE WHEN @dir = 'desc' THEN CASE @sort WHEN 'username' THEN u.username_key WHEN 'email' THEN lower(coalesce(u.email, '')) WHEN 'lastName' THEN lower(coalesce(u.last_name, '')) WHEN 'status' THEN CASE u.active WHEN 1 THEN 'Active' ELSE 'Deactivated' END WHEN 'orgName' THEN lower(o.name) ELSE u.user_id END END DESC, u.user_id ASC LIMIT @limit OFFSET @offset",
      { ...p, limit: page.limit, offset: page.offset, sort: filter.sort?.key ?? "userId", dir: filter.sort?.dir ?? "asc" },
    );
    return { total: total?.n ?? 0, items: rows.map(toUser) };
  }

  async listRoles(): Promise<RoleRecord[]> {
    return this.q.all<{ role_id: number; name: string }>("SELECT role_id, name FROM roles ORDER BY role_id").map((r) => ({ roleId: r.role_id, name: r.name }));
  }

  async rolesOf(userIds: readonly number[]): Promise<Map<number, string[]>> {
    const rows = this.q.all<{ user_id: number; name: string }>(
      "SELECT ur.user_id, r.name FROM json_each(?) j JOIN user_roles ur ON ur.user_id = j.value JOIN roles r ON r.role_id = ur.role_id ORDER BY ur.user_id, r.role_id",
      idList(userIds),
    );
    const out = new Map<number, string[]>();
    for (const id of userIds) out.set(id, []);
    for (const r of rows) out.get(r.user_id)?.push(r.name);
    return out;
  }

  async usersWithRole(roleId: number): Promise<number[]> {
    return this.q.all<{ user_id: number }>("SELECT user_id FROM user_roles WHERE role_id = ? ORDER BY user_id", roleId).map((r) => r.user_id);
  }

  async getPasswordHash(userId: number): Promise<string | null> {
    return this.q.get<{ password_hash: string | null }>("SELECT password_hash FROM user_credentials WHERE user_id = ?", userId)?.password_hash ?? null;
  }

  async getTotp(userId: number): Promise<TotpRecord | undefined> {
    const r = this.q.get<{ user_id: number; secret_sealed: Buffer; state: "pending" | "active"; created_at: number; activated_at: number | null }>(
      "SELECT user_id, secret_sealed, state, created_at, activated_at FROM user_totp WHERE user_id = ?",
      userId,
    );
    return r && { userId: r.user_id, secretSealed: r.secret_sealed, state: r.state, createdAt: r.created_at, activatedAt: r.activated_at };
  }

  async getTotpUse(userId: number, timeStep: number): Promise<{ source: string; uses: number } | undefined> {
    return this.q.get<{ source: string; uses: number }>("SELECT source, uses FROM totp_uses WHERE user_id = ? AND time_step = ?", userId, timeStep);
  }

  async getUserKey(userId: number): Promise<UserKeyRecord | undefined> {
    const r = this.q.get<{
      user_id: number;
      key_policy: UserKeyRecord["keyPolicy"];
      key_version: number;
      escrow_wrapped: Buffer | null;
      password_wrapped: Buffer | null;
    }>("SELECT user_id, key_policy, key_version, escrow_wrapped, password_wrapped FROM user_keys WHERE user_id = ?", userId);
    return r && { userId: r.user_id, keyPolicy: r.key_policy, keyVersion: r.key_version, escrowWrapped: r.escrow_wrapped, passwordWrapped: r.password_wrapped };
  }

  async isOnActiveHold(userId: number): Promise<boolean> {
    return (
      this.q.get(
        "SELECT 1 FROM legal_hold_memberships m JOIN legal_holds h ON h.hold_id = m.hold_id WHERE m.user_id = ? AND m.active = 1 AND h.active = 1 LIMIT 1",
        userId,
      ) !== undefined
    );
  }

  async usersOnActiveHold(userIds: readonly number[]): Promise<Set<number>> {
    if (userIds.length === 0) return new Set();
    const rows = this.q.all<{ user_id: number }>(
      "SELECT DISTINCT m.user_id FROM json_each(?) j JOIN legal_hold_memberships m ON m.user_id = j.value JOIN legal_holds h ON h.hold_id = m.hold_id WHERE m.active = 1 AND h.active = 1",
      idList(userIds),
    );
    return new Set(rows.map((r) => r.user_id));
  }

  async subtreeHasActiveHold(path: string): Promise<boolean> {
    const { lo, hi } = subtreeRange(path);
    return (
      this.q.get(
        "SELECT 1 FROM legal_hold_memberships m JOIN legal_holds h ON h.hold_id = m.hold_id JOIN users u ON u.user_id = m.user_id JOIN orgs o ON o.org_id = u.org_id WHERE o.path >= ? AND o.path < ? AND m.active = 1 AND h.active = 1 LIMIT 1",
        lo,
        hi,
      ) !== undefined
    );
  }

  async insertUser(u: NewUser): Promise<User> {
    const r = this.q.run(
      "INSERT INTO users (user_uid, org_id, username, username_key, email, first_name, last_name, notes, quota_bytes, created_at, modified_at) VALUES (@userUid, @orgId, @username, @usernameKey, @email, @firstName, @lastName, @notes, @quotaBytes, @createdAt, @createdAt)",
      { ...u },
    );
    this.q.run("INSERT INTO user_credentials (user_id, password_hash) VALUES (?, NULL)", r.lastInsertRowid);
    const created = await this.getUser(r.lastInsertRowid);
    if (created === undefined) throw new Error("inserted user vanished");
    return created;
  }

  async updateUser(userId: number, patch: UserPatch, at: number): Promise<void> {
    const has = (k: keyof UserPatch) => fromBool(patch[k] !== undefined);
    this.q.run(
      "UPDATE users SET username = CASE WHEN @setUsername THEN @username ELSE username END, username_key = CASE WHEN @setUsername THEN @usernameKey ELSE username_key END, email = CASE WHEN @setEmail THEN @email ELSE email END, first_name = CASE WHEN @setFirst THEN @firstName ELSE first_name END, last_name = CASE WHEN @setLast THEN @lastName ELSE last_name END, notes = CASE WHEN @setNotes THEN @notes ELSE notes END, quota_bytes = CASE WHEN @setQuota THEN @quotaBytes ELSE quota_bytes END, modified_at = @at WHERE user_id = @userId",
      {
        userId,
        at,
        setUsername: has("username"),
        username: patch.username ?? null,
        usernameKey: patch.usernameKey ?? null,
        setEmail: has("email"),
        email: patch.email ?? null,
        setFirst: has("firstName"),
        firstName: patch.firstName ?? null,
        setLast: has("lastName"),
        lastName: patch.lastName ?? null,
        setNotes: has("notes"),
        notes: patch.notes ?? null,
        setQuota: has("quotaBytes"),
        quotaBytes: patch.quotaBytes ?? null,
      },
    );
  }

  async setPasswordHash(userId: number, hash: string | null, at: number): Promise<void> {
    this.q.run(
      "INSERT INTO user_credentials (user_id, password_hash, password_changed_at) VALUES (@userId, @hash, @at) ON CONFLICT (user_id) DO UPDATE SET password_hash = @hash, password_changed_at = @at",
      { userId, hash, at },
    );
  }

  /** Every credential issued before dies: JWTs and sessions by the version, API tokens revoked (T28). */
  async bumpAuthVersion(userId: number, at: number): Promise<void> {
    this.q.run("UPDATE users SET auth_version = auth_version + 1, modified_at = ? WHERE user_id = ?", at, userId);
    this.q.run("UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL", at, userId);
  }

  async setUserBlocked(userId: number, blocked: boolean, at: number): Promise<void> {
    this.q.run("UPDATE users SET blocked = ?, modified_at = ? WHERE user_id = ?", fromBool(blocked), at, userId);
  }

  async setUserActive(userId: number, active: boolean, byOrgId: number | null, at: number): Promise<void> {
    this.q.run(
      "UPDATE users SET active = @active, deactivated_by_org_id = CASE WHEN @active = 1 THEN NULL ELSE @byOrgId END, deactivated_at = CASE WHEN @active = 1 THEN NULL ELSE @at END, auth_version = auth_version + (1 - @active), modified_at = @at WHERE user_id = @userId",
      { userId, active: fromBool(active), byOrgId, at },
    );
    if (!active) this.q.run("UPDATE api_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL", at, userId);
  }

  async deactivateUsersOfOrgs(orgIds: readonly number[], byOrgId: number, at: number): Promise<number[]> {
    const ids = this.q
      .all<{ user_id: number }>(
        "UPDATE users SET active = 0, deactivated_by_org_id = @byOrgId, deactivated_at = @at, auth_version = auth_version + 1, modified_at = @at WHERE active = 1 AND org_id IN (SELECT value FROM json_each(@ids)) RETURNING user_id",
        { ids: idList(orgIds), byOrgId, at },
      )
      .map((r) => r.user_id);
    if (ids.length > 0)
      this.q.run("UPDATE api_tokens SET revoked_at = @at WHERE revoked_at IS NULL AND user_id IN (SELECT value FROM json_each(@ids))", {
        at,
        ids: idList(ids),
      });
    return ids;
  }

  async reactivateUsersDeactivatedBy(byOrgId: number, at: number): Promise<number[]> {
    return this.q
      .all<{ user_id: number }>(
        "UPDATE users SET active = 1, deactivated_by_org_id = NULL, deactivated_at = NULL, modified_at = @at WHERE active = 0 AND deactivated_by_org_id = @byOrgId RETURNING user_id",
        { byOrgId, at },
      )
      .map((r) => r.user_id);
  }

  async moveUser(userId: number, orgId: number, at: number): Promise<void> {
    this.q.run("UPDATE users SET org_id = ?, modified_at = ? WHERE user_id = ?", orgId, at, userId);
  }

  async grantRole(userId: number, roleId: number, byUserId: number | null, at: number): Promise<void> {
    this.q.run(
      "INSERT INTO user_roles (user_id, role_id, granted_by_user_id, granted_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
      userId,
      roleId,
      byUserId,
      at,
    );
  }

  async revokeRole(userId: number, roleId: number): Promise<void> {
    this.q.run("DELETE FROM user_roles WHERE user_id = ? AND role_id = ?", userId, roleId);
  }

  async putUserKey(k: UserKeyRecord, at: number): Promise<void> {
    this.q.run(
      "INSERT INTO user_keys (user_id, key_policy, key_version, escrow_wrapped, password_wrapped, created_at, modified_at) VALUES (@userId, @keyPolicy, @keyVersion, @escrowWrapped, @passwordWrapped, @at, @at) ON CONFLICT (user_id) DO UPDATE SET key_policy = @keyPolicy, key_version = @keyVersion, escrow_wrapped = @escrowWrapped, password_wrapped = @passwordWrapped, modified_at = @at",
      { ...k, at },
    );
  }

  async putTotp(t: TotpRecord): Promise<void> {
    this.q.run(
      "INSERT INTO user_totp (user_id, secret_sealed, state, created_at, activated_at) VALUES (@userId, @secretSealed, @state, @createdAt, @activatedAt) ON CONFLICT (user_id) DO UPDATE SET secret_sealed = @secretSealed, state = @state, created_at = @createdAt, activated_at = @activatedAt",
      { ...t },
    );
  }

  async deleteTotp(userId: number): Promise<void> {
    this.q.run("DELETE FROM user_totp WHERE user_id = ?", userId);
  }

  async recordTotpUse(userId: number, timeStep: number, source: string, at: number): Promise<void> {
    this.q.run(
      "INSERT INTO totp_uses (user_id, time_step, source, uses, first_used_at) VALUES (?, ?, ?, 1, ?) ON CONFLICT (user_id, time_step) DO UPDATE SET uses = uses + 1",
      userId,
      timeStep,
      source,
      at,
    );
    // spent steps older than a few windows are useless: keep the table small
    this.q.run("DELETE FROM totp_uses WHERE user_id = ? AND time_step < ?", userId, timeStep - 10);
  }

  async touchLogin(userId: number, at: number): Promise<void> {
    this.q.run("UPDATE users SET last_login_at = ? WHERE user_id = ?", at, userId);
  }
}
