/**
 * RELIABILITY T12 with real processes: two agent processes holding the same storage token (a
 * cloned device) back up to one archive at the same time, and a lease holder is killed with
 * SIGKILL mid-upload. One writer at a time; no version is lost or interleaved; after the kill the
 * next writer waits out the lease (server time) and commits.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runRestore } from "@cairn/agent";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeBytesReceived, startTestNode, type TestArchive, type TestNode } from "./agent-helpers.js";

const logger = pino({ level: "silent" });

/** `runBackup` of @cairn/agent in a child process of its own; its result (or error code) is its last stdout line. */
const CHILD = `
import { runBackup } from "@cairn/agent";
const o = JSON.parse(process.env.CAIRN_T12);
o.archives[0].archiveKey = Buffer.from(o.archives[0].archiveKey, "hex");
try {
  const r = await runBackup(o);
  console.log(JSON.stringify({ ok: true, seq: r.destinations[0].seq }));
} catch (err) {
  console.log(JSON.stringify({ ok: false, code: err.code ?? String(err) }));
}
`;

interface Outcome {
  ok: boolean;
  seq?: number;
  code?: string;
}

function backupProcess(dataDir: string, a: TestArchive, src: string, leaseWaitMs: number): { proc: ChildProcess; done: Promise<Outcome | null> } {
  const o = {
    dataDir,
    archives: [{ ...a, archiveKey: a.archiveKey.toString("hex") }],
    selection: { include: [src], exclude: [], excludePatterns: [] },
    leaseWaitMs,
  };
  const proc = spawn(process.execPath, ["--input-type=module", "-e", CHILD], {
    cwd: import.meta.dirname,
    env: { ...process.env, CAIRN_T12: JSON.stringify(o) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  proc.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const done = new Promise<Outcome | null>((resolve) =>
    proc.on("exit", () => {
      const last = out.trim().split("\n").at(-1);
      resolve(last ? (JSON.parse(last) as Outcome) : null);
    }),
  );
  return { proc, done };
}

describe("T12: two writers to one archive, as two processes", () => {
  let tn: TestNode;
  const work = mkdtempSync(join(tmpdir(), "cairn-e2e-t12-"));
  const src = join(work, "src");
  beforeAll(async () => {
    tn = await startTestNode({ leaseTtlMs: 3000 });
    mkdirSync(src, { recursive: true });
    for (let i = 0; i < 12; i++) writeFileSync(join(src, `part${i}.bin`), randomBytes(8 * 1024 * 1024));
  });
  afterAll(async () => {
    await tn?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("two clones backing up together: one holds the lease, the other is refused or commits after it, never the same version", async () => {
    const a = await tn.newArchive();
    const [x, y] = [backupProcess(join(work, "clone1"), a, src, 0), backupProcess(join(work, "clone2"), a, src, 0)];
    const outcomes = [(await x.done) as Outcome, (await y.done) as Outcome];
    const committed = outcomes.filter((o) => o.ok).map((o) => o.seq);
    expect(committed.length).toBeGreaterThanOrEqual(1);
    for (const o of outcomes) if (!o.ok) expect(o.code).toBe("ARCHIVE_IN_USE");
    // two commits are two successive versions, not one version twice
    expect(new Set(committed).size).toBe(committed.length);
    const out = join(work, "out-clones");
    const r = await runRestore({ dataDir: join(work, "reader1"), archive: a, target: out, paths: [src], logger });
    expect(r.errorList).toEqual([]);
    for (let i = 0; i < 12; i++) expect(readFileSync(join(out, "src", `part${i}.bin`)).equals(readFileSync(join(src, `part${i}.bin`)))).toBe(true);
  }, 120_000);

  it("a lease holder killed with SIGKILL mid-upload: the next writer waits for its lease to expire, then commits", async () => {
    const a = await tn.newArchive();
    const before = await nodeBytesReceived(tn.node);
    const holder = backupProcess(join(work, "holder"), a, src, 0);
    // once it holds the lease and has sent a few MB, kill it without a word to the node
    for (let i = 0; i < 1000 && (await nodeBytesReceived(tn.node)) - before < 4 * 1024 * 1024; i++) await new Promise((r) => setTimeout(r, 5));
    holder.proc.kill("SIGKILL");
    expect(await holder.done).toBeNull();
    const next = backupProcess(join(work, "next"), a, src, 20_000);
    const o = (await next.done) as Outcome;
    expect(o).toEqual({ ok: true, seq: 1 });
    const out = join(work, "out-after-kill");
    const r = await runRestore({ dataDir: join(work, "reader2"), archive: a, target: out, paths: [src], logger });
    expect(r.errorList).toEqual([]);
    expect(r.files).toBe(12);
  }, 120_000);
});
