/**
 * The data channel: agent ⇄ storage node, `wss://node/v1/data`, subprotocol `cairn.v1`,
 * `Authorization: Bearer <storage token>` on the upgrade request.
 *
 * Flow of a backup (docs/protocol.md has the sequence diagram):
 * 1. `open` {mode: backup} takes the archive's writer lease (ARCHIVE_IN_USE otherwise) and
 *    returns the head version; passing the previous `sessionId` resumes a session.
 * 2. `have` asks which block ids the archive already holds (acknowledged blocks of open
 *    sessions count), so nothing is sent twice.
 * 3. `put` frames stream sealed blocks; the node answers `ack` (batched) only once each block is
 *    durable, or `nack` with a code (DESTINATION_FULL, QUOTA_EXCEEDED, INTEGRITY…).
 * 4. `stage-files` sends the version's changed file entries in batches.
 * 5. `commit` makes the version visible atomically (BLOCKS_MISSING lists what is absent).
 *
 * Restores use `open` {mode: restore}, `list-versions`, `list-files`, `file-history` and
 * `get`, which answers with one `block` frame per id and then its `res`.
 */
import { MAX_FILES_PER_STAGE, MAX_SEALED_BLOCK_BYTES, MAX_SEALED_META_BYTES } from "../limits.js";
import { arr, bin, bool, type Infer, int, literal, nullable, obj, oneOf, str } from "../schema.js";
import {
  blockIdBytes,
  cursor,
  digest,
  empty,
  fileIdBytes,
  fileVersion,
  guid,
  idList,
  method,
  retentionPolicy,
  selectionStats,
  time,
  versionInfo,
  wireError,
} from "./common.js";

/** A sealed block upload. `sha` is SHA-256 of `data`, checked before the block becomes visible. */
export const putMessage = obj({
  type: literal("put"),
  id: blockIdBytes(),
  sha: digest(),
  data: bin({ min: 1, max: MAX_SEALED_BLOCK_BYTES }),
});
export type PutMessage = Infer<typeof putMessage>;

/** Blocks now durable on the node (concatenated 32-byte ids). */
export const ackMessage = obj({ type: literal("ack"), ids: idList() });
export type AckMessage = Infer<typeof ackMessage>;

/** A block the node refused. */
export const nackMessage = obj({ type: literal("nack"), id: blockIdBytes(), error: wireError });
export type NackMessage = Infer<typeof nackMessage>;

/** One changed file in a version being built. */
export const stagedFile = obj({
  fileId: fileIdBytes(),
  deleted: bool(),
  size: int(),
  blocks: idList(1_000_000),
  meta: nullable(bin({ max: MAX_SEALED_META_BYTES })),
});
export type StagedFile = Infer<typeof stagedFile>;

const head = nullable(obj({ seq: int(), manifestHash: digest(), time: time() }));

/** Methods the storage node serves on the data channel. */
export const dataNodeMethods = {
  open: method(
    obj({
      archiveGuid: guid(),
      mode: oneOf(["backup", "restore"] as const),
      sessionId: nullable(str({ min: 8, max: 64, pattern: /^[A-Za-z0-9_-]+$/ })),
      agentVersion: str({ max: 64 }),
    }),
    obj({
      sessionId: str(),
      /** Writer lease expiry (server time) in backup mode; null in restore mode. */
      leaseExpiresAt: nullable(time()),
      head,
      /** Files already staged in a resumed session. */
      staged: int(),
      resumed: bool(),
      serverTime: time(),
      /** Archive quota in bytes, −1 unlimited. */
      quotaBytes: int({ min: -1 }),
      usedBytes: int(),
      retention: retentionPolicy,
    }),
  ),
  /**
   * Which of `ids` the archive holds: `present` is a bitmap of ceil(n / 8) bytes, bit i (most
   * significant bit first: `present[i >> 3] & (0x80 >> (i & 7))`) set when `ids[i]` is held.
   * Damaged blocks count as absent (send them again); in a backup session the node protects the
   * blocks it reports present from garbage collection until the session ends.
   */
  have: method(obj({ ids: idList() }), obj({ present: bin({ max: 8192 }) })),
  "stage-files": method(obj({ sessionId: str({ max: 64 }), files: arr(stagedFile, { max: MAX_FILES_PER_STAGE }) }), obj({ staged: int() })),
  commit: method(
    obj({
      sessionId: str({ max: 64 }),
      seq: int({ min: 1 }),
      prevManifestHash: nullable(digest()),
      manifest: bin({ min: 1, max: MAX_SEALED_META_BYTES }),
      manifestHash: digest(),
      clientTime: time(),
      stats: selectionStats,
      /** False when the scan behind this version was interrupted (to-do remains). */
      complete: bool(),
    }),
    obj({ seq: int(), versionTime: time() }),
  ),
  "renew-lease": method(obj({ sessionId: str({ max: 64 }) }), obj({ leaseExpiresAt: time() })),
  "end-session": method(obj({ sessionId: str({ max: 64 }), abort: bool() }), empty()),
  "list-versions": method(empty(), obj({ versions: arr(versionInfo) })),
  "get-manifest": method(obj({ seq: int({ min: 1 }) }), obj({ manifest: bin({ max: MAX_SEALED_META_BYTES }), manifestHash: digest() })),
  "list-files": method(
    obj({ at: nullable(time()), cursor: cursor(), limit: int({ min: 1, max: 5000 }), includeDeleted: bool() }),
    obj({ files: arr(fileVersion, { max: 5000 }), cursor: cursor() }),
  ),
  "file-history": method(obj({ fileId: fileIdBytes() }), obj({ versions: arr(fileVersion, { max: 100_000 }) })),
  /** Streams one `block` frame per id (in order), then answers `{count}`. */
  get: method(obj({ ids: idList(4096) }), obj({ count: int() })),
} as const;

/** Events the storage node sends to the agent. */
export const dataNodeEvents = {
  /** Blocks that failed verification: re-send them if the device still has their content. */
  heal: obj({ ids: idList() }),
  /** The token's device or user was revoked; the socket closes next. */
  revoked: obj({ reason: str({ max: 200 }) }),
} as const;

/** The agent serves no methods on the data channel. */
export const dataAgentMethods = {} as const;
export const dataAgentEvents = {} as const;

/** The data channel. Side `a` is the storage node, `b` the agent. */
export const DATA_CHANNEL = {
  id: 1,
  name: "data",
  a: { methods: dataNodeMethods, events: dataNodeEvents },
  b: { methods: dataAgentMethods, events: dataAgentEvents },
} as const;
