#!/usr/bin/env node
// npm run bench:protocol: throughput of chunking, chunk ids, sealing and opening on mixed data,
// each beside the raw node:crypto primitive it uses. Env: BENCH_MIB (default 256).
import { createCipheriv, createHash, randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import * as p from "../dist/index.js";

const MIB = 1024 * 1024;
const total = Number(process.env.BENCH_MIB ?? 256) * MIB;

// Mixed data: half random (media, archives), half text-like (source, logs): as on a laptop.
function textLike(n, seed) {
  const words =
    "the of and to in is for on that by this with function return const let var import export class async await error value data file user org device backup restore archive block chunk".split(
      " ",
    );
  const parts = [];
  let len = 0;
  let x = seed >>> 0 || 1;
  while (len < n) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const w = `${words[x % words.length]}${x % 11 === 0 ? "\n" : " "}${x % 13 === 0 ? String(x % 99991) : ""}`;
    parts.push(w);
    len += w.length;
  }
  return Buffer.from(parts.join("")).subarray(0, n);
}
const piece = 16 * MIB;
const data = Buffer.allocUnsafe(total);
for (let off = 0, i = 0; off < total; off += piece, i++) {
  const n = Math.min(piece, total - off);
  (i % 2 === 0 ? randomBytes(n) : textLike(n, i + 1)).copy(data, off);
}
const randomOnly = randomBytes(Math.min(total, 128 * MIB));

const keys = p.deriveArchiveKeys(randomBytes(32), "123456789012345678");
const chunker = new p.Chunker(p.gearTable(keys.cdc));

// Chunk boundaries once, reused by the stages below.
const lens = chunker.split(data);
const chunks = [];
for (let off = 0, i = 0; i < lens.length; off += lens[i], i++) chunks.push(data.subarray(off, off + lens[i]));
const rlens = chunker.split(randomOnly);
const rchunks = [];
for (let off = 0, i = 0; i < rlens.length; off += rlens[i], i++) rchunks.push(randomOnly.subarray(off, off + rlens[i]));

const ids = chunks.map((c) => p.chunkId(keys, c));
const rids = rchunks.map((c) => p.chunkId(keys, c));
const key = randomBytes(32);
const aes = (cs) => () => {
  for (const c of cs) {
    const e = createCipheriv("aes-256-gcm", key, randomBytes(12));
    e.update(c);
    e.final();
    e.getAuthTag();
  }
};
let sealedBytes = 0;
const sealed = chunks.map((c, i) => p.sealBlock(keys, ids[i], c));
const stages = {
  chunking: [() => chunker.split(data), total],
  sha256: [
    () => {
      for (const c of chunks) createHash("sha256").update(c).digest();
    },
    total,
  ],
  chunkIds: [
    () => {
      for (const c of chunks) p.chunkId(keys, c);
    },
    total,
  ],
  aesGcmRandom: [aes(rchunks), randomOnly.length],
  sealRandom: [
    () => {
      for (let i = 0; i < rchunks.length; i++) p.sealBlock(keys, rids[i], rchunks[i]);
    },
    randomOnly.length,
  ],
  aesGcmMixed: [aes(chunks), total],
  sealMixed: [
    () => {
      sealedBytes = 0;
      for (let i = 0; i < chunks.length; i++) sealedBytes += p.sealBlock(keys, ids[i], chunks[i]).length;
    },
    total,
  ],
  openMixed: [
    () => {
      for (let i = 0; i < sealed.length; i++) p.openBlock(keys, ids[i], sealed[i]);
    },
    total,
  ],
};
// Interleave the stages round by round so that noise from other processes hits all of them alike.
const samples = Object.fromEntries(Object.keys(stages).map((k) => [k, []]));
for (const [, [fn]] of Object.entries(stages)) fn();
for (let round = 0; round < 5; round++) {
  for (const [k, [fn, bytes]] of Object.entries(stages)) {
    const t = process.hrtime.bigint();
    fn();
    samples[k].push(bytes / (Number(process.hrtime.bigint() - t) / 1e9) / 1e6);
  }
}
const results = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, v.sort((a, b) => a - b)[2]]));
const fmt = (x) => x.toFixed(0).padStart(6);
const rows = [
  ["chunking (FastCDC)", results.chunking, "sha256", results.sha256],
  ["chunk ids (HMAC-SHA-256)", results.chunkIds, "sha256", results.sha256],
  ["seal, incompressible", results.sealRandom, "aes-256-gcm", results.aesGcmRandom],
  ["seal, mixed (zstd 3 + gcm)", results.sealMixed, "aes-256-gcm", results.aesGcmMixed],
  ["open, mixed (+ id check)", results.openMixed, "aes-256-gcm", results.aesGcmMixed],
];
console.log(
  `protocol benchmark: ${total / MIB} MiB mixed data (${lens.length} chunks, avg ${(total / lens.length / 1024).toFixed(0)} KiB), one thread, ${cpus()[0]?.model ?? "?"}`,
);
console.log("stage                          MB/s   primitive       MB/s   ratio");
for (const [name, v, prim, pv] of rows) console.log(`${name.padEnd(30)} ${fmt(v)}   ${prim.padEnd(12)} ${fmt(pv)}   ${(v / pv).toFixed(2)}`);
console.log(`mixed data sealed to ${((sealedBytes / total) * 100).toFixed(1)}% of its size`);
mkdirSync(new URL("../../bench/results/", import.meta.url), { recursive: true });
writeFileSync(
  new URL("../../bench/results/protocol.json", import.meta.url),
  `${JSON.stringify({ when: new Date().toISOString(), totalBytes: total, chunks: lens.length, mbPerSec: results, sealedRatio: sealedBytes / total }, null, 1)}\n`,
);
