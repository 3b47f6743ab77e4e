import { utimesSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DAY_MS, generateKey, ManualClock, MINUTE_MS } from "@cairn/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent } from "../src/daemon/agent-daemon.js";
import { inRunWindow } from "../src/daemon/run-window.js";
import { quietLogger, tempDir } from "./helpers.js";
import { type DevNode, startDevNode } from "./support/dev-node.js";

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > ms) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("agent daemon schedule", () => {
  let node: DevNode;
  const t = tempDir();
  const src = join(t.dir, "src");
  beforeAll(async () => {
    node = await startDevNode();
    mkdirSync(join(src, "a/b"), { recursive: true });
    for (let i = 0; i < 50; i++) writeFileSync(join(src, `a/f${i}.txt`), `file ${i}\n`);
    writeFileSync(join(src, "a/b/mid.txt"), "middle\n");
  });
  afterAll(async () => {
    await node.close();
    t.cleanup();
  });

  it("full scan at start; a watched edit is backed up within one frequency interval without a rescan; the daily scan finds unwatched changes", async () => {
    const clock = new ManualClock(Date.UTC(2026, 2, 1, 12));
    const archives = [{ endpoint: { archiveGuid: "444444444444444444", url: node.url, fingerprint: node.fingerprint, token: "t" }, archiveKey: generateKey() }];
    const agent = await startAgent({
      dataDir: join(t.dir, "agent"),
      clock,
      logger: quietLogger,
      tickMs: 0,
      archives,
      selection: { include: [src], exclude: [], excludePatterns: [] },
      settings: { frequencyMs: 15 * MINUTE_MS, verifyScanIntervalMs: DAY_MS },
      localApi: false,
    });
    try {
      const first = await agent.tick();
      expect(first?.destinations[0]?.mode).toBe("full");
      expect(first?.files).toBe(51);
      expect(await agent.tick()).toBeNull();
      writeFileSync(join(src, "a/b/mid.txt"), "middle, edited\n");
      await until(() => agent.pendingChanges > 0);
      clock.advance(15 * MINUTE_MS);
      const second = await agent.tick();
      expect(second?.destinations[0]?.mode).toBe("paths");
      expect(second?.changedFiles).toBe(1);
      expect(second?.destinations[0]?.statted).toBeLessThan(5);
      expect(second?.files).toBe(51);
      // an edit the watcher cannot see: back-dated content change is still found by the daily scan
      await agent.reload();
      writeFileSync(join(src, "a/f7.txt"), "changed quietly\n");
      utimesSync(join(src, "a/f7.txt"), new Date(2020, 0, 1), new Date(2020, 0, 1));
      await until(() => agent.pendingChanges > 0);
      clock.advance(DAY_MS);
      const third = await agent.tick();
      expect(third?.destinations[0]?.mode).toBe("full");
      expect(third?.changedFiles).toBeGreaterThanOrEqual(1);
    } finally {
      await agent.close();
    }
  });

  it("run windows", () => {
    const w = { startMinute: 22 * 60, endMinute: 6 * 60, days: "1111111" };
    expect(inRunWindow(w, new Date(2026, 2, 2, 23, 0).getTime())).toBe(true);
    expect(inRunWindow(w, new Date(2026, 2, 2, 5, 59).getTime())).toBe(true);
    expect(inRunWindow(w, new Date(2026, 2, 2, 12, 0).getTime())).toBe(false);
    expect(inRunWindow({ startMinute: 0, endMinute: 0, days: "0000000" }, new Date(2026, 2, 2).getTime())).toBe(false);
    expect(inRunWindow(null, 0)).toBe(true);
  });
});
