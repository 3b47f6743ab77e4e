/**
 * Backup reports and alert emails over a real SMTP server on 127.0.0.1 with all three daemons
 * (seed 001 "Reporting"): the scheduled report reaches the first administrator on a report day
 * (the injected time of the run) and lists the cluster's real device with its last completed
 * backup; the "Email backup report" action sends one at once to the given recipients; a device
 * past the warning threshold gets its user an alert email.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { operationsOf } from "@cairn/authority";
import { DAY_MS, HOUR_MS, systemClock } from "@cairn/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSmtp, type TestSmtp } from "../authority/test/smtp-fixture.js";
import { type Cluster, startCluster } from "./helpers/cluster.js";

let c: Cluster;
let smtp: TestSmtp;

/** The next Monday 07:00 UTC at least a day after now (the default schedule reports on Mondays). */
function nextMonday(): number {
  const d = new Date(systemClock.now() + DAY_MS);
  const days = (8 - d.getUTCDay()) % 7;
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + days, 7, 0, 0);
}

beforeAll(async () => {
  smtp = await startSmtp();
  c = await startCluster({ agents: 1 });
  operationsOf(c.authority.ctx).reports.configure({ smtp: smtp.smtp, from: "Cairn <reports@example.com>" });
  const a = c.agents[0]!;
  writeFileSync(join(a.home, "file.txt"), "reported\n");
  a.select();
  expect((await a.backup()).errors).toBe(0);
}, 90_000);
afterAll(async () => {
  await c?.dispose();
  await smtp?.close();
});

describe("backup reports over SMTP", () => {
  it("sends the scheduled report on a report day to the first administrator, listing the real device", async () => {
    const reports = operationsOf(c.authority.ctx).reports;
    const monday = nextMonday();
    expect(await reports.sendDue(monday - DAY_MS)).toEqual([]);
    const sent = await reports.sendDue(monday);
    expect(sent.map((s) => s.recipients)).toEqual([[c.authority.adminUsername]]);
    const m = smtp.messages.at(-1);
    expect(m?.to).toEqual([c.authority.adminUsername]);
    expect(m?.from).toBe("reports@example.com");
    expect(m?.subject).toMatch(/^Backup report for Top Org: /);
    expect(m?.raw).toContain("device-1");
    expect(m?.raw).toContain(c.agents[0]?.username);
  });

  it("sends the report at once from the Email backup report action", async () => {
    const py = c.authority.py42();
    const org = ((await py.data("GET", "/api/Org/my")) as { orgId: number }).orgId;
    const r = (await py.data("POST", `/api/v1/orgs/${org}/backup-report`, { recipients: ["ops@example.com"], days: 7 })) as {
      recipients: string[];
      devices: number;
    };
    expect(r).toMatchObject({ recipients: ["ops@example.com"], devices: 1 });
    expect(smtp.messages.at(-1)?.to).toEqual(["ops@example.com"]);
    expect(smtp.messages.at(-1)?.raw).toMatch(/OK\s+device-1/);
  });

  it("emails the device's user when it passes the warning threshold", async () => {
    const sent = await operationsOf(c.authority.ctx).reports.sendAlerts(systemClock.now() + 3 * DAY_MS + HOUR_MS);
    expect(sent).toEqual([expect.objectContaining({ level: "warning", to: c.agents[0]?.username })]);
    expect(smtp.messages.at(-1)?.subject).toMatch(/^Warning: device-1 has not completed a backup/);
  });
});
