/**
 * The store's part for devices and storage (issue 5 part B), merged into `StoreReader` /
 * `StoreWriter` by `store.ts`. Same contract: async, every write inside a transaction, bound
 * parameters only.
 */
import type {
  ArchiveFigures,
  ArchiveFilter,
  ArchiveRecord,
  Destination,
  Device,
  DeviceFilter,
  DeviceLocalSelection,
  DevicePatch,
  DeviceRegistrationPatch,
  EnrollKeyRecord,
  NewArchive,
  NewDevice,
  RevocationRecord,
  SelectionFigures,
  Server,
  ServerFilter,
  StorePoint,
  StorePointFilter,
  StorePointLoad,
} from "./device-records.js";
import type { User } from "./records.js";
import type { Page, PageResult } from "./store.js";

/** Counts of stale devices (devices with their own overrides left out). */
export interface StaleCounts {
  /** Devices whose last completed backup (or registration) is before the warning cut, not the critical one. */
  warning: number;
  /** … before the critical cut. */
  critical: number;
}

/** Stale-before times (epoch ms): warning then critical, by default and for orgs with their own thresholds. */
export interface StaleCuts {
  default: readonly [number, number];
  byOrg: readonly (readonly [orgId: number, warnBefore: number, severeBefore: number])[];
}

/** Device reads. */
export interface DeviceReads {
  getDevice(deviceId: number): Promise<Device | undefined>;
  getDeviceByGuid(deviceGuid: string): Promise<Device | undefined>;
  /** Devices by id, in the order of `deviceIds` (missing ids skipped). */
  getDevices(deviceIds: readonly number[]): Promise<Device[]>;
  listDevices(filter: DeviceFilter, page: Page): Promise<PageResult<Device>>;
  /** Stale counts of the devices matching `filter` that have no settings overrides of their own. */
  staleDeviceCounts(filter: DeviceFilter, cuts: StaleCuts): Promise<StaleCounts>;
  /** Devices matching `filter` that carry settings overrides. */
  devicesWithOverrides(filter: DeviceFilter): Promise<Device[]>;
  /** Users by id (the device list's owners), in the order of `userIds`. */
  usersByIds(userIds: readonly number[]): Promise<User[]>;
  /** Active (non-deauthorized) devices of these orgs (config pushes, upgrades). */
  deviceIdsOfOrgs(orgIds: readonly number[]): Promise<number[]>;
  /** The device of a device token (SHA-256), unless the token was revoked. */
  deviceByTokenHash(tokenHash: string): Promise<Device | undefined>;
  /** Destination ids a device opted into. */
  optInsOf(deviceId: number): Promise<Map<number, boolean>>;
  /** Orgs that override the device group or lock one of `keys` (alert thresholds). */
  orgsWithDeviceSettings(keys: readonly string[]): Promise<number[]>;
}

/** Device writes. */
export interface DeviceWrites {
  insertDevice(d: NewDevice): Promise<Device>;
  /** A re-registration: new OS facts, no longer deauthorized. */
  reregisterDevice(deviceId: number, patch: DeviceRegistrationPatch, at: number): Promise<void>;
  updateDevice(deviceId: number, patch: DevicePatch, at: number): Promise<void>;
  setDeviceBlocked(deviceId: number, blocked: boolean, at: number): Promise<void>;
  /** Deactivates (its own deactivation: no cause recorded) or reactivates one device. */
  setDeviceActive(deviceId: number, active: boolean, at: number): Promise<void>;
  setDeviceDeauthorized(deviceId: number, deauthorized: boolean, at: number): Promise<void>;
  /** Records a live connection (or a report) of the agent. */
  touchDevice(deviceId: number, at: number, o: { remoteAddress?: string | null; agentVersion?: string }): Promise<void>;
  /** Records the selection the device's user made on the device (display only: no config change). */
  setDeviceLocalSelection(deviceId: number, selection: DeviceLocalSelection | null): Promise<void>;
  insertDeviceToken(tokenHash: string, deviceId: number, at: number): Promise<void>;
  revokeDeviceTokens(deviceId: number, at: number): Promise<void>;
  setOptIn(deviceId: number, destinationId: number, optIn: boolean, at: number): Promise<void>;
}

/** Archive reads. */
export interface ArchiveReads {
  getArchiveByGuid(archiveGuid: string): Promise<ArchiveRecord | undefined>;
  archiveOfDevice(deviceId: number, destinationId: number): Promise<ArchiveRecord | undefined>;
  /** Archives (not purged) of these devices, newest completed backup first per device. */
  archivesOfDevices(deviceIds: readonly number[]): Promise<ArchiveRecord[]>;
  listArchives(filter: ArchiveFilter, page: Page): Promise<PageResult<ArchiveRecord>>;
}

/** Archive writes. */
export interface ArchiveWrites {
  insertArchive(a: NewArchive): Promise<number>;
  setArchiveStorePoint(archiveId: number, storePointId: number, at: number): Promise<void>;
  setArchiveKey(archiveId: number, wrapped: Buffer, keyVersion: number, userId: number, at: number): Promise<void>;
  /** Node figures (only for an archive on `serverId`'s store points, unless null); false when none matched. */
  putArchiveFigures(archiveGuid: string, serverId: number | null, f: ArchiveFigures, at: number): Promise<boolean>;
  putSelectionFigures(archiveId: number, f: SelectionFigures, at: number): Promise<void>;
}

/** Destination, server, store point and key reads. */
export interface StorageReads {
  getDestination(destinationId: number): Promise<Destination | undefined>;
  getDestinationByGuid(destinationGuid: string): Promise<Destination | undefined>;
  getDestinationByName(name: string): Promise<Destination | undefined>;
  /** Destinations (active ones unless `all`), by id. */
  listDestinationRecords(all?: boolean): Promise<Destination[]>;
  getServer(serverId: number): Promise<Server | undefined>;
  getServerByGuid(serverGuid: string): Promise<Server | undefined>;
  getServerBySecretHash(hash: string): Promise<Server | undefined>;
  listServers(filter: ServerFilter, page: Page): Promise<PageResult<Server>>;
  /** Servers whose link this authority dials (provider nodes of active destinations). */
  providerServers(): Promise<Server[]>;
  getStorePoint(storePointId: number): Promise<StorePoint | undefined>;
  storePointsOfServer(serverId: number): Promise<StorePoint[]>;
  /** Store points with their load, of active destinations' servers. */
  storePointLoads(filter: StorePointFilter): Promise<StorePointLoad[]>;
  getEnrollKeyByHash(hash: string): Promise<EnrollKeyRecord | undefined>;
  /** Every org's own destinations group (offers), for removing a destination from all of them. */
  destinationGroups(): Promise<{ orgId: number; values: Record<string, unknown> }[]>;
  /** Every revocation (announce answers). */
  listRevocations(): Promise<RevocationRecord[]>;
}

/** Destination, server, store point and key writes. */
export interface StorageWrites {
  insertDestination(d: { destinationGuid: string; name: string; kind: "cluster" | "provider"; createdAt: number }): Promise<Destination>;
  renameDestination(destinationId: number, name: string, at: number): Promise<void>;
  /** Removes a destination (kept inactive, its name freed). */
  retireDestination(destinationId: number, at: number): Promise<void>;
  insertServer(s: Omit<Server, "serverId" | "state" | "lastSeenAt">): Promise<Server>;
  updateServerAnnounce(serverId: number, o: { urls: string[]; fingerprint: string; nodeVersion: string; name?: string }, at: number): Promise<void>;
  touchServer(serverId: number, at: number): Promise<void>;
  /** Inserts or refreshes a store point by its node id (or name); returns it. */
  upsertStorePoint(
    serverId: number,
    sp: { nodeStorePointId: number | null; name: string; totalBytes: number; freeBytes: number },
    at: number,
  ): Promise<StorePoint>;
  setNodeStorePointId(storePointId: number, nodeStorePointId: number): Promise<void>;
  setStorePointFlags(storePointId: number, flags: { acceptingNew?: boolean; acceptingData?: boolean }, at: number): Promise<void>;
  insertEnrollKey(k: Omit<EnrollKeyRecord, "enrollKeyId" | "usedAt" | "usedByServerId">): Promise<void>;
  /** Marks an unused key used; false when it was used already. */
  useEnrollKey(enrollKeyId: number, serverId: number, at: number): Promise<boolean>;
  insertProviderKey(k: {
    destinationId: number;
    keyHash: string;
    providerUrl: string;
    providerFingerprint: string;
    redeemedAt: number;
    redeemedByUserId: number | null;
  }): Promise<void>;
}

/** Part B's reads. */
export interface PartBReads extends DeviceReads, ArchiveReads, StorageReads {}
/** Part B's writes. */
export interface PartBWrites extends DeviceWrites, ArchiveWrites, StorageWrites {}

export type { Page, PageResult };
