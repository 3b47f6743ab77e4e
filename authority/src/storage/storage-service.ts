/**
 * Storage as administrators manage it (Cairn's `/api/v1/…` routes): destinations (of own
 * servers, or from a provider key), servers, store points and their flags, enroll keys.
 * Reading needs `storage.read` and changing `storage.write` on the system target (the
 * all-organization administrator roles). Removing a destination sends its archives to cold
 * storage (`cold-storage/cold-storage.ts`), drops it from every org's offers and stops its links.
 */
import { CairnError, hashSecret } from "@cairn/protocol";
import { auditEntry } from "../audit/audit.js";
import { type Principal, requirePermission } from "../auth/access.js";
import { META } from "../bootstrap.js";
import { coldStore } from "../cold-storage/cold-storage.js";
import type { CoreDeps } from "../core.js";
import type { ArchiveRecord, Destination, Server, StorePointLoad } from "../db/device-records.js";
import type { Page, PageResult } from "../db/store.js";
import type { NodeRegistry } from "../ws/node-registry.js";
import { dropOffers, insertDestination, validateDestinationName } from "./destinations.js";
import { type IssuedEnrollKey, issueEnrollKey } from "./enroll-keys.js";
import { placementsOf } from "./placements.js";
import type { ProviderLinks } from "./provider-links.js";

const SYSTEM = { kind: "system" } as const;

/** A destination with its figures (the console's destination list). */
export interface DestinationView {
  destination: Destination;
  serverCount: number;
  storePointCount: number;
  archiveCount: number;
  archiveBytes: number;
  totalBytes: number;
  freeBytes: number;
  /** A provider destination's tenant quota (the sum over its servers), null when unlimited or not a provider's. */
  quotaBytes: number | null;
  offeredSystemWide: boolean;
  autoStart: boolean;
}

/**
 * The space a destination offers: its store points' size and free space, capped for a
 * provider's destination by the tenant quota its provider key granted (−1: unlimited), since
 * the provider's disk is not ours to fill.
 */
export function destinationSpace(
  disk: { totalBytes: number; freeBytes: number },
  archiveBytes: number,
  quotas: readonly number[],
): { totalBytes: number; freeBytes: number; quotaBytes: number | null } {
  if (quotas.length === 0 || quotas.some((q) => q < 0)) return { ...disk, quotaBytes: null };
  const quota = quotas.reduce((n, q) => n + q, 0);
  return {
    totalBytes: Math.min(quota, disk.totalBytes),
    freeBytes: Math.max(0, Math.min(disk.freeBytes, quota - archiveBytes)),
    quotaBytes: quota,
  };
}

/** A server with its figures. */
export interface ServerView {
  server: Server;
  destinationName: string;
  online: boolean;
  storePoints: StorePointLoad[];
}

/** Storage operations. */
export class StorageService {
  constructor(
    private readonly d: CoreDeps,
    private readonly nodes: NodeRegistry,
    private readonly providers: ProviderLinks,
  ) {}

  private async views(dests: readonly Destination[]): Promise<DestinationView[]> {
    const loads = await this.d.store.storePointLoads({});
    const top = await this.d.store.getTopLevelOrg();
    const offers = top === undefined ? [] : (await this.d.settings.resolveOrg(top)).values.destinations.offers;
    const servers = await this.d.store.listServers({}, { offset: 0, limit: 1_000_000 });
    return dests.map((destination) => {
      const sps = loads.filter((l) => l.destinationId === destination.destinationId);
      const offer = offers.find((o) => o.destinationGuid === destination.destinationGuid);
      const own = servers.items.filter((s) => s.destinationId === destination.destinationId);
      const archiveBytes = sps.reduce((n, s) => n + s.archiveBytes, 0);
      const disk = { totalBytes: sps.reduce((n, s) => n + s.totalBytes, 0), freeBytes: sps.reduce((n, s) => n + s.freeBytes, 0) };
      const quotas = destination.kind === "provider" ? own.map((s) => s.quotaBytes) : [];
      return {
        destination,
        serverCount: own.length,
        storePointCount: sps.length,
        archiveCount: sps.reduce((n, s) => n + s.archiveCount, 0),
        archiveBytes,
        ...destinationSpace(disk, archiveBytes, quotas),
        offeredSystemWide: offer !== undefined,
        autoStart: offer?.autoStart ?? false,
      };
    });
  }

  /** GET /api/v1/destinations. */
  async listDestinations(p: Principal, page: Page): Promise<PageResult<DestinationView>> {
    requirePermission(p, "storage.read", SYSTEM, "destination");
    const all = await this.d.store.listDestinationRecords();
    return { total: all.length, items: await this.views(all.slice(page.offset, page.offset + page.limit)) };
  }

  /** A destination by id (NOT_FOUND when removed or unknown). */
  async destination(p: Principal, destinationId: number): Promise<DestinationView> {
    requirePermission(p, "storage.read", SYSTEM, "destination");
    const d = await this.d.store.getDestination(destinationId);
    if (d === undefined || !d.active) throw new CairnError("NOT_FOUND", "No such destination");
    return (await this.views([d]))[0] as DestinationView;
  }

  /**
   * POST /api/v1/destinations: of own servers, or with a provider key (the node is dialled and
   * registered with first; a refused key creates nothing).
   */
  async createDestination(p: Principal, body: { destinationName?: unknown; providerKey?: unknown }): Promise<DestinationView> {
    requirePermission(p, "storage.write", SYSTEM, "destination");
    const name = validateDestinationName(body.destinationName);
    if ((await this.d.store.getDestinationByName(name)) !== undefined) throw new CairnError("CONFLICT", "A destination with that name exists already");
    const provider = body.providerKey === null || body.providerKey === undefined || body.providerKey === "" ? null : body.providerKey;
    const top = await this.d.store.getTopLevelOrg();
    const redeemed = provider === null ? null : await this.providers.redeem(provider, top?.name ?? "Cairn authority");
    const now = this.d.clock.now();
    const created = await this.d.store.transaction(async (tx) => {
      const r = await insertDestination(tx, this.d.settings, p, { name, kind: redeemed === null ? "cluster" : "provider" }, now);
      let server: Server | null = null;
      if (redeemed !== null) {
        const { key, registration: reg } = redeemed;
        const existing = await tx.getServerByGuid(reg.serverGuid);
        if (existing !== undefined) throw new CairnError("CONFLICT", "This provider node is already a destination of this authority");
        server = await tx.insertServer({
          serverGuid: reg.serverGuid,
          destinationId: r.destination.destinationId,
          name: reg.name,
          urls: [...reg.urls],
          fingerprint: reg.fingerprint,
          nodeSecretHash: null,
          providerTenantId: reg.tenantId,
          providerSecretSealed: this.providers.seal(reg.serverGuid, reg.tenantSecret),
          quotaBytes: reg.quotaBytes,
          nodeVersion: null,
          createdAt: now,
        });
        for (const sp of reg.storePoints) {
          await tx.upsertStorePoint(
            server.serverId,
            { nodeStorePointId: sp.storePointId, name: sp.name, totalBytes: sp.totalBytes, freeBytes: sp.freeBytes },
            now,
          );
        }
        await tx.insertProviderKey({
          destinationId: r.destination.destinationId,
          keyHash: hashSecret(key.credential),
          providerUrl: key.urls[0] as string,
          providerFingerprint: key.fingerprint,
          redeemedAt: now,
          redeemedByUserId: p.userId,
        });
      }
      return { ...r, server };
    });
    if (created.server !== null) this.providers.start(created.server);
    if (created.offeredSystemWide && created.topOrgId !== null) this.d.events.emit("settings-changed", { orgIds: [created.topOrgId], keys: ["destinations"] });
    return (await this.views([created.destination]))[0] as DestinationView;
  }

  /** PUT /api/v1/destinations/{id} `{"destinationName"}`. */
  async renameDestination(p: Principal, destinationId: number, body: { destinationName?: unknown }): Promise<DestinationView> {
    requirePermission(p, "storage.write", SYSTEM, "destination");
    const d = (await this.destination(p, destinationId)).destination;
    const name = validateDestinationName(body.destinationName);
    if (name !== d.name) {
      const other = await this.d.store.getDestinationByName(name);
      if (other !== undefined && other.destinationId !== d.destinationId) throw new CairnError("CONFLICT", "A destination with that name exists already");
      const now = this.d.clock.now();
      await this.d.store.transaction(async (tx) => {
        await tx.renameDestination(d.destinationId, name, now);
        await tx.appendAudit(auditEntry(p, now, "destination.rename", { type: "destination", id: d.destinationId, orgId: null }, { from: d.name, to: name }));
      });
    }
    return this.destination(p, destinationId);
  }

  /** DELETE /api/v1/destinations/{id}: archives to cold storage, offers dropped, links stopped. */
  async removeDestination(p: Principal, destinationId: number): Promise<void> {
    requirePermission(p, "storage.write", SYSTEM, "destination");
    const d = (await this.destination(p, destinationId)).destination;
    const now = this.d.clock.now();
    const archives = (await this.d.store.listArchives({ scope: { kind: "all" }, destinationId: d.destinationId }, { offset: 0, limit: 1_000_000 })).items;
    const servers = (await this.d.store.listServers({ destinationId: d.destinationId }, { offset: 0, limit: 100_000 })).items;
    const { orgIds, cold } = await this.d.store.transaction(async (tx) => {
      const live = archives.filter((a) => !a.cold).map((a) => ({ ...a, destinationGuid: d.destinationGuid }));
      const cold = await coldStore(tx, this.d.settings, live, "destination", d.destinationId, now);
      const orgIds = await dropOffers(tx, d.destinationGuid, now);
      await tx.retireDestination(d.destinationId, now);
      await tx.appendAudit(
        auditEntry(p, now, "destination.remove", { type: "destination", id: d.destinationId, orgId: null }, { name: d.name, coldArchives: cold }),
      );
      return { orgIds, cold };
    });
    // tell the nodes (best effort: a node that is away learns it with its next announce)
    await this.pushPlacements(archives);
    for (const s of servers) if (s.providerTenantId !== null) await this.providers.stopServer(s.serverId);
    for (const s of servers) this.nodes.get(s.serverId)?.close(4410, "destination removed");
    // the offers changed (no placement did: this destination's were pushed above)
    if (orgIds.length > 0) this.d.events.emit("settings-changed", { orgIds, keys: ["destinations"] });
    this.d.log.info({ destination: d.name, coldArchives: cold }, "destination removed");
  }

  /** Sends the current placements of archives to their nodes (cold state, quota, retention). */
  async pushPlacements(archives: readonly ArchiveRecord[]): Promise<void> {
    const fresh = (await Promise.all(archives.map((a) => this.d.store.getArchiveByGuid(a.archiveGuid)))).filter((a): a is ArchiveRecord => a !== undefined);
    const placements = await placementsOf(this.d.store, fresh);
    for (const pl of placements) {
      const a = fresh.find((x) => x.archiveGuid === pl.archiveGuid);
      if (a?.serverId == null) continue;
      await this.nodes.updatePlacement(a.serverId, pl).catch((err: unknown) => this.d.log.warn({ err, archiveGuid: a.archiveGuid }, "update-archive failed"));
    }
  }

  /** GET /api/v1/servers. */
  async listServers(p: Principal, filter: { destinationId?: number }, page: Page): Promise<PageResult<ServerView>> {
    requirePermission(p, "storage.read", SYSTEM, "server");
    const r = await this.d.store.listServers(filter, page);
    const loads = await this.d.store.storePointLoads(filter.destinationId !== undefined ? { destinationId: filter.destinationId } : {});
    const dests = new Map((await this.d.store.listDestinationRecords(true)).map((x) => [x.destinationId, x.name]));
    return {
      total: r.total,
      items: r.items.map((server) => ({
        server,
        destinationName: dests.get(server.destinationId) ?? "",
        online: this.nodes.isConnected(server.serverId),
        storePoints: loads.filter((l) => l.serverId === server.serverId),
      })),
    };
  }

  /** GET /api/v1/store-points. */
  async listStorePoints(p: Principal, filter: { serverId?: number; destinationId?: number }, page: Page): Promise<PageResult<StorePointLoad>> {
    requirePermission(p, "storage.read", SYSTEM, "store point");
    const all = await this.d.store.storePointLoads(filter);
    return { total: all.length, items: all.slice(page.offset, page.offset + page.limit) };
  }

  /** PUT /api/v1/store-points/{id} `{"acceptingNew","acceptingData"}`. */
  async setStorePointFlags(p: Principal, storePointId: number, body: { acceptingNew?: unknown; acceptingData?: unknown }): Promise<StorePointLoad> {
    requirePermission(p, "storage.write", SYSTEM, "store point");
    const sp = (await this.d.store.storePointLoads({})).find((x) => x.storePointId === storePointId);
    if (sp === undefined) throw new CairnError("NOT_FOUND", "No such store point");
    const flags: { acceptingNew?: boolean; acceptingData?: boolean } = {};
    for (const k of ["acceptingNew", "acceptingData"] as const) {
      const v = body[k];
      if (v === undefined || v === null) continue;
      if (typeof v !== "boolean") throw new CairnError("BAD_REQUEST", `${k} is true or false`, { details: { field: k } });
      flags[k] = v;
    }
    const now = this.d.clock.now();
    await this.d.store.transaction(async (tx) => {
      await tx.setStorePointFlags(storePointId, flags, now);
      await tx.appendAudit(auditEntry(p, now, "storepoint.flags", { type: "storepoint", id: storePointId, orgId: null }, flags));
    });
    return (await this.d.store.storePointLoads({})).find((x) => x.storePointId === storePointId) as StorePointLoad;
  }

  /** POST /api/v1/enroll-keys `{"destinationId"}`. */
  async createEnrollKey(p: Principal, destinationId: number): Promise<IssuedEnrollKey> {
    requirePermission(p, "storage.write", SYSTEM, "destination");
    const d = await this.d.store.getDestination(destinationId);
    if (d === undefined || !d.active) throw new CairnError("NOT_FOUND", "No such destination");
    return issueEnrollKey(this.d, p, d);
  }

  /** Whether a destination is hosted by a provider (its archives are another operator's storage). */
  async isProvider(destinationId: number): Promise<boolean> {
    return (await this.d.store.getDestination(destinationId))?.kind === "provider";
  }

  /**
   * Where restores start (DataKeyToken, zip, push and server restores): the primary
   * administrator (the first account) may not restore from a provider destination
   * (PROVIDER_RESTORE_FORBIDDEN).
   */
  async assertRestoreAllowed(p: Principal, archive: Pick<ArchiveRecord, "destinationKind">): Promise<void> {
    if (archive.destinationKind !== "provider" || p.userId === null) return;
    const primary = await this.d.store.getMeta(META.primaryAdminUserId);
    if (primary !== undefined && Number(primary) === p.userId)
      throw new CairnError("PROVIDER_RESTORE_FORBIDDEN", "The primary administrator may not restore from a provider destination");
  }

  /** Whether a user is the primary administrator. */
  async isPrimaryAdmin(userId: number): Promise<boolean> {
    return (await this.d.store.getMeta(META.primaryAdminUserId)) === String(userId);
  }
}
