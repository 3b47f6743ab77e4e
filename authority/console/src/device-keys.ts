/**
 * Where the Device backup defaults screen finds each setting in the configuration tree (the
 * authority's `settings/device-tree.ts`: scalars under `serviceBackupConfig` and its
 * `backupConfig`), the lock key of each (`device.<field>`), and the defaults the source platform
 * ships.
 */

/** Dotted path, lock key and default of one setting. */
export interface Key {
  path: string;
  lock: string;
  def: number | boolean | string;
}

const SBC = "serviceBackupConfig";
const BC = `${SBC}.backupConfig`;
const MIN = 60_000;
const DAY = 86_400_000;

/** Every scalar the screen edits. */
export const DEVICE_KEYS = {
  frequencyMs: { path: `${BC}.frequencyMs`, lock: "device.frequencyMs", def: 15 * MIN },
  verifyScanIntervalMs: { path: `${BC}.verifyScanIntervalMs`, lock: "device.verifyScanIntervalMs", def: DAY },
  watch: { path: `${BC}.watchFileSystem`, lock: "device.watch", def: true },
  cpuAwayPercent: { path: `${SBC}.cpuAwayPercent`, lock: "device.cpuAwayPercent", def: 80 },
  cpuPresentPercent: { path: `${SBC}.cpuPresentPercent`, lock: "device.cpuPresentPercent", def: 20 },
  wanBytesPerSec: { path: `${SBC}.wanBytesPerSec`, lock: "device.wanBytesPerSec", def: 0 },
  lanBytesPerSec: { path: `${SBC}.lanBytesPerSec`, lock: "device.lanBytesPerSec", def: 0 },
  wanCompression: { path: `${SBC}.wanCompression`, lock: "device.wanCompression", def: "auto" },
  lanCompression: { path: `${SBC}.lanCompression`, lock: "device.lanCompression", def: "auto" },
  minutesUntilWarning: { path: `${SBC}.minutesUntilWarning`, lock: "device.minutesUntilWarning", def: 4320 },
  minutesUntilSevere: { path: `${SBC}.minutesUntilSevere`, lock: "device.minutesUntilSevere", def: 7200 },
  warningEmailEnabled: { path: `${SBC}.warningEmailEnabled`, lock: "device.warningEmailEnabled", def: true },
  severeEmailEnabled: { path: `${SBC}.severeEmailEnabled`, lock: "device.severeEmailEnabled", def: true },
  backupStatusEmailEnabled: { path: `${SBC}.backupStatusEmailEnabled`, lock: "device.backupStatusEmailEnabled", def: false },
  backupStatusEmailFreqInMinutes: { path: `${SBC}.backupStatusEmailFreqInMinutes`, lock: "device.backupStatusEmailFreqInMinutes", def: 10080 },
  proxyUrl: { path: `${SBC}.proxyUrl`, lock: "device.proxyUrl", def: "" },
} satisfies Record<string, Key>;

/** List-valued settings. */
export const DEVICE_LISTS = {
  excludedWifi: { path: `${SBC}.excludedWifi`, lock: "device.excludedWifi" },
  excludedInterfaces: { path: `${SBC}.excludedInterfaces`, lock: "device.excludedInterfaces" },
  excludePatterns: { path: `${SBC}.excludePatterns`, lock: "device.excludePatterns" },
} as const;

/** Object-valued settings. */
export const DEVICE_OBJECTS = {
  retention: { path: `${BC}.retentionPolicy`, lock: "device.retention" },
  runWindow: { path: `${BC}.runWindow`, lock: "device.runWindow" },
} as const;

/** The source platform's version bands (protocol DEFAULT_RETENTION). */
export const DEFAULT_BANDS = [
  { untilAgeMs: 7 * DAY, spacingMs: 15 * MIN },
  { untilAgeMs: 90 * DAY, spacingMs: DAY },
  { untilAgeMs: 365 * DAY, spacingMs: 7 * DAY },
  { untilAgeMs: -1, spacingMs: 30 * DAY },
];

/** Minutes as "15 minutes", "1 day", "1 week". */
export function minutesLabel(m: number): string {
  if (m < 0) return "never";
  if (m === 0) return "every version";
  if (m % 10080 === 0) return m === 10080 ? "1 week" : `${m / 10080} weeks`;
  if (m % 1440 === 0) return m === 1440 ? "1 day" : `${m / 1440} days`;
  if (m % 60 === 0) return m === 60 ? "1 hour" : `${m / 60} hours`;
  return m === 1 ? "1 minute" : `${m} minutes`;
}

/** Milliseconds as {@link minutesLabel} does minutes. */
export function msLabel(ms: number): string {
  return ms < 0 ? "no limit" : minutesLabel(Math.round(ms / MIN));
}

/** The key policies, weakest first (raise-only): platform names and what they mean. */
export const KEY_TYPES = [
  { value: "AccountPassword", label: "Standard: the authority keeps the key (web restores possible)" },
  { value: "PrivatePassword", label: "Archive password: the key is wrapped by a password the authority never sees" },
  { value: "CustomKey", label: "Custom key: the key never leaves the devices (no web restore)" },
] as const;
