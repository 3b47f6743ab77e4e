/**
 * SQL for storage: destinations, their servers and store points, one-time enroll keys, redeemed
 * provider keys, and the revocation list the nodes receive.
 */
import type { Destination, EnrollKeyRecord, RevocationRecord, Server, ServerFilter, StorePoint, StorePointFilter, StorePointLoad } from "../device-records.js";
import type { StorageReads, StorageWrites } from "../device-store.js";
import type { Page, PageResult } from "../store.js";
import { fromBool, type SqlRunner, toBool } from "./runner.js";

interface DestinationRow {
  destination_id: number;
  destination_guid: string;
  name: string;
  kind: "cluster" | "provider";
  active: number;
  created_at: number;
  modified_at: number;
}

const toDestination = (r: DestinationRow): Destination => ({
  destinationId: r.destination_id,
  destinationGuid: r.destination_guid,
  name: r.name,
  kind: r.kind,
  active: toBool(r.active),
  createdAt: r.created_at,
  modifiedAt: r.modified_at,
});

interface ServerRow {
  server_id: number;
  server_guid: string;
  destination_id: number;
  name: string;
  urls_json: string;
  fingerprint: string | null;
  node_secret_hash: string | null;
  provider_tenant_id: string | null;
  provider_secret_sealed: Buffer | null;
  quota_bytes: number;
  node_version: string | null;
  state: string;
  last_seen_at: number | null;
  created_at: number;
}

const toServer = (r: ServerRow): Server => ({
  serverId: r.server_id,
  serverGuid: r.server_guid,
  destinationId: r.destination_id,
  name: r.name,
  urls: JSON.parse(r.urls_json) as string[],
  fingerprint: r.fingerprint,
  nodeSecretHash: r.node_secret_hash,
  providerTenantId: r.provider_tenant_id,
  providerSecretSealed: r.provider_secret_sealed,
  quotaBytes: r.quota_bytes,
  nodeVersion: r.node_version,
  state: r.state,
  lastSeenAt: r.last_seen_at,
  createdAt: r.created_at,
});

interface StorePointRow {
  store_point_id: number;
  server_id: number;
  node_store_point_id: number | null;
  name: string;
  total_bytes: number;
  free_bytes: number;
  accepting_new: number;
  accepting_data: number;
  updated_at: number;
}

const toStorePoint = (r: StorePointRow): StorePoint => ({
  storePointId: r.store_point_id,
  serverId: r.server_id,
  nodeStorePointId: r.node_store_point_id,
  name: r.name,
  totalBytes: r.total_bytes,
  freeBytes: r.free_bytes,
  acceptingNew: toBool(r.accepting_new),
  acceptingData: toBool(r.accepting_data),
  updatedAt: r.updated_at,
});

const SERVER_COLUMNS =
  "server_id, server_guid, destination_id, name, urls_json, fingerprint, node_secret_hash, provider_tenant_id, provider_secret_sealed, quota_bytes, node_version, state, last_seen_at, created_at";

/** Storage queries on one connection. */
export class SqliteStorageQueries implements StorageReads, StorageWrites {
  constructor(private readonly q: SqlRunner) {}

  async getDestination(destinationId: number): Promise<Destination | undefined> {
    const r = this.q.get<DestinationRow>("SELECT * FROM destinations WHERE destination_id = ?", destinationId);
    return r && toDestination(r);
  }

  async getDestinationByGuid(destinationGuid: string): Promise<Destination | undefined> {
    const r = this.q.get<DestinationRow>("SELECT * FROM destinations WHERE destination_guid = ?", destinationGuid);
    return r && toDestination(r);
  }

  async getDestinationByName(name: string): Promise<Destination | undefined> {
    const r = this.q.get<DestinationRow>("SELECT * FROM destinations WHERE lower(name) = lower(?) AND active = 1", name);
    return r && toDestination(r);
  }

  async listDestinationRecords(all = false): Promise<Destination[]> {
    return this.q.all<DestinationRow>("SELECT * FROM destinations WHERE (? = 1 OR active = 1) ORDER BY destination_id", fromBool(all)).map(toDestination);
  }

  async getServer(serverId: number): Promise<Server | undefined> {
    const r = this.q.get<ServerRow>("SELECT " + SERVER_COLUMNS + " FROM servers WHERE server_id = ?", serverId);
    return r && toServer(r);
  }

  async getServerByGuid(serverGuid: string): Promise<Server | undefined> {
    const r = this.q.get<ServerRow>("SELECT " + SERVER_COLUMNS + " FROM servers WHERE server_guid = ?", serverGuid);
    return r && toServer(r);
  }

  async getServerBySecretHash(hash: string): Promise<Server | undefined> {
    const r = this.q.get<ServerRow>("SELECT " + SERVER_COLUMNS + " FROM servers WHERE node_secret_hash = ?", hash);
    return r && toServer(r);
  }

  async listServers(filter: ServerFilter, page: Page): Promise<PageResult<Server>> {
    const p = { destinationId: filter.destinationId ?? null };
    const where =
      "FROM servers s JOIN destinations d ON d.destination_id = s.destination_id WHERE d.active = 1 AND (@destinationId IS NULL OR s.destination_id = @destinationId)";
    const total = this.q.get<{ n: number }>("SELECT count(*) AS n " + where, p)?.n ?? 0;
    const rows = this.q.all<ServerRow>("SELECT s.* " + where + " ORDER BY s.server_id LIMIT @limit OFFSET @offset", {
      ...p,
      limit: page.limit,
      offset: page.offset,
    });
    return { total, items: rows.map(toServer) };
  }

  async providerServers(): Promise<Server[]> {
    return this.q
      .all<ServerRow>(
        "SELECT s.* FROM servers s JOIN destinations d ON d.destination_id = s.destination_id WHERE d.active = 1 AND s.provider_tenant_id IS NOT NULL ORDER BY s.server_id",
      )
      .map(toServer);
  }

  async getStorePoint(storePointId: number): Promise<StorePoint | undefined> {
    const r = this.q.get<StorePointRow>("SELECT * FROM store_points WHERE store_point_id = ?", storePointId);
    return r && toStorePoint(r);
  }

  async storePointsOfServer(serverId: number): Promise<StorePoint[]> {
    return this.q.all<StorePointRow>("SELECT * FROM store_points WHERE server_id = ? ORDER BY store_point_id", serverId).map(toStorePoint);
  }

  async storePointLoads(filter: StorePointFilter): Promise<StorePointLoad[]> {
    return this.q
      .all<StorePointRow & { destination_id: number; server_name: string; destination_name: string; n: number; bytes: number }>(
        "SELECT sp.*, s.destination_id, s.name AS server_name, d.name AS destination_name, (SELECT count(*) FROM archives a WHERE a.store_point_id = sp.store_point_id AND a.purged_at IS NULL) AS n, (SELECT coalesce(sum(a.archive_bytes), 0) FROM archives a WHERE a.store_point_id = sp.store_point_id AND a.purged_at IS NULL) AS bytes FROM store_points sp JOIN servers s ON s.server_id = sp.server_id JOIN destinations d ON d.destination_id = s.destination_id WHERE d.active = 1 AND (@serverId IS NULL OR sp.server_id = @serverId) AND (@destinationId IS NULL OR s.destination_id = @destinationId) ORDER BY sp.store_point_id",
        { serverId: filter.serverId ?? null, destinationId: filter.destinationId ?? null },
      )
      .map((r) => ({
        ...toStorePoint(r),
        destinationId: r.destination_id,
        serverName: r.server_name,
        destinationName: r.destination_name,
        archiveCount: r.n,
        archiveBytes: r.bytes,
      }));
  }

  async getEnrollKeyByHash(hash: string): Promise<EnrollKeyRecord | undefined> {
    const r = this.q.get<{
      enroll_key_id: number;
      key_hash: string;
      destination_id: number;
      created_by_user_id: number | null;
      created_at: number;
      expires_at: number;
      used_at: number | null;
      used_by_server_id: number | null;
    }>("SELECT * FROM enroll_keys WHERE key_hash = ?", hash);
    return (
      r && {
        enrollKeyId: r.enroll_key_id,
        keyHash: r.key_hash,
        destinationId: r.destination_id,
        createdByUserId: r.created_by_user_id,
        createdAt: r.created_at,
        expiresAt: r.expires_at,
        usedAt: r.used_at,
        usedByServerId: r.used_by_server_id,
      }
    );
  }

  async destinationGroups(): Promise<{ orgId: number; values: Record<string, unknown> }[]> {
    return this.q
      .all<{ org_id: number; values_json: string }>("SELECT org_id, values_json FROM org_setting_groups WHERE group_name = 'destinations' ORDER BY org_id")
      .map((r) => ({ orgId: r.org_id, values: JSON.parse(r.values_json) as Record<string, unknown> }));
  }

  async listRevocations(): Promise<RevocationRecord[]> {
    return this.q.all<RevocationRecord>("SELECT kind, guid, before, scope FROM revocations WHERE lifted_at IS NULL ORDER BY revocation_id");
  }

  async insertDestination(d: { destinationGuid: string; name: string; kind: "cluster" | "provider"; createdAt: number }): Promise<Destination> {
    const r = this.q.run(
      "INSERT INTO destinations (destination_guid, name, kind, created_at, modified_at) VALUES (?, ?, ?, ?, ?)",
      d.destinationGuid,
      d.name,
      d.kind,
      d.createdAt,
      d.createdAt,
    );
    return (await this.getDestination(r.lastInsertRowid)) as Destination;
  }

  async renameDestination(destinationId: number, name: string, at: number): Promise<void> {
    this.q.run("UPDATE destinations SET name = ?, modified_at = ? WHERE destination_id = ?", name, at, destinationId);
  }

  async retireDestination(destinationId: number, at: number): Promise<void> {
    // the name is UNIQUE: a removed destination gives it up
    this.q.run(
      "UPDATE destinations SET active = 0, name = name || ' (removed ' || destination_id || ')', modified_at = ? WHERE destination_id = ? AND active = 1",
      at,
      destinationId,
    );
  }

  async insertServer(s: Omit<Server, "serverId" | "state" | "lastSeenAt">): Promise<Server> {
    const r = this.q.run(
      "INSERT INTO servers (server_guid, destination_id, name, urls_json, fingerprint, node_secret_hash, provider_tenant_id, provider_secret_sealed, quota_bytes, node_version, created_at, modified_at) VALUES (@serverGuid, @destinationId, @name, @urls, @fingerprint, @nodeSecretHash, @providerTenantId, @providerSecretSealed, @quotaBytes, @nodeVersion, @createdAt, @createdAt)",
      { ...s, urls: JSON.stringify(s.urls) },
    );
    return (await this.getServer(r.lastInsertRowid)) as Server;
  }

  async updateServerAnnounce(serverId: number, o: { urls: string[]; fingerprint: string; nodeVersion: string; name?: string }, at: number): Promise<void> {
    this.q.run(
      "UPDATE servers SET urls_json = @urls, fingerprint = @fingerprint, node_version = @nodeVersion, name = coalesce(@name, name), last_seen_at = @at, state = 'ok', modified_at = @at WHERE server_id = @serverId",
      { urls: JSON.stringify(o.urls), fingerprint: o.fingerprint, nodeVersion: o.nodeVersion, name: o.name ?? null, at, serverId },
    );
  }

  async touchServer(serverId: number, at: number): Promise<void> {
    this.q.run("UPDATE servers SET last_seen_at = ? WHERE server_id = ?", at, serverId);
  }

  async upsertStorePoint(
    serverId: number,
    sp: { nodeStorePointId: number | null; name: string; totalBytes: number; freeBytes: number },
    at: number,
  ): Promise<StorePoint> {
    const existing =
      (sp.nodeStorePointId === null
        ? undefined
        : this.q.get<StorePointRow>("SELECT * FROM store_points WHERE server_id = ? AND node_store_point_id = ?", serverId, sp.nodeStorePointId)) ??
      this.q.get<StorePointRow>("SELECT * FROM store_points WHERE server_id = ? AND name = ?", serverId, sp.name);
    if (existing !== undefined) {
      this.q.run(
        "UPDATE store_points SET total_bytes = ?, free_bytes = ?, node_store_point_id = coalesce(?, node_store_point_id), updated_at = ? WHERE store_point_id = ?",
        sp.totalBytes,
        sp.freeBytes,
        sp.nodeStorePointId,
        at,
        existing.store_point_id,
      );
      return (await this.getStorePoint(existing.store_point_id)) as StorePoint;
    }
    const r = this.q.run(
      "INSERT INTO store_points (server_id, node_store_point_id, name, total_bytes, free_bytes, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
      serverId,
      sp.nodeStorePointId,
      sp.name,
      sp.totalBytes,
      sp.freeBytes,
      at,
    );
    return (await this.getStorePoint(r.lastInsertRowid)) as StorePoint;
  }

  async setNodeStorePointId(storePointId: number, nodeStorePointId: number): Promise<void> {
    this.q.run("UPDATE store_points SET node_store_point_id = ? WHERE store_point_id = ?", nodeStorePointId, storePointId);
  }

  async setStorePointFlags(storePointId: number, flags: { acceptingNew?: boolean; acceptingData?: boolean }, at: number): Promise<void> {
    this.q.run(
      "UPDATE store_points SET accepting_new = coalesce(?, accepting_new), accepting_data = coalesce(?, accepting_data), updated_at = ? WHERE store_point_id = ?",
      flags.acceptingNew === undefined ? null : fromBool(flags.acceptingNew),
      flags.acceptingData === undefined ? null : fromBool(flags.acceptingData),
      at,
      storePointId,
    );
  }

  async insertEnrollKey(k: Omit<EnrollKeyRecord, "enrollKeyId" | "usedAt" | "usedByServerId">): Promise<void> {
    this.q.run(
      "INSERT INTO enroll_keys (key_hash, destination_id, created_by_user_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
      k.keyHash,
      k.destinationId,
      k.createdByUserId,
      k.createdAt,
      k.expiresAt,
    );
  }

  async useEnrollKey(enrollKeyId: number, serverId: number, at: number): Promise<boolean> {
    return (
      this.q.run("UPDATE enroll_keys SET used_at = ?, used_by_server_id = ? WHERE enroll_key_id = ? AND used_at IS NULL", at, serverId, enrollKeyId).changes ===
      1
    );
  }

  async insertProviderKey(k: {
    destinationId: number;
    keyHash: string;
    providerUrl: string;
    providerFingerprint: string;
    redeemedAt: number;
    redeemedByUserId: number | null;
  }): Promise<void> {
    this.q.run(
      "INSERT INTO provider_keys (destination_id, key_hash, provider_url, provider_fingerprint, redeemed_at, redeemed_by_user_id) VALUES (?, ?, ?, ?, ?, ?)",
      k.destinationId,
      k.keyHash,
      k.providerUrl,
      k.providerFingerprint,
      k.redeemedAt,
      k.redeemedByUserId,
    );
  }
}
