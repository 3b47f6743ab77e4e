/**
 * Two destinations: a backup goes to each, and one that fails (its node down, its token refused)
 * does not keep the other from committing. That is what offering a second destination is for.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runBackup, runRestore } from "@cairn/agent";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestNode, type TestArchive, type TestNode } from "./agent-helpers.js";

const logger = pino({ level: "silent" });

describe("a backup to two destinations", () => {
  let one: TestNode;
  let two: TestNode;
  let a: TestArchive;
  let b: TestArchive;
  const work = mkdtempSync(join(tmpdir(), "cairn-e2e-dests-"));
  const src = join(work, "src");
  const data = join(work, "agent");
  const selection = { include: [src], exclude: [], excludePatterns: [] };
  beforeAll(async () => {
    one = await startTestNode();
    two = await startTestNode();
    a = await one.newArchive();
    b = await two.newArchive();
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, "ledger.csv"), "date,amount\n2026-12-01,10\n");
  }, 60_000);
  afterAll(async () => {
    await one?.close();
    await two?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("commits to the healthy destination when the other fails, reports the failed one, and catches it up once it works", async () => {
    const good = b.endpoint.token;
    b.endpoint.token = "refused";
    const r = await runBackup({ dataDir: data, archives: [a, b], selection, logger });
    expect(r.destinations.map((d) => d.archiveGuid)).toEqual([a.endpoint.archiveGuid]);
    expect(r.failed).toEqual([{ archiveGuid: b.endpoint.archiveGuid, code: "TOKEN_INVALID", message: expect.any(String) }]);
    const out = join(work, "from-a");
    const rr = await runRestore({ dataDir: data, archive: a, target: out, paths: [src], logger });
    expect(rr.errorList).toEqual([]);
    expect(readFileSync(join(out, "src", "ledger.csv"), "utf8")).toContain("2026-12-01");
    b.endpoint.token = good;
    const again = await runBackup({ dataDir: data, archives: [a, b], selection, logger });
    expect(again.failed).toEqual([]);
    expect(again.destinations.map((d) => d.archiveGuid).sort()).toEqual([a.endpoint.archiveGuid, b.endpoint.archiveGuid].sort());
    const fromB = await runRestore({ dataDir: data, archive: b, target: join(work, "from-b"), paths: [src], logger });
    expect(fromB.errorList).toEqual([]);
    expect(readFileSync(join(work, "from-b", "src", "ledger.csv"), "utf8")).toContain("2026-12-01");
  }, 60_000);

  it("fails with the destination's own error when every destination fails", async () => {
    const bad = (x: TestArchive) => ({ ...x, endpoint: { ...x.endpoint, token: "refused" } });
    await expect(runBackup({ dataDir: join(work, "agent2"), archives: [bad(a), bad(b)], selection, logger })).rejects.toMatchObject({
      code: "TOKEN_INVALID",
      // every destination's failure is named, not only the first one's
      message: expect.stringContaining(b.endpoint.archiveGuid),
    });
  }, 60_000);
});
