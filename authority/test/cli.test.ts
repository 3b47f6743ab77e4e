import { join } from "node:path";
import type { CommandContext } from "@cairn/protocol";
import { describe, expect, it } from "vitest";
import { createCommand } from "../src/cli.js";
import { startTestAuthority } from "../src/testing.js";
import { tempDir } from "./helpers.js";

function fakeContext(json: boolean): { ctx: CommandContext; out: string[] } {
  const out: string[] = [];
  const sink = { write: (s: string) => out.push(s) } as unknown as NodeJS.WritableStream;
  const ctx: CommandContext = {
    json,
    quiet: false,
    verbose: false,
    logLevel: "silent",
    configFile: undefined,
    env: {},
    stdout: sink,
    stderr: sink,
    signal: new AbortController().signal,
    print(value, human) {
      out.push(json ? JSON.stringify(value) : (human ?? JSON.stringify(value)));
    },
    printJsonLine() {},
    progressAllowed: false,
    setExitCode() {},
  };
  return { ctx, out };
}

describe("cairn authority init", () => {
  it("prints orgUid, registrationKey, adminUsername, the generated password and certFingerprint under --json", async () => {
    const dir = join(tempDir(), "data");
    const { ctx, out } = fakeContext(true);
    await createCommand(ctx).exitOverride().parseAsync(["init", "--data", dir, "--admin-username", "root@example.com"], { from: "user" });
    const r = JSON.parse(out[0] as string) as Record<string, string>;
    expect(Object.keys(r).sort()).toEqual(["adminPassword", "adminUsername", "certFingerprint", "orgUid", "registrationKey"]);
    expect(r.adminUsername).toBe("root@example.com");
    expect(r.adminPassword?.length).toBeGreaterThanOrEqual(20);
    expect(r.certFingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(r.registrationKey).toMatch(/^[A-Z0-9]{4}(-[A-Z0-9]{4}){3}$/);
  });

  it("prints no password when one was given, and refuses a second init", async () => {
    const dir = join(tempDir(), "data");
    const { ctx, out } = fakeContext(true);
    await createCommand(ctx).exitOverride().parseAsync(["init", "--data", dir, "--admin-password", "given password 1"], { from: "user" });
    expect(JSON.parse(out[0] as string)).not.toHaveProperty("adminPassword");
    await expect(createCommand(ctx).exitOverride().parseAsync(["init", "--data", dir], { from: "user" })).rejects.toMatchObject({ code: "CONFLICT" });
  });

  it("makes --admin-email the administrator's address and the default report recipient, and refuses a bad one", async () => {
    const dir = join(tempDir(), "data");
    const { ctx } = fakeContext(true);
    await expect(
      createCommand(ctx)
        .exitOverride()
        .parseAsync(["init", "--data", join(dir, "bad"), "--admin-email", "not-an-address"], { from: "user" }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
    const args = ["init", "--data", dir, "--admin-username", "admin", "--admin-password", "given password 1", "--admin-email", "ops@example.com"];
    await createCommand(ctx).exitOverride().parseAsync(args, { from: "user" });
    const a = await startTestAuthority({ dataDir: dir, init: false, adminUsername: "admin" });
    try {
      const py = a.py42("admin", "given password 1");
      const org = (await py.data("GET", "/api/Org/my?incSettings=True")) as { orgId: number; settings: { recipients: string[] } };
      // a report recipient by default, without being written into the Additional recipients
      expect(org.settings.recipients).toEqual([]);
      expect(await py.data("GET", `/api/v1/orgs/${org.orgId}/report-recipients`)).toMatchObject({
        recipients: ["ops@example.com"],
        firstAdministrator: "ops@example.com",
      });
      const users = (await py.data("GET", "/api/User?username=admin")) as { users: { email: string | null }[] };
      expect(users.users[0]?.email).toBe("ops@example.com");
    } finally {
      await a.dispose();
    }
  });
});
