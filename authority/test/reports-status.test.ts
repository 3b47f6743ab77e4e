/**
 * The user backup status email and the period of the backup report, over a real SMTP server on
 * 127.0.0.1 with an injected clock:
 * - seed 001 "Device backup defaults › Reporting": a user whose devices' effective settings have
 *   `backupStatusEmailEnabled` gets a summary of them once `backupStatusEmailFreqInMinutes` has
 *   passed, then not again before the next interval; the time sent survives in the database; a
 *   user with the setting off, and a user without an email address, get none; a device's own
 *   override counts;
 * - seed 001 "Email backup report for a specified period": the report's figures depend on `days`.
 */
import { join } from "node:path";
import { DAY_MS, HOUR_MS, MINUTE_MS, ManualClock } from "@cairn/protocol";
import Database from "better-sqlite3";
import { getTasks } from "node-cron";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { operationsOf, statusEmailTaskName } from "../src/operations-plugins.js";
import { startTestAuthority, type TestAuthority } from "../src/testing.js";
import { type Caller, caller, createOrg, createUser, dataOf, PartBRows } from "./api-fixture.js";
import { type ReceivedMail, startSmtp, type TestSmtp } from "./smtp-fixture.js";

const T0 = Date.UTC(2026, 5, 1, 7, 0, 0);
const clock = new ManualClock(T0);
// never during a test run: the test calls sendStatusEmails itself
const STATUS_SCHEDULE = "0 0 1 1 *";
let smtp: TestSmtp;
let a: TestAuthority;
let admin: Caller;
let rows: PartBRows;
let db: Database.Database;
let dest: { destinationId: number };
let statusOrg: { orgId: number; orgUid: string };
let periodOrg: { orgId: number; orgUid: string };

/** The text/plain part of a message, quoted-printable decoded. */
function plainText(m: ReceivedMail | undefined): string {
  const raw = m?.raw ?? "";
  const part = /Content-Type: text\/plain[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n([\s\S]*?)\r\n--/i.exec(raw)?.[1] ?? raw;
  return part.replace(/=\r\n/g, "").replace(/=([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
}

const to = (userId: number) => (sent: { userId: number }[]) => sent.filter((s) => s.userId === userId);

beforeAll(async () => {
  smtp = await startSmtp();
  a = await startTestAuthority({
    clock,
    operations: {
      statusEmailSchedule: STATUS_SCHEDULE,
      mail: { smtp: smtp.smtp, from: "Cairn <cairn@example.com>", authorityUrl: "https://cairn.example.com" },
    },
  });
  admin = await caller(a, a.adminUsername, a.adminPassword);
  rows = new PartBRows(a);
  db = new Database(join(a.dataDir, "authority.db"));
  db.pragma("busy_timeout = 5000");
  dest = rows.destination("Primary");
  statusOrg = await createOrg(admin, "Status on", a.orgUid);
  dataOf(
    await admin.send("PUT", `/api/v1/orgs/${statusOrg.orgId}/settings`, {
      groups: { device: { values: { backupStatusEmailEnabled: true, backupStatusEmailFreqInMinutes: 1440 } } },
    }),
  );
  periodOrg = await createOrg(admin, "Period org", a.orgUid);
});
afterAll(async () => {
  db.close();
  rows.close();
  await a.dispose();
  await smtp.close();
});

describe("backup status email", () => {
  it("is scheduled with node-cron", () => {
    const byName = new Map([...getTasks().values()].map((t) => [t.name, t]));
    expect(byName.get(statusEmailTaskName(a.ctx.authorityGuid))?.getPattern()).toBe(STATUS_SCHEDULE);
  });

  it("mails a user with the setting on once per interval, with their devices' figures; nobody else", async () => {
    const reports = operationsOf(a.ctx).reports;
    const on = await createUser(admin, statusOrg.orgUid, "on@example.com");
    const d = rows.device(on.userId, "on-box", T0);
    rows.archive(d.deviceId, on.userId, dest.destinationId, {
      selectedFiles: 1234,
      selectedBytes: 5 * 1024 * 1024,
      todoFiles: 7,
      todoBytes: 2048,
      archiveBytes: 4 * 1024 * 1024,
      lastCompleted: T0 + HOUR_MS,
    });
    // setting off (the top org's defaults): nothing ever
    const off = await createUser(admin, a.orgUid, "off@example.com");
    rows.device(off.userId, "off-box", T0 - 30 * DAY_MS);
    // setting on, but no email address (and a username that is not one)
    const noAddress = await createUser(admin, statusOrg.orgUid, "no-address");
    rows.device(noAddress.userId, "no-address-box", T0 - 30 * DAY_MS);

    // the interval (1 day) has not passed since the device registered
    // (the scheduled task runs sendStatusEmails with the authority's clock)
    clock.set(T0 + 12 * HOUR_MS);
    expect(to(on.userId)(await reports.sendStatusEmails(clock.now()))).toEqual([]);
    const n = smtp.messages.length;
    clock.advance(12 * HOUR_MS + MINUTE_MS);
    const first = await reports.sendStatusEmails(clock.now());
    expect(first).toEqual([{ userId: on.userId, to: "on@example.com", devices: 1 }]);
    expect(smtp.messages).toHaveLength(n + 1);
    const m = smtp.messages.at(-1);
    expect(m?.to).toEqual(["on@example.com"]);
    expect(m?.subject).toBe("Backup status of your devices: 0 critical, 0 warning, 1 OK");
    const text = plainText(m);
    expect(text).toContain("Hello on@example.com");
    expect(text).toMatch(/OK\s+on-box/);
    expect(text).toContain("Last completed backup: 2026-06-01T08:00:00.000Z");
    expect(text).toContain("Selected for backup: 1234 files, 5.0 MB");
    expect(text).toContain("Still to back up: 7 files, 2.0 KB");
    expect(m?.raw).toContain("text/html");
    for (const x of smtp.messages) expect(x.to).not.toContain("off@example.com");

    // not again before the next interval; then once more
    clock.advance(12 * HOUR_MS);
    expect(await reports.sendStatusEmails(clock.now())).toEqual([]);
    expect(smtp.messages).toHaveLength(n + 1);
    clock.advance(12 * HOUR_MS + MINUTE_MS);
    const second = clock.now();
    expect(await reports.sendStatusEmails(second)).toEqual([{ userId: on.userId, to: "on@example.com", devices: 1 }]);
    expect(smtp.messages).toHaveLength(n + 2);
    // the time sent is in the database, per user
    expect(await a.ctx.store.statusEmailsSentAt([on.userId, off.userId, noAddress.userId])).toEqual(new Map([[on.userId, second]]));
    // back to the time the admin's session was issued at
    clock.set(T0);
  });

  it("follows a device's own override, and its state against the device thresholds", async () => {
    const reports = operationsOf(a.ctx).reports;
    const u = await createUser(admin, a.orgUid, "override@example.com");
    const d = rows.device(u.userId, "override-box", T0 - 30 * DAY_MS);
    rows.archive(d.deviceId, u.userId, dest.destinationId, {
      selectedFiles: 1,
      selectedBytes: 1,
      todoFiles: 0,
      todoBytes: 0,
      archiveBytes: 1,
      lastCompleted: T0 - 4 * DAY_MS,
    });
    db.prepare("UPDATE devices SET settings_json = ? WHERE device_id = ?").run(
      JSON.stringify({ backupStatusEmailEnabled: true, backupStatusEmailFreqInMinutes: 60 }),
      d.deviceId,
    );
    const now = T0 + 3 * DAY_MS;
    expect(to(u.userId)(await reports.sendStatusEmails(now))).toEqual([{ userId: u.userId, to: "override@example.com", devices: 1 }]);
    const m = smtp.messages.find((x) => x.to.includes("override@example.com"));
    // 7 days without a completed backup: past minutesUntilSevere (5 days by default)
    expect(m?.subject).toBe("Backup status of your devices: 1 critical, 0 warning, 0 OK");
    expect(plainText(m)).toMatch(/CRITICAL\s+override-box/);
    // every 60 minutes for this device
    expect(to(u.userId)(await reports.sendStatusEmails(now + 30 * MINUTE_MS))).toEqual([]);
    expect(to(u.userId)(await reports.sendStatusEmails(now + 61 * MINUTE_MS))).toHaveLength(1);
  });
});

describe("backup report for a specified period", () => {
  it("counts a device as backed up within the period by its last completed backup, and restores in the period", async () => {
    const reports = operationsOf(a.ctx).reports;
    const u = await createUser(admin, periodOrg.orgUid, "period@example.com");
    const now = T0 + 10 * DAY_MS;
    const d = rows.device(u.userId, "three-days-box", T0 - 30 * DAY_MS);
    rows.archive(d.deviceId, u.userId, dest.destinationId, {
      selectedFiles: 1,
      selectedBytes: 1,
      todoFiles: 0,
      todoBytes: 0,
      archiveBytes: 1,
      lastCompleted: now - 3 * DAY_MS,
    });
    // a restore from it that completed 2 days ago (2 MB)
    await a.ctx.store.transaction((tx) =>
      tx.insertRestoreEvent({
        eventUid: "period-restore-1",
        jobId: "period-job-1",
        restoreType: "WEB",
        status: "COMPLETED",
        sourceDeviceId: d.deviceId,
        acceptingDeviceId: null,
        sourceUserId: u.userId,
        requestingUserId: u.userId,
        orgId: periodOrg.orgId,
        numFiles: 3,
        numBytes: 2 * 1024 * 1024,
        startedAt: now - 2 * DAY_MS - MINUTE_MS,
        completedAt: now - 2 * DAY_MS,
        eventAt: now - 2 * DAY_MS,
      }),
    );
    const org = (await a.ctx.store.getOrg(periodOrg.orgId)) ?? expect.unreachable();
    const week = await reports.reportData(org, 7, now);
    const day = await reports.reportData(org, 1, now);
    expect(week).toMatchObject({ days: 7, backedUpInPeriodCount: 1, notBackedUpInPeriodCount: 0, restoresInPeriod: 1, restoredInPeriod: "2.0 MB" });
    expect(day).toMatchObject({ days: 1, backedUpInPeriodCount: 0, notBackedUpInPeriodCount: 1, restoresInPeriod: 0, restoredInPeriod: "0 B" });
    expect(week.devices[0]).toMatchObject({ deviceName: "three-days-box", backedUpInPeriod: true, restoresInPeriod: 1 });
    expect(day.devices[0]).toMatchObject({ deviceName: "three-days-box", backedUpInPeriod: false, restoresInPeriod: 0 });
    // the state against the org's thresholds does not depend on the period
    expect(week.devices[0]?.status).toBe(day.devices[0]?.status);

    // and the email says so
    clock.set(now);
    const later = await caller(a, a.adminUsername, a.adminPassword);
    const n = smtp.messages.length;
    dataOf(await later.send("POST", `/api/v1/orgs/${periodOrg.orgId}/backup-report`, { recipients: ["ops@example.com"], days: 7 }));
    dataOf(await later.send("POST", `/api/v1/orgs/${periodOrg.orgId}/backup-report`, { recipients: ["ops@example.com"], days: 1 }));
    clock.set(T0);
    const [w, o] = [plainText(smtp.messages[n]), plainText(smtp.messages[n + 1])];
    expect(w).toContain("In the period: 1 devices completed a backup, 0 did not");
    expect(w).toContain("three-days-box (period@example.com, Period org): backed up in the period");
    expect(w).toContain("restores in the period 1 (2.0 MB)");
    expect(o).toContain("In the period: 0 devices completed a backup, 1 did not");
    expect(o).toContain("three-days-box (period@example.com, Period org): NOT backed up in the period");
    expect(o).toContain("restores in the period 0 (0 B)");
  });
});
