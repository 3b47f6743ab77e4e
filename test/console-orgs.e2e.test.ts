/**
 * The console's sign-in and organization flows in a real browser against a real authority
 * (issue 7): sign in and out with the session cookie, create an organization tree, expand and
 * collapse it, filter by status with the "Filtered by" chip, export the CSV, the Actions menu as
 * the source document offers it, deactivate and reactivate, change parent, rename, a new
 * registration key.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { csvObjects } from "../authority/console/e2e/csv.js";
import { ADMIN, type ConsoleEnv, downloadOf, startConsoleEnv } from "../authority/console/e2e/harness.js";

interface OrgJson {
  orgId: number;
  orgUid: string;
  orgName: string;
  parentOrgId: number | null;
  registrationKey: string;
  active: boolean;
}

/** The 26 columns of seed 001 "CSV export", in order. */
const ORG_CSV_COLUMNS = [
  "orgId",
  "parentOrgId",
  "orgName",
  "registrationKey",
  "status",
  "active",
  "blocked",
  "computerCount",
  "backupDeviceCount",
  "shareDeviceCount",
  "planCount",
  "warningCount",
  "criticalCount",
  "targetComputerGuid",
  "targetDestinationGuid",
  "selectedFiles",
  "selectedBytes",
  "todoBytes",
  "todoFiles",
  "archiveBytes",
  "orgGuid",
  "parentOrgGuid",
  "orgUid",
  "parentOrgUid",
  "orgExtRef",
  "notes",
];

describe("console: organizations", () => {
  let env: ConsoleEnv;
  let top: OrgJson;
  const byName = async (name: string): Promise<OrgJson> => {
    const r = await env.api.get<{ orgs: OrgJson[] }>("/api/Org", { pgNum: 1, pgSize: 100, q: name, active: true });
    const o =
      r.orgs.find((x) => x.orgName === name) ??
      (await env.api.get<{ orgs: OrgJson[] }>("/api/Org", { pgNum: 1, pgSize: 100, q: name, active: false })).orgs.find((x) => x.orgName === name);
    if (!o) throw new Error(`no org ${name}`);
    return o;
  };
  const actionIds = async () => {
    const { page } = env;
    await page.getByTestId("org-actions").click();
    const items = page.getByRole("menu").getByRole("menuitem");
    const ids: string[] = [];
    for (let i = 0; i < (await items.count()); i++) ids.push((await items.nth(i).getAttribute("data-testid")) ?? "");
    await page.keyboard.press("Escape");
    return ids.map((i) => i.replace(/^action-/, ""));
  };

  beforeAll(async () => {
    env = await startConsoleEnv();
    top = await env.api.get<OrgJson>("/api/Org/my");
  });
  afterAll(async () => {
    await env?.close();
  });

  it("signs in with the session cookie (a wrong password is refused), and signs out", async () => {
    const { page } = env;
    await env.goto();
    await page.getByLabel("Username").fill(ADMIN.username);
    await page.getByLabel("Password").fill("not-the-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByTestId("sign-in-message").textContent()).toContain("not correct");
    await env.shot("sign-in");
    await page.getByLabel("Password").fill(ADMIN.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect(page.getByTestId("signed-in-as").textContent()).resolves.toBe(ADMIN.username);
    const cookie = (await env.context.cookies()).find((c) => c.name === "cairn_session");
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: "Strict" });
    // A state-changing request with the cookie but without the CSRF token is refused.
    const forged = await page.evaluate(
      async () => (await fetch("/api/Org/", { method: "POST", headers: { "Content-Type": "application/json" }, body: '{"orgName":"Forged org"}' })).status,
    );
    expect(forged).toBe(403);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Username").waitFor();
    expect(await page.evaluate(async () => (await fetch("/api/v1/session")).status)).toBe(401);
    await env.signIn();
    await page.getByTestId(`org-row-${top.orgId}`).waitFor();
  });

  it("creates an organization tree with Create Organization and Add child organization, and expands and collapses it", async () => {
    const { page } = env;
    await env.goto("#/orgs");
    await page.getByTestId("create-org").click();
    const dialog = page.getByTestId("create-org-dialog");
    await dialog.getByLabel("Organization name").fill("ab");
    await dialog.getByRole("button", { name: "Create" }).click();
    await expect.poll(() => dialog.getByTestId("dialog-error").textContent()).toContain("at least 3 characters");
    await dialog.getByLabel("Organization name").fill("Engineering");
    await dialog.getByRole("button", { name: "Create" }).click();
    await dialog.waitFor({ state: "detached" });
    const eng = await byName("Engineering");
    expect(eng.parentOrgId).toBe(top.orgId);
    await page.getByTestId(`org-row-${eng.orgId}`).waitFor();

    // Add child organization from the details' Actions menu.
    await page.getByTestId(`org-row-${eng.orgId}`).getByRole("link", { name: "Engineering", exact: true }).click();
    await page.getByTestId("org-details").waitFor();
    await page.getByTestId("org-actions").click();
    await page.getByTestId("action-add-child").click();
    await page.getByTestId("create-org-dialog").getByLabel("Organization name").fill("Platform");
    await page.getByTestId("create-org-dialog").getByRole("button", { name: "Create" }).click();
    await page.getByTestId("create-org-dialog").waitFor({ state: "detached" });
    const platform = await byName("Platform");
    expect(platform.parentOrgId).toBe(eng.orgId);
    await expect.poll(() => page.getByTestId("child-count").textContent()).toBe("1");

    await env.goto("#/orgs");
    const toggle = page.getByTestId(`toggle-${eng.orgId}`);
    await expect(toggle.getAttribute("aria-expanded")).resolves.toBe("false");
    await toggle.click();
    await page.getByTestId(`org-row-${platform.orgId}`).waitFor();
    await expect(toggle.getAttribute("aria-expanded")).resolves.toBe("true");
    await env.shot("organizations");
    await toggle.click();
    await page.getByTestId(`org-row-${platform.orgId}`).waitFor({ state: "detached" });
    // The top level collapses too.
    await page.getByTestId(`toggle-${top.orgId}`).click();
    await page.getByTestId(`org-row-${eng.orgId}`).waitFor({ state: "detached" });
    await page.getByTestId(`toggle-${top.orgId}`).click();
    await page.getByTestId(`org-row-${eng.orgId}`).waitFor();
  });

  it("filters by status with the Filtered by chip; the URL keeps filter, sort and page", async () => {
    const { page } = env;
    const old = await env.api.post<OrgJson>("/api/Org/", { orgName: "Old Division", orgExtRef: null, notes: null, parentOrgUid: top.orgUid });
    await env.api.put(`/api/OrgDeactivation/${old.orgId}`);
    const eng = await byName("Engineering");
    await env.goto("#/orgs");
    await page.getByTestId(`org-row-${eng.orgId}`).waitFor();
    expect(await page.getByTestId(`org-row-${old.orgId}`).count()).toBe(0);
    await page.getByTestId("filter-button").click();
    await page.getByRole("radio", { name: "Deactivated" }).check();
    await page.getByTestId("filter-apply").click();
    await page.getByTestId(`org-row-${old.orgId}`).waitFor();
    expect(page.url()).toContain("status=deactivated");
    expect(await page.getByTestId(`org-row-${eng.orgId}`).count()).toBe(0);
    await expect(page.getByTestId("filtered-by").textContent()).resolves.toContain("Deactivated");
    await env.shot("organizations-deactivated");
    await page.getByTestId("chip-clear").click();
    await page.getByTestId(`org-row-${eng.orgId}`).waitFor();
    expect(await page.getByTestId(`org-row-${old.orgId}`).count()).toBe(0);
    expect(page.url()).not.toContain("status=");

    // Sorting is by the server and kept in the URL, which a reload reproduces.
    await page.getByRole("button", { name: /^Name/ }).click();
    await expect.poll(() => page.url()).toContain("sort=orgName");
    await page.getByRole("button", { name: /^Name/ }).click();
    await expect.poll(() => page.url()).toContain("dir=desc");
    await page.reload();
    await page.getByTestId(`org-row-${eng.orgId}`).waitFor();
    await expect(page.getByRole("columnheader", { name: /^Name/ }).getAttribute("aria-sort")).resolves.toBe("descending");
  });

  it("exports the organizations as CSV with the source document's columns and a known row", async () => {
    const { page } = env;
    const eng = await byName("Engineering");
    await env.goto("#/orgs");
    await page.getByTestId(`org-row-${eng.orgId}`).waitFor();
    const file = await downloadOf(page, () => page.getByTestId("export-orgs").click());
    expect(file.name).toMatch(/\.csv$/);
    const { header, rows } = csvObjects(readFileSync(file.path, "utf8"));
    expect(header).toEqual(ORG_CSV_COLUMNS);
    const row = rows.find((r) => r.orgId === String(eng.orgId));
    expect(row).toBeDefined();
    expect(row).toMatchObject({
      parentOrgId: String(top.orgId),
      orgName: "Engineering",
      registrationKey: eng.registrationKey,
      orgUid: eng.orgUid,
      parentOrgUid: top.orgUid,
      computerCount: "0",
      selectedFiles: "0",
      archiveBytes: "0",
      orgExtRef: "",
      notes: "",
    });
    expect(row?.status).toMatch(/^active$/i);
    expect(row?.active).toMatch(/^true$/i);
    expect(row?.blocked).toMatch(/^false$/i);
    // Active organizations only by default.
    expect(rows.some((r) => r.orgName === "Old Division")).toBe(false);
  });

  it("offers the Actions the source document allows: none that move or deactivate the top level, none that add to a deactivated org", async () => {
    const { page } = env;
    await env.goto(`#/orgs/${top.orgId}`);
    await page.getByTestId("org-details").waitFor();
    const topActions = await actionIds();
    expect(topActions).toEqual(["rename", "add-user", "add-child", "edit-info", "device-defaults", "upgrade-clients", "email-report"]);
    const old = await byName("Old Division");
    await env.goto(`#/orgs/${old.orgId}`);
    await page.getByTestId("org-details").waitFor();
    const oldActions = await actionIds();
    expect(oldActions).toEqual(["rename", "activate", "edit-info", "device-defaults", "upgrade-clients", "email-report"]);
    const eng = await byName("Engineering");
    await env.goto(`#/orgs/${eng.orgId}`);
    await page.getByTestId("org-details").waitFor();
    expect(await actionIds()).toEqual([
      "rename",
      "add-user",
      "add-child",
      "change-parent",
      "deactivate",
      "edit-info",
      "device-defaults",
      "upgrade-clients",
      "email-report",
    ]);
    // The menu works from the keyboard.
    await page.getByTestId("org-actions").focus();
    await page.keyboard.press("ArrowDown");
    await expect.poll(() => page.evaluate<string | null>("document.activeElement?.getAttribute('data-testid')")).toBe("action-rename");
    await page.keyboard.press("ArrowDown");
    await expect.poll(() => page.evaluate<string | null>("document.activeElement?.getAttribute('data-testid')")).toBe("action-add-user");
    await page.keyboard.press("Escape");
    await env.shot("organization-details");
  });

  it("deactivates and reactivates an organization (its children follow)", async () => {
    const { page } = env;
    const eng = await byName("Engineering");
    const platform = await byName("Platform");
    await env.goto(`#/orgs/${eng.orgId}`);
    await page.getByTestId("org-details").waitFor();
    await page.getByTestId("org-actions").click();
    await page.getByTestId("action-deactivate").click();
    await page.getByTestId("toggle-org-dialog").getByRole("button", { name: "Deactivate" }).click();
    await expect.poll(() => page.locator("#org-title").textContent()).toContain("Deactivated");
    expect((await env.api.get<OrgJson>(`/api/Org/${platform.orgId}`)).active).toBe(false);
    expect(await actionIds()).toEqual(["rename", "activate", "edit-info", "device-defaults", "upgrade-clients", "email-report"]);
    // No new registration key for an org no device may register in.
    await expect(page.getByRole("button", { name: /^Issue a new registration key/ }).count()).resolves.toBe(0);
    await page.getByTestId("org-actions").click();
    await page.getByTestId("action-activate").click();
    await page.getByTestId("toggle-org-dialog").getByRole("button", { name: "Activate" }).click();
    await expect.poll(() => page.locator("#org-title").textContent()).toContain("Active");
    expect((await env.api.get<OrgJson>(`/api/Org/${eng.orgId}`)).active).toBe(true);
    expect((await env.api.get<OrgJson>(`/api/Org/${platform.orgId}`)).active).toBe(true);
  });

  it("changes the parent, renames, and edits the reference", async () => {
    const { page } = env;
    const sales = await env.api.post<OrgJson>("/api/Org/", { orgName: "Sales", orgExtRef: null, notes: null, parentOrgUid: top.orgUid });
    const platform = await byName("Platform");
    await env.api.post<OrgJson>("/api/Org/", { orgName: "Platform Tools", orgExtRef: null, notes: null, parentOrgUid: platform.orgUid });
    await env.goto(`#/orgs/${platform.orgId}`);
    await page.getByTestId("org-details").waitFor();
    await page.getByTestId("org-actions").click();
    await page.getByTestId("action-change-parent").click();
    const dlg = page.getByTestId("change-parent-dialog");
    // Neither the org itself nor its own child is offered as the new parent.
    await dlg.getByPlaceholder("Search organizations").fill("Platform");
    await expect.poll(() => dlg.getByText("No active organization matches.").isVisible()).toBe(true);
    await expect(dlg.getByTestId("org-picker").locator("option").count()).resolves.toBe(0);
    await dlg.getByPlaceholder("Search organizations").fill("Sales");
    await dlg.getByTestId("org-picker").selectOption({ label: "Sales" });
    await dlg.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => page.getByTestId("parent-link").textContent()).toBe("Sales");
    expect((await env.api.get<OrgJson>(`/api/Org/${platform.orgId}`)).parentOrgId).toBe(sales.orgId);

    await page.getByTestId("org-actions").click();
    await page.getByTestId("action-rename").click();
    await page.getByTestId("rename-dialog").getByLabel("Organization name").fill("Platform Team");
    await page.getByTestId("rename-dialog").getByRole("button", { name: "Save" }).click();
    await expect.poll(() => page.locator("#org-title").textContent()).toContain("Platform Team");

    // A new registration key replaces the old one.
    const before = await page.getByTestId("registration-key").textContent();
    await page.getByRole("button", { name: /^Issue a new registration key/ }).click();
    await page.getByTestId("rotate-key-dialog").getByRole("button", { name: "Issue new key" }).click();
    await expect.poll(() => page.getByTestId("registration-key").textContent()).not.toBe(before);
    expect((await env.api.get<OrgJson>(`/api/Org/${platform.orgId}`)).registrationKey).toBe(await page.getByTestId("registration-key").textContent());

    await page.getByRole("button", { name: "Edit reference" }).click();
    await page.getByRole("dialog").getByLabel("External reference").fill("ASSET-42");
    await page.getByRole("dialog").getByLabel("Notes").fill("Moved under Sales");
    await page.getByRole("dialog").getByRole("button", { name: "Save" }).click();
    await expect.poll(() => page.getByTestId("org-details").textContent()).toContain("ASSET-42");
    const saved = await env.api.get<OrgJson & { orgExtRef: string; notes: string }>(`/api/Org/${platform.orgId}`);
    expect(saved).toMatchObject({ orgName: "Platform Team", orgExtRef: "ASSET-42", notes: "Moved under Sales" });
  });
});
