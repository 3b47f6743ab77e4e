/**
 * API.md §2: the JWT call with Basic credentials and the optional `totp-auth` header, the login
 * configuration, `customer/my`; and Cairn's console session routes (`/api/v1/session`), two-factor
 * enrollment and API tokens.
 */
import { CairnError } from "@cairn/protocol";
import { appendAuditNow, auditEntry } from "../../audit/audit.js";
import { SESSION_COOKIE } from "../../auth/auth-service.js";
import { authorize, type Principal, scopeOf } from "../../auth/access.js";
import type { Permission } from "../../auth/roles.js";
import { META } from "../../bootstrap.js";
import type { AuthorityContext } from "../../context.js";
import { userJson } from "../../users/user-view.js";
import { type ApiCall, type ApiRouter, NO_CONTENT } from "../api-router.js";
import { bodyObject, pathId, textParam } from "../params.js";
import { assertSameOrigin, basicAuth } from "../request-auth.js";

const TAGS = ["authentication"];

/**
 * What the console may offer the signed-in user (its navigation and menus; every call is still
 * checked): `allOrgs` a role over every organization, `storage` the storage pages, `systemSettings`
 * Settings › Organization (the top-level org's offers), `audit` the audit log; `orgs`, `users`,
 * `devices`, `coldStorage`, `legalHold` the pages of those names (a role that reads them
 * somewhere), `orgUpdate` the organization edits (create, new key, reference).
 */
async function consoleAccess(ctx: AuthorityContext, p: Principal) {
  const top = await ctx.store.getTopLevelOrg();
  const some = (perm: Permission) => scopeOf(p, perm).kind !== "none";
  return {
    allOrgs: scopeOf(p, "org.read").kind === "all",
    orgs: some("org.read"),
    orgUpdate: some("org.update"),
    users: some("user.read"),
    devices: some("device.read"),
    coldStorage: some("coldstorage.read"),
    legalHold: some("legalhold.read"),
    storage: authorize(p, "storage.read", { kind: "system" }),
    systemSettings: top !== undefined && authorize(p, "org.settings", { kind: "org", orgId: top.orgId, path: top.path }),
    audit: scopeOf(p, "audit.read").kind !== "none",
  };
}

async function sessionInfo(ctx: AuthorityContext, call: ApiCall, csrfToken: string) {
  const user = call.p.userId === null ? undefined : await ctx.store.getUser(call.p.userId);
  const org = user === undefined ? undefined : await ctx.store.getOrg(user.orgId);
  if (user === undefined) throw new CairnError("UNAUTHORIZED", "The session has ended; sign in again");
  return { user: userJson(user, org, call.p.roles), csrfToken, enrollOnly: call.p.enrollOnly === true, access: await consoleAccess(ctx, call.p) };
}

/** Registers the authentication routes. */
export function registerAuthRoutes(api: ApiRouter, ctx: AuthorityContext): void {
  api.route({
    method: "GET",
    url: "/c42api/v3/auth/jwt",
    auth: "none",
    summary: "Exchange Basic credentials (and a TOTP code in totp-auth) for a JWT (about 1 h)",
    tags: TAGS,
    handler: async ({ req }) => {
      const basic = basicAuth(req);
      if (basic === undefined) throw new CairnError("INVALID_CREDENTIALS", "INVALID_CREDENTIALS: send Basic credentials");
      const totp = req.headers["totp-auth"];
      const { user } = await ctx.auth.signIn(basic.username, basic.password, typeof totp === "string" ? totp : null, req.ip, "jwt");
      return { v3_user_token: ctx.auth.issueJwt(user) };
    },
  });

  api.route({
    method: "GET",
    url: "/c42api/v3/LoginConfiguration",
    auth: "none",
    summary: "How a username signs in: LOCAL or LOCAL_2FA (unknown usernames: LOCAL_2FA)",
    tags: TAGS,
    handler: async ({ query }) => ({ loginType: await ctx.auth.loginType(textParam(query, "username", 200) ?? "") }),
  });

  api.route({
    method: "GET",
    url: "/c42api/v3/customer/my",
    auth: "user",
    summary: "This authority's tenant uid and name",
    tags: TAGS,
    handler: async () => {
      const top = await ctx.store.getTopLevelOrg();
      return { tenantUid: (await ctx.store.getMeta(META.tenantUid)) ?? null, name: top?.name ?? null };
    },
  });

  api.route({
    method: "POST",
    url: "/api/v1/session",
    auth: "none",
    summary: "Console sign-in: sets the HttpOnly session cookie and returns the CSRF token",
    tags: TAGS,
    handler: async ({ req, reply, body }) => {
      assertSameOrigin(req);
      const b = bodyObject(body);
      const { user, enrollOnly } = await ctx.auth.signIn(b.username, b.password, b.totp ?? null, req.ip, "session");
      const s = await ctx.auth.createSession(user, req.ip, enrollOnly);
      reply.setCookie(SESSION_COOKIE, s.cookie, { httpOnly: true, secure: true, sameSite: "strict", path: "/" });
      const p = await ctx.auth.principalFor(user, "session", req.ip, req.id, { enrollOnly });
      await appendAuditNow(
        ctx.store,
        auditEntry(p, ctx.clock.now(), "user.session.create", { type: "user", id: user.userId, orgId: user.orgId }, { enrollOnly }),
      );
      return sessionInfo(ctx, { req, reply, p, query: {}, params: {}, body }, s.csrfToken);
    },
  });

  api.route({
    method: "GET",
    url: "/api/v1/session",
    auth: "user",
    allowEnrollOnly: true,
    summary: "The signed-in user and the session's CSRF token",
    tags: TAGS,
    handler: async (call) => {
      const cookie = call.req.cookies[SESSION_COOKIE];
      if (call.p.via !== "session" || typeof cookie !== "string") throw new CairnError("UNAUTHORIZED", "No console session");
      return sessionInfo(ctx, call, ctx.auth.csrfFor(cookie));
    },
  });

  api.route({
    method: "DELETE",
    url: "/api/v1/session",
    auth: "user",
    allowEnrollOnly: true,
    summary: "Console sign-out: forgets the session and clears the cookie",
    tags: TAGS,
    handler: async ({ p, reply }) => {
      if (p.sessionHash !== undefined) await ctx.auth.endSession(p.sessionHash);
      await appendAuditNow(ctx.store, auditEntry(p, ctx.clock.now(), "user.session.end", { type: "user", id: p.userId, orgId: p.orgId }));
      reply.clearCookie(SESSION_COOKIE, { httpOnly: true, secure: true, sameSite: "strict", path: "/" });
      return NO_CONTENT;
    },
  });

  api.route({
    method: "POST",
    url: "/api/v1/totp",
    auth: "user",
    allowEnrollOnly: true,
    summary: "Start two-factor enrollment: a secret, its otpauth URI and a QR code",
    tags: TAGS,
    handler: async ({ p }) => ctx.totp.begin(p, (await ctx.store.getTopLevelOrg())?.name ?? "Cairn"),
  });

  api.route({
    method: "POST",
    url: "/api/v1/totp/verify",
    auth: "user",
    allowEnrollOnly: true,
    summary: "Finish two-factor enrollment with a code from the authenticator",
    tags: TAGS,
    handler: async ({ p, body }) => {
      await ctx.totp.confirm(p, bodyObject(body).code);
      return NO_CONTENT;
    },
  });

  api.route({
    method: "DELETE",
    url: "/api/v1/totp",
    auth: "user",
    summary: "Turn two-factor authentication off (needs the password and a fresh code)",
    tags: TAGS,
    handler: async ({ p, body }) => {
      const b = bodyObject(body);
      await ctx.totp.disable(p, b.password, b.code);
      return NO_CONTENT;
    },
  });

  api.route({
    method: "DELETE",
    url: "/api/v1/users/:userId/totp",
    auth: "user",
    summary: "Reset a user's two-factor enrollment (lost authenticator)",
    tags: TAGS,
    handler: async ({ p, params }) => {
      await ctx.totp.reset(p, pathId(params.userId, "userId"));
      return NO_CONTENT;
    },
  });

  api.route({
    method: "POST",
    url: "/api/v1/api-tokens",
    auth: "user",
    summary: "Create a long-lived API token for scripts (shown once)",
    tags: TAGS,
    handler: async ({ p, body }) => {
      const b = bodyObject(body);
      const name = typeof b.name === "string" && b.name.length >= 1 && b.name.length <= 100 ? b.name : undefined;
      if (name === undefined) throw new CairnError("BAD_REQUEST", "name is required (1 to 100 characters)");
      const days = b.expiresInDays === undefined || b.expiresInDays === null ? null : Number(b.expiresInDays);
      if (days !== null && (!Number.isSafeInteger(days) || days < 1 || days > 3650)) throw new CairnError("BAD_REQUEST", "expiresInDays is 1 to 3650");
      const expiresAt = days === null ? null : ctx.clock.now() + days * 86_400_000;
      const t = await ctx.auth.createApiToken(p, name, expiresAt);
      await appendAuditNow(
        ctx.store,
        auditEntry(p, ctx.clock.now(), "user.apitoken.create", { type: "user", id: p.userId, orgId: p.orgId }, { tokenId: t.tokenId, name }),
      );
      return { tokenId: t.tokenId, name, token: t.token, expiresAt };
    },
  });

  api.route({
    method: "GET",
    url: "/api/v1/api-tokens",
    auth: "user",
    summary: "The caller's API tokens (without the secrets)",
    tags: TAGS,
    handler: async ({ p }) => {
      const list = p.userId === null ? [] : await ctx.store.listApiTokens(p.userId);
      return {
        totalCount: list.length,
        apiTokens: list.map((t) => ({
          tokenId: t.tokenId,
          name: t.name,
          createdAt: t.createdAt,
          expiresAt: t.expiresAt,
          lastUsedAt: t.lastUsedAt,
          revoked: t.revokedAt !== null,
        })),
      };
    },
  });

  api.route({
    method: "DELETE",
    url: "/api/v1/api-tokens/:tokenId",
    auth: "user",
    summary: "Revoke one of the caller's API tokens",
    tags: TAGS,
    handler: async ({ p, params }) => {
      const id = pathId(params.tokenId, "tokenId");
      const mine = p.userId === null ? [] : await ctx.store.listApiTokens(p.userId);
      if (!mine.some((t) => t.tokenId === id)) throw new CairnError("NOT_FOUND", "No such API token");
      await ctx.store.transaction(async (tx) => {
        await tx.revokeApiToken(id, ctx.clock.now());
        await tx.appendAudit(auditEntry(p, ctx.clock.now(), "user.apitoken.revoke", { type: "user", id: p.userId, orgId: p.orgId }, { tokenId: id }));
      });
      return NO_CONTENT;
    },
  });
}
