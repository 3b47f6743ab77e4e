/**
 * Where the Device backup defaults screen finds each setting in the configuration tree
 * (docs/console.md, "Device settings tree"), with the defaults the source platform ships.
 */

/** Dotted path and default value of one setting. */
export interface Key {
  path: string;
  def: number | boolean | string;
}

const SBC = "serviceBackupConfig";
const BC = `${SBC}.backupConfig`;

/** Every scalar the screen edits. */
export const DEVICE_KEYS = {
  backupIntervalMinutes: { path: `${BC}.backupIntervalMinutes`, def: 15 },
  verifyIntervalMinutes: { path: `${BC}.verifyIntervalMinutes`, def: 1440 },
  watchFiles: { path: `${BC}.watchFiles`, def: true },
  lastWeekIntervalMinutes: { path: `${BC}.retention.lastWeekIntervalMinutes`, def: 15 },
  lastNinetyDaysIntervalMinutes: { path: `${BC}.retention.lastNinetyDaysIntervalMinutes`, def: 1440 },
  lastYearIntervalMinutes: { path: `${BC}.retention.lastYearIntervalMinutes`, def: 10080 },
  previousYearsIntervalMinutes: { path: `${BC}.retention.previousYearsIntervalMinutes`, def: 43200 },
  deletedRetentionDays: { path: `${BC}.retention.deletedRetentionDays`, def: -1 },
  runAlways: { path: `${BC}.runWindow.always`, def: true },
  runStartMinute: { path: `${BC}.runWindow.startMinute`, def: 0 },
  runEndMinute: { path: `${BC}.runWindow.endMinute`, def: 0 },
  runDays: { path: `${BC}.runWindow.days`, def: "SMTWTFS" },
  cpuAwayPercent: { path: `${SBC}.cpuAwayPercent`, def: 80 },
  cpuPresentPercent: { path: `${SBC}.cpuPresentPercent`, def: 20 },
  wanBandwidthKbps: { path: `${SBC}.wanBandwidthKbps`, def: 0 },
  lanBandwidthKbps: { path: `${SBC}.lanBandwidthKbps`, def: 0 },
  minutesUntilWarning: { path: `${SBC}.minutesUntilWarning`, def: 4320 },
  minutesUntilSevere: { path: `${SBC}.minutesUntilSevere`, def: 7200 },
  warningEmailEnabled: { path: `${SBC}.warningEmailEnabled`, def: true },
  severeEmailEnabled: { path: `${SBC}.severeEmailEnabled`, def: true },
  backupStatusEmailEnabled: { path: `${SBC}.backupStatusEmailEnabled`, def: false },
  backupStatusEmailFreqInMinutes: { path: `${SBC}.backupStatusEmailFreqInMinutes`, def: 10080 },
  proxyPacUrl: { path: `${SBC}.network.proxyPacUrl`, def: "" },
} satisfies Record<string, Key>;

/** List-valued settings. */
export const DEVICE_LISTS = {
  excludedWifi: `${SBC}.network.excludedWifi`,
  excludedInterfaces: `${SBC}.network.excludedInterfaces`,
} as const;

/** Minutes as "15 minutes", "1 day", "1 week". */
export function minutesLabel(m: number): string {
  if (m < 0) return "never";
  if (m === 0) return "every version";
  if (m % 10080 === 0) return m === 10080 ? "1 week" : `${m / 10080} weeks`;
  if (m % 1440 === 0) return m === 1440 ? "1 day" : `${m / 1440} days`;
  if (m % 60 === 0) return m === 60 ? "1 hour" : `${m / 60} hours`;
  return m === 1 ? "1 minute" : `${m} minutes`;
}

/** The key policies, weakest first (raise-only): platform names and what they mean. */
export const KEY_TYPES = [
  { value: "AccountPassword", label: "Standard: the authority keeps the key (web restores possible)" },
  { value: "PrivatePassword", label: "Archive password: the key is wrapped by a password the authority never sees" },
  { value: "CustomKey", label: "Custom key: the key never leaves the devices (no web restore)" },
] as const;
