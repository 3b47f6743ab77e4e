import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { DATA_CHANNEL, decodeFrame, deriveArchiveKeys, generateKey, MAX_DATA_FRAME_BYTES, openBlock, openFileMeta } from "@cairn/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { entryOf, kindOf } from "../src/scan/scanner.js";
import { lstatSync } from "node:fs";
import { WorkerPool } from "../src/upload/worker-pool.js";
import { type FileResult, unpackFileResults } from "../src/upload/worker-protocol.js";
import { tempDir } from "./helpers.js";

// The pool loads the compiled worker (agent/dist/upload/chunk-worker.js): run `npx tsc -b` first.
describe("chunk workers", () => {
  const t = tempDir();
  afterEach(() => undefined);

  it("chunk, dedup-answer and seal files into put frames that open back to the content", async () => {
    const key = generateKey();
    const guid = "123456789012345678";
    const keys = deriveArchiveKeys(key, guid);
    const big = randomBytes(3 * 1024 * 1024 + 123);
    const text = Buffer.from("hello world\n".repeat(40_000));
    writeFileSync(join(t.dir, "big.bin"), big);
    writeFileSync(join(t.dir, "text.txt"), text);
    writeFileSync(join(t.dir, "copy.txt"), text);
    // many small random chunks in one window: stored as is, their frames sealed in place come
    // closest to the plaintext still to seal
    const smalls = Array.from({ length: 300 }, (_, i) => randomBytes(4000 + i));
    for (const [i, b] of smalls.entries()) writeFileSync(join(t.dir, `r${i}`), b);
    const names = ["big.bin", "text.txt", "copy.txt", ...smalls.map((_, i) => `r${i}`)];
    const contents = [big, text, text, ...smalls];
    const files = names.map((n, i) => {
      const p = join(t.dir, n);
      const st = lstatSync(p);
      const e = entryOf(p, kindOf(st) as 0, st);
      return { idx: i + 1, path: p, size: e.size, mtime: e.mtime, ctime: e.ctime, ino: e.ino, mode: e.mode, uid: e.uid, gid: e.gid };
    });
    const blocks = new Map<string, Buffer>();
    const results = new Map<number, Extract<FileResult, { ok: true }>>();
    const seen = new Set<string>();
    let windows = 0;
    let sealedWindows = 0;
    let done = 0;
    await new Promise<void>((resolve, reject) => {
      const pool: WorkerPool = new WorkerPool(
        { archiveKey: key, archiveGuid: guid, compress: "auto", cpuPercent: 100 },
        {
          onError: reject,
          onMessage: (w, m) => {
            if (m.t === "win") {
              windows++;
              const need = new Uint8Array(m.sizes.length);
              for (let i = 0; i < need.length; i++) {
                const k = Buffer.from(m.ids.subarray(i * 32, i * 32 + 32)).toString("hex");
                need[i] = seen.has(k) ? 0 : 1;
                seen.add(k);
              }
              pool.post(w, { t: "need", win: m.win, need });
            } else if (m.t === "sealed") {
              sealedWindows++;
              if (!m.buf) return;
              const buf = Buffer.from(m.buf, 0, m.offsets[m.offsets.length - 1]);
              for (let i = 0; i + 1 < m.offsets.length; i++) {
                const msg = decodeFrame(buf.subarray(m.offsets[i] as number, m.offsets[i + 1] as number), DATA_CHANNEL.id, MAX_DATA_FRAME_BYTES);
                if (msg.type !== "put") throw new Error("not a put");
                blocks.set(msg.id.toString("hex"), openBlock(keys, msg.id, msg.data));
              }
            } else if (m.t === "files") {
              for (const r of unpackFileResults(m)) {
                if (!r.ok) reject(new Error(r.message));
                else results.set(r.idx, r);
              }
            } else if (m.t === "taskdone") {
              done++;
              if (done === 3) setTimeout(resolve, 50);
            }
          },
        },
        2,
      );
      pool.submit([files[0] as never]);
      pool.submit([files[1] as never, files[2] as never]);
      pool.submit(files.slice(3) as never);
      afterEach(() => pool.close());
    });
    expect(windows).toBe(sealedWindows);
    for (const [i, f] of files.entries()) {
      const r = results.get(f.idx);
      expect(r).toBeDefined();
      const ids = Buffer.from((r as { blocks: Uint8Array }).blocks);
      const parts: Buffer[] = [];
      for (let o = 0; o < ids.length; o += 32) parts.push(blocks.get(ids.subarray(o, o + 32).toString("hex")) as Buffer);
      expect(Buffer.concat(parts).equals(contents[i] as Buffer)).toBe(true);
      const meta = openFileMeta(keys, Buffer.from((r as { fileId: Uint8Array }).fileId), Buffer.from((r as { meta: Uint8Array }).meta));
      expect(meta.path).toBe(f.path);
      expect(meta.blockSizes.reduce((a, b) => a + b, 0)).toBe(f.size);
    }
    t.cleanup();
  });
});
