/**
 * The console's settings flows in a real browser against a real authority (issue 7): edit quotas
 * with inheritance and see the child follow the parent; lock a setting and see the child unable
 * to change it; reporting; device backup defaults and their inheritance; two-factor sign-in where
 * the organization requires it.
 */
import { ManualClock } from "@cairn/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConsoleEnv, startConsoleEnv, totpCode } from "../authority/console/e2e/harness.js";

interface OrgJson {
  orgId: number;
  orgUid: string;
  orgName: string;
}
interface Settings {
  settings: Record<string, unknown>;
  deviceDefaults: { serviceBackupConfig: { backupConfig: Record<string, unknown> } & Record<string, unknown> };
}

describe("console: organization settings", () => {
  const clock = new ManualClock(Date.now());
  let env: ConsoleEnv;
  let parent: OrgJson;
  let child: OrgJson;
  const settingsOf = (o: OrgJson) => env.api.get<Settings>(`/api/Org/${o.orgId}`, { incSettings: true, incDeviceDefaults: true, incInheritedOrgInfo: true });
  const save = async (testId: string) => {
    await env.page.getByTestId(testId).click();
    await env.page.getByTestId("toast").filter({ hasText: "Settings saved" }).first().waitFor();
  };
  const scalar = (v: unknown) => (v && typeof v === "object" && "#text" in v ? (v as { "#text": unknown })["#text"] : v);

  beforeAll(async () => {
    env = await startConsoleEnv({ clock });
    const top = await env.api.get<OrgJson>("/api/Org/my");
    parent = await env.api.post<OrgJson>("/api/Org/", { orgName: "Acme West", orgExtRef: null, notes: null, parentOrgUid: top.orgUid });
    child = await env.api.post<OrgJson>("/api/Org/", { orgName: "West Sales", orgExtRef: null, notes: null, parentOrgUid: parent.orgUid });
    await env.signIn();
  });
  afterAll(async () => {
    await env?.close();
  });

  it("never shows one organization's settings form on another's page while that one's settings load", async () => {
    const { page } = env;
    await env.goto(`#/orgs/${parent.orgId}/info?tab=quotas`);
    await page.getByTestId("quotas-form").waitFor();
    let release = (): void => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let held = 0;
    const route = `**/api/Org/${child.orgId}?**`;
    await page.route(route, async (r) => {
      held++;
      await gate;
      // a request the page aborted meanwhile (it moved on) is already settled: nothing to continue
      await r.continue().catch(() => {});
    });
    try {
      await env.goto(`#/orgs/${child.orgId}/info?tab=quotas`);
      await expect.poll(() => held).toBeGreaterThan(0);
      // the child's settings are on their way: the parent's form (whose Save would change the
      // parent) must not be on screen meanwhile (the routes key each org's screen by its id)
      await page.getByTestId("loading").first().waitFor();
      expect(await page.getByTestId("quotas-form").count()).toBe(0);
      expect(await page.getByRole("heading", { level: 1 }).filter({ hasText: "Acme West" }).count()).toBe(0);
      release();
      await page.getByRole("heading", { level: 1, name: /West Sales/ }).waitFor();
      await page.getByTestId("quotas-form").waitFor();
    } finally {
      release();
      await page.unroute(route);
    }
  });

  it("edits quotas with inheritance: the child follows the parent until it overrides", async () => {
    const { page } = env;
    await env.goto(`#/orgs/${parent.orgId}/info?tab=quotas`);
    const form = page.getByTestId("quotas-form");
    await expect(form.getByTestId("inherit-quota").isChecked()).resolves.toBe(true);
    await form.getByTestId("inherit-quota").uncheck();
    await form.getByLabel("Move deactivated archives to cold storage for", { exact: true }).fill("30");
    await save("save-quotas");
    const p1 = await settingsOf(parent);
    expect(p1.settings).toMatchObject({ isUsingQuotaDefaults: false, archiveHoldDays: 30 });

    await env.goto(`#/orgs/${child.orgId}/info?tab=quotas`);
    const cform = page.getByTestId("quotas-form");
    await expect(cform.getByTestId("inherit-quota").isChecked()).resolves.toBe(true);
    await expect(cform.getByLabel("Move deactivated archives to cold storage for", { exact: true }).inputValue()).resolves.toBe("30");
    await expect(cform.getByLabel("Move deactivated archives to cold storage for", { exact: true }).isDisabled()).resolves.toBe(true);
    await expect(cform.getByTestId("inherit-quota-from").textContent()).resolves.toContain("Acme West");
    await env.shot("org-info-quotas");

    // The parent changes: the inheriting child shows the new value.
    await env.goto(`#/orgs/${parent.orgId}/info?tab=quotas`);
    // typed only once the parent's screen shows its loaded settings (typing into the child's
    // screen still on its way out, or into a form a late load replaces, leaves Save disabled)
    const holdDays = () => page.getByTestId("quotas-form").getByLabel("Move deactivated archives to cold storage for", { exact: true });
    await page.getByRole("heading", { level: 1, name: /Acme West/ }).waitFor();
    await expect.poll(() => holdDays().inputValue()).toBe("30");
    await holdDays().fill("45");
    await save("save-quotas");
    await env.goto(`#/orgs/${child.orgId}/info?tab=quotas`);
    await expect
      .poll(() => page.getByTestId("quotas-form").getByLabel("Move deactivated archives to cold storage for", { exact: true }).inputValue())
      .toBe("45");
    expect((await settingsOf(child)).settings).toMatchObject({ isUsingQuotaDefaults: true, archiveHoldDays: 45 });

    // The child overrides: the parent's later changes no longer reach it.
    await page.getByTestId("quotas-form").getByTestId("inherit-quota").uncheck();
    await holdDays().fill("60");
    await save("save-quotas");
    await env.goto(`#/orgs/${parent.orgId}/info?tab=quotas`);
    await page.getByRole("heading", { level: 1, name: /Acme West/ }).waitFor();
    await expect.poll(() => holdDays().inputValue()).toBe("45");
    await holdDays().fill("50");
    await save("save-quotas");
    expect((await settingsOf(child)).settings).toMatchObject({ isUsingQuotaDefaults: false, archiveHoldDays: 60 });

    // A child's maximum user subscriptions never exceed its parent's.
    const seats = page.getByTestId("quotas-form").getByRole("group", { name: "Maximum user subscriptions" });
    await seats.getByRole("checkbox", { name: "Unlimited" }).uncheck();
    await seats.getByRole("spinbutton").fill("10");
    await save("save-quotas");
    await env.goto(`#/orgs/${child.orgId}/info?tab=quotas`);
    const cseats = page.getByTestId("quotas-form").getByRole("group", { name: "Maximum user subscriptions" });
    await cseats.getByRole("checkbox", { name: "Unlimited" }).uncheck();
    await cseats.getByRole("spinbutton").fill("20");
    await page.getByTestId("save-quotas").click();
    await page.getByTestId("save-error").waitFor();

    // The refused edit is still unsaved: leaving (a tab, a link) asks first, and Cancel stays.
    await page.getByRole("tab", { name: "Reporting" }).click();
    const leave = page.getByTestId("leave-dialog");
    await leave.waitFor();
    await leave.getByRole("button", { name: "Cancel" }).click();
    await leave.waitFor({ state: "detached" });
    await expect(cseats.getByRole("spinbutton").inputValue()).resolves.toBe("20");
    expect(page.url()).toContain("tab=quotas");
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Organizations", exact: true }).click();
    await leave.getByRole("button", { name: "Discard changes" }).click();
    await page.getByTestId("create-org").waitFor();
    expect(page.url()).toMatch(/#\/orgs$/);
  });

  it("locks a setting at the parent and the child cannot change it", async () => {
    const { page } = env;
    await env.goto(`#/orgs/${parent.orgId}/info?tab=security`);
    const form = page.getByTestId("security-form");
    await form.getByRole("checkbox", { name: "Inherit from parent" }).uncheck();
    await form.getByTestId("web-restores").uncheck();
    await form.getByRole("button", { name: "Lock Web restores for child organizations" }).click();
    await save("save-security");
    const packets = await env.api.get<Record<string, { value: string; locked: boolean }>>(`/api/OrgSetting/${child.orgId}`);
    expect(packets.device_webRestore_enabled).toMatchObject({ value: "false", locked: true });

    await env.goto(`#/orgs/${child.orgId}/info?tab=security`);
    const cform = page.getByTestId("security-form");
    await expect(cform.getByTestId("web-restores").isDisabled()).resolves.toBe(true);
    await expect(cform.getByTestId("web-restores").isChecked()).resolves.toBe(false);
    await expect(cform.getByTestId("locked-badge").first().textContent()).resolves.toContain("Locked by Acme West");
    await env.shot("org-info-security");
    // The authority refuses the change too.
    const r = await env.api.raw("PUT", `/api/OrgSetting/${child.orgId}`, { packets: [{ key: "device_webRestore_enabled", value: "true", locked: false }] });
    expect(r.status).toBe(400);
    expect(r.text).toContain("SETTING_LOCKED");
  });

  it("locks a quota at the parent: the child shows who locked it and cannot edit it", async () => {
    const { page } = env;
    await env.goto(`#/orgs/${parent.orgId}/info?tab=quotas`);
    await page
      .getByTestId("setting-quota.webRestoreUserLimitMb")
      .getByRole("button", { name: /^Lock Web restore limit for/ })
      .click();
    await save("save-quotas");
    await env.goto(`#/orgs/${child.orgId}/info?tab=quotas`);
    const row = page.getByTestId("setting-quota.webRestoreUserLimitMb");
    await expect(row.getByTestId("locked-badge").textContent()).resolves.toContain("Acme West");
    await expect(row.getByRole("spinbutton").isDisabled()).resolves.toBe(true);

    // The parent goes back to inheriting its quotas: its own lock can still be lifted.
    await env.goto(`#/orgs/${parent.orgId}/info?tab=quotas`);
    await page.getByRole("heading", { level: 1, name: /Acme West/ }).waitFor();
    await page.getByTestId("quotas-form").getByTestId("inherit-quota").check();
    await save("save-quotas");
    const lock = page.getByTestId("setting-quota.webRestoreUserLimitMb").getByRole("button", { name: /^Lock Web restore limit for/ });
    await expect(lock.getAttribute("aria-pressed")).resolves.toBe("true");
    await lock.click();
    await save("save-quotas");
    const meta = await env.api.get<{ settingsMeta: { ownLocks: string[] } }>(`/api/Org/${parent.orgId}`, { incSettings: true });
    expect(meta.settingsMeta.ownLocks).not.toContain("quota.webRestoreUserLimitMb");
    await env.goto(`#/orgs/${child.orgId}/info?tab=quotas`);
    await page.getByRole("heading", { level: 1, name: /West Sales/ }).waitFor();
    await expect(page.getByTestId("setting-quota.webRestoreUserLimitMb").getByTestId("locked-badge").count()).resolves.toBe(0);
  });

  it("edits reporting: its own schedule, recipients and thresholds", async () => {
    const { page } = env;
    await env.goto(`#/orgs/${child.orgId}/info?tab=reporting`);
    const form = page.getByTestId("reporting-form");
    await form.getByTestId("inherit-reporting").uncheck();
    // the first administrator always receives the report: shown, and not removable
    const always = form.getByTestId("recipient-always").filter({ hasText: "admin@example.com" });
    await always.waitFor();
    await expect(always.getByRole("button").count()).resolves.toBe(0);
    await form.getByRole("checkbox", { name: "Fri" }).check();
    await form.getByLabel("Additional recipients", { exact: true }).fill("ops@example.com");
    await form.getByRole("button", { name: "Add", exact: true }).click();
    await form.getByLabel("Warning", { exact: true }).fill("4");
    await form.getByLabel("Critical", { exact: true }).fill("9");
    await save("save-reporting");
    const s = (await settingsOf(child)).settings;
    expect(s).toMatchObject({ isUsingReportingDefaults: false, warnInDays: 4, alertInDays: 9 });
    expect(s.recipients).toContain("ops@example.com");
    expect(String(s.reportSchedule)[5]).not.toBe("_");
    await env.shot("org-info-reporting");
  });

  it("edits device backup defaults on every tab; a child using its parent's defaults follows them", async () => {
    const { page } = env;
    await env.goto(`#/orgs/${parent.orgId}/device-defaults?tab=general`);
    await page.getByTestId("inherit-device-defaults").uncheck();
    await page.getByLabel("When the user is away, use up to", { exact: true }).fill("60");
    await page.getByLabel("File exclusions (every backup set)", { exact: true }).fill("/node_modules/\n.*\\.iso$");
    await page.getByRole("tab", { name: "Backup" }).click();
    await page.getByLabel("Back up changed files every", { exact: true }).selectOption({ label: "1 hour" });
    await page.getByTestId("backup-set-1").getByLabel("Include (one path per line)", { exact: true }).fill("/home/\n/srv/data/");
    await page.getByTestId("backup-set-1").getByLabel("File exclusions (one regular expression per line)", { exact: true }).fill(".*\\.tmp$");
    await page.getByRole("tab", { name: "Reporting" }).click();
    await page.getByRole("switch", { name: "Send users a backup status email" }).check();
    await page.getByRole("tab", { name: "Security" }).click();
    await page.getByRole("radio", { name: /^Archive password/ }).waitFor();
    await page.getByRole("tab", { name: "Network" }).click();
    await page.getByLabel("Excluded wireless networks", { exact: true }).fill("Airport Wi-Fi");
    await page.getByLabel("Proxy", { exact: true }).fill("http://proxy.example.com:3128");
    await expect(page.getByLabel("Compression over WAN", { exact: true }).inputValue()).resolves.toBe("auto");
    await page.getByLabel("Compression over LAN", { exact: true }).selectOption("off");
    await page.getByRole("tab", { name: "Backup" }).click();
    await env.shot("device-backup-defaults");
    await save("save-device-defaults");
    const p = (await settingsOf(parent)).deviceDefaults.serviceBackupConfig;
    expect(scalar(p.backupConfig.frequencyMs)).toBe("3600000");
    expect(scalar(p.cpuAwayPercent)).toBe("60");
    expect(scalar(p.backupStatusEmailEnabled)).toBe("true");
    expect(JSON.stringify(p.excludedWifi)).toContain("Airport Wi-Fi");
    expect(scalar(p.proxyUrl)).toBe("http://proxy.example.com:3128");
    expect(scalar(p.lanCompression)).toBe("off");
    expect(scalar(p.wanCompression)).toBe("auto");
    expect(p.excludePatterns).toEqual(["/node_modules/", ".*\\.iso$"]);
    expect(JSON.stringify(p.backupConfig.backupSets)).toContain("/srv/data/");

    await env.goto(`#/orgs/${child.orgId}/device-defaults?tab=backup`);
    await expect(page.getByTestId("inherit-device-defaults").isChecked()).resolves.toBe(true);
    await expect.poll(() => page.getByLabel("Back up changed files every", { exact: true }).inputValue()).toBe("3600000");
    await expect(page.getByTestId("inherit-device-defaults-from").textContent()).resolves.toContain("Acme West");
    const c = (await settingsOf(child)).deviceDefaults.serviceBackupConfig;
    expect(scalar(c.backupConfig.frequencyMs)).toBe("3600000");
  });

  it("requires two-factor authentication where the organization says so: enroll, then sign in with a code", async () => {
    const { page } = env;
    await env.goto(`#/orgs/${child.orgId}/info?tab=security`);
    const form = page.getByTestId("security-form");
    await form.getByTestId("inherit-security").uncheck();
    await form.getByRole("switch", { name: "Local two-factor authentication" }).check();
    await save("save-security");
    expect((await settingsOf(child)).settings.twoFactorRequired).toBe(true);
    await env.api.post("/api/User", {
      orgUid: child.orgUid,
      username: "bo@example.com",
      email: "bo@example.com",
      password: "bo-password-1",
      firstName: "Bo",
      lastName: null,
      notes: null,
    });
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Username", { exact: true }).fill("bo@example.com");
    await page.getByLabel("Password", { exact: true }).fill("bo-password-1");
    await page.getByRole("button", { name: "Sign in" }).click();
    const secret = (await page.getByTestId("totp-secret").textContent()) ?? "";
    expect(secret).toMatch(/^[A-Z2-7]+=*$/);
    await env.shot("two-factor-enrollment");
    // A wrong code is refused on the enrollment form; the session stays open and the form stays.
    const right = totpCode(secret, clock.now());
    await page.getByLabel("Authentication code", { exact: true }).fill(right === "000000" ? "111111" : "000000");
    await page.getByRole("button", { name: "Turn on" }).click();
    await expect.poll(() => page.getByRole("alert").first().textContent()).toContain("not valid");
    await expect(page.getByTestId("totp-secret").textContent()).resolves.toBe(secret);
    await page.getByLabel("Authentication code", { exact: true }).fill(totpCode(secret, clock.now()));
    await page.getByRole("button", { name: "Turn on" }).click();
    // Signed in, or asked to sign in again with a code.
    await page
      .getByTestId("signed-in-as")
      .or(page.getByLabel("Username", { exact: true }))
      .waitFor();
    if (await page.getByLabel("Username", { exact: true }).isVisible()) {
      clock.advance(30_000);
      await page.getByLabel("Username", { exact: true }).fill("bo@example.com");
      await page.getByLabel("Password", { exact: true }).fill("bo-password-1");
      await page.getByRole("button", { name: "Sign in" }).click();
      await page.getByLabel("Authentication code", { exact: true }).fill(totpCode(secret, clock.now()));
      await page.getByRole("button", { name: "Verify" }).click();
    }
    await expect.poll(() => page.getByTestId("signed-in-as").textContent()).toBe("bo@example.com");
    await page.getByRole("button", { name: "Sign out" }).click();
    // A second sign-in needs a fresh code; a wrong one is refused.
    clock.advance(30_000);
    await page.getByLabel("Username", { exact: true }).fill("bo@example.com");
    await page.getByLabel("Password", { exact: true }).fill("bo-password-1");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByLabel("Authentication code", { exact: true }).fill("000000" === totpCode(secret, clock.now()) ? "111111" : "000000");
    await page.getByRole("button", { name: "Verify" }).click();
    await expect.poll(() => page.getByTestId("sign-in-message").textContent()).toContain("not valid");
    await env.shot("sign-in-two-factor");
    await page.getByLabel("Authentication code", { exact: true }).fill(totpCode(secret, clock.now()));
    await page.getByRole("button", { name: "Verify" }).click();
    await expect.poll(() => page.getByTestId("signed-in-as").textContent()).toBe("bo@example.com");
    await page.getByRole("button", { name: "Sign out" }).click();
    await env.signIn();
  });

  it("an org admin sees where their org's settings come from, including orgs above theirs", async () => {
    const { page } = env;
    const cy = await env.api.post<{ userId: number }>("/api/User", {
      orgUid: parent.orgUid,
      username: "cy@example.com",
      email: "cy@example.com",
      password: "cy-password-1",
      firstName: "Cy",
      lastName: null,
      notes: null,
    });
    await env.api.post("/api/UserRole", { userId: cy.userId, roleName: "Org Admin" });
    await page.getByRole("button", { name: "Sign out" }).click();
    await env.signIn("cy@example.com", "cy-password-1");
    // The console offers Cy only the pages an Org Admin can use: no Storage pages, no system-wide
    // Settings › Organization, no Legal hold (their calls would answer 403), the audit log of Cy's subtree.
    const nav = page.getByRole("navigation", { name: "Main" });
    await expect
      .poll(() => nav.getByRole("link").allTextContents())
      .toEqual(["Organizations", "Users", "Devices", "Restore files", "Restore history", "Cold storage", "Audit log"]);
    // Acme West is the top of what Cy sees: like the top-level org, it cannot be moved or
    // deactivated from here (seed 001 f)
    await env.goto(`#/orgs/${parent.orgId}`);
    await page.getByTestId("org-details").waitFor();
    await page.getByTestId("org-actions").click();
    await page.getByTestId("action-rename").waitFor();
    expect(await page.getByTestId("action-change-parent").count()).toBe(0);
    expect(await page.getByTestId("action-deactivate").count()).toBe(0);
    await page.keyboard.press("Escape");
    // Cy cannot read Acme Corp (above Cy's org), yet the console names where each value comes
    // from: quotas inherited from it, and device defaults that Acme West sets itself (an earlier
    // test) and that would otherwise come from Acme Corp, not from Acme West itself.
    await env.goto(`#/orgs/${parent.orgId}/info?tab=quotas`);
    await expect.poll(() => page.getByTestId("inherit-quota-from").textContent()).toContain("Inherited from Acme Corp");
    // Quotas change only with rights on the parent org: Cy's form says so and cannot be edited.
    await page.getByTestId("read-only-quota").waitFor();
    await expect(page.getByTestId("inherit-quota").isDisabled()).resolves.toBe(true);
    await env.goto(`#/orgs/${parent.orgId}/info?tab=reporting`);
    await page.getByTestId("reporting-form").waitFor();
    expect(await page.getByTestId("read-only-reporting").count()).toBe(0);
    await expect(page.getByTestId("inherit-reporting").isDisabled()).resolves.toBe(false);
    // The key policy follows the org's security settings, which Acme West inherits.
    await env.goto(`#/orgs/${parent.orgId}/device-defaults?tab=security`);
    await page.getByTestId("key-policy-inherited").waitFor();
    await expect(page.getByRole("radio", { name: /^Archive password/ }).isDisabled()).resolves.toBe(true);
    await env.goto(`#/orgs/${parent.orgId}/device-defaults?tab=network`);
    await expect.poll(() => page.getByLabel("Proxy", { exact: true }).inputValue()).toBe("http://proxy.example.com:3128");
    await expect(page.getByTestId("inherit-device-defaults-from").textContent()).resolves.toContain("changes at Acme Corp do not reach it");
    expect(
      (await env.api.get<{ settingsMeta: { parentSource: Record<string, unknown> } }>(`/api/Org/${parent.orgId}`, { incSettings: true })).settingsMeta
        .parentSource.device,
    ).toMatchObject({
      orgName: "Acme Corp",
    });
    await page.getByRole("button", { name: "Sign out" }).click();
    await env.signIn();
  });

  it("a user without an administrator role is offered their own restores only, and lands on them", async () => {
    const { page } = env;
    await env.api.post("/api/User", {
      orgUid: parent.orgUid,
      username: "dee@example.com",
      email: "dee@example.com",
      password: "dee-password-1",
      firstName: "Dee",
      lastName: null,
      notes: null,
    });
    await page.getByRole("button", { name: "Sign out" }).click();
    await env.signIn("dee@example.com", "dee-password-1");
    const nav = page.getByRole("navigation", { name: "Main" });
    await expect.poll(() => nav.getByRole("link").allTextContents()).toEqual(["Restore files", "Restore history"]);
    await env.goto("#/");
    await expect.poll(() => page.locator("#restore-title").textContent()).toBe("Restore files");
    // the org page, reached by its address, names the org but not the key that enrolls devices into it
    await env.goto(`#/orgs/${parent.orgId}`);
    await page.getByTestId("org-details").waitFor();
    expect(await page.getByTestId("registration-key").textContent()).toBe("");
    expect(await page.getByRole("button", { name: /new registration key/i }).count()).toBe(0);
    await page.getByRole("button", { name: "Sign out" }).click();
    await env.signIn();
  });
});
