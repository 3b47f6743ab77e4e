/**
 * Cairn's storage routes (DECISIONS.md "One public REST API"; docs/console.md): destinations
 * (list, create of own servers or from a provider key, rename, remove), servers, store points
 * and their flags, enroll keys. Same envelope, paging and errors as API.md.
 */
import type { TLSSocket } from "node:tls";
import { isoTime } from "@cairn/protocol";
import type { FastifyRequest } from "fastify";
import type { AuthorityContext } from "../../context.js";
import type { StorePointLoad } from "../../db/device-records.js";
import type { DestinationView, ServerView } from "../../storage/storage-service.js";
import { type ApiRouter, NO_CONTENT } from "../api-router.js";
import { bodyObject, numericId, optionalId, pageParams, pathId } from "../params.js";

const TAGS = ["storage"];

/** A destination as the storage routes show it. */
export function destinationViewJson(v: DestinationView): Record<string, unknown> {
  const d = v.destination;
  return {
    destinationId: d.destinationId,
    guid: d.destinationGuid,
    destinationName: d.name,
    type: d.kind === "provider" ? "PROVIDER" : "CLUSTER",
    isProvider: d.kind === "provider",
    serverCount: v.serverCount,
    storePointCount: v.storePointCount,
    archiveCount: v.archiveCount,
    archiveBytes: v.archiveBytes,
    totalBytes: v.totalBytes,
    freeBytes: v.freeBytes,
    quotaBytes: v.quotaBytes,
    offeredSystemWide: v.offeredSystemWide,
    autoStart: v.autoStart,
    creationDate: isoTime(d.createdAt),
  };
}

function serverJson(v: ServerView): Record<string, unknown> {
  const s = v.server;
  return {
    serverId: s.serverId,
    guid: s.serverGuid,
    serverName: s.name,
    destinationId: s.destinationId,
    destinationName: v.destinationName,
    url: s.urls[0] ?? null,
    urls: s.urls,
    fingerprint: s.fingerprint,
    online: v.online,
    lastSeen: s.lastSeenAt === null ? null : isoTime(s.lastSeenAt),
    isProvider: s.providerTenantId !== null,
    nodeVersion: s.nodeVersion,
    quotaBytes: s.quotaBytes,
    storePointCount: v.storePoints.length,
    totalBytes: v.storePoints.reduce((n, x) => n + x.totalBytes, 0),
    freeBytes: v.storePoints.reduce((n, x) => n + x.freeBytes, 0),
    archiveCount: v.storePoints.reduce((n, x) => n + x.archiveCount, 0),
  };
}

function storePointJson(sp: StorePointLoad): Record<string, unknown> {
  return {
    storePointId: sp.storePointId,
    storePointName: sp.name,
    serverId: sp.serverId,
    serverName: sp.serverName,
    destinationId: sp.destinationId,
    destinationName: sp.destinationName,
    totalBytes: sp.totalBytes,
    freeBytes: sp.freeBytes,
    archiveCount: sp.archiveCount,
    archiveBytes: sp.archiveBytes,
    acceptingNew: sp.acceptingNew,
    acceptingData: sp.acceptingData,
  };
}

/** This authority as the caller reaches it, and the certificate it presented (for `storenode init`). */
function authorityOf(req: FastifyRequest): { authorityUrl: string | null; authorityFingerprint: string | null } {
  const host = req.headers.host;
  const cert = (req.raw.socket as TLSSocket).getCertificate?.();
  const fp = cert !== null && cert !== undefined && "fingerprint256" in cert ? String(cert.fingerprint256) : null;
  return { authorityUrl: typeof host === "string" && /^[A-Za-z0-9.:[\]-]+$/.test(host) ? `https://${host}` : null, authorityFingerprint: fp };
}

/** Registers the storage routes. */
export function registerStorageRoutes(api: ApiRouter, ctx: AuthorityContext): void {
  api.route({
    method: "GET",
    url: "/api/v1/destinations",
    auth: "user",
    summary: "Destinations with their servers, store points, archives, space and system-wide offer",
    tags: TAGS,
    handler: async ({ p, query }) => {
      const r = await ctx.storage.listDestinations(p, pageParams(query));
      return { totalCount: r.total, destinations: r.items.map(destinationViewJson) };
    },
  });
  api.route({
    method: "POST",
    url: "/api/v1/destinations",
    auth: "user",
    summary: "Add a destination of own servers, or with providerKey one hosted by another operator's storage node",
    tags: TAGS,
    handler: async ({ p, body }) => destinationViewJson(await ctx.storage.createDestination(p, bodyObject(body))),
  });
  api.route({
    method: "GET",
    url: "/api/v1/destinations/:id",
    auth: "user",
    summary: "One destination",
    tags: TAGS,
    handler: async ({ p, params }) => destinationViewJson(await ctx.storage.destination(p, pathId(params.id, "destinationId"))),
  });
  api.route({
    method: "PUT",
    url: "/api/v1/destinations/:id",
    auth: "user",
    summary: "Rename a destination",
    tags: TAGS,
    handler: async ({ p, params, body }) => destinationViewJson(await ctx.storage.renameDestination(p, pathId(params.id, "destinationId"), bodyObject(body))),
  });
  api.route({
    method: "DELETE",
    url: "/api/v1/destinations/:id",
    auth: "user",
    summary: "Remove a destination: its archives go to cold storage and it is offered nowhere any more",
    tags: TAGS,
    handler: async ({ p, params }) => {
      await ctx.storage.removeDestination(p, pathId(params.id, "destinationId"));
      return NO_CONTENT;
    },
  });
  api.route({
    method: "GET",
    url: "/api/v1/servers",
    auth: "user",
    summary: "Storage servers (destinationId), with whether each is connected now",
    tags: TAGS,
    handler: async ({ p, query }) => {
      const destinationId = optionalId(query, "destinationId");
      const r = await ctx.storage.listServers(p, destinationId === undefined ? {} : { destinationId }, pageParams(query));
      return { totalCount: r.total, servers: r.items.map(serverJson) };
    },
  });
  api.route({
    method: "GET",
    url: "/api/v1/store-points",
    auth: "user",
    summary: "Store points (serverId, destinationId) with their space, archives and flags",
    tags: TAGS,
    handler: async ({ p, query }) => {
      const serverId = optionalId(query, "serverId");
      const destinationId = optionalId(query, "destinationId");
      const r = await ctx.storage.listStorePoints(
        p,
        { ...(serverId !== undefined ? { serverId } : {}), ...(destinationId !== undefined ? { destinationId } : {}) },
        pageParams(query),
      );
      return { totalCount: r.total, storePoints: r.items.map(storePointJson) };
    },
  });
  api.route({
    method: "PUT",
    url: "/api/v1/store-points/:id",
    auth: "user",
    summary: "Set a store point's flags: accepting new archives, accepting data",
    tags: TAGS,
    handler: async ({ p, params, body }) => storePointJson(await ctx.storage.setStorePointFlags(p, pathId(params.id, "storePointId"), bodyObject(body))),
  });
  api.route({
    method: "POST",
    url: "/api/v1/enroll-keys",
    auth: "user",
    summary: "A one-time key (24 h) with which a new storage node enrolls into a destination",
    tags: TAGS,
    handler: async ({ p, body, req }) => {
      const k = await ctx.storage.createEnrollKey(p, numericId(bodyObject(body).destinationId, "destinationId"));
      return {
        enrollKey: k.enrollKey,
        destinationId: k.destinationId,
        destinationGuid: k.destinationGuid,
        destinationName: k.destinationName,
        expiresAt: isoTime(k.expiresAt),
        ...authorityOf(req),
      };
    },
  });
}
