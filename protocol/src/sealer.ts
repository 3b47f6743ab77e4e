/**
 * Sealing and opening many chunks on one thread without per-chunk allocations beyond the cipher's
 * own output: a reused zstd context and scratch buffers, and nonces cut from a pool of random
 * bytes refilled in 4 KiB pieces (one RNG call per ~340 nonces instead of one per chunk).
 *
 * The bytes are exactly the sealed-block format of {@link sealBlock} (docs/design.md, "Sealed
 * block"); only the zstd encoder's output may differ byte-wise from the high-level one, which any
 * decoder accepts. The compression decision is the same ({@link compressionWorthTrying}, 3%).
 *
 * Nonces: every nonce is 12 fresh pool bytes, used once; an all-zero nonce (a broken random
 * source) is refused. The per-chunk key is derived from the chunk id, so a (key, nonce) pair only
 * ever repeats for the same plaintext, which seals to the same ciphertext (RELIABILITY.md T22).
 */
import { createCipheriv, createDecipheriv, createHmac, randomFillSync, timingSafeEqual } from "node:crypto";
import zstdBinding from "zstd-napi/binding.js";
import { CODEC, compressionWorthTrying, DEFAULT_ZSTD_LEVEL, MAX_PLAINTEXT_BYTES, MIN_COMPRESS_BYTES, MIN_SAVING, SAMPLE_BYTES } from "./compress.js";
import { type ArchiveKeys, BLOCK_HEADER_BYTES, chunkKey, NONCE_BYTES, OBJECT_TYPE, refuseZeroNonce, sealAad, TAG_BYTES } from "./crypto.js";
import { CairnError } from "./errors.js";
import { CHUNK_MAX_BYTES } from "./limits.js";
import { FORMAT_VERSION } from "./version.js";

/** Bytes a sealed block adds to its payload (header, tag). */
export const SEAL_OVERHEAD_BYTES = BLOCK_HEADER_BYTES + TAG_BYTES;

/** Fills a buffer with random bytes (the default is the OS CSPRNG). Tests inject broken ones. */
export type RandomFill = (buf: Buffer) => void;

const POOL_BYTES = 4096;
const PIECE_BYTES = 64 * 1024;

/** Options of {@link BlockSealer}. */
export interface BlockSealerOptions {
  /** `never` stores every chunk; `auto` compresses when it pays (default). */
  mode?: "auto" | "never";
  /** zstd level (default {@link DEFAULT_ZSTD_LEVEL}). */
  level?: number;
  random?: RandomFill;
}

/** Reusable chunk sealing for one thread. */
export class BlockSealer {
  private readonly cctx = new zstdBinding.CCtx();
  private zbuf: Buffer;
  private readonly sample = Buffer.allocUnsafe(SAMPLE_BYTES + zstdBinding.compressBound(SAMPLE_BYTES));
  private readonly pool = Buffer.allocUnsafe(POOL_BYTES);
  private poolAt = POOL_BYTES;
  private readonly header = Buffer.allocUnsafe(3);
  private readonly level: number;
  private readonly random: RandomFill;

  constructor(
    private readonly keys: ArchiveKeys,
    private readonly opts: BlockSealerOptions = {},
  ) {
    this.level = opts.level ?? DEFAULT_ZSTD_LEVEL;
    this.random = opts.random ?? ((b) => randomFillSync(b));
    this.zbuf = Buffer.allocUnsafe(4 + zstdBinding.compressBound(CHUNK_MAX_BYTES));
  }

  /** The most bytes sealing `n` plaintext bytes can produce (a chunk is stored when zstd does not pay). */
  static bound(n: number): number {
    return n + SEAL_OVERHEAD_BYTES;
  }

  private nonce(): Buffer {
    if (this.poolAt + NONCE_BYTES > POOL_BYTES) {
      this.random(this.pool);
      this.poolAt = 0;
    }
    const n = this.pool.subarray(this.poolAt, this.poolAt + NONCE_BYTES);
    this.poolAt += NONCE_BYTES;
    refuseZeroNonce(n);
    return n;
  }

  /** Seals `plain` (the chunk whose keyed id is `id`) into `out` at `off`; returns the sealed length. */
  sealInto(id: Uint8Array, plain: Uint8Array, out: Buffer, off: number): number {
    if (id.length !== 32) throw new CairnError("BAD_REQUEST", "chunk id must be 32 bytes");
    if (out.length - off < BlockSealer.bound(plain.length)) throw new CairnError("INTERNAL", "sealing buffer too small");
    let codec: number = CODEC.NONE;
    let payload: Uint8Array = plain;
    if (this.opts.mode !== "never" && plain.length >= MIN_COMPRESS_BYTES && this.worthTrying(plain)) {
      if (this.zbuf.length < 4 + zstdBinding.compressBound(plain.length)) this.zbuf = Buffer.allocUnsafe(4 + zstdBinding.compressBound(plain.length));
      const n = this.cctx.compress(this.zbuf.subarray(4), plain, this.level);
      if (4 + n <= plain.length * (1 - MIN_SAVING)) {
        this.zbuf.writeUInt32BE(plain.length, 0);
        payload = this.zbuf.subarray(0, 4 + n);
        codec = CODEC.ZSTD;
      }
    }
    const nonce = this.nonce();
    const h = this.header;
    h[0] = FORMAT_VERSION;
    h[1] = OBJECT_TYPE.CHUNK;
    h[2] = codec;
    h.copy(out, off);
    nonce.copy(out, off + 3);
    const c = createCipheriv("aes-256-gcm", chunkKey(this.keys, id), nonce);
    c.setAAD(sealAad(h, this.keys.archiveGuid, id));
    let o = off + BLOCK_HEADER_BYTES;
    // in pieces: each piece's output is a small allocation the allocator reuses at once (one
    // large output per chunk fragments the heap and keeps RSS high)
    for (let at = 0; at < payload.length; at += PIECE_BYTES) o += c.update(payload.subarray(at, at + PIECE_BYTES)).copy(out, o);
    o += c.final().copy(out, o);
    o += c.getAuthTag().copy(out, o);
    return o - off;
  }

  private worthTrying(p: Uint8Array): boolean {
    const s = this.sample;
    return compressionWorthTrying(p, s, (x) => this.cctx.compress(s.subarray(SAMPLE_BYTES), x, 1));
  }
}

/** Reusable chunk opening for one thread: AES-GCM, zstd into a reused buffer, keyed-id check. */
export class BlockOpener {
  private readonly dctx = new zstdBinding.DCtx();
  private readonly plain = Buffer.allocUnsafe(MAX_PLAINTEXT_BYTES);
  private payload = Buffer.allocUnsafe(CHUNK_MAX_BYTES + SEAL_OVERHEAD_BYTES);

  constructor(private readonly keys: ArchiveKeys) {}

  /**
   * Opens a sealed chunk and checks that its plaintext's keyed id is `id`. The result is valid
   * until the next call (it may be this opener's buffer). Throws DECRYPT_FAILED or INTEGRITY.
   */
  open(id: Uint8Array, blob: Uint8Array): Buffer {
    const b = Buffer.isBuffer(blob) ? blob : Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
    if (id.length !== 32) throw new CairnError("INTEGRITY", "chunk id must be 32 bytes");
    if (b.length < SEAL_OVERHEAD_BYTES) throw new CairnError("INTEGRITY", "sealed block too short");
    if (b[0] !== FORMAT_VERSION) throw new CairnError("INTEGRITY", `unsupported block format version ${b[0]}`);
    if (b[1] !== OBJECT_TYPE.CHUNK) throw new CairnError("INTEGRITY", "object is not a chunk");
    const codec = b[2] as number;
    if (codec !== CODEC.NONE && codec !== CODEC.ZSTD) throw new CairnError("INTEGRITY", `unknown compression codec ${codec}`);
    const d = createDecipheriv("aes-256-gcm", chunkKey(this.keys, id), b.subarray(3, BLOCK_HEADER_BYTES));
    d.setAAD(sealAad(b.subarray(0, 3), this.keys.archiveGuid, id));
    d.setAuthTag(b.subarray(b.length - TAG_BYTES));
    const ct = b.subarray(BLOCK_HEADER_BYTES, b.length - TAG_BYTES);
    if (this.payload.length < ct.length) this.payload = Buffer.allocUnsafe(ct.length);
    let data: Buffer;
    try {
      // in pieces into a reused buffer (see BlockSealer.sealInto)
      let o = 0;
      for (let at = 0; at < ct.length; at += PIECE_BYTES) o += d.update(ct.subarray(at, at + PIECE_BYTES)).copy(this.payload, o);
      o += d.final().copy(this.payload, o);
      data = this.payload.subarray(0, o);
    } catch (cause) {
      throw new CairnError("DECRYPT_FAILED", "block failed authentication (wrong key, wrong archive or tampered)", { cause });
    }
    let plain = data;
    if (codec === CODEC.ZSTD) {
      if (data.length < 4) throw new CairnError("INTEGRITY", "compressed payload too short");
      const n = data.readUInt32BE(0);
      if (n > MAX_PLAINTEXT_BYTES) throw new CairnError("INTEGRITY", "compressed payload declares too large a plaintext");
      let written: number;
      try {
        written = this.dctx.decompress(this.plain.subarray(0, n), data.subarray(4));
      } catch (cause) {
        throw new CairnError("INTEGRITY", "zstd payload does not decompress", { cause });
      }
      if (written !== n) throw new CairnError("INTEGRITY", "zstd payload has the wrong length");
      plain = this.plain.subarray(0, n);
    }
    const again = createHmac("sha256", this.keys.id).update(plain).digest();
    if (!timingSafeEqual(again, Buffer.from(id.buffer, id.byteOffset, id.byteLength))) throw new CairnError("INTEGRITY", "block content does not match its id");
    return plain;
  }
}
