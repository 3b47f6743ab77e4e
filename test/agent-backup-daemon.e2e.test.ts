/**
 * Watcher-assisted backups: `cairn agent backup` while `cairn agent serve` runs for the same data
 * directory asks the daemon (local API socket) to back up now and waits for the committed
 * version, instead of scanning itself or failing on the run lock. The daemon backs up what its
 * watcher saw change: an edit made just before is in the version, and an unchanged tree commits
 * without a single file being stat'ed or read (the daemon's `/proc/PID/io` read counter stays far
 * below the tree's size). Without a daemon (none started, or one killed and its socket left
 * behind) `backup` is a full scan in its own process.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { runRestore } from "@cairn/agent";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CairnProcess, eventually, runCairn, spawnCairn } from "./helpers/cairn-process.js";
import { type Cluster, startCluster } from "./helpers/cluster.js";

const BIG_FILES = 3;
const BIG_BYTES = 2 * 1024 * 1024;

function daemonStatus(dataDir: string): Promise<{ backingUp: boolean; lastResult: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: join(dataDir, "agent.sock"), path: "/status" }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => resolve(JSON.parse(body)));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Bytes the process has read through read(2) and friends so far (files, sockets, SQLite). */
function bytesRead(pid: number): number {
  return Number(/^rchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, "utf8"))?.[1] ?? Number.NaN);
}

interface Summary {
  message_type: string;
  versionTime: string;
  files: number;
  bytes: number;
  changedFiles: number;
  uploadedBytes: number;
  errors: number;
  destinations: Array<{ mode: string; seq: number; statted: number; uploadedBlocks: number; versionTime: string }>;
}

async function backupCli(dataDir: string): Promise<Summary> {
  const r = await runCairn(["--json", "agent", "backup", "--data", dataDir]);
  expect(r.code, r.stderr).toBe(0);
  const summary = JSON.parse(r.stdout.trim().split("\n").pop() as string) as Summary;
  expect(summary.message_type).toBe("summary");
  // times are ISO-8601 throughout, the destinations' included
  for (const t of [summary.versionTime, ...summary.destinations.map((d) => d.versionTime)]) expect(t).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  return summary;
}

describe("cairn agent backup with the daemon running", () => {
  let c: Cluster;
  let daemon: CairnProcess | null = null;
  let dataDir: string;
  let home: string;

  beforeAll(async () => {
    c = await startCluster({ agents: 1 });
    const a = c.agents[0]!;
    dataDir = a.dataDir;
    home = a.home;
    mkdirSync(join(home, "docs/deep"), { recursive: true });
    for (let i = 0; i < 40; i++) writeFileSync(join(home, "docs", `note${i}.txt`), `note ${i}\n`.repeat(50));
    for (let i = 0; i < BIG_FILES; i++) writeFileSync(join(home, "docs/deep", `video${i}.bin`), randomBytes(BIG_BYTES));
    a.select();
  });

  afterAll(async () => {
    await daemon?.stop(5000);
    await c?.dispose();
  });

  it("goes through the daemon: an unchanged tree reads no file, an edit is in the committed version; a dead daemon's socket falls back to a scan", async () => {
    daemon = spawnCairn(["--log-level", "info", "agent", "serve", "--data", dataDir]);
    await daemon.waitFor((_l, j) => j?.msg === "agent started");
    // the daemon's own first backup (a full scan: it did not watch before it started)
    const first = (await eventually(
      async () => {
        const s = await daemonStatus(dataDir);
        return !s.backingUp && s.lastResult ? (s.lastResult as Summary) : undefined;
      },
      30_000,
      "the daemon's first backup",
    )) as Summary;
    expect(first.destinations[0]?.mode).toBe("full");
    expect(first.files).toBe(40 + BIG_FILES);
    const pid = daemon.proc.pid as number;

    // unchanged: the daemon commits a version from its watcher's (empty) set of paths
    const before = bytesRead(pid);
    const same = await backupCli(dataDir);
    const read = bytesRead(pid) - before;
    expect(same.destinations[0]).toMatchObject({ mode: "paths", seq: first.destinations[0]!.seq + 1, statted: 0, uploadedBlocks: 0 });
    expect(same).toMatchObject({ files: 40 + BIG_FILES, bytes: first.bytes, changedFiles: 0, uploadedBytes: 0, errors: 0 });
    expect(read).toBeLessThan(BIG_BYTES / 4);
    expect(Date.parse(same.versionTime)).toBeGreaterThan(Date.parse(first.versionTime));

    // an edit just before `backup`: the version it returns after holds it
    const edited = join(home, "docs/deep/video1.bin");
    const content = Buffer.concat([randomBytes(4096), readFileSync(edited).subarray(4096)]);
    writeFileSync(edited, content);
    // `status` asks the daemon: the edit is waiting (the stored figures are the last backup's)
    const waiting = await eventually(
      async () => {
        const st = JSON.parse((await runCairn(["--json", "agent", "status", "--data", dataDir])).stdout) as { daemon: { pendingChanges: number } | null };
        return st.daemon && st.daemon.pendingChanges >= 1 ? st.daemon : undefined;
      },
      15_000,
      "the daemon's watcher to report the edit",
    );
    expect(waiting).toMatchObject({ backingUp: false });
    expect((await runCairn(["agent", "status", "--data", dataDir])).stdout).toMatch(/daemon: idle, [1-9]\d* changed path\(s\) not backed up yet/);
    const after = await backupCli(dataDir);
    expect(after.destinations[0]).toMatchObject({ mode: "paths", seq: first.destinations[0]!.seq + 2 });
    expect(after.changedFiles).toBe(1);
    expect(after.uploadedBytes).toBeGreaterThan(0);
    expect(after.files).toBe(40 + BIG_FILES);
    const out = join(c.dir, "restored");
    const r = await runRestore({ dataDir, paths: [edited], target: out, at: Date.parse(after.versionTime) });
    expect(r.errors).toBe(0);
    expect(readFileSync(join(out, "video1.bin")).equals(content)).toBe(true);

    // killed: its socket stays behind, nothing answers on it, and `backup` scans by itself
    daemon.proc.kill("SIGKILL");
    await daemon.exited;
    daemon = null;
    expect(existsSync(join(dataDir, "agent.sock"))).toBe(true);
    const cold = await backupCli(dataDir);
    expect(cold.destinations[0]).toMatchObject({ mode: "full", seq: first.destinations[0]!.seq + 3 });
    expect(cold.changedFiles).toBe(0);
    expect(cold.files).toBe(40 + BIG_FILES);
  }, 120_000);
});
