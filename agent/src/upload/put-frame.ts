/**
 * Hand-encoded `put` frames: `'C' 'N' version channel` then the MessagePack map
 * `{type: "put", id: bin8(32), sha: bin8(32), data: bin32}`, written straight into the caller's
 * buffer so that a sealed block is copied once on its way to the socket. The layout is exactly
 * what {@link encodeFrame} produces for the same message (a unit test checks it decodes).
 */
import { DATA_CHANNEL, PROTOCOL_VERSION } from "@cairn/protocol";

const PREFIX = Buffer.concat([
  Buffer.from([0x43, 0x4e, PROTOCOL_VERSION, DATA_CHANNEL.id, 0x84]),
  Buffer.from([0xa4]),
  Buffer.from("type"),
  Buffer.from([0xa3]),
  Buffer.from("put"),
  Buffer.from([0xa2]),
  Buffer.from("id"),
  Buffer.from([0xc4, 32]),
]);
const SHA_KEY = Buffer.concat([Buffer.from([0xa3]), Buffer.from("sha"), Buffer.from([0xc4, 32])]);
const DATA_KEY = Buffer.concat([Buffer.from([0xa4]), Buffer.from("data"), Buffer.from([0xc6])]);

/** Bytes a put frame adds around its sealed block. */
export const PUT_FRAME_OVERHEAD = PREFIX.length + 32 + SHA_KEY.length + 32 + DATA_KEY.length + 4;

/** Writes a put frame for `sealed` at `out[off]`; returns the frame length. */
export function writePutFrame(out: Buffer, off: number, id: Uint8Array, sha: Uint8Array, sealed: Uint8Array): number {
  let o = off;
  o += PREFIX.copy(out, o);
  out.set(id, o);
  o += 32;
  o += SHA_KEY.copy(out, o);
  out.set(sha, o);
  o += 32;
  o += DATA_KEY.copy(out, o);
  out.writeUInt32BE(sealed.length, o);
  o += 4;
  out.set(sealed, o);
  o += sealed.length;
  return o - off;
}

/** The block id inside a put frame written by {@link writePutFrame}. */
export function putFrameId(frame: Buffer): Buffer {
  return frame.subarray(PREFIX.length, PREFIX.length + 32);
}
