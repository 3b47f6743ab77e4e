/**
 * The selection a device's user made on the device (`cairn agent select`, reported by its agent
 * with `report-selection`) in the device's settings (API.md §5.4): shown in the default set's
 * paths, so that what the device backs up is what its settings say; and taken out again from a
 * settings PUT (py42 sends the whole object back), so that the device's own choice never turns
 * into the organization's (the agent keeps applying it from its own copy, and `select remove`
 * keeps working).
 */
import type { DeviceLocalSelection } from "../db/device-records.js";
import type { BackupSetDefaults, DeviceDefaults } from "./device-defaults.js";

/** The set the device's own selection shows in: "1" (py42's default set), else the first. */
function defaultSetIndex(sets: readonly BackupSetDefaults[]): number {
  const i = sets.findIndex((s) => s.id === "1");
  return i >= 0 ? i : sets.length > 0 ? 0 : -1;
}

const union = (a: readonly string[], b: readonly string[]): string[] => [...new Set([...a, ...b])];

/** The defaults as the device's settings show them: the default set with the device's own paths added. */
export function withLocalSelection(d: DeviceDefaults, local: DeviceLocalSelection | null): DeviceDefaults {
  const i = defaultSetIndex(d.backupSets);
  if (local === null || i < 0) return d;
  const sets = d.backupSets.map((s, k) =>
    k === i
      ? {
          ...s,
          include: union(s.include, local.include),
          exclude: union(s.exclude, local.exclude),
          excludePatterns: union(s.excludePatterns, local.excludePatterns),
        }
      : s,
  );
  return { ...d, backupSets: sets };
}

/**
 * A PUT's defaults with the device's own paths taken out of the default set again: a path the
 * device's selection supplies, and that the set did not have before, is the device's, not the
 * set's.
 */
export function withoutLocalSelection(parsed: DeviceDefaults, before: DeviceDefaults, local: DeviceLocalSelection | null): DeviceDefaults {
  if (local === null) return parsed;
  const i = defaultSetIndex(parsed.backupSets);
  if (i < 0) return parsed;
  const set = parsed.backupSets[i] as BackupSetDefaults;
  const prev = before.backupSets.find((s) => s.id === set.id);
  const keep = (xs: readonly string[], mine: readonly string[], had: readonly string[] | undefined) =>
    xs.filter((x) => !mine.includes(x) || (had ?? []).includes(x));
  const sets = parsed.backupSets.map((s, k) =>
    k === i
      ? {
          ...s,
          include: keep(s.include, local.include, prev?.include),
          exclude: keep(s.exclude, local.exclude, prev?.exclude),
          excludePatterns: keep(s.excludePatterns, local.excludePatterns, prev?.excludePatterns),
        }
      : s,
  );
  return { ...parsed, backupSets: sets };
}
