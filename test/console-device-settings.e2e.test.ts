/**
 * One device's backup settings in the console (seed 001: settings at the organization, user and
 * device levels) in a real browser against a real authority and a registered agent: change a
 * value for this device only and see the authority keep it; a value the organization locks is
 * shown locked and cannot be changed; "Use organization defaults" brings the device back to its
 * organization's values.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { registerAgent } from "@cairn/agent";
import { systemClock } from "@cairn/protocol";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConsoleEnv, startConsoleEnv } from "../authority/console/e2e/harness.js";

interface DeviceJson {
  computerId: number;
  settings?: { serviceBackupConfig?: Record<string, unknown> };
}

describe("console: a device's backup settings", () => {
  const logger = pino({ level: "silent" });
  let env: ConsoleEnv;
  let root: string;
  let computerId: number;
  let topOrgId: number;
  const scalar = (v: unknown) => (v && typeof v === "object" && "#text" in v ? (v as { "#text": unknown })["#text"] : v);
  const deviceValue = async (field: string) => {
    const d = await env.api.get<DeviceJson>(`/api/Computer/${computerId}`, { incSettings: true });
    return Number(scalar(d.settings?.serviceBackupConfig?.[field]));
  };
  const open = async () => {
    await env.goto(`#/devices/${computerId}`);
    await env.page.getByTestId("device-actions").click();
    await env.page.getByRole("menuitem", { name: "Backup settings" }).click();
    await env.page.getByTestId("device-settings").waitFor();
  };

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "cairn-console-devset-"));
    env = await startConsoleEnv();
    const top = await env.api.get<{ orgId: number; orgUid: string }>("/api/Org/my");
    topOrgId = top.orgId;
    await env.api.post("/api/User", {
      orgUid: top.orgUid,
      username: "dee@example.com",
      email: "dee@example.com",
      password: "dee-password-1",
      firstName: "Dee",
      lastName: "Park",
      notes: null,
    });
    const reg = await registerAgent({
      dataDir: join(root, "agent"),
      authorityUrl: env.url,
      authorityFingerprint: env.fingerprint,
      registrationKey: env.registrationKey,
      username: "dee@example.com",
      password: "dee-password-1",
      deviceName: "dee-laptop",
      clock: systemClock,
      logger,
    });
    const d = await env.api.get<DeviceJson>(`/api/Computer/${reg.guid}`, { idType: "guid" });
    computerId = d.computerId;
    await env.signIn();
  }, 120_000);
  afterAll(async () => {
    await env?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("keeps a value changed for this device only, and the organization's defaults stay as they were", async () => {
    const { page } = env;
    await open();
    const away = page.getByLabel("When the user is away, use up to", { exact: true });
    await expect(away.inputValue()).resolves.toBe("80");
    await away.fill("45");
    await page.getByTestId("save-device-settings").click();
    await page.getByTestId("toast").filter({ hasText: "Settings saved" }).first().waitFor();
    await expect.poll(() => deviceValue("cpuAwayPercent")).toBe(45);
    const org = await env.api.get<{ deviceDefaults: { serviceBackupConfig: Record<string, unknown> } }>(`/api/Org/${topOrgId}`, { incDeviceDefaults: true });
    expect(Number(scalar(org.deviceDefaults.serviceBackupConfig.cpuAwayPercent))).toBe(80);
    // A fresh load shows what the authority kept.
    await page.reload();
    await page.getByTestId("device-settings").waitFor();
    await expect.poll(() => page.getByLabel("When the user is away, use up to", { exact: true }).inputValue()).toBe("45");
    await env.shot("device-settings");
  });

  it("shows a value the organization locks as locked, and the device cannot change it", async () => {
    const { page } = env;
    await env.api.put(`/api/v1/orgs/${topOrgId}/settings`, { locks: { "device.cpuPresentPercent": true } });
    try {
      await open();
      const row = page.getByTestId("setting-device.cpuPresentPercent");
      await expect(row.getByTestId("locked-badge").textContent()).resolves.toContain("Locked by");
      await expect(row.getByRole("spinbutton").isDisabled()).resolves.toBe(true);
      // A value the device may change has no lock toggle here: locks are the organization's.
      const free = page.getByTestId("setting-device.cpuAwayPercent");
      await expect(free.getByRole("spinbutton").isDisabled()).resolves.toBe(false);
      await expect(free.getByRole("button", { name: /^Lock / }).count()).resolves.toBe(0);
    } finally {
      await env.api.put(`/api/v1/orgs/${topOrgId}/settings`, { locks: { "device.cpuPresentPercent": false } });
    }
  });

  it("goes back to the organization's defaults", async () => {
    const { page } = env;
    await open();
    await expect.poll(() => page.getByLabel("When the user is away, use up to", { exact: true }).inputValue()).toBe("45");
    await page.getByTestId("use-org-defaults").click();
    const dialog = page.getByTestId("use-org-defaults-dialog");
    await dialog.getByRole("button", { name: "Use organization defaults" }).click();
    await page.getByTestId("toast").filter({ hasText: "uses the organization's device backup defaults" }).first().waitFor();
    await expect.poll(() => deviceValue("cpuAwayPercent")).toBe(80);
    await expect.poll(() => page.getByLabel("When the user is away, use up to", { exact: true }).inputValue()).toBe("80");
  });
});
