import { createHash } from "node:crypto";

/** Deterministic pseudo-random bytes (xorshift32), for reproducible vectors. */
export function xorshiftBytes(n: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(n);
  let x = seed >>> 0 || 1;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out.writeUInt32LE(x, i);
  }
  for (; i < n; i++) out[i] = i & 0xff;
  return out;
}

/** SHA-256 hex of each chunk. */
export function chunkDigests(data: Buffer, lens: number[]): string[] {
  const out: string[] = [];
  let off = 0;
  for (const l of lens) {
    out.push(
      createHash("sha256")
        .update(data.subarray(off, off + l))
        .digest("hex"),
    );
    off += l;
  }
  return out;
}
