/**
 * Cairn's audit log route: the entries of orgs the caller may audit (entries without an org only
 * for all-organization auditors), oldest first (`srtDir=desc`: newest first), paged like every list.
 */
import { CairnError, isoTime } from "@cairn/protocol";
import { canSee, scopeOf } from "../../auth/access.js";
import type { AuthorityContext } from "../../context.js";
import type { OrgScope } from "../../db/store.js";
import { isInSubtree } from "../../orgs/org-tree.js";
import type { ApiRouter } from "../api-router.js";
import { optionalId, pageParams, queryValue, textParam } from "../params.js";

function timeParam(q: Record<string, unknown>, name: string): number | undefined {
  const v = queryValue(q, name);
  if (v === undefined || v === "") return undefined;
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(t)) throw new CairnError("BAD_REQUEST", `${name} is an ISO time or epoch ms`);
  return t;
}

/** Registers the audit routes. */
export function registerAuditRoutes(api: ApiRouter, ctx: AuthorityContext): void {
  api.route({
    method: "GET",
    url: "/api/v1/audit-log",
    auth: "user",
    summary: "Audit entries (filters orgId with its subtree, action, targetType, targetId, since, until), oldest first or srtDir=desc for newest first; paged",
    tags: ["audit"],
    handler: async ({ p, query }) => {
      let scope: OrgScope = scopeOf(p, "audit.read");
      if (scope.kind === "none") throw new CairnError("FORBIDDEN", "Not allowed: audit.read");
      const orgId = optionalId(query, "orgId");
      if (orgId !== undefined) {
        const org = await ctx.store.getOrg(orgId);
        if (org === undefined || !canSee(p, { kind: "org", orgId: org.orgId, path: org.path })) throw new CairnError("NOT_FOUND", "No such organization");
        if (scope.kind === "subtree" && !isInSubtree(org.path, scope.path)) throw new CairnError("FORBIDDEN", "Not allowed: audit.read");
        scope = { kind: "subtree", path: org.path };
      }
      const action = textParam(query, "action", 100);
      const targetType = textParam(query, "targetType", 50);
      const targetId = textParam(query, "targetId", 50);
      const since = timeParam(query, "since");
      const until = timeParam(query, "until");
      const dir = (queryValue(query, "srtDir") ?? "asc").toLowerCase();
      if (dir !== "asc" && dir !== "desc") throw new CairnError("BAD_REQUEST", "srtDir is asc or desc", { details: { field: "srtDir" } });
      const page = await ctx.store.listAudit(
        {
          scope,
          ...(action !== undefined ? { action } : {}),
          ...(targetType !== undefined ? { targetType } : {}),
          ...(targetId !== undefined ? { targetId } : {}),
          ...(since !== undefined ? { since } : {}),
          ...(until !== undefined ? { until } : {}),
          newestFirst: dir === "desc",
        },
        pageParams(query),
      );
      return {
        totalCount: page.total,
        auditEntries: page.items.map((e) => ({
          auditId: e.auditId,
          at: isoTime(e.at),
          actorKind: e.actorKind,
          actorUserId: e.actorUserId,
          actorUsername: e.actorUsername,
          source: e.source,
          requestId: e.requestId,
          action: e.action,
          outcome: e.outcome,
          targetType: e.targetType,
          targetId: e.targetId,
          orgId: e.orgId,
          details: e.details,
        })),
      };
    },
  });
}
