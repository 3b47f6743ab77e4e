/**
 * `GET /api/RestoreHistory` (API.md §7.3: days, orgId with incChildOrgs, userId, computerId,
 * paging) and Cairn's `GET /api/v1/restore-history/export` (the same filters, CSV).
 */
import { CairnError } from "@cairn/protocol";
import type { AuthorityContext } from "../context.js";
import { type ApiRouter, SENT } from "../http/api-router.js";
import { boolParam, optionalId, pageParams, queryValue } from "../http/params.js";
import { type HistoryQuery, RestoreHistoryService, restoreEventJson, restoreHistoryCsv } from "./restore-history.js";

function historyQuery(q: Record<string, unknown>): HistoryQuery {
  const out: HistoryQuery = {};
  const days = queryValue(q, "days");
  if (days !== undefined && days !== "") {
    const n = Number(days);
    if (!Number.isInteger(n) || n < 0 || n > 36_500) throw new CairnError("BAD_REQUEST", "days must be a whole number of days", { details: { field: "days" } });
    out.days = n;
  }
  const orgId = optionalId(q, "orgId");
  if (orgId !== undefined) out.orgId = orgId;
  const inc = boolParam(q, "incChildOrgs");
  if (inc !== undefined) out.incChildOrgs = inc;
  const userId = optionalId(q, "userId");
  if (userId !== undefined) out.userId = userId;
  const computerId = optionalId(q, "computerId");
  if (computerId !== undefined) out.computerId = computerId;
  return out;
}

/** Registers the history routes. */
export function registerRestoreHistoryRoutes(api: ApiRouter, ctx: AuthorityContext, svc = new RestoreHistoryService(ctx, ctx.users)): void {
  api.route({
    method: "GET",
    url: "/api/RestoreHistory",
    auth: "user",
    summary: "Restore history: each web, push and server restore with its newest state (days, orgId, incChildOrgs, userId, computerId)",
    tags: ["restores"],
    handler: async ({ p, query }) => {
      const r = await svc.list(p, historyQuery(query), pageParams(query));
      return { totalCount: r.total, restoreEvents: r.items.map(restoreEventJson) };
    },
  });
  api.route({
    method: "GET",
    url: "/api/v1/restore-history/export",
    auth: "user",
    summary: "The restore history as CSV (the source document's columns), same filters as /api/RestoreHistory",
    tags: ["restores"],
    handler: async ({ p, query, reply }) => {
      const csv = restoreHistoryCsv(await svc.all(p, historyQuery(query)));
      reply.code(200).type("text/csv; charset=utf-8").header("content-disposition", 'attachment; filename="restore-history.csv"').send(csv);
      return SENT;
    },
  });
}
