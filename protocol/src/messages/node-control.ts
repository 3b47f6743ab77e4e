/**
 * The node control channel: storage node ⇄ authority. Two ways to open it, same messages:
 * - an own node dials the authority: `wss://authority/v1/storenode`, first with no credential to
 *   `enroll` (one-time enroll key), afterwards with `Authorization: Bearer <node secret>`;
 * - a tenant authority dials a provider's node (DECISIONS.md, outbound only):
 *   `wss://node/v1/tenant`, first to `tenant-register` with the provider key's one-time
 *   credential, afterwards with `Authorization: Bearer <tenant secret>`.
 *
 * Either way side `a` is the authority and side `b` the storage node, whoever dialled.
 */
import { arr, bool, type Infer, int, nullable, obj, oneOf, str } from "../schema.js";
import {
  archiveReport,
  cursor,
  empty,
  fileIdBytes,
  fileVersion,
  guid,
  idList,
  method,
  publicKeyInfoSchema,
  retentionPolicy,
  revocation,
  storePointInfo,
  time,
  versionInfo,
} from "./common.js";

/** Placement and policy of one archive, as the authority orders it. */
export const archivePlacement = obj({
  archiveGuid: guid(),
  /** Store point to place a new archive on; null lets the node choose. */
  storePointId: nullable(int()),
  deviceGuid: guid(),
  userUid: guid(),
  orgUid: guid(),
  destinationGuid: guid(),
  /** Quota for this archive in bytes, −1 unlimited. */
  quotaBytes: int({ min: -1 }),
  retention: retentionPolicy,
  cold: bool(),
});
export type ArchivePlacement = Infer<typeof archivePlacement>;

const urls = arr(str({ max: 500, pattern: /^wss:\/\/[^\s]+$/ }), { min: 1, max: 8 });

/** Methods the authority serves (the node calls them). */
export const nodeAuthorityMethods = {
  /** Unauthenticated (own nodes only): enroll with a one-time key. */
  enroll: method(
    obj({
      enrollKey: str({ min: 8, max: 200 }),
      name: str({ min: 1, max: 200 }),
      urls,
      fingerprint: str({ min: 64, max: 120 }),
      storePoints: arr(storePointInfo, { min: 1, max: 256 }),
      nodeVersion: str({ max: 64 }),
    }),
    obj({
      serverGuid: guid(),
      nodeSecret: str({ min: 20, max: 200 }),
      destinationGuid: guid(),
      authorityGuid: guid(),
      authorityPublicKeys: arr(publicKeyInfoSchema, { min: 1, max: 16 }),
      storePoints: arr(obj({ storePointId: int(), name: str({ max: 200 }) })),
    }),
  ),
  /** On every (re)connect and periodically: addresses, store points and free space. */
  announce: method(
    obj({ urls, fingerprint: str({ min: 64, max: 120 }), storePoints: arr(storePointInfo, { max: 256 }), connections: int(), nodeVersion: str({ max: 64 }) }),
    obj({
      serverGuid: guid(),
      authorityGuid: guid(),
      authorityPublicKeys: arr(publicKeyInfoSchema, { min: 1, max: 16 }),
      storePoints: arr(obj({ storePointId: int(), name: str({ max: 200 }) })),
      revocations: arr(revocation),
      /** Every archive the authority has placed on this node, so a reconnecting node catches up. */
      placements: arr(archivePlacement),
    }),
  ),
  "report-archives": method(obj({ archives: arr(archiveReport, { max: 100_000 }) }), empty()),
  /** A damaged block could not be healed from a connected device: the authority alerts. */
  "report-damage": method(obj({ archiveGuid: guid(), damagedBlocks: int(), fileIds: arr(fileIdBytes(), { max: 10_000 }) }), empty()),
} as const;

export const nodeAuthorityEvents = {} as const;

/** Methods the storage node serves (the authority calls them). */
export const nodeStorenodeMethods = {
  /** Provider nodes, unauthenticated: a tenant authority registers with a provider key's credential. */
  "tenant-register": method(
    obj({
      credential: str({ min: 20, max: 200 }),
      authorityGuid: guid(),
      authorityName: str({ max: 200 }),
      authorityPublicKeys: arr(publicKeyInfoSchema, { min: 1, max: 16 }),
    }),
    obj({
      tenantId: guid(),
      tenantSecret: str({ min: 20, max: 200 }),
      serverGuid: guid(),
      name: str({ max: 200 }),
      urls,
      fingerprint: str({ min: 64, max: 120 }),
      quotaBytes: int({ min: -1 }),
      storePoints: arr(storePointInfo, { max: 256 }),
    }),
  ),
  /** Updates the trusted signing keys of this link's authority (key rotation). */
  "set-authority-keys": method(obj({ authorityPublicKeys: arr(publicKeyInfoSchema, { min: 1, max: 16 }) }), empty()),
  "place-archive": method(archivePlacement, obj({ archiveGuid: guid(), storePointId: int() })),
  /** Changes quota, retention or cold state of an archive. */
  "update-archive": method(archivePlacement, empty()),
  /** Deletes an archive and all its blocks at once (purge). */
  "purge-archive": method(obj({ archiveGuid: guid() }), obj({ freedBytes: int(), existed: bool() })),
  revoke: method(obj({ revocations: arr(revocation, { max: 100_000 }) }), empty()),
  /**
   * An unblock: each entry lifts the node's revocation of that subject and scope when it is no
   * newer than `before` (a block made after the unblock stays). Only scope "restore" is ever
   * lifted; entries of scope "all" (deauthorize, deactivate) are ignored.
   */
  "lift-revocations": method(obj({ revocations: arr(revocation, { max: 100_000 }) }), empty()),
  /** Maintenance now: prune by retention, collect garbage, compact, verify. */
  maintain: method(
    obj({ archiveGuid: nullable(guid()), verify: bool() }),
    obj({ archives: int(), prunedVersions: int(), removedBlocks: int(), compactBytesRemoved: int(), damagedBlocks: int() }),
  ),
  "list-archives": method(empty(), obj({ archives: arr(archiveReport, { max: 100_000 }) })),
  "archive-versions": method(obj({ archiveGuid: guid() }), obj({ versions: arr(versionInfo) })),
  "archive-files": method(
    obj({ archiveGuid: guid(), at: nullable(time()), cursor: cursor(), limit: int({ min: 1, max: 5000 }), includeDeleted: bool() }),
    obj({ files: arr(fileVersion, { max: 5000 }), cursor: cursor() }),
  ),
  "archive-file-history": method(obj({ archiveGuid: guid(), fileId: fileIdBytes() }), obj({ versions: arr(fileVersion, { max: 100_000 }) })),
  /** Streams one `block` frame per id, then answers `{count}`. */
  "archive-get": method(obj({ archiveGuid: guid(), ids: idList(4096) }), obj({ count: int() })),
  /**
   * Which of `ids` the node cannot serve (not stored, or marked damaged by a verification or a
   * failed read), without reading any: a zip restore leaves those files out, named, instead of
   * breaking off in the middle of the download.
   */
  "archive-missing": method(obj({ archiveGuid: guid(), ids: idList(4096) }), obj({ missing: idList(4096) })),
  /** Whether a device currently holds a data connection to this node. */
  "device-connected": method(obj({ deviceGuid: guid() }), obj({ connected: bool() })),
  status: method(
    empty(),
    obj({ serverGuid: guid(), nodeVersion: str({ max: 64 }), state: oneOf(["ok", "degraded"] as const), storePoints: arr(storePointInfo), serverTime: time() }),
  ),
} as const;

export const nodeStorenodeEvents = {
  /** A store point's free space crossed its reserve. */
  "space-low": obj({ storePointId: int(), freeBytes: int() }),
  "archive-changed": obj({ archiveGuid: guid(), lastCompletedBackup: nullable(time()), archiveBytes: int(), connected: bool() }),
} as const;

/** The node control channel. Side `a` is the authority, `b` the storage node. */
export const NODE_CHANNEL = {
  id: 3,
  name: "node",
  a: { methods: nodeAuthorityMethods, events: nodeAuthorityEvents },
  b: { methods: nodeStorenodeMethods, events: nodeStorenodeEvents },
} as const;
