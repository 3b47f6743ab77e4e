/**
 * Restores and the key policy (DECISIONS.md "Keys and restores"), with all three daemons:
 * - archive-password and custom-key devices: the caller's secret in the restore session opens
 *   the archive for that restore only; a missing or wrong one is 500 PRIVATE_PASSWORD_INVALID /
 *   CUSTOM_KEY_INVALID (py42's exceptions);
 * - a server file-system restore into the configured folder;
 * - T38: a parent org disables zip restores and locks the switch; its child cannot re-enable it;
 *   zip and server restores of a password device there are 403 WEB_RESTORE_DISABLED, the push
 *   restore to the device still works, and no plaintext ever lands on the server (the
 *   authority's data folder, the server restore folder and the temp folder are searched).
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AgentHandle, agentStatus, changeSelection, registerAgent, runBackup, startAgent } from "@cairn/agent";
import { operationsOf } from "@cairn/authority";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCairn } from "./helpers/cairn-process.js";
import { type Cluster, startCluster } from "./helpers/cluster.js";
import { Py42Restore, RestoreStepError, zipEntries } from "./helpers/restore-client.js";

let c: Cluster;
let admin: Py42Restore;
const agents: AgentHandle[] = [];
const before = new Set(readdirSync(tmpdir()));

interface Dev {
  guid: string;
  home: string;
  dataDir: string;
  marker: string;
}

/** Registers and backs up a device in `org` with a key policy secret; its files hold `marker`. */
async function device(name: string, registrationKey: string, secret: { archivePassword?: string; customKey?: string }): Promise<Dev> {
  const dataDir = join(c.dir, `${name}-agent`);
  const home = join(c.dir, `${name}-home`);
  mkdirSync(join(home, "docs"), { recursive: true });
  const marker = `PLAINTEXT-${name}-${randomBytes(16).toString("hex")}`;
  writeFileSync(join(home, "docs", "secret.txt"), `${marker}\n`);
  writeFileSync(join(home, "bulk.bin"), Buffer.concat([Buffer.from(marker), randomBytes(400_000)]));
  const r = await registerAgent({
    dataDir,
    authorityUrl: c.authority.url,
    authorityFingerprint: c.authority.fingerprint,
    registrationKey,
    username: `${name}@example.com`,
    password: `${name} password 1`,
    deviceName: name,
    clock: c.clock,
    logger: c.logger,
    ...secret,
  });
  changeSelection({ dataDir, op: "add", items: [`${home}/`], logger: c.logger });
  expect((await runBackup({ dataDir, clock: c.clock, logger: c.logger })).errors).toBe(0);
  return { guid: r.guid, home, dataDir, marker };
}

async function orgWith(name: string, parentUid: string, groups: Record<string, unknown>): Promise<{ orgId: number; orgUid: string; registrationKey: string }> {
  const py = c.authority.py42();
  const o = (await py.data("POST", "/api/Org/", { orgName: name, orgExtRef: null, notes: null, parentOrgUid: parentUid })) as {
    orgId: number;
    orgUid: string;
    registrationKey: string;
  };
  if (Object.keys(groups).length > 0) await py.data("PUT", `/api/v1/orgs/${o.orgId}/settings`, { groups });
  return o;
}

/** Files below `dir` whose bytes contain `marker`. */
function holding(dir: string, marker: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let names: string[] = [];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      const st = statSync(p, { throwIfNoEntry: false });
      if (st === undefined) continue;
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && st.size < 64 * 1024 * 1024) {
        try {
          if (readFileSync(p).includes(marker)) out.push(p);
        } catch {
          // gone or unreadable (another test's files): it cannot hold this test's marker
        }
      }
    }
  };
  if (existsSync(dir)) walk(dir);
  return out;
}

let vault: Dev;
let custom: Dev;
let nist: Dev;
const customKey = randomBytes(32).toString("hex");
let serverDir: string;
let vaultRegistrationKey: string;

beforeAll(async () => {
  c = await startCluster({ agents: 0 });
  serverDir = join(c.dir, "server-restores");
  operationsOf(c.authority.ctx).restores.configure({ serverRestoreDir: serverDir });
  admin = new Py42Restore(c.authority, c.authority.py42());
  const v = await orgWith("Vault org", c.authority.orgUid, { security: { values: { keyPolicy: "password" } } });
  const k = await orgWith("Custom org", c.authority.orgUid, { security: { values: { keyPolicy: "custom" } } });
  const n = await orgWith("NIST org", c.authority.orgUid, { security: { values: { keyPolicy: "password" } } });
  await c.authority.py42().data("PUT", `/api/OrgSetting/${n.orgId}`, { packets: [{ key: "device_webRestore_enabled", value: "false", locked: true }] });
  const nc = await orgWith("NIST child", n.orgUid, {});
  vaultRegistrationKey = v.registrationKey;
  vault = await device("vault", v.registrationKey, { archivePassword: "vault archive password" });
  custom = await device("custom", k.registrationKey, { customKey });
  nist = await device("nist", nc.registrationKey, { archivePassword: "nist archive password" });
  const py = c.authority.py42();
  await py.data("POST", "/api/User", {
    orgUid: nc.orgUid,
    username: "cca@example.com",
    email: null,
    password: "cca password 12",
    firstName: null,
    lastName: null,
    notes: null,
  });
  const u = (await py.data("GET", "/api/User?username=cca@example.com&pgNum=1&pgSize=1")) as { users: { userId: number }[] };
  await py.data("POST", "/api/UserRole", { userId: u.users[0]?.userId, roleName: "Customer Cloud Admin" });
}, 180_000);
afterAll(async () => {
  for (const a of agents) await a.close();
  admin?.close();
  await c?.dispose();
});

async function refused(p: Promise<unknown>): Promise<{ status: number; name: string | undefined }> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (!(e instanceof RestoreStepError)) throw new Error(`expected a refusal, got ${String(e)}`);
  return { status: e.answer.status, name: e.errorName };
}

describe("archive passwords and custom keys", () => {
  it("needs the archive password: missing or wrong is 500 PRIVATE_PASSWORD_INVALID, the right one restores", async () => {
    expect(await refused(admin.zip(vault.guid, [`${vault.home}/docs`]))).toEqual({ status: 500, name: "PRIVATE_PASSWORD_INVALID" });
    expect(await refused(admin.zip(vault.guid, [`${vault.home}/docs`], { privatePassword: "wrong" }))).toEqual({
      status: 500,
      name: "PRIVATE_PASSWORD_INVALID",
    });
    const { zip } = await admin.zip(vault.guid, [`${vault.home}/docs`], { privatePassword: "vault archive password" });
    expect((await zipEntries(zip.body)).get("docs/secret.txt")?.toString()).toBe(`${vault.marker}\n`);
  });

  it("registers a second device of an archive-password user only with the right password (a wrong one is PRIVATE_PASSWORD_INVALID, exit 12)", async () => {
    const register = (password: string, name: string) =>
      runCairn([
        "--json",
        "agent",
        "register",
        "--data",
        join(c.dir, name),
        "--authority",
        c.authority.url,
        "--authority-fingerprint",
        c.authority.fingerprint,
        "--registration-key",
        vaultRegistrationKey,
        "--username",
        "vault@example.com",
        "--password",
        "vault password 1",
        "--archive-password",
        password,
      ]);
    const wrong = await register("not the archive password", "vault-wrong-agent");
    expect(wrong.code, wrong.stderr).toBe(12);
    expect(wrong.stderr).toContain("PRIVATE_PASSWORD_INVALID");
    const right = await register("vault archive password", "vault-second-agent");
    expect(right.code, right.stderr).toBe(0);
  });

  it("needs the custom key: missing or wrong is 500 CUSTOM_KEY_INVALID, the right one restores", async () => {
    expect(await refused(admin.zip(custom.guid, [`${custom.home}/docs`], { noDataKeyToken: true }))).toEqual({ status: 500, name: "CUSTOM_KEY_INVALID" });
    const wrong = randomBytes(32).toString("hex");
    expect(await refused(admin.zip(custom.guid, [`${custom.home}/docs`], { encryptionKey: wrong, noDataKeyToken: true }))).toEqual({
      status: 500,
      name: "CUSTOM_KEY_INVALID",
    });
    const { zip } = await admin.zip(custom.guid, [`${custom.home}/docs`], { encryptionKey: customKey, noDataKeyToken: true });
    expect((await zipEntries(zip.body)).get("docs/secret.txt")?.toString()).toBe(`${custom.marker}\n`);
  });

  it("restores to the server's file system, below the configured folder", async () => {
    const jobId = await admin.startWeb(vault.guid, [`${vault.home}/docs`], { privatePassword: "vault archive password", restoreToServer: true });
    const job = await admin.waitJob(jobId);
    expect(job).toMatchObject({ done: true, status: "done", zipResult: false, restoreType: "SERVER" });
    expect(readFileSync(join(serverDir, jobId, "docs", "secret.txt"), "utf8")).toBe(`${vault.marker}\n`);
    expect((await c.authority.ctx.store.restoreEventsOfJob(jobId)).map((e) => [e.restoreType, e.status])).toEqual([
      ["SERVER", "STARTED"],
      ["SERVER", "COMPLETED"],
    ]);
  });
});

describe("T38: zip restores disabled by a locked parent", () => {
  it("keeps the child from re-enabling the locked switch", async () => {
    const py = c.authority.py42("cca@example.com", "cca password 12");
    const child = ((await py.data("GET", "/api/Org/my")) as { orgId: number }).orgId;
    const r = await py.call("PUT", `/api/OrgSetting/${child}`, { packets: [{ key: "device_webRestore_enabled", value: "true", locked: false }] });
    expect(r.status).toBe(400);
    expect(r.text).toContain("SETTING_LOCKED");
  });

  it("refuses zip and server restores with 403 WEB_RESTORE_DISABLED, with or without the password", async () => {
    for (const o of [{ privatePassword: "nist archive password" }, { privatePassword: "nist archive password", restoreToServer: true }]) {
      expect(await refused(admin.zip(nist.guid, [`${nist.home}/docs`], o))).toEqual({ status: 403, name: "WEB_RESTORE_DISABLED" });
    }
    const owner = new Py42Restore(c.authority, c.authority.py42("nist@example.com", "nist password 1"));
    expect(await refused(owner.zip(nist.guid, [`${nist.home}/docs`], { privatePassword: "nist archive password" }))).toEqual({
      status: 403,
      name: "WEB_RESTORE_DISABLED",
    });
    owner.close();
  });

  it("still restores to the device, and no plaintext of it ever touched the server", async () => {
    const daemon = await startAgent({ dataDir: nist.dataDir, clock: c.clock, logger: c.logger, tickMs: 0, localApi: false });
    agents.push(daemon);
    const deviceId = (await c.authority.ctx.store.getDeviceByGuid(nist.guid))?.deviceId as number;
    for (let i = 0; i < 200 && !c.authority.ctx.agents.isConnected(deviceId); i++) await new Promise((r) => setTimeout(r, 25));
    const target = join(c.dir, "nist-pushed");
    const jobId = await admin.push(nist.guid, nist.guid, [`${nist.home}/docs`], { restorePath: target }, { privatePassword: "nist archive password" });
    expect(await admin.waitPlatformJob(jobId)).toMatchObject({ done: true, status: "done", restoreType: "PUSH" });
    expect(readFileSync(join(target, "docs", "secret.txt"), "utf8")).toBe(`${nist.marker}\n`);
    for (const dir of [c.authority.dataDir, serverDir]) expect(holding(dir, nist.marker), dir).toEqual([]);
    const fresh = readdirSync(tmpdir()).filter((n) => !before.has(n) && join(tmpdir(), n) !== c.dir);
    for (const n of fresh) expect(holding(join(tmpdir(), n), nist.marker), n).toEqual([]);
  });
});

describe("a key policy raised after the users registered", () => {
  it("stops server-side decryption at once; a new device takes the user's key over, or an existing one protects it, and the archive password then restores", async () => {
    const o = await orgWith("Raised org", c.authority.orgUid, {});
    const dev = await device("raised", o.registrationKey, {});
    const userKey = (d: string) => (JSON.parse(readFileSync(join(d, "credentials.json"), "utf8")) as { userKey: string }).userKey;
    // account key (escrow): the administrator restores without any secret
    const before = await admin.zip(dev.guid, [`${dev.home}/docs`]);
    expect((await zipEntries(before.zip.body)).get("docs/secret.txt")?.toString()).toBe(`${dev.marker}\n`);

    await c.authority.py42().data("PUT", `/api/v1/orgs/${o.orgId}/settings`, { groups: { security: { values: { keyPolicy: "password" } } } });
    // from now on no secret opens the archive on the server, until a device protects the key
    expect(await refused(admin.zip(dev.guid, [`${dev.home}/docs`], { privatePassword: "raised archive password" }))).toEqual({
      status: 500,
      name: "PRIVATE_PASSWORD_INVALID",
    });
    // the device learns it at its next sync, and says what to do
    expect((await runBackup({ dataDir: dev.dataDir, clock: c.clock, logger: c.logger })).errors).toBe(0);
    expect(agentStatus({ dataDir: dev.dataDir }).keyPolicyRequired).toBe("password");
    const status = await runCairn(["agent", "status", "--data", dev.dataDir]);
    expect(status.stdout).toContain("the organization requires the password key policy: run cairn agent key-policy --archive-password");

    // a replacement laptop registered now (the old one lost) takes the user's key over, not a new one
    const second = join(c.dir, "raised-second-agent");
    await registerAgent({
      dataDir: second,
      authorityUrl: c.authority.url,
      authorityFingerprint: c.authority.fingerprint,
      registrationKey: o.registrationKey,
      username: "raised@example.com",
      password: "raised password 1",
      deviceName: "raised-second",
      clock: c.clock,
      logger: c.logger,
      archivePassword: "raised archive password",
    });
    expect(userKey(second)).toBe(userKey(dev.dataDir));
    // it protected the key with the archive password: the same archive opens with it, not otherwise
    expect(await refused(admin.zip(dev.guid, [`${dev.home}/docs`], { privatePassword: "wrong password" }))).toEqual({
      status: 500,
      name: "PRIVATE_PASSWORD_INVALID",
    });
    const after = await admin.zip(dev.guid, [`${dev.home}/docs`], { privatePassword: "raised archive password" });
    expect((await zipEntries(after.zip.body)).get("docs/secret.txt")?.toString()).toBe(`${dev.marker}\n`);

    // the old device protects its (same) key with a new password: the new one works, nothing re-encrypted
    const raised = await runCairn(["--json", "agent", "key-policy", "--data", dev.dataDir, "--archive-password", "second archive password"]);
    expect(raised.code, raised.stderr).toBe(0);
    expect(JSON.parse(raised.stdout)).toEqual({ keyPolicy: "password", customKeyFile: null });
    expect(agentStatus({ dataDir: dev.dataDir }).keyPolicyRequired).toBeNull();
    const again = await admin.zip(dev.guid, [`${dev.home}/docs`], { privatePassword: "second archive password" });
    expect((await zipEntries(again.zip.body)).get("docs/secret.txt")?.toString()).toBe(`${dev.marker}\n`);

    // raised again, to custom keys: the key is saved in a new 0600 file (never printed) and the authority holds nothing
    await c.authority.py42().data("PUT", `/api/v1/orgs/${o.orgId}/settings`, { groups: { security: { values: { keyPolicy: "custom" } } } });
    const keyFile = join(c.dir, "raised-custom.key");
    const custom = await runCairn(["--json", "agent", "key-policy", "--data", dev.dataDir, "--custom", "--key-file", keyFile]);
    expect(custom.code, custom.stderr).toBe(0);
    expect(JSON.parse(custom.stdout)).toEqual({ keyPolicy: "custom", customKeyFile: keyFile });
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const kept = readFileSync(keyFile, "utf8").trim();
    expect(custom.stdout).not.toContain(kept);
    expect(Buffer.from(kept, "hex").toString("base64")).toBe(userKey(dev.dataDir));
    expect(await refused(admin.zip(dev.guid, [`${dev.home}/docs`], { privatePassword: "second archive password" }))).toMatchObject({ status: 500 });
    const withKey = await admin.zip(dev.guid, [`${dev.home}/docs`], { encryptionKey: kept, noDataKeyToken: true });
    expect((await zipEntries(withKey.zip.body)).get("docs/secret.txt")?.toString()).toBe(`${dev.marker}\n`);
  }, 120_000);
});
