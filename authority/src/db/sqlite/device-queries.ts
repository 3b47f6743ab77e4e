/**
 * SQL for devices, their tokens and opt-ins. The list pages through 100,000 devices in a few
 * milliseconds: ids come from an index (`devices.org_id` and `last_completed_backup_at` are
 * kept by the triggers of migration 2), rows are read by id.
 */
import type { Device, DeviceFilter, DeviceLocalSelection, DeviceOverrides, DevicePatch, DeviceRegistrationPatch, NewDevice } from "../device-records.js";
import type { DeviceReads, DeviceWrites, StaleCounts, StaleCuts } from "../device-store.js";
import type { User } from "../records.js";
import type { Page, PageResult } from "../store.js";
import { fromBool, idList, likeSubstring, type SqlRunner, scopeParams, toBool } from "./runner.js";
import { toUser, type UserRow } from "./user-queries.js";

interface DeviceRow {
  device_id: number;
  device_guid: string;
  user_id: number;
  org_id: number;
  name: string;
  os_hostname: string | null;
  os_name: "linux" | "mac" | "win" | null;
  os_version: string | null;
  os_arch: string | null;
  agent_version: string | null;
  time_zone: string | null;
  address: string | null;
  remote_address: string | null;
  ext_ref: string | null;
  notes: string | null;
  active: number;
  blocked: number;
  deauthorized: number;
  deactivated_by_user_id: number | null;
  deactivated_by_org_id: number | null;
  settings_json: string | null;
  local_selection_json: string | null;
  config_version: number;
  created_at: number;
  modified_at: number;
  deactivated_at: number | null;
  last_connected_at: number | null;
  login_at: number | null;
  last_completed_backup_at: number | null;
}

function toDevice(r: DeviceRow): Device {
  return {
    deviceId: r.device_id,
    deviceGuid: r.device_guid,
    userId: r.user_id,
    orgId: r.org_id,
    name: r.name,
    osHostname: r.os_hostname,
    osName: r.os_name,
    osVersion: r.os_version,
    osArch: r.os_arch,
    agentVersion: r.agent_version,
    timeZone: r.time_zone,
    address: r.address,
    remoteAddress: r.remote_address,
    extRef: r.ext_ref,
    notes: r.notes,
    active: toBool(r.active),
    blocked: toBool(r.blocked),
    deauthorized: toBool(r.deauthorized),
    deactivatedByUserId: r.deactivated_by_user_id,
    deactivatedByOrgId: r.deactivated_by_org_id,
    overrides: r.settings_json === null ? null : (JSON.parse(r.settings_json) as DeviceOverrides),
    localSelection:
      r.local_selection_json === null || r.local_selection_json === undefined ? null : (JSON.parse(r.local_selection_json) as DeviceLocalSelection),
    configVersion: r.config_version,
    createdAt: r.created_at,
    modifiedAt: r.modified_at,
    deactivatedAt: r.deactivated_at,
    lastConnectedAt: r.last_connected_at,
    loginAt: r.login_at,
    lastCompletedBackupAt: r.last_completed_backup_at,
  };
}

/**
 * A device filter as a WHERE clause of constant fragments, one per filter present, and its bound
 * parameters (never a value in the SQL text: T32). Leaving out absent filters lets SQLite use
 * the `active`-led covering indexes of migration 2 for the 100,000-device list.
 */
function whereOf(f: DeviceFilter): { where: string; params: Record<string, unknown> } {
  let where = "1 = 1";
  const params: Record<string, unknown> = {};
  if (f.active !== undefined) {
    where += " AND d.active = @active";
    params.active = fromBool(f.active);
  }
  if (f.blocked !== undefined) {
    where += " AND d.blocked = @blocked";
    params.blocked = fromBool(f.blocked);
  }
  if (f.userId !== undefined) {
    where += " AND d.user_id = @userId";
    params.userId = f.userId;
  }
  if (f.orgId !== undefined) {
    where += " AND d.org_id = @orgId";
    params.orgId = f.orgId;
  }
  const scope = f.scope;
  if (scope.kind === "org") {
    where += " AND d.org_id = @scopeOrgId";
    params.scopeOrgId = scope.orgId;
  } else if (scope.kind === "subtree") {
    where += " AND d.org_id IN (SELECT o.org_id FROM orgs o WHERE o.path >= @lo AND o.path < @hi)";
    const s = scopeParams(scope);
    params.lo = s.lo;
    params.hi = s.hi;
  } else if (scope.kind === "none") where += " AND 0 = 1";
  if (f.destinationId !== undefined) {
    where += " AND EXISTS (SELECT 1 FROM archives a WHERE a.device_id = d.device_id AND a.destination_id = @destinationId AND a.purged_at IS NULL)";
    params.destinationId = f.destinationId;
  }
  if (f.q !== undefined) {
    where += " AND (lower(d.name) LIKE @q ESCAPE '\\' OR lower(coalesce(d.os_hostname, '')) LIKE @q ESCAPE '\\' OR d.device_guid LIKE @q ESCAPE '\\')";
    params.q = likeSubstring(f.q);
  }
  return { where, params };
}

const ORDER: Record<string, [string, string]> = {
  computerId: [" ORDER BY d.device_id ASC", " ORDER BY d.device_id DESC"],
  name: [" ORDER BY d.name COLLATE NOCASE ASC, d.device_id ASC", " ORDER BY d.name COLLATE NOCASE DESC, d.device_id DESC"],
  status: [" ORDER BY d.active DESC, d.device_id ASC", " ORDER BY d.active ASC, d.device_id DESC"],
  lastConnected: [" ORDER BY d.last_connected_at ASC, d.device_id ASC", " ORDER BY d.last_connected_at DESC, d.device_id DESC"],
  lastCompletedBackup: [" ORDER BY d.last_completed_backup_at ASC, d.device_id ASC", " ORDER BY d.last_completed_backup_at DESC, d.device_id DESC"],
  userId: [" ORDER BY d.user_id ASC, d.device_id ASC", " ORDER BY d.user_id DESC, d.device_id DESC"],
};

const STALE = "sum(coalesce(d.last_completed_backup_at, d.created_at) < @w) AS w, sum(coalesce(d.last_completed_backup_at, d.created_at) < @s) AS c";

/** Device queries on one connection. */
export class SqliteDeviceQueries implements DeviceReads, DeviceWrites {
  constructor(private readonly q: SqlRunner) {}

  async getDevice(deviceId: number): Promise<Device | undefined> {
    const r = this.q.get<DeviceRow>("SELECT * FROM devices WHERE device_id = ?", deviceId);
    return r && toDevice(r);
  }

  async getDeviceByGuid(deviceGuid: string): Promise<Device | undefined> {
    const r = this.q.get<DeviceRow>("SELECT * FROM devices WHERE device_guid = ?", deviceGuid);
    return r && toDevice(r);
  }

  async getDevices(deviceIds: readonly number[]): Promise<Device[]> {
    return this.q.all<DeviceRow>("SELECT d.* FROM json_each(?) j JOIN devices d ON d.device_id = j.value ORDER BY j.key", idList(deviceIds)).map(toDevice);
  }

  async listDevices(filter: DeviceFilter, page: Page): Promise<PageResult<Device>> {
    const { where, params } = whereOf(filter);
    const total = this.q.get<{ n: number }>("SELECT count(*) AS n FROM devices d WHERE " + where, params)?.n ?? 0;
    const order = ORDER[filter.sort?.key ?? "computerId"] ?? (ORDER.computerId as [string, string]);
    const ids = this.q
      .all<{ device_id: number }>(
        "SELECT d.device_id FROM devices d WHERE " + where + order[filter.sort?.dir === "desc" ? 1 : 0] + " LIMIT @limit OFFSET @offset",
        {
          ...params,
          limit: page.limit,
          offset: page.offset,
        },
      )
      .map((r) => r.device_id);
    return { total, items: await this.getDevices(ids) };
  }

  async staleDeviceCounts(filter: DeviceFilter, cuts: StaleCuts): Promise<StaleCounts> {
    const { where, params } = whereOf(filter);
    const [w, sv] = cuts.default;
    const sum = (r: { w: number | null; c: number | null } | undefined) => ({ w: r?.w ?? 0, c: r?.c ?? 0 });
    const all = sum(
      this.q.get<{ w: number | null; c: number | null }>("SELECT " + STALE + " FROM devices d WHERE " + where + " AND d.settings_json IS NULL", {
        ...params,
        w,
        s: sv,
      }),
    );
    if (cuts.byOrg.length === 0) return { warning: all.w - all.c, critical: all.c };
    // orgs with their own thresholds: take them out at the default cut, add them at theirs
    // (CROSS JOIN: SQLite walks the few orgs and seeks their devices, never the other way)
    const orgs = JSON.stringify(Object.fromEntries(cuts.byOrg.map(([id, cw, cs]) => [String(id), [cw, cs]])));
    const asDefault = sum(
      this.q.get<{ w: number | null; c: number | null }>(
        "WITH t AS MATERIALIZED (SELECT CAST(key AS INTEGER) AS org_id FROM json_each(@orgs)) SELECT " +
          STALE +
          " FROM t CROSS JOIN devices d ON d.org_id = t.org_id WHERE " +
          where +
          " AND d.settings_json IS NULL",
        { ...params, orgs, w, s: sv },
      ),
    );
    const own = sum(
      this.q.get<{ w: number | null; c: number | null }>(
        "WITH t AS MATERIALIZED (SELECT CAST(key AS INTEGER) AS org_id, json_extract(value, '$[0]') AS cw, json_extract(value, '$[1]') AS cs FROM json_each(@orgs)) SELECT sum(coalesce(d.last_completed_backup_at, d.created_at) < t.cw) AS w, sum(coalesce(d.last_completed_backup_at, d.created_at) < t.cs) AS c FROM t CROSS JOIN devices d ON d.org_id = t.org_id WHERE " +
          where +
          " AND d.settings_json IS NULL",
        { ...params, orgs },
      ),
    );
    const ww = all.w - asDefault.w + own.w;
    const cc = all.c - asDefault.c + own.c;
    return { warning: ww - cc, critical: cc };
  }

  async devicesWithOverrides(filter: DeviceFilter): Promise<Device[]> {
    const { where, params } = whereOf(filter);
    return this.q
      .all<DeviceRow>(
        "SELECT d.* FROM devices d WHERE d.device_id IN (SELECT o.device_id FROM devices o WHERE o.settings_json IS NOT NULL) AND " +
          where +
          " ORDER BY d.device_id",
        params,
      )
      .map(toDevice);
  }

  async usersByIds(userIds: readonly number[]): Promise<User[]> {
    return this.q.all<UserRow>("SELECT u.* FROM json_each(?) j JOIN users u ON u.user_id = j.value ORDER BY j.key", idList(userIds)).map(toUser);
  }

  async deviceIdsOfOrgs(orgIds: readonly number[]): Promise<number[]> {
    return this.q
      .all<{ device_id: number }>(
        "SELECT device_id FROM devices WHERE active = 1 AND deauthorized = 0 AND org_id IN (SELECT value FROM json_each(?)) ORDER BY device_id",
        idList(orgIds),
      )
      .map((r) => r.device_id);
  }

  async deviceByTokenHash(tokenHash: string): Promise<Device | undefined> {
    const r = this.q.get<DeviceRow>(
      "SELECT d.* FROM device_tokens t JOIN devices d ON d.device_id = t.device_id WHERE t.token_hash = ? AND t.revoked_at IS NULL",
      tokenHash,
    );
    return r && toDevice(r);
  }

  async optInsOf(deviceId: number): Promise<Map<number, boolean>> {
    return new Map(
      this.q
        .all<{ destination_id: number; opted_in: number }>("SELECT destination_id, opted_in FROM device_destination_optins WHERE device_id = ?", deviceId)
        .map((r) => [r.destination_id, toBool(r.opted_in)]),
    );
  }

  async orgsWithDeviceSettings(keys: readonly string[]): Promise<number[]> {
    return this.q
      .all<{ org_id: number }>(
        "SELECT org_id FROM org_setting_groups WHERE group_name = 'device' UNION SELECT org_id FROM org_setting_locks WHERE key IN (SELECT value FROM json_each(?)) ORDER BY 1",
        JSON.stringify(keys),
      )
      .map((r) => r.org_id);
  }

  async insertDevice(d: NewDevice): Promise<Device> {
    const r = this.q.run(
      "INSERT INTO devices (device_guid, user_id, name, os_hostname, os_name, os_version, os_arch, agent_version, time_zone, remote_address, created_at, modified_at, login_at) VALUES (@deviceGuid, @userId, @name, @osHostname, @osName, @osVersion, @osArch, @agentVersion, @timeZone, @remoteAddress, @createdAt, @createdAt, @createdAt)",
      { ...d },
    );
    return (await this.getDevice(r.lastInsertRowid)) as Device;
  }

  async reregisterDevice(deviceId: number, p: DeviceRegistrationPatch, at: number): Promise<void> {
    this.q.run(
      "UPDATE devices SET name = @name, os_hostname = @osHostname, os_name = @osName, os_version = @osVersion, os_arch = @osArch, agent_version = @agentVersion, time_zone = @timeZone, remote_address = @remoteAddress, deauthorized = 0, login_at = @at, modified_at = @at, config_version = config_version + 1 WHERE device_id = @deviceId",
      { ...p, deviceId, at },
    );
  }

  async updateDevice(deviceId: number, patch: DevicePatch, at: number): Promise<void> {
    this.q.run(
      "UPDATE devices SET name = CASE WHEN @setName THEN @name ELSE name END, ext_ref = CASE WHEN @setExtRef THEN @extRef ELSE ext_ref END, notes = CASE WHEN @setNotes THEN @notes ELSE notes END, settings_json = CASE WHEN @setOverrides THEN @overrides ELSE settings_json END, modified_at = @at, config_version = config_version + 1 WHERE device_id = @deviceId",
      {
        deviceId,
        at,
        setName: fromBool(patch.name !== undefined),
        name: patch.name ?? null,
        setExtRef: fromBool(patch.extRef !== undefined),
        extRef: patch.extRef ?? null,
        setNotes: fromBool(patch.notes !== undefined),
        notes: patch.notes ?? null,
        setOverrides: fromBool(patch.overrides !== undefined),
        overrides: patch.overrides === undefined || patch.overrides === null ? null : JSON.stringify(patch.overrides),
      },
    );
  }

  async setDeviceBlocked(deviceId: number, blocked: boolean, at: number): Promise<void> {
    this.q.run("UPDATE devices SET blocked = ?, modified_at = ?, config_version = config_version + 1 WHERE device_id = ?", fromBool(blocked), at, deviceId);
  }

  async setDeviceActive(deviceId: number, active: boolean, at: number): Promise<void> {
    this.q.run(
      "UPDATE devices SET active = @active, deactivated_at = CASE WHEN @active = 1 THEN NULL ELSE @at END, deactivated_by_user_id = NULL, deactivated_by_org_id = NULL, modified_at = @at, config_version = config_version + 1 WHERE device_id = @deviceId",
      { active: fromBool(active), at, deviceId },
    );
  }

  async setDeviceDeauthorized(deviceId: number, deauthorized: boolean, at: number): Promise<void> {
    this.q.run("UPDATE devices SET deauthorized = ?, modified_at = ? WHERE device_id = ?", fromBool(deauthorized), at, deviceId);
  }

  async setDeviceLocalSelection(deviceId: number, selection: DeviceLocalSelection | null): Promise<void> {
    this.q.run("UPDATE devices SET local_selection_json = ? WHERE device_id = ?", selection === null ? null : JSON.stringify(selection), deviceId);
  }

  async touchDevice(deviceId: number, at: number, o: { remoteAddress?: string | null; agentVersion?: string }): Promise<void> {
    this.q.run(
      "UPDATE devices SET last_connected_at = @at, remote_address = CASE WHEN @setAddr THEN @addr ELSE remote_address END, agent_version = coalesce(@agentVersion, agent_version) WHERE device_id = @deviceId",
      { at, deviceId, setAddr: fromBool(o.remoteAddress !== undefined), addr: o.remoteAddress ?? null, agentVersion: o.agentVersion ?? null },
    );
  }

  async insertDeviceToken(tokenHash: string, deviceId: number, at: number): Promise<void> {
    this.q.run("INSERT INTO device_tokens (token_hash, device_id, created_at) VALUES (?, ?, ?)", tokenHash, deviceId, at);
  }

  async revokeDeviceTokens(deviceId: number, at: number): Promise<void> {
    this.q.run("UPDATE device_tokens SET revoked_at = ? WHERE device_id = ? AND revoked_at IS NULL", at, deviceId);
  }

  async setOptIn(deviceId: number, destinationId: number, optIn: boolean, at: number): Promise<void> {
    this.q.run(
      "INSERT INTO device_destination_optins (device_id, destination_id, opted_in, modified_at) VALUES (?, ?, ?, ?) ON CONFLICT (device_id, destination_id) DO UPDATE SET opted_in = excluded.opted_in, modified_at = excluded.modified_at",
      deviceId,
      destinationId,
      fromBool(optIn),
      at,
    );
  }
}
