/**
 * The administrators' everyday tools as one route plugin of every authority (issue 6): cold
 * storage (listing, purge dates, purge now, CSV, the scheduled purge), restore history, legal
 * hold, backup reports and alert emails, and (with the storage part) restores. The plugin
 * builds the services over the context and registers the node-cron schedules at start; the
 * schedules stop when the server closes.
 *
 * `operationsOf(ctx)` gives tests and the storage part the running services (to call
 * `purgeDue(now)` with an injected time, or to plug in how nodes purge and serve archives).
 */
import type { ScheduledTask } from "node-cron";
import { ColdStorageService } from "./cold-storage/cold-storage-service.js";
import { registerColdStorageRoutes } from "./cold-storage/cold-storage-routes.js";
import { DEFAULT_PURGE_SCHEDULE, purgeTaskName, scheduleTask } from "./cold-storage/purge-schedule.js";
import type { AuthorityContext } from "./context.js";
import type { HttpPlugin } from "./http/server.js";
import { registerLegalHoldRoutes } from "./legal-hold/legal-hold-routes.js";
import { LegalHoldService } from "./legal-hold/legal-hold-service.js";
import { registerReportRoutes } from "./reports/report-routes.js";
import { type MailOptions, ReportService } from "./reports/report-service.js";
import { RestoreHistoryService } from "./restores/restore-history.js";
import { registerRestoreHistoryRoutes } from "./restores/restore-history-routes.js";

/** Configuration of the plugin (from the command line or a test). */
export interface OperationsOptions {
  /** Cron expression of the cold-storage purge (default every day at 03:00). */
  purgeSchedule?: string;
  /** Cron expression of the scheduled backup reports (default every day at 07:00). */
  reportSchedule?: string;
  /** Cron expression of the alert-email check (default every 30 minutes). */
  alertSchedule?: string;
  /** SMTP, sender and templates. */
  mail?: MailOptions;
  /** Register no schedules (tools that open the database briefly). */
  noSchedules?: boolean;
}

/** Every day at 07:00. */
export const DEFAULT_REPORT_SCHEDULE = "0 7 * * *";
/** Every 30 minutes. */
export const DEFAULT_ALERT_SCHEDULE = "*/30 * * * *";

/** The running services and schedules of one authority. */
export interface Operations {
  coldStorage: ColdStorageService;
  legalHold: LegalHoldService;
  history: RestoreHistoryService;
  reports: ReportService;
  tasks: { purge?: ScheduledTask; reports?: ScheduledTask; alerts?: ScheduledTask };
}

const running = new WeakMap<AuthorityContext, Operations>();

/** The services of the authority that owns `ctx` (throws when the plugin is not registered). */
export function operationsOf(ctx: AuthorityContext): Operations {
  const o = running.get(ctx);
  if (o === undefined) throw new Error("the operations plugin is not registered on this authority");
  return o;
}

/** Report-task and alert-task names of an authority. */
export const reportTaskName = (authorityGuid: string) => `cairn-backup-reports-${authorityGuid}`;
export const alertTaskName = (authorityGuid: string) => `cairn-backup-alerts-${authorityGuid}`;

/** The plugin. */
export function operationsPlugin(o: OperationsOptions = {}): HttpPlugin {
  return {
    name: "operations",
    register(api, ctx) {
      const ops: Operations = {
        coldStorage: new ColdStorageService(ctx),
        legalHold: new LegalHoldService(ctx),
        history: new RestoreHistoryService(ctx, ctx.users),
        reports: new ReportService(ctx, o.mail ?? {}),
        tasks: {},
      };
      running.set(ctx, ops);
      registerColdStorageRoutes(api, ops.coldStorage);
      registerLegalHoldRoutes(api, ctx, ops.legalHold);
      registerRestoreHistoryRoutes(api, ctx, ops.history);
      registerReportRoutes(api, ops.reports);
      if (o.noSchedules !== true) {
        const base = { clock: ctx.clock, log: ctx.log };
        ops.tasks.purge = scheduleTask({
          ...base,
          name: purgeTaskName(ctx.authorityGuid),
          expression: o.purgeSchedule ?? DEFAULT_PURGE_SCHEDULE,
          run: (now) => ops.coldStorage.purgeDue(now),
        });
        ops.tasks.reports = scheduleTask({
          ...base,
          name: reportTaskName(ctx.authorityGuid),
          expression: o.reportSchedule ?? DEFAULT_REPORT_SCHEDULE,
          run: (now) => ops.reports.sendDue(now),
        });
        ops.tasks.alerts = scheduleTask({
          ...base,
          name: alertTaskName(ctx.authorityGuid),
          expression: o.alertSchedule ?? DEFAULT_ALERT_SCHEDULE,
          run: (now) => ops.reports.sendAlerts(now),
        });
      }
      api.app.addHook("onClose", async () => {
        for (const t of Object.values(ops.tasks)) await t?.destroy();
        ops.reports.close();
      });
    },
  };
}
