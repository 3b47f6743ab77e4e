#!/usr/bin/env node
// `npm run soak`: the nightly soak of design/RELIABILITY.md ("Cadence"): N agents (default 4)
// back up changing trees to one storage node for SOAK_MINUTES while a seeded chaos schedule
// SIGKILLs agent backups mid-run, SIGKILLs and restarts the storage node, and cuts or stalls the
// agents' connections in a TCP proxy in front of the node (the node announces the proxy's
// address). Now and then an agent's database is deleted (its credentials kept, the tree selected
// again), and an agent restores its latest version under the same chaos instead of
// backing up: a restore that reports success must equal the tree. Then the chaos stops and every agent must back up cleanly, restore its latest
// version byte for byte (diff -r), and the node's `verify` must find every stored block intact.
//
// Real processes as deployed: `cairn authority serve`, `cairn storenode serve`, and a fresh
// `cairn agent backup` / `cairn agent restore` process per step, TLS on, on 127.0.0.1.
//
// Env: SOAK_MINUTES (default 5), SOAK_AGENTS (4), SOAK_SEED (random; printed, so a failing
// schedule can be replayed), SOAK_WORK (default /tmp/cairn-soak-work), SOAK_KEEP=1 keeps it.
// Writes the summary to bench/results/soak-<time>.json; exits 1 when anything fails.
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
const cairn = join(repo, "cli/bin/cairn.js");
const MINUTES = Number(process.env.SOAK_MINUTES ?? 5);
const AGENTS = Number(process.env.SOAK_AGENTS ?? 4);
const SEED = Number(process.env.SOAK_SEED ?? randomBytes(4).readUInt32LE(0));
const WORK = resolve(process.env.SOAK_WORK ?? "/tmp/cairn-soak-work");
const PASSWORD = "soak-password-1";
/** A backup of these small trees that takes longer than this is stuck: a failure of the soak. */
const BACKUP_TIMEOUT_MS = 180_000;

const log = (...a) => process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${a.join(" ")}\n`);

/** mulberry32: the chaos schedule and where and how the files change follow SOAK_SEED (their bytes are random). */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = prng(SEED);
const between = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const chance = (p) => rand() < p;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs `cairn ARGS` to its end: exit code, signal, output. `kill` gets a function that SIGKILLs it. */
function run(args, opts = {}) {
  return new Promise((resolveRun) => {
    const child = execFile(process.execPath, [cairn, ...args], {
      env: { ...process.env, CAIRN_LOG_LEVEL: opts.logLevel ?? "warn" },
      maxBuffer: 64 * 1024 * 1024,
      timeout: opts.timeoutMs ?? 600_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    opts.onStart?.(() => child.kill("SIGKILL"));
    child.on("exit", (code, signal) => {
      if (opts.logFile) writeFileSync(opts.logFile, `${stdout}${stderr}`);
      resolveRun({ code, signal, stdout, stderr });
    });
  });
}

function lastJson(text) {
  for (const l of text.trim().split("\n").reverse()) {
    try {
      return JSON.parse(l);
    } catch {}
  }
  throw new Error(`no JSON in output: ${text.slice(-500)}`);
}

async function must(args) {
  const r = await run(args);
  if (r.code !== 0) throw new Error(`cairn ${args.join(" ")} exited ${r.code ?? r.signal}: ${r.stderr.slice(-2000)}`);
  return r;
}

/** Starts a daemon and resolves once its JSON log says it listens. */
function startDaemon(name, args) {
  return new Promise((resolveStart, reject) => {
    const child = spawn(process.execPath, [cairn, ...args], { env: { ...process.env, CAIRN_LOG_LEVEL: "info" }, stdio: ["ignore", "pipe", "pipe"] });
    let buf = "";
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${buf.slice(-2000)}`)), 60_000);
    const onData = (d) => {
      buf += d;
      for (const line of buf.split("\n")) {
        if (!line.startsWith("{")) continue;
        try {
          const j = JSON.parse(line);
          if (typeof j.port === "number" && j.port > 0) {
            clearTimeout(timer);
            child.stdout.off("data", onData);
            child.stdout.resume();
            child.stderr.resume();
            resolveStart({ child, port: j.port });
            return;
          }
        } catch {}
      }
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", (d) => {
      buf += d;
    });
    child.on("exit", (code) => reject(new Error(`${name} exited ${code}: ${buf.slice(-2000)}`)));
  });
}

async function stopDaemon(d, signal = "SIGTERM") {
  if (!d || d.child.exitCode !== null || d.child.signalCode !== null) return;
  const exited = new Promise((r) => d.child.once("exit", r));
  d.child.kill(signal);
  const t = setTimeout(() => d.child.kill("SIGKILL"), 30_000);
  await exited;
  clearTimeout(t);
}

function freePort() {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolvePort(port));
    });
  });
}

/**
 * A TCP proxy to the node: while `chaos.on`, each new connection may be cut after a random byte
 * count or stalled (half-open: bytes stop, the socket stays) for a while. Counts what it did.
 */
async function chaosProxy(targetPort) {
  const chaos = { on: true, cuts: 0, stalls: 0, connections: 0 };
  const sockets = new Set();
  const server = createServer((client) => {
    chaos.connections++;
    const upstream = connect(targetPort, "127.0.0.1");
    sockets.add(client);
    sockets.add(upstream);
    const plan = !chaos.on ? "pass" : chance(0.25) ? "cut" : chance(0.1) ? "stall" : "pass";
    const limit = plan === "pass" ? Number.POSITIVE_INFINITY : between(2_000, 3_000_000);
    let seen = 0;
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    const relay = (from, to) =>
      from.on("data", (d) => {
        seen += d.length;
        if (seen > limit && plan === "cut") {
          chaos.cuts++;
          end();
          return;
        }
        if (seen > limit && plan === "stall") {
          chaos.stalls++;
          from.pause();
          to.pause();
          setTimeout(end, between(5_000, 40_000)).unref();
          return;
        }
        if (!to.write(d)) {
          from.pause();
          to.once("drain", () => from.resume());
        }
      });
    relay(client, upstream);
    relay(upstream, client);
    client.on("error", end);
    upstream.on("error", end);
    client.on("close", end);
    upstream.on("close", end);
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    chaos,
    port: server.address().port,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// the agents' trees

/** Random bytes that compress about half the time: text-like or not. */
function content(size) {
  if (chance(0.5)) return randomBytes(size);
  return Buffer.from(
    randomBytes(Math.ceil(size / 2))
      .toString("hex")
      .slice(0, size),
  );
}

function filesOf(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesOf(p));
    else out.push(p);
  }
  return out;
}

/** A few changes to a tree: new files, rewrites, appends, edits in place, deletions, renames. */
function mutate(tree, counter) {
  const files = filesOf(tree);
  const ops = between(3, 12);
  for (let i = 0; i < ops; i++) {
    const pick = () => files[between(0, files.length - 1)];
    const op = files.length < 20 ? "create" : ["create", "create", "rewrite", "append", "edit", "delete", "rename"][between(0, 6)];
    if (op === "create") {
      const dir = join(tree, `d${between(0, 9)}`, `e${between(0, 4)}`);
      mkdirSync(dir, { recursive: true });
      const p = join(dir, `f${counter.n++}.bin`);
      writeFileSync(p, content(chance(0.1) ? between(1_000_000, 4_000_000) : between(0, 200_000)));
      files.push(p);
    } else {
      const p = pick();
      if (!p || !existsSync(p)) continue;
      if (op === "rewrite") writeFileSync(p, content(between(0, 300_000)));
      else if (op === "append") writeFileSync(p, content(between(1, 50_000)), { flag: "a" });
      else if (op === "edit") {
        const size = statSync(p).size;
        if (size > 0) {
          const fd = Buffer.alloc(Math.min(size, between(1, 4096)));
          randomBytes(fd.length).copy(fd);
          writeFileSync(p, fd, { flag: "r+" });
        }
      } else if (op === "delete") unlinkSync(p);
      else if (op === "rename") renameSync(p, `${p}.moved`);
    }
  }
}

function diff(a, b) {
  return new Promise((r) =>
    execFile("diff", ["-r", a, b], { maxBuffer: 16 * 1024 * 1024 }, (err, stdout) => r(err ? stdout.slice(0, 2000) || String(err) : null)),
  );
}

// ---------------------------------------------------------------------------------------------

async function main() {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(join(WORK, "logs"), { recursive: true });
  log(`seed ${SEED}, ${AGENTS} agents, ${MINUTES} min, work ${WORK}`);
  const A = join(WORK, "authority");
  const N = join(WORK, "storenode");
  const init = lastJson((await must(["--json", "authority", "init", "--data", A, "--admin-username", "admin", "--admin-password", PASSWORD])).stdout);
  const authority = await startDaemon("authority", ["authority", "serve", "--data", A, "--host", "127.0.0.1", "--port", "0"]);
  const url = `https://127.0.0.1:${authority.port}`;
  const fp = init.certFingerprint;
  const ek = lastJson((await must(["--json", "authority", "enroll-key", "--data", A])).stdout);
  await must([
    "--json",
    "storenode",
    "init",
    "--data",
    N,
    "--store-point",
    join(WORK, "sp1"),
    "--name",
    "soak-node",
    "--authority",
    url,
    "--authority-fingerprint",
    fp,
    "--enroll-key",
    ek.enrollKey,
  ]);
  const nodePort = await freePort();
  const proxy = await chaosProxy(nodePort);
  const nodeArgs = ["storenode", "serve", "--data", N, "--host", "127.0.0.1", "--port", String(nodePort), "--url", `wss://127.0.0.1:${proxy.port}`];
  let node = await startDaemon("storenode", nodeArgs);

  const agents = [];
  for (let i = 0; i < AGENTS; i++) {
    const dataDir = join(WORK, `agent${i}`);
    const tree = join(WORK, `home${i}`);
    mkdirSync(tree, { recursive: true });
    const counter = { n: 0 };
    mutate(tree, counter);
    await must([
      "--json",
      "agent",
      "register",
      "--data",
      dataDir,
      "--authority",
      url,
      "--authority-fingerprint",
      fp,
      "--registration-key",
      init.registrationKey,
      "--username",
      "admin",
      "--password",
      PASSWORD,
      "--name",
      `soak-laptop-${i}`,
    ]);
    await must(["agent", "select", "add", tree, "--data", dataDir]);
    agents.push({
      i,
      dataDir,
      tree,
      counter,
      backups: 0,
      committed: 0,
      killed: 0,
      failed: 0,
      stuck: 0,
      lastError: null,
      lastOk: false,
      restores: 0,
      restoresOk: 0,
      restoresKilled: 0,
      restoresFailed: 0,
      dbLost: 0,
    });
  }

  const stats = { rounds: 0, nodeKills: 0 };
  const restoreFailures = [];
  const chaosRestore = async (a) => {
    a.restores++;
    const out = join(WORK, `chaos-restore${a.i}-${a.restores}`);
    mkdirSync(out);
    let killer = null;
    const killAt = chance(0.25) ? between(50, 2000) : null;
    const r = await run(["--json", "--verbose", "agent", "restore", "--data", a.dataDir, "--to", out, "--full-path"], {
      logFile: join(WORK, "logs", `agent${a.i}-restore${a.restores}.log`),
      timeoutMs: BACKUP_TIMEOUT_MS,
      onStart: (kill) => {
        if (killAt !== null) killer = setTimeout(kill, killAt);
      },
    });
    if (killer) clearTimeout(killer);
    if (r.signal === "SIGTERM") restoreFailures.push(`agent ${a.i}: restore ${a.restores} never ended (log: logs/agent${a.i}-restore${a.restores}.log)`);
    else if (r.signal === "SIGKILL") a.restoresKilled++;
    else if (r.code === 0) {
      const d = await diff(a.tree, join(out, a.tree));
      if (d !== null) restoreFailures.push(`agent ${a.i}: restore ${a.restores} reported success but differs from the committed tree: ${d}`);
      else a.restoresOk++;
    } else a.restoresFailed++;
    rmSync(out, { recursive: true, force: true });
  };
  const deadline = Date.now() + MINUTES * 60_000;
  let nodeBusy = Promise.resolve();
  while (Date.now() < deadline) {
    stats.rounds++;
    // the node: killed with -9 now and then during a round, restarted on the same port
    if (chance(0.15)) {
      const after = between(200, 4000);
      nodeBusy = (async () => {
        await sleep(after);
        stats.nodeKills++;
        await stopDaemon(node, "SIGKILL");
        await sleep(between(300, 3000));
        node = await startDaemon("storenode", nodeArgs);
      })();
    }
    await Promise.all(
      agents.map(async (a) => {
        // now and then, instead of a backup: restore the latest version under the same chaos.
        // The tree has not changed since that version committed, so a restore that says it
        // succeeded must have written exactly the tree.
        if (a.lastOk && chance(0.12)) return chaosRestore(a);
        // now and then the agent's database is lost (credentials kept) and the person selects
        // the tree again: the next backup must notice the files deleted meanwhile
        if (chance(0.04)) {
          for (const f of ["agent.db", "agent.db-wal", "agent.db-shm"]) rmSync(join(a.dataDir, f), { force: true });
          await must(["agent", "select", "add", a.tree, "--data", a.dataDir]);
          a.dbLost++;
        }
        mutate(a.tree, a.counter);
        a.backups++;
        a.lastOk = false;
        let killer = null;
        const killAt = chance(0.3) ? between(50, 3000) : null;
        const r = await run(["--json", "--verbose", "agent", "backup", "--data", a.dataDir], {
          logFile: join(WORK, "logs", `agent${a.i}-backup${a.backups}.log`),
          timeoutMs: BACKUP_TIMEOUT_MS,
          onStart: (kill) => {
            if (killAt !== null) killer = setTimeout(kill, killAt);
          },
        });
        if (killer) clearTimeout(killer);
        if (r.signal === "SIGTERM") {
          a.stuck++;
          a.lastError = `no end after ${BACKUP_TIMEOUT_MS / 1000} s (log: logs/agent${a.i}-backup${a.backups}.log)`;
        } else if (r.signal === "SIGKILL") a.killed++;
        else if (r.code === 0) {
          a.committed++;
          a.lastOk = true;
        } else {
          a.failed++;
          a.lastError = r.stderr.trim().split("\n").slice(-1)[0]?.slice(0, 300) ?? null;
        }
      }),
    );
    await nodeBusy;
    if (stats.rounds % 10 === 0)
      log(`round ${stats.rounds}: ${agents.map((a) => `${a.committed}/${a.backups}`).join(" ")} committed; node killed ${stats.nodeKills}×`);
  }

  // calm: no more kills, the proxy passes everything through
  proxy.chaos.on = false;
  const failures = [...agents.filter((a) => a.stuck > 0).map((a) => `agent ${a.i}: ${a.stuck} backups never ended: ${a.lastError}`), ...restoreFailures];
  for (const a of agents) {
    const r = await run(["--json", "agent", "backup", "--data", a.dataDir]);
    if (r.code !== 0) failures.push(`agent ${a.i}: the final backup exited ${r.code}: ${r.stderr.slice(-1000)}`);
  }
  for (const a of agents) {
    const out = join(WORK, `restore${a.i}`);
    mkdirSync(out);
    const r = await run(["--json", "agent", "restore", "--data", a.dataDir, "--to", out, "--full-path"]);
    if (r.code !== 0) failures.push(`agent ${a.i}: the restore exited ${r.code}: ${r.stderr.slice(-1000)}`);
    else {
      const d = await diff(a.tree, join(out, a.tree));
      if (d !== null) failures.push(`agent ${a.i}: the restore differs from the tree: ${d}`);
    }
    a.files = filesOf(a.tree).length;
  }
  const verify = await run(["--json", "storenode", "verify", "--data", N]);
  if (verify.code !== 0) failures.push(`storenode verify exited ${verify.code}: ${verify.stdout.slice(-1000)}${verify.stderr.slice(-1000)}`);

  await stopDaemon(node);
  await stopDaemon(authority);
  await proxy.close();
  const summary = {
    at: new Date().toISOString(),
    seed: SEED,
    minutes: MINUTES,
    rounds: stats.rounds,
    nodeKills: stats.nodeKills,
    proxy: { connections: proxy.chaos.connections, cuts: proxy.chaos.cuts, stalls: proxy.chaos.stalls },
    agents: agents.map((a) => ({
      i: a.i,
      backups: a.backups,
      committed: a.committed,
      killed: a.killed,
      failed: a.failed,
      stuck: a.stuck,
      lastError: a.lastError,
      databasesLost: a.dbLost,
      restores: { run: a.restores, identical: a.restoresOk, killed: a.restoresKilled, failed: a.restoresFailed },
      files: a.files,
    })),
    verify: (() => {
      try {
        return lastJson(verify.stdout);
      } catch {
        return null;
      }
    })(),
    failures,
    ok: failures.length === 0,
  };
  const results = join(repo, "bench/results");
  mkdirSync(results, { recursive: true });
  const file = join(results, `soak-${summary.at.replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  log(
    summary.ok
      ? `passed: ${stats.rounds} rounds, ${agents.reduce((n, a) => n + a.committed, 0)} backups committed, ${agents.reduce((n, a) => n + a.killed, 0)} killed, ${agents.reduce((n, a) => n + a.restoresOk, 0)} of ${agents.reduce((n, a) => n + a.restores, 0)} chaos restores identical (the rest killed or failed cleanly), node killed ${stats.nodeKills}×, ${agents.reduce((n, a) => n + a.dbLost, 0)} agent databases lost, ${proxy.chaos.cuts} cuts, ${proxy.chaos.stalls} stalls; every tree restored identically; verify clean (${file})`
      : `FAILED (seed ${SEED}):\n${failures.join("\n")}`,
  );
  if (!process.env.SOAK_KEEP && summary.ok) rmSync(WORK, { recursive: true, force: true });
  process.exitCode = summary.ok ? 0 : 1;
}

main().catch((err) => {
  log(`error (seed ${SEED}): ${err.stack ?? err}`);
  process.exitCode = 1;
});
