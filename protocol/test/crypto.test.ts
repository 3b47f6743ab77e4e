import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  chunkId,
  deriveArchiveKeys,
  fileIdFor,
  generateKey,
  OBJECT_TYPE,
  openBlock,
  openMeta,
  sealBlock,
  sealMeta,
  TEST_SCRYPT,
  unwrapKey,
  unwrapKeyWithPassword,
  wrapContext,
  wrapKey,
  wrapKeyWithPassword,
} from "../src/crypto.js";
import { isCairnError } from "../src/errors.js";
import { xorshiftBytes } from "./helpers.js";

const A = "111111111111111111";
const B = "222222222222222222";

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isCairnError(e) ? e.code : `not a CairnError: ${String(e)}`;
  }
  return undefined;
}

describe("keyed ids", () => {
  it("the same plaintext under two archive keys gives unrelated ids and ciphertexts", () => {
    const plain = xorshiftBytes(300_000, 5);
    const k1 = deriveArchiveKeys(generateKey(), A);
    const k2 = deriveArchiveKeys(generateKey(), A);
    const id1 = chunkId(k1, plain);
    const id2 = chunkId(k2, plain);
    expect(id1.equals(id2)).toBe(false);
    const c1 = sealBlock(k1, id1, plain);
    const c2 = sealBlock(k2, id2, plain);
    expect(c1.equals(c2)).toBe(false);
    // No shared 32-byte window between the two ciphertexts beyond chance.
    expect(c1.subarray(15, 47).equals(c2.subarray(15, 47))).toBe(false);
  });

  it("is not the SHA-256 of the plaintext (the node cannot confirm known content)", async () => {
    const { createHash } = await import("node:crypto");
    const plain = Buffer.from("known file content");
    const k = deriveArchiveKeys(generateKey(), A);
    expect(chunkId(k, plain).equals(createHash("sha256").update(plain).digest())).toBe(false);
  });

  it("file ids depend on the archive key and the path", () => {
    const k1 = deriveArchiveKeys(generateKey(), A);
    const k2 = deriveArchiveKeys(generateKey(), A);
    expect(fileIdFor(k1, "/home/a").equals(fileIdFor(k2, "/home/a"))).toBe(false);
    expect(fileIdFor(k1, "/home/a").equals(fileIdFor(k1, "/home/b"))).toBe(false);
    expect(fileIdFor(k1, "/home/a")).toHaveLength(16);
  });
});

describe("sealed blocks", () => {
  const ak = generateKey();
  const keys = deriveArchiveKeys(ak, A);
  const text = Buffer.from("lorem ipsum dolor sit amet ".repeat(20_000));
  const random = randomBytes(1 << 20);

  it.each([
    ["compressible", text],
    ["incompressible", random],
    ["empty", Buffer.alloc(0)],
    ["tiny", Buffer.from("x")],
  ])("round-trips %s data", (_name, plain) => {
    const id = chunkId(keys, plain);
    const sealed = sealBlock(keys, id, plain);
    expect(openBlock(keys, id, sealed).equals(plain)).toBe(true);
  });

  it("compresses text and stores random data as is", () => {
    expect(sealBlock(keys, chunkId(keys, text), text).length).toBeLessThan(text.length / 10);
    const s = sealBlock(keys, chunkId(keys, random), random);
    expect(s[2]).toBe(0);
    expect(s.length).toBe(random.length + 31);
  });

  it("rejects a flipped bit anywhere with a typed error", () => {
    const id = chunkId(keys, text);
    const sealed = sealBlock(keys, id, text);
    for (const pos of [0, 1, 2, 5, 20, Math.floor(sealed.length / 2), sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[pos] = (bad[pos] as number) ^ 0x01;
      expect(["DECRYPT_FAILED", "INTEGRITY"]).toContain(codeOf(() => openBlock(keys, id, bad)));
    }
  });

  it("rejects a block opened under another chunk id (swap)", () => {
    const p1 = Buffer.from("first chunk");
    const p2 = Buffer.from("second chunk");
    const s1 = sealBlock(keys, chunkId(keys, p1), p1);
    expect(codeOf(() => openBlock(keys, chunkId(keys, p2), s1))).toBe("DECRYPT_FAILED");
  });

  it("rejects a block moved to another archive, even under the same archive key", () => {
    const plain = Buffer.from("transplanted");
    const id = chunkId(keys, plain);
    const sealed = sealBlock(keys, id, plain);
    const other = deriveArchiveKeys(ak, B);
    expect(codeOf(() => openBlock(other, id, sealed))).toBe("DECRYPT_FAILED");
  });

  it("rejects a wrong key", () => {
    const plain = Buffer.from("secret");
    const id = chunkId(keys, plain);
    const sealed = sealBlock(keys, id, plain);
    const wrong = deriveArchiveKeys(generateKey(), A);
    expect(codeOf(() => openBlock(wrong, id, sealed))).toBe("DECRYPT_FAILED");
  });

  it("rejects type confusion between a chunk and a metadata object", () => {
    const objectId = randomBytes(16);
    const meta = sealMeta(keys, OBJECT_TYPE.FILE_META, objectId, Buffer.from("{}"));
    expect(codeOf(() => openBlock(keys, randomBytes(32), meta))).toBe("INTEGRITY");
    const plain = Buffer.from("chunk");
    const block = sealBlock(keys, chunkId(keys, plain), plain);
    expect(codeOf(() => openMeta(keys, OBJECT_TYPE.FILE_META, objectId, block))).toBe("INTEGRITY");
    expect(codeOf(() => openMeta(keys, OBJECT_TYPE.MANIFEST, objectId, meta))).toBe("INTEGRITY");
  });

  it("catches content uploaded under the wrong id (a buggy or malicious agent)", () => {
    const plain = Buffer.from("real content");
    const wrongId = chunkId(keys, Buffer.from("other content"));
    const sealed = sealBlock(keys, wrongId, plain);
    expect(codeOf(() => openBlock(keys, wrongId, sealed))).toBe("INTEGRITY");
  });

  it("refuses an all-zero nonce", () => {
    const plain = Buffer.from("x");
    expect(codeOf(() => sealBlock(keys, chunkId(keys, plain), plain, { nonce: Buffer.alloc(12) }))).toBe("INTERNAL");
  });

  it("rejects truncated blobs", () => {
    const plain = Buffer.from("abc");
    const id = chunkId(keys, plain);
    const sealed = sealBlock(keys, id, plain);
    for (const n of [0, 1, 14, 30, sealed.length - 1]) {
      expect(["DECRYPT_FAILED", "INTEGRITY"]).toContain(codeOf(() => openBlock(keys, id, sealed.subarray(0, n))));
    }
  });
});

describe("key wrapping", () => {
  it("wraps and unwraps, bound to its context", () => {
    const kek = generateKey();
    const key = generateKey();
    const ctx = wrapContext.archiveKey("333333333333333333", A);
    const w = wrapKey(kek, key, ctx);
    expect(unwrapKey(kek, w, ctx).equals(key)).toBe(true);
    expect(codeOf(() => unwrapKey(kek, w, wrapContext.archiveKey("333333333333333333", B)))).toBe("DECRYPT_FAILED");
    expect(codeOf(() => unwrapKey(generateKey(), w, ctx))).toBe("DECRYPT_FAILED");
  });

  it("password wrapping refuses a wrong password and a changed password rewraps the same key", () => {
    const key = generateKey();
    const ctx = wrapContext.userKey("444444444444444444");
    const w1 = wrapKeyWithPassword("correct horse", key, ctx, TEST_SCRYPT);
    expect(unwrapKeyWithPassword("correct horse", w1, ctx).equals(key)).toBe(true);
    expect(codeOf(() => unwrapKeyWithPassword("wrong horse", w1, ctx))).toBe("DECRYPT_FAILED");
    const w2 = wrapKeyWithPassword("new password", unwrapKeyWithPassword("correct horse", w1, ctx), ctx, TEST_SCRYPT);
    expect(unwrapKeyWithPassword("new password", w2, ctx).equals(key)).toBe(true);
    expect(codeOf(() => unwrapKeyWithPassword("correct horse", w2, ctx))).toBe("DECRYPT_FAILED");
  });

  it("refuses hostile scrypt parameters in a stored wrapping", () => {
    const w = wrapKeyWithPassword("pw", generateKey(), "c", TEST_SCRYPT);
    const bad = Buffer.from(w);
    bad[1] = 30; // N = 2^30 would need 256 GiB
    expect(codeOf(() => unwrapKeyWithPassword("pw", bad, "c"))).toBe("DECRYPT_FAILED");
  });
});

describe("file versions: sealed metadata binds the block list", () => {
  it("accepts the sealed block list and refuses another one of the same length", async () => {
    const { openFileVersion, sealFileMeta, blocksHashOf } = await import("../src/objects.js");
    const keys = deriveArchiveKeys(generateKey(), A);
    const fid = fileIdFor(keys, "/home/a.txt");
    const blocks = randomBytes(64);
    const meta = sealFileMeta(keys, fid, {
      path: "/home/a.txt",
      type: "file",
      mode: 0o644,
      mtimeMs: 1,
      size: 10,
      blockSizes: [5, 5],
      blocksHash: blocksHashOf(blocks),
    });
    expect(openFileVersion(keys, fid, meta, blocks).path).toBe("/home/a.txt");
    expect(codeOf(() => openFileVersion(keys, fid, meta, randomBytes(64)))).toBe("INTEGRITY");
    expect(codeOf(() => openFileVersion(keys, fid, meta, blocks.subarray(0, 32)))).toBe("INTEGRITY");
    // metadata written before the hash existed still opens, with the length check
    const old = sealFileMeta(keys, fid, { path: "/home/a.txt", type: "file", mode: 0o644, mtimeMs: 1, size: 10, blockSizes: [5, 5] });
    expect(openFileVersion(keys, fid, old, blocks).size).toBe(10);
  });
});
