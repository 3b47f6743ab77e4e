/**
 * Hand-encoded `block` frames (restore streaming): `'C' 'N' version channel` then the MessagePack
 * map `{type: "block", req, id: bin8(32), data: bin, error: nil}`, laid out exactly as
 * `encodeFrame` lays out the same message (bin8/bin16/bin32 chosen by length as msgpackr does; a
 * unit test compares the bytes and decodes them with the protocol codec). The block store reads
 * the block straight into its place in the frame (`BlockStore.read` with room around it), so a
 * block is neither copied nor msgpack-encoded on its way to the socket.
 */
import { DATA_CHANNEL, encodeFrame } from "@cairn/protocol";

const DATA_KEY = Buffer.from([0xa4, ...Buffer.from("data")]);
/** `"error": nil`, the end of every frame of a block that was read. */
const TRAILER = Buffer.from([0xa5, ...Buffer.from("error"), 0xc0]);

/** The bytes of a block frame around the data of one request. */
export class BlockFramer {
  private readonly pre: Buffer;

  constructor(req: number) {
    const three = encodeFrame(DATA_CHANNEL.id, { type: "block", req, id: Buffer.alloc(32) });
    // The codec's `{type, req, id}` as a fixmap of 5 (data and error follow), without the placeholder id.
    if (three[4] !== 0x83) throw new Error("unexpected block frame encoding");
    this.pre = Buffer.from(three.subarray(0, three.length - 32));
    this.pre[4] = 0x85;
  }

  /** Bytes of the frame before the data of a block of `length` bytes. */
  headBytes(length: number): number {
    return this.pre.length + 32 + DATA_KEY.length + binHeaderBytes(length);
  }

  /** Bytes of the frame after the data. */
  static readonly tailBytes = TRAILER.length;

  /** Fills in the header (before the data, at 0) and trailer of a frame whose data is in place. */
  frame(out: Buffer, id: Uint8Array, length: number): Buffer {
    const pre = this.pre;
    pre.copy(out, 0);
    out.set(id, pre.length);
    let o = pre.length + 32;
    DATA_KEY.copy(out, o);
    o += DATA_KEY.length;
    if (length < 0x100) {
      out[o] = 0xc4;
      out[o + 1] = length;
      o += 2;
    } else if (length < 0x10000) {
      out[o] = 0xc5;
      out.writeUInt16BE(length, o + 1);
      o += 3;
    } else {
      out[o] = 0xc6;
      out.writeUInt32BE(length, o + 1);
      o += 5;
    }
    TRAILER.copy(out, o + length);
    return out;
  }
}

function binHeaderBytes(length: number): number {
  return length < 0x100 ? 2 : length < 0x10000 ? 3 : 5;
}
