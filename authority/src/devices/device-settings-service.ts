/**
 * A device's effective settings: its org's chain of layers, plus the device's own overrides as
 * a last layer (PUT /api/Computer). Locks held by an org win over the device's values, as they
 * do over a child org's (the resolver's rule), and the device's own locks bind its agent's user.
 */
import { ancestorIds } from "../orgs/org-tree.js";
import type { Device } from "../db/device-records.js";
import type { Org } from "../db/records.js";
import type { StoreReader } from "../db/store.js";
import { type ResolvedSettings, resolveSettings, type SettingsLayer } from "../settings/resolve.js";

/** The id the resolver reports for values a device supplies itself. */
export const DEVICE_LAYER_ID = 0;

/** Keys locked for a device: by an ancestor org, by its own org, or on the device itself. */
export function lockedKeysOf(r: ResolvedSettings): Set<string> {
  return new Set([...Object.keys(r.lockedBy), ...r.ownLocks]);
}

/** Appends the device layer to an org chain. */
export function withDeviceLayer(chain: SettingsLayer[], device: Pick<Device, "overrides">): SettingsLayer[] {
  if (device.overrides === null) return chain;
  const orgLevel = resolveSettings(chain);
  // an org's own locks bind the device like a child: make them the locks of a layer above it
  return [
    ...chain,
    {
      id: DEVICE_LAYER_ID,
      groups: { device: { ...(orgLevel.values.device as unknown as Record<string, unknown>), ...device.overrides.device } },
      packets: {},
      locks: device.overrides.locks,
    },
  ];
}

/** Resolves devices' settings with one load of their orgs' layers. */
export async function resolveDevices(
  reader: StoreReader,
  items: readonly { device: Pick<Device, "deviceId" | "overrides">; org: Pick<Org, "orgId" | "path"> }[],
): Promise<Map<number, ResolvedSettings>> {
  const ids = [...new Set(items.flatMap((i) => ancestorIds(i.org.path)))];
  const layers = new Map((await reader.getSettingsLayers(ids)).map((l) => [l.orgId, l]));
  const byOrg = new Map<number, ResolvedSettings>();
  const out = new Map<number, ResolvedSettings>();
  for (const { device, org } of items) {
    const chain: SettingsLayer[] = ancestorIds(org.path).map((id) => {
      const l = layers.get(id);
      return { id, groups: l?.groups ?? {}, packets: l?.packets ?? {}, locks: l?.locks ?? [] };
    });
    if (device.overrides === null) {
      let r = byOrg.get(org.orgId);
      if (r === undefined) {
        r = resolveSettings(chain);
        byOrg.set(org.orgId, r);
      }
      out.set(device.deviceId, r);
    } else {
      // the org's own locks must hold for the device too: they sit in the org's layer, which is
      // no longer the last one, so the resolver applies them
      out.set(device.deviceId, resolveSettings(withDeviceLayer(chain, device)));
    }
  }
  return out;
}

/** One device's effective settings. */
export async function resolveDevice(
  reader: StoreReader,
  device: Pick<Device, "deviceId" | "overrides">,
  org: Pick<Org, "orgId" | "path">,
): Promise<ResolvedSettings> {
  return (await resolveDevices(reader, [{ device, org }])).get(device.deviceId) as ResolvedSettings;
}
