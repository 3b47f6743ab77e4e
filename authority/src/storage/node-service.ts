/**
 * The authority's side of the node control channel (protocol/src/messages/node-control.ts):
 * `enroll` (one-time enroll key → a server of the key's destination, its node secret, the store
 * points with our ids), `announce` (addresses, store points and space; answered with our public
 * keys, every revocation and every placement on that server), `report-archives` and the
 * `archive-changed` event (the figures behind backupUsage, the Archive API and the org rollups),
 * `report-damage`. Own nodes and provider nodes are served alike; a node writes figures only of
 * archives placed on its own store points.
 */
import {
  type ArchiveReport,
  CairnError,
  hashSecret,
  type Infer,
  type NODE_CHANNEL,
  newGuid,
  newSecret,
  type ParamsOf,
  type ResultOf,
  type StorePointInfo,
} from "@cairn/protocol";
import { auditEntry } from "../audit/audit.js";
import { SYSTEM_PRINCIPAL } from "../auth/access.js";
import type { CoreDeps } from "../core.js";
import type { Server } from "../db/device-records.js";
import type { NodeLink, NodeRegistry } from "../ws/node-registry.js";
import { placementsOf } from "./placements.js";
import { publicKeysOf } from "./storage-tokens.js";

type AuthorityMethods = (typeof NODE_CHANNEL)["a"]["methods"];
type NodeEvents = (typeof NODE_CHANNEL)["b"]["events"];

/** Figures of a node report as the store takes them. */
export function figuresOf(r: ArchiveReport) {
  return {
    archiveBytes: r.archiveBytes,
    selection: { selectedFiles: r.selectedFiles, selectedBytes: r.selectedBytes, todoFiles: r.todoFiles, todoBytes: r.todoBytes },
    versionCount: r.versionCount,
    fileCount: r.fileCount,
    lastBackupAt: r.lastBackup,
    lastCompletedBackupAt: r.lastCompletedBackup,
    lastMaintenanceAt: r.lastMaintenance,
    maintenanceDurationMs: r.maintenanceDurationMs,
    compactBytesRemoved: r.compactBytesRemoved,
    damagedBlocks: r.damagedBlocks,
  };
}

/** Node control operations. */
export class NodeService {
  constructor(
    private readonly d: CoreDeps,
    private readonly nodes: NodeRegistry,
  ) {}

  /** `enroll`: consumes a one-time key; ENROLL_KEY_INVALID for an unknown, used or expired key. */
  async enroll(p: ParamsOf<AuthorityMethods, "enroll">, source: string | null): Promise<ResultOf<AuthorityMethods, "enroll">> {
    const refuse = () => new CairnError("ENROLL_KEY_INVALID", "The enroll key is unknown, used or expired");
    const key = await this.d.store.getEnrollKeyByHash(hashSecret(p.enrollKey));
    const now = this.d.clock.now();
    if (key === undefined || key.usedAt !== null || key.expiresAt <= now) throw refuse();
    const destination = await this.d.store.getDestination(key.destinationId);
    if (destination === undefined || !destination.active) throw refuse();
    const nodeSecret = newSecret("cnn");
    const { server, storePoints } = await this.d.store.transaction(async (tx) => {
      const server = await tx.insertServer({
        serverGuid: newGuid(),
        destinationId: destination.destinationId,
        name: p.name,
        urls: [...p.urls],
        fingerprint: p.fingerprint,
        nodeSecretHash: hashSecret(nodeSecret),
        providerTenantId: null,
        providerSecretSealed: null,
        quotaBytes: -1,
        nodeVersion: p.nodeVersion,
        createdAt: now,
      });
      if (!(await tx.useEnrollKey(key.enrollKeyId, server.serverId, now))) throw refuse();
      const storePoints = [];
      for (const sp of p.storePoints) {
        const row = await tx.upsertStorePoint(
          server.serverId,
          { nodeStorePointId: null, name: sp.name, totalBytes: sp.totalBytes, freeBytes: sp.freeBytes },
          now,
        );
        // own nodes speak our store point ids
        await tx.setNodeStorePointId(row.storePointId, row.storePointId);
        storePoints.push({ storePointId: row.storePointId, name: row.name });
      }
      await tx.appendAudit({
        ...auditEntry(
          SYSTEM_PRINCIPAL,
          now,
          "server.enroll",
          { type: "server", id: server.serverId, orgId: null },
          {
            destinationId: destination.destinationId,
            name: p.name,
            storePoints: storePoints.length,
          },
        ),
        actorKind: "node",
        source,
      });
      return { server, storePoints };
    });
    this.d.log.info({ serverGuid: server.serverGuid, destination: destination.name }, "storage server enrolled");
    return {
      serverGuid: server.serverGuid,
      nodeSecret,
      destinationGuid: destination.destinationGuid,
      authorityGuid: this.d.authorityGuid,
      authorityPublicKeys: publicKeysOf(this.d.keys),
      storePoints,
    };
  }

  /** Records a node's store points (own nodes' ids are ours; a provider node's are its own). */
  private async recordStorePoints(server: Server, link: NodeLink | null, infos: readonly StorePointInfo[]): Promise<{ storePointId: number; name: string }[]> {
    const now = this.d.clock.now();
    const own = server.providerTenantId === null;
    return this.d.store.transaction(async (tx) => {
      const out = [];
      for (const sp of infos) {
        const row = await tx.upsertStorePoint(
          server.serverId,
          { nodeStorePointId: sp.storePointId, name: sp.name, totalBytes: sp.totalBytes, freeBytes: sp.freeBytes },
          now,
        );
        if (own && row.nodeStorePointId === null) await tx.setNodeStorePointId(row.storePointId, row.storePointId);
        const nodeId = row.nodeStorePointId ?? row.storePointId;
        link?.nodeAcceptsNew.set(nodeId, sp.acceptingNew);
        out.push({ storePointId: nodeId, name: row.name });
      }
      return out;
    });
  }

  /** `announce`: addresses, store points; answered with keys, revocations and placements. */
  async announce(server: Server, link: NodeLink, p: ParamsOf<AuthorityMethods, "announce">): Promise<ResultOf<AuthorityMethods, "announce">> {
    const now = this.d.clock.now();
    await this.d.store.transaction((tx) =>
      tx.updateServerAnnounce(server.serverId, { urls: [...p.urls], fingerprint: p.fingerprint, nodeVersion: p.nodeVersion }, now),
    );
    const storePoints = await this.recordStorePoints(server, link, p.storePoints);
    const archives = await this.d.store.listArchives({ scope: { kind: "all" }, serverId: server.serverId }, { offset: 0, limit: 1_000_000 });
    return {
      serverGuid: server.serverGuid,
      authorityGuid: this.d.authorityGuid,
      authorityPublicKeys: publicKeysOf(this.d.keys),
      storePoints,
      revocations: await this.d.store.listRevocations(),
      placements: await placementsOf(this.d.store, archives.items),
    };
  }

  /** `report-archives`: the node's figures of its archives. */
  async reportArchives(server: Server, archives: readonly ArchiveReport[]): Promise<void> {
    const now = this.d.clock.now();
    let unknown = 0;
    await this.d.store.transaction(async (tx) => {
      for (const r of archives) if (!(await tx.putArchiveFigures(r.archiveGuid, server.serverId, figuresOf(r), now))) unknown++;
      await tx.touchServer(server.serverId, now);
    });
    if (unknown > 0) this.d.log.debug({ serverId: server.serverId, unknown }, "a node reported archives this authority did not place there");
  }

  /** The `archive-changed` event (after each commit): bytes and the last completed backup. */
  async archiveChanged(server: Server, e: Infer<NodeEvents["archive-changed"]>): Promise<void> {
    const now = this.d.clock.now();
    await this.d.store.transaction((tx) =>
      tx.putArchiveFigures(e.archiveGuid, server.serverId, { archiveBytes: e.archiveBytes, lastCompletedBackupAt: e.lastCompletedBackup }, now),
    );
    this.d.events.emit("backup-committed", { archiveGuid: e.archiveGuid, serverId: server.serverId });
  }

  /** The `space-low` event: the store point's free space as the node measures it. */
  async spaceLow(server: Server, link: NodeLink, e: Infer<NodeEvents["space-low"]>): Promise<void> {
    const sp = (await this.d.store.storePointsOfServer(server.serverId)).find((s) => s.nodeStorePointId === e.storePointId);
    if (sp === undefined) return;
    link.nodeAcceptsNew.set(e.storePointId, false);
    const now = this.d.clock.now();
    await this.d.store.transaction((tx) =>
      tx.upsertStorePoint(server.serverId, { nodeStorePointId: e.storePointId, name: sp.name, totalBytes: sp.totalBytes, freeBytes: e.freeBytes }, now),
    );
    this.d.log.warn({ serverId: server.serverId, storePoint: sp.name, freeBytes: e.freeBytes }, "a store point is low on space");
  }

  /** `report-damage`: blocks that could not be healed; the administrators are told in the audit log. */
  async reportDamage(server: Server, p: ParamsOf<AuthorityMethods, "report-damage">): Promise<void> {
    const a = await this.d.store.getArchiveByGuid(p.archiveGuid);
    if (a === undefined || a.serverId !== server.serverId) throw new CairnError("NOT_FOUND", "No such archive on this server");
    const now = this.d.clock.now();
    this.d.log.error({ archiveGuid: a.archiveGuid, serverId: server.serverId, damagedBlocks: p.damagedBlocks }, "a storage node reports damaged blocks");
    await this.d.store.transaction(async (tx) => {
      await tx.putArchiveFigures(a.archiveGuid, server.serverId, { archiveBytes: a.archiveBytes, damagedBlocks: p.damagedBlocks }, now);
      await tx.appendAudit({
        ...auditEntry(
          SYSTEM_PRINCIPAL,
          now,
          "archive.damage",
          { type: "archive", id: a.archiveGuid, orgId: a.orgId },
          {
            damagedBlocks: p.damagedBlocks,
            files: p.fileIds.length,
            serverGuid: server.serverGuid,
          },
        ),
        actorKind: "node",
      });
    });
  }

  /** The registry (for the link code). */
  get registry(): NodeRegistry {
    return this.nodes;
  }
}
