import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const bin = new URL("../bin/cairn.js", import.meta.url).pathname;
const run = (...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", timeout: 30_000, env: { ...process.env, CAIRN_LOG_LEVEL: "silent" } });

describe("the cairn command", () => {
  it("prints help listing every daemon and exits 0", () => {
    const r = run("--help");
    expect(r.status).toBe(0);
    for (const c of ["authority", "storenode", "agent", "demo"]) expect(r.stdout).toContain(c);
    expect(r.stdout).toContain("--json");
  });

  it.each(["authority", "storenode", "agent", "demo"])("has --help on `%s`", (c) => {
    const r = run(c, "--help");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`cairn ${c}`);
  });

  it("exits 2 on an unknown command or flag", () => {
    expect(run("bogus").status).toBe(2);
    expect(run("--bogus-flag").status).toBe(2);
    expect(run("agent", "--bogus-flag").status).toBe(2);
  });

  it.each([
    ["agent", "status", "--bogus"],
    ["agent", "versions"],
    ["agent", "register", "--data", "/nonexistent-cairn-test"],
    ["agent", "select", "bogus"],
    ["agent", "select"],
    ["agent", "status", "extra-argument"],
    ["agent", "restore", "--existing", "bogus"],
    ["authority", "init", "--bogus"],
    ["storenode", "serve", "--bogus"],
    ["storenode", "provider-key", "--data", "/nonexistent-cairn-test"],
  ])("exits 2 on bad usage below a daemon: %s %s %s", (...args) => {
    expect(run(...args).status).toBe(2);
  });

  it("every daemon takes --host and --port: the agent accepts them (for its health and metrics listener)", () => {
    const dir = mkdtempSync(join(tmpdir(), "cairn-cli-agent-"));
    try {
      const r = run("--json", "agent", "serve", "--data", dir, "--host", "127.0.0.1", "--port", "0", "--check-config");
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).ok).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("an authority init refused for its administrator's password leaves nothing behind, and the next init works", () => {
    const dir = mkdtempSync(join(tmpdir(), "cairn-cli-init-"));
    try {
      const bad = run("authority", "init", "--data", join(dir, "a"), "--admin-password", "short");
      expect(bad.status).toBe(1);
      expect(bad.stderr).toContain("NEW_PASSWORD_INVALID");
      expect(readdirSync(join(dir, "a"))).toEqual([]);
      const ok = run("--json", "authority", "init", "--data", join(dir, "a"), "--admin-password", "a long enough password");
      expect(ok.status, ok.stderr).toBe(0);
      expect(readdirSync(join(dir, "a")).sort()).toEqual(["authority.db", "keys"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a data folder that cannot be created is a FILE_SYSTEM error naming it, not INTERNAL", () => {
    const dir = mkdtempSync(join(tmpdir(), "cairn-cli-fs-"));
    try {
      writeFileSync(join(dir, "a-file"), "x");
      // select add sets a folder up (backup of a folder that does not exist is NOT_REGISTERED)
      const r = run("--json", "agent", "select", "add", "--data", join(dir, "a-file", "agent"), dir);
      expect(r.status).toBe(1);
      expect(JSON.parse(r.stderr.trim().split("\n").at(-1) as string)).toMatchObject({
        error: "FILE_SYSTEM",
        message: expect.stringMatching(/a-file.*not a folder/),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("select add of a path that does not exist selects it but says so (a typo would back up nothing)", () => {
    const dir = mkdtempSync(join(tmpdir(), "cairn-cli-sel-"));
    try {
      const typo = join(dir, "Documnets");
      const r = run("agent", "select", "add", "--data", join(dir, "a"), typo, dir);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toContain(`warning: ${typo} does not exist`);
      expect(r.stdout).not.toContain(`warning: ${dir} `);
      const j = run("--json", "agent", "select", "add", "--data", join(dir, "a"), typo);
      expect(JSON.parse(j.stdout)).toMatchObject({ include: [typo, dir], missing: [typo] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses an authority URL that carries a password, without repeating it", () => {
    const dir = mkdtempSync(join(tmpdir(), "cairn-cli-reg-"));
    try {
      const r = run(
        "agent",
        "register",
        "--data",
        dir,
        "--authority",
        "https://bob:s3cret@127.0.0.1:1",
        "--authority-fingerprint",
        "AA".repeat(32),
        "--registration-key",
        "K",
        "--username",
        "u",
        "--password",
        "p",
      );
      expect(r.status).toBe(2);
      expect(r.stderr).toContain("must not carry a user name or password");
      expect(r.stdout + r.stderr).not.toContain("s3cret");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("under --json, a usage error prints the exit_error line and no plain text", () => {
    const r = run("--json", "agent", "versions");
    expect(r.status).toBe(2);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ message_type: "exit_error", code: 2, error: "USAGE", message: expect.stringContaining("path") });
  });

  it("exits 2 and prints usage when called with no command", () => {
    const r = run();
    expect(r.status).toBe(2);
    expect(r.stdout + r.stderr).toContain("Usage: cairn");
  });

  it("prints its version", () => {
    const r = run("--version");
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
