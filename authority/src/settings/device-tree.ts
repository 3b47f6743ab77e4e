/**
 * Device backup defaults ⇄ the API.md §5.4 settings tree (the agent's XML configuration written
 * as JSON, as py42 reads, edits in place and PUTs back). Scalars are strings; a locked scalar is
 * `{"@locked":"true","#text":"…"}`; null is `{"@nil":"true"}`. Reading accepts every shape of
 * §5.4; writing produces one of them (the shapes py42's own parser documents).
 */
import { type BackupSet, CairnError } from "@cairn/protocol";
import type { BackupSetDefaults, DeviceDefaults, SetDestination } from "./device-defaults.js";
import { SETTINGS_SCHEMA } from "./schema.js";

type Tree = Record<string, unknown>;

/** Scalar device fields and where they sit in the tree (`backupConfig` or `serviceBackupConfig`). */
const SCALARS: readonly (readonly [keyof DeviceDefaults, "backupConfig" | "service", string])[] = [
  ["frequencyMs", "backupConfig", "frequencyMs"],
  ["verifyScanIntervalMs", "backupConfig", "verifyScanIntervalMs"],
  ["watch", "backupConfig", "watchFileSystem"],
  ["runWindow", "backupConfig", "runWindow"],
  ["retention", "backupConfig", "retentionPolicy"],
  ["minutesUntilWarning", "service", "minutesUntilWarning"],
  ["minutesUntilSevere", "service", "minutesUntilSevere"],
  ["warningEmailEnabled", "service", "warningEmailEnabled"],
  ["severeEmailEnabled", "service", "severeEmailEnabled"],
  ["backupStatusEmailEnabled", "service", "backupStatusEmailEnabled"],
  ["backupStatusEmailFreqInMinutes", "service", "backupStatusEmailFreqInMinutes"],
  ["cpuAwayPercent", "service", "cpuAwayPercent"],
  ["cpuPresentPercent", "service", "cpuPresentPercent"],
  ["wanBytesPerSec", "service", "wanBytesPerSec"],
  ["lanBytesPerSec", "service", "lanBytesPerSec"],
  ["wanCompression", "service", "wanCompression"],
  ["lanCompression", "service", "lanCompression"],
  ["excludedInterfaces", "service", "excludedInterfaces"],
  ["excludedWifi", "service", "excludedWifi"],
  ["excludePatterns", "service", "excludePatterns"],
  ["proxyUrl", "service", "proxyUrl"],
];

const TRUE = "true";

/** Numbers and booleans as the tree writes them: strings, recursively. */
function stringify(v: unknown): unknown {
  if (v === null) return { "@nil": TRUE };
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return v.map(stringify);
  if (typeof v === "object") return Object.fromEntries(Object.entries(v as Tree).map(([k, x]) => [k, stringify(x)]));
  return v;
}

/** Tree strings back to numbers and booleans, following `like` (the value's current shape). */
function destringify(v: unknown, like: unknown): unknown {
  if (typeof v === "object" && v !== null && !Array.isArray(v) && (v as Tree)["@nil"] === TRUE) return null;
  if (typeof like === "number" && typeof v === "string" && /^-?\d+$/.test(v.trim())) return Number(v.trim());
  if (typeof like === "boolean" && typeof v === "string") return v.trim().toLowerCase() === TRUE ? true : v.trim().toLowerCase() === "false" ? false : v;
  if (Array.isArray(v)) {
    const item = Array.isArray(like) ? like[0] : undefined;
    return v.map((x) => destringify(x, item));
  }
  if (typeof v === "object" && v !== null) {
    const base = (typeof like === "object" && like !== null ? like : {}) as Tree;
    // a run window's fields are numbers even when the current value is null
    const shape: Tree = Object.keys(base).length > 0 ? base : { startMinute: 0, endMinute: 0, untilAgeMs: 0, spacingMs: 0, deletedRetentionMs: 0 };
    return Object.fromEntries(Object.entries(v as Tree).map(([k, x]) => [k, destringify(x, k === "bands" ? [{ untilAgeMs: 0, spacingMs: 0 }] : shape[k])]));
  }
  return v;
}

/** `{"@locked":"true","#text":x}` → {value: x, locked: true}; anything else → {value, locked: false}. */
function unwrap(v: unknown): { value: unknown; locked: boolean } {
  if (typeof v === "object" && v !== null && !Array.isArray(v) && "#text" in v) {
    return { value: (v as Tree)["#text"], locked: (v as Tree)["@locked"] === TRUE };
  }
  return { value: v, locked: false };
}

/** One item or a list → a list; absent → []. */
function list(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

function pathsetTree(s: BackupSetDefaults): unknown {
  const path = [...s.include.map((p) => ({ "@include": p })), ...s.exclude.map((p) => ({ "@exclude": p }))];
  const paths: Tree = path.length === 0 ? { "@os": "Linux", "@cleared": TRUE } : { "@os": "Linux", path };
  return s.locked ? { "@locked": TRUE, paths } : [paths];
}

function excludeTree(s: BackupSetDefaults): unknown {
  const pattern = s.excludePatterns.map((r) => ({ "@regex": r }));
  return s.locked
    ? { "@locked": TRUE, patternList: { pattern, windows: { pattern: [] }, macintosh: { pattern: [] }, linux: { pattern: [] } } }
    : [{ pattern, windows: [], macintosh: [], linux: [] }];
}

/**
 * `retentionPolicy` is the device's (Cairn keeps one retention per device): every set shows a
 * copy of `backupConfig.retentionPolicy`, as §5.4 lists it among a set's fields. The copy is read
 * only; {@link fromDeviceTree} reads the retention from `backupConfig` alone.
 */
function setTree(s: BackupSetDefaults, offered: readonly string[], retentionPolicy: unknown): Tree {
  const dests: SetDestination[] =
    s.destinations === null ? offered.map((guid) => ({ guid, locked: false })) : s.destinations.filter((d) => offered.includes(d.guid));
  return {
    "@id": s.id,
    ...(s.locked ? { "@locked": TRUE } : {}),
    name: s.name,
    priority: "1",
    visible: TRUE,
    retentionPolicy: structuredClone(retentionPolicy),
    backupPaths: { pathset: pathsetTree(s), excludeUser: excludeTree(s) },
    destinations: dests.map((d) => (d.locked ? { "@id": d.guid, "@locked": TRUE } : { "@id": d.guid })),
  };
}

/**
 * A device's legal-hold set as API.md §5.4 shows it: locked as a whole, hidden, its paths and
 * patterns in the locked forms, and `destinations` as `{"@locked":"true","destination":[…]}`
 * (what py42 recognizes, hides from its user and PUTs back; {@link fromDeviceTree} ignores it).
 */
function legalHoldSetTree(s: BackupSet, offered: readonly string[], retentionPolicy: unknown): Tree {
  const shape: BackupSetDefaults = { ...s, destinations: null, locked: true };
  return {
    "@id": s.id,
    "@locked": TRUE,
    "@legalHold": TRUE,
    name: s.name,
    priority: "1",
    visible: "false",
    retentionPolicy: structuredClone(retentionPolicy),
    backupPaths: { pathset: pathsetTree(shape), excludeUser: excludeTree(shape) },
    destinations: { "@locked": TRUE, destination: s.destinations.filter((g) => offered.includes(g)).map((g) => ({ "@id": g, "@locked": TRUE })) },
  };
}

/** Inputs of {@link toDeviceTree}. */
export interface DeviceTreeInputs {
  /** Locked fields (`device.<field>` keys locked here or above). */
  locked: ReadonlySet<string>;
  /** Destination GUIDs offered to the org (sets without a list go to all of them). */
  offered: readonly string[];
  configDateMs: number;
  /** A device's legal-hold sets (its user is a custodian on active holds), listed after its own sets. */
  legalHoldSets?: readonly BackupSet[];
}

/** Device defaults → the `deviceDefaults` tree of an org. */
export function toDeviceTree(d: DeviceDefaults, inputs: DeviceTreeInputs): Tree {
  const backupConfig: Tree = {};
  const service: Tree = {};
  for (const [field, where, name] of SCALARS) {
    const raw = stringify(d[field]);
    const v = inputs.locked.has(`device.${field}`) ? { "@locked": TRUE, "#text": raw } : raw;
    (where === "backupConfig" ? backupConfig : service)[name] = v;
  }
  const retention = backupConfig.retentionPolicy;
  const sets = [
    ...d.backupSets.map((s) => setTree(s, inputs.offered, retention)),
    ...(inputs.legalHoldSets ?? []).map((s) => legalHoldSetTree(s, inputs.offered, retention)),
  ];
  backupConfig.backupSets = inputs.locked.has("device.backupSets") ? { "@locked": TRUE, backupSet: sets } : sets;
  return { serviceBackupConfig: { ...service, backupConfig }, configDateMs: String(inputs.configDateMs) };
}

function parsePaths(pathset: unknown): { include: string[]; exclude: string[] } {
  let paths: unknown;
  if (Array.isArray(pathset)) paths = pathset[0];
  else if (typeof pathset === "object" && pathset !== null) paths = (pathset as Tree).paths ?? pathset;
  const items = typeof paths === "object" && paths !== null ? list((paths as Tree).path) : [];
  const include: string[] = [];
  const exclude: string[] = [];
  for (const it of items) {
    if (typeof it !== "object" || it === null) continue;
    const o = it as Tree;
    if (typeof o["@include"] === "string") include.push(o["@include"]);
    if (typeof o["@exclude"] === "string") exclude.push(o["@exclude"]);
  }
  return { include, exclude };
}

function parsePatterns(excludeUser: unknown): string[] {
  let holder: unknown;
  if (Array.isArray(excludeUser)) holder = excludeUser[0];
  else if (typeof excludeUser === "object" && excludeUser !== null) holder = (excludeUser as Tree).patternList ?? excludeUser;
  const items = typeof holder === "object" && holder !== null ? list((holder as Tree).pattern) : [];
  return items.flatMap((p) => (typeof p === "object" && p !== null && typeof (p as Tree)["@regex"] === "string" ? [(p as Tree)["@regex"] as string] : []));
}

function parseDestinations(v: unknown, offered: ReadonlySet<string>, key: string): SetDestination[] {
  let items: unknown[];
  if (Array.isArray(v)) items = v;
  // a list of one may arrive as the bare item (API.md §5.4); {"destination": …} is the legal-hold
  // or locked container; {"@cleared":"true"} none
  else if (typeof v === "object" && v !== null && "@id" in v) items = [v];
  else if (typeof v === "object" && v !== null) items = list((v as Tree).destination);
  else items = [];
  return items.map((d, i) => {
    const o = (typeof d === "object" && d !== null ? d : {}) as Tree;
    const guid = String(o["@id"] ?? "");
    if (!offered.has(guid)) throw new CairnError("BAD_REQUEST", `${key}.destinations[${i}]: destination ${guid} is not offered to this organization`);
    return { guid, locked: o["@locked"] === TRUE };
  });
}

/** Whether a set in the tree is a legal-hold set (py42 PUTs them back; they are never edited). */
function isLegalHoldSet(o: Tree): boolean {
  const d = o.destinations;
  return o["@legalHold"] === TRUE || (typeof d === "object" && d !== null && !Array.isArray(d) && "destination" in d);
}

/** The result of reading a tree: the new values and the locks it asks for. */
export interface ParsedDeviceTree {
  values: DeviceDefaults;
  locks: Record<string, boolean>;
}

/**
 * Reads a `deviceDefaults` (or device `settings`) tree on top of `current`: fields the tree
 * leaves out keep their current value. Throws BAD_REQUEST for a malformed tree or a destination
 * that is not offered.
 */
export function fromDeviceTree(tree: unknown, current: DeviceDefaults, offered: ReadonlySet<string>): ParsedDeviceTree {
  const root = (typeof tree === "object" && tree !== null ? tree : {}) as Tree;
  const service = root.serviceBackupConfig;
  if (typeof service !== "object" || service === null || Array.isArray(service))
    throw new CairnError("BAD_REQUEST", "deviceDefaults.serviceBackupConfig is required");
  const bc = ((service as Tree).backupConfig ?? {}) as Tree;
  const values = structuredClone(current);
  const locks: Record<string, boolean> = {};
  const fields = SETTINGS_SCHEMA.device.fields;
  for (const [field, where, name] of SCALARS) {
    const raw = where === "backupConfig" ? bc[name] : (service as Tree)[name];
    if (raw === undefined) continue;
    const { value, locked } = unwrap(raw);
    const spec = fields[field];
    (values as unknown as Tree)[field] = spec.parse(destringify(value, current[field]), `deviceDefaults.${name}`);
    locks[field] = locked;
  }
  const setsRaw = bc.backupSets;
  if (setsRaw !== undefined) {
    const container = !Array.isArray(setsRaw) && typeof setsRaw === "object" && setsRaw !== null ? (setsRaw as Tree) : undefined;
    locks.backupSets = container?.["@locked"] === TRUE;
    const items = container === undefined ? list(setsRaw) : list(container.backupSet);
    const sets: BackupSetDefaults[] = [];
    items.forEach((it, i) => {
      const o = (typeof it === "object" && it !== null ? it : {}) as Tree;
      if (isLegalHoldSet(o)) return;
      const key = `deviceDefaults.backupSets[${i}]`;
      const { include, exclude } = parsePaths((o.backupPaths as Tree | undefined)?.pathset);
      sets.push({
        id: String(o["@id"] ?? ""),
        name: String(unwrap(o.name).value ?? ""),
        include,
        exclude,
        excludePatterns: parsePatterns((o.backupPaths as Tree | undefined)?.excludeUser),
        destinations: parseDestinations(o.destinations, offered, key),
        locked: o["@locked"] === TRUE,
      });
    });
    values.backupSets = fields.backupSets.parse(sets, "deviceDefaults.backupSets");
  }
  return { values, locks };
}

/** The current defaults as the tree shows them (sets without a list show every offered destination). */
export function displayedDefaults(d: DeviceDefaults, offered: readonly string[]): DeviceDefaults {
  return {
    ...d,
    backupSets: d.backupSets.map((s) => ({
      ...s,
      destinations: s.destinations === null ? offered.map((guid) => ({ guid, locked: false })) : s.destinations.filter((x) => offered.includes(x.guid)),
    })),
  };
}
