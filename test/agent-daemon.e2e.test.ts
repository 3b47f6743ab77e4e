import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { callDaemon, runRestore, startAgent } from "@cairn/agent";
import { DAY_MS, ManualClock, MINUTE_MS } from "@cairn/protocol";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestNode, type TestNode } from "./agent-helpers.js";
import { CAIRN_BIN } from "./helpers/cairn-process.js";

const logger = pino({ level: "silent" });

/** A logger at error level that keeps its lines (the daemon logs each failed backup at error). */
function errorLog(): { lines: string[]; capture: pino.Logger } {
  const lines: string[] = [];
  const capture = pino(
    { level: "error" },
    new Writable({
      write(c, _e, cb) {
        lines.push(String(c));
        cb();
      },
    }),
  );
  return { lines, capture };
}

/** Waits for the watcher (a real file-system event), polling; the schedule itself runs on the injected clock. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 20));
  if (!cond()) throw new Error(`never happened: ${what}`);
}

describe("agent daemon schedule against the real storage node", () => {
  let tn: TestNode;
  const work = mkdtempSync(join(tmpdir(), "cairn-e2e-daemon-"));
  const src = join(work, "src");
  beforeAll(async () => {
    tn = await startTestNode();
    mkdirSync(join(src, "a/b"), { recursive: true });
    for (let i = 0; i < 50; i++) writeFileSync(join(src, `a/f${i}.txt`), `file ${i}\n`);
    writeFileSync(join(src, "a/b/mid.txt"), "middle\n");
  });
  afterAll(async () => {
    await tn?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("full scan at start; a watched edit is backed up within one frequency interval without a rescan; the daily scan finds unwatched changes", async () => {
    const clock = new ManualClock(Date.UTC(2026, 2, 1, 12));
    const archive = await tn.newArchive();
    const agent = await startAgent({
      dataDir: join(work, "agent"),
      clock,
      logger,
      tickMs: 0,
      archives: [archive],
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
      await until(() => agent.pendingChanges > 0, "the watcher reports the edit");
      clock.advance(15 * MINUTE_MS);
      const second = await agent.tick();
      expect(second?.destinations[0]?.mode).toBe("paths");
      expect(second?.changedFiles).toBe(1);
      expect(second?.destinations[0]?.statted).toBeLessThan(5);
      expect(second?.files).toBe(51);
      // an edit the watcher cannot see: a back-dated content change is still found by the daily scan
      await agent.reload();
      writeFileSync(join(src, "a/f7.txt"), "changed quietly\n");
      utimesSync(join(src, "a/f7.txt"), new Date(2020, 0, 1), new Date(2020, 0, 1));
      await until(() => agent.pendingChanges > 0, "the watcher reports the write");
      clock.advance(DAY_MS);
      const third = await agent.tick();
      expect(third?.destinations[0]?.mode).toBe("full");
      expect(third?.changedFiles).toBeGreaterThanOrEqual(1);
    } finally {
      await agent.close();
    }
  }, 60_000);
});

describe("agent daemon after a failed backup", () => {
  let tn: TestNode;
  const work = mkdtempSync(join(tmpdir(), "cairn-e2e-daemon-backoff-"));
  const src = join(work, "src");
  beforeAll(async () => {
    tn = await startTestNode();
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, "notes.txt"), "notes\n");
  });
  afterAll(async () => {
    await tn?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("waits 30 s, then about twice as long after each failure in a row, instead of retrying at every tick; a success resets it", async () => {
    const clock = new ManualClock(Date.UTC(2026, 2, 1, 12));
    const archive = await tn.newArchive();
    const goodToken = archive.endpoint.token;
    archive.endpoint.token = "not-a-token"; // the node refuses every session: each backup fails
    const { lines, capture } = errorLog();
    const failures = () => lines.filter((l) => l.includes('"backup failed"')).length;
    const agent = await startAgent({
      dataDir: join(work, "agent"),
      clock,
      logger: capture,
      tickMs: 0,
      archives: [archive],
      selection: { include: [src], exclude: [], excludePatterns: [] },
      localApi: false,
    });
    try {
      expect(await agent.tick()).toBeNull();
      expect(failures()).toBe(1);
      for (let i = 0; i < 5; i++) await agent.tick();
      clock.advance(26_000); // under 30 s less 10 %
      await agent.tick();
      expect(failures()).toBe(1);
      clock.advance(8_000); // 34 s: past 30 s plus 10 %
      await agent.tick();
      expect(failures()).toBe(2);
      clock.advance(50_000); // the second wait is 54-66 s
      await agent.tick();
      expect(failures()).toBe(2);
      clock.advance(18_000);
      await agent.tick();
      expect(failures()).toBe(3);
      // a backup someone asks for is not held back
      await expect(agent.requestBackup()).rejects.toMatchObject({ code: "TOKEN_INVALID" });
      archive.endpoint.token = goodToken;
      clock.advance(2 * 66_000 + 1);
      const ok = await agent.tick();
      expect(ok?.errors).toBe(0);
      // the next failure starts again from 30 s
      archive.endpoint.token = "not-a-token";
      writeFileSync(join(src, "notes.txt"), "notes, edited\n");
      clock.advance(DAY_MS);
      const before = failures();
      await agent.tick();
      expect(failures()).toBe(before + 1);
      clock.advance(34_000);
      await agent.tick();
      expect(failures()).toBe(before + 2);
    } finally {
      await agent.close();
    }
  }, 60_000);
});

describe("agent daemon with one destination failing", () => {
  let one: TestNode;
  let two: TestNode;
  const work = mkdtempSync(join(tmpdir(), "cairn-e2e-daemon-dest-"));
  const src = join(work, "src");
  beforeAll(async () => {
    one = await startTestNode();
    two = await startTestNode();
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, "diary.txt"), "day 0\n");
  });
  afterAll(async () => {
    await one?.close();
    await two?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("keeps backing up to the healthy destination on its schedule while the failing one backs off, then catches the failing one up", async () => {
    const clock = new ManualClock(Date.UTC(2026, 2, 1, 12));
    const a = await one.newArchive();
    const b = await two.newArchive();
    const goodToken = b.endpoint.token;
    b.endpoint.token = "refused";
    const { lines, capture } = errorLog();
    const bFailures = () => lines.filter((l) => l.includes(b.endpoint.archiveGuid) && l.includes("the others go on")).length;
    const agent = await startAgent({
      dataDir: join(work, "agent"),
      clock,
      logger: capture,
      tickMs: 0,
      archives: [a, b],
      selection: { include: [src], exclude: [], excludePatterns: [] },
      settings: { frequencyMs: 15 * MINUTE_MS, verifyScanIntervalMs: DAY_MS },
      localApi: false,
    });
    try {
      const first = await agent.tick();
      expect(first?.destinations.map((d) => d.archiveGuid)).toEqual([a.endpoint.archiveGuid]);
      expect(first?.failed.map((f) => f.archiveGuid)).toEqual([b.endpoint.archiveGuid]);
      const ticks = 8;
      for (let day = 1; day <= ticks; day++) {
        writeFileSync(join(src, "diary.txt"), `day ${day}\n`);
        await until(() => agent.pendingChanges > 0, "the watcher reports the edit");
        clock.advance(15 * MINUTE_MS);
        const r = await agent.tick();
        // the healthy destination commits every edit on time
        expect(r?.destinations.map((d) => d.archiveGuid)).toContain(a.endpoint.archiveGuid);
      }
      // the failing one was tried at most once per run, and less often as its backoff grew
      expect(bFailures()).toBeGreaterThan(1);
      expect(bFailures()).toBeLessThan(ticks + 1);
      // fixed: once its backoff is over it catches up with a full scan, the latest edit included
      b.endpoint.token = goodToken;
      clock.advance(61 * MINUTE_MS);
      const caught = await agent.tick();
      expect(caught?.destinations.map((d) => d.archiveGuid).sort()).toEqual([a.endpoint.archiveGuid, b.endpoint.archiveGuid].sort());
      expect(caught?.failed).toEqual([]);
      const out = join(work, "from-b");
      const rr = await runRestore({ dataDir: join(work, "reader"), archive: b, target: out, paths: [src], logger });
      expect(rr.errorList).toEqual([]);
      expect(readFileSync(join(out, "src", "diary.txt"), "utf8")).toBe(`day ${ticks}\n`);
    } finally {
      await agent.close();
    }
  }, 120_000);
});

describe("one agent daemon per data folder", () => {
  it("a second daemon on the same folder exits 11 and leaves the first one's socket and lock alone", async () => {
    const work = mkdtempSync(join(tmpdir(), "cairn-e2e-daemon-lock-"));
    const dataDir = join(work, "agent");
    const first = await startAgent({ dataDir, logger, tickMs: 0, archives: [], selection: { include: [], exclude: [], excludePatterns: [] } });
    try {
      expect(existsSync(join(dataDir, "agent.sock"))).toBe(true);
      // a second daemon in this process
      await expect(startAgent({ dataDir, logger, tickMs: 0, archives: [], localApi: false })).rejects.toMatchObject({ code: "LOCKED" });
      // and a second `cairn agent serve` process
      const r = spawnSync(process.execPath, [CAIRN_BIN, "--json", "agent", "serve", "--data", dataDir], { encoding: "utf8", timeout: 30_000 });
      expect(r.status, r.stderr).toBe(11);
      expect(r.stderr).toContain('"error":"LOCKED"');
      expect(existsSync(join(dataDir, "agent.sock"))).toBe(true);
      expect(await callDaemon(dataDir, "GET", "/healthz")).toEqual({ status: "ok" });
    } finally {
      await first.close();
    }
    // closed: the folder is free again
    expect(existsSync(join(dataDir, "daemon.lock"))).toBe(false);
    const again = await startAgent({ dataDir, logger, tickMs: 0, archives: [], localApi: false });
    await again.close();
    rmSync(work, { recursive: true, force: true });
  }, 60_000);
});
