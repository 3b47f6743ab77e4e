/**
 * Block compression with a one-byte codec id (stored in the sealed block's flags).
 *
 * - Codec 0: stored as is.
 * - Codec 1: zstd. The payload is `u32 plaintextLength (BE) ‖ zstd frame`, so decompression
 *   writes into a buffer of exactly the declared size and a bomb cannot allocate more than
 *   {@link MAX_PLAINTEXT_BYTES}.
 *
 * Compression must notice early when it does not pay: chunks above 128 KiB are first tried on a
 * 32 KiB sample from their middle; if the sample shrinks by less than 3%, the chunk is stored.
 */
import zstdBinding from "zstd-napi/binding.js";
import { compress as zstdCompress } from "zstd-napi";
import { CairnError } from "./errors.js";
import { CHUNK_MAX_BYTES } from "./limits.js";

/** Codec ids (part of the format). */
export const CODEC = { NONE: 0, ZSTD: 1 } as const;
export type Codec = (typeof CODEC)[keyof typeof CODEC];

/** Largest plaintext a compressed payload may declare. */
export const MAX_PLAINTEXT_BYTES = CHUNK_MAX_BYTES + 1024 * 1024;

/** Default zstd level: level 3 matches restic's "auto" in ratio at twice brotli's speed (ECOSYSTEM.md). */
export const DEFAULT_ZSTD_LEVEL = 3;

const SAMPLE_BYTES = 32 * 1024;
const SAMPLE_THRESHOLD_BYTES = 128 * 1024;
const MIN_SAVING = 0.03;

export interface CompressOptions {
  /** `never` stores every chunk; `auto` compresses when it pays (default). */
  mode?: "auto" | "never";
  level?: number;
}

/** Result of {@link compressBlock}: the codec chosen and the payload to encrypt. */
export interface Compressed {
  codec: Codec;
  data: Buffer;
}

function zstdPayload(plain: Uint8Array, level: number): Buffer {
  const z = zstdCompress(plain, { compressionLevel: level });
  const out = Buffer.allocUnsafe(4 + z.length);
  out.writeUInt32BE(plain.length, 0);
  z.copy(out, 4);
  return out;
}

/** Compresses when it pays; otherwise returns the plaintext with codec NONE (no copy). */
export function compressBlock(plain: Uint8Array, opts: CompressOptions = {}): Compressed {
  const p = Buffer.isBuffer(plain) ? plain : Buffer.from(plain.buffer, plain.byteOffset, plain.byteLength);
  if (opts.mode === "never" || p.length < 64) return { codec: CODEC.NONE, data: p };
  const level = opts.level ?? DEFAULT_ZSTD_LEVEL;
  if (p.length > SAMPLE_THRESHOLD_BYTES) {
    const start = Math.floor((p.length - SAMPLE_BYTES) / 2);
    const sample = p.subarray(start, start + SAMPLE_BYTES);
    const zs = zstdCompress(sample, { compressionLevel: 1 });
    if (zs.length > sample.length * (1 - MIN_SAVING)) return { codec: CODEC.NONE, data: p };
  }
  const z = zstdPayload(p, level);
  if (z.length > p.length * (1 - MIN_SAVING)) return { codec: CODEC.NONE, data: p };
  return { codec: CODEC.ZSTD, data: z };
}

/** Reverses {@link compressBlock}. Throws INTEGRITY on a malformed payload. */
export function decompressBlock(codec: number, data: Buffer): Buffer {
  if (codec === CODEC.NONE) return data;
  if (codec !== CODEC.ZSTD) throw new CairnError("INTEGRITY", `unknown compression codec ${codec}`);
  if (data.length < 4) throw new CairnError("INTEGRITY", "compressed payload too short");
  const n = data.readUInt32BE(0);
  if (n > MAX_PLAINTEXT_BYTES) throw new CairnError("INTEGRITY", "compressed payload declares too large a plaintext");
  const out = Buffer.allocUnsafe(n);
  let written: number;
  try {
    written = zstdBinding.decompress(out, data.subarray(4));
  } catch (cause) {
    throw new CairnError("INTEGRITY", "zstd payload does not decompress", { cause });
  }
  if (written !== n) throw new CairnError("INTEGRITY", "zstd payload has the wrong length");
  return out;
}
