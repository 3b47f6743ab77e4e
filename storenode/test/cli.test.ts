import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { decodeProviderKey } from "@cairn/protocol";
import { parseBytes } from "../src/cli.js";
import { CAIRN_BIN } from "./helpers/child.js";

const dir = mkdtempSync(join(tmpdir(), "cairn-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cairn = (...args: string[]) => spawnSync(process.execPath, [CAIRN_BIN, ...args], { encoding: "utf8", env: { ...process.env, FAULT_CRASH_AT: "" } });

describe("cairn storenode (command line)", () => {
  it("init prints one JSON document under --json, refuses a second init, and requires a store point", () => {
    const data = join(dir, "data");
    const r = cairn("--json", "storenode", "init", "--data", data, "--store-point", join(dir, "sp"), "--name", "n1", "--url", "wss://127.0.0.1:4285");
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout.trim());
    expect(out).toMatchObject({ enrolled: false, storePoints: [{ id: 1, name: "sp" }] });
    expect(out.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const again = cairn("--json", "storenode", "init", "--data", data, "--store-point", join(dir, "sp"));
    expect(again.status).toBe(1);
    expect(JSON.parse(again.stderr.trim().split("\n").at(-1) as string)).toMatchObject({ message_type: "exit_error", error: "CONFLICT" });
    expect(cairn("storenode", "init", "--data", join(dir, "other")).status).toBe(2);
    expect(cairn("storenode", "init", "--data", join(dir, "x"), "--store-point", "sp", "--authority", "https://a:4285").status).toBe(2);
  });

  it("provider-key issues a decodable key with the node's URL, fingerprint and quota", () => {
    const r = cairn("--json", "storenode", "provider-key", "--data", join(dir, "data"), "--tenant", "acme", "--quota", "10G");
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout.trim());
    const key = decodeProviderKey(out.providerKey);
    expect(key).toMatchObject({ v: 1, tenantName: "acme", nodeName: "n1", urls: ["wss://127.0.0.1:4285"], quotaBytes: 10 * 2 ** 30 });
    const human = cairn("storenode", "provider-key", "--data", join(dir, "data"), "--tenant", "acme");
    expect(human.stdout.trim()).toMatch(/^cairnpk1\./);
  });

  it("serve reads flags > CAIRN_* environment > TOML file > defaults, and exits 78 on a bad value", () => {
    const def = cairn("storenode", "serve", "--print-default-config");
    expect(def.status).toBe(0);
    expect(def.stdout).toContain("[server]");
    const file = join(dir, "node.toml");
    writeFileSync(file, `data = "${join(dir, "data")}"\n[server]\nport = 4285\nhost = "127.0.0.1"\n[storage]\nreserve = "1GiB"\n`);
    const checked = cairn("--json", "--config", file, "storenode", "serve", "--check-config", "--host", "::1");
    expect(checked.status).toBe(0);
    const out = JSON.parse(checked.stdout.trim());
    expect(out.values).toMatchObject({ "server.port": 4285, "server.host": "::1", "storage.reserve": 2 ** 30, "gc.grace": 86_400_000 });
    expect(out.sources).toMatchObject({ "server.port": "file", "server.host": "flag", "gc.grace": "default" });
    const env = spawnSync(process.execPath, [CAIRN_BIN, "--json", "--config", file, "storenode", "serve", "--check-config"], {
      encoding: "utf8",
      env: { ...process.env, CAIRN_SERVER_PORT: "9999" },
    });
    expect(JSON.parse(env.stdout.trim()).values["server.port"]).toBe(9999);
    writeFileSync(file, `data = "x"\n[server]\nport = "many"\nbogus = 1\n`);
    const bad = cairn("--config", file, "storenode", "serve", "--check-config");
    expect(bad.status).toBe(78);
    expect(bad.stderr).toContain("server.port");
    expect(bad.stderr).toContain("bogus");
  });

  it("a data folder that was never initialized: exit 78 naming storenode init, and nothing created", () => {
    const missing = join(dir, "never-made");
    for (const args of [["serve", "--port", "0"], ["verify"], ["maintain"], ["provider-key", "--tenant", "t"]]) {
      const r = cairn("storenode", ...args, "--data", missing);
      expect(r.status, args.join(" ")).toBe(78);
      expect(r.stderr).toContain("run storenode init");
    }
    expect(existsSync(missing)).toBe(false);
    const empty = join(dir, "empty");
    mkdirSync(empty);
    expect(cairn("storenode", "serve", "--port", "0", "--data", empty).status).toBe(78);
    expect(readdirSync(empty)).toEqual([]);
  });

  it("an unknown CAIRN_LOG_LEVEL is a configuration error (78); at --log-level warn the listening line still gives the port", async () => {
    const bad = spawnSync(process.execPath, [CAIRN_BIN, "storenode", "serve", "--data", join(dir, "data"), "--port", "0"], {
      encoding: "utf8",
      env: { ...process.env, CAIRN_LOG_LEVEL: "bogus" },
    });
    expect(bad.status).toBe(78);
    expect(bad.stderr).toContain("CAIRN_LOG_LEVEL");
    const child = spawn(
      process.execPath,
      [CAIRN_BIN, "--log-level", "warn", "storenode", "serve", "--data", join(dir, "data"), "--host", "127.0.0.1", "--port", "0"],
      {
        stdio: ["ignore", "pipe", "ignore"],
      },
    );
    try {
      const line = await new Promise<Record<string, unknown>>((resolve, reject) => {
        let out = "";
        child.stdout.setEncoding("utf8");
        child.stdout.on("data", (c: string) => {
          out += c;
          const hit = out.split("\n").find((l) => l.includes('"msg":"listening"'));
          if (hit) resolve(JSON.parse(hit) as Record<string, unknown>);
        });
        child.on("exit", (code) => reject(new Error(`exited ${code} before listening: ${out}`)));
      });
      expect(line.port).toEqual(expect.any(Number));
      expect(line.port).toBeGreaterThan(0);
    } finally {
      child.kill("SIGTERM");
    }
  });

  it("parses byte counts", () => {
    expect(parseBytes("1024")).toBe(1024);
    expect(parseBytes("4K")).toBe(4096);
    expect(parseBytes("2GiB")).toBe(2 * 2 ** 30);
    expect(parseBytes("-1")).toBe(-1);
    expect(() => parseBytes("lots")).toThrow();
  });
});
