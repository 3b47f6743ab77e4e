/**
 * Effective org settings → the protocol's `DeviceSettings`, what the agent applies (sent by the
 * devices part in `get-config`). Pure.
 */
import type { BackupSet, DeviceSettings } from "@cairn/protocol";
import type { DeviceDefaults } from "./device-defaults.js";
import type { EffectiveSettings } from "./schema.js";

/** A destination as one device sees it. */
export interface DeviceDestination {
  destinationGuid: string;
  /** Offered with auto-start (or the user opted in). */
  active: boolean;
}

/** Extra inputs for one device. */
export interface DeviceSettingsInputs {
  /** Destinations offered to the device's org, with whether the device backs up to each. */
  destinations: readonly DeviceDestination[];
  /** Keys locked for the device (`device.<field>`): an org lock, or a device-level lock. */
  lockedKeys: ReadonlySet<string>;
  /** Hidden legal-hold sets to append (legal hold part). */
  legalHoldSets?: readonly BackupSet[];
}

function setDestinations(set: DeviceDefaults["backupSets"][number], inputs: DeviceSettingsInputs): string[] {
  const offered = new Set(inputs.destinations.map((d) => d.destinationGuid));
  if (set.destinations === null) return inputs.destinations.filter((d) => d.active).map((d) => d.destinationGuid);
  return set.destinations.map((d) => d.guid).filter((g) => offered.has(g));
}

/** Builds the settings an agent applies from an org's (or device's) effective settings. */
export function toDeviceSettings(values: EffectiveSettings, inputs: DeviceSettingsInputs): DeviceSettings {
  const d = values.device;
  const selectionLocked = inputs.lockedKeys.has("device.backupSets");
  const sets: BackupSet[] = d.backupSets.map((s) => ({
    id: s.id,
    name: s.name,
    include: [...s.include],
    exclude: [...s.exclude],
    // The General tab's file exclusions apply to every set, after the set's own.
    excludePatterns: [...new Set([...s.excludePatterns, ...d.excludePatterns])],
    destinations: setDestinations(s, inputs),
    locked: s.locked || selectionLocked,
    legalHold: false,
  }));
  return {
    backupSets: [...sets, ...(inputs.legalHoldSets ?? [])],
    frequencyMs: d.frequencyMs,
    verifyScanIntervalMs: d.verifyScanIntervalMs,
    retention: structuredClone(d.retention),
    watch: d.watch,
    cpuAwayPercent: d.cpuAwayPercent,
    cpuPresentPercent: d.cpuPresentPercent,
    wanBytesPerSec: d.wanBytesPerSec,
    lanBytesPerSec: d.lanBytesPerSec,
    wanCompression: d.wanCompression,
    lanCompression: d.lanCompression,
    excludedInterfaces: [...d.excludedInterfaces],
    excludedWifi: [...d.excludedWifi],
    proxyUrl: d.proxyUrl,
    runWindow: d.runWindow === null ? null : { ...d.runWindow },
    visibility: values.security.clientVisibility,
    keyPolicy: values.security.keyPolicy,
    minutesUntilWarning: d.minutesUntilWarning,
    minutesUntilSevere: d.minutesUntilSevere,
    selectionLocked,
  };
}
