/**
 * The console's restore and cold-storage flows in a real browser against a real cluster (issue 7):
 * an authority, a storage node enrolled into it, and an agent that backed up a small tree. Browse
 * the device's backup and download a zip; push a restore to the device; see the restore history;
 * deactivate the device and change its archive's purge date in cold storage; export both lists;
 * reactivate, block, unblock and deauthorize the device; purge its archive from cold storage.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AgentHandle, changeSelection, registerAgent, runBackup, startAgent } from "@cairn/agent";
import { systemClock } from "@cairn/protocol";
import type { StorenodeHandle } from "@cairn/storenode";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import yauzl from "yauzl";
import { csvObjects } from "../authority/console/e2e/csv.js";
import { bytes, counted } from "../authority/console/src/format.js";
import { enrollPrimaryNode } from "./helpers/console-node.js";
import { type ConsoleEnv, downloadOf, startConsoleEnv } from "../authority/console/e2e/harness.js";

/** Names of the entries of a zip file (yauzl checks the central directory). */
function zipEntries(path: string): Promise<Map<string, string>> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err ?? new Error("no zip"));
      const out = new Map<string, string>();
      zip.on("entry", (e: yauzl.Entry) => {
        if (e.fileName.endsWith("/")) return zip.readEntry();
        zip.openReadStream(e, (err2, s) => {
          if (err2 || !s) return reject(err2 ?? new Error("no stream"));
          const parts: Buffer[] = [];
          s.on("data", (c: Buffer) => parts.push(c));
          s.on("end", () => {
            out.set(e.fileName, Buffer.concat(parts).toString("utf8"));
            zip.readEntry();
          });
        });
      });
      zip.on("end", () => resolve(out));
      zip.on("error", reject);
      zip.readEntry();
    });
  });
}

/** The 19 columns of seed 001 cold-storage "CSV export", in order. */
const COLD_CSV_COLUMNS = [
  "archiveGuid",
  "id",
  "archiveBytes",
  "archiveType",
  "sourceUserId",
  "sourceUserUsername",
  "sourceUserFirstName",
  "sourceUserLastName",
  "sourceUserEmail",
  "sourceComputerId",
  "sourceComputerName",
  "sourceComputerOsHostname",
  "sourceComputerService",
  "purgeDate",
  "orgId",
  "orgName",
  "storePointId",
  "storePointName",
  "serverName",
];

describe("console: restores and cold storage", () => {
  const logger = pino({ level: "silent" });
  let env: ConsoleEnv;
  let node: StorenodeHandle;
  let agent: AgentHandle | undefined;
  let root: string;
  let src: string;
  let agentDir: string;
  let device: { computerId: number; guid: string };
  let topOrgId: number;
  let serverRestoreDir: string;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "cairn-console-restore-"));
    serverRestoreDir = join(root, "server-restores");
    mkdirSync(serverRestoreDir);
    env = await startConsoleEnv({ operations: { restores: { serverRestoreDir } } });
    // a destination of our own servers and its first node, enrolled as the console does it
    node = await enrollPrimaryNode(env, root, logger);
    const top = await env.api.get<{ orgId: number; orgUid: string }>("/api/Org/my");
    topOrgId = top.orgId;
    await env.api.post("/api/User", {
      orgUid: top.orgUid,
      username: "ana@example.com",
      email: "ana@example.com",
      password: "ana-password-1",
      firstName: "Ana",
      lastName: "Diaz",
      notes: null,
    });
    src = join(root, "home", "ana");
    mkdirSync(join(src, "docs"), { recursive: true });
    writeFileSync(join(src, "docs", "report.txt"), "quarterly report\n");
    writeFileSync(join(src, "docs", "notes.md"), "# notes\n");
    writeFileSync(join(src, "todo.txt"), "buy milk\n");
    agentDir = join(root, "agent");
    const reg = await registerAgent({
      dataDir: agentDir,
      authorityUrl: env.url,
      authorityFingerprint: env.fingerprint,
      registrationKey: env.registrationKey,
      username: "ana@example.com",
      password: "ana-password-1",
      deviceName: "ana-laptop",
      clock: systemClock,
      logger,
    });
    changeSelection({ dataDir: agentDir, op: "add", items: [`${src}/`], logger });
    const result = await runBackup({ dataDir: agentDir, logger });
    expect(result.files).toBeGreaterThanOrEqual(3);
    await node.report();
    const d = await env.api.get<{ computerId: number; guid: string }>(`/api/Computer/${reg.guid}`, { idType: "guid", incBackupUsage: true });
    device = { computerId: d.computerId, guid: d.guid };
    await env.signIn();
  }, 120_000);
  afterAll(async () => {
    await agent?.close();
    await env?.close();
    await node?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("browses the device's backup and downloads a zip", async () => {
    const { page } = env;
    await env.goto(`#/devices/${device.computerId}`);
    await page.getByTestId("device-details").waitFor();
    await expect.poll(() => page.getByTestId("device-details").textContent()).toContain("Primary");
    await env.shot("device-details");
    await page.getByTestId("device-actions").click();
    await page.getByTestId("action-restore").click();
    await page.getByTestId("browse-files").click();
    await page.getByTestId("file-tree").waitFor();
    // Walk down from the root to the backed-up folder.
    const parts = src.split("/").filter(Boolean);
    let path = "";
    for (const part of parts) {
      path += `/${part}`;
      await page.getByRole("button", { name: `Expand ${path}`, exact: true }).click();
    }
    await page.getByRole("button", { name: `Expand ${src}/docs`, exact: true }).click();
    await page.getByRole("checkbox", { name: `Select ${src}/docs/report.txt`, exact: true }).check();
    await page.getByRole("checkbox", { name: `Select ${src}/todo.txt`, exact: true }).check();
    await expect.poll(() => page.getByTestId("selected-count").textContent()).toContain("2 selected");
    await env.shot("restore-browse");
    await page.getByTestId("continue-restore").click();
    const zip = await downloadOf(page, () => page.getByTestId("start-restore").click());
    expect(zip.name).toMatch(/\.zip$/);
    const entries = await zipEntries(zip.path);
    expect([...entries.keys()].sort()).toEqual(["report.txt", "todo.txt"]);
    expect(entries.get("report.txt")).toBe("quarterly report\n");
  });

  /** Opens the restore of the device, selects `paths` (below `src`) and goes to the last step. */
  const selectForRestore = async (paths: string[]) => {
    const { page } = env;
    await env.goto(`#/restore?device=${device.computerId}`);
    await page.getByTestId("browse-files").click();
    await page.getByTestId("file-tree").waitFor();
    let path = "";
    for (const part of src.split("/").filter(Boolean)) {
      path += `/${part}`;
      await page.getByRole("button", { name: `Expand ${path}`, exact: true }).click();
    }
    for (const p of paths) await page.getByRole("checkbox", { name: `Select ${src}/${p}`, exact: true }).check();
    await page.getByTestId("continue-restore").click();
  };

  it("restores to the authority's file system, into a new folder of its restore folder", async () => {
    const { page } = env;
    await selectForRestore(["docs"]);
    await page.getByTestId("restore-server").check();
    await page.getByTestId("start-restore").click();
    await page.getByTestId("server-folder").waitFor({ timeout: 30_000 });
    const folder = (await page.getByTestId("server-folder").locator("code").textContent()) ?? "";
    expect(folder.startsWith(serverRestoreDir)).toBe(true);
    expect(readFileSync(join(folder, "docs", "report.txt"), "utf8")).toBe("quarterly report\n");
    expect(readFileSync(join(folder, "docs", "notes.md"), "utf8")).toBe("# notes\n");
  });

  it("offers only a push restore when the organization turned web restores off", async () => {
    const { page } = env;
    const packet = (value: string) => env.api.put(`/api/OrgSetting/${topOrgId}`, { packets: [{ key: "device_webRestore_enabled", value, locked: false }] });
    await packet("false");
    try {
      await selectForRestore(["todo.txt"]);
      await page.getByTestId("web-restore-off").waitFor();
      await expect(page.getByRole("radio", { name: "Download a zip file" }).count()).resolves.toBe(0);
      await expect(page.getByTestId("restore-server").count()).resolves.toBe(0);
      await expect(page.getByTestId("restore-push").isChecked()).resolves.toBe(true);
      await expect(page.getByTestId("start-restore").textContent()).resolves.toBe("Push restore");
    } finally {
      await packet("true");
    }
  });

  it("says it is the caller's web restore limit of 0 MB, not the organization, that turns zips off", async () => {
    const { page } = env;
    const limit = (mb: number) => env.api.put(`/api/v1/orgs/${topOrgId}/settings`, { groups: { quota: { values: { webRestoreAdminLimitMb: mb } } } });
    await limit(0);
    try {
      await selectForRestore(["todo.txt"]);
      await expect.poll(() => page.getByTestId("web-restore-off").textContent()).toContain("Your web restore limit is 0 MB");
      await expect(page.getByRole("radio", { name: "Download a zip file" }).count()).resolves.toBe(0);
      await expect(page.getByTestId("restore-server").count()).resolves.toBe(1);
    } finally {
      await limit(250);
    }
  });

  it("pushes a restore to the device", async () => {
    const { page } = env;
    agent = await startAgent({ dataDir: agentDir, logger, tickMs: 0, watch: false, localApi: false });
    const target = join(root, "restored");
    await env.goto(`#/restore?device=${device.computerId}`);
    await page.getByTestId("browse-files").click();
    await page.getByTestId("file-tree").waitFor();
    let path = "";
    for (const part of src.split("/").filter(Boolean)) {
      path += `/${part}`;
      await page.getByRole("button", { name: `Expand ${path}`, exact: true }).click();
    }
    await page.getByRole("checkbox", { name: `Select ${src}/docs`, exact: true }).check();
    await page.getByTestId("continue-restore").click();
    await page.getByTestId("restore-push").check();
    await page.getByLabel("Folder on the device").fill(target);
    await env.shot("restore-push");
    await page.getByTestId("start-restore").click();
    await page.getByTestId("toast").filter({ hasText: "restored to the device" }).waitFor({ timeout: 30_000 });
    expect(existsSync(join(target, "docs", "report.txt"))).toBe(true);
    expect(readFileSync(join(target, "docs", "notes.md"), "utf8")).toBe("# notes\n");
  });

  it("lists the restores in the restore history and exports it", async () => {
    const { page } = env;
    await env.goto(`#/orgs/${topOrgId}/restores?days=7`);
    const rows = page.locator("[data-testid^=restore-row-]");
    await expect.poll(() => rows.count()).toBeGreaterThanOrEqual(2);
    await expect(page.locator("table.data").textContent()).resolves.toContain("ana@example.com");
    // The administrator restored Ana's files: the seed's warning mark says who did.
    await expect(page.locator("table.data").textContent()).resolves.toContain("by admin@example.com");
    await env.shot("restore-history");
    const file = await downloadOf(page, () => page.getByTestId("export-restores").click());
    const { header, rows: csv } = csvObjects(readFileSync(file.path, "utf8"));
    // The seed's table in order, between an id and the kind (docs/restores.md).
    expect(header).toEqual([
      "eventUid",
      "operatingSystem",
      "user",
      "restoredByAnotherUser",
      "requestingUser",
      "restoreTo",
      "numFiles",
      "numBytes",
      "transferRateBytesPerSec",
      "restoreDate",
      "durationMs",
      "restoreType",
      "status",
    ]);
    expect(csv.length).toBeGreaterThanOrEqual(2);
    expect(csv.find((r) => r.restoreType === "WEB")).toMatchObject({
      user: "ana@example.com",
      restoreTo: "Download (zip)",
      requestingUser: "admin@example.com",
    });
    expect(csv.find((r) => r.restoreType === "PUSH")).toMatchObject({ user: "ana@example.com", restoreTo: "ana-laptop", status: "COMPLETED" });
  });

  it("deactivates the device, then changes its archive's purge date in cold storage and exports the list", async () => {
    const { page } = env;
    await agent?.close();
    agent = undefined;
    await env.goto(`#/devices/${device.computerId}`);
    await page.getByTestId("device-actions").click();
    await page.getByTestId("action-deactivate").click();
    await page.getByRole("dialog").getByRole("button", { name: "Deactivate" }).click();
    await expect.poll(() => page.locator("#dev-title").textContent()).toContain("Deactivated");
    const archive = (await env.api.get<{ backupUsage: { archiveGuid: string }[] }>(`/api/Computer/${device.computerId}`, { incBackupUsage: true }))
      .backupUsage[0];
    if (!archive) throw new Error("the device has no archive");

    await env.goto(`#/orgs/${topOrgId}/cold-storage`);
    const row = page.getByTestId(`cold-row-${archive.archiveGuid}`);
    await row.waitFor();
    await expect(row.textContent()).resolves.toContain("ana-laptop");
    // At 1280×800 every column fits: nothing to scroll sideways to find the Purge Date.
    await expect(page.locator(".table-wrap").evaluate((el) => el.scrollWidth - el.clientWidth)).resolves.toBeLessThanOrEqual(0);
    await env.goto("#/devices?status=deactivated");
    await page.locator("[data-testid^=device-row-]").first().waitFor();
    await expect(page.locator(".table-wrap").evaluate((el) => el.scrollWidth - el.clientWidth)).resolves.toBeLessThanOrEqual(0);
    await env.goto(`#/orgs/${topOrgId}/cold-storage`);
    await row.waitFor();
    await row.getByRole("checkbox").check();
    await page.getByTestId("change-purge-date").click();
    await page.getByTestId("purge-date-dialog").getByLabel("Purge date").fill("2031-03-15");
    await page.getByTestId("purge-date-dialog").getByRole("button", { name: "Save" }).click();
    await expect.poll(() => row.textContent()).toContain("2031-03-15");
    await env.shot("cold-storage");
    const listed = await env.api.get<{ coldStorageRows: { archiveGuid: string; archiveHoldExpireDate: string }[] }>("/api/ColdStorage", {
      orgId: topOrgId,
      incChildOrgs: true,
      pgNum: 1,
      pgSize: 50,
    });
    expect(listed.coldStorageRows.find((r) => r.archiveGuid === archive.archiveGuid)?.archiveHoldExpireDate).toBe("2031-03-15");

    // Seed 001 org details j: the cold storage the organization uses, in bytes (and archives).
    const used = await env.api.get<{ totalCount: number; totalBytes: number; coldStorageRows: { archiveBytes: number }[] }>("/api/ColdStorage", {
      orgId: topOrgId,
      incChildOrgs: true,
      pgNum: 1,
      pgSize: 50,
    });
    expect(used.totalBytes).toBeGreaterThan(0);
    expect(used.totalBytes).toBe(used.coldStorageRows.reduce((n, r) => n + r.archiveBytes, 0));
    await env.goto(`#/orgs/${topOrgId}`);
    await page.getByTestId("org-details").waitFor();
    await expect.poll(() => page.getByTestId("cold-storage-used").textContent()).toBe(`${bytes(used.totalBytes)} in ${counted(used.totalCount, "archive")}`);
    await env.goto(`#/orgs/${topOrgId}/cold-storage`);
    await row.waitFor();

    // Select all, then export: the source document's columns, the known row.
    await page.getByTestId("select-all").check();
    const file = await downloadOf(page, () => page.getByTestId("export-cold").click());
    const { header, rows } = csvObjects(readFileSync(file.path, "utf8"));
    expect(header).toEqual(COLD_CSV_COLUMNS);
    expect(rows.find((r) => r.archiveGuid === archive.archiveGuid)).toMatchObject({
      sourceUserUsername: "ana@example.com",
      sourceComputerName: "ana-laptop",
      purgeDate: "2031-03-15",
      orgId: String(topOrgId),
      serverName: "node1",
    });
  });

  it("reactivates, blocks, unblocks and deauthorizes the device from its details, then purges its archive", async () => {
    const { page } = env;
    type Dev = { status: string; active: boolean; blocked: boolean; backupUsage: { archiveGuid: string }[] };
    const api = () => env.api.get<Dev>(`/api/Computer/${device.computerId}`, { incBackupUsage: true });
    const cold = async () =>
      (await env.api.get<{ coldStorageRows: { archiveGuid: string }[] }>("/api/ColdStorage", { orgId: topOrgId, incChildOrgs: true, pgNum: 1, pgSize: 50 }))
        .coldStorageRows;
    const archiveGuid = (await api()).backupUsage[0]?.archiveGuid as string;
    const action = async (id: string, button: string) => {
      await page.getByTestId("device-actions").click();
      await page.getByTestId(`action-${id}`).click();
      await page.getByRole("dialog").getByRole("button", { name: button }).click();
      await page.getByRole("dialog").waitFor({ state: "detached" });
    };
    await env.goto(`#/devices/${device.computerId}`);
    await page.getByTestId("device-details").waitFor();
    // Reactivation takes the archive out of cold storage.
    await action("reactivate", "Reactivate");
    await expect.poll(async () => (await api()).active).toBe(true);
    expect((await cold()).map((r) => r.archiveGuid)).not.toContain(archiveGuid);
    await action("block", "Block");
    await expect.poll(() => page.locator("#dev-title").textContent()).toContain("Blocked");
    expect((await api()).blocked).toBe(true);
    await action("unblock", "Unblock");
    await expect.poll(async () => (await api()).blocked).toBe(false);
    await action("deauthorize", "Deauthorize");
    await expect.poll(() => page.locator("#dev-title").textContent()).toContain("Deauthorized");
    expect((await api()).status).toBe("Active, Deauthorized");
    await page.getByTestId("device-actions").click();
    await page.getByTestId("action-deactivate").waitFor();
    await expect(page.getByTestId("action-deauthorize").count()).resolves.toBe(0);
    await page.keyboard.press("Escape");
    await page.getByTestId("action-deactivate").waitFor({ state: "hidden" });
    // Deactivated again, the archive is purged from the cold-storage list: gone for good.
    await action("deactivate", "Deactivate");
    await expect.poll(async () => (await cold()).map((r) => r.archiveGuid)).toContain(archiveGuid);
    await env.goto(`#/orgs/${topOrgId}/cold-storage`);
    const row = page.getByTestId(`cold-row-${archiveGuid}`);
    await row.getByRole("checkbox").check();
    await page.getByTestId("purge").click();
    await page.getByTestId("purge-dialog").getByRole("button", { name: "Purge" }).click();
    await page.getByTestId("toast").filter({ hasText: "purged" }).first().waitFor();
    await row.waitFor({ state: "detached" });
    expect((await cold()).map((r) => r.archiveGuid)).not.toContain(archiveGuid);
    const purged = await env.api.get<{ backupUsage: unknown[] }>(`/api/Computer/${device.computerId}`, { incBackupUsage: true });
    expect(purged.backupUsage.length).toBe(0);
  });
});
