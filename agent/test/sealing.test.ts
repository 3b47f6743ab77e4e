import { randomBytes } from "node:crypto";
import {
  BlockOpener,
  BlockSealer,
  CODEC,
  chunkId,
  DATA_CHANNEL,
  decodeFrame,
  deriveArchiveKeys,
  generateKey,
  MAX_DATA_FRAME_BYTES,
  openBlock,
  sealBlock,
} from "@cairn/protocol";
import { describe, expect, it } from "vitest";
import { framePut, PUT_DATA_OFFSET, putFrameData, putFrameId } from "../src/upload/put-frame.js";

const keys = deriveArchiveKeys(generateKey(), "123456789012345678");
const text = Buffer.from("a line of text that compresses rather well, again and again\n".repeat(20_000));
const random = randomBytes(1024 * 1024);
/** pdf/docx-like: 64 KiB stretches alternating random and text (the benchmark's "mixed" files). */
const mixed = Buffer.concat(Array.from({ length: 16 }, (_, i) => (i % 2 ? text.subarray(0, 65536) : randomBytes(65536))));

describe("block sealing (the workers' fast path)", () => {
  it.each([
    ["text", text, CODEC.ZSTD],
    ["random", random, CODEC.NONE],
    ["mixed random and text stretches", mixed, CODEC.ZSTD],
    ["tiny", Buffer.from("hi"), CODEC.NONE],
  ])("seals %s into the format openBlock reads, and opens what sealBlock wrote", (_name, plain, codec) => {
    const sealer = new BlockSealer(keys);
    const id = chunkId(keys, plain);
    const out = Buffer.alloc(BlockSealer.bound(plain.length) + 10);
    const n = sealer.sealInto(id, plain, out, 10);
    const sealed = out.subarray(10, 10 + n);
    expect(sealed[2]).toBe(codec);
    expect(openBlock(keys, id, sealed).equals(plain)).toBe(true);
    const opener = new BlockOpener(keys);
    expect(opener.open(id, sealBlock(keys, id, plain)).equals(plain)).toBe(true);
    expect(opener.open(id, sealed).equals(plain)).toBe(true);
  });

  it("a tampered block, a wrong id or another archive's key fails to open", () => {
    const sealer = new BlockSealer(keys);
    const id = chunkId(keys, text);
    const out = Buffer.alloc(BlockSealer.bound(text.length));
    const sealed = out.subarray(0, sealer.sealInto(id, text, out, 0));
    const opener = new BlockOpener(keys);
    const flipped = Buffer.from(sealed);
    flipped[40] = (flipped[40] as number) ^ 1;
    expect(() => opener.open(id, flipped)).toThrow(expect.objectContaining({ code: "DECRYPT_FAILED" }));
    expect(() => opener.open(chunkId(keys, random), sealed)).toThrow(expect.objectContaining({ code: "DECRYPT_FAILED" }));
    const other = new BlockOpener(deriveArchiveKeys(generateKey(), "123456789012345678"));
    expect(() => other.open(id, sealed)).toThrow(expect.objectContaining({ code: "DECRYPT_FAILED" }));
  });

  it("a put frame built around a sealed block in place decodes with the protocol's decoder", () => {
    const sealer = new BlockSealer(keys);
    const id = chunkId(keys, text);
    const out = Buffer.alloc(PUT_DATA_OFFSET + BlockSealer.bound(text.length));
    const len = framePut(out, 0, id, sealer.sealInto(id, text, out, PUT_DATA_OFFSET));
    const frame = out.subarray(0, len);
    const msg = decodeFrame(frame, DATA_CHANNEL.id, MAX_DATA_FRAME_BYTES);
    expect(msg.type).toBe("put");
    if (msg.type !== "put") return;
    expect(msg.id.equals(id)).toBe(true);
    expect(putFrameId(frame).equals(id)).toBe(true);
    expect(msg.data.equals(putFrameData(frame))).toBe(true);
    expect(openBlock(keys, id, msg.data).equals(text)).toBe(true);
  });
});
