import { randomBytes } from "node:crypto";
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

  it("rejects nonsensical parameters", () => {
    expect(() => new Chunker(gearTable(keys.cdc), { min: 10, avg: 20, max: 30 })).toThrow();
    expect(() => new Chunker(gearTable(keys.cdc), { min: 1024, avg: 3000, max: 9000 })).toThrow();
  });
});
