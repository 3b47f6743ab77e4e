/**
 * Framing and message codec. One WebSocket binary message carries one frame:
 *
 *     offset 0  'C' 'N'      magic (0x43 0x4E)
 *            2  version      protocol version (1)
 *            3  channel      1 data, 2 agent control, 3 node control
 *            4  body         one MessagePack value (a map with a "type" field)
 *
 * Decoding is total: any input either yields a validated envelope message or throws
 * CairnError PROTOCOL_MALFORMED / FRAME_TOO_LARGE / PROTOCOL_VERSION_UNSUPPORTED. Nothing else
 * escapes (T23).
 */
import { Packr, Unpackr } from "msgpackr";
import { CairnError, isCairnError } from "./errors.js";
import { ackMessage, nackMessage, putMessage } from "./messages/data.js";
import { blockMessage, errMessage, evtMessage, reqMessage, resMessage } from "./messages/common.js";
import { type Infer, type Schema, tagged, validate } from "./schema.js";
import { PROTOCOL_VERSION, PROTOCOL_VERSIONS } from "./version.js";

const MAGIC0 = 0x43;
const MAGIC1 = 0x4e;
/** Bytes before the body. */
export const FRAME_HEADER_BYTES = 4;

const packr = new Packr({ useRecords: false, moreTypes: false, bundleStrings: false, structuredClone: false, variableMapSize: true });
const unpackr = new Unpackr({ useRecords: false, moreTypes: false, bundleStrings: false, structuredClone: false, mapsAsObjects: true });

/** Every message any channel can carry, validated at the envelope level. */
export const envelope = tagged("type", {
  req: reqMessage,
  res: resMessage,
  err: errMessage,
  evt: evtMessage,
  block: blockMessage,
  put: putMessage,
  ack: ackMessage,
  nack: nackMessage,
});
export type Envelope = Infer<typeof envelope>;

/** Encodes one message as a frame of `channel`. */
export function encodeFrame(channel: number, msg: object, version = PROTOCOL_VERSION): Buffer {
  const body = packr.pack(msg);
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  out[0] = MAGIC0;
  out[1] = MAGIC1;
  out[2] = version;
  out[3] = channel;
  body.copy(out, FRAME_HEADER_BYTES);
  return out;
}

/** Normalizes what `ws` delivers (Buffer, ArrayBuffer or fragments) into one Buffer. */
export function toBuffer(data: Buffer | ArrayBuffer | Buffer[] | Uint8Array): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Decodes a frame's MessagePack body without validating its shape. */
export function decodeFrameBody(frame: Uint8Array, channel: number, maxBytes: number): unknown {
  if (frame.length > maxBytes) throw new CairnError("FRAME_TOO_LARGE", `frame of ${frame.length} bytes exceeds ${maxBytes}`);
  if (frame.length < FRAME_HEADER_BYTES + 1) throw new CairnError("PROTOCOL_MALFORMED", "frame too short");
  if (frame[0] !== MAGIC0 || frame[1] !== MAGIC1) throw new CairnError("PROTOCOL_MALFORMED", "bad frame magic");
  if (!PROTOCOL_VERSIONS.includes(frame[2] as number)) {
    throw new CairnError("PROTOCOL_VERSION_UNSUPPORTED", `frame version ${frame[2]}; supported [${PROTOCOL_VERSIONS.join(", ")}]`);
  }
  if (frame[3] !== channel) throw new CairnError("PROTOCOL_MALFORMED", `frame for channel ${frame[3]} on channel ${channel}`);
  const body = Buffer.from(frame.buffer, frame.byteOffset + FRAME_HEADER_BYTES, frame.byteLength - FRAME_HEADER_BYTES);
  let value: unknown;
  try {
    value = unpackr.unpack(body);
  } catch (cause) {
    throw new CairnError("PROTOCOL_MALFORMED", "frame body is not valid MessagePack", { cause });
  }
  return value;
}

/** Decodes and validates a frame against the envelope (and any schema you pass). */
export function decodeFrame<T = Envelope>(frame: Uint8Array, channel: number, maxBytes: number, schema: Schema<T> = envelope as unknown as Schema<T>): T {
  const value = decodeFrameBody(frame, channel, maxBytes);
  try {
    return validate(schema, value);
  } catch (err) {
    if (isCairnError(err)) throw err;
    throw new CairnError("PROTOCOL_MALFORMED", "message failed validation", { cause: err });
  }
}

/** Encodes a plain value as MessagePack (for sealed metadata bodies). */
export function packValue(v: unknown): Buffer {
  return packr.pack(v);
}

/** Decodes MessagePack bytes and validates them; throws PROTOCOL_MALFORMED. */
export function unpackValue<T>(b: Uint8Array, schema: Schema<T>): T {
  let value: unknown;
  try {
    value = unpackr.unpack(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  } catch (cause) {
    throw new CairnError("PROTOCOL_MALFORMED", "not valid MessagePack", { cause });
  }
  return validate(schema, value);
}
