/**
 * Hand-encoded `put` frames: `'C' 'N' version channel` then the MessagePack map
 * `{type: "put", id: bin8(32), sha: bin8(32), data: bin32}`. The sealed block is written by the
 * sealer straight into its place in the frame ({@link PUT_DATA_OFFSET}), and the header around it
 * is filled in afterwards, so a block is never copied or msgpack-encoded on its way to the socket.
 * The layout is exactly what {@link encodeFrame} produces for the same message (a unit test
 * decodes it with the protocol's decoder).
 */
import { createHash } from "node:crypto";
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

const ID_OFFSET = PREFIX.length;
const SHA_OFFSET = ID_OFFSET + 32 + SHA_KEY.length;
const LEN_OFFSET = SHA_OFFSET + 32 + DATA_KEY.length;

/** Offset of the sealed block inside a put frame. */
export const PUT_DATA_OFFSET = LEN_OFFSET + 4;
/** Bytes a put frame adds around its sealed block. */
export const PUT_FRAME_OVERHEAD = PUT_DATA_OFFSET;

/**
 * Completes the put frame at `out[off]` whose sealed block (`sealedLen` bytes) is already at
 * `off + PUT_DATA_OFFSET`: writes the header, the id and the SHA-256 of the block. Returns the
 * frame length.
 */
export function framePut(out: Buffer, off: number, id: Uint8Array, sealedLen: number): number {
  PREFIX.copy(out, off);
  out.set(id, off + ID_OFFSET);
  SHA_KEY.copy(out, off + ID_OFFSET + 32);
  createHash("sha256")
    .update(out.subarray(off + PUT_DATA_OFFSET, off + PUT_DATA_OFFSET + sealedLen))
    .digest()
    .copy(out, off + SHA_OFFSET);
  DATA_KEY.copy(out, off + SHA_OFFSET + 32);
  out.writeUInt32BE(sealedLen, off + LEN_OFFSET);
  return PUT_DATA_OFFSET + sealedLen;
}

/** Writes a whole put frame for an already sealed block (tests and tools); returns its length. */
export function writePutFrame(out: Buffer, off: number, id: Uint8Array, sealed: Uint8Array): number {
  out.set(sealed, off + PUT_DATA_OFFSET);
  return framePut(out, off, id, sealed.length);
}

/** The block id inside a put frame. */
export function putFrameId(frame: Buffer): Buffer {
  return frame.subarray(ID_OFFSET, ID_OFFSET + 32);
}

/** The sealed bytes inside a put frame. */
export function putFrameData(frame: Buffer): Buffer {
  return frame.subarray(PUT_DATA_OFFSET);
}
