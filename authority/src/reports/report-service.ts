/**
 * Backup reports and alert emails (seed 001 "Reporting"; DECISIONS.md "Thresholds"):
 * - the **backup report** of an org lists the active devices of the org and its descendants
 *   with their state against the org's `warnInDays` / `alertInDays`; it is sent on the org's
 *   report days (`reportSchedule`, Sunday first, `_` for none) when `sendReports` is on, to the
 *   org's recipients (the first administrator, the org's admins and its Additional recipients:
 *   {@link ReportService.recipientsOf}). An org that inherits
 *   its reporting settings is covered by the report of the org it inherits them from, so nobody
 *   receives the same devices twice. The "Email backup report" action sends one at once.
 *   Its content depends on the report's period (`days`): whether each device completed a backup
 *   within it (the authority keeps each archive's newest backup times, not a history of every
 *   backup, so it counts devices, not backups) and the restores from each device completed in it
 *   (the restore history).
 * - **alert emails** go to a device's user when it passes the device settings'
 *   `minutesUntilWarning` / `minutesUntilSevere` without a completed backup (when
 *   `warningEmailEnabled` / `severeEmailEnabled`), once per level until the device backs up.
 * - the **backup status email** (seed 001 "Device backup defaults › Reporting") goes to each user
 *   with a device whose effective device settings have `backupStatusEmailEnabled`: a summary of
 *   those devices, at most every `backupStatusEmailFreqInMinutes` (the shortest of them), the
 *   time of the last one kept in the database ({@link ReportService.sendStatusEmails}).
 *
 * Email goes over SMTP with nodemailer; the texts are {@link Templates} an operator may replace.
 */
import { CairnError, DAY_MS, isoDate, isoTime, MINUTE_MS } from "@cairn/protocol";
import nodemailer, { type Transporter } from "nodemailer";
import type SMTPTransport from "nodemailer/lib/smtp-transport/index.js";
import { auditEntry } from "../audit/audit.js";
import { type Principal, requirePermission } from "../auth/access.js";
import { roleSpec } from "../auth/roles.js";
import { META } from "../bootstrap.js";
import type { CoreDeps } from "../core.js";
import type { ReportDevice } from "../db/operations-store.js";
import type { Org, User } from "../db/records.js";
import { isEmail } from "../settings/parse.js";
import type { DeviceDefaults } from "../settings/device-defaults.js";
import { type TemplateData, Templates } from "./templates.js";

/** How the authority sends email. */
export interface MailOptions {
  /** An `smtp://` / `smtps://` URL or nodemailer SMTP options; absent: no email is sent. */
  smtp?: string | SMTPTransport.Options;
  /** The From address (default `Cairn <cairn@localhost>`). */
  from?: string;
  /** A folder whose files replace the shipped templates of the same name. */
  templatesDir?: string;
  /** The authority's address, shown in the messages. */
  authorityUrl?: string;
}

/** One backup status email as sent. */
export interface SentStatusEmail {
  userId: number;
  to: string;
  devices: number;
}

/** One report as sent. */
export interface SentReport {
  orgId: number;
  recipients: string[];
  subject: string;
  devices: number;
}

/** A user's address for reports: the email, else the username when it is an address. */
function emailOf(u: User): string | null {
  if (u.email !== null && isEmail(u.email)) return u.email;
  return isEmail(u.username) ? u.username : null;
}

/** A device's state against thresholds. */
export type BackupState = "OK" | "WARNING" | "CRITICAL";

/** State of a device idle for `idleMs` under days thresholds. */
export function stateByDays(idleMs: number, warnInDays: number, alertInDays: number): BackupState {
  if (idleMs > alertInDays * DAY_MS) return "CRITICAL";
  if (idleMs > warnInDays * DAY_MS) return "WARNING";
  return "OK";
}

/** Whether `reportSchedule` (7 characters, Sunday first, `_` = no report) has `now`'s UTC weekday. */
export function isReportDay(schedule: string, now: number): boolean {
  const c = schedule[new Date(now).getUTCDay()];
  return c !== undefined && c !== "_";
}

const STATE_ORDER: Record<BackupState, number> = { CRITICAL: 0, WARNING: 1, OK: 2 };

function size(n: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** A device's state against the device settings' minute thresholds (its user's view). */
export function stateByMinutes(idleMs: number, minutesUntilWarning: number, minutesUntilSevere: number): BackupState {
  if (idleMs > minutesUntilSevere * MINUTE_MS) return "CRITICAL";
  if (idleMs > minutesUntilWarning * MINUTE_MS) return "WARNING";
  return "OK";
}

function idleText(ms: number): string {
  const h = Math.floor(ms / 3_600_000);
  return h >= 48 ? `${Math.floor(h / 24)} days` : `${h} hours`;
}

/** Backup reports and alerts. */
export class ReportService {
  private templates: Templates;
  private transport: Transporter | null = null;

  constructor(
    private readonly d: CoreDeps,
    private readonly o: MailOptions = {},
  ) {
    this.templates = new Templates(o.templatesDir ?? null);
  }

  private mailer(): Transporter {
    if (this.o.smtp === undefined) throw new CairnError("UNAVAILABLE", "No SMTP server is configured for this authority");
    this.transport ??= nodemailer.createTransport(this.o.smtp as SMTPTransport.Options);
    return this.transport;
  }

  /** Changes the mail options after start (the command line's late values, tests). */
  configure(o: Partial<MailOptions>): void {
    Object.assign(this.o, o);
    if (o.templatesDir !== undefined) this.templates = new Templates(o.templatesDir);
    this.close();
  }

  /** Closes the SMTP connection pool. */
  close(): void {
    this.transport?.close();
    this.transport = null;
  }

  /**
   * Who receives the org's backup report (seed 001 "Reporting" c–e; DECISIONS.md "Settings"):
   * - the **first administrator** (the primary administrator `authority init` made): "a recipient
   *   by default", for every org's report;
   * - the **org admins** of this org: its active, unblocked users holding a role that may edit
   *   its settings ("sending backup reports to org admins for this organization");
   * - the **Additional recipients**, the org's effective `reporting.recipients`, which add to the
   *   two above and never replace them.
   * Each address once (case-insensitively), in that order; users without an email address (and
   * whose username is not one) are skipped.
   */
  async recipientsOf(org: Org): Promise<string[]> {
    return (await this.recipientParts(org)).recipients;
  }

  /** {@link recipientsOf} with its parts (the console's "Recipients" display). */
  async recipientParts(org: Org): Promise<{ recipients: string[]; firstAdministrator: string | null; orgAdmins: string[]; additional: string[] }> {
    const additional = (await this.d.settings.resolveOrg(org)).values.reporting.recipients.filter(isEmail);
    const id = Number(await this.d.store.getMeta(META.primaryAdminUserId));
    const first = Number.isSafeInteger(id) ? await this.d.store.getUser(id) : undefined;
    const firstAdministrator = first?.active && !first.blocked ? emailOf(first) : null;
    const adminRoles = (await this.d.store.listRoles()).filter((r) => roleSpec(r.name)?.permissions.includes("org.settings") === true);
    const adminIds = new Set<number>();
    for (const r of adminRoles) for (const userId of await this.d.store.usersWithRole(r.roleId)) adminIds.add(userId);
    const orgAdmins: string[] = [];
    for (const userId of [...adminIds].sort((x, y) => x - y)) {
      const u = await this.d.store.getUser(userId);
      const email = u !== undefined && u.orgId === org.orgId && u.active && !u.blocked ? emailOf(u) : null;
      if (email !== null) orgAdmins.push(email);
    }
    const seen = new Set<string>();
    const recipients: string[] = [];
    for (const r of [...(firstAdministrator === null ? [] : [firstAdministrator]), ...orgAdmins, ...additional]) {
      const key = r.toLowerCase();
      if (seen.has(key)) continue;
      seen.add(key);
      recipients.push(r);
    }
    return { recipients, firstAdministrator, orgAdmins, additional };
  }

  /**
   * The report's data for an org at `now` over the last `days` days: each device's state against
   * the org's thresholds, whether it completed a backup within the period (its newest completed
   * backup is at or after the period's start), whether it was registered in the period, and the
   * restores from it that completed in the period.
   */
  async reportData(org: Org, days: number, now: number): Promise<TemplateData & { devices: TemplateData[] }> {
    const subtree = (await this.d.store.listSubtree(org.path)).filter((o) => o.active);
    const names = new Map(subtree.map((o) => [o.orgId, o.name]));
    const rep = (await this.d.settings.resolveOrg(org)).values.reporting;
    const since = now - days * DAY_MS;
    const orgIds = subtree.map((o) => o.orgId);
    const restores = await this.d.store.completedRestoresByDevice(orgIds, since, now);
    const devices = (await this.d.store.reportDevices(orgIds))
      .map((dev) => ({ dev, state: stateByDays(now - (dev.lastCompletedBackupAt ?? dev.createdAt), rep.warnInDays, rep.alertInDays) }))
      .sort((a, b) => STATE_ORDER[a.state] - STATE_ORDER[b.state] || a.dev.deviceId - b.dev.deviceId);
    const count = (s: BackupState) => devices.filter((x) => x.state === s).length;
    const inPeriod = (dev: ReportDevice) => dev.lastCompletedBackupAt !== null && dev.lastCompletedBackupAt >= since;
    const backedUp = devices.filter((x) => inPeriod(x.dev)).length;
    let restoreCount = 0;
    let restoredBytes = 0;
    for (const { dev } of devices) {
      const r = restores.get(dev.deviceId);
      restoreCount += r?.restores ?? 0;
      restoredBytes += r?.bytes ?? 0;
    }
    return {
      orgName: org.name,
      reportDate: isoDate(now),
      days,
      periodStart: isoTime(since),
      periodEnd: isoTime(now),
      warnInDays: rep.warnInDays,
      alertInDays: rep.alertInDays,
      deviceCount: devices.length,
      okCount: count("OK"),
      warningCount: count("WARNING"),
      criticalCount: count("CRITICAL"),
      backedUpInPeriodCount: backedUp,
      notBackedUpInPeriodCount: devices.length - backedUp,
      newInPeriodCount: devices.filter((x) => x.dev.createdAt >= since).length,
      restoresInPeriod: restoreCount,
      restoredInPeriod: size(restoredBytes),
      authorityUrl: this.o.authorityUrl ?? "",
      devices: devices.map(({ dev, state }) => {
        const r = restores.get(dev.deviceId);
        return {
          status: state,
          deviceName: dev.deviceName,
          username: dev.username,
          orgName: names.get(dev.orgId) ?? "",
          lastBackup: dev.lastCompletedBackupAt === null ? "never" : isoTime(dev.lastCompletedBackupAt),
          archiveSize: size(dev.archiveBytes),
          backedUpInPeriod: inPeriod(dev),
          periodBackup: inPeriod(dev) ? "backed up in the period" : "NOT backed up in the period",
          newInPeriod: dev.createdAt >= since,
          newNote: dev.createdAt >= since ? ", registered in the period" : "",
          restoresInPeriod: r?.restores ?? 0,
          restoredInPeriod: size(r?.bytes ?? 0),
        };
      }),
    };
  }

  /** Renders and sends the report of `org` to `recipients`. */
  async sendReport(org: Org, recipients: readonly string[], days: number, now: number): Promise<SentReport> {
    if (recipients.length === 0) throw new CairnError("BAD_REQUEST", "The organization has no report recipients");
    const mailer = this.mailer();
    const data = await this.reportData(org, days, now);
    const text = this.templates.render("backup-report.txt", data);
    const html = this.templates.render("backup-report.html", data);
    await mailer.sendMail({ from: this.o.from ?? "Cairn <cairn@localhost>", to: [...recipients], subject: text.subject, text: text.body, html: html.body });
    this.d.log.info({ orgId: org.orgId, recipients: recipients.length, devices: data.devices.length }, "backup report sent");
    return { orgId: org.orgId, recipients: [...recipients], subject: text.subject, devices: data.devices.length };
  }

  /** The org's report recipients for `p` (who may read the org). */
  async recipientsFor(p: Principal, orgId: number): Promise<Awaited<ReturnType<ReportService["recipientParts"]>>> {
    const org = await this.d.store.getOrg(orgId);
    if (org === undefined) throw new CairnError("NOT_FOUND", "No such organization");
    requirePermission(p, "org.read", { kind: "org", orgId: org.orgId, path: org.path }, "organization");
    return this.recipientParts(org);
  }

  /** The "Email backup report" action: now, to `recipients` (default: the org's). */
  async emailReport(p: Principal, orgId: number, recipients: readonly string[] | null, days: number): Promise<SentReport> {
    const org = await this.d.store.getOrg(orgId);
    if (org === undefined) throw new CairnError("NOT_FOUND", "No such organization");
    requirePermission(p, "org.settings", { kind: "org", orgId: org.orgId, path: org.path }, "organization");
    const to = recipients === null || recipients.length === 0 ? await this.recipientsOf(org) : [...new Set(recipients)];
    for (const r of to) if (!isEmail(r)) throw new CairnError("BAD_REQUEST", `not an email address: ${r.slice(0, 100)}`, { details: { field: "recipients" } });
    const now = this.d.clock.now();
    const sent = await this.sendReport(org, to, days, now);
    await this.d.store.transaction((tx) =>
      tx.appendAudit(auditEntry(p, now, "org.backup-report", { type: "org", id: org.orgId, orgId: org.orgId }, { recipients: to.length, days })),
    );
    return sent;
  }

  /**
   * The scheduled reports at `now`: each active org that is its own reporting source, sends
   * reports, has `now`'s weekday in its schedule and got no report yet today.
   */
  async sendDue(now: number): Promise<SentReport[]> {
    const top = await this.d.store.getTopLevelOrg();
    if (top === undefined) return [];
    const orgs = (await this.d.store.listSubtree(top.path)).filter((o) => o.active);
    const resolved = await this.d.settings.resolveMany(orgs);
    const out: SentReport[] = [];
    const today = isoDate(now);
    for (const org of orgs) {
      const r = resolved.get(org.orgId);
      if (r === undefined || r.groupSource.reporting !== org.orgId) continue;
      const rep = r.values.reporting;
      if (!rep.sendReports || !isReportDay(rep.reportSchedule, now)) continue;
      const key = `report_sent:${org.orgId}`;
      if ((await this.d.store.getMeta(key)) === today) continue;
      const to = await this.recipientsOf(org);
      if (to.length === 0) continue;
      try {
        out.push(await this.sendReport(org, to, 7, now));
        await this.d.store.transaction((tx) => tx.setMeta(key, today));
      } catch (err) {
        this.d.log.warn({ err, orgId: org.orgId }, "backup report not sent");
      }
    }
    return out;
  }

  /** Alert emails due at `now` (at most one per device and level until it backs up again). */
  async sendAlerts(now: number): Promise<{ deviceId: number; level: "warning" | "critical"; to: string }[]> {
    const top = await this.d.store.getTopLevelOrg();
    if (top === undefined) return [];
    const orgs = (await this.d.store.listSubtree(top.path)).filter((o) => o.active);
    const resolved = await this.d.settings.resolveMany(orgs);
    const sent: { deviceId: number; level: "warning" | "critical"; to: string }[] = [];
    for (const dev of await this.d.store.reportDevices(orgs.map((o) => o.orgId))) {
      const to = dev.email ?? (isEmail(dev.username) ? dev.username : null);
      const base = resolved.get(dev.orgId)?.values.device;
      if (to === null || base === undefined) continue;
      const s = { ...base, ...deviceOverrides(dev) };
      const idle = now - (dev.lastCompletedBackupAt ?? dev.createdAt);
      const level =
        s.severeEmailEnabled && idle > s.minutesUntilSevere * MINUTE_MS
          ? "critical"
          : s.warningEmailEnabled && idle > s.minutesUntilWarning * MINUTE_MS
            ? "warning"
            : null;
      if (level === null) continue;
      const key = `alert_sent:${dev.deviceId}`;
      const period = String(dev.lastCompletedBackupAt ?? "never");
      const prev = (await this.d.store.getMeta(key))?.split("@");
      if (prev?.[1] === period && (prev[0] === "critical" || prev[0] === level)) continue;
      const msg = this.templates.render(level === "critical" ? "alert-critical.txt" : "alert-warning.txt", {
        deviceName: dev.deviceName,
        username: dev.username,
        lastBackup: dev.lastCompletedBackupAt === null ? "it was registered" : isoTime(dev.lastCompletedBackupAt),
        idleText: idleText(idle),
        authorityUrl: this.o.authorityUrl ?? "",
      });
      try {
        await this.mailer().sendMail({ from: this.o.from ?? "Cairn <cairn@localhost>", to, subject: msg.subject, text: msg.body });
        await this.d.store.transaction((tx) => tx.setMeta(key, `${level}@${period}`));
        sent.push({ deviceId: dev.deviceId, level, to });
      } catch (err) {
        this.d.log.warn({ err, deviceId: dev.deviceId }, "alert email not sent");
      }
    }
    return sent;
  }

  /**
   * The backup status emails due at `now` (seed 001 "Device backup defaults › Reporting"). A user
   * gets one when at least one of their active devices has `backupStatusEmailEnabled` in its
   * effective device settings (the org's device defaults, then the device's own overrides); it
   * lists those devices (name, last completed backup, selected files and bytes, to do, state
   * against `minutesUntilWarning` / `minutesUntilSevere`). It is due when the user's interval (the
   * shortest `backupStatusEmailFreqInMinutes` of those devices) has passed since the last one
   * sent to them, or, for a user never sent one, since the first of those devices registered.
   * Users without an email address (and whose username is not one) are skipped; nothing is sent
   * without an SMTP server. The time sent is stored per user (`setStatusEmailSentAt`).
   */
  async sendStatusEmails(now: number): Promise<SentStatusEmail[]> {
    if (this.o.smtp === undefined) return [];
    const top = await this.d.store.getTopLevelOrg();
    if (top === undefined) return [];
    const orgs = (await this.d.store.listSubtree(top.path)).filter((o) => o.active);
    const resolved = await this.d.settings.resolveMany(orgs);
    const byUser = new Map<number, { dev: ReportDevice; s: DeviceDefaults }[]>();
    for (const dev of await this.d.store.reportDevices(orgs.map((o) => o.orgId))) {
      const base = resolved.get(dev.orgId)?.values.device;
      if (base === undefined) continue;
      const s = { ...base, ...deviceOverrides(dev) };
      if (!s.backupStatusEmailEnabled) continue;
      const list = byUser.get(dev.userId) ?? [];
      list.push({ dev, s });
      byUser.set(dev.userId, list);
    }
    const lastSent = await this.d.store.statusEmailsSentAt([...byUser.keys()]);
    const sent: SentStatusEmail[] = [];
    for (const [userId, devices] of byUser) {
      const first = devices[0]?.dev;
      if (first === undefined) continue;
      const to = first.email !== null && isEmail(first.email) ? first.email : isEmail(first.username) ? first.username : null;
      if (to === null) {
        this.d.log.debug({ userId }, "backup status email skipped: the user has no email address");
        continue;
      }
      const everyMs = Math.min(...devices.map((x) => x.s.backupStatusEmailFreqInMinutes)) * MINUTE_MS;
      const since = lastSent.get(userId) ?? Math.min(...devices.map((x) => x.dev.createdAt));
      if (now - since < everyMs) continue;
      const rows = devices.map(({ dev, s }) => ({
        dev,
        state: stateByMinutes(now - (dev.lastCompletedBackupAt ?? dev.createdAt), s.minutesUntilWarning, s.minutesUntilSevere),
      }));
      const count = (st: BackupState) => rows.filter((x) => x.state === st).length;
      const data: TemplateData = {
        username: first.username,
        reportDate: isoDate(now),
        deviceCount: rows.length,
        okCount: count("OK"),
        warningCount: count("WARNING"),
        criticalCount: count("CRITICAL"),
        authorityUrl: this.o.authorityUrl ?? "",
        devices: rows.map(({ dev, state }) => ({
          status: state,
          deviceName: dev.deviceName,
          lastBackup: dev.lastCompletedBackupAt === null ? "never" : isoTime(dev.lastCompletedBackupAt),
          idleText: idleText(now - (dev.lastCompletedBackupAt ?? dev.createdAt)),
          lastBackupText:
            dev.lastCompletedBackupAt === null
              ? `never (registered ${idleText(now - dev.createdAt)} ago)`
              : `${isoTime(dev.lastCompletedBackupAt)} (${idleText(now - dev.lastCompletedBackupAt)} ago)`,
          selectedFiles: dev.selectedFiles,
          selectedSize: size(dev.selectedBytes),
          todoFiles: dev.todoFiles,
          todoSize: size(dev.todoBytes),
          archiveSize: size(dev.archiveBytes),
        })),
      };
      try {
        const text = this.templates.render("backup-status.txt", data);
        const html = this.templates.render("backup-status.html", data);
        await this.mailer().sendMail({ from: this.o.from ?? "Cairn <cairn@localhost>", to, subject: text.subject, text: text.body, html: html.body });
        await this.d.store.transaction((tx) => tx.setStatusEmailSentAt(userId, now));
        sent.push({ userId, to, devices: rows.length });
      } catch (err) {
        this.d.log.warn({ err, userId }, "backup status email not sent");
      }
    }
    if (sent.length > 0) this.d.log.info({ users: sent.length }, "backup status emails sent");
    return sent;
  }
}

type ReportFields = Pick<
  DeviceDefaults,
  "minutesUntilWarning" | "minutesUntilSevere" | "warningEmailEnabled" | "severeEmailEnabled" | "backupStatusEmailEnabled" | "backupStatusEmailFreqInMinutes"
>;

const NUMBER_FIELDS = ["minutesUntilWarning", "minutesUntilSevere", "backupStatusEmailFreqInMinutes"] as const;
const BOOLEAN_FIELDS = ["warningEmailEnabled", "severeEmailEnabled", "backupStatusEmailEnabled"] as const;

/** The alert and status-email fields a device overrides in its own settings (PUT /api/Computer), if any. */
function deviceOverrides(dev: ReportDevice): Partial<ReportFields> {
  if (dev.settingsJson === null) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(dev.settingsJson);
  } catch {
    return {};
  }
  const obj = (typeof raw === "object" && raw !== null ? ((raw as { device?: unknown }).device ?? raw) : {}) as Record<string, unknown>;
  const out: Partial<ReportFields> = {};
  for (const k of NUMBER_FIELDS) {
    const v = obj[k];
    if (typeof v === "number") out[k] = v;
  }
  for (const k of BOOLEAN_FIELDS) {
    const v = obj[k];
    if (typeof v === "boolean") out[k] = v;
  }
  return out;
}
