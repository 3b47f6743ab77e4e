/**
 * The platform API's view of orgs and their settings (API.md §4, §5): the org object with its
 * `inc` parts, the whole-object PUT with §5.5's rules, and the `/api/OrgSetting` packets. One
 * transaction per PUT; a failing PUT changes nothing (py42 sends it twice).
 */
import { CairnError } from "@cairn/protocol";
import { auditEntry } from "../audit/audit.js";
import { authorizeByRole, type Principal } from "../auth/access.js";
import type { CoreDeps } from "../core.js";
import type { DestinationSummary, Org } from "../db/records.js";
import { loadOrgFigures } from "../orgs/org-figures.js";
import type { OrgService } from "../orgs/org-service.js";
import { ancestorIds, validateOrgName } from "../orgs/org-tree.js";
import { countsJson, orgJson } from "../orgs/org-view.js";
import { changeFromSettingsJson, settingsJson } from "./api-settings.js";
import { displayedDefaults, fromDeviceTree, toDeviceTree } from "./device-tree.js";
import type { ResolvedSettings } from "./resolve.js";
import { editableGroups, type GroupChange, type PacketChange, type SettingsChange } from "./settings-service.js";
import { isDeepStrictEqual } from "node:util";

/** Which parts of the org object to include. */
export interface OrgIncludes {
  settings?: boolean;
  deviceDefaults?: boolean;
  inheritedOrgInfo?: boolean;
  counts?: boolean;
  /** Who asks: with settings, `settingsMeta.editable` says which groups they may change. */
  viewer?: Principal;
}

/** All parts (the PUT response). */
export const ALL_PARTS: OrgIncludes = { settings: true, deviceDefaults: true, inheritedOrgInfo: true, counts: true };

function lockedKeys(r: ResolvedSettings): Set<string> {
  return new Set([...Object.keys(r.lockedBy), ...r.ownLocks]);
}

/** Org objects and their settings as the platform API shows and takes them. */
export class OrgSettingsApi {
  constructor(
    private readonly d: CoreDeps,
    private readonly orgs: OrgService,
  ) {}

  /** Org objects for a list of orgs, with the requested parts (batch loads). */
  async orgObjects(orgs: readonly Org[], inc: OrgIncludes): Promise<Record<string, unknown>[]> {
    const parentIds = [...new Set(orgs.map((o) => o.parentId).filter((x): x is number => x !== null))];
    const chainIds = [...new Set(orgs.flatMap((o) => ancestorIds(o.path)))];
    const related = new Map((await this.d.store.getOrgs([...new Set([...parentIds, ...chainIds])])).map((o) => [o.orgId, o]));
    const figures = inc.counts ? await loadOrgFigures(this.d, orgs) : undefined;
    const needSettings = inc.settings || inc.deviceDefaults || inc.inheritedOrgInfo;
    const resolved = needSettings ? await this.d.settings.resolveMany(orgs) : undefined;
    const dests = needSettings ? await this.d.store.listDestinations() : [];
    const out: Record<string, unknown>[] = [];
    for (const org of orgs) {
      const chain = ancestorIds(org.path).map((id) => related.get(id));
      const inheritedBlock = chain.slice(0, -1).some((o) => o?.blocked === true);
      const obj: Record<string, unknown> = orgJson(org, org.parentId === null ? undefined : related.get(org.parentId), inheritedBlock);
      // a member who sees the org only as their own (no role over it, GET /api/Org/my) gets its
      // name and place: not the registration key that enrolls devices into it, nor its settings
      const memberOnly = inc.viewer !== undefined && !authorizeByRole(inc.viewer, "org.read", { kind: "org", orgId: org.orgId, path: org.path });
      if (memberOnly) obj.registrationKey = null;
      if (figures && !memberOnly) Object.assign(obj, countsJson(figures.counts.get(org.orgId), figures.figures.get(org.orgId)));
      const r = resolved?.get(org.orgId);
      if (r !== undefined && !memberOnly) await this.addSettingsParts(obj, org, r, dests, inc, related);
      out.push(obj);
    }
    return out;
  }

  private async addSettingsParts(
    obj: Record<string, unknown>,
    org: Org,
    r: ResolvedSettings,
    dests: DestinationSummary[],
    inc: OrgIncludes,
    related: Map<number, Org>,
  ): Promise<void> {
    if (inc.settings || inc.inheritedOrgInfo) {
      obj.settings = settingsJson(r, dests);
      obj.settingsSummary = obj.settings;
      const parent = await this.d.settings.resolveParent(org);
      obj.settingsInherited = settingsJson(parent, dests);
      const ref = (id: number) => ({ orgId: id, orgName: related.get(id)?.name ?? null });
      obj.settingsMeta = {
        groupSource: Object.fromEntries(Object.entries(r.groupSource).map(([g, id]) => [g, ref(id)])),
        // Where each group would come from if this org inherited it (null at the top: the
        // system-wide defaults), so an org admin who cannot read the orgs above still sees it.
        parentSource: Object.fromEntries(Object.entries(parent.groupSource).map(([g, id]) => [g, org.parentId === null ? null : ref(id)])),
        inherits: r.inherits,
        lockedBy: Object.fromEntries(Object.entries(r.lockedBy).map(([k, id]) => [k, ref(id)])),
        ownLocks: r.ownLocks,
        ...(inc.viewer ? { editable: editableGroups(inc.viewer, org) } : {}),
      };
    }
    if (inc.inheritedOrgInfo) {
      const byDest = related.get(r.groupSource.destinations);
      const byDevice = related.get(r.groupSource.device);
      obj.orgInheritDto = {
        orgId: org.orgId,
        orgUid: org.orgUid,
        orgIdProvidingDestinations: byDest?.orgId ?? null,
        orgUidProvidingDestinations: byDest?.orgUid ?? null,
        orgNameProvidingDestinations: byDest?.name ?? null,
        orgIdProvidingDeviceDefaults: byDevice?.orgId ?? null,
        orgUidProvidingDeviceDefaults: byDevice?.orgUid ?? null,
        orgNameProvidingDeviceDefaults: byDevice?.name ?? null,
      };
    }
    if (inc.deviceDefaults) {
      const chainModified = ancestorIds(org.path).map((id) => related.get(id)?.modifiedAt ?? 0);
      obj.deviceDefaults = toDeviceTree(r.values.device, {
        locked: lockedKeys(r),
        offered: r.values.destinations.offers.map((o) => o.destinationGuid),
        configDateMs: Math.max(org.modifiedAt, ...chainModified),
      });
    }
  }

  /**
   * An org whose settings `p` may read: through a role over it (FORBIDDEN for a member who sees
   * it only as its own org), NOT_FOUND when invisible.
   */
  private async withRole(p: Principal, orgId: number): Promise<Org> {
    const org = await this.orgs.byId(p, orgId);
    if (!authorizeByRole(p, "org.read", { kind: "org", orgId: org.orgId, path: org.path }))
      throw new CairnError("FORBIDDEN", "Not allowed: org.read (an organization's settings are its administrators')", { details: { permission: "org.read" } });
    return org;
  }

  /** One org object. */
  async orgObject(org: Org, inc: OrgIncludes): Promise<Record<string, unknown>> {
    return (await this.orgObjects([org], inc))[0] as Record<string, unknown>;
  }

  /** PUT /api/Org/{id}: the whole org object back, with edits (API.md §5.5). */
  async putOrg(p: Principal, orgId: number, body: unknown): Promise<Record<string, unknown>> {
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw new CairnError("BAD_REQUEST", "the body is the org object");
    const b = body as Record<string, unknown>;
    const org = await this.orgs.byId(p, orgId);
    const patch: { name?: string; extRef?: string | null; notes?: string | null } = {};
    if (b.orgName !== undefined && b.orgName !== null) patch.name = validateOrgName(b.orgName);
    for (const [field, key] of [
      ["orgExtRef", "extRef"],
      ["notes", "notes"],
    ] as const) {
      if (!(field in b)) continue;
      const v = b[field];
      if (v !== null && (typeof v !== "string" || v.length > 4000)) throw new CairnError("BAD_REQUEST", `${field} must be a string or null`);
      patch[key] = v as string | null;
    }
    const current = await this.d.settings.resolveOrg(org);
    const dests = await this.d.store.listDestinations();
    const settingsBody = typeof b.settings === "object" && b.settings !== null ? (b.settings as Record<string, unknown>) : undefined;
    const fromSettings = settingsBody === undefined ? undefined : changeFromSettingsJson(settingsBody, current, dests);
    const change: { groups: NonNullable<SettingsChange["groups"]>; packets: PacketChange[]; locks: Record<string, boolean> } = {
      groups: fromSettings?.groups ?? {},
      packets: fromSettings?.packets ?? [],
      locks: fromSettings?.locks ?? {},
    };
    const dd = b.deviceDefaults;
    const device: { change?: GroupChange; locks: Record<string, boolean> } =
      typeof dd === "object" && dd !== null && (dd as Record<string, unknown>).serviceBackupConfig !== undefined
        ? this.deviceChange(dd, current)
        : { locks: {} };
    const deviceFlag = settingsBody?.isUsingDeviceDefaults;
    if (deviceFlag === true || deviceFlag === "true") {
      if (device.change !== undefined) change.groups.device = device.change;
      else if (!current.inherits.device) change.groups.device = { inherit: true };
    } else if (deviceFlag === false || deviceFlag === "false") {
      change.groups.device = device.change ?? { values: {} };
    } else if (device.change !== undefined) change.groups.device = device.change;
    Object.assign(change.locks, device.locks);
    if (typeof b.settingsLocks === "object" && b.settingsLocks !== null && !Array.isArray(b.settingsLocks)) {
      for (const [k, v] of Object.entries(b.settingsLocks as Record<string, unknown>)) {
        if (typeof v !== "boolean") throw new CairnError("BAD_REQUEST", `settingsLocks.${k} is true or false`);
        change.locks[k] = v;
      }
    }
    const now = this.d.clock.now();
    const changed = await this.d.store.transaction(async (tx) => {
      const fields = await this.orgs.updateFields(tx, p, org, patch, now);
      const keys = await this.d.settings.apply(tx, p, org, change, now);
      if (keys.length > 0 && fields.length === 0) await tx.updateOrg(org.orgId, {}, now);
      if (fields.length + keys.length > 0)
        await tx.appendAudit(auditEntry(p, now, "org.update", { type: "org", id: org.orgId, orgId: org.orgId }, { fields, settings: keys }));
      return keys;
    });
    if (changed.length > 0) this.d.events.emit("settings-changed", { orgIds: [org.orgId], keys: changed });
    return this.orgObject((await this.d.store.getOrg(org.orgId)) as Org, { ...ALL_PARTS, viewer: p });
  }

  private deviceChange(tree: unknown, current: ResolvedSettings): { change?: GroupChange; locks: Record<string, boolean> } {
    const offered = current.values.destinations.offers.map((o) => o.destinationGuid);
    const parsed = fromDeviceTree(tree, current.values.device, new Set(offered));
    const shown = displayedDefaults(current.values.device, offered);
    const locks: Record<string, boolean> = {};
    for (const [field, locked] of Object.entries(parsed.locks)) {
      const key = `device.${field}`;
      if (current.lockedBy[key] === undefined && locked !== current.ownLocks.includes(key)) locks[key] = locked;
    }
    if (isDeepStrictEqual(parsed.values, shown)) return { locks };
    return { change: { values: parsed.values as unknown as Record<string, unknown> }, locks };
  }

  /** GET /api/OrgSetting/{id}: every packet with its value, supplier and lock. */
  async packets(p: Principal, orgId: number): Promise<Record<string, unknown>> {
    const org = await this.withRole(p, orgId);
    return this.packetsOf(await this.d.settings.resolveOrg(org));
  }

  private packetsOf(r: ResolvedSettings): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r.values.packets)) {
      const key = `packets.${k}`;
      out[k] = {
        scope: "ORG",
        value: String(v),
        locked: r.lockedBy[key] !== undefined,
        lockedForChildren: r.ownLocks.includes(key),
        id: r.source[key] ?? null,
      };
    }
    return out;
  }

  /** PUT /api/OrgSetting/{id} `{"packets":[{key, value, locked}]}`: all or none. */
  async putPackets(p: Principal, orgId: number, body: unknown): Promise<Record<string, unknown>> {
    const org = await this.orgs.byId(p, orgId);
    const list = (body as { packets?: unknown } | null)?.packets;
    if (!Array.isArray(list)) throw new CairnError("BAD_REQUEST", 'the body is {"packets":[…]}');
    const packets: PacketChange[] = list.map((x, i) => {
      const o = (typeof x === "object" && x !== null ? x : {}) as Record<string, unknown>;
      if (typeof o.key !== "string" || !/^[A-Za-z0-9_.-]{1,200}$/.test(o.key)) throw new CairnError("BAD_REQUEST", `packets[${i}].key is missing or malformed`);
      if (o.value === undefined || (typeof o.value === "object" && o.value !== null))
        throw new CairnError("BAD_REQUEST", `packets[${i}].value must be a string`);
      const pc: PacketChange = { key: `packets.${o.key}`, value: o.value === null ? undefined : String(o.value) };
      if (o.locked !== undefined && o.locked !== null) pc.locked = o.locked === true || o.locked === "true";
      return pc;
    });
    const now = this.d.clock.now();
    const changed = await this.d.store.transaction(async (tx) => {
      const keys = await this.d.settings.apply(tx, p, org, { packets }, now);
      if (keys.length > 0) {
        await tx.updateOrg(org.orgId, {}, now);
        await tx.appendAudit(auditEntry(p, now, "org.settings.packets", { type: "org", id: org.orgId, orgId: org.orgId }, { settings: keys }));
      }
      return keys;
    });
    if (changed.length > 0) this.d.events.emit("settings-changed", { orgIds: [org.orgId], keys: changed });
    return this.packetsOf(await this.d.settings.resolveOrg(org));
  }

  /** Cairn's own settings view: effective values, sources and locks (GET /api/v1/orgs/{id}/settings). */
  async effective(p: Principal, orgId: number): Promise<Record<string, unknown>> {
    const org = await this.withRole(p, orgId);
    const r = await this.d.settings.resolveOrg(org);
    return {
      orgId: org.orgId,
      values: r.values,
      source: r.source,
      lockedBy: r.lockedBy,
      ownLocks: r.ownLocks,
      inherits: r.inherits,
      groupSource: r.groupSource,
      capped: r.capped,
    };
  }

  /** Cairn's own settings change (PUT /api/v1/orgs/{id}/settings): groups, packets, locks. */
  async change(p: Principal, orgId: number, change: SettingsChange): Promise<Record<string, unknown>> {
    const org = await this.orgs.byId(p, orgId);
    const now = this.d.clock.now();
    const changed = await this.d.store.transaction(async (tx) => {
      const keys = await this.d.settings.apply(tx, p, org, change, now);
      if (keys.length > 0) {
        await tx.updateOrg(org.orgId, {}, now);
        await tx.appendAudit(auditEntry(p, now, "org.settings.update", { type: "org", id: org.orgId, orgId: org.orgId }, { settings: keys }));
      }
      return keys;
    });
    if (changed.length > 0) this.d.events.emit("settings-changed", { orgIds: [org.orgId], keys: changed });
    return this.effective(p, orgId);
  }
}
