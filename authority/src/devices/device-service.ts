/**
 * Devices as callers may see them (API.md §6): lookups by id and guid, the list with its filters,
 * counts and `inc` parts, and the computer objects. A device's org is its user's; every check
 * goes through `authorize()` with a device target, so an invisible device is NOT_FOUND (T24).
 */
import { withLocalSelection } from "../settings/local-selection.js";
import { CairnError } from "@cairn/protocol";
import { canSee, type Principal, scopeOf, type Target } from "../auth/access.js";
import type { CoreDeps } from "../core.js";
import type { ArchiveRecord, Device, DeviceFilter } from "../db/device-records.js";
import type { Org, User } from "../db/records.js";
import type { Page, SortOrder } from "../db/store.js";
import { legalHoldSetsOf } from "../legal-hold/legal-hold-sets.js";
import { destinationJson } from "../settings/api-settings.js";
import { toDeviceTree } from "../settings/device-tree.js";
import type { AgentRegistry } from "../ws/agent-registry.js";
import { type AlertThresholds, DEFAULT_THRESHOLDS, deviceThresholds } from "./alert-thresholds.js";
import { lockedKeysOf, resolveDevices } from "./device-settings-service.js";
import { backupUsageJson, computerJson } from "./device-view.js";

/** The authorization target of a device. */
export function deviceTarget(d: Pick<Device, "deviceId" | "userId" | "orgId">, org: Pick<Org, "path">): Extract<Target, { kind: "device" }> {
  return { kind: "device", deviceId: d.deviceId, userId: d.userId, orgId: d.orgId, path: org.path };
}

/** A visible device with its org and user. */
export interface DeviceInContext {
  device: Device;
  org: Org;
  user: User;
}

/** Which parts of the computer object to include. */
export interface DeviceIncludes {
  backupUsage?: boolean;
  settings?: boolean;
}

/** Filters of GET /api/Computer as the route parsed them. */
export interface DeviceListQuery {
  active?: boolean;
  blocked?: boolean;
  orgUid?: string;
  userUid?: string;
  targetComputerGuid?: string;
  q?: string;
  sort?: SortOrder;
}

/** The newest time that changes a device's configuration (the platform's `configDateMs`). */
export function configVersionOf(device: Device, user: User | undefined, chain: readonly (Org | undefined)[]): number {
  return Math.max(device.modifiedAt, user?.modifiedAt ?? 0, ...chain.map((o) => o?.modifiedAt ?? 0));
}

/** How long a listing's later pages reuse the counts its first page computed (ms). */
export const LIST_COUNTS_REUSE_MS = 10_000;

/** Device lookups and views. */
export class DeviceService {
  /** Counts of recent listings, by filter: pages after the first reuse their first page's. */
  private readonly recentCounts = new Map<string, { at: number; warning: number; critical: number }>();

  constructor(
    private readonly d: CoreDeps,
    private readonly agents: AgentRegistry,
    private readonly alerts: AlertThresholds,
  ) {}

  /** NOT_FOUND unless `p` may see the device. */
  async visible(p: Principal, device: Device | undefined, what = "device"): Promise<DeviceInContext> {
    const org = device === undefined ? undefined : await this.d.store.getOrg(device.orgId);
    const user = device === undefined ? undefined : await this.d.store.getUser(device.userId);
    if (device === undefined || org === undefined || user === undefined || !canSee(p, deviceTarget(device, org)))
      throw new CairnError("NOT_FOUND", `No such ${what}`);
    return { device, org, user };
  }

  /** By numeric id. */
  async byId(p: Principal, deviceId: number): Promise<DeviceInContext> {
    return this.visible(p, await this.d.store.getDevice(deviceId));
  }

  /** By guid. */
  async byGuid(p: Principal, guid: string): Promise<DeviceInContext> {
    return this.visible(p, await this.d.store.getDeviceByGuid(guid));
  }

  /** The list filter for `p` and a query (ORG_NOT_FOUND "Unable to find org" for an org it cannot see). */
  async filterFor(p: Principal, q: DeviceListQuery): Promise<DeviceFilter | null> {
    const scope = scopeOf(p, "device.read");
    const f: DeviceFilter = scope.kind === "none" ? { scope: { kind: "all" }, userId: p.userId ?? -1 } : { scope };
    if (q.active !== undefined) f.active = q.active;
    if (q.blocked !== undefined) f.blocked = q.blocked;
    if (q.q !== undefined) f.q = q.q;
    if (q.sort !== undefined) f.sort = q.sort;
    if (q.orgUid !== undefined) {
      const org = await this.d.store.getOrgByUid(q.orgUid);
      if (org === undefined || !canSee(p, { kind: "org", orgId: org.orgId, path: org.path })) throw new CairnError("ORG_NOT_FOUND", "Unable to find org");
      f.orgId = org.orgId;
    }
    if (q.userUid !== undefined) {
      const user = await this.d.store.getUserByUid(q.userUid);
      const org = user === undefined ? undefined : await this.d.store.getOrg(user.orgId);
      if (user === undefined || org === undefined || !canSee(p, { kind: "user", userId: user.userId, orgId: user.orgId, path: org.path }))
        throw new CairnError("NOT_FOUND", "No such user");
      if (f.userId !== undefined && f.userId !== user.userId) return null;
      f.userId = user.userId;
    }
    if (q.targetComputerGuid !== undefined) {
      const dest = await this.d.store.getDestinationByGuid(q.targetComputerGuid);
      if (dest === undefined) return null;
      f.destinationId = dest.destinationId;
    }
    return f;
  }

  /** GET /api/Computer: a page of computer objects, the total, and (incCounts) warning and critical counts. */
  async list(
    p: Principal,
    q: DeviceListQuery,
    page: Page,
    inc: DeviceIncludes & { counts?: boolean },
  ): Promise<{ total: number; computers: Record<string, unknown>[]; warningCount?: number; criticalCount?: number }> {
    const filter = await this.filterFor(p, q);
    if (filter === null) return { total: 0, computers: [], ...(inc.counts ? { warningCount: 0, criticalCount: 0 } : {}) };
    const r = await this.d.store.listDevices(filter, page);
    const computers = await this.computerObjects(r.items, inc);
    if (!inc.counts) return { total: r.total, computers };
    const c = await this.countsFor(filter, page.offset > 0);
    return { total: r.total, computers, warningCount: c.warning, criticalCount: c.critical };
  }

  /**
   * Warning and critical counts of a list filter. A listing read page by page (py42) reports
   * its first page's counts on the pages that follow within {@link LIST_COUNTS_REUSE_MS}: one
   * consistent answer per listing, and no recount of 100,000 devices per page.
   */
  private async countsFor(filter: DeviceFilter, laterPage: boolean): Promise<{ warning: number; critical: number }> {
    const now = this.d.clock.now();
    const key = JSON.stringify(filter);
    const hit = this.recentCounts.get(key);
    if (laterPage && hit !== undefined && now - hit.at >= 0 && now - hit.at < LIST_COUNTS_REUSE_MS) return hit;
    const c = await this.alerts.counts(filter, now);
    if (this.recentCounts.size >= 256) this.recentCounts.delete(this.recentCounts.keys().next().value as string);
    this.recentCounts.set(key, { at: now, ...c });
    return c;
  }

  /** Computer objects of `devices`, with the requested parts (batch loads). */
  async computerObjects(devices: readonly Device[], inc: DeviceIncludes): Promise<Record<string, unknown>[]> {
    if (devices.length === 0) return [];
    const now = this.d.clock.now();
    const users = new Map((await this.d.store.usersByIds([...new Set(devices.map((d) => d.userId))])).map((u) => [u.userId, u]));
    const orgs = new Map((await this.d.store.getOrgs([...new Set(devices.map((d) => d.orgId))])).map((o) => [o.orgId, o]));
    const thresholds = await this.alerts.ofOrgs([...orgs.values()]);
    const archives = new Map<number, ArchiveRecord[]>();
    if (inc.backupUsage) {
      for (const a of await this.d.store.archivesOfDevices(devices.map((d) => d.deviceId))) {
        const list = archives.get(a.deviceId) ?? [];
        list.push(a);
        archives.set(a.deviceId, list);
      }
    }
    const settingsParts = inc.settings ? await this.settingsParts(devices, orgs, users) : undefined;
    return devices.map((d) => {
      const t = deviceThresholds(thresholds.get(d.orgId) ?? DEFAULT_THRESHOLDS, d);
      const obj = computerJson(d, users.get(d.userId), orgs.get(d.orgId), t, now);
      if (inc.backupUsage) {
        const activity = this.agents.activityOf(d.deviceId);
        obj.backupUsage = (archives.get(d.deviceId) ?? []).map((a) => backupUsageJson(a, d, t, now, activity));
      }
      if (settingsParts) Object.assign(obj, settingsParts.get(d.deviceId));
      return obj;
    });
  }

  /** One computer object. */
  async computerObject(device: Device, inc: DeviceIncludes): Promise<Record<string, unknown>> {
    return (await this.computerObjects([device], inc))[0] as Record<string, unknown>;
  }

  /** `settings`, `availableDestinations` and `orgSettings` of devices (incSettings). */
  private async settingsParts(devices: readonly Device[], orgs: Map<number, Org>, users: Map<number, User>): Promise<Map<number, Record<string, unknown>>> {
    const items = devices.flatMap((device) => {
      const org = orgs.get(device.orgId);
      return org === undefined ? [] : [{ device, org }];
    });
    const resolved = await resolveDevices(this.d.store, items);
    const dests = await this.d.store.listDestinations();
    const chainOrgs = new Map(
      (await this.d.store.getOrgs([...new Set(items.flatMap((i) => i.org.path.split("/").filter(Boolean).map(Number)))])).map((o) => [o.orgId, o]),
    );
    // custodians' devices show their legal-hold sets too (API.md §5.4, §11)
    const onHold = await this.d.store.usersOnActiveHold([...new Set(items.map((i) => i.device.userId))]);
    const out = new Map<number, Record<string, unknown>>();
    for (const { device, org } of items) {
      const r = resolved.get(device.deviceId);
      if (r === undefined) continue;
      const offered = r.values.destinations.offers.map((o) => o.destinationGuid);
      const chain = org.path
        .split("/")
        .filter(Boolean)
        .map((id) => chainOrgs.get(Number(id)));
      // what the device's user selected on the device shows in its default set (API.md §5.4)
      const tree = toDeviceTree(withLocalSelection(r.values.device, device.localSelection ?? null), {
        locked: lockedKeysOf(r),
        offered,
        configDateMs: configVersionOf(device, users.get(device.userId), chain),
        legalHoldSets: onHold.has(device.userId) ? await legalHoldSetsOf(this.d, device) : [],
      });
      out.set(device.deviceId, {
        settings: { ...tree, javaMemoryHeapMax: "1024m" },
        availableDestinations: dests.filter((x) => offered.includes(x.destinationGuid)).map(destinationJson),
        orgSettings: { securityKeyLocked: r.lockedBy["security.keyPolicy"] !== undefined || r.ownLocks.includes("security.keyPolicy") },
      });
    }
    return out;
  }
}
