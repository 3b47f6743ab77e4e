/**
 * RELIABILITY T20 in the console: a storage node that serves an older version of an archive than
 * the device last saw (a rollback) is refused by the device, and the device's page shows the
 * warning, in a real browser against a real authority, storage node and registered agent.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { changeSelection, registerAgent, runBackup } from "@cairn/agent";
import { systemClock } from "@cairn/protocol";
import type { StorenodeHandle } from "@cairn/storenode";
import Database from "better-sqlite3";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enrollPrimaryNode } from "./helpers/console-node.js";
import { type ConsoleEnv, startConsoleEnv } from "../authority/console/e2e/harness.js";

describe("console: a device's backup warnings", () => {
  const logger = pino({ level: "silent" });
  let env: ConsoleEnv;
  let node: StorenodeHandle;
  let root: string;
  let agentDir: string;
  let src: string;
  let computerId: number;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "cairn-console-warning-"));
    env = await startConsoleEnv();
    // a destination of our own servers and its first node, enrolled as the console does it
    node = await enrollPrimaryNode(env, root, logger);
    const top = await env.api.get<{ orgUid: string }>("/api/Org/my");
    await env.api.post("/api/User", {
      orgUid: top.orgUid,
      username: "rui@example.com",
      email: "rui@example.com",
      password: "rui-password-1",
      firstName: "Rui",
      lastName: "Costa",
      notes: null,
    });
    src = join(root, "home", "rui");
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, "budget.ods"), "v1");
    agentDir = join(root, "agent");
    const reg = await registerAgent({
      dataDir: agentDir,
      authorityUrl: env.url,
      authorityFingerprint: env.fingerprint,
      registrationKey: env.registrationKey,
      username: "rui@example.com",
      password: "rui-password-1",
      deviceName: "rui-laptop",
      clock: systemClock,
      logger,
    });
    changeSelection({ dataDir: agentDir, op: "add", items: [`${src}/`], logger });
    await runBackup({ dataDir: agentDir, logger });
    computerId = (await env.api.get<{ computerId: number }>(`/api/Computer/${reg.guid}`, { idType: "guid" })).computerId;
    await env.signIn();
  }, 120_000);
  afterAll(async () => {
    await env?.close();
    await node?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it("shows no warning while backups succeed, and the rollback warning once the device refused an older head", async () => {
    const { page } = env;
    writeFileSync(join(src, "budget.ods"), "v2");
    const v2 = await runBackup({ dataDir: agentDir, logger });
    await env.goto(`#/devices/${computerId}`);
    await page.getByTestId("device-details").waitFor();
    await expect.poll(() => page.getByTestId("device-details").textContent()).toContain("Primary");
    expect(await page.locator('[data-testid^="backup-warning-"]').count()).toBe(0);
    // drop the newest version on the node: its head is older than what the device committed
    const archiveGuid = v2.destinations[0]?.archiveGuid as string;
    const archives = join(root, "sp1", "archives");
    const ns = readdirSync(archives).find((n) => existsSync(join(archives, n, archiveGuid, "index.db"))) as string;
    const idx = new Database(join(archives, ns, archiveGuid, "index.db"));
    const head = (idx.prepare("SELECT max(seq) AS seq FROM versions").get() as { seq: number }).seq;
    for (const t of ["file_blocks", "file_versions", "versions"]) idx.prepare(`DELETE FROM ${t} WHERE seq = ?`).run(head);
    idx.close();
    writeFileSync(join(src, "budget.ods"), "v3");
    await expect(runBackup({ dataDir: agentDir, logger })).rejects.toMatchObject({ code: "ROLLBACK_DETECTED" });
    await page.reload();
    const warning = page.getByTestId(`backup-warning-${archiveGuid}`);
    await warning.waitFor();
    expect(await warning.getAttribute("role")).toBe("alert");
    expect(await warning.textContent()).toContain("Rollback detected on Primary");
    await env.shot("device-rollback-warning");
  }, 60_000);
});
