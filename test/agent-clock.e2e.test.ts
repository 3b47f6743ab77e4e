import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AGENT_VERSION, DataSession, listVersions, runBackup, runRestore } from "@cairn/agent";
import { DAY_MS, deriveArchiveKeys, ManualClock, openManifest, systemClock } from "@cairn/protocol";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestNode, type TestNode } from "./agent-helpers.js";

const logger = pino({ level: "silent" });

describe("T16: the agent's clock is off by two days", () => {
  let tn: TestNode;
  const work = mkdtempSync(join(tmpdir(), "cairn-e2e-clock-"));
  beforeAll(async () => {
    tn = await startTestNode();
  });
  afterAll(async () => {
    await tn?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("T16: backups with the agent clock 2 days ahead, then 2 days behind, commit; version times are the node's; the client time is only a label", async () => {
    const a = await tn.newArchive();
    const src = join(work, "src");
    mkdirSync(src);
    const data = join(work, "agent");
    const sel = { include: [src], exclude: [], excludePatterns: [] };
    const ahead = new ManualClock(systemClock.now() + 2 * DAY_MS);
    const behind = new ManualClock(systemClock.now() - 2 * DAY_MS);
    writeFileSync(join(src, "f.txt"), "version 1\n");
    const t0 = systemClock.now();
    const r1 = await runBackup({ dataDir: data, archives: [a], selection: sel, logger, clock: ahead });
    writeFileSync(join(src, "f.txt"), "version 2, written later\n");
    const r2 = await runBackup({ dataDir: data, archives: [a], selection: sel, logger, clock: behind });
    const t1 = systemClock.now();
    expect([r1.errors, r2.errors]).toEqual([0, 0]);
    // version times come from the node's clock, and they are ordered as the backups ran
    const v1 = Date.parse(r1.versionTime);
    const v2 = Date.parse(r2.versionTime);
    for (const v of [v1, v2]) {
      expect(v).toBeGreaterThanOrEqual(t0 - 1000);
      expect(v).toBeLessThanOrEqual(t1 + 1000);
    }
    expect(v2).toBeGreaterThan(v1);
    // the device's time is recorded as given, nothing more
    const s = new DataSession({ endpoint: a.endpoint, mode: "restore", agentVersion: AGENT_VERSION, clock: systemClock, logger });
    await s.open();
    const versions = (await s.call("list-versions", {})).versions;
    const keys = deriveArchiveKeys(a.archiveKey, a.endpoint.archiveGuid);
    const m1 = openManifest(keys, 1, (await s.call("get-manifest", { seq: 1 })).manifest);
    const m2 = openManifest(keys, 2, (await s.call("get-manifest", { seq: 2 })).manifest);
    await s.close();
    expect(versions.map((v) => v.seq)).toEqual([1, 2]);
    expect(Math.abs(m1.createdClient - (t0 + 2 * DAY_MS))).toBeLessThan(60_000);
    expect(Math.abs(m2.createdClient - (t0 - 2 * DAY_MS))).toBeLessThan(60_000);
    expect(versions[1]?.clientTime).toBeLessThan(versions[0]?.clientTime as number);
    // point-in-time restores and file history follow the node's times, whatever the agent's clock says
    const out1 = join(work, "out1");
    await runRestore({ dataDir: data, archive: a, at: v1, target: out1, paths: [join(src, "f.txt")], logger, clock: behind });
    expect(readFileSync(join(out1, "f.txt"), "utf8")).toBe("version 1\n");
    const out2 = join(work, "out2");
    await runRestore({ dataDir: data, archive: a, target: out2, paths: [join(src, "f.txt")], logger, clock: ahead });
    expect(readFileSync(join(out2, "f.txt"), "utf8")).toBe("version 2, written later\n");
    const hist = await listVersions({ dataDir: data, archive: a, path: join(src, "f.txt"), logger, clock: ahead });
    expect(hist.map((h) => Date.parse(h.versionTime))).toEqual([v1, v2]);
  }, 60_000);
});
