/**
 * Every org setting: its group, default (as the source platform ships it), how children merge
 * it (`rule`), whether it can be locked, how a written value is checked, and one line of docs.
 * The resolver (`resolve.ts`) is driven by this table alone, and a completeness test fails when a
 * field lacks a default, a rule or a `docs/settings.md` entry (CONVENTIONS.md B9).
 *
 * Groups with `inheritance: "group"` are inherited or overridden as a whole (the source
 * document's "Inherit quota settings from parent" switches); `"key"` groups inherit key by key
 * (the `/api/OrgSetting` packets, which may also hold keys this table does not know).
 */
import { COMPRESSION_MODES, KEY_POLICIES, type KeyPolicy, STORAGE_TOKEN_TTL_MS } from "@cairn/protocol";
import { backupSets, DEVICE_DEFAULTS, type DeviceDefaults, regex, retention, runWindow } from "./device-defaults.js";
import { boolean, email, intIn, listOf, oneOf, type Parser, proxyUrl, text } from "./parse.js";

/** How a child's value combines with what it inherits. */
export type FieldRule =
  /** The child's value replaces the inherited one. */
  | "override"
  /** The stronger of the two wins (encryption key policy: escrow < password < custom). */
  | "raiseOnly"
  /** The child's value, but never above its parent's (−1 = unlimited): maximum user subscriptions. */
  | "capByParent";

/** One setting. */
export interface FieldSpec<T> {
  readonly default: T;
  readonly parse: Parser<T>;
  readonly rule: FieldRule;
  readonly lockable: boolean;
  /** raiseOnly: the values, weakest first. */
  readonly order?: readonly T[];
  readonly doc: string;
}

/** The quota group (API.md §5.2; source document "Quotas"). */
export interface QuotaSettings {
  maxSeats: number;
  maxBytes: number;
  archiveHoldDays: number;
  defaultUserMaxBytes: number;
  defaultUserMobileQuota: number;
  webRestoreUserLimitMb: number;
  webRestoreAdminLimitMb: number;
}

/** The reporting group (source document "Reporting"). */
export interface ReportingSettings {
  warnInDays: number;
  alertInDays: number;
  recipients: string[];
  reportSchedule: string;
  sendReports: boolean;
}

/** The security group (source document "Security", "Local two-factor authentication"). */
export interface SecuritySettings {
  keyPolicy: KeyPolicy;
  twoFactorRequired: boolean;
  clientVisibility: "visible" | "hidden";
}

/** One destination offered to an org's devices. */
export interface DestinationOffer {
  destinationGuid: string;
  /** Devices start backing up to it without the user opting in. */
  autoStart: boolean;
}

/** The destinations group (seed 000: offer system-wide or per organization). */
export interface DestinationSettings {
  offers: DestinationOffer[];
}

/** Settings inherited key by key. */
export interface GeneralSettings {
  usernameIsAnEmail: boolean;
  defaultRoles: string[];
  autoOfferSelf: boolean;
  allowLocalFolders: boolean;
  autoCreateUsers: boolean;
  storageTokenTtlMs: number;
}

/** The OrgSetting packets Cairn knows (unknown keys are kept verbatim beside them). */
export interface PacketSettings {
  device_webRestore_enabled: "true" | "false";
  [key: string]: string;
}

/** Every effective setting of one org. */
export interface EffectiveSettings {
  quota: QuotaSettings;
  reporting: ReportingSettings;
  security: SecuritySettings;
  device: DeviceDefaults;
  destinations: DestinationSettings;
  general: GeneralSettings;
  packets: PacketSettings;
}

/** A group's name. */
export type GroupName = keyof EffectiveSettings;

/** One group of settings. */
export interface GroupSpec<T> {
  readonly inheritance: "group" | "key";
  /** The platform API's inheritance flag in the org object's `settings`, if any. */
  readonly apiFlag?: string;
  /** Keys beyond `fields` are accepted (as strings, rule override). */
  readonly open?: boolean;
  readonly doc: string;
  readonly fields: { readonly [F in keyof T & string]-?: FieldSpec<T[F]> };
  /** A rule across the group's fields: the problem with a whole set of values, or null. */
  readonly check?: (values: Readonly<Record<string, unknown>>) => { field: string; message: string } | null;
}

/** The critical threshold must come after the warning threshold (both counted in the same unit). */
const criticalAfterWarning =
  (warning: string, critical: string, unit: string) =>
  (v: Readonly<Record<string, unknown>>): { field: string; message: string } | null => {
    const w = v[warning];
    const c = v[critical];
    if (typeof w !== "number" || typeof c !== "number" || c > w) return null;
    // in the unit a person set them in: the console's form asks for days
    const show = (n: number) =>
      unit !== "minutes" ? `${n} ${unit}` : n % 1440 === 0 ? plural(n / 1440, "day") : n % 60 === 0 ? plural(n / 60, "hour") : plural(n, "minute");
    return {
      field: critical,
      message: `${critical} (${show(c)}) must be greater than ${warning} (${show(w)}): a device is warned before it is critical`,
    };
  };

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;

const f = <T>(spec: Omit<FieldSpec<T>, "rule" | "lockable"> & Partial<Pick<FieldSpec<T>, "rule" | "lockable">>): FieldSpec<T> => ({
  rule: "override",
  lockable: true,
  ...spec,
});

const quotaInt = intIn(-1);
const MB_LIMIT_DOC = "MB; 0 disables zip web restores for this audience, -1 is unlimited";

const GUID = /^[1-9][0-9]{5,19}$/;
const offer: Parser<DestinationOffer> = (v, key) => {
  const o = (typeof v === "object" && v !== null ? v : {}) as Record<string, unknown>;
  return {
    destinationGuid: text({ pattern: GUID })(o.destinationGuid, `${key}.destinationGuid`),
    autoStart: o.autoStart === undefined ? true : boolean(o.autoStart, `${key}.autoStart`),
  };
};

/** The settings table. */
export const SETTINGS_SCHEMA: {
  readonly [G in GroupName]: GroupSpec<G extends "packets" ? { device_webRestore_enabled: "true" | "false" } : EffectiveSettings[G]>;
} = {
  quota: {
    inheritance: "group",
    apiFlag: "isUsingQuotaDefaults",
    doc: "Quotas. Only an administrator with rights on the parent organization may change them.",
    fields: {
      maxSeats: f({
        default: -1,
        parse: quotaInt,
        rule: "capByParent",
        doc: "Maximum user subscriptions (users with an archive count); -1 unlimited; never above the parent's",
      }),
      maxBytes: f({ default: -1, parse: quotaInt, doc: "Backup storage quota of the organization in bytes; -1 unlimited" }),
      archiveHoldDays: f({ default: 365, parse: intIn(1, 36500), doc: "Days a deactivated archive stays in cold storage before it is purged" }),
      defaultUserMaxBytes: f({ default: -1, parse: quotaInt, doc: "Backup storage quota of each user in bytes; -1 unlimited" }),
      defaultUserMobileQuota: f({ default: -1, parse: quotaInt, doc: "Mobile quota of each user (kept for the platform API); -1 unlimited" }),
      webRestoreUserLimitMb: f({ default: 250, parse: quotaInt, doc: `Zip web restore limit for users restoring their own devices, ${MB_LIMIT_DOC}` }),
      webRestoreAdminLimitMb: f({ default: 250, parse: quotaInt, doc: `Zip web restore limit for administrators (Org Manager and above), ${MB_LIMIT_DOC}` }),
    },
  },
  reporting: {
    inheritance: "group",
    apiFlag: "isUsingReportingDefaults",
    doc: "Backup reports and alert thresholds of the organization (warning and critical counts).",
    check: criticalAfterWarning("warnInDays", "alertInDays", "days"),
    fields: {
      warnInDays: f({ default: 3, parse: intIn(1, 3650), doc: "Days without a completed backup before a device counts as a warning" }),
      alertInDays: f({ default: 5, parse: intIn(1, 3650), doc: "Days without a completed backup before a device counts as critical" }),
      recipients: f({
        default: [],
        parse: listOf(email, 200),
        doc: "Additional report recipients (email addresses), on top of the first administrator and the org's admins, who always receive the report",
      }),
      reportSchedule: f({
        default: "_M_____",
        parse: text({ min: 7, max: 7, pattern: /^[A-Za-z_]{7}$/ }),
        doc: "Days the backup report is sent, Sunday first, _ for none",
      }),
      sendReports: f({ default: true, parse: boolean, doc: "Whether backup reports are sent" }),
    },
  },
  security: {
    inheritance: "group",
    apiFlag: "securityKeyInherit",
    doc: "Encryption key policy, two-factor authentication and client visibility.",
    fields: {
      keyPolicy: f({
        default: "escrow",
        parse: oneOf(KEY_POLICIES),
        rule: "raiseOnly",
        order: KEY_POLICIES,
        doc: "Encryption key policy: escrow (the authority keeps the key), password or custom; can be raised, never lowered",
      }),
      twoFactorRequired: f({ default: false, parse: boolean, doc: "Local users must sign in with a TOTP code" }),
      clientVisibility: f({
        default: "visible",
        parse: oneOf(["visible", "hidden"] as const),
        doc: "Whether the agent shows status output and notifications to the user",
      }),
    },
  },
  device: {
    inheritance: "group",
    doc: "Device backup defaults: what, how often, how long versions are kept, resources and alerts.",
    check: criticalAfterWarning("minutesUntilWarning", "minutesUntilSevere", "minutes"),
    fields: {
      frequencyMs: f({ default: DEVICE_DEFAULTS.frequencyMs, parse: intIn(60_000), doc: "Back up changed files at most this often (ms)" }),
      verifyScanIntervalMs: f({ default: DEVICE_DEFAULTS.verifyScanIntervalMs, parse: intIn(60_000), doc: "Full file verification scan interval (ms)" }),
      retention: f({
        default: DEVICE_DEFAULTS.retention,
        parse: retention,
        doc: "Versions to keep: spacing per age band, and how long deleted files are kept",
      }),
      watch: f({ default: true, parse: boolean, doc: "Watch the file system in real time between scans" }),
      cpuAwayPercent: f({ default: 80, parse: intIn(1, 100), doc: "CPU share while the user is away (percent)" }),
      cpuPresentPercent: f({ default: 20, parse: intIn(1, 100), doc: "CPU share while the user is present (percent)" }),
      wanBytesPerSec: f({ default: 0, parse: intIn(0), doc: "Bandwidth limit over WAN in bytes per second; 0 unlimited" }),
      lanBytesPerSec: f({ default: 0, parse: intIn(0), doc: "Bandwidth limit over LAN in bytes per second; 0 unlimited" }),
      wanCompression: f({
        default: "auto",
        parse: oneOf(COMPRESSION_MODES),
        doc: "Compression over WAN: auto compresses the chunks that compress, off sends them as they are",
      }),
      lanCompression: f({
        default: "auto",
        parse: oneOf(COMPRESSION_MODES),
        doc: "Compression over LAN (a storage node on a private or loopback address): auto or off",
      }),
      excludedInterfaces: f({ default: [], parse: listOf(text({ min: 1, max: 64 }), 64), doc: "Network interfaces over which nothing is sent" }),
      excludedWifi: f({ default: [], parse: listOf(text({ min: 1, max: 64 }), 64), doc: "Wi-Fi networks (SSIDs) over which nothing is sent" }),
      excludePatterns: f({
        default: [],
        parse: listOf(regex, 200),
        doc: "File exclusions for every backup set: regular expressions (JavaScript syntax) matched against the absolute path",
      }),
      proxyUrl: f({
        default: null,
        parse: proxyUrl,
        doc: "HTTP CONNECT proxy (http://host:port) the devices use for the authority and storage nodes; null none; a proxy set on the device itself wins",
      }),
      runWindow: f({ default: null, parse: runWindow, doc: "When backups may send data (device local time); null always" }),
      minutesUntilWarning: f({ default: 4320, parse: intIn(1), doc: "Minutes without a completed backup before the device shows warning" }),
      minutesUntilSevere: f({ default: 7200, parse: intIn(1), doc: "Minutes without a completed backup before the device shows critical" }),
      warningEmailEnabled: f({ default: true, parse: boolean, doc: "Email the user at the warning threshold" }),
      severeEmailEnabled: f({ default: true, parse: boolean, doc: "Email the user at the critical threshold" }),
      backupStatusEmailEnabled: f({ default: false, parse: boolean, doc: "Send the user a regular backup status email" }),
      backupStatusEmailFreqInMinutes: f({ default: 10080, parse: intIn(60), doc: "How often the backup status email is sent (minutes)" }),
      backupSets: f({ default: DEVICE_DEFAULTS.backupSets, parse: backupSets, doc: "Backup sets: selection, exclusions, destinations and their locks" }),
    },
  },
  destinations: {
    inheritance: "group",
    apiFlag: "isUsingDestinationDefaults",
    doc: "Destinations offered to the organization's devices (system-wide at the top level).",
    fields: {
      offers: f({ default: [], parse: listOf(offer, 64), doc: "Offered destinations and whether backups start on their own (auto-start)" }),
    },
  },
  general: {
    inheritance: "key",
    doc: "Account and registration rules, inherited key by key.",
    fields: {
      usernameIsAnEmail: f({ default: false, parse: boolean, doc: "New usernames must be email addresses" }),
      defaultRoles: f({ default: ["Desktop User"], parse: listOf(text({ min: 1, max: 100 }), 20), doc: "Roles given to new users" }),
      autoOfferSelf: f({ default: false, parse: boolean, doc: "Kept for the platform API (computer-to-computer backup is not offered)" }),
      allowLocalFolders: f({ default: true, parse: boolean, doc: "Kept for the platform API (local folder destinations are not offered)" }),
      autoCreateUsers: f({ default: true, parse: boolean, doc: "A device registering with the org's key and an unknown username creates that user" }),
      storageTokenTtlMs: f({
        default: STORAGE_TOKEN_TTL_MS,
        parse: intIn(3_600_000, 90 * 86_400_000),
        doc: "Lifetime of the storage tokens devices use with storage nodes (ms)",
      }),
    },
  },
  packets: {
    inheritance: "key",
    open: true,
    doc: "The /api/OrgSetting packets: string values, inherited key by key; unknown keys are kept verbatim.",
    fields: {
      device_webRestore_enabled: f({
        default: "true",
        parse: oneOf(["true", "false"] as const),
        doc: "Zip web restores (and so server-side decryption) allowed; changed only by a Customer Cloud Admin",
      }),
    },
  },
};

/** Every group name, in schema order. */
export const GROUP_NAMES = Object.keys(SETTINGS_SCHEMA) as GroupName[];

/** A setting's key: `group.field` (packets: `packets.<packet key>`). */
export function settingKey(group: GroupName, field: string): string {
  return `${group}.${field}`;
}

/** Parses an open packet value (any string up to 64 KiB). */
export const openPacketValue: Parser<string> = text({ max: 65_536 });

/** The spec of a field, or undefined (open packets have none). */
export function fieldSpec(group: GroupName, field: string): FieldSpec<unknown> | undefined {
  const fields = SETTINGS_SCHEMA[group].fields as Record<string, FieldSpec<unknown>>;
  return Object.hasOwn(fields, field) ? fields[field] : undefined;
}

/** The defaults of every group. */
export function defaultSettings(): EffectiveSettings {
  const out: Record<string, Record<string, unknown>> = {};
  for (const g of GROUP_NAMES) {
    out[g] = {};
    for (const [k, spec] of Object.entries(SETTINGS_SCHEMA[g].fields as Record<string, FieldSpec<unknown>>)) out[g][k] = structuredClone(spec.default);
  }
  return out as unknown as EffectiveSettings;
}
