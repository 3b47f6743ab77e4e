import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const bin = new URL("../bin/cairn.js", import.meta.url).pathname;

function runCairn(
  args: string[],
  onStderr?: (s: string, child: ReturnType<typeof spawn>) => void,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
      onStderr?.(stderr, child);
    });
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("cairn demo", () => {
  it("runs all three daemons, backs up twice, restores both versions identically and cleans up", async () => {
    const r = await runCairn(["demo", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout.trim().split("\n").pop() as string);
    expect(s.ok).toBe(true);
    expect(s.backups).toHaveLength(2);
    expect(s.backups[0].files).toBeGreaterThan(80);
    expect(s.backups[1].uploadedBytes).toBeLessThan(s.backups[0].uploadedBytes / 2);
    expect(s.restores.map((x: { identical: boolean }) => x.identical)).toEqual([true, true]);
    expect(s.admin).toBeUndefined();
    expect(s.authorityFingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/i);
    expect(existsSync(s.dir)).toBe(false);
  });

  it("works in the folder --data names (as every cairn command takes) and keeps it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cairn-demo-data-"));
    try {
      const r = await runCairn(["demo", "--json", "--data", dir]);
      expect(r.code, r.stderr).toBe(0);
      const s = JSON.parse(r.stdout.trim().split("\n").pop() as string);
      expect(s.ok).toBe(true);
      expect(s.dir).toBe(dir);
      expect(existsSync(join(dir, "authority"))).toBe(true);
      // the kept folder is not reused: a second demo there is refused up front, naming it
      const again = await runCairn(["demo", "--json", "--data", dir]);
      expect(again.code).toBe(2);
      expect(again.stderr).toContain(`${dir} is not empty`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("with --keep, leaves all three daemons up with the console URL and credentials until interrupted", async () => {
    let url = "";
    const r = await runCairn(["demo", "--keep"], (err, child) => {
      const m = /console:\s+(\S+)/.exec(err);
      if (m && !url) {
        url = m[1] as string;
        setTimeout(() => child.kill("SIGINT"), 200);
      }
    });
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/console\/$/);
    expect(r.stderr).toMatch(/login:\s+admin \/ demo-/);
    // the agent daemon runs too (the console can push a restore to the device)
    expect(r.stderr).toMatch(/agent\s+daemon running on .*, connected to the authority/);
    expect(r.code).toBe(130);
  });
});
