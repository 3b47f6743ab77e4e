/**
 * The agent control channel: agent ⇄ authority, `wss://authority/v1/agent`, subprotocol
 * `cairn.v1`. Before registration the socket is unauthenticated and only `register` is served;
 * afterwards the agent connects with `Authorization: Bearer <device token>`.
 *
 * The authority serves registration, configuration, archive creation, token renewal and status
 * reports; it pushes `config-changed`, `deauthorized` and `upgrade-available` events and sends
 * `restore-order` requests that the agent serves (push restores).
 */
import { WRAPPED_KEY_BYTES, PASSWORD_WRAPPED_KEY_BYTES } from "../crypto.js";
import { arr, bin, bool, type Infer, int, json, nullable, obj, oneOf, opt, str } from "../schema.js";
import { empty, guid, method, retentionPolicy, selectionStats, serverEndpoint, time } from "./common.js";

/** A device's compression modes per network (DeviceSettings `wanCompression` / `lanCompression`). */
export const COMPRESSION_MODES = ["auto", "off"] as const;
export type CompressionMode = (typeof COMPRESSION_MODES)[number];

/** Encryption key policies, weakest first (raise-only: RELIABILITY.md §5.1). */
export const KEY_POLICIES = ["escrow", "password", "custom"] as const;
export type KeyPolicy = (typeof KEY_POLICIES)[number];

/** One backup set as the agent applies it. */
export const backupSet = obj({
  id: str({ min: 1, max: 32 }),
  name: str({ max: 200 }),
  /** Absolute paths to include (directories end with "/"). */
  include: arr(str({ max: 4096 }), { max: 1000 }),
  /** Absolute paths to exclude below the includes. */
  exclude: arr(str({ max: 4096 }), { max: 1000 }),
  /** Regular expressions (JavaScript syntax) matched against the absolute path (the set's own, then the organization's file exclusions for every set). */
  excludePatterns: arr(str({ max: 1000 }), { max: 1200 }),
  /** Destinations this set goes to. */
  destinations: arr(guid(), { max: 64 }),
  /** Whether the organization locks this set (the user cannot change the selection). */
  locked: bool(),
  /** Legal-hold sets are hidden from the user and cannot be edited. */
  legalHold: bool(),
});
export type BackupSet = Infer<typeof backupSet>;

/** The effective device settings, resolved by the authority. */
export const deviceSettings = obj({
  backupSets: arr(backupSet, { max: 32 }),
  /** Back up changed files at most this often (default 15 minutes). */
  frequencyMs: int({ min: 60_000 }),
  /** Full verification scan interval (default 1 day). */
  verifyScanIntervalMs: int({ min: 60_000 }),
  retention: retentionPolicy,
  /** Whether files are watched in real time between scans. */
  watch: bool(),
  /** CPU share (percent, 1-100) when the user is away / present. */
  cpuAwayPercent: int({ min: 1, max: 100 }),
  cpuPresentPercent: int({ min: 1, max: 100 }),
  /** Bandwidth limits in bytes per second; 0 means unlimited. */
  wanBytesPerSec: int(),
  lanBytesPerSec: int(),
  /**
   * Compression over WAN / LAN (the Network tab's connection settings): `auto` compresses the
   * chunks that compress (the default; absent from an older authority means it), `off` sends
   * every chunk as it is, saving the CPU on a fast link at the cost of stored bytes.
   */
  wanCompression: opt(oneOf(COMPRESSION_MODES)),
  lanCompression: opt(oneOf(COMPRESSION_MODES)),
  /** Network interfaces (names) over which nothing is sent. */
  excludedInterfaces: arr(str({ max: 64 }), { max: 64 }),
  /** Wi-Fi networks (SSIDs) over which nothing is sent. */
  excludedWifi: arr(str({ max: 64 }), { max: 64 }),
  /** HTTP CONNECT proxy for the authority and storage nodes (org setting); null or absent: none. */
  proxyUrl: opt(nullable(str({ max: 500 }))),
  /** When backups may send data, in the device's local time; null means always. */
  runWindow: nullable(obj({ startMinute: int({ max: 1439 }), endMinute: int({ max: 1439 }), days: str({ min: 7, max: 7 }) })),
  visibility: oneOf(["visible", "hidden"] as const),
  keyPolicy: oneOf(KEY_POLICIES),
  /** Minutes without a completed backup before the device shows warning / critical. */
  minutesUntilWarning: int(),
  minutesUntilSevere: int(),
  /** Whether the user may change the selection on this device. */
  selectionLocked: bool(),
});
export type DeviceSettings = Infer<typeof deviceSettings>;

/** A destination offered to the device, with its archive and token when one exists. */
export const destinationOffer = obj({
  destinationGuid: guid(),
  name: str({ max: 200 }),
  autoStart: bool(),
  /** The user opted into this destination (only meaningful without auto-start). */
  optedIn: bool(),
  isProvider: bool(),
  archiveGuid: nullable(guid()),
  server: nullable(serverEndpoint),
  token: nullable(str({ max: 4096 })),
  tokenExpiresAt: nullable(time()),
});
export type DestinationOffer = Infer<typeof destinationOffer>;

/** Everything the agent needs to run. */
export const deviceConfig = obj({
  /** Changes whenever any part of the configuration changes (platform `configDateMs`). */
  configVersion: int(),
  device: obj({ guid: guid(), name: str({ max: 200 }), blocked: bool(), active: bool() }),
  user: obj({ uid: guid(), username: str({ max: 200 }) }),
  org: obj({ uid: guid(), name: str({ max: 220 }) }),
  settings: deviceSettings,
  destinations: arr(destinationOffer, { max: 64 }),
  serverTime: time(),
});
export type DeviceConfig = Infer<typeof deviceConfig>;

const wrappedUserKey = bin({ min: WRAPPED_KEY_BYTES, max: PASSWORD_WRAPPED_KEY_BYTES });

/** Methods the authority serves on the agent channel. */
export const agentAuthorityMethods = {
  /** Unauthenticated: register a device with an organization's registration key. */
  register: method(
    obj({
      registrationKey: str({ min: 4, max: 64 }),
      username: str({ min: 1, max: 200 }),
      password: str({ min: 1, max: 1024 }),
      totp: nullable(str({ max: 16 })),
      deviceName: str({ min: 1, max: 200 }),
      hostname: str({ max: 255 }),
      osName: oneOf(["linux", "mac", "win"] as const),
      osVersion: str({ max: 64 }),
      osArch: str({ max: 32 }),
      agentVersion: str({ max: 64 }),
      timeZone: str({ max: 64 }),
      /** Re-registering a deauthorized device resumes it (no re-upload). */
      existingDeviceGuid: nullable(guid()),
    }),
    obj({
      deviceGuid: guid(),
      /** The device credential: send as Bearer on later connections. Stored hashed by the authority. */
      deviceToken: str({ min: 20, max: 200 }),
      userUid: guid(),
      orgUid: guid(),
      keyPolicy: oneOf(KEY_POLICIES),
      /** Escrow policy: the user key itself (over TLS). */
      userKey: nullable(bin({ len: 32 })),
      /** Password policy: the user key wrapped by the archive password; null until a device sets it. */
      wrappedUserKey: nullable(wrappedUserKey),
    }),
  ),
  "get-config": method(empty(), deviceConfig),
  /** Creates (or returns) this device's archive on a destination and places it on a store point. */
  "create-archive": method(
    obj({ destinationGuid: guid() }),
    obj({ archiveGuid: guid(), server: serverEndpoint, token: str({ max: 4096 }), tokenExpiresAt: time(), created: bool() }),
  ),
  /** Stores an archive key wrapped by the user key (the authority cannot unwrap it without the user key). */
  "set-archive-key": method(obj({ archiveGuid: guid(), wrappedArchiveKey: bin({ len: WRAPPED_KEY_BYTES }), keyVersion: int({ min: 1 }) }), empty()),
  /** Wrapped archive keys of the caller's user (all devices): for restores and a lost local cache. */
  "get-archive-keys": method(
    empty(),
    obj({
      keys: arr(
        obj({ archiveGuid: guid(), deviceGuid: guid(), destinationGuid: guid(), wrappedArchiveKey: bin({ len: WRAPPED_KEY_BYTES }), keyVersion: int() }),
      ),
    }),
  ),
  /** Raises the key policy (escrow → password → custom): uploads the new wrapping, or none for custom. */
  "set-user-key": method(obj({ keyPolicy: oneOf(KEY_POLICIES), wrappedUserKey: nullable(wrappedUserKey) }), empty()),
  "renew-tokens": method(
    empty(),
    obj({ tokens: arr(obj({ destinationGuid: guid(), archiveGuid: guid(), server: serverEndpoint, token: str({ max: 4096 }), tokenExpiresAt: time() })) }),
  ),
  "opt-in": method(obj({ destinationGuid: guid(), optIn: bool() }), empty()),
  /**
   * The selection the device's user made on the device (`cairn agent select`): the authority
   * shows it in the device's settings (its default set's paths, API.md §5.4) and never sends it
   * back as the organization's. Sent after each change and when the link opens; an authority
   * older than the method refuses it, which the agent ignores.
   */
  "report-selection": method(
    obj({
      include: arr(str({ max: 4096 }), { max: 1000 }),
      exclude: arr(str({ max: 4096 }), { max: 1000 }),
      excludePatterns: arr(str({ max: 1000 }), { max: 1000 }),
    }),
    empty(),
  ),
  /**
   * `cairn agent deauthorize`: the device signs itself out. The authority does what an
   * administrator's deauthorization does (the device token and the storage tokens die, the nodes
   * hear it at once); the data stays, and registering again resumes.
   */
  "sign-out": method(empty(), empty()),
  /** Periodic status: per-destination figures as the agent knows them. */
  "report-status": method(
    obj({
      agentVersion: str({ max: 64 }),
      destinations: arr(
        obj({
          destinationGuid: guid(),
          archiveGuid: guid(),
          ...selectionStats.shape,
          lastBackup: nullable(time()),
          lastCompletedBackup: nullable(time()),
          backingUp: bool(),
          restoring: bool(),
          /**
           * The destination's last backup failure (its node down or full, a token refused,
           * ROLLBACK_DETECTED: T20's warning), null once a backup succeeds. Absent from older agents.
           */
          lastError: opt(nullable(obj({ code: str({ max: 64 }), message: str({ max: 500 }), at: time() }))),
        }),
        { max: 64 },
      ),
    }),
    empty(),
  ),
  /** Progress and result of a push restore the authority ordered. */
  "restore-status": method(
    obj({
      jobId: str({ max: 64 }),
      state: oneOf(["running", "done", "failed", "canceled"] as const),
      files: int(),
      bytes: int(),
      errors: int(),
      totalFiles: int(),
      totalBytes: int(),
      message: opt(str({ max: 2000 })),
    }),
    empty(),
  ),
} as const;

/** Events the authority pushes to the agent. */
export const agentAuthorityEvents = {
  "config-changed": obj({ configVersion: int() }),
  deauthorized: obj({ reason: str({ max: 200 }) }),
  "upgrade-available": obj({ version: str({ max: 64 }), url: str({ max: 2000 }), sha256: str({ min: 64, max: 64 }), signature: str({ max: 400 }) }),
} as const;

/** Methods the agent serves (the authority calls them). */
export const agentDeviceMethods = {
  /** A push restore of another (or this) device's archive onto this device. */
  "restore-order": method(
    obj({
      jobId: str({ max: 64 }),
      source: obj({
        deviceGuid: guid(),
        archiveGuid: guid(),
        userUid: guid(),
        server: serverEndpoint,
        token: str({ max: 4096 }),
        /** The source archive's key for this job only, over the authenticated TLS link. */
        archiveKey: bin({ len: 32 }),
      }),
      /** Newest version at or before this time; null for the latest. */
      at: nullable(time()),
      /** Absolute paths in the source archive; directories restore their subtree. */
      paths: arr(str({ max: 4096 }), { min: 1, max: 10_000 }),
      /** Target folder; null restores to the original location. */
      targetPath: nullable(str({ max: 4096 })),
      existing: oneOf(["overwrite", "rename"] as const),
      restoreFullPath: bool(),
      showDeleted: bool(),
      /** `filePermissions` of API.md §10: the originals' modes (absent, "original"), or this device's defaults ("current"). */
      permissions: opt(oneOf(["original", "current"] as const)),
    }),
    obj({ accepted: bool() }),
  ),
  "cancel-restore": method(obj({ jobId: str({ max: 64 }) }), empty()),
  /** Liveness and a snapshot of the device's state. */
  ping: method(empty(), obj({ agentVersion: str({ max: 64 }), backingUp: bool(), restoring: bool(), settings: opt(json()) })),
} as const;

export const agentDeviceEvents = {} as const;

/** The agent control channel. Side `a` is the authority, `b` the agent. */
export const AGENT_CHANNEL = {
  id: 2,
  name: "agent",
  a: { methods: agentAuthorityMethods, events: agentAuthorityEvents },
  b: { methods: agentDeviceMethods, events: agentDeviceEvents },
} as const;
