#!/usr/bin/env node
// Ingest benchmark of the storage node: one local agent connection streams already-sealed blocks
// (random bytes, ~1 MiB each, as the agent's chunker produces) over wss to a node running in its
// own process, with the agent's 48 MiB window of unacknowledged bytes. Every block is durable
// (fsync, rename, directory fsync, index commit) before its ack. Reports MB/s and the node's peak
// RSS (VmHWM). The client is kept cheap so that the node is what is measured: frames are encoded
// once (a pool of 64 payloads) and only the block id is rewritten per block; the WebSocket mask
// is all zeros (allowed by ws; over TLS masking protects nothing). The agent's own encoding cost
// is measured by the agent's benchmark.
//
//   node storenode/bench/ingest.mjs [--bytes 4G] [--block 1M] [--window 48M] [--keep]
//   (root: npm run bench:storenode)
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { encodeFrame, generateSigningKey, systemClock } from "@cairn/protocol";
import WebSocket from "ws";
import { initStorenode } from "../dist/index.js";
import { connectTenant, DataClient, storageToken, testPlacement } from "../dist/testing.js";

const here = dirname(fileURLToPath(import.meta.url));
const cairn = resolve(here, "../../cli/bin/cairn.js");

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : (process.env[`BENCH_${name.toUpperCase()}`] ?? dflt);
}
function bytes(t) {
  const m = /^(\d+(?:\.\d+)?)([KMGT]?)i?B?$/i.exec(String(t));
  if (!m) throw new Error(`bad size ${t}`);
  return Math.round(Number(m[1]) * { "": 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[m[2].toUpperCase()]);
}

const TOTAL = bytes(arg("bytes", "1G"));
const BLOCK = bytes(arg("block", "1M"));
const WINDOW = bytes(arg("window", "48M"));
const keep = process.argv.includes("--keep");

const dir = mkdtempSync(join(tmpdir(), "cairn-bench-"));
const dataDir = join(dir, "data");
await initStorenode({ dataDir, storePoints: [join(dir, "sp")], name: "bench" });

const prof = process.env.BENCH_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROF}`] : [];
const node = spawn(
  process.execPath,
  [...prof, cairn, "--json", "storenode", "serve", "--data", dataDir, "--host", "127.0.0.1", "--port", "0", "--reserve-bytes", "0"],
  {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, CAIRN_LOG_LEVEL: "info" },
  },
);
const port = await new Promise((res, rej) => {
  let buf = "";
  node.stdout.on("data", (d) => {
    buf += d;
    const m = /"port":(\d+)[^\n]*"msg":"listening"/.exec(buf);
    if (m) res(Number(m[1]));
  });
  node.once("exit", (c) => rej(new Error(`node exited ${c}`)));
});
const url = `wss://127.0.0.1:${port}`;
const key = generateSigningKey();
const tenant = await connectTenant(url, { dataDir, key, tenantName: "bench" });
const p = testPlacement();
await tenant.peer.call("place-archive", p);
const token = storageToken(key, p, systemClock);
const ws = await new Promise((res, rej) => {
  const w = new WebSocket(`${url}/v1/data`, ["cairn.v1"], {
    rejectUnauthorized: false,
    perMessageDeflate: false,
    headers: { authorization: `Bearer ${token}` },
    generateMask: () => {},
  });
  w.once("open", () => res(w));
  w.once("error", rej);
});
const client = new DataClient(ws);
await client.peer.call("open", { archiveGuid: p.archiveGuid, mode: "backup", sessionId: null, agentVersion: "bench" });

// A pool of distinct sealed-looking payloads, each framed once; each block gets a fresh id. The
// pool covers the window and the socket's buffer, so no frame is rewritten while still queued.
const poolSize = Math.max(64, Math.ceil((WINDOW + 9 * 2 ** 20) / BLOCK) + 2);
const pool = Array.from({ length: poolSize }, () => {
  const data = randomBytes(BLOCK);
  const id = randomBytes(32);
  const frame = encodeFrame(1, { type: "put", id, sha: createHash("sha256").update(data).digest(), data });
  return { frame, idAt: frame.indexOf(id), size: data.length };
});
const count = Math.ceil(TOTAL / BLOCK);
let sent = 0;
let inFlight = 0;
let acked = 0;
const sizes = new Map();
let wake = null;
const origAdd = client.acked.add.bind(client.acked);
client.acked.add = (k) => {
  const s = sizes.get(k);
  if (s !== undefined) {
    sizes.delete(k);
    inFlight -= s;
    acked++;
    wake?.();
  }
  return origAdd(k);
};
const t0 = performance.now();
while (sent < count) {
  while (inFlight >= WINDOW || ws.bufferedAmount > 8 * 2 ** 20) await new Promise((r) => (wake = r));
  const b = pool[sent % pool.length];
  const id = randomBytes(32);
  id.copy(b.frame, b.idAt);
  sizes.set(id.toString("hex"), b.size);
  inFlight += b.size;
  ws.send(b.frame);
  sent++;
  if (client.nacked.size > 0) throw new Error(`nack: ${[...client.nacked.values()][0].message}`);
}
while (acked < count) {
  if (client.nacked.size > 0) throw new Error(`nack: ${[...client.nacked.values()][0].message}`);
  await new Promise((r) => (wake = r));
}
const secs = (performance.now() - t0) / 1000;
const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${node.pid}/status`, "utf8"));
const stat = readFileSync(`/proc/${node.pid}/stat`, "utf8").split(") ")[1].split(" ");
const nodeCpu = (Number(stat[11]) + Number(stat[12])) / 100; // utime + stime, clock ticks (100 Hz)
const cu = process.cpuUsage();
const mbps = TOTAL / 1e6 / secs;
console.log(
  JSON.stringify({
    bench: "storenode-ingest",
    bytes: count * BLOCK,
    blockBytes: BLOCK,
    seconds: Number(secs.toFixed(2)),
    MBps: Number(mbps.toFixed(1)),
    MiBps: Number((TOTAL / 2 ** 20 / secs).toFixed(1)),
    nodePeakRssMB: hwm ? Number((Number(hwm[1]) / 1024).toFixed(1)) : null,
    nodeCpuSeconds: nodeCpu,
    nodeUserSeconds: Number(stat[11]) / 100,
    nodeSystemSeconds: Number(stat[12]) / 100,
    clientCpuSeconds: Number(((cu.user + cu.system) / 1e6).toFixed(2)),
  }),
);
await client.close();
await tenant.close();
node.kill("SIGTERM");
await new Promise((r) => node.once("exit", r));
if (!keep) rmSync(dir, { recursive: true, force: true });
