/** Destinations, servers, store points, enroll keys and offers: Cairn's `/api/v1/…` routes (docs/console.md). */
import { del, get, post, put } from "./client.js";
import type { Page } from "./types.js";

/** A destination. */
export interface Destination {
  destinationId: number;
  guid: string;
  destinationName: string;
  type: string;
  serverCount?: number;
  storePointCount?: number;
  archiveCount?: number;
  archiveBytes?: number;
  totalBytes?: number;
  freeBytes?: number;
  /** A provider's destination: the tenant quota (then totalBytes and freeBytes are within it); null when unlimited. */
  quotaBytes?: number | null;
  offeredSystemWide?: boolean;
  autoStart?: boolean;
  creationDate?: string;
}

/** A storage server. */
export interface Server {
  serverId: number;
  guid: string;
  serverName: string;
  destinationId: number;
  destinationName: string;
  url: string;
  online: boolean;
  lastSeen: string | null;
  storePointCount?: number;
  totalBytes?: number;
  freeBytes?: number;
  archiveCount?: number;
}

/** A store point. */
export interface StorePoint {
  storePointId: number;
  storePointName: string;
  serverId: number;
  serverName: string;
  destinationName?: string;
  totalBytes: number;
  freeBytes: number;
  archiveCount?: number;
  acceptingNew: boolean;
  acceptingData: boolean;
}

/** A destination with what is offered where. */
export interface Offer {
  destinationId: number;
  guid: string;
  destinationName: string;
  type: string;
  offered: boolean;
  autoStart: boolean;
}

/** An org's destination offers. */
export interface OrgOffers {
  inherit: boolean;
  inheritedFromOrgId: number | null;
  inheritedFromOrgName: string | null;
  destinations: Offer[];
}

/** A page of destinations. */
export async function listDestinations(pgNum: number, pgSize: number, signal?: AbortSignal): Promise<Page<Destination>> {
  const r = await get<{ totalCount: number; destinations: Destination[] }>("/api/v1/destinations", { pgNum, pgSize }, signal);
  return { totalCount: r.totalCount, items: r.destinations };
}

/** Adds a destination; with a provider key, one on another operator's storage. */
export function createDestination(destinationName: string, providerKey: string | null): Promise<Destination> {
  return post<Destination>("/api/v1/destinations", { destinationName, providerKey });
}

/** Renames a destination. */
export function renameDestination(destinationId: number, destinationName: string): Promise<Destination> {
  return put<Destination>(`/api/v1/destinations/${destinationId}`, { destinationName });
}

/** Removes a destination: its archives go to cold storage, and it is offered nowhere any more. */
export function removeDestination(destinationId: number): Promise<void> {
  return del<void>(`/api/v1/destinations/${destinationId}`);
}

/** A page of servers. */
export async function listServers(q: { pgNum: number; pgSize: number; destinationId?: number | undefined }, signal?: AbortSignal): Promise<Page<Server>> {
  const r = await get<{ totalCount: number; servers: Server[] }>("/api/v1/servers", q, signal);
  return { totalCount: r.totalCount, items: r.servers };
}

/** A page of store points. */
export async function listStorePoints(q: { pgNum: number; pgSize: number; serverId?: number | undefined }, signal?: AbortSignal): Promise<Page<StorePoint>> {
  const r = await get<{ totalCount: number; storePoints: StorePoint[] }>("/api/v1/store-points", q, signal);
  return { totalCount: r.totalCount, items: r.storePoints };
}

/** Sets a store point's flags. */
export function setStorePointFlags(storePointId: number, flags: { acceptingNew: boolean; acceptingData: boolean }): Promise<StorePoint> {
  return put<StorePoint>(`/api/v1/store-points/${storePointId}`, flags);
}

/** A one-time key with which a storage node enrolls into a destination. */
export function createEnrollKey(destinationId: number): Promise<EnrollKey> {
  return post<EnrollKey>("/api/v1/enroll-keys", { destinationId });
}

/** A new enroll key, with what the node's `init` needs to reach and pin this authority. */
export interface EnrollKey {
  enrollKey: string;
  expiresAt?: string;
  authorityUrl?: string;
  authorityFingerprint?: string;
}

/** System-wide offers. */
export async function systemOffers(signal?: AbortSignal): Promise<Offer[]> {
  return (await get<{ destinations: Offer[] }>("/api/v1/settings/destinations", undefined, signal)).destinations;
}

/** Sets the system-wide offers. */
export async function putSystemOffers(destinations: { destinationId: number; offered: boolean; autoStart: boolean }[]): Promise<Offer[]> {
  return (await put<{ destinations: Offer[] }>("/api/v1/settings/destinations", { destinations })).destinations;
}

/** An org's offers. */
export function orgOffers(orgId: number, signal?: AbortSignal): Promise<OrgOffers> {
  return get<OrgOffers>(`/api/v1/orgs/${orgId}/destinations`, undefined, signal);
}

/** Sets an org's offers (or inherits again). */
export function putOrgOffers(
  orgId: number,
  inherit: boolean,
  destinations: { destinationId: number; offered: boolean; autoStart: boolean }[],
): Promise<OrgOffers> {
  return put<OrgOffers>(`/api/v1/orgs/${orgId}/destinations`, { inherit, destinations });
}
