/**
 * The node's side of the node control channel (protocol/src/messages/node-control.ts), served
 * to one namespace's authority: the own authority over the link the node dials, or a tenant
 * authority over `wss://N/v1/tenant`. Every method sees only that namespace's archives; an
 * archive of another namespace is NOT_FOUND, exactly like one that does not exist.
 */
import { type ArchiveReport, CairnError, type Handlers, type nodeStorenodeMethods, type StorePointInfo } from "@cairn/protocol";
import type { NodeContext } from "../context.js";
import { OWN_NS } from "../node-db.js";
import { runMaintenance } from "../maintenance/maintenance.js";
import { streamBlocks } from "../server/data-handlers.js";
import { diskSpace, storePointInfo } from "../space.js";
import { NODE_VERSION } from "../version.js";

/**
 * Store points as a namespace sees them. A tenant with a quota sees its quota as the size and what
 * is left of it (never more than the disk has free), not the host's disk: nothing outside its
 * namespace is its business (DECISIONS.md, storage and providers).
 */
export async function storePointsFor(ctx: NodeContext, ns: string): Promise<StorePointInfo[]> {
  const infos = await Promise.all(
    ctx.registry.storePoints.map((sp) => storePointInfo(sp, (s) => ctx.registry.storePointIdFor(ns, s.id), ctx.opts.reserveBytes)),
  );
  const quota = ns === OWN_NS ? -1 : (ctx.db.tenant(ns)?.quotaBytes ?? -1);
  if (quota < 0) return infos;
  // the quota is the tenant's once, not per store point (the authority adds them up): the first
  // store point accepting data carries it, the others show none; a used-up quota takes nothing new
  const left = Math.max(0, quota - ctx.registry.namespaceBytes(ns));
  const carrier = Math.max(
    0,
    infos.findIndex((i) => i.acceptingData),
  );
  return infos.map((i, k) => ({
    ...i,
    totalBytes: k === carrier ? Math.min(i.totalBytes, quota) : 0,
    freeBytes: k === carrier ? Math.min(i.freeBytes, left) : 0,
    acceptingNew: i.acceptingNew && left > 0,
    acceptingData: i.acceptingData && left > 0,
  }));
}

/** Figures of every archive of a namespace (live for open archives, recorded for the rest). */
export async function reportsFor(ctx: NodeContext, ns: string): Promise<ArchiveReport[]> {
  const out: ArchiveReport[] = [];
  for (const row of ctx.db.archives(ns)) {
    const live = ctx.registry.loadedArchive(ns, row.guid);
    if (live) out.push(live.report(ctx.registry.storePointIdFor(ns, row.storePointId)));
    else if (row.report) out.push(row.report);
    else {
      const a = await ctx.registry.get(ns, row.guid);
      if (a) out.push(a.report(ctx.registry.storePointIdFor(ns, row.storePointId)));
    }
  }
  return out;
}

/** Builds the handlers for one namespace's control link. */
export function controlHandlers(ctx: NodeContext, ns: string): Handlers<typeof nodeStorenodeMethods> {
  const archive = async (guid: string) => {
    const a = await ctx.registry.get(ns, guid);
    if (!a) throw new CairnError("NOT_FOUND", "no such archive");
    return a;
  };
  return {
    "tenant-register"() {
      throw new CairnError("PROTOCOL_UNEXPECTED", "this link is already registered");
    },

    "set-authority-keys"(p) {
      ctx.db.setKeys(ns, p.authorityPublicKeys);
      return {};
    },

    async "place-archive"(p) {
      if (ctx.stopping) throw new CairnError("UNAVAILABLE", "the node is shutting down");
      return ctx.registry.place(ns, p, async (sp) => (await diskSpace(sp.path)).freeBytes);
    },

    async "update-archive"(p) {
      const a = await ctx.registry.update(ns, p);
      if (p.cold) for (const c of ctx.hub.onArchive(ns, p.archiveGuid)) if (c.mode === "backup") c.close(4409, "archive moved to cold storage");
      ctx.registry.saveReport(ns, a);
      return {};
    },

    "purge-archive"(p) {
      return ctx.registry.purge(ns, p.archiveGuid, async () => {
        for (const c of ctx.hub.onArchive(ns, p.archiveGuid)) c.close(4404, "archive purged");
      });
    },

    revoke(p) {
      ctx.db.addRevocations(ns, p.revocations);
      const closed = ctx.hub.revoke(ns, p.revocations);
      ctx.logger.info({ ns, revocations: p.revocations.length, closed }, "revocations applied");
      return {};
    },

    "lift-revocations"(p) {
      const lifted = ctx.db.liftRestoreRevocations(ns, p.revocations);
      ctx.logger.info({ ns, lifted }, "restore revocations lifted");
      return {};
    },

    async maintain(p) {
      // the wire result is the figures (refusals are logged here and reach the operator's command)
      const { refused: _refused, damaged: _damaged, ...figures } = await runMaintenance(ctx, ns, p.archiveGuid, { verify: p.verify });
      return figures;
    },

    async "list-archives"() {
      return { archives: await reportsFor(ctx, ns) };
    },

    async "archive-versions"(p) {
      return { versions: (await archive(p.archiveGuid)).catalog.versions() };
    },

    async "archive-files"(p) {
      return (await archive(p.archiveGuid)).catalog.listFiles(p.at, p.cursor, p.limit, p.includeDeleted);
    },

    async "archive-file-history"(p) {
      return { versions: (await archive(p.archiveGuid)).catalog.fileHistory(p.fileId) };
    },

    async "archive-get"(p, call) {
      const a = await archive(p.archiveGuid);
      a.users++;
      try {
        return { count: await streamBlocks(a, p.ids, call) };
      } finally {
        a.users--;
      }
    },

    async "archive-missing"(p) {
      const a = await archive(p.archiveGuid);
      const missing: Buffer[] = [];
      for (let o = 0; o < p.ids.length; o += 32) {
        const id = p.ids.subarray(o, o + 32);
        if (!a.store.has(id)) missing.push(id);
      }
      return { missing: Buffer.concat(missing) };
    },

    "device-connected"(p) {
      return { connected: ctx.hub.ofDevice(ns, p.deviceGuid).length > 0 };
    },

    async status() {
      const storePoints = await storePointsFor(ctx, ns);
      const degraded = storePoints.some((s) => !s.acceptingData);
      return { serverGuid: ctx.serverGuid, nodeVersion: NODE_VERSION, state: degraded ? "degraded" : "ok", storePoints, serverTime: ctx.clock.now() };
    },
  };
}

/** Whether a namespace is the own authority's. */
export function isOwn(ns: string): boolean {
  return ns === OWN_NS;
}
