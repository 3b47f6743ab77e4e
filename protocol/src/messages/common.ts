/**
 * Shapes shared by every channel: the RPC envelope (req / res / err / evt), block frames, and
 * the domain records that several channels carry (archive figures, retention policy, …).
 *
 * Every channel is a symmetric RPC link over one WebSocket: either side may send `req` and must
 * answer each with exactly one `res` or `err` carrying the same `id`; `evt` is one-way. Which
 * methods each side serves is declared per channel ({@link ChannelSpec}); both the envelope and
 * each method's params are validated on receipt.
 */
import { GUID_PATTERN } from "../ids.js";
import { MAX_IDS_PER_REQUEST, MAX_SEALED_BLOCK_BYTES } from "../limits.js";
import { arr, bin, bool, type Infer, id, int, json, literal, nullable, obj, oneOf, opt, type Schema, str, unknownValue } from "../schema.js";

/** A decimal GUID field. */
export const guid = <T extends string = string>() => id<T>(GUID_PATTERN);
/** Epoch milliseconds. */
export const time = () => int({ min: 0, max: 8_640_000_000_000_000 });
/** A 32-byte block id. */
export const blockIdBytes = () => bin({ len: 32 });
/** A 16-byte file id. */
export const fileIdBytes = () => bin({ len: 16 });
/** Concatenated 32-byte block ids. */
export const idList = (max = MAX_IDS_PER_REQUEST) => bin({ max: 32 * max, multipleOf: 32 });
/** A SHA-256 digest. */
export const digest = () => bin({ len: 32 });
/** A byte count, -1 meaning unlimited where a field says so. */
export const bytes = () => int({ min: -1 });

/** An error in a message. */
export const wireError = obj({ code: str({ max: 64 }), message: str({ max: 2000 }), details: opt(json({ maxNodes: 2000 })) });

/** Envelope: a request. */
export const reqMessage = obj({
  type: literal("req"),
  id: int({ max: 2 ** 32 - 1 }),
  method: str({ max: 64, pattern: /^[a-z][a-z0-9.-]*$/ }),
  params: unknownValue(),
});
/** Envelope: a successful response. */
export const resMessage = obj({ type: literal("res"), id: int({ max: 2 ** 32 - 1 }), result: unknownValue() });
/** Envelope: a failed response. */
export const errMessage = obj({ type: literal("err"), id: int({ max: 2 ** 32 - 1 }), error: wireError });
/** Envelope: a one-way event. */
export const evtMessage = obj({ type: literal("evt"), event: str({ max: 64, pattern: /^[a-z][a-z0-9.-]*$/ }), data: unknownValue() });
/**
 * A block streamed in answer to a `get`-style request `req`: `data` is the sealed block, or null
 * with `error` when the node cannot serve it (missing, failed its checksum).
 */
export const blockMessage = obj({
  type: literal("block"),
  req: int({ max: 2 ** 32 - 1 }),
  id: blockIdBytes(),
  data: nullable(bin({ max: MAX_SEALED_BLOCK_BYTES })),
  error: nullable(wireError),
});

/**
 * Figures of one archive as the agent knows them (selection and to-do) and the node measures them
 * (archive bytes, versions): the platform's backupUsage fields.
 */
export const selectionStats = obj({
  selectedFiles: int(),
  selectedBytes: int(),
  todoFiles: int(),
  todoBytes: int(),
});
export type SelectionStats = Infer<typeof selectionStats>;

/**
 * The frequency-and-versions policy. `bands` are ordered by `untilAgeMs`; a file version whose age
 * is under a band's `untilAgeMs` (−1: no limit) is kept at most one per `spacingMs` (0: all).
 * Deleted files are kept for `deletedRetentionMs` after deletion (−1: forever). The newest version
 * of every file is always kept.
 */
export const retentionPolicy = obj({
  bands: arr(obj({ untilAgeMs: int({ min: -1 }), spacingMs: int() }), { min: 1, max: 16 }),
  deletedRetentionMs: int({ min: -1 }),
});
export type RetentionPolicy = Infer<typeof retentionPolicy>;

/** What a storage node reports of one archive. */
export const archiveReport = obj({
  archiveGuid: guid(),
  storePointId: int(),
  archiveBytes: int(),
  ...selectionStats.shape,
  versionCount: int(),
  fileCount: int(),
  lastBackup: nullable(time()),
  lastCompletedBackup: nullable(time()),
  lastMaintenance: nullable(time()),
  maintenanceDurationMs: int(),
  compactBytesRemoved: int(),
  damagedBlocks: int(),
  cold: bool(),
});
export type ArchiveReport = Infer<typeof archiveReport>;

/** A store point as a node announces it. */
export const storePointInfo = obj({
  storePointId: nullable(int()),
  name: str({ min: 1, max: 200 }),
  totalBytes: int(),
  freeBytes: int(),
  acceptingNew: bool(),
  acceptingData: bool(),
});
export type StorePointInfo = Infer<typeof storePointInfo>;

/** A trusted token-signing public key. */
export const publicKeyInfoSchema = obj({ kid: str({ min: 1, max: 64 }), publicKey: str({ min: 43, max: 43 }) });

/**
 * A revocation: tokens of `subject` (device GUID or user UID) issued before `before` (epoch ms)
 * are refused for `scope` ("all": everything; "restore": restores only, backups continue).
 */
export const revocation = obj({
  kind: oneOf(["device", "user"] as const),
  guid: guid(),
  before: time(),
  scope: oneOf(["all", "restore"] as const),
});
export type Revocation = Infer<typeof revocation>;

/** Where and how to reach a storage server. */
export const serverEndpoint = obj({
  serverGuid: guid(),
  url: str({ max: 500, pattern: /^wss:\/\/[^\s/]+(\/[^\s]*)?$/ }),
  fingerprint: str({ min: 64, max: 120 }),
});
export type ServerEndpoint = Infer<typeof serverEndpoint>;

/** One file version as stored on a node: opaque to the node except for its shape. */
export const fileVersion = obj({
  fileId: fileIdBytes(),
  /** Backup version (commit sequence number) that wrote this file version. */
  seq: int(),
  /** Server time of that commit. */
  time: time(),
  deleted: bool(),
  /** Plaintext size in bytes (0 when deleted). */
  size: int(),
  /** The file's blocks, in order. */
  blocks: idList(1_000_000),
  /** Sealed file metadata (path, type, mode, mtime…); null when deleted. */
  meta: nullable(bin({ max: 1024 * 1024 })),
});
export type FileVersion = Infer<typeof fileVersion>;

/** One committed backup version (snapshot head). */
export const versionInfo = obj({
  seq: int(),
  time: time(),
  clientTime: time(),
  manifestHash: digest(),
  changedFiles: int(),
  complete: bool(),
});
export type VersionInfo = Infer<typeof versionInfo>;

/** A page-through cursor (opaque to the client). */
export const cursor = () => nullable(str({ max: 200 }));

/** A channel's method: its params and result schemas. */
export interface MethodSpec<P = unknown, R = unknown> {
  params: Schema<P>;
  result: Schema<R>;
}
export type MethodTable = Record<string, MethodSpec>;
export type EventTable = Record<string, Schema<unknown>>;

/** Params type of a method. */
export type ParamsOf<T extends MethodTable, M extends keyof T> = Infer<T[M]["params"]>;
/** Result type of a method. */
export type ResultOf<T extends MethodTable, M extends keyof T> = Infer<T[M]["result"]>;

/** Declares a method. */
export function method<P, R>(params: Schema<P>, result: Schema<R>): MethodSpec<P, R> {
  return { params, result };
}

/** The empty object, as params or result. */
export const empty = () => obj({});

/** One side of a channel. */
export interface ChannelSide {
  methods: MethodTable;
  events: EventTable;
}

/** A channel: a numeric id for frames and what each side serves. */
export interface ChannelSpec<Name extends string = string, A extends ChannelSide = ChannelSide, B extends ChannelSide = ChannelSide> {
  readonly id: number;
  readonly name: Name;
  /** Served by the side named first (the storage node on the data channel, the authority on the agent channel…). */
  readonly a: A;
  readonly b: B;
}
