/**
 * `PUT /api/Computer/{id}` (API.md §6): the whole `incSettings=True` object back, edited. Round
 * trips `name`, `computerExtRef`, `notes` (null clears), the §5.5 alert fields and each set's
 * `pathset`, `excludeUser` and `destinations`; ignores the read-only parts (`backupUsage`,
 * `availableDestinations`, `orgSettings`, `configDateMs`). A value an org locks, or a destination
 * the device's org does not offer, is 400 and nothing changes; changing an identity field
 * (ids, owner, org, status) is 403 (T25). What differs from the org's effective defaults is kept
 * as the device's own layer; the agent is told (`config-changed`).
 */
import { isDeepStrictEqual } from "node:util";
import { CairnError } from "@cairn/protocol";
import { auditEntry } from "../audit/audit.js";
import { type Principal, requirePermission } from "../auth/access.js";
import type { CoreDeps } from "../core.js";
import type { DeviceOverrides, DevicePatch } from "../db/device-records.js";
import { ancestorIds } from "../orgs/org-tree.js";
import type { DeviceDefaults } from "../settings/device-defaults.js";
import { displayedDefaults, fromDeviceTree } from "../settings/device-tree.js";
import { withLocalSelection, withoutLocalSelection } from "../settings/local-selection.js";
import { resolveSettings } from "../settings/resolve.js";
import { SETTINGS_SCHEMA } from "../settings/schema.js";
import { resolveDevice } from "./device-settings-service.js";
import { type DeviceInContext, type DeviceService, deviceTarget } from "./device-service.js";
import { deviceStatus } from "./device-view.js";

const NAME_MAX = 200;

function identity(c: DeviceInContext): Record<string, unknown> {
  return {
    computerId: c.device.deviceId,
    guid: c.device.deviceGuid,
    userId: c.device.userId,
    userUid: c.user.userUid,
    orgId: c.device.orgId,
    orgUid: c.org.orgUid,
    active: c.device.active,
    blocked: c.device.blocked,
    status: deviceStatus(c.device),
  };
}

function sameId(a: unknown, b: unknown): boolean {
  return String(a) === String(b);
}

/** Applies a computer PUT; returns the device id. */
export async function putComputer(d: CoreDeps, devices: DeviceService, p: Principal, deviceId: number, body: unknown): Promise<number> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new CairnError("BAD_REQUEST", "the body is the computer object");
  const b = body as Record<string, unknown>;
  const c = await devices.byId(p, deviceId);
  requirePermission(p, "device.update", deviceTarget(c.device, c.org), "device");
  for (const [field, value] of Object.entries(identity(c))) {
    if (b[field] !== undefined && b[field] !== null && !sameId(b[field], value)) throw new CairnError("FORBIDDEN", `${field} cannot be changed here`);
  }
  const patch: DevicePatch = {};
  const fields: string[] = [];
  if (b.name !== undefined && b.name !== null) {
    if (typeof b.name !== "string" || b.name.trim().length < 1 || b.name.length > NAME_MAX)
      throw new CairnError("BAD_REQUEST", `name has 1 to ${NAME_MAX} characters`, { details: { field: "name" } });
    if (b.name !== c.device.name) {
      patch.name = b.name;
      fields.push("name");
    }
  }
  for (const [field, key, current] of [
    ["computerExtRef", "extRef", c.device.extRef],
    ["notes", "notes", c.device.notes],
  ] as const) {
    if (!(field in b)) continue;
    const v = b[field];
    if (v !== null && (typeof v !== "string" || v.length > 4000)) throw new CairnError("BAD_REQUEST", `${field} must be a string or null`);
    if (v !== current) {
      patch[key] = v as string | null;
      fields.push(field);
    }
  }
  const tree = b.settings;
  if (typeof tree === "object" && tree !== null && (tree as Record<string, unknown>).serviceBackupConfig !== undefined) {
    const overrides = await overridesFrom(d, c, tree);
    if (!isDeepStrictEqual(overrides, c.device.overrides)) {
      patch.overrides = overrides;
      fields.push("settings");
    }
  }
  if (fields.length === 0) return c.device.deviceId;
  const now = d.clock.now();
  await d.store.transaction(async (tx) => {
    await tx.updateDevice(c.device.deviceId, patch, now);
    await tx.appendAudit(auditEntry(p, now, "device.update", { type: "device", id: c.device.deviceId, orgId: c.device.orgId }, { fields }));
  });
  d.events.emit("devices-changed", { deviceIds: [c.device.deviceId] });
  return c.device.deviceId;
}

/** The device layer a settings tree asks for (SETTING_LOCKED, BAD_REQUEST). */
async function overridesFrom(d: CoreDeps, c: DeviceInContext, tree: unknown): Promise<DeviceOverrides | null> {
  const layers = await d.store.getSettingsLayers(ancestorIds(c.org.path));
  const orgLevel = resolveSettings(layers.map((l) => ({ id: l.orgId, groups: l.groups, packets: l.packets, locks: l.locks })));
  const current = await resolveDevice(d.store, c.device, c.org);
  const offered = current.values.destinations.offers.map((o) => o.destinationGuid);
  const fromTree = fromDeviceTree(tree, withLocalSelection(current.values.device, c.device.localSelection ?? null), new Set(offered));
  // the paths the device's own selection put in the default set (GET shows them there) stay the device's
  const parsed = { ...fromTree, values: withoutLocalSelection(fromTree.values, current.values.device, c.device.localSelection ?? null) };
  const orgLocked = new Set([...Object.keys(orgLevel.lockedBy), ...orgLevel.ownLocks]);
  const shownCurrent = displayedDefaults(current.values.device, offered) as unknown as Record<string, unknown>;
  const shownOrg = displayedDefaults(orgLevel.values.device, offered) as unknown as Record<string, unknown>;
  const values = parsed.values as unknown as Record<string, unknown>;
  const device: Record<string, unknown> = {};
  for (const field of Object.keys(SETTINGS_SCHEMA.device.fields) as (keyof DeviceDefaults)[]) {
    const key = `device.${field}`;
    if (!isDeepStrictEqual(values[field], shownCurrent[field]) && orgLocked.has(key))
      throw new CairnError("SETTING_LOCKED", `${key} is locked by the device's organization`, { details: { key } });
    if (!orgLocked.has(key) && !isDeepStrictEqual(values[field], shownOrg[field])) device[field] = values[field];
  }
  // the rules across the group's fields hold for a device as for its org (warning before critical)
  const problem = SETTINGS_SCHEMA.device.check?.(values);
  if (problem) throw new CairnError("BAD_REQUEST", `device.${problem.message}`, { details: { field: `device.${problem.field}` } });
  const locks = Object.entries(parsed.locks)
    .filter(([field, locked]) => locked && !orgLocked.has(`device.${field}`))
    .map(([field]) => `device.${field}`)
    .sort();
  return Object.keys(device).length === 0 && locks.length === 0 ? null : { device, locks };
}
