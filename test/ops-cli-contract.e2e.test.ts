/**
 * The command-line contract as an outsider's test sees it (ARCHITECTURE.md "Contracts that other
 * people's tests use", docs/cli.md "Output contract" and "Exit codes"), run as the real `cairn`
 * command in child processes against temporary folders on 127.0.0.1:
 *
 * - a bad value given on the command line (`serve --port abc`) is bad usage, exit 2, like an
 *   unknown flag; the same value from the environment stays a configuration error (78);
 * - under `--json` a usage error of a global option prints the one `exit_error` line and no text;
 * - the storage node's one-shot commands read a named `--config` even when `--data` is given (a
 *   malformed file is 78, nothing is created), print one JSON document on stdout and log, each
 *   line with its component, on stderr;
 * - a restore that fails items prints its summary and, under `--json`, the `exit_error` line;
 * - the agent daemon's log lines name their component once (no duplicate JSON keys).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CairnProcess, runCairn, spawnCairn } from "./helpers/cairn-process.js";
import { type Cluster, startCluster } from "./helpers/cluster.js";

let dir = "";
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "cairn-cli-contract-"));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The stderr of a `--json` run: exactly one line, the `exit_error` object. */
function exitError(stderr: string): Record<string, unknown> {
  const lines = stderr.trim().split("\n");
  expect(lines, stderr).toHaveLength(1);
  const j = JSON.parse(lines[0] as string) as Record<string, unknown>;
  expect(j.message_type).toBe("exit_error");
  return j;
}

/** Every non-empty line parses as JSON, and no object repeats a key (pino children naming a component twice). */
function expectJsonLinesWithoutDuplicateKeys(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split("\n").filter((l) => l.trim() !== "")) {
    const j = JSON.parse(line) as Record<string, unknown>;
    // re-serializing drops a repeated key: the line had one if it got shorter
    expect(JSON.stringify(j).length, line).toBe(line.length);
    out.push(j);
  }
  return out;
}

describe("bad values on the command line", () => {
  let authority = "";
  let node = "";
  beforeAll(async () => {
    authority = join(dir, "authority");
    const init = await runCairn(["--json", "authority", "init", "--data", authority, "--admin-password", "a long admin password"]);
    expect(init.code, init.stderr).toBe(0);
    node = join(dir, "node");
    const n = await runCairn(["--json", "storenode", "init", "--data", node, "--store-point", join(dir, "node-sp1")]);
    expect(n.code, n.stderr).toBe(0);
  });

  it.each([
    ["authority", "serve", "--port", "abc"],
    ["authority", "serve", "--port", "70000"],
    ["authority", "serve", "--reserve-bytes", "lots"],
    ["authority", "serve", "--metrics-address", "nowhere"],
    ["authority", "serve", "--purge-schedule", "nonsense"],
    ["storenode", "serve", "--port", "-1"],
    ["storenode", "serve", "--port", "1.5"],
    ["storenode", "serve", "--reserve-bytes", "lots"],
    ["storenode", "serve", "--gc-grace", "forever"],
    ["storenode", "serve", "--metrics-address", "nowhere"],
    ["storenode", "serve", "--url", "wss://127.0.0.1:0"],
    ["storenode", "serve", "--url", "https://node.example.com"],
    ["agent", "serve", "--metrics-address", "nowhere"],
  ])("%s %s %s %s exits 2 (bad usage) with a USAGE exit_error", async (daemon, command, flag, value) => {
    const data = daemon === "authority" ? authority : daemon === "storenode" ? node : join(dir, "agent");
    const r = await runCairn(["--json", daemon as string, command as string, "--data", data, "--host", "127.0.0.1", flag as string, value as string]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe("");
    expect(exitError(r.stderr)).toMatchObject({ code: 2, error: "USAGE", message: expect.stringContaining("flag for ") });
    // --check-config says the same
    const check = await runCairn(["--json", daemon as string, command as string, "--data", data, flag as string, value as string, "--check-config"]);
    expect(check.code, check.stderr).toBe(2);
  });

  it.each([
    [["agent", "select", "exclude", "(["], "invalid exclusion pattern"],
    [["agent", "select", "add", ""], "empty path"],
    [["agent", "destinations", "--opt-in", "123"], "--opt-in takes a destination guid"],
    [["storenode", "verify", "--archive", "../../etc"], "--archive takes an archive guid"],
    [["agent", "restore", "--archive", "../../x", "--to", "/tmp/cairn-never"], "--archive takes an archive guid"],
    [
      [
        "agent",
        "register",
        "--authority",
        "https://127.0.0.1:1",
        "--authority-fingerprint",
        "00",
        "--registration-key",
        "K",
        "--username",
        "u",
        "--password",
        "p",
        "--custom-key",
        "zz",
      ],
      "--custom-key takes 64 hexadecimal digits",
    ],
    [
      [
        "agent",
        "register",
        "--authority",
        "https://127.0.0.1:1",
        "--authority-fingerprint",
        "00:11:22",
        "--registration-key",
        "K",
        "--username",
        "u",
        "--password",
        "p",
      ],
      "--authority-fingerprint takes the certificate's SHA-256 fingerprint",
    ],
  ])("%j is bad usage (exit 2) naming the value", async (args, says) => {
    const data = args[0] === "storenode" ? node : join(dir, "agent-usage");
    const r = await runCairn(["--json", ...args, "--data", data]);
    expect(r.code, r.stderr).toBe(2);
    expect(exitError(r.stderr)).toMatchObject({ code: 2, error: "USAGE", message: expect.stringContaining(says) });
  });

  it("the same values from the environment stay configuration errors (78)", async () => {
    const cases: [string[], Record<string, string>][] = [
      [["authority", "serve", "--data", authority, "--check-config"], { CAIRN_SERVER_PORT: "abc" }],
      [["storenode", "serve", "--data", node, "--check-config"], { CAIRN_STORAGE_RESERVE: "lots" }],
      [["storenode", "serve", "--data", node, "--check-config"], { CAIRN_SERVER_METRICS_ADDRESS: "nowhere" }],
      [["agent", "serve", "--data", join(dir, "agent"), "--check-config"], { CAIRN_METRICS_ADDRESS: "nowhere" }],
    ];
    for (const [args, env] of cases) {
      const r = await runCairn(["--json", ...args], env);
      expect(r.code, `${args.join(" ")} ${JSON.stringify(env)}: ${r.stderr}`).toBe(78);
      expect(exitError(r.stderr)).toMatchObject({ code: 78, error: "CONFIG_INVALID" });
    }
  });
});

describe("an agent data folder that was never set up", () => {
  it("is 'not registered' (10) for every agent command that needs a registration, with the exit_error line, and is not created", async () => {
    const missing = join(dir, "never-set-up");
    for (const args of [
      ["agent", "status"],
      ["agent", "backup"],
      ["agent", "restore", "--to", join(dir, "never-out")],
      ["agent", "versions", "/etc/hosts"],
      ["agent", "select", "list"],
      ["agent", "destinations"],
      ["agent", "key-policy"],
      ["agent", "deauthorize"],
    ]) {
      const r = await runCairn(["--json", ...args, "--data", missing]);
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(10);
      expect(exitError(r.stderr), args.join(" ")).toMatchObject({ code: 10, error: "NOT_REGISTERED" });
      expect(existsSync(missing), args.join(" ")).toBe(false);
    }
  });

  it("a bad CAIRN_LOG_LEVEL is a configuration error (78) for every command, before it does anything", async () => {
    for (const args of [
      ["agent", "status", "--data", join(dir, "agent")],
      // initialized by the first describe block: without the check, a key would be issued here
      ["authority", "enroll-key", "--data", join(dir, "authority"), "--destination", "Loglevel"],
    ]) {
      const r = await runCairn(["--json", ...args], { CAIRN_LOG_LEVEL: "loud" });
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(78);
      expect(exitError(r.stderr)).toMatchObject({ code: 78, error: "CONFIG_INVALID", message: expect.stringContaining("CAIRN_LOG_LEVEL") });
      expect(r.stdout).toBe("");
    }
  });
});

describe("usage errors of the global options under --json", () => {
  it.each([[["--json", "--bogus-flag"]], [["--json", "--log-level", "loud", "agent", "status"]], [["--log-level", "loud", "--json", "storenode", "serve"]]])(
    "%j prints the exit_error line and no plain text",
    async (args) => {
      const r = await runCairn(args);
      expect(r.code).toBe(2);
      expect(exitError(r.stderr)).toMatchObject({ code: 2, error: "USAGE" });
    },
  );
});

describe("the storage node's one-shot commands", () => {
  it("read a named --config even when --data is given: a malformed or missing file is 78 and nothing is created", async () => {
    const bad = join(dir, "broken.toml");
    writeFileSync(bad, "this is [not toml\n=");
    for (const config of [bad, join(dir, "missing.toml")]) {
      const target = join(dir, `node-cfg-${basename(config)}`);
      const r = await runCairn(["--json", "--config", config, "storenode", "init", "--data", target, "--store-point", join(dir, "node-cfg-sp")]);
      expect(r.code, r.stderr).toBe(78);
      expect(exitError(r.stderr)).toMatchObject({ error: "CONFIG_INVALID" });
      expect(existsSync(target)).toBe(false);
    }
    const maintain = await runCairn(["--json", "--config", bad, "storenode", "maintain", "--data", join(dir, "node")]);
    expect(maintain.code, maintain.stderr).toBe(78);
  });

  it("print one JSON document on stdout and log on stderr, each line with its component", async () => {
    const data = join(dir, "node-oneshot");
    const init = await runCairn(["--json", "--log-level", "info", "storenode", "init", "--data", data, "--store-point", join(dir, "node-oneshot-sp")]);
    expect(init.code, init.stderr).toBe(0);
    expect(JSON.parse(init.stdout)).toMatchObject({ enrolled: false });
    for (const args of [
      ["storenode", "maintain", "--data", data],
      ["storenode", "verify", "--data", data],
    ]) {
      // not served: the command opens the data folder itself, and its node logs
      const r = await runCairn(["--json", "--log-level", "info", ...args]);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ archives: 0, damagedBlocks: 0, via: "data directory" });
      const logs = expectJsonLinesWithoutDuplicateKeys(r.stderr);
      expect(logs.length, args.join(" ")).toBeGreaterThan(0);
      for (const l of logs) expect(l.component, JSON.stringify(l)).toBe("storenode");
    }
    const logs = expectJsonLinesWithoutDuplicateKeys(init.stderr);
    expect(logs.map((l) => l.msg)).toContain("initialized");
    for (const l of logs) expect(l.component, JSON.stringify(l)).toBe("storenode");
  });
});

describe("an agent on a running cluster", () => {
  let c: Cluster;
  let daemon: CairnProcess | undefined;
  beforeAll(async () => {
    c = await startCluster({ agents: 1, dir: join(dir, "cluster") });
    const a = c.agents[0];
    if (!a) throw new Error("no agent");
    writeFileSync(join(a.home, "letter.txt"), "dear reader\n");
    a.select();
    expect((await a.backup()).errors).toBe(0);
  });
  afterAll(async () => {
    await daemon?.stop(10_000);
    await c?.dispose();
  });

  it("a restore that fails items exits 1 with its summary on stdout and the exit_error line on stderr", async () => {
    const a = c.agents[0];
    if (!a) throw new Error("no agent");
    const target = join(dir, "restore-target");
    const outside = join(dir, "outside");
    mkdirSync(target);
    mkdirSync(outside);
    // `--to T PATH` restores PATH's last component below T: a symlink there must not be followed
    symlinkSync(outside, join(target, basename(a.home)));
    const r = await runCairn(["--json", "agent", "restore", "--data", a.dataDir, "--to", target, `${a.home}/`]);
    expect(r.code, r.stderr).toBe(1);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const summary = lines.at(-1) as { message_type: string; errors: number; errorList: { code: string }[] };
    expect(summary.message_type).toBe("summary");
    expect(summary.errors).toBeGreaterThan(0);
    expect(summary.errorList[0]?.code).toBe("UNSAFE_PATH");
    expect(exitError(r.stderr)).toMatchObject({ code: 1, error: "RESTORE_FAILED", message: expect.stringContaining("UNSAFE_PATH") });
    expect(existsSync(join(outside, "letter.txt"))).toBe(false);
    // the same restore into a fresh folder works, byte for byte
    const ok = await runCairn(["--json", "agent", "restore", "--data", a.dataDir, "--to", join(dir, "restore-ok"), `${a.home}/`]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toBe("");
    expect(readFileSync(join(dir, "restore-ok", basename(a.home), "letter.txt"), "utf8")).toBe("dear reader\n");
  });

  it("the agent daemon's log lines at debug level name their component once", async () => {
    const a = c.agents[0];
    if (!a) throw new Error("no agent");
    daemon = spawnCairn(["--log-level", "debug", "agent", "serve", "--data", a.dataDir]);
    await daemon.waitFor((_l, j) => j?.msg === "agent started");
    writeFileSync(join(a.home, "letter.txt"), "dear reader, again\n");
    const b = await runCairn(["--json", "agent", "backup", "--data", a.dataDir]);
    expect(b.code, b.stderr).toBe(0);
    const summary = JSON.parse(b.stdout.trim().split("\n").at(-1) as string) as { message_type: string; errors: number };
    expect(summary).toMatchObject({ message_type: "summary", errors: 0 });
    await daemon.waitFor((_l, j) => j?.msg === "connected to the storage node");
    const stopped = await daemon.stop(20_000);
    expect(stopped.code).toBe(0);
    const logs = expectJsonLinesWithoutDuplicateKeys(daemon.lines.join("\n"));
    expect(logs.some((l) => l.level === 20)).toBe(true);
    for (const l of logs) expect(l.component, JSON.stringify(l)).toBe("agent");
  });
});

describe("every daemon takes --host and --port", () => {
  it("agent serve --port 0 picks a free port, prints it, and answers /healthz there; a port that is no number is bad usage", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cairn-agent-port-"));
    const p: CairnProcess = spawnCairn(["agent", "serve", "--data", join(dir, "a"), "--host", "127.0.0.1", "--port", "0"]);
    try {
      const line = (await p.waitFor((_l, j) => j?.msg === "listening")) as Record<string, unknown>;
      expect(line).toMatchObject({ component: "agent", host: "127.0.0.1" });
      const port = line.port as number;
      expect(port).toBeGreaterThan(0);
      expect(p.lines.some((l) => l.includes(`serving http://127.0.0.1:${port}`))).toBe(true);
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(res.status).toBe(200);
    } finally {
      await p.stop();
    }
    const bad = await runCairn(["agent", "serve", "--data", join(dir, "b"), "--port", "http"]);
    expect(bad.code).toBe(2);
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);
});
