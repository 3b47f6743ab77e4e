/**
 * Backup reports and alert emails over a real SMTP server on 127.0.0.1 (seed 001 "Reporting",
 * DECISIONS.md "Thresholds"): the scheduled report reaches the org's recipients on a report
 * day (injected clock) and only then, once a day; an org with its own reporting settings gets
 * its own report on its own days; the "Email backup report" action; warning and critical alert
 * emails to device users at the device thresholds, once per level; templates an operator
 * replaces; the schedules registered with node-cron.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DAY_MS, HOUR_MS, ManualClock } from "@cairn/protocol";
import { getTasks } from "node-cron";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alertTaskName, operationsOf, reportTaskName } from "../src/operations-plugins.js";
import { renderTemplate } from "../src/reports/templates.js";
import { startTestAuthority, type TestAuthority } from "../src/testing.js";
import { type Caller, caller, createOrg, createUser, dataOf, errorName, PartBRows } from "./api-fixture.js";
import { startSmtp, type TestSmtp } from "./smtp-fixture.js";

// Monday 1 June 2026, 07:00 UTC (the default schedule "_M_____" reports on Mondays)
const MONDAY = Date.UTC(2026, 5, 1, 7, 0, 0);
const clock = new ManualClock(MONDAY);
let smtp: TestSmtp;
let a: TestAuthority;
let admin: Caller;
let rows: PartBRows;
let child: { orgId: number; orgUid: string };
let templatesDir: string;
let dest: { destinationId: number };

function device(userId: number, name: string, lastCompleted: number | null, createdAt = MONDAY - 30 * DAY_MS): number {
  const d = rows.device(userId, name, createdAt);
  rows.archive(d.deviceId, userId, dest.destinationId, { selectedFiles: 1, selectedBytes: 1, todoFiles: 0, todoBytes: 0, archiveBytes: 2048, lastCompleted });
  return d.deviceId;
}

beforeAll(async () => {
  smtp = await startSmtp();
  templatesDir = mkdtempSync(join(tmpdir(), "cairn-templates-"));
  a = await startTestAuthority({
    clock,
    operations: { reportSchedule: "0 7 * * *", alertSchedule: "*/20 * * * *", mail: { smtp: smtp.smtp, from: "Cairn <cairn@example.com>", templatesDir } },
  });
  admin = await caller(a, a.adminUsername, a.adminPassword);
  rows = new PartBRows(a);
  dest = rows.destination("Primary");
  const top = await createUser(admin, a.orgUid, "topuser@example.com");
  device(top.userId, "fresh-box", MONDAY - HOUR_MS);
  device(top.userId, "stale-box", MONDAY - 4 * DAY_MS);
  device(top.userId, "never-box", null, MONDAY - 10 * DAY_MS);
  child = await createOrg(admin, "Reports child", a.orgUid);
  dataOf(
    await admin.send("PUT", `/api/v1/orgs/${child.orgId}/settings`, {
      groups: { reporting: { values: { recipients: ["boss@example.com"], reportSchedule: "___W___", warnInDays: 1, alertInDays: 2 } } },
    }),
  );
  const c = await createUser(admin, child.orgUid, "childuser@example.com");
  device(c.userId, "child-box", MONDAY - 1.5 * DAY_MS);
});
afterAll(async () => {
  rows.close();
  await a.dispose();
  await smtp.close();
  rmSync(templatesDir, { recursive: true, force: true });
});

describe("scheduled backup reports", () => {
  it("registers the report and alert schedules with node-cron", () => {
    const byName = new Map([...getTasks().values()].map((t) => [t.name, t]));
    expect(byName.get(reportTaskName(a.ctx.authorityGuid))?.getPattern()).toBe("0 7 * * *");
    expect(byName.get(alertTaskName(a.ctx.authorityGuid))?.getPattern()).toBe("*/20 * * * *");
  });

  it("sends nothing on a day that is not a report day", async () => {
    expect(await operationsOf(a.ctx).reports.sendDue(MONDAY - DAY_MS)).toEqual([]);
    expect(smtp.messages).toHaveLength(0);
  });

  it("sends the report on a report day to the recipients (the first administrator by default), once that day", async () => {
    const sent = await operationsOf(a.ctx).reports.sendDue(MONDAY);
    expect(sent.map((s) => s.recipients)).toEqual([[a.adminUsername]]);
    expect(smtp.messages).toHaveLength(1);
    const m = smtp.messages[0];
    expect(m?.to).toEqual([a.adminUsername]);
    expect(m?.from).toBe("cairn@example.com");
    expect(m?.subject).toBe("Backup report for Top Org: 1 critical, 1 warning");
    // the top org's report covers its child, whose devices are judged by the top org's thresholds here
    for (const name of ["fresh-box", "stale-box", "never-box", "child-box"]) expect(m?.raw).toContain(name);
    expect(m?.raw).toMatch(/CRITICAL\s+never-box/);
    expect(await operationsOf(a.ctx).reports.sendDue(MONDAY + 3 * HOUR_MS)).toEqual([]);
    expect(smtp.messages).toHaveLength(1);
  });

  it("an org with its own reporting settings gets its own report on its own days, with its thresholds", async () => {
    const wednesday = MONDAY + 2 * DAY_MS;
    const sent = await operationsOf(a.ctx).reports.sendDue(wednesday);
    // the first administrator is a recipient by default; the additional recipient adds to it
    expect(sent.map((s) => [s.orgId, s.recipients])).toEqual([[child.orgId, [a.adminUsername, "boss@example.com"]]]);
    const m = smtp.messages.at(-1);
    expect(m?.to).toEqual([a.adminUsername, "boss@example.com"]);
    expect(m?.subject).toBe("Backup report for Reports child: 1 critical, 0 warning");
  });
});

describe("the Email backup report action", () => {
  it("sends the report now to the given recipients, or to the org's", async () => {
    const n = smtp.messages.length;
    const r = dataOf(await admin.send("POST", `/api/v1/orgs/${child.orgId}/backup-report`, { recipients: ["ops@example.com", "cto@example.com"], days: 14 }));
    expect(r).toMatchObject({ recipients: ["ops@example.com", "cto@example.com"], devices: 1 });
    expect(smtp.messages[n]?.to).toEqual(["ops@example.com", "cto@example.com"]);
    expect(smtp.messages[n]?.raw).toContain("the last 14 days");
    dataOf(await admin.send("POST", `/api/v1/orgs/${child.orgId}/backup-report`, { recipients: null }));
    expect(smtp.messages[n + 1]?.to).toEqual([a.adminUsername, "boss@example.com"]);
    expect((await admin.send("POST", `/api/v1/orgs/${child.orgId}/backup-report`, { recipients: ["not-an-address"] })).status).toBe(400);
  });

  it("is refused to an Org Manager and invisible to another org's admin", async () => {
    await createUser(admin, child.orgUid, "mgr@example.com", ["Org Manager"]);
    const other = await createOrg(admin, "Elsewhere", a.orgUid);
    await createUser(admin, other.orgUid, "elsewhere@example.com", ["Org Admin"]);
    expect(errorName(await (await caller(a, "mgr@example.com", "password123")).send("POST", `/api/v1/orgs/${child.orgId}/backup-report`, {}))).toBe(
      "FORBIDDEN",
    );
    expect(errorName(await (await caller(a, "elsewhere@example.com", "password123")).send("POST", `/api/v1/orgs/${child.orgId}/backup-report`, {}))).toBe(
      "NOT_FOUND",
    );
  });

  it("uses a template the operator put in the templates folder, without a restart", async () => {
    writeFileSync(join(templatesDir, "backup-report.txt"), "Subject: [ACME] {{orgName}} backups\n\nDevices: {{deviceCount}}\n");
    dataOf(await admin.send("POST", `/api/v1/orgs/${child.orgId}/backup-report`, {}));
    const m = smtp.messages.at(-1);
    expect(m?.subject).toBe("[ACME] Reports child backups");
    expect(m?.raw).toContain("Devices: 1");
    rmSync(join(templatesDir, "backup-report.txt"));
  });

  it("answers UNAVAILABLE when the authority has no SMTP server", async () => {
    const b = await startTestAuthority({ clock });
    const bAdmin = await caller(b, b.adminUsername, b.adminPassword);
    const org = (await b.ctx.store.getTopLevelOrg())?.orgId;
    expect(errorName(await bAdmin.send("POST", `/api/v1/orgs/${org}/backup-report`, {}))).toBe("UNAVAILABLE");
    await b.dispose();
  });
});

describe("report recipients (seed 001 Reporting c–e)", () => {
  it("are the first administrator, the org's admins and the Additional recipients, each once", async () => {
    const reports = operationsOf(a.ctx).reports;
    const top = (await a.ctx.store.getTopLevelOrg()) ?? expect.unreachable();
    // a fresh authority: the first administrator, and nothing stored in Additional recipients
    expect(await reports.recipientsOf(top)).toEqual([a.adminUsername]);
    // adding an additional recipient does not drop the first administrator
    dataOf(await admin.send("PUT", `/api/v1/orgs/${top.orgId}/settings`, { groups: { reporting: { values: { recipients: ["extra@example.com"] } } } }));
    expect(await reports.recipientsOf(top)).toEqual([a.adminUsername, "extra@example.com"]);
    // the child's admins receive its report; managers, admins of other orgs, blocked admins and plain users do not
    await createUser(admin, child.orgUid, "child-admin@example.com", ["Org Admin"]);
    const blocked = await createUser(admin, child.orgUid, "blocked-admin@example.com", ["Org Admin"]);
    expect((await admin.send("PUT", `/api/UserBlock/${blocked.userId}`)).status).toBe(204);
    await createUser(admin, child.orgUid, "child-manager@example.com", ["Org Manager"]);
    await createUser(admin, a.orgUid, "top-admin@example.com", ["Org Admin"]);
    const childOrg = (await a.ctx.store.getOrg(child.orgId)) ?? expect.unreachable();
    // an admin listed among the additional recipients too is sent one copy
    dataOf(
      await admin.send("PUT", `/api/v1/orgs/${child.orgId}/settings`, {
        groups: { reporting: { values: { recipients: ["boss@example.com", "CHILD-ADMIN@example.com"] } } },
      }),
    );
    expect(await reports.recipientsOf(childOrg)).toEqual([a.adminUsername, "child-admin@example.com", "boss@example.com"]);
    expect(await reports.recipientsOf(top)).toEqual([a.adminUsername, "top-admin@example.com", "extra@example.com"]);
    // the "Recipients" display
    expect(dataOf(await admin.get(`/api/v1/orgs/${child.orgId}/report-recipients`))).toEqual({
      recipients: [a.adminUsername, "child-admin@example.com", "boss@example.com"],
      firstAdministrator: a.adminUsername,
      orgAdmins: ["child-admin@example.com"],
      additional: ["boss@example.com", "CHILD-ADMIN@example.com"],
    });
    expect((await admin.get("/api/v1/orgs/999999/report-recipients")).status).toBe(404);
    // the scheduled reports go to them
    const n = smtp.messages.length;
    const sent = await reports.sendDue(MONDAY + 9 * DAY_MS);
    expect(sent.map((x) => [x.orgId, x.recipients])).toEqual([[child.orgId, [a.adminUsername, "child-admin@example.com", "boss@example.com"]]]);
    expect(smtp.messages[n]?.to).toEqual([a.adminUsername, "child-admin@example.com", "boss@example.com"]);
  });
});

describe("alert emails", () => {
  it("emails a device's user at the warning and then the critical threshold, once per level", async () => {
    const u = await createUser(admin, a.orgUid, "alerted@example.com");
    const t0 = MONDAY + 10 * DAY_MS;
    const id = device(u.userId, "alerted-box", t0);
    const reports = operationsOf(a.ctx).reports;
    const mine = async (now: number) => (await reports.sendAlerts(now)).filter((x) => x.deviceId === id);
    expect(await mine(t0 + 2 * DAY_MS)).toEqual([]);
    expect(await mine(t0 + 3 * DAY_MS + HOUR_MS)).toEqual([{ deviceId: id, level: "warning", to: "alerted@example.com" }]);
    const warn = smtp.messages.at(-1);
    expect(warn?.to).toEqual(["alerted@example.com"]);
    expect(warn?.subject).toBe("Warning: alerted-box has not completed a backup for 3 days");
    expect(await mine(t0 + 4 * DAY_MS)).toEqual([]);
    expect(await mine(t0 + 5 * DAY_MS + HOUR_MS)).toEqual([{ deviceId: id, level: "critical", to: "alerted@example.com" }]);
    expect(smtp.messages.at(-1)?.subject).toMatch(/^Critical: alerted-box/);
    expect(await mine(t0 + 9 * DAY_MS)).toEqual([]);
  });
});

describe("templates", () => {
  it("repeats sections, renders empty-list sections and escapes values in HTML", () => {
    const t = "Subject: {{n}} items\n\n{{#items}}\n- {{name}}\n{{/items}}\n{{^items}}\nnone\n{{/items}}\nend\n";
    expect(renderTemplate(t, { n: 2, items: [{ name: "a" }, { name: "b" }] })).toEqual({ subject: "2 items", body: "- a\n- b\nend\n" });
    expect(renderTemplate(t, { n: 0, items: [] }).body).toBe("none\nend\n");
    expect(renderTemplate("Subject: x\n\n<b>{{v}}</b>", { v: "<script>&" }, true).body).toBe("<b>&lt;script&gt;&amp;</b>");
    expect(() => renderTemplate("no subject", {})).toThrow(/Subject/);
  });
});
