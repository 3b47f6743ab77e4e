/** Cold storage and restore history: API.md §7.2, §7.3, and Cairn's purge and export routes. */
import { get, post, put } from "./client.js";
import type { ColdStorageRow, Page, RestoreEvent } from "./types.js";

/** Filters and paging of the cold-storage list. */
export interface ColdQuery {
  orgId: number;
  pgNum: number;
  pgSize: number;
  srtKey?: string | undefined;
  srtDir?: "asc" | "desc" | undefined;
}

/** A page of archives in cold storage of an org and its children. */
export async function listColdStorage(q: ColdQuery, signal?: AbortSignal): Promise<Page<ColdStorageRow>> {
  const r = await get<{ totalCount: number; coldStorageRows: ColdStorageRow[] }>(
    "/api/ColdStorage",
    { orgId: q.orgId, incChildOrgs: true, srtKey: q.srtKey ?? "archiveHoldExpireDate", srtDir: q.srtDir ?? "asc", pgNum: q.pgNum, pgSize: q.pgSize },
    signal,
  );
  return { totalCount: r.totalCount, items: r.coldStorageRows };
}

/** Sets the purge date (YYYY-MM-DD) of one archive. */
export function setPurgeDate(archiveGuid: string, date: string): Promise<ColdStorageRow> {
  return put<ColdStorageRow>(`/api/coldStorage/${archiveGuid}?idType=guid`, { archiveHoldExpireDate: date });
}

/** Purges archives now (Cairn route). */
export function purgeNow(archiveGuids: string[]): Promise<{ purged: number }> {
  return post<{ purged: number }>("/api/v1/cold-storage/purge", { archiveGuids });
}

/** Filters and paging of the restore history. */
export interface HistoryQuery {
  orgId: number;
  days: number;
  pgNum: number;
  pgSize: number;
}

/** A page of restore events of an org and its children. */
export async function listRestoreHistory(q: HistoryQuery, signal?: AbortSignal): Promise<Page<RestoreEvent>> {
  const r = await get<{ totalCount: number; restoreEvents: RestoreEvent[] }>(
    "/api/RestoreHistory",
    { orgId: q.orgId, incChildOrgs: true, days: q.days, pgNum: q.pgNum, pgSize: q.pgSize },
    signal,
  );
  return { totalCount: r.totalCount, items: r.restoreEvents };
}
