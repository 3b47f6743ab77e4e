/**
 * The restore history (API.md §7.3; seed 001 "Restore history"): every web, push and server
 * restore, recorded when its job is created and again when it ends; listed role-limited (the
 * caller's `restorehistory.read` scope, plus the restores they requested or of their own
 * devices) with the seed's columns, and exported as CSV.
 */
import { CairnError, DAY_MS, isoTime, newGuid } from "@cairn/protocol";
import { stringify } from "csv-stringify/sync";
import { canSee, type Principal, scopeOf } from "../auth/access.js";
import type { CoreDeps } from "../core.js";
import type { NewRestoreEvent, RestoreEventView, RestoreHistoryFilter, RestoreStatus, RestoreType } from "../db/operations-store.js";
import type { Page, PageResult, StoreWriter } from "../db/store.js";
import { deviceTarget } from "../devices/device-service.js";
import type { UserService } from "../users/user-service.js";

/** What a restore job is, for its history rows. */
export interface RestoreRecord {
  jobId: string;
  restoreType: RestoreType;
  sourceDeviceId: number | null;
  acceptingDeviceId: number | null;
  sourceUserId: number | null;
  requestingUserId: number | null;
  orgId: number | null;
  startedAt: number;
}

/** Writes the row of a job's creation (status STARTED). */
export async function recordRestoreStart(tx: StoreWriter, r: RestoreRecord, numFiles: number, numBytes: number): Promise<void> {
  await tx.insertRestoreEvent({ ...r, eventUid: newGuid(), status: "STARTED", numFiles, numBytes, completedAt: null, eventAt: r.startedAt });
}

/** Writes the row of a job's end. */
export async function recordRestoreEnd(
  tx: StoreWriter,
  r: RestoreRecord,
  status: Exclude<RestoreStatus, "STARTED">,
  numFiles: number,
  numBytes: number,
  at: number,
): Promise<void> {
  const e: NewRestoreEvent = { ...r, eventUid: newGuid(), status, numFiles, numBytes, completedAt: at, eventAt: at };
  await tx.insertRestoreEvent(e);
}

const EVENT_NAMES: Record<RestoreType, string> = { WEB: "WebRestore", PUSH: "PushRestore", SERVER: "ServerRestore" };

/** Duration (ms) of an ended restore; null while it runs. */
function duration(e: RestoreEventView): number | null {
  return e.completedAt === null ? null : Math.max(0, e.completedAt - e.startedAt);
}

/** Bytes per second of an ended restore (a zero-length duration counts as one millisecond). */
function rate(e: RestoreEventView): number | null {
  const d = duration(e);
  return d === null ? null : Math.round((e.numBytes * 1000) / Math.max(1, d));
}

/** Someone other than the archive's owner started the restore (the seed's warning mark). */
export function byAnotherUser(e: RestoreEventView): boolean {
  return e.requestingUserId !== null && e.sourceUserId !== null && e.requestingUserId !== e.sourceUserId;
}

/** The event object of API.md §7.3 (plus `restoredByAnotherUser`). */
export function restoreEventJson(e: RestoreEventView): Record<string, unknown> {
  return {
    eventUid: e.eventUid,
    eventName: EVENT_NAMES[e.restoreType],
    restoreType: e.restoreType,
    status: e.status,
    jobId: e.jobId,
    eventDate: isoTime(e.eventAt),
    startDate: isoTime(e.startedAt),
    completedDate: e.completedAt === null ? null : isoTime(e.completedAt),
    durationMs: duration(e),
    sourceComputerId: e.sourceDeviceId,
    sourceComputerGuid: e.sourceDeviceGuid,
    sourceComputerName: e.sourceDeviceName,
    sourceUserId: e.sourceUserId,
    sourceUserUid: e.sourceUserUid,
    sourceUsername: e.sourceUsername,
    acceptingComputerId: e.acceptingDeviceId,
    acceptingComputerGuid: e.acceptingDeviceGuid,
    acceptingComputerName: e.acceptingDeviceName,
    acceptingComputerOsName: e.acceptingOsName,
    requestingUserUid: e.requestingUserUid,
    requestingUsername: e.requestingUsername,
    restoredByAnotherUser: byAnotherUser(e),
    orgId: e.orgId,
    numFiles: e.numFiles,
    numBytes: e.numBytes,
    transferRateBytesPerSec: rate(e),
  };
}

/**
 * The CSV columns: an id, then the seed's table in its order (Operating System, User with the
 * "another user started it" mark and who that was, Restore To, # Files, Size, Transfer rate,
 * Restore date, Duration), then the kind and outcome.
 */
export const RESTORE_CSV_COLUMNS = [
  "eventUid",
  "operatingSystem",
  "user",
  "restoredByAnotherUser",
  "requestingUser",
  "restoreTo",
  "numFiles",
  "numBytes",
  "transferRateBytesPerSec",
  "restoreDate",
  "durationMs",
  "restoreType",
  "status",
] as const;

const RESTORE_TO: Record<RestoreType, string> = { WEB: "Download (zip)", PUSH: "", SERVER: "Server file system" };

/** The CSV of restore events (header first, formula-escaped). */
export function restoreHistoryCsv(events: readonly RestoreEventView[]): string {
  const rows = events.map((e) => [
    e.eventUid,
    e.acceptingOsName ?? "",
    e.sourceUsername ?? "",
    byAnotherUser(e) ? "TRUE" : "FALSE",
    e.requestingUsername ?? "",
    e.acceptingDeviceName ?? RESTORE_TO[e.restoreType],
    e.numFiles,
    e.numBytes,
    rate(e) ?? "",
    isoTime(e.completedAt ?? e.eventAt),
    duration(e) ?? "",
    e.restoreType,
    e.status,
  ]);
  return stringify([[...RESTORE_CSV_COLUMNS], ...rows], { escape_formulas: true, record_delimiter: "\r\n" });
}

/** Filters of a history query, as the routes parse them. */
export interface HistoryQuery {
  days?: number;
  orgId?: number;
  incChildOrgs?: boolean;
  userId?: number;
  computerId?: number;
}

/** Reads the restore history. */
export class RestoreHistoryService {
  constructor(
    private readonly d: CoreDeps,
    private readonly users: UserService,
  ) {}

  private async filter(p: Principal, q: HistoryQuery): Promise<RestoreHistoryFilter> {
    const f: RestoreHistoryFilter = { scope: scopeOf(p, "restorehistory.read"), selfUserId: p.userId };
    if (q.orgId !== undefined) {
      const org = await this.d.store.getOrg(q.orgId);
      if (org === undefined || !canSee(p, { kind: "org", orgId: org.orgId, path: org.path })) throw new CairnError("NOT_FOUND", "No such organization");
      f.orgId = org.orgId;
      if (q.incChildOrgs === true) f.orgPath = org.path;
    }
    if (q.userId !== undefined) f.userId = (await this.users.byId(p, q.userId)).user.userId;
    if (q.computerId !== undefined) f.computerId = (await this.visibleDevice(p, q.computerId)).deviceId;
    if (q.days !== undefined) f.since = this.d.clock.now() - q.days * DAY_MS;
    return f;
  }

  /**
   * A device the caller may see, as orgId and userId are checked: NOT_FOUND otherwise (an
   * unknown device, or one of another org), never an empty list that hides the refusal.
   */
  private async visibleDevice(p: Principal, deviceId: number): Promise<{ deviceId: number }> {
    const device = await this.d.store.getDevice(deviceId);
    const org = device === undefined ? undefined : await this.d.store.getOrg(device.orgId);
    if (device === undefined || org === undefined || !canSee(p, deviceTarget(device, org))) throw new CairnError("NOT_FOUND", "No such device");
    return device;
  }

  /** One page of the history. */
  async list(p: Principal, q: HistoryQuery, page: Page): Promise<PageResult<RestoreEventView>> {
    return this.d.store.listRestoreEvents(await this.filter(p, q), page);
  }

  /** Every matching event (for the CSV), newest first. */
  async all(p: Principal, q: HistoryQuery): Promise<RestoreEventView[]> {
    const f = await this.filter(p, q);
    const out: RestoreEventView[] = [];
    for (let offset = 0; ; offset += 5000) {
      const r = await this.d.store.listRestoreEvents(f, { offset, limit: 5000 });
      out.push(...r.items);
      if (r.items.length < 5000) return out;
    }
  }
}
