import { createHash, randomBytes } from "node:crypto";
import { lstatSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BlockSealer, chunkId, chunkKey, DATA_CHANNEL, decodeFrame, deriveArchiveKeys, generateKey, MAX_DATA_FRAME_BYTES, openBlock } from "@cairn/protocol";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { entryOf, kindOf } from "../src/scan/scanner.js";
import { WorkerPool } from "../src/upload/worker-pool.js";
import { type FileJob, unpackFileResults } from "../src/upload/worker-protocol.js";
import { tempDir } from "./helpers.js";

const GUID = "123456789012345678";

/** Records every (per-chunk key, nonce) pair and the plaintext it sealed; fails on a reuse with another plaintext. */
class PairLog {
  private readonly pairs = new Map<string, string>();
  reusedForDifferentPlaintext = 0;
  seals = 0;
  add(keys: ReturnType<typeof deriveArchiveKeys>, id: Buffer, sealed: Buffer, plain: Buffer): void {
    this.seals++;
    const pair = `${chunkKey(keys, id).toString("hex")}:${sealed.subarray(3, 15).toString("hex")}`;
    const digest = createHash("sha256").update(plain).digest("hex");
    const prev = this.pairs.get(pair);
    if (prev !== undefined && prev !== digest) this.reusedForDifferentPlaintext++;
    this.pairs.set(pair, digest);
  }
}

describe("T22: nonce and key-usage correctness", () => {
  it("T22: chunks with duplicates, sealed by concurrent writers that crash and restart, never reuse a (key, nonce) pair for different plaintexts", () => {
    const keys = deriveArchiveKeys(generateKey(), GUID);
    const pool = Array.from({ length: 64 }, (_, i) => randomBytes(200 + i * 37));
    const op = fc.record({ chunk: fc.nat({ max: pool.length - 1 }), writer: fc.nat({ max: 3 }), crash: fc.boolean() });
    fc.assert(
      fc.property(fc.array(op, { minLength: 50, maxLength: 600 }), (ops) => {
        const log = new PairLog();
        const writers = Array.from({ length: 4 }, () => new BlockSealer(keys));
        const out = Buffer.alloc(BlockSealer.bound(4096));
        for (const o of ops) {
          // a crash loses the writer's state (its nonce pool): it restarts from scratch
          if (o.crash) writers[o.writer] = new BlockSealer(keys);
          const plain = pool[o.chunk] as Buffer;
          const id = chunkId(keys, plain);
          const sealed = Buffer.from(out.subarray(0, (writers[o.writer] as BlockSealer).sealInto(id, plain, out, 0)));
          log.add(keys, id, sealed, plain);
          expect(openBlock(keys, id, sealed).equals(plain)).toBe(true);
        }
        expect(log.reusedForDifferentPlaintext).toBe(0);
      }),
      { numRuns: 60, seed: 22 },
    );
  });

  it("T22: an all-zero random source is refused; a stuck one still never pairs a key and nonce with two plaintexts", () => {
    const keys = deriveArchiveKeys(generateKey(), GUID);
    const plain = Buffer.from("some chunk");
    const id = chunkId(keys, plain);
    const out = Buffer.alloc(BlockSealer.bound(plain.length));
    const zero = new BlockSealer(keys, { random: (b) => b.fill(0) });
    expect(() => zero.sealInto(id, plain, out, 0)).toThrow(expect.objectContaining({ code: "INTERNAL" }));
    // a source stuck on the same bytes repeats nonces, but each chunk has its own key (derived from its id)
    const stuck = new BlockSealer(keys, { random: (b) => b.fill(0x5a) });
    const log = new PairLog();
    for (let i = 0; i < 2000; i++) {
      const p = Buffer.from(`chunk ${i % 700}`);
      const pid = chunkId(keys, p);
      const sealed = Buffer.alloc(BlockSealer.bound(p.length));
      log.add(keys, pid, sealed.subarray(0, stuck.sealInto(pid, p, sealed, 0)), p);
    }
    expect(log.reusedForDifferentPlaintext).toBe(0);
  });

  it("T22: four chunk-worker pools sealing the same files at once (one killed and restarted) never reuse a pair", async () => {
    const t = tempDir();
    try {
      const archiveKey = generateKey();
      const keys = deriveArchiveKeys(archiveKey, GUID);
      const shared = Array.from({ length: 6 }, () => randomBytes(40_000));
      const jobs: FileJob[] = [];
      for (let i = 0; i < 36; i++) {
        const p = join(t.dir, `f${i}`);
        writeFileSync(p, i % 3 === 0 ? randomBytes(30_000 + i) : (shared[i % shared.length] as Buffer));
        const st = lstatSync(p);
        const e = entryOf(p, kindOf(st) as 0, st);
        jobs.push({ idx: i + 1, path: p, size: e.size, mtime: e.mtime, ctime: e.ctime, ino: e.ino, mode: e.mode, uid: e.uid, gid: e.gid });
      }
      const contentOf = new Map<string, Buffer>();
      for (const j of jobs) {
        const b = readFileSync(j.path);
        contentOf.set(chunkId(keys, b).toString("hex"), b);
      }
      const log = new PairLog();
      const run = (crashAfterFirstWindow: boolean) =>
        new Promise<void>((resolve, reject) => {
          let files = 0;
          let open = 0;
          let crashed = false;
          const done = () => {
            if (files === jobs.length && open === 0) void pool.close().then(resolve);
          };
          const pool: WorkerPool = new WorkerPool(
            { archiveKey, archiveGuid: GUID, compress: "auto", cpuPercent: 100 },
            {
              onError: reject,
              onMessage: (w, m) => {
                if (m.t === "win") {
                  open++;
                  pool.post(w, { t: "need", win: m.win, need: new Uint8Array(m.sizes.length).fill(1) });
                } else if (m.t === "sealed" && m.buf) {
                  open--;
                  const buf = Buffer.from(m.buf, 0, m.offsets[m.offsets.length - 1]);
                  for (let i = 0; i + 1 < m.offsets.length; i++) {
                    const msg = decodeFrame(buf.subarray(m.offsets[i] as number, m.offsets[i + 1] as number), DATA_CHANNEL.id, MAX_DATA_FRAME_BYTES);
                    if (msg.type !== "put") continue;
                    log.add(keys, msg.id, msg.data, contentOf.get(msg.id.toString("hex")) as Buffer);
                  }
                  if (crashAfterFirstWindow && !crashed) {
                    crashed = true;
                    files = -1_000_000;
                    void pool.close().then(() => run(false).then(resolve, reject));
                    return;
                  }
                  done();
                } else if (m.t === "files") {
                  files += unpackFileResults(m).length;
                  done();
                }
              },
            },
            1,
          );
          for (let i = 0; i < jobs.length; i += 6) pool.submit(jobs.slice(i, i + 6));
        });
      await Promise.all([run(true), run(false), run(false), run(false)]);
      expect(log.seals).toBeGreaterThanOrEqual(4 * jobs.length);
      expect(log.reusedForDifferentPlaintext).toBe(0);
    } finally {
      t.cleanup();
    }
  });
});
