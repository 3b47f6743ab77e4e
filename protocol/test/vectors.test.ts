/**
 * Known-answer vectors: the format, frozen. A failure here means the on-disk or on-wire format
 * changed. That needs a version bump, new vectors (protocol/scripts/make-vectors.mjs) and a
 * docs/design.md edit in the same commit; old vectors must keep decrypting while supported.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Chunker, gearTable } from "../src/chunker.js";
import { ManualClock } from "../src/clock.js";
import { encodeFrame } from "../src/codec.js";
import {
  chunkId,
  deriveArchiveKeys,
  fileIdFor,
  OBJECT_TYPE,
  openBlock,
  openMeta,
  sealBlock,
  unwrapKey,
  unwrapKeyWithPassword,
  wrapKey,
} from "../src/crypto.js";
import { unpackValue } from "../src/codec.js";
import { fileMeta } from "../src/objects.js";
import { importPublicKey, verifyToken } from "../src/token.js";
import { xorshiftBytes } from "./helpers.js";

const load = (n: string) => JSON.parse(readFileSync(new URL(`./vectors/${n}.json`, import.meta.url), "utf8"));
const hex = (s: string) => Buffer.from(s, "hex");
const C = load("crypto");
const keys = deriveArchiveKeys(hex(C.archiveKey), C.archiveGuid);

describe("known-answer vectors", () => {
  it("HKDF subkeys", () => {
    expect({
      id: keys.id.toString("hex"),
      cdc: keys.cdc.toString("hex"),
      enc: keys.enc.toString("hex"),
      meta: keys.meta.toString("hex"),
      path: keys.path.toString("hex"),
    }).toEqual(C.subkeys);
  });

  it("chunk ids and file ids", () => {
    for (const v of C.chunkIds) expect(chunkId(keys, hex(v.plaintext)).toString("hex")).toBe(v.id);
    for (const v of C.fileIds) expect(fileIdFor(keys, v.path).toString("hex")).toBe(v.id);
  });

  it("sealed blocks: the stored samples open, and sealing with the same nonce reproduces them", () => {
    for (const v of C.sealedBlocks) {
      expect(openBlock(keys, hex(v.id), hex(v.sealed)).toString("hex")).toBe(v.plaintext);
      expect(sealBlock(keys, hex(v.id), hex(v.plaintext), { nonce: hex(v.nonce) }).toString("hex")).toBe(v.sealed);
    }
  });

  it("sealed file metadata", () => {
    const m = C.sealedMeta;
    const plain = openMeta(keys, OBJECT_TYPE.FILE_META, hex(m.fileId), hex(m.sealed));
    expect(unpackValue(plain, fileMeta)).toEqual(m.meta);
  });

  it("wrapped keys (plain and password)", () => {
    const w = C.wrappedKeys;
    expect(unwrapKey(hex(w.kek), hex(w.wrapped), w.context).toString("hex")).toBe(w.key);
    expect(wrapKey(hex(w.kek), hex(w.key), w.context, { nonce: hex(C.sealedBlocks[0].nonce) }).toString("hex")).toBe(w.wrapped);
    expect(unwrapKeyWithPassword(w.password, hex(w.passwordWrapped), w.passwordContext).toString("hex")).toBe(w.key);
  });

  it("chunk boundaries", () => {
    const v = load("chunking");
    const g = gearTable(keys.cdc);
    expect(Array.from(g.subarray(0, 8))).toEqual(v.gearFirst8);
    expect(new Chunker(g, v.params).split(xorshiftBytes(8 * 1024 * 1024, 1))).toEqual(v.lengths);
  });

  it("frames", () => {
    const v = load("frames");
    const id = Buffer.alloc(32, 0xab);
    expect(encodeFrame(1, { type: "put", id, sha: Buffer.alloc(32, 0xcd), data: Buffer.from("sealed") }).toString("hex")).toBe(v.put);
    expect(encodeFrame(1, { type: "req", id: 7, method: "have", params: { ids: id } }).toString("hex")).toBe(v.req);
  });

  it("tokens", () => {
    const v = load("tokens");
    const pub = importPublicKey(v.publicKey);
    const claims = verifyToken(v.token, (kid) => (kid === v.publicKey.kid ? pub : undefined), new ManualClock(v.now), { typ: "storage" });
    expect(claims).toMatchObject({ arc: C.archiveGuid, scope: "all" });
  });
});
