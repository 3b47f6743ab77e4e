/**
 * The hidden legal-hold backup set of a custodian's devices (API.md §11 "Who is on hold"): one
 * set per active matter holding the device's user, selecting what the matter's policy names
 * (its `include` / `exclude` paths), or, when the policy names nothing, everything the device's
 * own backup sets select and what its user selected on the device (`report-selection`), and going to every destination offered to the device. The agent keeps
 * such sets hidden from the user and never lets them be edited (`legalHold: true`).
 */
import type { BackupSet } from "@cairn/protocol";
import type { CoreDeps } from "../core.js";
import type { Device } from "../db/device-records.js";
import { resolveDevice } from "../devices/device-settings-service.js";

function paths(v: unknown): string[] | null {
  if (!Array.isArray(v)) return null;
  const out = v.filter((x): x is string => typeof x === "string" && x.startsWith("/") && x.length <= 4096).slice(0, 1000);
  return out;
}

/** The legal-hold sets of a device (none when its user is on no active hold). */
export async function legalHoldSetsOf(d: CoreDeps, device: Device): Promise<BackupSet[]> {
  const holds = await d.store.activeHoldsOf(device.userId);
  if (holds.length === 0) return [];
  const org = await d.store.getOrg(device.orgId);
  if (org === undefined) return [];
  const r = await resolveDevice(d.store, device, org);
  const own = r.values.device.backupSets;
  // what the device backs up: its sets, and what its user selected on the device itself
  const local = device.localSelection ?? { include: [], exclude: [], excludePatterns: [] };
  const ownInclude = [...new Set([...own.flatMap((s) => s.include), ...local.include])].slice(0, 1000);
  const ownExclude = [...new Set([...own.flatMap((s) => s.exclude), ...local.exclude])].slice(0, 1000);
  const destinations = r.values.destinations.offers.map((o) => o.destinationGuid).slice(0, 64);
  const out: BackupSet[] = [];
  for (const h of holds) {
    const policy = (await d.store.getLegalHoldPolicy(h.policyUid))?.policy ?? {};
    const include = paths(policy.include);
    out.push({
      id: `lh-${h.holdUid}`.slice(0, 32),
      name: `Legal hold: ${h.name}`.slice(0, 200),
      include: include !== null && include.length > 0 ? include : ownInclude,
      exclude: include !== null && include.length > 0 ? (paths(policy.exclude) ?? []) : ownExclude,
      excludePatterns: [],
      destinations,
      locked: true,
      legalHold: true,
    });
  }
  return out;
}
