// Agent benchmark: the steps of /work/shared/bench/peers.sh (initial backup, no-change backup,
// backup after a ~1% change, full restore) against a real storage node over TLS in a child
// process. Each step runs in a fresh `node` process (a cold start, as `cairn agent backup` is) and
// reports wall time, throughput, the agent's peak RSS (VmHWM from /proc) and the node's peak RSS
// during that step (VmHWM reset before each step through /proc/PID/clear_refs). Stored bytes are
// `du -sb` of the node's data directory (store point, archive index, node database).
//
// Usage: npm run bench -w @cairn/agent -- DATASET_DIR [--trials N] [--restic] [--prof DIR]
//        [--keep] [--only initial|restore] [--label NAME]
//   --restic   also run `peers.sh restic` in each trial (same machine, same run: compare ratios)
//   --prof DIR write --cpu-prof / --heap-prof profiles of every step (agent, workers, node) to DIR
// Env: BENCH_NODE_ARGS adds node flags to every agent step (e.g. "--expose-gc").
// Build first: npx tsc -b. Prints one JSON line per step and a summary of medians at the end.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";

const argv = process.argv.slice(2);
const dataset = argv[0] && !argv[0].startsWith("--") ? resolve(argv[0]) : null;
if (!dataset) {
  console.error("usage: backup-bench.mjs DATASET_DIR [--trials N] [--restic] [--prof DIR] [--keep] [--only initial|restore] [--label NAME]");
  process.exit(2);
}
const opt = (k, d) => {
  const i = argv.indexOf(k);
  return i >= 0 ? argv[i + 1] : d;
};
const trials = Number(opt("--trials", "1"));
const withRestic = argv.includes("--restic");
const prof = opt("--prof", null);
const only = opt("--only", null);
const keep = argv.includes("--keep");
/** Name of this agent build in the output (to compare builds side by side). */
const label = opt("--label", "cairn");
const here = new URL(".", import.meta.url).pathname;
const shared = "/work/shared/bench";
if (prof) mkdirSync(prof, { recursive: true });

function vmHwmMiB(pid) {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}
function resetHwm(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
  } catch {
    // not permitted: the figure then covers the whole run
  }
}
/** CPU seconds (user + system, every thread) a process has used so far. */
function cpuSeconds(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}
const du = (p) => Number(execFileSync("du", ["-sb", p]).toString().split("\t")[0]);

async function cairnTrial(trial) {
  const work = mkdtempSync(join(tmpdir(), "cairn-agent-bench-"));
  const src = join(work, "src");
  execFileSync("cp", ["-a", dataset, src]);
  execFileSync("sync");
  const profArgs = (tag) => (prof ? ["--cpu-prof", `--cpu-prof-dir=${join(prof, tag)}`, "--heap-prof", `--heap-prof-dir=${join(prof, tag)}`] : []);
  const child = spawn(process.execPath, [...profArgs(`node-t${trial}`), join(here, "node-child.mjs")], {
    stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, BENCH_DIR: work },
  });
  const ep = JSON.parse(await new Promise((r) => createInterface({ input: child.stdout }).once("line", r)));
  const key = Buffer.alloc(32, 7).toString("base64");
  const results = [];
  const step = (name, code, bytesOf) =>
    new Promise((resolveStep, reject) => {
      const script = `import { runBackup, runRestore } from "@cairn/agent";
      const archive = { endpoint: { archiveGuid: ${JSON.stringify(ep.archiveGuid)}, url: ${JSON.stringify(ep.url)}, fingerprint: ${JSON.stringify(ep.fingerprint)}, token: ${JSON.stringify(ep.token)} }, archiveKey: Buffer.from(${JSON.stringify(key)}, "base64") };
      const dataDir = ${JSON.stringify(join(work, "agent"))};
      const mem = { rss: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
      const fs = await import("node:fs");
      const threads = {};
      const sampleThreads = () => { for (const t of fs.readdirSync("/proc/self/task")) { try { const f = fs.readFileSync("/proc/self/task/" + t + "/stat", "utf8"); const name = f.slice(f.indexOf("(") + 1, f.lastIndexOf(")")); const x = f.slice(f.lastIndexOf(")") + 2).split(" "); threads[t] = { name, cpu: (Number(x[11]) + Number(x[12])) / 100 }; } catch {} } };
      const sampler = setInterval(() => { const m = process.memoryUsage(); for (const k of Object.keys(mem)) mem[k] = Math.max(mem[k], m[k]); sampleThreads(); }, 250);
      let smapsPeak = { rss: 0 };
      const smapsSampler = process.env.BENCH_SMAPS ? setInterval(() => {
        const txt = fs.readFileSync("/proc/self/smaps", "utf8");
        const maps = []; let cur = null;
        for (const line of txt.split("\\n")) {
          const m = /^([0-9a-f]+)-([0-9a-f]+) \\S+ \\S+ \\S+ \\S+\\s*(.*)$/.exec(line);
          if (m) { cur = { size: (parseInt(m[2], 16) - parseInt(m[1], 16)) / 1024, name: m[3] || "[anon]", rss: 0 }; maps.push(cur); continue; }
          const r = /^Rss:\\s+(\\d+) kB/.exec(line); if (r && cur) cur.rss = Number(r[1]);
        }
        const total = maps.reduce((a, x) => a + x.rss, 0);
        if (total > smapsPeak.rss) {
          const by = {};
          for (const x of maps) { const k = x.name.startsWith("/") ? "file" : x.size >= 4096 && x.rss >= 1024 ? "anon" + Math.round(x.size / 1024) + "M#" + Object.keys(by).length : x.name + (x.size >= 1024 ? ">=1M" : "<1M"); by[k] = (by[k] ?? 0) + x.rss; }
          smapsPeak = { rss: Math.round(total / 1024), by: Object.fromEntries(Object.entries(by).map(([k, v]) => [k, Math.round(v / 1024)])) };
        }
      }, 200) : 0;
      const t0 = performance.now();
      const r = await (${code});
      clearInterval(sampler);
      clearInterval(smapsSampler);
      sampleThreads();
      const threadCpu = Object.values(threads).filter((t) => t.cpu >= 0.05).map((t) => t.name + ":" + t.cpu.toFixed(2)).join(" ");
      const s = (performance.now() - t0) / 1000;
      const rss = Number(/VmHWM:\\s+(\\d+)/.exec(await (await import("node:fs/promises")).readFile("/proc/self/status", "utf8"))?.[1] ?? 0) / 1024;
      const cpu = process.cpuUsage();
      console.log(JSON.stringify({ seconds: +s.toFixed(3), cpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(2), peakRssMiB: +rss.toFixed(0), threadCpu, smapsPeak, mainMemMiB: Object.fromEntries(Object.entries(mem).map(([k, v]) => [k, Math.round(v / 1048576)])), files: r.files, bytes: r.bytes, changedFiles: r.changedFiles, uploadedBytes: r.uploadedBytes, errors: r.errors }));`;
      resetHwm(ep.pid);
      const nodeCpu0 = cpuSeconds(ep.pid);
      const t0 = performance.now();
      const p = spawn(
        process.execPath,
        [...profArgs(`${name}-t${trial}`), ...(process.env.BENCH_NODE_ARGS ? process.env.BENCH_NODE_ARGS.split(" ") : []), "--input-type=module", "-e", script],
        {
          stdio: ["ignore", "pipe", "inherit"],
          cwd: join(here, ".."),
        },
      );
      let out = "";
      p.stdout.on("data", (d) => {
        out += d;
      });
      p.on("exit", (c) => {
        if (c !== 0) return reject(new Error(`${name} exited ${c}`));
        const r = JSON.parse(out.trim().split("\n").pop());
        const processSeconds = (performance.now() - t0) / 1000;
        const bytes = bytesOf ?? r.bytes;
        resolveStep({
          tool: label,
          trial,
          step: name,
          ...r,
          processSeconds: +processSeconds.toFixed(3),
          mbPerSec: +(bytes / 1e6 / processSeconds).toFixed(1),
          nodePeakRssMiB: +vmHwmMiB(ep.pid).toFixed(0),
          nodeCpuSeconds: +(cpuSeconds(ep.pid) - nodeCpu0).toFixed(2),
          storedBytes: du(ep.dir),
        });
      });
    });
  const sel = JSON.stringify({ include: [src], exclude: [], excludePatterns: [] });
  const backup = `runBackup({ dataDir, archives: [archive], selection: ${sel} })`;
  try {
    const datasetBytes = du(src);
    results.push(await step("backup-initial", backup));
    if (only !== "initial") {
      if (only !== "restore") {
        results.push(await step("backup-nochange", backup));
        execFileSync(process.execPath, [join(shared, "mutate-dataset.mjs"), src], { stdio: "ignore" });
        execFileSync("sync");
        results.push(await step("backup-1pct", backup));
      }
      const rst = join(work, "restore");
      results.push(await step("restore", `runRestore({ dataDir, archive, target: ${JSON.stringify(rst)} })`, datasetBytes));
      let ok = true;
      try {
        execFileSync("diff", ["-r", src, join(rst, src)], { stdio: "ignore" });
      } catch {
        ok = false;
      }
      results.push({ tool: label, trial, step: "restore-verified", ok });
    }
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    if (!keep) rmSync(work, { recursive: true, force: true });
    else console.error(`kept ${work}`);
  }
  return results;
}

function resticTrial(trial) {
  const work = mkdtempSync(join(tmpdir(), "cairn-restic-bench-"));
  try {
    const out = execFileSync("bash", [join(shared, "peers.sh"), "restic", dataset, work], { maxBuffer: 1 << 26 }).toString();
    const rows = out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const bytes = du(dataset);
    return rows.map((r) => ({ ...r, trial, ...(r.wallS ? { mbPerSec: +(bytes / 1e6 / r.wallS).toFixed(1) } : {}) }));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

const all = [];
for (let t = 1; t <= trials; t++) {
  // alternate the order so that neither tool always runs on a warmer machine
  const order = withRestic ? (t % 2 ? ["cairn", "restic"] : ["restic", "cairn"]) : ["cairn"];
  for (const tool of order) {
    const rows = tool === "cairn" ? await cairnTrial(t) : resticTrial(t);
    for (const r of rows) {
      console.log(JSON.stringify(r));
      all.push(r);
    }
  }
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? null : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const summary = {};
for (const stepName of ["backup-initial", "backup-nochange", "backup-1pct", "restore"]) {
  const c = all.filter((r) => r.tool === label && r.step === stepName);
  const rs = all.filter((r) => r.tool === "restic" && r.step === stepName);
  if (c.length === 0) continue;
  const cs = median(c.map((r) => r.processSeconds));
  const row = {
    cairnSeconds: cs,
    cairnAgentRssMiB: median(c.map((r) => r.peakRssMiB)),
    cairnNodeRssMiB: median(c.map((r) => r.nodePeakRssMiB)),
    cairnStoredBytes: median(c.map((r) => r.storedBytes)),
  };
  if (rs.length > 0) {
    const rsS = median(rs.map((r) => r.wallS));
    Object.assign(row, {
      resticSeconds: rsS,
      resticRssMiB: median(rs.map((r) => r.maxRssKiB / 1024)),
      resticRepoBytes: median(rs.map((r) => r.repoBytes)),
      timeRatio: +(cs / rsS).toFixed(3),
      speedup: +(rsS / cs).toFixed(3),
    });
  }
  summary[stepName] = row;
}
console.log(JSON.stringify({ summary, trials }, null, 1));
