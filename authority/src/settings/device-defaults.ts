/**
 * The device backup defaults of an org (the source document's "Device backup defaults": general,
 * backup, reporting and network tabs), as the authority keeps them. `device-settings.ts` turns
 * them into protocol `DeviceSettings` for agents; `device-tree.ts` into the API.md §5.4 tree.
 */
import { type CompressionMode, DAY_MS, DEFAULT_RETENTION, MINUTE_MS, type RetentionPolicy, regexHazard, retentionPolicy } from "@cairn/protocol";
import { boolean, intIn, invalid, listOf, type Parser, text } from "./parse.js";

/** A destination of a backup set; `locked`: the device's user may not remove it. */
export interface SetDestination {
  guid: string;
  locked: boolean;
}

/** One backup set of the device defaults. */
export interface BackupSetDefaults {
  /** "1" is the default set (py42 restores from it). */
  id: string;
  name: string;
  /** Absolute paths to back up (directories end with "/"). */
  include: string[];
  /** Absolute paths below the includes to leave out. */
  exclude: string[];
  /** Regular expressions matched against absolute paths. */
  excludePatterns: string[];
  /** Destinations this set goes to; null: every destination offered to the device. */
  destinations: SetDestination[] | null;
  /** The device's user may not change this set's selection. */
  locked: boolean;
}

/** When backups may send data (device local time). */
export interface RunWindow {
  startMinute: number;
  endMinute: number;
  /** Seven characters, Sunday first: a letter for an allowed day, `_` or `-` otherwise. */
  days: string;
}

/** The device defaults group. */
export interface DeviceDefaults {
  frequencyMs: number;
  verifyScanIntervalMs: number;
  retention: RetentionPolicy;
  watch: boolean;
  cpuAwayPercent: number;
  cpuPresentPercent: number;
  wanBytesPerSec: number;
  lanBytesPerSec: number;
  /** Compression over WAN / LAN: `auto` (what compresses) or `off`. */
  wanCompression: CompressionMode;
  lanCompression: CompressionMode;
  excludedInterfaces: string[];
  excludedWifi: string[];
  /** File exclusions (regular expressions on the absolute path) for every backup set. */
  excludePatterns: string[];
  /** HTTP CONNECT proxy the devices reach the authority and storage nodes through; null: none. */
  proxyUrl: string | null;
  runWindow: RunWindow | null;
  minutesUntilWarning: number;
  minutesUntilSevere: number;
  warningEmailEnabled: boolean;
  severeEmailEnabled: boolean;
  backupStatusEmailEnabled: boolean;
  backupStatusEmailFreqInMinutes: number;
  backupSets: BackupSetDefaults[];
}

/** The default set: selects nothing until the user or an administrator chooses what to back up. */
export const DEFAULT_BACKUP_SET: BackupSetDefaults = {
  id: "1",
  name: "Backup Set 1",
  include: [],
  exclude: [],
  excludePatterns: [],
  destinations: null,
  locked: false,
};

/** Defaults as the source platform ships them (15-minute frequency, 3/5-day alerts in minutes). */
export const DEVICE_DEFAULTS: DeviceDefaults = {
  frequencyMs: 15 * MINUTE_MS,
  verifyScanIntervalMs: DAY_MS,
  retention: DEFAULT_RETENTION,
  watch: true,
  cpuAwayPercent: 80,
  cpuPresentPercent: 20,
  wanBytesPerSec: 0,
  lanBytesPerSec: 0,
  wanCompression: "auto",
  lanCompression: "auto",
  excludedInterfaces: [],
  excludedWifi: [],
  excludePatterns: [],
  proxyUrl: null,
  runWindow: null,
  minutesUntilWarning: 4320,
  minutesUntilSevere: 7200,
  warningEmailEnabled: true,
  severeEmailEnabled: true,
  backupStatusEmailEnabled: false,
  backupStatusEmailFreqInMinutes: 10080,
  backupSets: [DEFAULT_BACKUP_SET],
};

const GUID = /^[1-9][0-9]{5,19}$/;
const path = text({ min: 1, max: 4096, pattern: /^[^\0]+$/ });

/** A regular expression that compiles, and cannot backtrack without bound on a device's paths. */
export const regex: Parser<string> = (v, key) => {
  const s = text({ min: 1, max: 1000 })(v, key);
  try {
    new RegExp(s);
  } catch {
    invalid(key, "is not a valid regular expression");
  }
  const hazard = regexHazard(s);
  if (hazard !== null) invalid(key, `could take for ever to match on some paths (${hazard}): write it without the nested repeat`);
  return s;
};

/** Parses a stored or written retention policy. */
export const retention: Parser<RetentionPolicy> = (v, key) => {
  try {
    return retentionPolicy.check(v, key, 0);
  } catch (cause) {
    return invalid(key, cause instanceof Error ? cause.message : "is not a retention policy");
  }
};

/** Parses a run window or null. */
export const runWindow: Parser<RunWindow | null> = (v, key) => {
  if (v === null || v === undefined) return null;
  if (typeof v !== "object") invalid(key, "expected a run window or null");
  const o = v as Record<string, unknown>;
  return {
    startMinute: intIn(0, 1439)(o.startMinute, `${key}.startMinute`),
    endMinute: intIn(0, 1439)(o.endMinute, `${key}.endMinute`),
    days: text({ min: 7, max: 7, pattern: /^[A-Za-z_-]{7}$/ })(o.days, `${key}.days`),
  };
};

/** Parses one backup set. */
export const backupSet: Parser<BackupSetDefaults> = (v, key) => {
  const o = (typeof v === "object" && v !== null ? v : {}) as Record<string, unknown>;
  const dests = o.destinations;
  return {
    id: text({ min: 1, max: 32, pattern: /^[A-Za-z0-9_-]+$/ })(o.id, `${key}.id`),
    name: text({ max: 200 })(o.name ?? "", `${key}.name`),
    include: listOf(path)(o.include, `${key}.include`),
    exclude: listOf(path)(o.exclude, `${key}.exclude`),
    excludePatterns: listOf(regex)(o.excludePatterns, `${key}.excludePatterns`),
    destinations:
      dests === null || dests === undefined
        ? null
        : listOf<SetDestination>((d, k) => {
            const x = (typeof d === "object" && d !== null ? d : {}) as Record<string, unknown>;
            return { guid: text({ pattern: GUID })(x.guid, `${k}.guid`), locked: x.locked === undefined ? false : boolean(x.locked, `${k}.locked`) };
          }, 64)(dests, `${key}.destinations`),
    locked: o.locked === undefined ? false : boolean(o.locked, `${key}.locked`),
  };
};

/** Parses the list of backup sets (1 to 32, unique ids). */
export const backupSets: Parser<BackupSetDefaults[]> = (v, key) => {
  const sets = listOf(backupSet, 32)(v, key);
  if (sets.length === 0) invalid(key, "at least one backup set");
  if (new Set(sets.map((s) => s.id)).size !== sets.length) invalid(key, "backup set ids must be unique");
  return sets;
};
