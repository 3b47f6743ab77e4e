/**
 * API.md §3 roles: assignable roles, a user's roles, grant and remove. Role lists are bare
 * arrays when empty (§1.3).
 */
import type { AuthorityContext } from "../../context.js";
import { type ApiRouter, NO_CONTENT } from "../api-router.js";
import { bodyObject, numericId, pathId, queryValue } from "../params.js";

const TAGS = ["roles"];

/** Registers the role routes. */
export function registerRoleRoutes(api: ApiRouter, ctx: AuthorityContext): void {
  api.route({
    method: "GET",
    url: "/api/role",
    auth: "user",
    summary: "The roles the caller may assign",
    tags: TAGS,
    handler: async ({ p }) => ctx.roles.assignable(p),
  });

  api.route({
    method: "GET",
    url: "/api/UserRole/:userId",
    auth: "user",
    summary: "A user's roles",
    tags: TAGS,
    handler: async ({ p, params }) => ctx.roles.of(p, pathId(params.userId, "userId")),
  });

  api.route({
    method: "POST",
    url: "/api/UserRole",
    auth: "user",
    summary: "Grant a role by name (granting one the user has succeeds); answers the user's roles",
    tags: TAGS,
    handler: async ({ p, body }) => {
      const b = bodyObject(body);
      return ctx.roles.add(p, numericId(b.userId, "userId"), b.roleName);
    },
  });

  api.route({
    method: "DELETE",
    url: "/api/UserRole",
    auth: "user",
    summary: "Remove a role (?userId&roleName; removing one the user lacks succeeds)",
    tags: TAGS,
    handler: async ({ p, query }) => {
      await ctx.roles.remove(p, numericId(queryValue(query, "userId"), "userId"), queryValue(query, "roleName"));
      return NO_CONTENT;
    },
  });
}
