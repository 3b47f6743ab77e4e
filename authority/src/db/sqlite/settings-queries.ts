/**
 * SQL for org settings layers: group overrides, per-key packets and locks. The values are JSON;
 * their meaning belongs to `settings/schema.ts`.
 */
import type { OrgSettingsLayer } from "../records.js";
import type { SettingsReads, SettingsWrites } from "../store.js";
import { idList, type SqlRunner } from "./runner.js";

/** Settings queries on one connection. */
export class SqliteSettingsQueries implements SettingsReads, SettingsWrites {
  constructor(private readonly q: SqlRunner) {}

  async getSettingsLayers(orgIds: readonly number[]): Promise<OrgSettingsLayer[]> {
    const ids = idList(orgIds);
    const layers = new Map<number, OrgSettingsLayer>();
    for (const id of orgIds) layers.set(id, { orgId: id, groups: {}, packets: {}, locks: [] });
    for (const r of this.q.all<{ org_id: number; group_name: string; values_json: string }>(
      "SELECT g.org_id, g.group_name, g.values_json FROM json_each(?) j JOIN org_setting_groups g ON g.org_id = j.value",
      ids,
    )) {
      const l = layers.get(r.org_id);
      if (l) l.groups[r.group_name] = JSON.parse(r.values_json) as Record<string, unknown>;
    }
    for (const r of this.q.all<{ org_id: number; key: string; value_json: string }>(
      "SELECT p.org_id, p.key, p.value_json FROM json_each(?) j JOIN org_setting_packets p ON p.org_id = j.value",
      ids,
    )) {
      const l = layers.get(r.org_id);
      if (l) l.packets[r.key] = JSON.parse(r.value_json) as unknown;
    }
    for (const r of this.q.all<{ org_id: number; key: string }>(
      "SELECT l.org_id, l.key FROM json_each(?) j JOIN org_setting_locks l ON l.org_id = j.value ORDER BY l.key",
      ids,
    )) {
      layers.get(r.org_id)?.locks.push(r.key);
    }
    return orgIds.map((id) => layers.get(id) as OrgSettingsLayer);
  }

  async putSettingsGroup(orgId: number, group: string, values: Record<string, unknown> | null, at: number): Promise<void> {
    if (values === null) {
      this.q.run("DELETE FROM org_setting_groups WHERE org_id = ? AND group_name = ?", orgId, group);
      return;
    }
    this.q.run(
      "INSERT INTO org_setting_groups (org_id, group_name, values_json, modified_at) VALUES (@orgId, @group, @json, @at) ON CONFLICT (org_id, group_name) DO UPDATE SET values_json = @json, modified_at = @at",
      { orgId, group, json: JSON.stringify(values), at },
    );
  }

  async putSettingsPacket(orgId: number, key: string, value: unknown, at: number): Promise<void> {
    if (value === undefined) {
      this.q.run("DELETE FROM org_setting_packets WHERE org_id = ? AND key = ?", orgId, key);
      return;
    }
    this.q.run(
      "INSERT INTO org_setting_packets (org_id, key, value_json, modified_at) VALUES (@orgId, @key, @json, @at) ON CONFLICT (org_id, key) DO UPDATE SET value_json = @json, modified_at = @at",
      { orgId, key, json: JSON.stringify(value), at },
    );
  }

  async setSettingsLock(orgId: number, key: string, locked: boolean, at: number): Promise<void> {
    if (locked) this.q.run("INSERT INTO org_setting_locks (org_id, key, locked_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", orgId, key, at);
    else this.q.run("DELETE FROM org_setting_locks WHERE org_id = ? AND key = ?", orgId, key);
  }
}
