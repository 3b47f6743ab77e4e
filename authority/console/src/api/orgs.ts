/** Organizations: API.md §4 and §5, and Cairn's `/api/v1/orgs/…` routes (docs/console.md). */
import { del, get, post, put } from "./client.js";
import type { Org, OrgWithSettings, Page, SettingPacket } from "./types.js";

/** Filters and paging of the org list. */
export interface OrgQuery {
  active: boolean;
  q?: string | undefined;
  parentOrgId?: number | undefined;
  /** Leave out this org and its descendants (Cairn's filter: the candidates for a new parent). */
  excludeSubtreeOf?: number | undefined;
  pgNum: number;
  pgSize: number;
  srtKey?: string | undefined;
  srtDir?: "asc" | "desc" | undefined;
  /** Users, devices and child counts of each row (default true; a picker needs only names). */
  incCounts?: boolean;
}

/** A page of orgs with their counts (`GET /api/Org`; `parentOrgId` is a Cairn filter). */
export async function listOrgs(q: OrgQuery, signal?: AbortSignal): Promise<Page<Org>> {
  const r = await get<{ totalCount: number; orgs: Org[] }>(
    "/api/Org",
    {
      pgNum: q.pgNum,
      pgSize: q.pgSize,
      active: q.active,
      q: q.q,
      parentOrgId: q.parentOrgId,
      excludeSubtreeOf: q.excludeSubtreeOf,
      srtKey: q.srtKey,
      srtDir: q.srtDir,
      incCounts: q.incCounts ?? true,
    },
    signal,
  );
  return { totalCount: r.totalCount, items: r.orgs };
}

/** The caller's own org, the root of what they see. */
export function myOrg(signal?: AbortSignal): Promise<Org> {
  return get<Org>("/api/Org/my", { incCounts: true }, signal);
}

/** One org with its counts and figures. */
export function getOrg(orgId: number, signal?: AbortSignal): Promise<Org & OrgFigures> {
  return get<Org & OrgFigures>(`/api/Org/${orgId}`, { incCounts: true }, signal);
}

/** Storage figures and alert counts of an org (the CSV export's columns, with `incCounts`). */
export interface OrgFigures {
  selectedFiles?: number;
  selectedBytes?: number;
  todoFiles?: number;
  todoBytes?: number;
  archiveBytes?: number;
  warningCount?: number;
  criticalCount?: number;
}

/** One org with every settings part (py42's call 1 of §5.1). */
export function getOrgSettings(orgId: number, signal?: AbortSignal): Promise<OrgWithSettings> {
  return get<OrgWithSettings>(`/api/Org/${orgId}`, { incSettings: true, incDeviceDefaults: true, incInheritedOrgInfo: true, incCounts: true }, signal);
}

/** Who receives the org's backup report (the first administrator, the org's admins, its additional recipients). */
export interface ReportRecipients {
  recipients: string[];
  firstAdministrator: string | null;
  orgAdmins: string[];
  additional: string[];
}

/** The org's backup report recipients as the server sends to them. */
export function getReportRecipients(orgId: number, signal?: AbortSignal): Promise<ReportRecipients> {
  return get<ReportRecipients>(`/api/v1/orgs/${orgId}/report-recipients`, undefined, signal);
}

/** The org's setting packets (§5.3). */
export function getPackets(orgId: number, signal?: AbortSignal): Promise<Record<string, SettingPacket>> {
  return get<Record<string, SettingPacket>>(`/api/OrgSetting/${orgId}`, undefined, signal);
}

/** Sets packets at this org (`locked` locks them for descendants; a null value inherits again). */
export function putPackets(orgId: number, packets: { key: string; value: string | null; locked: boolean }[]): Promise<unknown> {
  return put(`/api/OrgSetting/${orgId}`, { packets });
}

/** Writes the whole org object back (§5.5). */
export function putOrg(org: OrgWithSettings | Org): Promise<OrgWithSettings> {
  return put<OrgWithSettings>(`/api/Org/${org.orgId}`, org);
}

/** Creates an org under `parentOrgUid`. */
export function createOrg(orgName: string, parentOrgUid: string, orgExtRef: string | null = null, notes: string | null = null): Promise<Org> {
  return post<Org>("/api/Org/", { orgName, orgExtRef, notes, parentOrgUid });
}

/** Renames an org: the whole object with a new name (§4 update). */
export async function renameOrg(orgId: number, orgName: string): Promise<void> {
  const org = await getOrgSettings(orgId);
  await putOrg({ ...org, orgName });
}

/** Saves the external reference and notes. */
export async function saveReference(orgId: number, orgExtRef: string | null, notes: string | null): Promise<void> {
  const org = await getOrgSettings(orgId);
  await putOrg({ ...org, orgExtRef, notes });
}

/** Deactivates an org and its subtree. */
export function deactivateOrg(orgId: number): Promise<void> {
  return put<void>(`/api/OrgDeactivation/${orgId}`);
}

/** Reactivates an org. */
export function activateOrg(orgId: number): Promise<void> {
  return del<void>(`/api/OrgDeactivation/${orgId}`);
}

/** Moves an org under another parent (Cairn route). */
export function changeParent(orgId: number, parentOrgId: number): Promise<Org> {
  return put<Org>(`/api/v1/orgs/${orgId}/parent`, { parentOrgId });
}

/** Orders every device of this org (not its children) to upgrade its agent (Cairn route). */
export function upgradeClients(orgId: number): Promise<{ deviceCount: number; offeredVersion: string | null; notifiedDevices: number }> {
  return post<{ deviceCount: number; offeredVersion: string | null; notifiedDevices: number }>(`/api/v1/orgs/${orgId}/upgrade-clients`);
}

/** What the authority sent for "Email backup report". */
export interface SentReport {
  recipients: string[];
  subject: string;
  /** Devices in the report (the org's and its children's). */
  devices: number;
}

/**
 * Emails the org's backup report for the last `days` days, now, to `recipients` (null: the org's
 * own report recipients, else the first administrator). Cairn route; 503 UNAVAILABLE when the
 * authority has no SMTP server (`--smtp-url`).
 */
export function emailBackupReport(orgId: number, recipients: string[] | null, days: number): Promise<SentReport> {
  return post<SentReport>(`/api/v1/orgs/${orgId}/backup-report`, { recipients, days });
}

/** The ancestors of an org, nearest first, each with its settings (for "inherited from"). */
export async function ancestorsWithSettings(org: OrgWithSettings, signal?: AbortSignal): Promise<OrgWithSettings[]> {
  const out: OrgWithSettings[] = [];
  let parentId = org.parentOrgId;
  while (parentId !== null && parentId !== undefined && out.length < 64) {
    try {
      const p = await getOrgSettings(parentId, signal);
      out.push(p);
      parentId = p.parentOrgId;
    } catch {
      break; // an ancestor above the caller's own org is not visible to them
    }
  }
  return out;
}

/** Issues a new registration key (the old one stops working; Cairn route). */
export function rotateRegistrationKey(orgId: number): Promise<Org> {
  return post<Org>(`/api/v1/orgs/${orgId}/registration-key`);
}
