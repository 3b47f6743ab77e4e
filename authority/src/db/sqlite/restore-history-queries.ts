/**
 * SQL of the restore history (API.md §7.3): one row when a restore job is created and one when
 * it ends; the list shows each job once, by its newest row, newest first. A restore is seen where
 * its source device is and where its receiving device is (a push into another org's device shows
 * in that org's history too, and in its owner's).
 */
import type {
  NewRestoreEvent,
  RestoreEventView,
  RestoreHistoryFilter,
  RestoreHistoryReads,
  RestoreHistoryWrites,
  RestoreStatus,
  RestoreType,
} from "../operations-store.js";
import type { Page, PageResult } from "../store.js";
import { type SqlRunner, scopeParams, subtreeRange } from "./runner.js";

interface EventRow {
  restore_event_id: number;
  event_uid: string;
  job_id: string;
  restore_type: RestoreType;
  status: RestoreStatus;
  source_device_id: number | null;
  accepting_device_id: number | null;
  source_user_id: number | null;
  requesting_user_id: number | null;
  org_id: number | null;
  num_files: number;
  num_bytes: number;
  started_at: number;
  completed_at: number | null;
  event_at: number;
  source_device_guid: string | null;
  source_device_name: string | null;
  source_user_uid: string | null;
  source_username: string | null;
  accepting_device_guid: string | null;
  accepting_device_name: string | null;
  accepting_os_name: string | null;
  requesting_user_uid: string | null;
  requesting_username: string | null;
}

const SELECT = `SELECT e.restore_event_id, e.event_uid, e.job_id, e.restore_type, e.status, e.source_device_id, e.accepting_device_id,
  e.source_user_id, e.requesting_user_id, e.org_id, e.num_files, e.num_bytes, e.started_at, e.completed_at, e.event_at,
  sd.device_guid AS source_device_guid, sd.name AS source_device_name, su.user_uid AS source_user_uid, su.username AS source_username,
  ad.device_guid AS accepting_device_guid, ad.name AS accepting_device_name, ad.os_name AS accepting_os_name,
  ru.user_uid AS requesting_user_uid, ru.username AS requesting_username`;

const FROM = `FROM restore_events e LEFT JOIN orgs o ON o.org_id = e.org_id
  LEFT JOIN devices sd ON sd.device_id = e.source_device_id LEFT JOIN users su ON su.user_id = e.source_user_id
  LEFT JOIN devices ad ON ad.device_id = e.accepting_device_id LEFT JOIN orgs ao ON ao.org_id = ad.org_id
  LEFT JOIN users ru ON ru.user_id = e.requesting_user_id`;

const WHERE = `WHERE e.restore_event_id = (SELECT max(x.restore_event_id) FROM restore_events x WHERE x.job_id = e.job_id)
  AND ((o.path >= @lo AND o.path < @hi AND (@scopeOrgId IS NULL OR o.org_id = @scopeOrgId))
       OR (ao.path >= @lo AND ao.path < @hi AND (@scopeOrgId IS NULL OR ao.org_id = @scopeOrgId))
       OR (@self IS NOT NULL AND (e.requesting_user_id = @self OR e.source_user_id = @self OR ad.user_id = @self)))
  AND (@orgId IS NULL OR (@orgLo IS NULL AND (e.org_id = @orgId OR ad.org_id = @orgId))
       OR (@orgLo IS NOT NULL AND ((o.path >= @orgLo AND o.path < @orgHi) OR (ao.path >= @orgLo AND ao.path < @orgHi))))
  AND (@userId IS NULL OR e.source_user_id = @userId OR e.requesting_user_id = @userId OR ad.user_id = @userId)
  AND (@computerId IS NULL OR e.source_device_id = @computerId OR e.accepting_device_id = @computerId)
  AND (@since IS NULL OR e.event_at >= @since)`;

const LIST_SQL = [SELECT, FROM, WHERE, "ORDER BY e.event_at DESC, e.restore_event_id DESC LIMIT @limit OFFSET @offset"].join("\n");
const COUNT_SQL = ["SELECT count(*) AS n", FROM, WHERE].join("\n");
const JOB_SQL = [SELECT, FROM, "WHERE e.job_id = ? ORDER BY e.restore_event_id"].join("\n");

function toView(r: EventRow): RestoreEventView {
  return {
    restoreEventId: r.restore_event_id,
    eventUid: r.event_uid,
    jobId: r.job_id,
    restoreType: r.restore_type,
    status: r.status,
    sourceDeviceId: r.source_device_id,
    acceptingDeviceId: r.accepting_device_id,
    sourceUserId: r.source_user_id,
    requestingUserId: r.requesting_user_id,
    orgId: r.org_id,
    numFiles: r.num_files,
    numBytes: r.num_bytes,
    startedAt: r.started_at,
    completedAt: r.completed_at,
    eventAt: r.event_at,
    sourceDeviceGuid: r.source_device_guid,
    sourceDeviceName: r.source_device_name,
    sourceUserUid: r.source_user_uid,
    sourceUsername: r.source_username,
    acceptingDeviceGuid: r.accepting_device_guid,
    acceptingDeviceName: r.accepting_device_name,
    acceptingOsName: r.accepting_os_name,
    requestingUserUid: r.requesting_user_uid,
    requestingUsername: r.requesting_username,
  };
}

/** Restore-history queries on one connection. */
export class SqliteRestoreHistoryQueries implements RestoreHistoryReads, RestoreHistoryWrites {
  constructor(private readonly q: SqlRunner) {}

  async listRestoreEvents(f: RestoreHistoryFilter, page: Page): Promise<PageResult<RestoreEventView>> {
    const org = f.orgPath !== undefined ? subtreeRange(f.orgPath) : null;
    const p = {
      ...scopeParams(f.scope),
      self: f.selfUserId,
      orgId: f.orgId ?? null,
      orgLo: org?.lo ?? null,
      orgHi: org?.hi ?? null,
      userId: f.userId ?? null,
      computerId: f.computerId ?? null,
      since: f.since ?? null,
    };
    const total = this.q.get<{ n: number }>(COUNT_SQL, p)?.n ?? 0;
    const rows = this.q.all<EventRow>(LIST_SQL, { ...p, limit: page.limit, offset: page.offset });
    return { total, items: rows.map(toView) };
  }

  async restoreEventsOfJob(jobId: string): Promise<RestoreEventView[]> {
    return this.q.all<EventRow>(JOB_SQL, jobId).map(toView);
  }

  async insertRestoreEvent(e: NewRestoreEvent): Promise<void> {
    this.q.run(
      `INSERT INTO restore_events (event_uid, job_id, restore_type, status, source_device_id, accepting_device_id, source_user_id, requesting_user_id,
        org_id, num_files, num_bytes, started_at, completed_at, event_at)
       VALUES (@eventUid, @jobId, @restoreType, @status, @sourceDeviceId, @acceptingDeviceId, @sourceUserId, @requestingUserId,
        @orgId, @numFiles, @numBytes, @startedAt, @completedAt, @eventAt)`,
      { ...e },
    );
  }
}
