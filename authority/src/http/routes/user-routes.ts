/**
 * API.md §3: users (current, by id or uid, list, create, update), block, deactivation,
 * reactivation and moves.
 */
import { CairnError } from "@cairn/protocol";
import type { Principal } from "../../auth/access.js";
import type { AuthorityContext } from "../../context.js";
import type { Org, User } from "../../db/records.js";
import { userJson } from "../../users/user-view.js";
import { type ApiRouter, NO_CONTENT } from "../api-router.js";
import { USER_SORT_KEYS } from "../../db/store.js";
import { bodyObject, boolParam, guidValue, idType, numericId, optionalId, pageParams, pathGuid, pathId, queryValue, sortParams, textParam } from "../params.js";

const TAGS = ["users"];

/** User objects for records, with their orgs (and roles when asked), in one batch. */
export async function userObjects(ctx: AuthorityContext, users: readonly User[], withRoles: boolean): Promise<Record<string, unknown>[]> {
  const orgs = new Map<number, Org>((await ctx.store.getOrgs([...new Set(users.map((u) => u.orgId))])).map((o) => [o.orgId, o]));
  const roles = withRoles ? await ctx.store.rolesOf(users.map((u) => u.userId)) : undefined;
  return users.map((u) => userJson(u, orgs.get(u.orgId), roles?.get(u.userId)));
}

async function one(ctx: AuthorityContext, user: User, query: Record<string, unknown>): Promise<Record<string, unknown>> {
  return (await userObjects(ctx, [user], boolParam(query, "incRoles") === true))[0] as Record<string, unknown>;
}

async function byPath(ctx: AuthorityContext, p: Principal, id: string, query: Record<string, unknown>): Promise<User> {
  const t = idType(query);
  if (t === "uid") return (await ctx.users.byUid(p, pathGuid(id, "userUid"))).user;
  if (t === "id") return (await ctx.users.byId(p, pathId(id, "userId"))).user;
  throw new CairnError("BAD_REQUEST", "idType is id or uid");
}

/** An orgUid that is not a uid names no org: 400 "Organization was not found", which py42 matches (API.md §1.6). */
function orgUidOrMiss(v: string): string {
  try {
    return guidValue(v, "orgUid");
  } catch {
    throw new CairnError("ORG_NOT_FOUND", "Organization was not found");
  }
}

/** Registers the user routes. */
export function registerUserRoutes(api: ApiRouter, ctx: AuthorityContext): void {
  api.route({
    method: "GET",
    url: "/api/User/my",
    auth: "user",
    summary: "The signed-in user",
    tags: TAGS,
    handler: async ({ p, query }) => {
      if (p.userId === null) throw new CairnError("NOT_FOUND", "No such user");
      return one(ctx, (await ctx.users.byId(p, p.userId)).user, query);
    },
  });

  api.route({
    method: "GET",
    url: "/api/User/:id",
    auth: "user",
    summary: "A user by numeric id, or by uid with idType=uid",
    tags: TAGS,
    handler: async ({ p, params, query }) => one(ctx, await byPath(ctx, p, params.id ?? "", query), query),
  });

  api.route({
    method: "GET",
    url: "/api/User",
    auth: "user",
    summary: "Users the caller may see: filters active, email, orgUid (exactly that org), roleId, q, username; paged",
    tags: TAGS,
    handler: async ({ p, query }) => {
      const orgUid = queryValue(query, "orgUid");
      const active = boolParam(query, "active");
      const email = textParam(query, "email", 320);
      const roleId = optionalId(query, "roleId");
      const q = textParam(query, "q");
      const username = textParam(query, "username");
      const sort = sortParams(query, USER_SORT_KEYS);
      const page = await ctx.users.list(
        p,
        {
          ...(orgUid !== undefined && orgUid !== "" ? { orgUid: orgUidOrMiss(orgUid) } : {}),
          ...(active !== undefined ? { active } : {}),
          ...(email !== undefined ? { email } : {}),
          ...(roleId !== undefined ? { roleId } : {}),
          ...(q !== undefined ? { q } : {}),
          ...(username !== undefined ? { username } : {}),
          ...(sort ? { sort } : {}),
        },
        pageParams(query),
      );
      const users = await userObjects(ctx, page.items, boolParam(query, "incRoles") === true);
      if (boolParam(query, "incCounts") === true) {
        const counts = await ctx.store.deviceCountsOfUsers(page.items.map((u) => u.userId));
        users.forEach((u, i) => {
          u.computerCount = counts.get(page.items[i]?.userId ?? 0) ?? 0;
        });
      }
      return { totalCount: page.total, users };
    },
  });

  api.route({
    method: "POST",
    url: "/api/User",
    auth: "user",
    summary: "Create a user (null password: cannot sign in yet); new users get the org's default roles",
    tags: TAGS,
    handler: async ({ p, body }) => {
      const b = bodyObject(body);
      const user = await ctx.users.create(p, {
        orgUid: b.orgUid,
        username: b.username,
        email: b.email,
        password: b.password,
        firstName: b.firstName,
        lastName: b.lastName,
        notes: b.notes,
      });
      return one(ctx, user, {});
    },
  });

  api.route({
    method: "PUT",
    url: "/api/User/:id",
    auth: "user",
    summary: "Update a user (by uid with idType=uid); null fields stay unchanged",
    tags: TAGS,
    handler: async ({ p, params, query, body }) => {
      const target = await byPath(ctx, p, params.id ?? "", query);
      return one(ctx, await ctx.users.update(p, target.userUid, bodyObject(body)), query);
    },
  });

  for (const [method, blocked] of [
    ["PUT", true],
    ["DELETE", false],
  ] as const) {
    api.route({
      method,
      url: "/api/UserBlock/:id",
      auth: "user",
      summary: blocked ? "Block a user: no sign-in and no restores; backups continue" : "Unblock a user",
      tags: TAGS,
      handler: async ({ p, params }) => {
        await ctx.userLifecycle.setBlocked(p, pathId(params.id, "userId"), blocked);
        return NO_CONTENT;
      },
    });
  }

  api.route({
    method: "PUT",
    url: "/api/UserDeactivation/:id",
    auth: "user",
    summary: "Deactivate a user and their devices; archives go to cold storage",
    tags: TAGS,
    handler: async ({ p, params, body }) => {
      const b = bodyObject(body);
      await ctx.userLifecycle.deactivate(p, pathId(params.id, "userId"), b.blockUser === true || b.blockUser === "true");
      return NO_CONTENT;
    },
  });

  api.route({
    method: "DELETE",
    url: "/api/UserDeactivation/:id",
    auth: "user",
    summary: "Reactivate a user and the devices their deactivation deactivated (unblockUser=True also unblocks)",
    tags: TAGS,
    handler: async ({ p, params, query }) => {
      await ctx.userLifecycle.reactivate(p, pathId(params.id, "userId"), boolParam(query, "unblockUser") === true);
      return NO_CONTENT;
    },
  });

  api.route({
    method: "POST",
    url: "/api/UserMoveProcess",
    auth: "user",
    summary: "Move a user (and devices) to another org",
    tags: TAGS,
    description: "Moves may leave the new org over its maximum user subscriptions; the answer then carries X-Cairn-Over-Seats: true.",
    handler: async ({ p, body, reply }) => {
      const b = bodyObject(body);
      const r = await ctx.userLifecycle.move(p, numericId(b.userId, "userId"), numericId(b.parentOrgId, "parentOrgId"));
      if (r.overSeats) reply.header("x-cairn-over-seats", "true");
      return NO_CONTENT;
    },
  });
}
