#!/usr/bin/env node
// Writes the known-answer vectors in protocol/test/vectors/. Run only on a deliberate format
// change (bump FORMAT_VERSION / PROTOCOL_VERSION and edit docs/design.md in the same commit):
//   npx tsc -b && node protocol/scripts/make-vectors.mjs
import { createPrivateKey } from "node:crypto";
import { writeFileSync } from "node:fs";
import * as p from "../dist/index.js";

const out = new URL("../test/vectors/", import.meta.url);
const AK = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
const GUID = "123456789012345678";
const keys = p.deriveArchiveKeys(AK, GUID);
const NONCE = Buffer.from("0102030405060708090a0b0c", "hex");
const SALT = Buffer.from("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf", "hex");

function xorshift(n, seed) {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b.writeUInt32LE(x, i);
  }
  for (; i < n; i++) b[i] = i & 0xff;
  return b;
}
const hex = (b) => Buffer.from(b).toString("hex");
const text = Buffer.from("Cairn known-answer vector. ".repeat(64));
const rand = xorshift(4096, 42);

const crypto = {
  archiveKey: hex(AK),
  archiveGuid: GUID,
  subkeys: { id: hex(keys.id), cdc: hex(keys.cdc), enc: hex(keys.enc), meta: hex(keys.meta), path: hex(keys.path) },
  chunkIds: [
    { plaintext: "", id: hex(p.chunkId(keys, Buffer.alloc(0))) },
    { plaintext: hex(Buffer.from("hello")), id: hex(p.chunkId(keys, Buffer.from("hello"))) },
  ],
  fileIds: [{ path: "/home/ana/Documents/report.txt", id: hex(p.fileIdFor(keys, "/home/ana/Documents/report.txt")) }],
  sealedBlocks: [text, rand].map((pt) => {
    const id = p.chunkId(keys, pt);
    return { plaintext: hex(pt), id: hex(id), nonce: hex(NONCE), sealed: hex(p.sealBlock(keys, id, pt, { nonce: NONCE })) };
  }),
  sealedMeta: (() => {
    const fid = p.fileIdFor(keys, "/home/ana/a.txt");
    const meta = { path: "/home/ana/a.txt", type: "file", mode: 0o644, mtimeMs: 1714564800000, size: 5, blockSizes: [5] };
    return {
      fileId: hex(fid),
      meta,
      salt: hex(SALT),
      nonce: hex(NONCE),
      sealed: hex(p.sealMeta(keys, p.OBJECT_TYPE.FILE_META, fid, p.packValue(meta), { salt: SALT, nonce: NONCE })),
    };
  })(),
  wrappedKeys: (() => {
    const kek = Buffer.alloc(32, 0x11);
    const ctx = p.wrapContext.archiveKey("987654321098765432", GUID);
    return {
      kek: hex(kek),
      key: hex(AK),
      context: ctx,
      wrapped: hex(p.wrapKey(kek, AK, ctx, { nonce: NONCE })),
      password: "correct horse battery staple",
      passwordContext: p.wrapContext.userKey("987654321098765432"),
      passwordWrapped: hex(
        p.wrapKeyWithPassword("correct horse battery staple", AK, p.wrapContext.userKey("987654321098765432"), p.TEST_SCRYPT, { salt: SALT, nonce: NONCE }),
      ),
    };
  })(),
};

const chunkData = xorshift(8 * 1024 * 1024, 1);
const chunking = {
  generator: "xorshift32 seed 1, 8 MiB (protocol/test/helpers.ts xorshiftBytes)",
  params: p.DEFAULT_CHUNKER_PARAMS,
  gearFirst8: Array.from(p.gearTable(keys.cdc).subarray(0, 8)),
  lengths: new p.Chunker(p.gearTable(keys.cdc)).split(chunkData),
};

const id = Buffer.alloc(32, 0xab);
const frames = {
  put: hex(p.encodeFrame(1, { type: "put", id, sha: Buffer.alloc(32, 0xcd), data: Buffer.from("sealed") })),
  req: hex(p.encodeFrame(1, { type: "req", id: 7, method: "have", params: { ids: id } })),
};

const seed = Buffer.alloc(32, 0x5a);
const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]);
const signing = { kid: "vector", privateKey: createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" }) };
signing.publicKey = (await import("node:crypto")).createPublicKey(signing.privateKey);
const clock = new p.ManualClock(Date.UTC(2026, 0, 1));
const tok = p.signToken(
  {
    typ: "storage",
    iss: "100000000000000001",
    sub: "200000000000000002",
    dev: "200000000000000002",
    usr: "400000000000000004",
    org: "500000000000000005",
    arc: GUID,
    dst: "300000000000000003",
    scope: "all",
  },
  signing,
  clock,
  7 * 86400000,
);
const tokens = { publicKey: p.publicKeyInfo(signing), now: clock.now(), token: tok };

for (const [name, v] of Object.entries({ crypto, chunking, frames, tokens })) {
  writeFileSync(new URL(`${name}.json`, out), `${JSON.stringify(v, null, 1)}\n`);
}
console.log("vectors written");
