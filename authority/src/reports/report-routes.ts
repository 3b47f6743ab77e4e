/**
 * Cairn's "Email backup report" action (`POST /api/v1/orgs/{orgId}/backup-report`,
 * docs/console.md): the org's report, now, to the given recipients or the org's own; and the
 * org's report recipients (`GET /api/v1/orgs/{orgId}/report-recipients`, seed 001 "Reporting"
 * d "Recipients").
 */
import { CairnError } from "@cairn/protocol";
import type { ApiRouter } from "../http/api-router.js";
import { bodyObject, pathId } from "../http/params.js";
import type { ReportService } from "./report-service.js";

/** Registers the report routes. */
export function registerReportRoutes(api: ApiRouter, svc: ReportService): void {
  api.route({
    method: "GET",
    url: "/api/v1/orgs/:orgId/report-recipients",
    auth: "user",
    summary: "Who receives the org's backup report: the first administrator, the org's admins and its Additional recipients (reporting.recipients)",
    tags: ["organizations"],
    handler: async ({ p, params }) => svc.recipientsFor(p, pathId(params.orgId, "orgId")),
  });
  api.route({
    method: "POST",
    url: "/api/v1/orgs/:orgId/backup-report",
    auth: "user",
    summary: "Emails the org's backup report now ({recipients: [...] | null, days}; default: the org's recipients, 7 days)",
    tags: ["organizations"],
    handler: async ({ p, params, body }) => {
      const b = bodyObject(body);
      const orgId = pathId(params.orgId, "orgId");
      const days = b.days === undefined || b.days === null ? 7 : Number(b.days);
      if (!Number.isInteger(days) || days < 1 || days > 366) throw new CairnError("BAD_REQUEST", "days is 1 to 366", { details: { field: "days" } });
      let recipients: string[] | null = null;
      if (b.recipients !== undefined && b.recipients !== null) {
        if (!Array.isArray(b.recipients) || b.recipients.length > 100 || b.recipients.some((r) => typeof r !== "string"))
          throw new CairnError("BAD_REQUEST", "recipients is a list of email addresses", { details: { field: "recipients" } });
        recipients = (b.recipients as string[]).map((r) => r.trim()).filter((r) => r !== "");
      }
      const sent = await svc.emailReport(p, orgId, recipients, days);
      return { recipients: sent.recipients, subject: sent.subject, devices: sent.devices };
    },
  });
}
