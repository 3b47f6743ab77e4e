/**
 * Block compression with a one-byte codec id (stored in the sealed block's flags).
 *
 * - Codec 0: stored as is.
 * - Codec 1: zstd. The payload is `u32 plaintextLength (BE) ‖ zstd frame`, so decompression
 *   writes into a buffer of exactly the declared size and a bomb cannot allocate more than
 *   {@link MAX_PLAINTEXT_BYTES}.
 *
 * Compression must notice early when it does not pay: chunks above 128 KiB are first tried on a
 * 32 KiB sample (four 8 KiB slices spread over the chunk, so that files alternating compressible
 * and random stretches are not judged by one stretch); if the sample shrinks by less than 3%, the
 * chunk is stored.
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

const SAMPLE_SLICES = 4;
const SLICE_BYTES = 8 * 1024;
/** Bytes of the probe sample. */
export const SAMPLE_BYTES = SAMPLE_SLICES * SLICE_BYTES;
const SAMPLE_THRESHOLD_BYTES = 128 * 1024;
/** Smallest saving (fraction of the plaintext) for which a chunk is stored compressed. */
export const MIN_SAVING = 0.03;
/** Chunks shorter than this are never compressed. */
export const MIN_COMPRESS_BYTES = 64;

/**
 * Whether compressing `p` is worth trying: always for chunks up to 128 KiB; above, when a level-1
 * probe of four 8 KiB slices (at 1/8, 3/8, 5/8 and 7/8 of the chunk, copied into `sample`)
 * shrinks by at least 3%. `probe` compresses the sample and returns the compressed length.
 */
export function compressionWorthTrying(p: Uint8Array, sample: Buffer, probe: (s: Buffer) => number): boolean {
  if (p.length <= SAMPLE_THRESHOLD_BYTES) return true;
  for (let k = 0; k < SAMPLE_SLICES; k++) {
    const at = Math.floor((p.length * (2 * k + 1)) / (2 * SAMPLE_SLICES)) - SLICE_BYTES / 2;
    sample.set(p.subarray(at, at + SLICE_BYTES), k * SLICE_BYTES);
  }
  const s = sample.subarray(0, SAMPLE_BYTES);
  return probe(s) <= s.length * (1 - MIN_SAVING);
}

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
  if (opts.mode === "never" || p.length < MIN_COMPRESS_BYTES) return { codec: CODEC.NONE, data: p };
  const level = opts.level ?? DEFAULT_ZSTD_LEVEL;
  if (!compressionWorthTrying(p, Buffer.allocUnsafe(SAMPLE_BYTES), (s) => zstdCompress(s, { compressionLevel: 1 }).length)) {
    return { codec: CODEC.NONE, data: p };
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
