/**
 * The encrypted objects only an agent (or an authority holding the key) can read: file
 * metadata and version manifests. They travel and rest sealed ({@link sealMeta}); the storage
 * node sees only their size.
 */
import { timingSafeEqual } from "node:crypto";
import { packValue, unpackValue } from "./codec.js";
import { CairnError } from "./errors.js";
import { type ArchiveKeys, OBJECT_TYPE, openMeta, sealMeta, sha256 } from "./crypto.js";
import { arr, bin, type Infer, int, nullable, obj, oneOf, opt, str } from "./schema.js";

/** Metadata of one file version: everything needed to restore it except its content. */
export const fileMeta = obj({
  /** Absolute path with "/" separators, as selected on the source device. */
  path: str({ min: 1, max: 4096 }),
  type: oneOf(["file", "dir", "symlink"] as const),
  /** POSIX mode bits (permissions; the type bits are in `type`). */
  mode: int({ max: 0o7777 }),
  mtimeMs: int({ min: 0 }),
  size: int(),
  /** Symlink target, as stored (never followed on restore). */
  target: opt(str({ max: 4096 })),
  /** Plaintext length of each block, in order (lets restores verify and seek). */
  blockSizes: arr(int({ max: 64 * 1024 * 1024 }), { max: 1_000_000 }),
  uid: opt(int()),
  gid: opt(int()),
  /**
   * SHA-256 of the file's block ids, concatenated in order. The node stores the block list beside
   * the sealed metadata; this binds the two, so a node that swaps two files' block lists (even of
   * equal sizes) is caught on restore. Optional only for archives written before it existed.
   */
  blocksHash: opt(bin({ len: 32 })),
});
export type FileMeta = Infer<typeof fileMeta>;

/** A version manifest: the link in the archive's hash chain (rollback detection, T20). */
export const manifest = obj({
  v: int({ min: 1, max: 1 }),
  archiveGuid: str({ max: 32 }),
  seq: int({ min: 1 }),
  prevManifestHash: nullable(bin({ len: 32 })),
  /** Device time at commit: informational only. */
  createdClient: int(),
  files: int(),
  bytes: int(),
  changedFiles: int(),
  complete: opt(oneOf(["yes", "no"] as const)),
});
export type Manifest = Infer<typeof manifest>;

/** Seals file metadata; the object id is the file id. */
export function sealFileMeta(keys: ArchiveKeys, fileId: Uint8Array, meta: FileMeta): Buffer {
  return sealMeta(keys, OBJECT_TYPE.FILE_META, fileId, packValue(meta));
}

/** Opens file metadata sealed by {@link sealFileMeta}. */
export function openFileMeta(keys: ArchiveKeys, fileId: Uint8Array, blob: Uint8Array): FileMeta {
  return unpackValue(openMeta(keys, OBJECT_TYPE.FILE_META, fileId, blob), fileMeta);
}

function seqId(seq: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(seq));
  return b;
}

/** The {@link FileMeta.blocksHash} of a block list (concatenated 32-byte ids). */
export function blocksHashOf(blocks: Uint8Array): Buffer {
  return sha256(blocks);
}

/**
 * Opens a stored file version's metadata and checks that the block list the node served is the
 * one the agent sealed (throws INTEGRITY otherwise; DECRYPT_FAILED for a bad metadata object).
 */
export function openFileVersion(keys: ArchiveKeys, fileId: Uint8Array, metaBlob: Uint8Array, blocks: Uint8Array): FileMeta {
  const meta = openFileMeta(keys, fileId, metaBlob);
  if (meta.blocksHash !== undefined && !timingSafeEqual(meta.blocksHash, blocksHashOf(blocks))) {
    throw new CairnError("INTEGRITY", `the block list of ${meta.path.slice(0, 200)} does not match its sealed metadata`, { details: { path: meta.path } });
  }
  if (meta.blockSizes.length * 32 !== blocks.length) {
    throw new CairnError("INTEGRITY", `the block list of ${meta.path.slice(0, 200)} has the wrong length`, { details: { path: meta.path } });
  }
  return meta;
}

/** Seals a manifest; returns the blob and its SHA-256 (the chain link). */
export function sealManifest(keys: ArchiveKeys, m: Manifest): { blob: Buffer; hash: Buffer } {
  const blob = sealMeta(keys, OBJECT_TYPE.MANIFEST, seqId(m.seq), packValue(m));
  return { blob, hash: sha256(blob) };
}

/** Opens a manifest and checks it belongs to `seq` of this archive. */
export function openManifest(keys: ArchiveKeys, seq: number, blob: Uint8Array): Manifest {
  const m = unpackValue(openMeta(keys, OBJECT_TYPE.MANIFEST, seqId(seq), blob), manifest);
  return m;
}
