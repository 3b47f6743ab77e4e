import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Chunker, DEFAULT_CHUNKER_PARAMS, gearTable } from "../src/chunker.js";
import { deriveArchiveKeys } from "../src/crypto.js";
import { chunkDigests, xorshiftBytes } from "./helpers.js";

const keys = deriveArchiveKeys(Buffer.alloc(32, 7), "123456789012345678");

describe("FastCDC chunker", () => {
  it("keeps every chunk within min..max and covers the input exactly", () => {
    const data = xorshiftBytes(24 * 1024 * 1024, 1);
    const c = new Chunker(gearTable(keys.cdc));
    const lens = c.split(data);
    expect(lens.reduce((a, b) => a + b, 0)).toBe(data.length);
    for (const l of lens.slice(0, -1)) {
      expect(l).toBeGreaterThanOrEqual(DEFAULT_CHUNKER_PARAMS.min);
      expect(l).toBeLessThanOrEqual(DEFAULT_CHUNKER_PARAMS.max);
    }
    const avg = data.length / lens.length;
    expect(avg).toBeGreaterThan(DEFAULT_CHUNKER_PARAMS.avg * 0.6);
    expect(avg).toBeLessThan(DEFAULT_CHUNKER_PARAMS.avg * 1.6);
  });

  it("inserting one byte near the start of a 64 MiB file changes at most 3 chunks", () => {
    const data = randomBytes(64 * 1024 * 1024);
    const c = new Chunker(gearTable(keys.cdc));
    const before = new Set(chunkDigests(data, c.split(data)));
    const changed = Buffer.concat([data.subarray(0, 1000), Buffer.from([0x42]), data.subarray(1000)]);
    const after = chunkDigests(changed, c.split(changed));
    const fresh = after.filter((d) => !before.has(d));
    expect(fresh.length).toBeLessThanOrEqual(3);
  });

  it("finds the same boundaries when fed in pieces (streaming) as on the whole buffer", () => {
    const data = xorshiftBytes(12 * 1024 * 1024, 9);
    const c = new Chunker(gearTable(keys.cdc));
    const whole = c.split(data);
    const streamed: number[] = [];
    let start = 0;
    let avail = 0;
    const step = 777_777;
    while (start < data.length) {
      avail = Math.min(data.length, Math.max(avail, start) + step);
      const eof = avail === data.length;
      const len = c.cut(data, start, avail, eof);
      if (len === 0) continue;
      streamed.push(len);
      start += len;
    }
    expect(streamed).toEqual(whole);
  });

  it("derives different boundaries under a different archive key", () => {
    const data = xorshiftBytes(16 * 1024 * 1024, 3);
    const other = deriveArchiveKeys(Buffer.alloc(32, 8), "123456789012345678");
    const a = new Chunker(gearTable(keys.cdc)).split(data);
    const b = new Chunker(gearTable(other.cdc)).split(data);
    expect(a).not.toEqual(b);
  });

  it("cuts exactly where the JavaScript reference loop cuts (WebAssembly scan), whatever the data, sizes and key", () => {
    const other = deriveArchiveKeys(Buffer.alloc(32, 8), "123456789012345678");
    const inputs = [
      xorshiftBytes(20 * 1024 * 1024, 5),
      Buffer.alloc(9 * 1024 * 1024), // no cut point anywhere: every chunk is max long
      Buffer.concat([xorshiftBytes(3 * 1024 * 1024, 6), Buffer.alloc(5 * 1024 * 1024, 0xff), xorshiftBytes(1234567, 7)]),
    ];
    const paramSets = [DEFAULT_CHUNKER_PARAMS, { min: 64, avg: 256, max: 1024 }, { min: 4096, avg: 16384, max: 65536 }];
    for (const params of paramSets) {
      // two chunkers with different gear tables take turns: each scan must use its own table
      const wasmA = new Chunker(gearTable(keys.cdc), params);
      const wasmB = new Chunker(gearTable(other.cdc), params);
      const jsA = new Chunker(gearTable(keys.cdc), params, { engine: "js" });
      const jsB = new Chunker(gearTable(other.cdc), params, { engine: "js" });
      for (const data of inputs) {
        let a = 0;
        let b = 0;
        while (a < data.length || b < data.length) {
          if (a < data.length) {
            const len = wasmA.cut(data, a, data.length, true);
            expect(len).toBe(jsA.cut(data, a, data.length, true));
            a += len;
          }
          if (b < data.length) {
            // a window that ends before max: "no cut yet" (0) must agree too
            const end = Math.min(data.length, b + params.max - 1);
            const eof = end === data.length;
            const len = wasmB.cut(data, b, end, eof);
            expect(len).toBe(jsB.cut(data, b, end, eof));
            b += len === 0 ? jsB.cut(data, b, data.length, true) : len;
          }
        }
      }
    }
  });

  it("carries the hash across WebAssembly scan segments (segments shorter than the hash's 32-byte memory)", () => {
    const params = { min: 64, avg: 4096, max: 16384 };
    const data = xorshiftBytes(4 * 1024 * 1024, 12);
    const reference = new Chunker(gearTable(keys.cdc), params, { engine: "js" }).split(data);
    for (const segmentBytes of [1, 7, 31, 32, 33, 1000]) {
      expect(new Chunker(gearTable(keys.cdc), params, { segmentBytes }).split(data)).toEqual(reference);
    }
    expect(() => new Chunker(gearTable(keys.cdc), params, { segmentBytes: 0 })).toThrow();
    expect(() => new Chunker(gearTable(keys.cdc), params, { segmentBytes: 256 * 1024 + 1 })).toThrow();
  });

  it("cuts the same with sizes far above the WebAssembly scan's 256 KiB segment (up to 32 MiB chunks)", () => {
    const params = { min: 1024 * 1024, avg: 8 * 1024 * 1024, max: 32 * 1024 * 1024 };
    const data = xorshiftBytes(40 * 1024 * 1024, 11);
    expect(new Chunker(gearTable(keys.cdc), params).split(data)).toEqual(new Chunker(gearTable(keys.cdc), params, { engine: "js" }).split(data));
  });

  it("ships the WebAssembly module that protocol/wasm/chunker-scan.wat compiles to", async () => {
    const script = "../scripts/make-chunker-wasm.mjs"; // a plain .mjs: no types to resolve
    const { chunkerWasmSource } = (await import(script)) as { chunkerWasmSource(): Promise<string> };
    expect(readFileSync(new URL("../src/chunker-wasm.ts", import.meta.url), "utf8")).toBe(await chunkerWasmSource());
  });

  it("rejects nonsensical parameters", () => {
    expect(() => new Chunker(gearTable(keys.cdc), { min: 10, avg: 20, max: 30 })).toThrow();
    expect(() => new Chunker(gearTable(keys.cdc), { min: 1024, avg: 3000, max: 9000 })).toThrow();
  });
});
