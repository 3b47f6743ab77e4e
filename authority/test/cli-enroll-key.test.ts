/**
 * `cairn authority enroll-key --data DIR [--destination NAME] [--json]`: prints
 * `{"enrollKey","destinationGuid","destinationName","expiresAt"}`, works while `serve` runs on the
 * same data directory, and creates the first destination (offered system-wide with auto-start)
 * on a fresh authority.
 */
import type { CommandContext } from "@cairn/protocol";
import { describe, expect, it } from "vitest";
import { createCommand } from "../src/cli.js";
import { startTestAuthority } from "../src/testing.js";
import { caller, dataOf } from "./api-fixture.js";
import { tempDir } from "./helpers.js";
import { fakeNode } from "./ws-peers.js";

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

describe("cairn authority enroll-key", () => {
  it("issues a key while the authority serves, for the first destination it creates (offered system-wide)", async () => {
    const a = await startTestAuthority({ dataDir: tempDir() });
    try {
      const { ctx, out } = fakeContext(true);
      await createCommand(ctx).exitOverride().parseAsync(["enroll-key", "--data", a.dataDir], { from: "user" });
      const r = JSON.parse(out[0] as string) as Record<string, string>;
      expect(Object.keys(r).sort()).toEqual(["destinationGuid", "destinationName", "enrollKey", "expiresAt"]);
      expect(r.enrollKey).toMatch(/^cne_/);
      expect(r.destinationName).toBe("Primary");
      expect(Number.isNaN(Date.parse(r.expiresAt as string))).toBe(false);
      const admin = await caller(a, a.adminUsername, a.adminPassword);
      const offers = dataOf<{ destinations: { guid: string; offered: boolean; autoStart: boolean }[] }>(await admin.get("/api/v1/settings/destinations"));
      expect(offers.destinations).toEqual([expect.objectContaining({ guid: r.destinationGuid, offered: true, autoStart: true })]);
      const node = await fakeNode(a, r.enrollKey as string);
      expect(a.ctx.nodes.isConnected(a.ctx.nodes.all()[0]?.serverId ?? -1)).toBe(true);
      node.close();
      // a named destination, human output
      const human = fakeContext(false);
      await createCommand(human.ctx).exitOverride().parseAsync(["enroll-key", "--data", a.dataDir, "--destination", "Vault"], { from: "user" });
      expect(human.out[0]).toMatch(/^enroll key cne_\S+\ndestination Vault \(\d+\)\nexpires /);
    } finally {
      await a.dispose();
    }
  });

  it("refuses a directory without an authority", async () => {
    const { ctx } = fakeContext(true);
    await expect(createCommand(ctx).exitOverride().parseAsync(["enroll-key", "--data", tempDir()], { from: "user" })).rejects.toMatchObject({
      code: "CONFIG_INVALID",
    });
  });
});
