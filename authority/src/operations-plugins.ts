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
import { CairnError } from "@cairn/protocol";
import type { ScheduledTask } from "node-cron";
import { ColdStorageService } from "./cold-storage/cold-storage-service.js";
import { registerColdStorageRoutes } from "./cold-storage/cold-storage-routes.js";
import { DEFAULT_PURGE_SCHEDULE, purgeTaskName, scheduleTask } from "./cold-storage/purge-schedule.js";
import type { AuthorityContext } from "./context.js";
import type { HttpPlugin } from "./http/server.js";
import { legalHoldSetsOf } from "./legal-hold/legal-hold-sets.js";
import { registerLegalHoldRoutes } from "./legal-hold/legal-hold-routes.js";
import { LegalHoldService } from "./legal-hold/legal-hold-service.js";
import { registerReportRoutes } from "./reports/report-routes.js";
import { type MailOptions, ReportService } from "./reports/report-service.js";
import { RestoreHistoryService } from "./restores/restore-history.js";
import { registerRestoreHistoryRoutes } from "./restores/restore-history-routes.js";
import { RestoreJobs } from "./restores/restore-jobs.js";
import type { RestorePlatform } from "./restores/restore-platform.js";
import { registerRestoreRoutes } from "./restores/restore-routes.js";
import { type RestoreOptions, RestoreService } from "./restores/restore-service.js";
import { dataUrlOf } from "./devices/agent-service.js";
import { issueStorageToken } from "./storage/storage-tokens.js";

/** Configuration of the plugin (from the command line or a test). */
export interface OperationsOptions {
  /** Cron expression of the cold-storage purge (default every day at 03:00). */
  purgeSchedule?: string;
  /** Cron expression of the scheduled backup reports (default every day at 07:00). */
  reportSchedule?: string;
  /** Cron expression of the alert-email check (default every 30 minutes). */
  alertSchedule?: string;
  /** Cron expression of the backup-status-email check (default every 30 minutes). */
  statusEmailSchedule?: string;
  /** SMTP, sender and templates. */
  mail?: MailOptions;
  /** Restores: public URL, server restore folder, zip limits. */
  restores?: RestoreOptions;
  /** Register no schedules (tools that open the database briefly). */
  noSchedules?: boolean;
}

/** The command line's flags of the operations plugin (`cairn authority serve`). */
export interface OperationsFlags {
  publicUrl?: string;
  restoreDir?: string;
  purgeSchedule?: string;
  reportSchedule?: string;
  alertSchedule?: string;
  statusEmailSchedule?: string;
  smtpUrl?: string;
  mailFrom?: string;
  templates?: string;
}

/** Options from the command line's flags (absent flags keep the defaults). */
export function operationsOptionsOf(f: OperationsFlags): OperationsOptions {
  const restores: RestoreOptions = {
    ...(f.publicUrl !== undefined ? { publicUrl: f.publicUrl } : {}),
    ...(f.restoreDir !== undefined ? { serverRestoreDir: f.restoreDir } : {}),
  };
  const mail: MailOptions = {
    ...(f.smtpUrl !== undefined ? { smtp: f.smtpUrl } : {}),
    ...(f.mailFrom !== undefined ? { from: f.mailFrom } : {}),
    ...(f.templates !== undefined ? { templatesDir: f.templates } : {}),
    ...(f.publicUrl !== undefined ? { authorityUrl: f.publicUrl } : {}),
  };
  return {
    restores,
    mail,
    ...(f.purgeSchedule !== undefined ? { purgeSchedule: f.purgeSchedule } : {}),
    ...(f.reportSchedule !== undefined ? { reportSchedule: f.reportSchedule } : {}),
    ...(f.alertSchedule !== undefined ? { alertSchedule: f.alertSchedule } : {}),
    ...(f.statusEmailSchedule !== undefined ? { statusEmailSchedule: f.statusEmailSchedule } : {}),
  };
}

/** Every day at 07:00. */
export const DEFAULT_REPORT_SCHEDULE = "0 7 * * *";
/** Every 30 minutes. */
export const DEFAULT_ALERT_SCHEDULE = "*/30 * * * *";
/** Every 30 minutes (each user's own interval is `backupStatusEmailFreqInMinutes`, at least 60). */
export const DEFAULT_STATUS_EMAIL_SCHEDULE = "*/30 * * * *";

/** The running services and schedules of one authority. */
export interface Operations {
  coldStorage: ColdStorageService;
  legalHold: LegalHoldService;
  history: RestoreHistoryService;
  reports: ReportService;
  restores: RestoreService;
  restoreJobs: RestoreJobs;
  tasks: { purge?: ScheduledTask; reports?: ScheduledTask; alerts?: ScheduledTask; statusEmails?: ScheduledTask };
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
/** Backup-status-email task name of an authority. */
export const statusEmailTaskName = (authorityGuid: string) => `cairn-backup-status-emails-${authorityGuid}`;

/** Restore tokens for a receiving agent last this long. */
export const PUSH_TOKEN_TTL_MS = 60 * 60_000;

/** What restores use of the storage part: node and agent registries, the provider rule, tokens. */
export function restorePlatformOf(ctx: AuthorityContext): RestorePlatform {
  return {
    nodes: ctx.nodes,
    agents: ctx.agents,
    assertRestoreAllowed: (p, a) => ctx.storage.assertRestoreAllowed(p, a),
    async restoreAccess(archiveGuid) {
      const a = await ctx.store.getArchiveByGuid(archiveGuid);
      const url = a?.serverUrls[0];
      if (a === undefined || a.serverGuid === null || url === undefined || a.serverFingerprint === null)
        throw new CairnError("CREATE_FAILED", "CREATE_FAILED: the archive's storage server is unknown");
      const t = issueStorageToken(
        ctx.keys,
        ctx.authorityGuid,
        ctx.clock,
        { deviceGuid: a.deviceGuid, userUid: a.userUid, orgUid: a.orgUid, archiveGuid: a.archiveGuid, destinationGuid: a.destinationGuid, scope: "restore" },
        PUSH_TOKEN_TTL_MS,
      );
      return { server: { serverGuid: a.serverGuid, url: dataUrlOf(url), fingerprint: a.serverFingerprint }, token: t.token };
    },
  };
}

/** The plugin. */
export function operationsPlugin(o: OperationsOptions = {}): HttpPlugin {
  return {
    name: "operations",
    register(api, ctx) {
      const legalHold = new LegalHoldService(ctx);
      const restores = new RestoreService(ctx, o.restores ?? {});
      const ops: Operations = {
        coldStorage: new ColdStorageService(ctx),
        legalHold,
        history: new RestoreHistoryService(ctx, ctx.users),
        reports: new ReportService(ctx, o.mail ?? {}),
        restores,
        restoreJobs: new RestoreJobs(restores, ctx.clock, (tx, p, userId, at) => legalHold.recordRestore(tx, p, userId, at)),
        tasks: {},
      };
      running.set(ctx, ops);
      restores.setPlatform(restorePlatformOf(ctx));
      ctx.agentService.legalHoldSets = (device) => legalHoldSetsOf(ctx, device);
      ops.coldStorage.onShredded((archiveGuid) => {
        restores.sessions.endWhere((x) => x.archive.archiveGuid === archiveGuid);
        ops.restoreJobs.endArchive(archiveGuid);
      });
      ops.coldStorage.setPurger({
        async purgeOnNode(c) {
          if (c.serverGuid === null) return true;
          const server = await ctx.store.getServerByGuid(c.serverGuid);
          if (server === undefined || !ctx.nodes.isConnected(server.serverId)) return false;
          await ctx.nodes.call(server.serverId, "purge-archive", { archiveGuid: c.archiveGuid });
          return true;
        },
      });
      registerColdStorageRoutes(api, ops.coldStorage);
      registerLegalHoldRoutes(api, ctx, ops.legalHold);
      registerRestoreHistoryRoutes(api, ctx, ops.history);
      registerReportRoutes(api, ops.reports);
      registerRestoreRoutes(api, ctx, ops.restores, ops.restoreJobs);
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
        ops.tasks.statusEmails = scheduleTask({
          ...base,
          name: statusEmailTaskName(ctx.authorityGuid),
          expression: o.statusEmailSchedule ?? DEFAULT_STATUS_EMAIL_SCHEDULE,
          run: (now) => ops.reports.sendStatusEmails(now),
        });
      }
      api.app.addHook("onClose", async () => {
        for (const t of Object.values(ops.tasks)) await t?.destroy();
        ops.reports.close();
        ops.restoreJobs.close();
        ops.restores.sessions.endWhere(() => true);
      });
    },
  };
}
