/**
 * Configuration files of the three daemons (issue 9), through the real `cairn` command: the
 * printed default file of each is valid TOML that `--check-config` accepts; the precedence flags >
 * `CAIRN_*` environment > file > defaults; secrets from `*_FILE` (never shown); exit 78 naming
 * every problem; `--config FILE` for commands other than `serve`.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initAuthority } from "@cairn/authority";
import { initStorenode } from "@cairn/storenode";
import { parse } from "smol-toml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCairn } from "./helpers/cairn-process.js";

let dir: string;
let authorityData: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "cairn-config-"));
  authorityData = join(dir, "authority");
  await initAuthority({ dataDir: authorityData, adminPassword: "config test admin password", argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 } });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const check = async (args: string[], env: Record<string, string> = {}) => {
  const r = await runCairn(["--json", ...args, "--check-config"], env);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { values: Record<string, unknown>; sources: Record<string, string> };
};

describe("daemon configuration", () => {
  for (const daemon of ["authority", "storenode", "agent"]) {
    it(`cairn ${daemon} serve --print-default-config prints a commented file that --check-config accepts`, async () => {
      const r = await runCairn([daemon, "serve", "--print-default-config"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain("# Precedence: command-line flags > CAIRN_* environment variables > this file > defaults.");
      const file = join(dir, `${daemon}-default.toml`);
      writeFileSync(file, r.stdout);
      expect(() => parse(r.stdout)).not.toThrow();
      const c = await check(["--config", file, daemon, "serve", "--data", join(dir, `${daemon}-data`)]);
      for (const [k, src] of Object.entries(c.sources)) expect(["default", "file", "flag"], k).toContain(src);
      expect(c.sources.data).toBe("flag");
    });
  }

  it("resolves flags over CAIRN_* over the file over defaults, and reads secrets from *_FILE without showing them", async () => {
    const file = join(dir, "authority.toml");
    writeFileSync(file, `data = ${JSON.stringify(authorityData)}\n[server]\nport = 1111\n`);
    const base = ["--config", file, "authority", "serve"];
    expect((await check([...base, "--port", "3333"], { CAIRN_SERVER_PORT: "2222" })).values["server.port"]).toBe(3333);
    const env = await check(base, { CAIRN_SERVER_PORT: "2222" });
    expect([env.values["server.port"], env.sources["server.port"]]).toEqual([2222, "env"]);
    const fromFile = await check(base);
    expect([fromFile.values["server.port"], fromFile.sources["server.port"]]).toEqual([1111, "file"]);
    expect([fromFile.values["server.host"], fromFile.sources["server.host"]]).toEqual(["0.0.0.0", "default"]);
    const secret = join(dir, "smtp-url");
    writeFileSync(secret, "smtp://mailer:s3cret-relay-password@mail.example.com:587\n");
    const r = await runCairn(["--json", ...base, "--check-config"], { CAIRN_SMTP_URL_FILE: secret });
    expect(r.stdout).not.toContain("s3cret-relay-password");
    expect(JSON.parse(r.stdout)).toMatchObject({ values: { "mail.smtp_url": "[set]" }, sources: { "mail.smtp_url": "env" } });
  });

  it("exits 78 naming every problem", async () => {
    const file = join(dir, "broken.toml");
    writeFileSync(file, `data = ${JSON.stringify(authorityData)}\ncolour = "blue"\n[server]\nport = "many"\n`);
    const r = await runCairn(["--config", file, "authority", "serve"], { CAIRN_STORAGE_RESERVE: "a lot", CAIRN_SMTP_URL_FILE: join(dir, "missing") });
    expect(r.code).toBe(78);
    for (const p of ['unknown key "colour"', "server.port: expected an integer", "CAIRN_STORAGE_RESERVE: expected a size", "CAIRN_SMTP_URL_FILE: cannot read"])
      expect(r.stderr).toContain(p);
    const toml = await runCairn(["--config", join(dir, "nope.toml"), "storenode", "serve"]);
    expect(toml.code).toBe(78);
    writeFileSync(join(dir, "agent-broken.toml"), '[upgrade]\nenabled = "perhaps"\n[metrics]\naddress = "nowhere"\n');
    const agent = await runCairn(["--config", join(dir, "agent-broken.toml"), "agent", "serve"]);
    expect(agent.code).toBe(78);
    expect(agent.stderr).toContain("upgrade.enabled: expected true or false");
  });

  it("--check-config of every daemon refuses a CAIRN_LOG_LEVEL that serve would refuse (exit 78)", async () => {
    for (const daemon of ["authority", "storenode", "agent"]) {
      const r = await runCairn([daemon, "serve", "--data", join(dir, `${daemon}-data`), "--check-config"], { CAIRN_LOG_LEVEL: "loud" });
      expect(r.code, daemon).toBe(78);
      expect(r.stderr, daemon).toContain("CAIRN_LOG_LEVEL");
    }
  });

  it("--quiet prints a command's result (an enroll key, a one-time admin password), only no informational messages", async () => {
    const key = await runCairn(["--quiet", "authority", "enroll-key", "--data", authorityData]);
    expect(key.code, key.stderr).toBe(0);
    expect(key.stdout).toMatch(/cne_/);
    const init = await runCairn(["--quiet", "authority", "init", "--data", join(dir, "quiet-authority"), "--admin-username", "admin"]);
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout.toLowerCase()).toContain("password");
  });

  it("--config names the data directory of every command, not only serve", async () => {
    const file = join(dir, "authority-data.toml");
    writeFileSync(file, `data = ${JSON.stringify(authorityData)}\n`);
    const key = await runCairn(["--json", "--config", file, "authority", "enroll-key"]);
    expect(key.code, key.stderr).toBe(0);
    expect(JSON.parse(key.stdout).enrollKey).toMatch(/^cne_/);
    const list = await runCairn(["--json", "authority", "agent-package", "list", "--config", file]);
    expect(JSON.parse(list.stdout).packageKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const nodeData = join(dir, "node");
    await initStorenode({ dataDir: nodeData, storePoints: [join(dir, "node-sp1")] });
    writeFileSync(join(dir, "storenode.toml"), `data = ${JSON.stringify(nodeData)}\n`);
    const pk = await runCairn([
      "--json",
      "--config",
      join(dir, "storenode.toml"),
      "storenode",
      "provider-key",
      "--tenant",
      "acme",
      "--url",
      "wss://store.example.com:443",
    ]);
    expect(pk.code, pk.stderr).toBe(0);
    expect(JSON.parse(pk.stdout).providerKey).toMatch(/^cairnpk1\./);
    const agentData = join(dir, "agent-from-file");
    const agentToml = join(dir, "agent.toml");
    writeFileSync(agentToml, `data = ${JSON.stringify(agentData)}\n[metrics]\naddress = "127.0.0.1:9101"\n`);
    const status = await runCairn(["--json", "agent", "status", "--config", agentToml]);
    // Not registered yet: the status is printed, and exit code 10 says so.
    expect(status.code, status.stderr).toBe(10);
    expect(JSON.parse(status.stdout).registered).toBe(false);
    // Asking for a status creates nothing (a mistyped folder must not become an empty agent) …
    expect(existsSync(agentData)).toBe(false);
    // … and a command that keeps state does, in the folder the config file names.
    const sel = await runCairn(["--json", "agent", "select", "add", dir, "--config", agentToml]);
    expect(sel.code, sel.stderr).toBe(0);
    expect(existsSync(join(agentData, "agent.db"))).toBe(true);
    const c = await check(["--config", agentToml, "agent", "serve", "--metrics-address", "127.0.0.1:9102"], { CAIRN_AGENT_DATA: join(dir, "agent-env") });
    expect(c.values).toMatchObject({ data: join(dir, "agent-env"), "metrics.address": "127.0.0.1:9102" });
    expect(c.sources).toMatchObject({ data: "env", "metrics.address": "flag", "upgrade.dir": "default" });
  });
});
