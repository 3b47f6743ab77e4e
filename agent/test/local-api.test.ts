/**
 * The daemon's local API over its unix socket (`agent.sock`): `cairn agent backup` while `serve`
 * runs waits for the daemon's backup however long it takes (Node's global HTTP agent would cut an
 * idle socket after 5 s), and a failed backup comes back as its error.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CairnError } from "@cairn/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { backupThroughDaemon, startLocalApi } from "../src/daemon/local-api.js";

let close: (() => Promise<void>) | null = null;
let dir = "";
afterEach(async () => {
  await close?.();
  close = null;
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the agent daemon's local API", () => {
  it("waits for a backup that takes longer than an idle HTTP socket lives (over 5 s)", async () => {
    dir = mkdtempSync(join(tmpdir(), "cairn-local-api-"));
    close = await startLocalApi(dir, {
      status: () => ({ backingUp: true }),
      reload: async () => ({}),
      backup: () => new Promise((resolve) => setTimeout(() => resolve({ files: 3, versionTime: "2026-12-04T00:00:00.000Z" }), 6500)),
    });
    await expect(backupThroughDaemon(dir)).resolves.toEqual({ files: 3, versionTime: "2026-12-04T00:00:00.000Z" });
  }, 20_000);

  it("answers a failed backup with its error, and null where no daemon listens", async () => {
    dir = mkdtempSync(join(tmpdir(), "cairn-local-api-"));
    expect(await backupThroughDaemon(dir)).toBeNull();
    close = await startLocalApi(dir, {
      status: () => ({}),
      reload: async () => ({}),
      backup: async () => {
        throw new CairnError("DESTINATION_FULL", "the destination is full");
      },
    });
    await expect(backupThroughDaemon(dir)).rejects.toMatchObject({ code: "DESTINATION_FULL" });
  });
});
