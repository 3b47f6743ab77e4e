/**
 * The configuration of `cairn authority serve` (`/etc/cairn/authority.toml`): every key once,
 * with its default and reason, resolved by the protocol's `resolveConfig` with the precedence
 * flags > `CAIRN_*` environment > TOML file (`--config FILE`) > defaults. The other authority
 * commands (`enroll-key`, `backup`, `agent-package`, …) read only `data` from the same sources.
 */
import type { ConfigKey } from "@cairn/protocol";
import { DEFAULT_PURGE_SCHEDULE } from "./cold-storage/purge-schedule.js";
import { DEFAULT_ALERT_SCHEDULE, DEFAULT_REPORT_SCHEDULE, DEFAULT_STATUS_EMAIL_SCHEDULE } from "./operations-plugins.js";

/** The platform's port (seed 000: HTTPS on 4285). */
const PORT = 4285;

/** The keys of `serve`. */
export const AUTHORITY_SERVE_CONFIG: readonly ConfigKey[] = [
  { key: "data", type: "string", flag: "data", required: true, doc: "Data directory made by `cairn authority init` (database, keys, agent packages)." },
  { key: "server.host", type: "string", flag: "host", default: "0.0.0.0", doc: "Address of the HTTPS listener (REST API, console, agent and node channels)." },
  { key: "server.port", type: "int", flag: "port", default: PORT, min: 0, max: 65535, doc: "Port of the HTTPS listener; 0 picks a free one and logs it." },
  {
    key: "server.public_url",
    type: "string",
    flag: "publicUrl",
    doc: "The origin clients reach this authority at (restore storage URLs, links in emails);\ndefault: the request's Host.",
  },
  {
    key: "server.metrics_address",
    type: "string",
    flag: "metricsAddress",
    doc: "HOST:PORT of a separate plain-HTTP listener for /metrics, /healthz and /readyz\n(then /metrics leaves the HTTPS port). Default: everything on the HTTPS port.",
  },
  {
    key: "storage.reserve",
    type: "bytes",
    flag: "reserveBytes",
    default: 64 * 1024 * 1024,
    doc: "/readyz reports not ready when the data directory's file system has less free space than this.",
  },
  { key: "restores.server_dir", type: "string", flag: "restoreDir", doc: "Folder for server file-system restores (not offered when unset)." },
  { key: "schedules.purge", type: "string", flag: "purgeSchedule", default: DEFAULT_PURGE_SCHEDULE, doc: "Cron expression of the cold-storage purge." },
  {
    key: "schedules.reports",
    type: "string",
    flag: "reportSchedule",
    default: DEFAULT_REPORT_SCHEDULE,
    doc: "Cron expression of the scheduled backup reports.",
  },
  { key: "schedules.alerts", type: "string", flag: "alertSchedule", default: DEFAULT_ALERT_SCHEDULE, doc: "Cron expression of the alert-email check." },
  {
    key: "schedules.status_emails",
    type: "string",
    flag: "statusEmailSchedule",
    default: DEFAULT_STATUS_EMAIL_SCHEDULE,
    doc: "Cron expression of the users' backup-status-email check (each user at most every backupStatusEmailFreqInMinutes).",
  },
  {
    key: "mail.smtp_url",
    type: "string",
    flag: "smtpUrl",
    env: "CAIRN_SMTP_URL",
    secret: true,
    doc: "SMTP server of reports and alerts: smtp://user:password@host:587 or smtps://…\n(no email is sent when unset).",
  },
  { key: "mail.from", type: "string", flag: "mailFrom", doc: "From address of reports and alerts." },
  { key: "mail.templates", type: "string", flag: "templates", doc: "Folder whose files replace the shipped email templates." },
];

/** The `data` key alone: what the other commands resolve. */
export const AUTHORITY_DATA_CONFIG: readonly ConfigKey[] = AUTHORITY_SERVE_CONFIG.filter((k) => k.key === "data");
