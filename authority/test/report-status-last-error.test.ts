/**
 * `report-status` `lastError` (RELIABILITY T20 in the console): a device's failed backup to an
 * archive is kept and shown in backupUsage; a report without the field (an older agent) leaves it;
 * `null` clears it; a rollback is audited once when it starts, not at every retry.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DeviceFixture, deviceFixture, type TestDevice } from "./device-fixture.js";
import { dataOf } from "./api-fixture.js";

describe("report-status lastError", () => {
  let f: DeviceFixture;
  let dev: TestDevice;
  beforeAll(async () => {
    f = await deviceFixture();
    dev = await f.device({ username: "lee@example.com" });
  });
  afterAll(async () => {
    await f?.dispose();
  });

  const report = (lastError?: { code: string; message: string; at: number } | null) =>
    dev.link.peer.call("report-status", {
      agentVersion: "cairn-agent/0.1.0",
      destinations: [
        {
          destinationGuid: f.dest.guid,
          archiveGuid: dev.archiveGuid as string,
          selectedFiles: 1,
          selectedBytes: 1,
          todoFiles: 0,
          todoBytes: 0,
          lastBackup: null,
          lastCompletedBackup: null,
          backingUp: false,
          restoring: false,
          ...(lastError !== undefined ? { lastError } : {}),
        },
      ],
    });
  const shown = async () => {
    const c = dataOf<{ backupUsage: Array<{ lastError: unknown }> }>(await f.admin.get(`/api/Computer/${dev.computerId}?incBackupUsage=True`));
    return c.backupUsage[0]?.lastError;
  };
  const rollbackAudits = async () =>
    dataOf<{ auditEntries: unknown[] }>(await f.admin.get("/api/v1/audit-log?action=archive.rollback-detected&pgNum=1&pgSize=100")).auditEntries.length;

  it("keeps, shows, leaves alone without the field, clears with null, and audits a rollback once", async () => {
    expect(await shown()).toBeNull();
    await report({ code: "ROLLBACK_DETECTED", message: "the node's head is older", at: Date.UTC(2026, 11, 4, 4) });
    expect(await shown()).toMatchObject({ code: "ROLLBACK_DETECTED", message: "the node's head is older", date: "2026-12-04T04:00:00.000Z" });
    expect(await rollbackAudits()).toBe(1);
    // the device retries and fails again: the same warning, no second audit entry
    await report({ code: "ROLLBACK_DETECTED", message: "the node's head is older", at: Date.UTC(2026, 11, 4, 5) });
    expect(await rollbackAudits()).toBe(1);
    // an agent that does not send the field changes nothing
    await report();
    expect(await shown()).toMatchObject({ code: "ROLLBACK_DETECTED" });
    await report(null);
    expect(await shown()).toBeNull();
  });
});
