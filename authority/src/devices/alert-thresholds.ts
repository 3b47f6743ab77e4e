/**
 * Alert thresholds of every org and device, fast enough for the warning and critical counts of
 * a 100,000-device list on every page. Only orgs that override the device group or lock a
 * threshold ("special" orgs) can differ from the top level; their layers are loaded once and
 * cached (dropped on `settings-changed`, and after five minutes for orgs created since). An org's
 * thresholds are its chain walked top-down with the resolver's override-and-lock rule for these
 * two keys (a test checks it against `resolveSettings`); counts run three indexed queries
 * whatever the number of distinct thresholds, and devices with their own overrides are counted
 * one by one.
 */
import { MINUTE_MS } from "@cairn/protocol";
import type { Device, DeviceFilter } from "../db/device-records.js";
import type { OrgSettingsLayer } from "../db/records.js";
import type { StoreReader } from "../db/store.js";
import type { AuthorityEvents } from "../events.js";
import { ancestorIds } from "../orgs/org-tree.js";
import { SETTINGS_SCHEMA } from "../settings/schema.js";
import { alertLevel, type Thresholds } from "./alert-state.js";

const WARN = "device.minutesUntilWarning";
const SEVERE = "device.minutesUntilSevere";
const CACHE_MS = 5 * MINUTE_MS;

/** An org's thresholds and whether they are locked for its devices. */
export interface OrgThresholds extends Thresholds {
  warnLocked: boolean;
  severeLocked: boolean;
}

/** The default thresholds (the schema's). */
export const DEFAULT_THRESHOLDS: OrgThresholds = {
  warnMinutes: SETTINGS_SCHEMA.device.fields.minutesUntilWarning.default,
  severeMinutes: SETTINGS_SCHEMA.device.fields.minutesUntilSevere.default,
  warnLocked: false,
  severeLocked: false,
};

/** Walks a chain of layers (top level first) for the two thresholds. Pure. */
export function thresholdsOfChain(
  chain: readonly ({ groups: Partial<Record<string, Record<string, unknown>>>; locks: readonly string[] } | undefined)[],
): OrgThresholds {
  let warn = DEFAULT_THRESHOLDS.warnMinutes;
  let severe = DEFAULT_THRESHOLDS.severeMinutes;
  let warnLocked = false;
  let severeLocked = false;
  for (const layer of chain) {
    if (layer === undefined) continue;
    const g = layer.groups.device;
    if (g !== undefined) {
      if (!warnLocked && typeof g.minutesUntilWarning === "number") warn = g.minutesUntilWarning;
      if (!severeLocked && typeof g.minutesUntilSevere === "number") severe = g.minutesUntilSevere;
    }
    if (layer.locks.includes(WARN)) warnLocked = true;
    if (layer.locks.includes(SEVERE)) severeLocked = true;
  }
  return { warnMinutes: warn, severeMinutes: severe, warnLocked, severeLocked };
}

/** A device's thresholds: its org's, with its own overrides where the org does not lock them. */
export function deviceThresholds(org: OrgThresholds, device: Pick<Device, "overrides">): Thresholds {
  const o = device.overrides?.device;
  return {
    warnMinutes: !org.warnLocked && typeof o?.minutesUntilWarning === "number" ? o.minutesUntilWarning : org.warnMinutes,
    severeMinutes: !org.severeLocked && typeof o?.minutesUntilSevere === "number" ? o.minutesUntilSevere : org.severeMinutes,
  };
}

interface Loaded {
  at: number;
  layers: Map<number, OrgSettingsLayer>;
  /** Orgs whose thresholds differ from the top level's, with theirs (built on first use). */
  special: { top: Thresholds; orgs: [number, Thresholds][] } | null;
}

/** Thresholds of orgs and devices, and stale counts of device lists. */
export class AlertThresholds {
  private cache: Loaded | null = null;

  constructor(
    private readonly store: StoreReader,
    private readonly now: () => number,
    events: AuthorityEvents,
  ) {
    events.on("settings-changed", () => {
      this.cache = null;
    });
  }

  private async load(): Promise<Loaded> {
    const now = this.now();
    if (this.cache !== null && now - this.cache.at < CACHE_MS) return this.cache;
    const ids = await this.store.orgsWithDeviceSettings([WARN, SEVERE]);
    const layers = new Map((await this.store.getSettingsLayers(ids)).map((l) => [l.orgId, l]));
    this.cache = { at: now, layers, special: null };
    return this.cache;
  }

  /** The thresholds of an org (by its path). */
  async ofOrg(path: string): Promise<OrgThresholds> {
    const { layers } = await this.load();
    return thresholdsOfChain(ancestorIds(path).map((id) => layers.get(id)));
  }

  /** Thresholds of many orgs. */
  async ofOrgs(orgs: readonly { orgId: number; path: string }[]): Promise<Map<number, OrgThresholds>> {
    const { layers } = await this.load();
    return new Map(orgs.map((o) => [o.orgId, thresholdsOfChain(ancestorIds(o.path).map((id) => layers.get(id)))]));
  }

  private async special(): Promise<{ top: Thresholds; orgs: [number, Thresholds][] }> {
    const c = await this.load();
    if (c.special !== null) return c.special;
    const topOrg = await this.store.getTopLevelOrg();
    const top = topOrg === undefined ? DEFAULT_THRESHOLDS : thresholdsOfChain([c.layers.get(topOrg.orgId)]);
    const orgs: [number, Thresholds][] = [];
    const below = [...c.layers.keys()].filter((id) => id !== topOrg?.orgId);
    if (below.length > 0 && topOrg !== undefined) {
      const marks = new Set(below);
      for (const o of await this.store.listSubtree(topOrg.path)) {
        const chain = ancestorIds(o.path);
        if (!chain.some((id) => marks.has(id))) continue;
        const t = thresholdsOfChain(chain.map((id) => c.layers.get(id)));
        if (t.warnMinutes !== top.warnMinutes || t.severeMinutes !== top.severeMinutes) orgs.push([o.orgId, t]);
      }
    }
    c.special = { top, orgs };
    return c.special;
  }

  /** Warning and critical counts of the active devices a list filter matches. */
  async counts(filter: DeviceFilter, now: number): Promise<{ warning: number; critical: number }> {
    if (filter.active === false) return { warning: 0, critical: 0 };
    const f: DeviceFilter = { ...filter, active: true };
    const { top, orgs } = await this.special();
    const cut = (t: Thresholds) => [now - t.warnMinutes * MINUTE_MS, now - t.severeMinutes * MINUTE_MS] as const;
    const c = await this.store.staleDeviceCounts(f, { default: cut(top), byOrg: orgs.map(([id, t]) => [id, ...cut(t)] as const) });
    let warning = c.warning;
    let critical = c.critical;
    const own = await this.store.devicesWithOverrides(f);
    if (own.length > 0) {
      const orgs = await this.store.getOrgs([...new Set(own.map((d) => d.orgId))]);
      const t = await this.ofOrgs(orgs);
      for (const d of own) {
        const level = alertLevel(d, deviceThresholds(t.get(d.orgId) ?? DEFAULT_THRESHOLDS, d), now);
        if (level === 1) warning++;
        if (level === 2) critical++;
      }
    }
    return { warning, critical };
  }
}
