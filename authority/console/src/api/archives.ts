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

/** A page of cold storage, with the bytes every matching archive holds (`totalBytes`, Cairn's addition). */
export interface ColdPage extends Page<ColdStorageRow> {
  totalBytes: number;
}

/** A page of archives in cold storage of an org and its children. */
export async function listColdStorage(q: ColdQuery, signal?: AbortSignal): Promise<ColdPage> {
  const r = await get<{ totalCount: number; totalBytes?: number; coldStorageRows: ColdStorageRow[] }>(
    "/api/ColdStorage",
    { orgId: q.orgId, incChildOrgs: true, srtKey: q.srtKey ?? "archiveHoldExpireDate", srtDir: q.srtDir ?? "asc", pgNum: q.pgNum, pgSize: q.pgSize },
    signal,
  );
  return { totalCount: r.totalCount, totalBytes: r.totalBytes ?? 0, items: r.coldStorageRows };
}

/** Sets the purge date (YYYY-MM-DD) of one archive. */
export function setPurgeDate(archiveGuid: string, date: string): Promise<ColdStorageRow> {
  return put<ColdStorageRow>(`/api/coldStorage/${archiveGuid}?idType=guid`, { archiveHoldExpireDate: date });
}

/** What a purge did: archives purged, deleted from their node, and waiting for their node. */
export interface PurgeResult {
  purged: number;
  deleted: number;
  pending: number;
}

/** Purges archives now (Cairn route; at most 10,000 GUIDs a call, so larger selections go in parts). */
export async function purgeNow(archiveGuids: string[]): Promise<PurgeResult> {
  const out: PurgeResult = { purged: 0, deleted: 0, pending: 0 };
  for (let i = 0; i < archiveGuids.length; i += 5000) {
    const r = await post<PurgeResult>("/api/v1/cold-storage/purge", { archiveGuids: archiveGuids.slice(i, i + 5000) });
    out.purged += r.purged;
    out.deleted += r.deleted ?? 0;
    out.pending += r.pending ?? 0;
  }
  return out;
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
