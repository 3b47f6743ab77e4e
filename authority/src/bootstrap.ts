/**
 * The first transaction of a new authority: its GUID, the top-level organization (with its
 * registration key) and the primary administrator, the first account, holding SYSADMIN. The
 * first administrator is a report recipient by default (source document, "Reporting"): the
 * report service adds them to every report's recipients (`ReportService.recipientsOf`), so
 * nothing is written into the org's Additional recipients (`reporting.recipients`).
 */
import { randomUUID } from "node:crypto";
import { CairnError, newGuid } from "@cairn/protocol";
import { auditEntry } from "./audit/audit.js";
import { SYSTEM_PRINCIPAL } from "./auth/access.js";
import type { AuthorityContext } from "./context.js";
import type { Org, User } from "./db/records.js";
import { validateOrgName } from "./orgs/org-tree.js";
import { isEmail } from "./settings/parse.js";
import { validatePassword } from "./users/user-service.js";
import { usernameKey, validateUsername } from "./users/usernames.js";

/** Meta keys of the authority. */
export const META = {
  authorityGuid: "authority_guid",
  tenantUid: "tenant_uid",
  initializedAt: "initialized_at",
  primaryAdminUserId: "primary_admin_user_id",
} as const;

/** Inputs of {@link bootstrapAuthority}. */
export interface BootstrapInput {
  orgName: string;
  adminUsername: string;
  adminPassword: string;
  /** The administrator's email address; default: the username when it is an email address. */
  adminEmail?: string;
}

/** What {@link bootstrapAuthority} made. */
export interface BootstrapResult {
  org: Org;
  admin: User;
}

/** A fresh GUID for a new authority (stored before the context exists). */
export function newAuthorityGuid(): string {
  return newGuid();
}

/** Creates the top-level org and the primary administrator; refuses an initialized store. */
export async function bootstrapAuthority(ctx: AuthorityContext, input: BootstrapInput): Promise<BootstrapResult> {
  if ((await ctx.store.getTopLevelOrg()) !== undefined) throw new CairnError("CONFLICT", "This authority is already initialized");
  const name = validateOrgName(input.orgName);
  const username = validateUsername(input.adminUsername, false);
  const password = validatePassword(input.adminPassword);
  const email = input.adminEmail !== undefined ? input.adminEmail.trim() : isEmail(username) ? username : null;
  if (email !== null && !isEmail(email))
    throw new CairnError("BAD_REQUEST", `not an email address: ${email.slice(0, 100)}`, { details: { field: "adminEmail" } });
  const hash = await ctx.hasher.hash(password);
  const now = ctx.clock.now();
  return ctx.store.transaction(async (tx) => {
    await tx.setMeta(META.authorityGuid, ctx.authorityGuid);
    await tx.setMeta(META.tenantUid, randomUUID());
    await tx.setMeta(META.initializedAt, String(now));
    const org = await ctx.orgs.insert(tx, { name, extRef: null, notes: null, parentId: null }, now);
    const admin = await tx.insertUser({
      userUid: newGuid(),
      orgId: org.orgId,
      username,
      usernameKey: usernameKey(username),
      email,
      firstName: null,
      lastName: null,
      notes: null,
      quotaBytes: -1,
      createdAt: now,
    });
    await tx.setPasswordHash(admin.userId, hash, now);
    const roles = await tx.listRoles();
    for (const r of ["SYSADMIN", "Desktop User"]) {
      const id = roles.find((x) => x.name === r)?.roleId;
      if (id !== undefined) await tx.grantRole(admin.userId, id, null, now);
    }
    await ctx.users.createUserKey(tx, admin, "escrow", now);
    await tx.setMeta(META.primaryAdminUserId, String(admin.userId));
    await tx.appendAudit(auditEntry(SYSTEM_PRINCIPAL, now, "authority.init", { type: "org", id: org.orgId, orgId: org.orgId }, { adminUsername: username }));
    return { org, admin };
  });
}
