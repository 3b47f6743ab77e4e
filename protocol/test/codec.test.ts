import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeFrame, encodeFrame, FRAME_HEADER_BYTES } from "../src/codec.js";
import { isCairnError } from "../src/errors.js";
import { DATA_CHANNEL, dataNodeMethods } from "../src/messages/data.js";
import { agentAuthorityMethods } from "../src/messages/agent-control.js";
import { nodeStorenodeMethods } from "../src/messages/node-control.js";
import { createPeer } from "../src/rpc.js";
import { validate } from "../src/schema.js";

const MAX = 1024 * 1024;

function decodeOrCode(buf: Uint8Array): string {
  try {
    decodeFrame(buf, DATA_CHANNEL.id, MAX);
    return "ok";
  } catch (e) {
    if (!isCairnError(e)) throw new Error(`decoder threw a non-Cairn error: ${String(e)}`);
    return e.code;
  }
}

describe("T23: frame codec (every decoder fuzzed)", () => {
  it("round-trips every envelope type", () => {
    const id = Buffer.alloc(32, 1);
    const msgs = [
      { type: "req", id: 1, method: "have", params: { ids: id } },
      { type: "res", id: 1, result: { present: Buffer.from([1]) } },
      { type: "err", id: 2, error: { code: "NOT_FOUND", message: "no" } },
      { type: "evt", event: "heal", data: { ids: id } },
      { type: "put", id, sha: id, data: Buffer.from("x") },
      { type: "ack", ids: Buffer.concat([id, id]) },
      { type: "nack", id, error: { code: "DESTINATION_FULL", message: "full" } },
      { type: "block", req: 3, id, data: null, error: { code: "NOT_FOUND", message: "gone" } },
    ];
    for (const m of msgs) {
      const back = decodeFrame(encodeFrame(DATA_CHANNEL.id, m), DATA_CHANNEL.id, MAX);
      expect(back).toEqual(m);
    }
  });

  it.each([
    ["empty", Buffer.alloc(0), "PROTOCOL_MALFORMED"],
    ["bad magic", Buffer.from([0, 0, 1, 1, 0x80]), "PROTOCOL_MALFORMED"],
    ["future version", Buffer.from([0x43, 0x4e, 99, 1, 0x80]), "PROTOCOL_VERSION_UNSUPPORTED"],
    ["other channel", Buffer.from([0x43, 0x4e, 1, 2, 0x80]), "PROTOCOL_MALFORMED"],
    ["not msgpack", Buffer.from([0x43, 0x4e, 1, 1, 0xc1]), "PROTOCOL_MALFORMED"],
    ["truncated map", Buffer.from([0x43, 0x4e, 1, 1, 0x82, 0xa4]), "PROTOCOL_MALFORMED"],
    ["huge declared array", Buffer.from([0x43, 0x4e, 1, 1, 0xdd, 0xff, 0xff, 0xff, 0xff]), "PROTOCOL_MALFORMED"],
    ["huge declared bin", Buffer.from([0x43, 0x4e, 1, 1, 0xc6, 0x7f, 0xff, 0xff, 0xff]), "PROTOCOL_MALFORMED"],
  ])("rejects %s with a typed error", (_n, buf, code) => {
    expect(decodeOrCode(buf)).toBe(code);
  });

  it("rejects frames over the channel limit before decoding", () => {
    expect(decodeOrCode(Buffer.alloc(MAX + 1))).toBe("FRAME_TOO_LARGE");
  });

  it("rejects unknown types, unknown fields and wrong field types", () => {
    const bad = [
      { type: "bogus" },
      { type: "req", id: 1, method: "have", params: {}, extra: 1 },
      { type: "put", id: Buffer.alloc(31), sha: Buffer.alloc(32), data: Buffer.from("x") },
      { type: "ack", ids: Buffer.alloc(33) },
      { type: "req", id: -1, method: "x", params: null },
      { type: "req", id: 1, method: "BAD METHOD", params: null },
      { type: "res", id: 1.5, result: null },
    ];
    for (const m of bad) expect(decodeOrCode(encodeFrame(DATA_CHANNEL.id, m))).toBe("PROTOCOL_MALFORMED");
  });

  it("never throws anything but a typed error on arbitrary bytes (fuzz, fixed seed)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (body) => {
        const frame = Buffer.concat([Buffer.from([0x43, 0x4e, 1, 1]), body]);
        const r = decodeOrCode(frame);
        expect(typeof r).toBe("string");
      }),
      { seed: 20261202, numRuns: 3000 },
    );
  });

  it("never throws anything but a typed error on mutated valid frames (fuzz, fixed seed)", () => {
    const base = encodeFrame(DATA_CHANNEL.id, { type: "put", id: Buffer.alloc(32, 7), sha: Buffer.alloc(32, 9), data: Buffer.alloc(100, 1) });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }), fc.nat(base.length), (edits, cut) => {
        const b = Buffer.from(base);
        for (const [pos, val] of edits) b[pos] = val;
        decodeOrCode(b.subarray(0, Math.max(FRAME_HEADER_BYTES, cut)));
      }),
      { seed: 7, numRuns: 3000 },
    );
  });

  it("method param schemas never throw untyped errors on arbitrary JSON-ish input (fuzz)", () => {
    const tables = [dataNodeMethods, agentAuthorityMethods, nodeStorenodeMethods] as const;
    const specs = tables.flatMap((t) => Object.values(t));
    fc.assert(
      fc.property(fc.nat(specs.length - 1), fc.anything({ maxDepth: 4, withTypedArray: true, withMap: false, withSet: false }), (i, v) => {
        try {
          validate((specs[i] as { params: Parameters<typeof validate>[0] }).params, v);
        } catch (e) {
          if (!isCairnError(e, "PROTOCOL_MALFORMED")) throw e;
        }
      }),
      { seed: 99, numRuns: 3000 },
    );
  });

  it("bounds nesting depth", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200; i++) deep = [deep];
    const frame = encodeFrame(DATA_CHANNEL.id, { type: "res", id: 1, result: deep });
    // The envelope accepts any result; the method schema bounds it. Depth limits must not overflow the stack.
    expect(() => validate(dataNodeMethods.have.result, deep)).toThrow();
    expect(decodeOrCode(frame)).toBe("ok");
  });
});

describe("T23: committed fuzz corpus (protocol/test/corpus, made by protocol/scripts/make-corpus.mjs)", () => {
  const dir = new URL("./corpus/", import.meta.url);
  const names = readdirSync(dir).filter((n) => n.endsWith(".bin"));

  it("holds the hostile cases", () => {
    expect(names.length).toBeGreaterThanOrEqual(20);
  });

  it.each(names)("%s is accepted only when valid, refused with a typed error otherwise, prototypes untouched", async (name) => {
    const buf = readFileSync(new URL(name, dir));
    // The whole receive path of a storage node: envelope, then the method's or event's schema.
    const sent: Buffer[] = [];
    const errors: string[] = [];
    const seen: string[] = [];
    const node = createPeer(DATA_CHANNEL, "a", {
      send: (f) => sent.push(f),
      maxFrameBytes: MAX,
      onProtocolError: (e) => errors.push(e.code),
      onFrame: (m) => {
        seen.push(m.type);
        return true;
      },
    });
    node.handlers.have = ({ ids }) => ({ present: Buffer.alloc(Math.ceil(ids.length / 256)) });
    node.receive(buf);
    await new Promise((r) => setTimeout(r, 5));
    const replies = sent.map((f) => decodeFrame(f, DATA_CHANNEL.id, MAX) as { type: string });
    const refused = errors.length > 0 || replies.some((m) => m.type === "err");
    const accepted = !refused && (seen.length > 0 || replies.some((m) => m.type === "res"));
    if (name.startsWith("valid-")) expect(accepted, `${name}: ${errors.join(",")}`).toBe(true);
    else expect(refused, `${name} was not refused`).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("decoding hostile frames in a loop does not grow memory", () => {
    const bufs = names.map((n) => readFileSync(new URL(n, dir)));
    for (let i = 0; i < 200; i++) for (const b of bufs) decodeOrCode(b);
    const before = process.memoryUsage().rss;
    for (let i = 0; i < 2000; i++) for (const b of bufs) decodeOrCode(b);
    expect(process.memoryUsage().rss - before).toBeLessThan(50 * 1024 * 1024);
  });
});
