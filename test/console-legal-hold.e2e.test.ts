/**
 * Legal hold in the console (DECISIONS scope; API.md §11), in a real browser against a real
 * authority: create a matter with a new default policy, put a user on hold (who then cannot be
 * deactivated), release them, close and reopen the matter, and read its events.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConsoleEnv, startConsoleEnv } from "../authority/console/e2e/harness.js";

interface OrgJson {
  orgId: number;
  orgUid: string;
}

describe("console: legal hold", () => {
  let env: ConsoleEnv;
  let ana: { userId: number; userUid: string };
  let matterUid = "";

  beforeAll(async () => {
    env = await startConsoleEnv();
    const top = await env.api.get<OrgJson>("/api/Org/my");
    ana = await env.api.post("/api/User", {
      orgUid: top.orgUid,
      username: "ana.custodian@example.com",
      email: "ana.custodian@example.com",
      password: "ana-password-1",
      firstName: "Ana",
      lastName: "Diaz",
      notes: null,
    });
    await env.signIn();
  });
  afterAll(async () => {
    await env?.close();
  });

  it("creates a matter with a new default policy from the Legal hold page", async () => {
    const { page } = env;
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Legal hold" }).click();
    await expect.poll(() => page.locator("table.data").textContent()).toContain("No matters yet.");
    await page.getByTestId("new-matter").click();
    const dlg = page.getByTestId("new-matter-dialog");
    await dlg.getByLabel("Name", { exact: true }).fill("Case 7");
    await dlg.getByLabel("External reference", { exact: true }).fill("CASE-7");
    // No policy exists yet: the dialog offers a new one with the default rules.
    await expect(dlg.getByLabel("Preservation policy", { exact: true }).inputValue()).resolves.toBe("__new__");
    await dlg.getByRole("button", { name: "Create matter" }).click();
    await page.getByRole("heading", { level: 1, name: /Case 7/ }).waitFor();
    matterUid = /#\/legal-holds\/(\d+)/.exec(page.url())?.[1] ?? "";
    expect(matterUid).not.toBe("");
    const m = await env.api.get<{ name: string; holdExtRef: string; active: boolean; holdPolicyUid: string }>(`/api/LegalHold/${matterUid}`);
    expect(m).toMatchObject({ name: "Case 7", holdExtRef: "CASE-7", active: true });
    const policies = await env.api.get<{ legalHoldPolicyUid: string; name: string }[]>("/api/v4/legal-hold-policy/list");
    expect(policies.find((p) => p.legalHoldPolicyUid === m.holdPolicyUid)?.name).toBe("Default");
    await expect.poll(() => page.locator("article").textContent()).toContain("Default");
  });

  it("puts a user on hold, who then cannot be deactivated, and releases them", async () => {
    const { page } = env;
    await env.goto(`#/legal-holds/${matterUid}`);
    await page.getByTestId("matter-actions").click();
    await page.getByRole("menuitem", { name: "Add custodian…" }).click();
    const dlg = page.getByTestId("add-custodian-dialog");
    await dlg.getByLabel("Find a user", { exact: true }).fill("ana.custodian");
    await dlg.getByRole("button", { name: "Search", exact: true }).click();
    await expect.poll(() => dlg.getByTestId("custodian-pick").inputValue()).toBe(ana.userUid);
    await dlg.getByRole("button", { name: "Put on hold" }).click();
    await page.getByTestId("custodian-row-ana.custodian@example.com").waitFor();
    await env.shot("legal-hold-matter");
    const refused = await env.api.raw("PUT", `/api/UserDeactivation/${ana.userId}`);
    expect(refused.status).toBe(400);
    expect(refused.text).toContain("ACTIVE_LEGAL_HOLD");

    await page.getByRole("button", { name: "Release ana.custodian@example.com" }).click();
    await page.getByTestId("release-custodian-dialog").getByRole("button", { name: "Release" }).click();
    await expect.poll(() => page.getByTestId("custodian-row-ana.custodian@example.com").count()).toBe(0);
    const events = page.locator("[data-testid^=hold-event-]");
    await expect
      .poll(() => events.allTextContents())
      .toEqual([expect.stringContaining("Matter created"), expect.stringContaining("Custodian added"), expect.stringContaining("Custodian released")]);
  });

  it("closes and reopens the matter; the list shows it under Closed meanwhile", async () => {
    const { page } = env;
    await env.goto(`#/legal-holds/${matterUid}`);
    await page.getByTestId("matter-actions").click();
    await page.getByRole("menuitem", { name: "Close matter…" }).click();
    await page.getByTestId("close-matter-dialog").getByRole("button", { name: "Close matter" }).click();
    await expect.poll(() => page.getByRole("heading", { level: 1 }).textContent()).toContain("Closed");
    expect((await env.api.get<{ active: boolean }>(`/api/LegalHold/${matterUid}`)).active).toBe(false);
    await env.goto("#/legal-holds");
    await expect.poll(() => page.locator("table.data").textContent()).toContain("No matters yet.");
    await page.getByLabel("Show", { exact: true }).selectOption("INACTIVE");
    await page.getByTestId(`matter-row-${matterUid}`).waitFor();
    await page.getByTestId(`matter-row-${matterUid}`).getByRole("link", { name: "Case 7" }).click();
    await page.getByTestId("matter-actions").click();
    await page.getByRole("menuitem", { name: "Reopen matter…" }).click();
    await page.getByTestId("reopen-matter-dialog").getByRole("button", { name: "Reopen matter" }).click();
    await expect.poll(() => page.getByRole("heading", { level: 1 }).textContent()).toContain("Open");
    expect((await env.api.get<{ active: boolean }>(`/api/LegalHold/${matterUid}`)).active).toBe(true);
  });
});
