/**
 * The user object of the platform API (API.md §3), built from records. Pure.
 */
import { isoTime } from "@cairn/protocol";
import type { Org, User } from "../db/records.js";
import { isEmail } from "../settings/parse.js";

/** The user object; `roles` only when asked for (incRoles). */
export function userJson(u: User, org: Org | undefined, roles?: readonly string[]): Record<string, unknown> {
  return {
    userId: u.userId,
    userUid: u.userUid,
    status: u.active ? "Active" : "Deactivated",
    username: u.username,
    email: u.email,
    firstName: u.firstName,
    lastName: u.lastName,
    quotaInBytes: u.quotaBytes,
    orgId: u.orgId,
    orgUid: org?.orgUid ?? null,
    orgName: org?.name ?? null,
    userExtRef: u.extRef,
    notes: u.notes,
    active: u.active,
    blocked: u.blocked,
    invited: u.invited,
    usernameIsAnEmail: isEmail(u.username),
    creationDate: isoTime(u.createdAt),
    modificationDate: isoTime(u.modifiedAt),
    lastLoginDate: u.lastLoginAt === null ? null : isoTime(u.lastLoginAt),
    ...(roles !== undefined ? { roles: [...roles] } : {}),
  };
}
