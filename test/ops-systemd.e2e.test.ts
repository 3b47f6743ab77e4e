/**
 * The systemd units of packaging/systemd (issue 9): `systemd-analyze verify` accepts each, and
 * each daemon starts with its unit's own command line and environment (read from the unit file,
 * paths moved into a temporary folder: the binary is this checkout's cli/bin/cairn.js, the
 * configuration a TOML file written here) and stops on SIGTERM, exit 0, within the unit's
 * TimeoutStopSec.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { initAuthority } from "@cairn/authority";
import { initStorenode } from "@cairn/storenode";
import { afterAll, describe, expect, it } from "vitest";
import { CAIRN_BIN, spawnProcess } from "./helpers/cairn-process.js";

const UNITS = fileURLToPath(new URL("../packaging/systemd/", import.meta.url));
const hasAnalyze = spawnSync("systemd-analyze", ["--version"]).status === 0;

/** The settings of a unit file this test uses. */
interface Unit {
  execStart: string[];
  environment: Record<string, string>;
  timeoutStopSec: number;
  successExitStatus: number[];
}

function readUnit(name: string): Unit {
  const text = readFileSync(join(UNITS, name), "utf8");
  const values = (key: string) => [...text.matchAll(new RegExp(`^${key}=(.*)$`, "gm"))].map((m) => (m[1] as string).trim());
  const environment: Record<string, string> = {};
  for (const e of values("Environment")) {
    const eq = e.indexOf("=");
    environment[e.slice(0, eq)] = e.slice(eq + 1);
  }
  return {
    execStart: (values("ExecStart")[0] ?? "").split(/\s+/),
    environment,
    timeoutStopSec: Number(values("TimeoutStopSec")[0] ?? "90"),
    successExitStatus: (values("SuccessExitStatus")[0] ?? "").split(/\s+/).filter(Boolean).map(Number),
  };
}

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("systemd units", () => {
  for (const unit of readdirSync(UNITS).filter((f) => /\.(service|timer)$/.test(f))) {
    it.skipIf(!hasAnalyze && !process.env.CI)(`systemd-analyze verify accepts ${unit}`, () => {
      const r = spawnSync("systemd-analyze", ["verify", join(UNITS, unit)], { encoding: "utf8" });
      expect(r.status, r.stderr).toBe(0);
    });
  }

  const prepare: Record<string, (root: string) => Promise<{ toml: string; ready: (j: Record<string, unknown>) => boolean }>> = {
    "cairn-authority.service": async (root) => {
      await initAuthority({
        dataDir: join(root, "var/lib/cairn/authority"),
        adminPassword: "unit test admin password",
        argon2: { memoryCost: 1024, timeCost: 1, parallelism: 1 },
      });
      return { toml: '[server]\nhost = "127.0.0.1"\nport = 0\n', ready: (j) => j.msg === "listening" };
    },
    "cairn-storenode.service": async (root) => {
      await initStorenode({ dataDir: join(root, "var/lib/cairn/storenode"), storePoints: [join(root, "srv/cairn/sp1")] });
      return { toml: '[server]\nhost = "127.0.0.1"\nport = 0\n[maintenance]\nschedule = ""\nverify_schedule = ""\n', ready: (j) => j.msg === "listening" };
    },
    "cairn-agent.service": async (root) => ({
      toml: `[upgrade]\ndir = ${JSON.stringify(join(root, "opt/cairn/agent"))}\n`,
      ready: (j) => j.msg === "agent started",
    }),
  };

  for (const [unit, setup] of Object.entries(prepare)) {
    it(`${unit}: its ExecStart runs the daemon, and SIGTERM stops it within TimeoutStopSec`, async () => {
      const u = readUnit(unit);
      const root = mkdtempSync(join(tmpdir(), "cairn-unit-"));
      dirs.push(root);
      const { toml, ready } = await setup(root);
      const move = (v: string) => v.replace(/^\/var\/lib\/cairn\//, `${root}/var/lib/cairn/`);
      const argv = u.execStart.map((a, i) => {
        if (i === 0) {
          expect(a).toBe("/usr/bin/node");
          return process.execPath;
        }
        if (/^\/opt\/cairn\/.*cli\/bin\/cairn\.js$/.test(a)) return CAIRN_BIN;
        const conf = /^\/etc\/cairn\/([a-z]+\.toml)$/.exec(a);
        if (conf) {
          const file = join(root, "etc/cairn", conf[1] as string);
          mkdirSync(join(root, "etc/cairn"), { recursive: true });
          writeFileSync(file, toml);
          return file;
        }
        return move(a);
      });
      // node's own flags may come before the script (the agent's young-generation size)
      const script = argv.indexOf(CAIRN_BIN);
      expect(argv.slice(1, script).every((a) => a.startsWith("--"))).toBe(true);
      expect(argv.slice(script + 1, script + 3)).toEqual([unit.replace(/^cairn-|\.service$/g, ""), "serve"]);
      expect(argv).toContain("--config");
      const env = Object.fromEntries(Object.entries(u.environment).map(([k, v]) => [k, move(v)]));
      for (const v of Object.values(env)) if (v.startsWith(root)) mkdirSync(v, { recursive: true, mode: 0o700 });
      const p = spawnProcess(argv.slice(1), env);
      await p.waitFor((_l, j) => j !== null && ready(j), 30_000);
      const r = await p.stop(u.timeoutStopSec * 1000);
      expect(r.ms).toBeLessThan(u.timeoutStopSec * 1000);
      expect(r.signal).toBeNull();
      expect([0, ...u.successExitStatus]).toContain(r.code);
    });
  }

  it("the backup timer's service runs `cairn authority backup` against the authority's data directory", () => {
    const u = readUnit("cairn-authority-backup.service");
    expect(u.execStart.slice(2, 4)).toEqual(["authority", "backup"]);
    expect(u.environment.CAIRN_DATA).toBe(readUnit("cairn-authority.service").environment.CAIRN_DATA);
    expect(readFileSync(join(UNITS, "cairn-authority-backup.timer"), "utf8")).toMatch(/^OnCalendar=/m);
  });

  it("the agent unit restarts the agent on exit 75 (upgrade) and runs <upgrade.dir>/current", () => {
    const text = readFileSync(join(UNITS, "cairn-agent.service"), "utf8");
    expect(text).toMatch(/^RestartForceExitStatus=75$/m);
    expect(text).toMatch(/^ExecStart=\/usr\/bin\/node (--\S+ )*\/opt\/cairn\/agent\/current\/cli\/bin\/cairn\.js agent serve/m);
    expect(text).not.toMatch(/^ProtectHome=/m);
    const help = execFileSync(process.execPath, [CAIRN_BIN, "agent", "serve", "--print-default-config"], { encoding: "utf8" });
    expect(help).toContain('dir = "/opt/cairn/agent"');
  });
});
