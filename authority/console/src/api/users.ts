/** Users and roles: API.md §3. */
import { del, get, post, put } from "./client.js";
import type { Page, User } from "./types.js";

/** Filters and paging of the user list. */
export interface UserQuery {
  active: boolean;
  orgUid?: string | undefined;
  q?: string | undefined;
  pgNum: number;
  pgSize: number;
  srtKey?: string | undefined;
  srtDir?: "asc" | "desc" | undefined;
}

/** A page of users (`GET /api/User`). */
export async function listUsers(q: UserQuery, signal?: AbortSignal): Promise<Page<User>> {
  const r = await get<{ totalCount: number; users: User[] }>(
    "/api/User",
    { pgNum: q.pgNum, pgSize: q.pgSize, active: q.active, orgUid: q.orgUid, q: q.q, srtKey: q.srtKey, srtDir: q.srtDir, incRoles: true, incCounts: true },
    signal,
  );
  return { totalCount: r.totalCount, items: r.users };
}

/** One user with roles. */
export function getUser(userId: number, signal?: AbortSignal): Promise<User> {
  return get<User>(`/api/User/${userId}`, { incRoles: true }, signal);
}

/** What a new user needs. */
export interface NewUser {
  orgUid: string;
  username: string;
  email: string | null;
  password: string | null;
  firstName: string | null;
  lastName: string | null;
  notes: string | null;
}

/** Creates a user. */
export function createUser(u: NewUser): Promise<User> {
  return post<User>("/api/User", u);
}

/** Updates a user's fields (null: unchanged). */
export function updateUser(
  userUid: string,
  patch: {
    username?: string | null;
    email?: string | null;
    firstName?: string | null;
    lastName?: string | null;
    notes?: string | null;
    password?: string | null;
  },
): Promise<User> {
  return put<User>(`/api/User/${userUid}?idType=uid`, {
    username: null,
    email: null,
    password: null,
    firstName: null,
    lastName: null,
    notes: null,
    quotaInBytes: null,
    ...patch,
  });
}

/** Blocks or unblocks a user. */
export function setUserBlocked(userId: number, blocked: boolean): Promise<void> {
  return blocked ? put<void>(`/api/UserBlock/${userId}`) : del<void>(`/api/UserBlock/${userId}`);
}

/** Deactivates or reactivates a user. */
export function setUserActive(userId: number, active: boolean): Promise<void> {
  return active ? del<void>(`/api/UserDeactivation/${userId}`) : put<void>(`/api/UserDeactivation/${userId}`, { blockUser: null });
}

/** Moves a user (and their devices) to another org. */
export function moveUser(userId: number, parentOrgId: number): Promise<void> {
  return post<void>("/api/UserMoveProcess", { userId, parentOrgId });
}

/** A role (API.md §3). */
export interface Role {
  roleId: string;
  roleName: string;
}

/** Roles the caller may assign. */
export async function assignableRoles(signal?: AbortSignal): Promise<Role[]> {
  return (await get<Role[] | undefined>("/api/role", undefined, signal)) ?? [];
}

/** A user's roles. */
export async function userRoles(userId: number, signal?: AbortSignal): Promise<Role[]> {
  return (await get<Role[] | undefined>(`/api/UserRole/${userId}`, undefined, signal)) ?? [];
}

/** Grants a role. */
export function addRole(userId: number, roleName: string): Promise<unknown> {
  return post("/api/UserRole", { userId, roleName });
}

/** Revokes a role. */
export function removeRole(userId: number, roleName: string): Promise<void> {
  return del<void>("/api/UserRole", { query: { userId, roleName } });
}

/** Removes a user's two-factor enrollment (lost authenticator; Cairn route). */
export function resetTotp(userId: number): Promise<void> {
  return del<void>(`/api/v1/users/${userId}/totp`);
}
