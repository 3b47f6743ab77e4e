/**
 * The console's user, audit-log and organization-action flows in a real browser against a real
 * authority (issue 7): add a user from an organization's Actions menu, the Users count link,
 * block a user and grant a role; the audit log of what was done; Upgrade clients and Email backup
 * report (sent through a real SMTP server on 127.0.0.1 that the test reads).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN, type ConsoleEnv, startConsoleEnv } from "../authority/console/e2e/harness.js";
import { startSmtp, type TestSmtp } from "../authority/test/smtp-fixture.js";

interface OrgJson {
  orgId: number;
  orgUid: string;
  orgName: string;
}

describe("console: users, audit log and organization actions", () => {
  let env: ConsoleEnv;
  let smtp: TestSmtp;
  let eng: OrgJson;
  const byName = async (name: string): Promise<OrgJson> => {
    if (name === eng.orgName) return eng;
    throw new Error(`no org ${name}`);
  };

  beforeAll(async () => {
    smtp = await startSmtp();
    env = await startConsoleEnv({ operations: { mail: { smtp: smtp.smtp, from: "Cairn <reports@example.com>" } } });
    const top = await env.api.get<OrgJson>("/api/Org/my");
    eng = await env.api.post<OrgJson>("/api/Org/", { orgName: "Engineering", orgExtRef: null, notes: null, parentOrgUid: top.orgUid });
    await env.signIn();
  });
  afterAll(async () => {
    await env?.close();
    await smtp?.close();
  });

  it("adds a user from the Actions menu; the Users count opens the org's users; a user is blocked and given a role", async () => {
    const { page } = env;
    const eng = await byName("Engineering");
    await env.goto(`#/orgs/${eng.orgId}`);
    await page.getByTestId("org-details").waitFor();
    await page.getByTestId("org-actions").click();
    await page.getByTestId("action-add-user").click();
    const dlg = page.getByTestId("add-user-dialog");
    await dlg.getByLabel("Username").fill("ana@example.com");
    await dlg.getByLabel("Email").fill("ana@example.com");
    await dlg.getByLabel("First name").fill("Ana");
    await dlg.getByLabel("Last name").fill("Diaz");
    await dlg.getByLabel("Password").fill("ana-password-1");
    await dlg.getByRole("button", { name: "Add user" }).click();
    await dlg.waitFor({ state: "detached" });
    await expect.poll(() => page.getByTestId("user-count").textContent()).toBe("1");
    await page.getByTestId("user-count").click();
    await expect.poll(() => page.getByTestId("filtered-by").textContent()).toContain("Engineering");
    const users = await env.api.get<{ users: { userId: number; username: string }[] }>("/api/User", { pgNum: 1, pgSize: 10, username: "ana@example.com" });
    const ana = users.users[0];
    if (!ana) throw new Error("user not created");
    await page.getByTestId(`user-row-${ana.userId}`).waitFor();
    await env.shot("users");
    await page.getByTestId(`user-row-${ana.userId}`).getByRole("link", { name: "ana@example.com", exact: true }).click();
    await page.getByTestId("user-details").waitFor();
    await page.getByTestId("user-actions").click();
    await page.getByTestId("action-block").click();
    await page.getByRole("dialog").getByRole("button", { name: "Block" }).click();
    await expect.poll(() => page.locator("#user-title").textContent()).toContain("Blocked");
    await page.getByLabel("Add a role").selectOption("Org Admin");
    await page.getByRole("button", { name: "Add", exact: true }).click();
    await expect.poll(() => page.getByTestId("user-roles").textContent()).toContain("Org Admin");
    await env.shot("user-details");
    const roles = await env.api.get<{ roleName: string }[]>(`/api/UserRole/${ana.userId}`);
    expect(roles.map((r) => r.roleName)).toContain("Org Admin");
  });

  it("moves a user to another organization from the user's Actions menu", async () => {
    const { page } = env;
    const users = await env.api.get<{ users: { userId: number }[] }>("/api/User", { pgNum: 1, pgSize: 10, username: "ana@example.com" });
    const ana = users.users[0] as { userId: number };
    const top = await env.api.get<OrgJson>("/api/Org/my");
    await env.goto(`#/users/${ana.userId}`);
    await page.getByTestId("user-details").waitFor();
    await page.getByTestId("user-actions").click();
    await page.getByTestId("action-move").click();
    const dlg = page.getByRole("dialog");
    await dlg.getByPlaceholder("Search organizations").fill("Acme");
    await expect.poll(() => dlg.getByTestId("org-picker").locator("option").allTextContents()).toEqual(["Acme Corp"]);
    await dlg.getByTestId("org-picker").selectOption({ label: "Acme Corp" });
    await dlg.getByRole("button", { name: "Move" }).click();
    await page.getByTestId("toast").filter({ hasText: "moved to Acme Corp" }).waitFor();
    await expect.poll(async () => (await env.api.get<{ orgId: number }>(`/api/User/${ana.userId}`)).orgId).toBe(top.orgId);
    await expect.poll(() => page.getByTestId("user-details").textContent()).toContain("Acme Corp");
  });

  it("shows what the console did in the audit log", async () => {
    const { page } = env;
    await env.goto("#/audit-log");
    const rows = page.locator("[data-testid^=audit-row-]");
    await expect.poll(() => rows.count()).toBeGreaterThan(5);
    const text = (await page.locator("table.data").textContent()) ?? "";
    expect(text).toContain(ADMIN.username);
    expect(text).toContain("org.create");
    expect(text).toContain("user.create");
    // Newest first; the When header turns the order round.
    const ids = async () =>
      (await rows.evaluateAll((els) => els.map((e) => e.getAttribute("data-testid") ?? ""))).map((t) => Number(t.replace("audit-row-", "")));
    const newestFirst = await ids();
    expect(newestFirst).toEqual([...newestFirst].sort((a, b) => b - a));
    const newest = await env.api.get<{ auditEntries: { auditId: number }[] }>("/api/v1/audit-log", { srtDir: "desc", pgSize: 1 });
    expect(newestFirst[0]).toBe(newest.auditEntries[0]?.auditId);
    await env.shot("audit-log");
    await page.getByRole("button", { name: "When" }).click();
    await expect.poll(async () => (await ids())[0]).toBe(1);
    const oldestFirst = await ids();
    expect(oldestFirst).toEqual([...oldestFirst].sort((a, b) => a - b));
  });

  it("upgrades the clients and emails a backup report from the Actions menu", async () => {
    const { page } = env;
    const eng = await byName("Engineering");
    await env.goto(`#/orgs/${eng.orgId}`);
    await page.getByTestId("org-details").waitFor();
    await page.getByTestId("org-actions").click();
    await page.getByTestId("action-upgrade-clients").click();
    await page.getByRole("dialog").getByRole("button", { name: "Upgrade" }).click();
    // this authority has no agent package imported: the toast says nothing was offered
    await page.getByTestId("toast").filter({ hasText: "No agent package is imported" }).waitFor();
    await page.getByTestId("org-actions").click();
    await page.getByTestId("action-email-report").click();
    const dlg = page.getByTestId("email-report-dialog");
    await dlg.getByLabel("Email addresses").fill("ops@example.com");
    await dlg.getByLabel("Period").selectOption("7");
    await dlg.getByRole("button", { name: "Send" }).click();
    await page.getByTestId("toast").filter({ hasText: "ops@example.com" }).waitFor();
    // The report reached the given recipient, and only them, over SMTP.
    const m = smtp.messages.at(-1);
    expect(m?.to).toEqual(["ops@example.com"]);
    expect(m?.from).toBe("reports@example.com");
    expect(m?.subject).toMatch(/^Backup report for Engineering/);
    // A bad address is refused in the dialog, and nothing is sent.
    const sent = smtp.messages.length;
    await page.getByTestId("org-actions").click();
    await page.getByTestId("action-email-report").click();
    await dlg.getByLabel("Email addresses").fill("not-an-address");
    await dlg.getByRole("button", { name: "Send" }).click();
    await expect.poll(() => dlg.getByTestId("dialog-error").textContent()).toContain("not-an-address");
    await dlg.getByRole("button", { name: "Cancel" }).click();
    expect(smtp.messages.length).toBe(sent);
  });
});
