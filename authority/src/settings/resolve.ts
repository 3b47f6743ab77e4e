/**
 * The settings resolver: a pure function from an org chain (top level first, the org itself
 * last) to the effective value of every setting, which org supplied it, and which ancestor's lock
 * holds it (kopia's MergePolicies with its Definition, adapted to locks). No I/O: the caller
 * loads the layers (`SettingsService`), tests feed tables.
 *
 * Per key, walking down the chain:
 * 1. start from the schema default, attributed to the top-level org;
 * 2. a layer that sets the key (a group override, or a per-key packet) applies it by the field's
 *    rule, unless a layer above locked the key: `override` replaces, `raiseOnly` keeps the
 *    stronger, `capByParent` keeps the child's value only when it does not exceed the parent's
 *    (−1 = unlimited);
 * 3. a layer's locks then hold the value it ends with for every layer below it.
 */
import { type EffectiveSettings, type FieldSpec, GROUP_NAMES, type GroupName, SETTINGS_SCHEMA, settingKey } from "./schema.js";

/** What one org (or a device, for device-level overrides) stores. */
export interface SettingsLayer {
  /** The org id (or any id the caller wants reported as the source). */
  id: number;
  /** Groups this layer overrides as a whole, with its values (stored values are pre-validated). */
  groups: Partial<Record<string, Record<string, unknown>>>;
  /** Per-key values by `group.field` key (general settings and packets). */
  packets: Record<string, unknown>;
  /** Keys this layer locks for the layers below it. */
  locks: readonly string[];
}

/** The resolver's answer for the last layer of the chain. */
export interface ResolvedSettings {
  values: EffectiveSettings;
  /** For each key (`group.field`): the layer id that supplied the effective value. */
  source: Record<string, number>;
  /** Keys locked by an ancestor (not by this layer), with the locking layer's id. */
  lockedBy: Record<string, number>;
  /** Keys this layer itself locks for its descendants. */
  ownLocks: string[];
  /** Keys whose own value was capped by the parent's (capByParent). */
  capped: string[];
  /** Per group: the nearest layer at or above that overrides it (the top level when none does). */
  groupSource: Record<GroupName, number>;
  /** Per group: whether this layer inherits it (does not override it). */
  inherits: Record<GroupName, boolean>;
}

const PACKETS_PREFIX = "packets.";

function rank(spec: FieldSpec<unknown>, v: unknown): number {
  return spec.order?.indexOf(v) ?? -1;
}

/** capByParent: does `child` fit under `parent` (−1 = unlimited)? */
function fitsUnder(child: unknown, parent: unknown): boolean {
  if (typeof child !== "number" || typeof parent !== "number") return false;
  if (parent < 0) return true;
  return child >= 0 && child <= parent;
}

function layerValue(layer: SettingsLayer, group: GroupName, field: string, key: string): unknown {
  if (SETTINGS_SCHEMA[group].inheritance === "group") return layer.groups[group]?.[field];
  return layer.packets[key];
}

/**
 * Resolves the effective settings of the last layer of `chain` (top level first). An empty
 * chain resolves to the defaults, attributed to id 0.
 */
export function resolveSettings(chain: readonly SettingsLayer[]): ResolvedSettings {
  const rootId = chain[0]?.id ?? 0;
  const last = chain.length - 1;
  const values: Record<string, Record<string, unknown>> = {};
  const source: Record<string, number> = {};
  const lockedBy: Record<string, number> = {};
  const capped: string[] = [];
  const groupSource = {} as Record<GroupName, number>;
  const inherits = {} as Record<GroupName, boolean>;

  const resolveKey = (group: GroupName, field: string, spec: FieldSpec<unknown> | undefined): void => {
    const key = settingKey(group, field);
    let value: unknown = spec?.default;
    let src = rootId;
    let locker: number | undefined;
    let wasCapped = false;
    for (let i = 0; i <= last; i++) {
      const layer = chain[i] as SettingsLayer;
      const own = layerValue(layer, group, field, key);
      // a lock holds a value for the descendants, but a raise-only value (the key policy) is
      // never lowered by one: a stronger policy a descendant already has stays (seed 001: never downgrade)
      if (own !== undefined && (locker === undefined || spec?.rule === "raiseOnly")) {
        switch (spec?.rule ?? "override") {
          case "override":
            value = own;
            src = layer.id;
            break;
          case "raiseOnly":
            if (spec !== undefined && rank(spec, own) > rank(spec, value)) {
              value = own;
              src = layer.id;
            }
            break;
          case "capByParent":
            if (i === 0 || fitsUnder(own, value)) {
              value = own;
              src = layer.id;
            } else if (i === last) {
              wasCapped = true;
            }
            break;
        }
      }
      if (i < last && locker === undefined && layer.locks.includes(key)) locker = layer.id;
    }
    if (value === undefined) return;
    // results are the caller's to change: never share the schema's defaults or a layer's objects
    (values[group] as Record<string, unknown>)[field] = typeof value === "object" && value !== null ? structuredClone(value) : value;
    source[key] = src;
    if (locker !== undefined) lockedBy[key] = locker;
    if (wasCapped) capped.push(key);
  };

  for (const group of GROUP_NAMES) {
    const spec = SETTINGS_SCHEMA[group];
    values[group] = {};
    for (const [field, fs] of Object.entries(spec.fields as Record<string, FieldSpec<unknown>>)) resolveKey(group, field, fs);
    if (spec.open) {
      const extra = new Set<string>();
      for (const layer of chain) {
        for (const k of Object.keys(layer.packets)) {
          if (k.startsWith(PACKETS_PREFIX) && !Object.hasOwn(spec.fields, k.slice(PACKETS_PREFIX.length))) extra.add(k.slice(PACKETS_PREFIX.length));
        }
      }
      for (const field of [...extra].sort()) resolveKey(group, field, undefined);
    }
    let provider = rootId;
    for (const layer of chain) if (layer.groups[group] !== undefined) provider = layer.id;
    groupSource[group] = provider;
    inherits[group] = spec.inheritance === "group" ? chain[last]?.groups[group] === undefined : true;
  }

  return {
    values: values as unknown as EffectiveSettings,
    source,
    lockedBy,
    ownLocks: [...(chain[last]?.locks ?? [])],
    capped,
    groupSource,
    inherits,
  };
}
