// Agent benchmark: initial, no-change and restore of a dataset (bench/gen-dataset.mjs) against a
// real storage node in a child process. Each step runs in a fresh `node` process (a cold start,
// as `cairn agent backup` is), and reports wall time, throughput and peak RSS (from /proc).
// Usage: npm run bench -w @cairn/agent -- DATASET_DIR   (build first: npx tsc -b)
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const dataset = process.argv[2];
if (!dataset) {
  console.error("usage: backup-bench.mjs DATASET_DIR");
  process.exit(2);
}
const here = new URL(".", import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), "cairn-agent-bench-"));
const child = spawn(process.execPath, [join(here, "node-child.mjs")], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, BENCH_DIR: work } });
const ep = JSON.parse(await new Promise((r) => createInterface({ input: child.stdout }).once("line", r)));
const key = Buffer.alloc(32, 7).toString("base64");
const step = (name, code) =>
  new Promise((resolve, reject) => {
    const script = `import { runBackup, runRestore } from "@cairn/agent";
    const archive = { endpoint: { archiveGuid: ${JSON.stringify(ep.archiveGuid)}, url: ${JSON.stringify(ep.url)}, fingerprint: ${JSON.stringify(ep.fingerprint)}, token: ${JSON.stringify(ep.token)} }, archiveKey: Buffer.from(${JSON.stringify(key)}, "base64") };
    const dataDir = ${JSON.stringify(join(work, "agent"))};
    const t0 = performance.now();
    const r = await (${code});
    const s = (performance.now() - t0) / 1000;
    const rss = Number(/VmHWM:\\s+(\\d+)/.exec(await (await import("node:fs/promises")).readFile("/proc/self/status", "utf8"))?.[1] ?? 0) / 1024;
    console.log(JSON.stringify({ step: ${JSON.stringify(name)}, seconds: +s.toFixed(3), mbPerSec: +((r.bytes ?? 0) / 1e6 / s).toFixed(1), peakRssMiB: +rss.toFixed(0), files: r.files, bytes: r.bytes, uploadedBytes: r.uploadedBytes, errors: r.errors }));`;
    const t0 = performance.now();
    const p = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"], cwd: join(here, "..") });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.on("exit", (c) =>
      c === 0
        ? resolve({ ...JSON.parse(out.trim().split("\n").pop()), processSeconds: +((performance.now() - t0) / 1000).toFixed(3) })
        : reject(new Error(`${name} exited ${c}`)),
    );
  });
const sel = JSON.stringify({ include: [dataset], exclude: [], excludePatterns: [] });
try {
  console.log(JSON.stringify(await step("backup-initial", `runBackup({ dataDir, archives: [archive], selection: ${sel} })`)));
  console.log(JSON.stringify(await step("backup-nochange", `runBackup({ dataDir, archives: [archive], selection: ${sel} })`)));
  console.log(JSON.stringify(await step("restore", `runRestore({ dataDir, archive, target: ${JSON.stringify(join(work, "restore"))} })`)));
} finally {
  child.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
}
