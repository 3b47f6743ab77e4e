#!/usr/bin/env node
// `npm run bench`: Cairn beside restic and borg on the standard dataset, in one run.
//
// For each of BENCH_RUNS trials (default 3): Cairn as deployed (authority, storage node and agent
// on 127.0.0.1, TLS on, every step a fresh `cairn` process), then restic and borg through
// ../shared/bench/peers.sh when they are installed (as root the script apt-get installs them).
// Steps: initial backup, no-change backup (cold process, no daemon; the watcher-assisted figure
// separately), backup after the 1% change, full restore (verified with diff -r), verification
// of every stored block, stored bytes. Per step: wall time, MB/s, CPU seconds and peak RSS per
// process. Prints medians with Cairn/restic ratios and writes the raw results to
// bench/results/<time>.json (and latest.json).
//
// Env: BENCH_SCALE (dataset scale, default 1 ≈ 1 GiB), BENCH_RUNS (3), BENCH_PEERS ("restic,borg"),
// BENCH_WORK (work folder, default /tmp/cairn-bench-work), BENCH_KEEP=1 keeps the work folder.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { cpus, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
const shared = [resolve(repo, "../shared/bench"), resolve(repo, "../../shared/bench")].find((d) => existsSync(join(d, "gen-dataset.mjs")));
if (!shared) throw new Error("cannot find ../shared/bench (gen-dataset.mjs)");
const cairn = join(repo, "cli/bin/cairn.js");
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const PEERS = (process.env.BENCH_PEERS ?? "restic,borg").split(",").filter(Boolean);
const WORK = resolve(process.env.BENCH_WORK ?? "/tmp/cairn-bench-work");
const CLK_TCK = 100;

const log = (...a) => process.stderr.write(`${a.join(" ")}\n`);
const median = (xs) => {
  const s = xs.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
  return s.length === 0 ? null : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/**
 * The work folder's file system. On ext4 without a journal (this project's VMs), the kernel
 * skips inodes freed in the last 1-6 minutes when it allocates new ones, and every file creation
 * scans past them: creating a tree right after deleting one costs several times the system CPU
 * (docs/performance.md, "The restore and the file system"). Recorded with the results.
 */
function workFs(dir) {
  const r = spawnSync("findmnt", ["-no", "SOURCE,FSTYPE", "--target", dir], { encoding: "utf8" });
  const [source = "?", type = "?"] = (r.stdout ?? "").trim().split(/\s+/);
  let journal = null;
  if (type === "ext4") {
    try {
      // the kernel prints "<none>" (older ones: nothing) when the file system has no journal
      const task = readFileSync(`/sys/fs/ext4/${source.split("/").pop()}/journal_task`, "utf8").trim();
      journal = task !== "" && task !== "<none>";
    } catch {
      journal = null; // not readable here: unknown
    }
  }
  return { source, type, journal };
}
const duBytes = (p) => Number(execFileSync("du", ["-sb", p], { encoding: "utf8" }).split("\t")[0]);

// ---------------------------------------------------------------------------------------------
// dataset

function dataset() {
  const dir = join(WORK, `dataset-scale-${SCALE}`);
  const data = join(dir, "data");
  if (!existsSync(join(dir, "manifest.json"))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    log(`generating dataset (scale ${SCALE}) in ${data}`);
    execFileSync(process.execPath, [join(shared, "gen-dataset.mjs"), "--out", data, "--scale", String(SCALE), "--manifest", join(dir, "manifest.json")], {
      stdio: ["ignore", "ignore", "inherit"],
    });
  }
  return { data, bytes: duBytes(data) };
}

// ---------------------------------------------------------------------------------------------
// processes

function timed(args, opts = {}) {
  const tf = join(WORK, `time-${process.pid}.txt`);
  const r = spawnSync("/usr/bin/time", ["-f", "%e %U %S %M", "-o", tf, process.execPath, cairn, ...args], {
    encoding: "utf8",
    env: { ...process.env, CAIRN_LOG_LEVEL: "warn", ...opts.env },
    maxBuffer: 64 * 1024 * 1024,
  });
  const [wallS, userS, sysS, rssKiB] = readFileSync(tf, "utf8").trim().split(/\s+/).slice(-4).map(Number);
  if (r.status !== 0 && !opts.allowFail) throw new Error(`cairn ${args.join(" ")} exited ${r.status}: ${r.stderr.slice(-2000)}`);
  return { wallS, cpuS: userS + sysS, rssKiB, stdout: r.stdout, stderr: r.stderr, exit: r.status };
}

function lastJson(text) {
  const lines = text.trim().split("\n").reverse();
  for (const l of lines) {
    try {
      return JSON.parse(l);
    } catch {}
  }
  throw new Error(`no JSON in output: ${text.slice(-500)}`);
}

/** Node's own flags in a daemon's systemd unit (`ExecStart=/usr/bin/node FLAGS… cairn.js …`): the daemons run as deployed. */
function unitNodeFlags(name) {
  const unit = join(repo, "packaging/systemd", `cairn-${name}.service`);
  if (!existsSync(unit)) return [];
  const m = /^ExecStart=\S*node((?:\s+--\S+)*)\s/m.exec(readFileSync(unit, "utf8"));
  return m?.[1] ? m[1].trim().split(/\s+/) : [];
}

function startDaemon(name, args, ready = (j) => typeof j.port === "number" && j.port > 0) {
  return new Promise((resolveStart, reject) => {
    const child = spawn(process.execPath, [...unitNodeFlags(name), cairn, ...args], {
      env: { ...process.env, CAIRN_LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let buf = "";
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${buf.slice(-2000)}`)), 60_000);
    child.stdout.on("data", (d) => {
      buf += d;
      for (const line of buf.split("\n")) {
        if (!line.startsWith("{")) continue;
        try {
          const j = JSON.parse(line);
          if (ready(j)) {
            clearTimeout(timer);
            child.stdout.removeAllListeners("data");
            child.stdout.resume();
            resolveStart({ child, port: j.port, pid: child.pid });
            return;
          }
        } catch {}
      }
    });
    child.stderr.on("data", (d) => {
      buf += d;
    });
    child.on("exit", (code) => reject(new Error(`${name} exited ${code}: ${buf.slice(-2000)}`)));
  });
}

function procStats(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const cpuS = (Number(f[11]) + Number(f[12])) / CLK_TCK;
    const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return { cpuS, rssKiB: hwm ? Number(hwm[1]) : null };
  } catch {
    return { cpuS: null, rssKiB: null };
  }
}

/** GET /status of the agent daemon's local API socket (null when it does not answer). */
function daemonStatus(dataDir) {
  return new Promise((res) => {
    const req = httpRequest({ socketPath: join(dataDir, "agent.sock"), path: "/status", timeout: 5000 }, (r) => {
      let b = "";
      r.setEncoding("utf8");
      r.on("data", (c) => {
        b += c;
      });
      r.on("end", () => {
        try {
          res(JSON.parse(b));
        } catch {
          res(null);
        }
      });
    });
    req.on("error", () => res(null));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

/** Waits until the agent daemon has committed its first backup and is idle. */
async function daemonIdle(dataDir, timeoutMs) {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const s = await daemonStatus(dataDir);
    if (s?.lastResult && !s.backingUp) return true;
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}

function resetPeak(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
  } catch {}
}

async function stop(d) {
  if (!d || d.child.exitCode !== null) return;
  d.child.kill("SIGTERM");
  await new Promise((r) => {
    const t = setTimeout(() => {
      d.child.kill("SIGKILL");
      r();
    }, 30_000);
    d.child.on("exit", () => {
      clearTimeout(t);
      r();
    });
  });
}

// ---------------------------------------------------------------------------------------------
// one Cairn trial

async function cairnTrial(ds, trial) {
  const w = join(WORK, `cairn-${trial}`);
  rmSync(w, { recursive: true, force: true });
  mkdirSync(w, { recursive: true });
  const src = join(w, "src");
  execFileSync("cp", ["-a", ds.data, src]);
  execFileSync("sync");
  const A = join(w, "authority");
  const N = join(w, "storenode");
  const G = join(w, "agent");
  const sp = join(w, "storepoint");
  const init = lastJson(timed(["--json", "authority", "init", "--data", A, "--admin-username", "admin", "--admin-password", "bench-password-1"]).stdout);
  const authority = await startDaemon("authority", ["authority", "serve", "--data", A, "--host", "127.0.0.1", "--port", "0"]);
  const url = `https://127.0.0.1:${authority.port}`;
  const fp = init.certFingerprint;
  const ek = lastJson(timed(["--json", "authority", "enroll-key", "--data", A]).stdout);
  timed([
    "--json",
    "storenode",
    "init",
    "--data",
    N,
    "--store-point",
    sp,
    "--name",
    "bench-node",
    "--authority",
    url,
    "--authority-fingerprint",
    fp,
    "--enroll-key",
    ek.enrollKey,
  ]);
  const node = await startDaemon("storenode", ["storenode", "serve", "--data", N, "--host", "127.0.0.1", "--port", "0"]);
  timed([
    "--json",
    "agent",
    "register",
    "--data",
    G,
    "--authority",
    url,
    "--authority-fingerprint",
    fp,
    "--registration-key",
    init.registrationKey,
    "--username",
    "admin",
    "--password",
    "bench-password-1",
    "--name",
    "bench-laptop",
  ]);
  timed(["agent", "select", "add", src, "--data", G]);

  const steps = {};
  const daemons = { authority, storenode: node };
  const step = (name, args, bytes) => {
    const before = Object.fromEntries(Object.entries(daemons).map(([k, d]) => [k, procStats(d.pid)]));
    for (const d of Object.values(daemons)) resetPeak(d.pid);
    const r = timed(args);
    const after = Object.fromEntries(Object.entries(daemons).map(([k, d]) => [k, procStats(d.pid)]));
    const s = { wallS: r.wallS, mbPerS: bytes ? bytes / 1e6 / r.wallS : null, agent: { cpuS: r.cpuS, rssKiB: r.rssKiB } };
    for (const k of Object.keys(daemons)) s[k] = { cpuS: after[k].cpuS - before[k].cpuS, rssKiB: after[k].rssKiB };
    try {
      s.summary = lastJson(r.stdout);
    } catch {}
    steps[name] = s;
    log(
      `  cairn ${name}: ${r.wallS.toFixed(2)} s${s.mbPerS ? ` (${s.mbPerS.toFixed(0)} MB/s)` : ""}, agent ${r.cpuS.toFixed(1)} cpu-s ${(r.rssKiB / 1024).toFixed(0)} MiB`,
    );
    return s;
  };
  step("backup-initial", ["--json", "agent", "backup", "--data", G], ds.bytes);
  steps["backup-initial"].storedBytes = duBytes(sp);
  step("backup-nochange", ["--json", "agent", "backup", "--data", G], null);
  execFileSync(process.execPath, [join(shared, "mutate-dataset.mjs"), src], { stdio: "ignore" });
  execFileSync("sync");
  step("backup-1pct", ["--json", "agent", "backup", "--data", G], null);
  const rst = join(w, "restore");
  mkdirSync(rst);
  step("restore", ["--json", "agent", "restore", "--data", G, "--to", rst, "--full-path"], ds.bytes);
  const restored = join(rst, src);
  const diff = spawnSync("diff", ["-r", src, restored], { encoding: "utf8" });
  steps.restore.verified = diff.status === 0;
  if (diff.status !== 0) log(`  restore differs: ${diff.stdout.slice(0, 500)}`);
  step("check", ["--json", "storenode", "verify", "--data", N], null);
  const storedBytes = duBytes(sp);

  // Watcher-assisted no-change backup: `cairn agent backup` with the daemon running asks it to
  // back up now; the daemon, watching since its start-up full scan, commits from its (empty) set
  // of changed paths. Measured once the daemon's own first backup has committed.
  const agentd = await startDaemon("agent", ["agent", "serve", "--data", G], (j) => j.msg === "agent started").catch((e) => {
    log(`  agent daemon: ${e.message}`);
    return null;
  });
  if (agentd) {
    const settled = await daemonIdle(G, 120_000);
    if (!settled) log("  agent daemon: its first backup did not finish in time");
    await new Promise((r) => setTimeout(r, 1000));
    daemons.agentd = agentd;
    const s = step("backup-nochange-watcher", ["--json", "agent", "backup", "--data", G], null);
    const d = s.summary?.destinations?.[0];
    if (d?.mode !== "paths") log(`  backup-nochange-watcher: the daemon ran a ${d?.mode ?? "?"} backup, not a watcher-assisted one`);
    await stop(agentd);
  }
  await stop(node);
  await stop(authority);
  if (!process.env.BENCH_KEEP) rmSync(w, { recursive: true, force: true });
  return { steps, storedBytes };
}

// ---------------------------------------------------------------------------------------------
// peers

function peerTrial(tool, ds, trial) {
  const w = join(WORK, `${tool}-${trial}`);
  const r = spawnSync("bash", [join(shared, "peers.sh"), tool, ds.data, w], { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${tool}: ${r.stderr.slice(-1000)}`);
  const steps = {};
  for (const line of r.stdout.trim().split("\n")) {
    const j = JSON.parse(line);
    if (j.step === "restore-verified") steps.restore.verified = j.ok;
    else steps[j.step] = { wallS: j.wallS, agent: { cpuS: j.userS + j.sysS, rssKiB: j.maxRssKiB }, repoBytes: j.repoBytes, exit: j.exit };
  }
  for (const s of ["backup-initial", "restore"]) if (steps[s]) steps[s].mbPerS = ds.bytes / 1e6 / steps[s].wallS;
  rmSync(w, { recursive: true, force: true });
  return { steps, storedBytes: steps["backup-initial"]?.repoBytes ?? null };
}

function havePeer(tool) {
  if (spawnSync("which", [tool]).status === 0) return true;
  if (process.getuid?.() === 0) {
    const pkg = tool === "borg" ? "borgbackup" : tool;
    log(`installing ${pkg} with apt-get`);
    spawnSync("apt-get", ["install", "-y", "-qq", pkg], { stdio: "ignore", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
  }
  return spawnSync("which", [tool]).status === 0;
}

// ---------------------------------------------------------------------------------------------

async function main() {
  mkdirSync(WORK, { recursive: true });
  const ds = dataset();
  const fs = workFs(WORK);
  if (fs.journal === false)
    log(`note: ${WORK} is on ext4 without a journal (${fs.source}); file creation after mass deletes is slow there, see docs/performance.md`);
  log(`dataset: ${(ds.bytes / 1e6).toFixed(0)} MB; ${RUNS} runs; peers: ${PEERS.join(", ") || "none"}`);
  const tools = ["cairn", ...PEERS.filter(havePeer)];
  const trials = Object.fromEntries(tools.map((t) => [t, []]));
  for (let i = 1; i <= RUNS; i++) {
    for (const t of tools) {
      log(`run ${i}/${RUNS}: ${t}`);
      try {
        trials[t].push(t === "cairn" ? await cairnTrial(ds, i) : peerTrial(t, ds, i));
      } catch (e) {
        log(`  ${t} failed: ${e.message}`);
        trials[t].push({ error: e.message, steps: {} });
      }
    }
  }
  const STEPS = ["backup-initial", "backup-nochange", "backup-nochange-watcher", "backup-1pct", "restore", "check"];
  const med = {};
  for (const t of tools) {
    med[t] = {};
    for (const s of STEPS) {
      const xs = trials[t].map((r) => r.steps[s]).filter(Boolean);
      if (xs.length === 0) continue;
      const m = { wallS: median(xs.map((x) => x.wallS)), mbPerS: median(xs.map((x) => x.mbPerS)) };
      for (const p of ["agent", "agentd", "storenode", "authority"]) {
        const ps = xs.map((x) => x[p]).filter(Boolean);
        if (ps.length) m[p] = { cpuS: median(ps.map((x) => x.cpuS)), rssKiB: median(ps.map((x) => x.rssKiB)) };
      }
      med[t][s] = m;
    }
    med[t].storedBytes = median(trials[t].map((r) => r.steps["backup-initial"]?.storedBytes ?? r.storedBytes));
  }
  const fmt = (v, d = 2) => (v === null || v === undefined ? "-" : v.toFixed(d));
  const lines = [];
  lines.push(
    `Cairn benchmark: ${(ds.bytes / 1e6).toFixed(0)} MB, ${RUNS} runs (medians), ${cpus().length} × ${cpus()[0]?.model ?? "?"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, work folder on ${fs.type}${fs.journal === false ? " (no journal)" : fs.journal ? " (journal)" : ""}`,
  );
  lines.push("");
  lines.push(`| step | ${tools.map((t) => `${t} s`).join(" | ")} | cairn/restic |`);
  lines.push(`| --- | ${tools.map(() => "---").join(" | ")} | --- |`);
  for (const s of STEPS) {
    const row = tools.map((t) => (med[t][s] ? `${fmt(med[t][s].wallS)}${med[t][s].mbPerS ? ` (${fmt(med[t][s].mbPerS, 0)} MB/s)` : ""}` : "-"));
    const ratio =
      med.cairn[s] && med.restic?.[s === "backup-nochange-watcher" ? "backup-nochange" : s]
        ? fmt(med.cairn[s].wallS / med.restic[s === "backup-nochange-watcher" ? "backup-nochange" : s].wallS)
        : "-";
    lines.push(`| ${s} | ${row.join(" | ")} | ${ratio} (time) |`);
  }
  lines.push(
    `| stored bytes | ${tools.map((t) => fmt(med[t].storedBytes / 1e6, 0) + " MB").join(" | ")} | ${med.restic ? fmt(med.cairn.storedBytes / med.restic.storedBytes) : "-"} |`,
  );
  lines.push("");
  lines.push("| step | process | cpu-s | peak RSS MiB |");
  lines.push("| --- | --- | --- | --- |");
  for (const s of STEPS)
    for (const p of ["agent", "agentd", "storenode", "authority"])
      if (med.cairn[s]?.[p]) lines.push(`| ${s} | ${p} | ${fmt(med.cairn[s][p].cpuS, 1)} | ${fmt((med.cairn[s][p].rssKiB ?? 0) / 1024, 0)} |`);
  const text = lines.join("\n");
  console.log(text);
  const outDir = join(repo, "bench/results");
  mkdirSync(outDir, { recursive: true });
  const result = {
    when: new Date().toISOString(),
    scale: SCALE,
    runs: RUNS,
    datasetBytes: ds.bytes,
    machine: { cpus: cpus().length, model: cpus()[0]?.model, memBytes: totalmem(), node: process.version, workFs: fs },
    medians: med,
    trials,
    table: text,
  };
  const name = result.when.replace(/[:.]/g, "-");
  writeFileSync(join(outDir, `${name}.json`), `${JSON.stringify(result, null, 1)}\n`);
  writeFileSync(join(outDir, "latest.json"), `${JSON.stringify(result, null, 1)}\n`);
  log(`results: bench/results/${name}.json`);
}

main().catch((e) => {
  log(e.stack ?? String(e));
  process.exitCode = 1;
});
