/**
 * The organizations CSV export: exactly the source document's columns, in its order, one row per
 * org the caller may see (ascending orgId), values escaped against formula injection.
 * `targetComputerGuid` (computer-to-computer backup) is always empty; `targetDestinationGuid`
 * lists the destinations holding the org's archives, `;`-separated; `shareDeviceCount`
 * (deprecated) is 0.
 */
import { CairnError } from "@cairn/protocol";
import { stringify } from "csv-stringify/sync";
import { scopeOf } from "../../auth/access.js";
import type { AuthorityContext } from "../../context.js";
import type { Org } from "../../db/records.js";
import { loadOrgFigures } from "../../orgs/org-figures.js";
import { type ApiRouter, SENT } from "../api-router.js";
import { boolParam, textParam } from "../params.js";

/** The source document's columns, in order. */
export const ORG_CSV_COLUMNS = [
  "orgId",
  "parentOrgId",
  "orgName",
  "registrationKey",
  "status",
  "active",
  "blocked",
  "computerCount",
  "backupDeviceCount",
  "shareDeviceCount",
  "planCount",
  "warningCount",
  "criticalCount",
  "targetComputerGuid",
  "targetDestinationGuid",
  "selectedFiles",
  "selectedBytes",
  "todoBytes",
  "todoFiles",
  "archiveBytes",
  "orgGuid",
  "parentOrgGuid",
  "orgUid",
  "parentOrgUid",
  "orgExtRef",
  "notes",
] as const;

const PAGE = 5000;

/** The CSV of `orgs` (header row first). */
export async function orgsCsv(ctx: AuthorityContext, orgs: readonly Org[]): Promise<string> {
  const parents = new Map((await ctx.store.getOrgs([...new Set(orgs.map((o) => o.parentId).filter((x): x is number => x !== null))])).map((o) => [o.orgId, o]));
  const { counts, usage, figures } = await loadOrgFigures(ctx, orgs);
  const rows = orgs.map((o) => {
    const parent = o.parentId === null ? undefined : parents.get(o.parentId);
    const c = counts.get(o.orgId);
    const f = figures.get(o.orgId);
    return [
      o.orgId,
      parent?.orgId ?? "",
      o.name,
      o.registrationKey,
      o.active ? "Active" : "Deactivated",
      o.active ? "TRUE" : "FALSE",
      o.blocked ? "TRUE" : "FALSE",
      c?.computerCount ?? 0,
      c?.backupComputerCount ?? 0,
      0,
      0,
      f?.warningCount ?? 0,
      f?.criticalCount ?? 0,
      "",
      (usage.get(o.orgId)?.destinationGuids ?? []).join(";"),
      f?.selectedFiles ?? 0,
      f?.selectedBytes ?? 0,
      f?.todoBytes ?? 0,
      f?.todoFiles ?? 0,
      f?.archiveBytes ?? 0,
      o.orgGuid,
      parent?.orgGuid ?? "",
      o.orgUid,
      parent?.orgUid ?? "",
      o.extRef ?? "",
      o.notes ?? "",
    ];
  });
  return stringify([[...ORG_CSV_COLUMNS], ...rows], { escape_formulas: true, record_delimiter: "\r\n" });
}

/** Registers the export routes. */
export function registerExportRoutes(api: ApiRouter, ctx: AuthorityContext): void {
  api.route({
    method: "GET",
    url: "/api/v1/orgs/export",
    auth: "user",
    summary: "The organizations the caller may see as CSV (filters active, q), the source document's columns in order",
    tags: ["organizations"],
    handler: async ({ p, query, reply }) => {
      // an administrator's export (registration keys, figures): a member who sees its org only as
      // its own gets none of it
      if (scopeOf(p, "org.read").kind === "none") throw new CairnError("FORBIDDEN", "Not allowed: org.read", { details: { permission: "org.read" } });
      const active = boolParam(query, "active");
      const q = textParam(query, "q");
      const orgs: Org[] = [];
      for (let offset = 0; ; offset += PAGE) {
        const page = await ctx.orgs.list(p, { ...(active !== undefined ? { active } : {}), ...(q !== undefined ? { q } : {}) }, { offset, limit: PAGE });
        orgs.push(...page.items);
        if (page.items.length < PAGE) break;
      }
      const csv = await orgsCsv(ctx, orgs);
      reply.code(200).type("text/csv; charset=utf-8").header("content-disposition", 'attachment; filename="organizations.csv"').send(csv);
      return SENT;
    },
  });
}
