/**
 * Reads and writes org settings: loads an org's chain of layers and resolves it, and applies a
 * change after checking every rule the resolver cannot (locks held by ancestors, raise-only,
 * cap by parent, who may change which group). Writes happen in the caller's transaction.
 */
import { isDeepStrictEqual } from "node:util";
import { CairnError } from "@cairn/protocol";
import { authorize, type Principal, requirePermission, type Target } from "../auth/access.js";
import type { Permission } from "../auth/roles.js";
import type { Org, OrgSettingsLayer } from "../db/records.js";
import type { StoreReader, StoreWriter } from "../db/store.js";
import { ancestorIds } from "../orgs/org-tree.js";
import { type ResolvedSettings, resolveSettings, type SettingsLayer } from "./resolve.js";
import { type FieldSpec, fieldSpec, type GroupName, openPacketValue, SETTINGS_SCHEMA, settingKey } from "./schema.js";
import { coldStoreUnoffered, releaseOffered } from "../cold-storage/cold-storage.js";

/** A change of one whole-group setting group. */
export type GroupChange =
  /** Inherit the group again: the org's override is dropped. */
  | { inherit: true }
  /** Override with these values (missing fields keep their current effective value). */
  | { values: Record<string, unknown> };

/** A change of one per-key setting (`general.x` or `packets.x`). */
export interface PacketChange {
  key: string;
  /** The new value; `undefined` drops this org's own value (inherit again). */
  value?: unknown;
  /** Lock (true) or unlock (false) the key for descendants; absent: unchanged. */
  locked?: boolean;
}

/** A settings change at one org. */
export interface SettingsChange {
  groups?: Partial<Record<GroupName, GroupChange>>;
  packets?: PacketChange[];
  /** This org's own locks to set (true) or clear (false), by `group.field` key. */
  locks?: Record<string, boolean>;
}

/** Store layers → resolver layers. */
function toLayers(layers: readonly OrgSettingsLayer[]): SettingsLayer[] {
  return layers.map((l) => ({ id: l.orgId, groups: l.groups, packets: l.packets, locks: l.locks }));
}

/** The permission a key needs (quota keys are checked against the parent org). */
export function permissionForKey(key: string): Permission {
  if (key.startsWith("quota.")) return "org.quota";
  if (key.startsWith("security.") || key === "packets.device_webRestore_enabled") return "org.security";
  return "org.settings";
}

/**
 * Whether `p` may change `key` at `org`. Quotas: "to change quota settings, you must have a role
 * with administrative rights to the organization's parent organization" (the top level's quotas
 * need an all-org role).
 */
export function keyPermitted(p: Principal, org: Pick<Org, "orgId" | "parentId" | "path">, key: string): boolean {
  const perm = permissionForKey(key);
  if (perm !== "org.quota") return authorize(p, perm, { kind: "org", orgId: org.orgId, path: org.path });
  const ids = ancestorIds(org.path);
  const parentTarget: Target = org.parentId === null ? { kind: "system" } : { kind: "org", orgId: org.parentId, path: `/${ids.slice(0, -1).join("/")}/` };
  return authorize(p, "org.quota", parentTarget);
}

/** Per group, whether `p` may change it at `org` (the console shows the others read only). */
export function editableGroups(p: Principal, org: Pick<Org, "orgId" | "parentId" | "path">): Record<GroupName, boolean> {
  return Object.fromEntries((Object.keys(SETTINGS_SCHEMA) as GroupName[]).map((g) => [g, keyPermitted(p, org, `${g}.`)])) as Record<GroupName, boolean>;
}

function rank(spec: FieldSpec<unknown>, v: unknown): number {
  return spec.order?.indexOf(v) ?? -1;
}

/** Loads, resolves and changes org settings. */
export class SettingsService {
  constructor(private readonly reader: StoreReader) {}

  /** The effective settings of `org` (read through `reader`, e.g. a transaction). */
  async resolveOrg(org: Pick<Org, "path">, reader: StoreReader = this.reader): Promise<ResolvedSettings> {
    return resolveSettings(toLayers(await reader.getSettingsLayers(ancestorIds(org.path))));
  }

  /** What `org` would inherit: its parent's effective settings (the defaults for the top level). */
  async resolveParent(org: Pick<Org, "path">, reader: StoreReader = this.reader): Promise<ResolvedSettings> {
    const ids = ancestorIds(org.path);
    return resolveSettings(toLayers(await reader.getSettingsLayers(ids.slice(0, -1))));
  }

  /** Effective settings of many orgs with one load of their ancestors' layers. */
  async resolveMany(orgs: readonly Pick<Org, "orgId" | "path">[], reader: StoreReader = this.reader): Promise<Map<number, ResolvedSettings>> {
    const ids = [...new Set(orgs.flatMap((o) => ancestorIds(o.path)))];
    const layers = new Map((await reader.getSettingsLayers(ids)).map((l) => [l.orgId, l]));
    return new Map(
      orgs.map((o) => [
        o.orgId,
        resolveSettings(toLayers(ancestorIds(o.path).map((id) => layers.get(id) ?? { orgId: id, groups: {}, packets: {}, locks: [] }))),
      ]),
    );
  }

  private checkKeyPermission(p: Principal, org: Org, key: string): void {
    if (keyPermitted(p, org, key)) return;
    if (permissionForKey(key) !== "org.quota") requirePermission(p, permissionForKey(key), { kind: "org", orgId: org.orgId, path: org.path }, "organization");
    throw new CairnError("FORBIDDEN", "Quotas change only by an administrator with rights on the parent organization");
  }

  /**
   * Validates and writes `change` at `org` inside `tx`, checking `p`'s rights for every key that
   * actually changes. Returns the changed keys (empty: nothing to write). Throws SETTING_LOCKED,
   * KEY_POLICY_DOWNGRADE, MAX_SEATS_EXCEEDS_PARENT, BAD_REQUEST or FORBIDDEN, before any write.
   */
  async apply(tx: StoreWriter, p: Principal, org: Org, change: SettingsChange, now: number): Promise<string[]> {
    const current = await this.resolveOrg(org, tx);
    const parent = await this.resolveParent(org, tx);
    const [own] = await tx.getSettingsLayers([org.orgId]);
    const writes: (() => Promise<void>)[] = [];
    const changed: string[] = [];
    const cur = current.values as unknown as Record<string, Record<string, unknown>>;
    const par = parent.values as unknown as Record<string, Record<string, unknown>>;

    for (const [g, ch] of Object.entries(change.groups ?? {}) as [GroupName, GroupChange][]) {
      const spec = SETTINGS_SCHEMA[g];
      if (spec.inheritance !== "group") throw new CairnError("BAD_REQUEST", `${g} is inherited key by key, not as a group`);
      const fields = Object.entries(spec.fields as Record<string, FieldSpec<unknown>>);
      if ("inherit" in ch) {
        if (current.inherits[g]) continue;
        for (const [f, fs] of fields) {
          if (fs.rule === "raiseOnly" && rank(fs, par[g]?.[f]) < rank(fs, cur[g]?.[f])) {
            throw new CairnError("KEY_POLICY_DOWNGRADE", "Inheriting would lower the encryption key policy; it can be raised, never lowered");
          }
          this.checkKeyPermission(p, org, settingKey(g, f));
        }
        writes.push(() => tx.putSettingsGroup(org.orgId, g, null, now));
        changed.push(g);
        continue;
      }
      for (const k of Object.keys(ch.values)) if (!Object.hasOwn(spec.fields, k)) throw new CairnError("BAD_REQUEST", `unknown setting ${g}.${k}`);
      const next: Record<string, unknown> = {};
      const changedKeys: string[] = [];
      for (const [f, fs] of fields) {
        const key = settingKey(g, f);
        const raw = ch.values[f];
        const v = raw === undefined ? cur[g]?.[f] : fs.parse(raw, key);
        const differs = !isDeepStrictEqual(v, cur[g]?.[f]);
        // a value shown cut down to the parent's (capByParent) and sent back unchanged is not the
        // org's new value: its own stays, and shows again once the parent's cap is lifted (§5.5)
        const ownValue = own?.groups[g]?.[f];
        next[f] = !differs && current.capped.includes(key) && !current.inherits[g] && ownValue !== undefined ? ownValue : v;
        if (differs && current.lockedBy[key] !== undefined)
          throw new CairnError("SETTING_LOCKED", `${key} is locked by an ancestor organization`, { details: { key } });
        if (fs.rule === "raiseOnly" && rank(fs, v) < rank(fs, cur[g]?.[f])) {
          throw new CairnError("KEY_POLICY_DOWNGRADE", "The encryption key policy can be raised, never lowered");
        }
        if (fs.rule === "capByParent" && org.parentId !== null && differs) {
          const cap = par[g]?.[f];
          if (typeof cap === "number" && cap >= 0 && (typeof v !== "number" || v < 0 || v > cap)) {
            throw new CairnError("MAX_SEATS_EXCEEDS_PARENT", `A child's ${f} cannot exceed its parent's (${cap})`, { details: { key, parent: cap } });
          }
        }
        if (differs || current.inherits[g]) changedKeys.push(key);
      }
      const problem = spec.check?.(next);
      if (problem) throw new CairnError("BAD_REQUEST", `${g}.${problem.message}`, { details: { field: `${g}.${problem.field}` } });
      const stored = own?.groups[g];
      if (stored === undefined || !isDeepStrictEqual(stored, next)) {
        if (changedKeys.length === 0) changedKeys.push(g);
        writes.push(() => tx.putSettingsGroup(org.orgId, g, next, now));
      }
      for (const key of changedKeys) this.checkKeyPermission(p, org, key);
      changed.push(...changedKeys);
    }

    for (const pc of change.packets ?? []) {
      const dot = pc.key.indexOf(".");
      const g = pc.key.slice(0, dot) as GroupName;
      const f = pc.key.slice(dot + 1);
      const spec = Object.hasOwn(SETTINGS_SCHEMA, g) ? SETTINGS_SCHEMA[g] : undefined;
      if (spec === undefined || spec.inheritance !== "key" || f === "") throw new CairnError("BAD_REQUEST", `unknown setting ${pc.key}`);
      const fs = fieldSpec(g, f);
      if (fs === undefined && !spec.open) throw new CairnError("BAD_REQUEST", `unknown setting ${pc.key}`);
      if (current.lockedBy[pc.key] !== undefined)
        throw new CairnError("SETTING_LOCKED", `${pc.key} is locked by an ancestor organization`, { details: { key: pc.key } });
      const value = pc.value === undefined ? undefined : fs === undefined ? openPacketValue(pc.value, pc.key) : fs.parse(pc.value, pc.key);
      let touched = false;
      if (!isDeepStrictEqual(value, own?.packets[pc.key])) {
        writes.push(() => tx.putSettingsPacket(org.orgId, pc.key, value, now));
        touched = true;
      }
      if (pc.locked !== undefined && pc.locked !== current.ownLocks.includes(pc.key)) {
        if (fs !== undefined && !fs.lockable) throw new CairnError("BAD_REQUEST", `${pc.key} cannot be locked`);
        writes.push(() => tx.setSettingsLock(org.orgId, pc.key, pc.locked === true, now));
        touched = true;
      }
      if (touched) {
        this.checkKeyPermission(p, org, pc.key);
        changed.push(pc.key);
      }
    }

    for (const [key, locked] of Object.entries(change.locks ?? {})) {
      const dot = key.indexOf(".");
      const g = key.slice(0, dot) as GroupName;
      const f = key.slice(dot + 1);
      const known = Object.hasOwn(SETTINGS_SCHEMA, g) ? fieldSpec(g, f) : undefined;
      const open = Object.hasOwn(SETTINGS_SCHEMA, g) && SETTINGS_SCHEMA[g].open === true && f !== "";
      if ((known === undefined && !open) || (known !== undefined && !known.lockable)) throw new CairnError("BAD_REQUEST", `${key} cannot be locked`);
      if (typeof locked !== "boolean") throw new CairnError("BAD_REQUEST", `the lock of ${key} is true or false`);
      if (locked === current.ownLocks.includes(key)) continue;
      if (current.lockedBy[key] !== undefined) throw new CairnError("SETTING_LOCKED", `${key} is locked by an ancestor organization`, { details: { key } });
      this.checkKeyPermission(p, org, key);
      writes.push(() => tx.setSettingsLock(org.orgId, key, locked, now));
      changed.push(`${key}:${locked ? "lock" : "unlock"}`);
    }

    // everything was validated: now write
    for (const w of writes) await w();
    // an offer turned off sends the archives on that destination to cold storage; one turned on
    // (again) brings back those that were there for that reason only (API.md §7.2), in the org
    // and every org below that inherits it
    if (changed.some((k) => k === "destinations" || k.startsWith("destinations."))) {
      const subtree = (await tx.listSubtree(org.path)).map((o) => o.orgId);
      await coldStoreUnoffered(tx, this, await tx.liveArchivesOfOrgs(subtree), org.orgId, now);
      await releaseOffered(tx, this, { orgIds: subtree });
    }
    return changed;
  }
}
