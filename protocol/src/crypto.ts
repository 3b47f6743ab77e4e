/**
 * Keys, keyed ids and authenticated encryption (RELIABILITY.md "Recommended key and encryption
 * design"; byte layouts in docs/design.md).
 *
 * Hierarchy: a random 256-bit user key (UK) wraps one random archive key (AK) per archive. From
 * AK and the archive GUID, HKDF-SHA-256 derives independent subkeys: `id` (chunk ids), `cdc`
 * (the chunker's gear table), `enc` (per-chunk keys), `meta` (metadata objects) and `path` (file
 * ids). A chunk is sealed with AES-256-GCM under K_c = HMAC(K_enc, "chunk\0" ‖ chunkId): each
 * per-chunk key only ever encrypts one plaintext, so no nonce state must survive crashes.
 *
 * Every AAD binds the format version, object type, flags, archive GUID and object id, so a block
 * moved to another archive, swapped with another id or confused with a metadata object fails to
 * open.
 */
import { createCipheriv, createHash, createDecipheriv, createHmac, hkdfSync, randomBytes, randomFillSync, scryptSync, timingSafeEqual } from "node:crypto";
import { compressBlock, decompressBlock, type CompressOptions } from "./compress.js";
import { CairnError } from "./errors.js";
import { FORMAT_VERSION } from "./version.js";

/** Object types in sealed objects (part of the format). */
export const OBJECT_TYPE = { CHUNK: 1, FILE_META: 2, MANIFEST: 3 } as const;
export type ObjectType = (typeof OBJECT_TYPE)[keyof typeof OBJECT_TYPE];

export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const SALT_BYTES = 16;
/** version(1) ‖ type(1) ‖ flags(1) ‖ nonce(12) */
export const BLOCK_HEADER_BYTES = 3 + NONCE_BYTES;
/** version(1) ‖ type(1) ‖ flags(1) ‖ salt(16) ‖ nonce(12) */
export const META_HEADER_BYTES = 3 + SALT_BYTES + NONCE_BYTES;

const AAD_PREFIX = Buffer.from("cairn/v1\0", "latin1");

/** The subkeys of one archive. */
export interface ArchiveKeys {
  readonly archiveGuid: string;
  readonly id: Buffer;
  readonly cdc: Buffer;
  readonly enc: Buffer;
  readonly meta: Buffer;
  readonly path: Buffer;
}

/** 32 fresh random bytes: a user key or archive key. */
export function generateKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

function requireKey(k: Uint8Array, what: string): void {
  if (k.length !== KEY_BYTES) throw new CairnError("BAD_REQUEST", `${what} must be ${KEY_BYTES} bytes`);
}

function hkdf(key: Buffer, salt: string, purpose: string, len = KEY_BYTES): Buffer {
  return Buffer.from(hkdfSync("sha256", key, Buffer.from(salt, "utf8"), Buffer.from(`cairn/v1/${purpose}`, "utf8"), len));
}

/** Derives an archive's subkeys from its archive key and GUID. */
export function deriveArchiveKeys(archiveKey: Buffer, archiveGuid: string): ArchiveKeys {
  requireKey(archiveKey, "archive key");
  return {
    archiveGuid,
    id: hkdf(archiveKey, archiveGuid, "id"),
    cdc: hkdf(archiveKey, archiveGuid, "cdc"),
    enc: hkdf(archiveKey, archiveGuid, "enc"),
    meta: hkdf(archiveKey, archiveGuid, "meta"),
    path: hkdf(archiveKey, archiveGuid, "path"),
  };
}

/** The keyed id of a plaintext chunk: HMAC-SHA-256(K_id, chunk), 32 bytes. */
export function chunkId(keys: ArchiveKeys, plaintext: Uint8Array): Buffer {
  return createHmac("sha256", keys.id).update(plaintext).digest();
}

/** The keyed id of a file path: HMAC-SHA-256(K_path, path) truncated to 16 bytes. */
export function fileIdFor(keys: ArchiveKeys, path: string): Buffer {
  return createHmac("sha256", keys.path).update(path, "utf8").digest().subarray(0, 16);
}

/** The AAD of a sealed object: `"cairn/v1\0"` ‖ header bytes 0..2 ‖ u8 len(archiveGuid) ‖ archiveGuid ‖ object id. */
export function sealAad(header: Buffer, archiveGuid: string, objectId: Uint8Array): Buffer {
  return aad(header, archiveGuid, objectId);
}

function aad(header: Buffer, archiveGuid: string, objectId: Uint8Array): Buffer {
  const g = Buffer.from(archiveGuid, "latin1");
  if (g.length > 255) throw new CairnError("BAD_REQUEST", "archive GUID too long");
  return Buffer.concat([AAD_PREFIX, header, Buffer.from([g.length]), g, objectId]);
}

const META_OBJECT_INFO = Buffer.from("cairn/v1/meta-object\x01", "latin1");

/**
 * HKDF-SHA-256(K_meta, salt, "cairn/v1/meta-object", 32) written out (RFC 5869: one Extract and
 * one Expand block): the same bytes as `hkdfSync`, at a fraction of its per-call cost.
 */
function metaObjectKey(metaKey: Buffer, salt: Uint8Array): Buffer {
  const prk = createHmac("sha256", salt).update(metaKey).digest();
  return createHmac("sha256", prk).update(META_OBJECT_INFO).digest();
}

const RANDOM_POOL_BYTES = 4096;
const randomPool = Buffer.allocUnsafe(RANDOM_POOL_BYTES);
let randomPoolAt = RANDOM_POOL_BYTES;

/** `n` fresh bytes of the OS CSPRNG, cut from a pool refilled 4 KiB at a time (each byte used once). */
function pooledRandom(n: number): Buffer {
  if (randomPoolAt + n > RANDOM_POOL_BYTES) {
    randomFillSync(randomPool);
    randomPoolAt = 0;
  }
  const out = Buffer.from(randomPool.subarray(randomPoolAt, randomPoolAt + n));
  randomPoolAt += n;
  return out;
}

/** Throws INTERNAL for an all-zero nonce (a broken random source). */
export function refuseZeroNonce(n: Uint8Array): void {
  for (let i = 0; i < n.length; i++) if (n[i] !== 0) return;
  throw new CairnError("INTERNAL", "refusing an all-zero nonce (broken random source?)");
}

function freshNonce(nonce?: Uint8Array): Buffer {
  const n = nonce ? Buffer.from(nonce) : pooledRandom(NONCE_BYTES);
  if (n.length !== NONCE_BYTES) throw new CairnError("BAD_REQUEST", "nonce must be 12 bytes");
  refuseZeroNonce(n);
  return n;
}

/** The per-chunk key K_c = HMAC-SHA-256(K_enc, "chunk\0" ‖ chunk id). */
export function chunkKey(keys: ArchiveKeys, id: Uint8Array): Buffer {
  return createHmac("sha256", keys.enc).update("chunk\0", "latin1").update(id).digest();
}

/** Test-only knobs for known-answer vectors. Never pass these in production code. */
export interface SealTestOptions {
  nonce?: Uint8Array;
  salt?: Uint8Array;
}

/**
 * Seals a plaintext chunk: compress when it pays, then AES-256-GCM under the per-chunk key.
 * Layout: version ‖ type ‖ flags(codec) ‖ nonce ‖ ciphertext ‖ tag.
 */
export function sealBlock(keys: ArchiveKeys, id: Uint8Array, plaintext: Uint8Array, opts: CompressOptions & SealTestOptions = {}): Buffer {
  if (id.length !== 32) throw new CairnError("BAD_REQUEST", "chunk id must be 32 bytes");
  const { codec, data } = compressBlock(plaintext, opts);
  const nonce = freshNonce(opts.nonce);
  const out = Buffer.allocUnsafe(BLOCK_HEADER_BYTES + data.length + TAG_BYTES);
  out[0] = FORMAT_VERSION;
  out[1] = OBJECT_TYPE.CHUNK;
  out[2] = codec;
  nonce.copy(out, 3);
  const c = createCipheriv("aes-256-gcm", chunkKey(keys, id), nonce);
  c.setAAD(aad(out.subarray(0, 3), keys.archiveGuid, id));
  let off = BLOCK_HEADER_BYTES;
  off += c.update(data).copy(out, off);
  off += c.final().copy(out, off);
  c.getAuthTag().copy(out, off);
  return out;
}

/**
 * Opens a sealed chunk and checks that the plaintext's keyed id equals `id` (catches an agent
 * that uploaded content under the wrong id). Throws DECRYPT_FAILED or INTEGRITY.
 */
export function openBlock(keys: ArchiveKeys, id: Uint8Array, blob: Uint8Array, opts: { verifyId?: boolean } = {}): Buffer {
  const b = Buffer.isBuffer(blob) ? blob : Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (b.length < BLOCK_HEADER_BYTES + TAG_BYTES) throw new CairnError("INTEGRITY", "sealed block too short");
  if (b[0] !== FORMAT_VERSION) throw new CairnError("INTEGRITY", `unsupported block format version ${b[0]}`);
  if (b[1] !== OBJECT_TYPE.CHUNK) throw new CairnError("INTEGRITY", "object is not a chunk");
  const d = createDecipheriv("aes-256-gcm", chunkKey(keys, id), b.subarray(3, BLOCK_HEADER_BYTES));
  d.setAAD(aad(b.subarray(0, 3), keys.archiveGuid, id));
  d.setAuthTag(b.subarray(b.length - TAG_BYTES));
  let data: Buffer;
  try {
    data = Buffer.concat([d.update(b.subarray(BLOCK_HEADER_BYTES, b.length - TAG_BYTES)), d.final()]);
  } catch (cause) {
    throw new CairnError("DECRYPT_FAILED", "block failed authentication (wrong key, wrong archive or tampered)", { cause });
  }
  const plain = decompressBlock(b[2] as number, data);
  if (opts.verifyId !== false) {
    const again = chunkId(keys, plain);
    if (!timingSafeEqual(again, Buffer.from(id))) throw new CairnError("INTEGRITY", "block content does not match its id");
  }
  return plain;
}

/**
 * Seals a metadata object (file metadata, manifest) under a one-off key HKDF(K_meta, salt).
 * Layout: version ‖ type ‖ flags ‖ salt(16) ‖ nonce(12) ‖ ciphertext ‖ tag.
 */
export function sealMeta(keys: ArchiveKeys, type: ObjectType, objectId: Uint8Array, plaintext: Uint8Array, opts: SealTestOptions = {}): Buffer {
  const salt = opts.salt ? Buffer.from(opts.salt) : pooledRandom(SALT_BYTES);
  if (salt.length !== SALT_BYTES) throw new CairnError("BAD_REQUEST", "salt must be 16 bytes");
  const nonce = freshNonce(opts.nonce);
  const header = Buffer.alloc(META_HEADER_BYTES);
  header[0] = FORMAT_VERSION;
  header[1] = type;
  header[2] = 0;
  salt.copy(header, 3);
  nonce.copy(header, 3 + SALT_BYTES);
  const key = metaObjectKey(keys.meta, salt);
  const c = createCipheriv("aes-256-gcm", key, nonce);
  c.setAAD(aad(header.subarray(0, 3), keys.archiveGuid, objectId));
  return Buffer.concat([header, c.update(plaintext), c.final(), c.getAuthTag()]);
}

/** Opens a metadata object sealed by {@link sealMeta}; throws DECRYPT_FAILED or INTEGRITY. */
export function openMeta(keys: ArchiveKeys, type: ObjectType, objectId: Uint8Array, blob: Uint8Array): Buffer {
  const b = Buffer.isBuffer(blob) ? blob : Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (b.length < META_HEADER_BYTES + TAG_BYTES) throw new CairnError("INTEGRITY", "sealed object too short");
  if (b[0] !== FORMAT_VERSION) throw new CairnError("INTEGRITY", `unsupported object format version ${b[0]}`);
  if (b[1] !== type) throw new CairnError("INTEGRITY", `object has type ${b[1]}, expected ${type}`);
  const salt = b.subarray(3, 3 + SALT_BYTES);
  const key = metaObjectKey(keys.meta, salt);
  const d = createDecipheriv("aes-256-gcm", key, b.subarray(3 + SALT_BYTES, META_HEADER_BYTES));
  d.setAAD(aad(b.subarray(0, 3), keys.archiveGuid, objectId));
  d.setAuthTag(b.subarray(b.length - TAG_BYTES));
  try {
    return Buffer.concat([d.update(b.subarray(META_HEADER_BYTES, b.length - TAG_BYTES)), d.final()]);
  } catch (cause) {
    throw new CairnError("DECRYPT_FAILED", "metadata object failed authentication", { cause });
  }
}

// ---------------------------------------------------------------------------------------------
// Key wrapping

/** Wrapped-key format: version(1)=1 ‖ nonce(12) ‖ ciphertext(32) ‖ tag(16) = 61 bytes. */
export const WRAPPED_KEY_BYTES = 1 + NONCE_BYTES + KEY_BYTES + TAG_BYTES;
const WRAP_AAD = Buffer.from("cairn/v1/wrap\0", "latin1");

/**
 * Wraps a 32-byte key under a key-encryption key with AES-256-GCM. `context` names the owner and
 * purpose (e.g. `archive:<userUid>:<archiveGuid>:1`) and is bound as AAD, so a wrapped key moved
 * to another row does not unwrap.
 */
export function wrapKey(kek: Buffer, key: Buffer, context: string, opts: SealTestOptions = {}): Buffer {
  requireKey(kek, "key-encryption key");
  requireKey(key, "key");
  const nonce = freshNonce(opts.nonce);
  const c = createCipheriv("aes-256-gcm", kek, nonce);
  c.setAAD(Buffer.concat([WRAP_AAD, Buffer.from(context, "utf8")]));
  return Buffer.concat([Buffer.from([1]), nonce, c.update(key), c.final(), c.getAuthTag()]);
}

/** Unwraps a key wrapped by {@link wrapKey}; throws DECRYPT_FAILED on a wrong key or context. */
export function unwrapKey(kek: Buffer, wrapped: Uint8Array, context: string): Buffer {
  requireKey(kek, "key-encryption key");
  const w = Buffer.from(wrapped);
  if (w.length !== WRAPPED_KEY_BYTES || w[0] !== 1) throw new CairnError("DECRYPT_FAILED", "malformed wrapped key");
  const d = createDecipheriv("aes-256-gcm", kek, w.subarray(1, 1 + NONCE_BYTES));
  d.setAAD(Buffer.concat([WRAP_AAD, Buffer.from(context, "utf8")]));
  d.setAuthTag(w.subarray(w.length - TAG_BYTES));
  try {
    return Buffer.concat([d.update(w.subarray(1 + NONCE_BYTES, w.length - TAG_BYTES)), d.final()]);
  } catch (cause) {
    throw new CairnError("DECRYPT_FAILED", "wrapped key does not unwrap (wrong key or context)", { cause });
  }
}

/** scrypt parameters for password wrapping. */
export interface ScryptParams {
  /** log2 of N. */
  logN: number;
  r: number;
  p: number;
}

/** restic's and kopia's parameters: N = 2^16, r = 8, p = 1 (64 MiB, ~200 ms here). */
export const DEFAULT_SCRYPT: ScryptParams = { logN: 16, r: 8, p: 1 };
/** Cheap parameters for tests only (restic's TestUseLowSecurityKDFParameters). */
export const TEST_SCRYPT: ScryptParams = { logN: 10, r: 8, p: 1 };

/** Password-wrapped format: version(1)=2 ‖ logN(1) ‖ r(1) ‖ p(1) ‖ salt(16) ‖ wrapped key(61). */
export const PASSWORD_WRAPPED_KEY_BYTES = 4 + SALT_BYTES + WRAPPED_KEY_BYTES;

function scryptKey(password: string, salt: Buffer, prm: ScryptParams): Buffer {
  if (prm.logN < 10 || prm.logN > 20 || prm.r < 1 || prm.r > 32 || prm.p < 1 || prm.p > 16) {
    throw new CairnError("DECRYPT_FAILED", "scrypt parameters out of range");
  }
  const N = 2 ** prm.logN;
  return scryptSync(password.normalize("NFC"), salt, KEY_BYTES, { N, r: prm.r, p: prm.p, maxmem: 256 * N * prm.r + 32 * 1024 * 1024 });
}

/** Wraps a key under a password (scrypt, then {@link wrapKey}). */
export function wrapKeyWithPassword(password: string, key: Buffer, context: string, prm: ScryptParams = DEFAULT_SCRYPT, opts: SealTestOptions = {}): Buffer {
  const salt = opts.salt ? Buffer.from(opts.salt) : randomBytes(SALT_BYTES);
  const kek = scryptKey(password, salt, prm);
  return Buffer.concat([Buffer.from([2, prm.logN, prm.r, prm.p]), salt, wrapKey(kek, key, context, opts)]);
}

/** Unwraps a password-wrapped key; throws DECRYPT_FAILED on a wrong password. */
export function unwrapKeyWithPassword(password: string, wrapped: Uint8Array, context: string): Buffer {
  const w = Buffer.from(wrapped);
  if (w.length !== PASSWORD_WRAPPED_KEY_BYTES || w[0] !== 2) throw new CairnError("DECRYPT_FAILED", "malformed password-wrapped key");
  const prm = { logN: w[1] as number, r: w[2] as number, p: w[3] as number };
  const kek = scryptKey(password, w.subarray(4, 4 + SALT_BYTES), prm);
  return unwrapKey(kek, w.subarray(4 + SALT_BYTES), context);
}

/** Context strings for wrapped keys, in one place so both sides agree. */
export const wrapContext = {
  /** The user key wrapped by the authority's escrow KEK or by the user's archive password. */
  userKey: (userUid: string, keyVersion = 1) => `user:${userUid}:${keyVersion}`,
  /** An archive key wrapped by its user key. */
  archiveKey: (userUid: string, archiveGuid: string, keyVersion = 1) => `archive:${userUid}:${archiveGuid}:${keyVersion}`,
};

/** SHA-256 of bytes: the ciphertext checksum a storage node verifies without keys. */
export function sha256(data: Uint8Array): Buffer {
  return createHash("sha256").update(data).digest();
}
