/**
 * SQL for the audit log and the authority's meta facts.
 */
import type { AuditEntry, NewAuditEntry } from "../records.js";
import type { AuditFilter, AuditReads, AuditWrites, MetaReads, MetaWrites, Page, PageResult } from "../store.js";
import { type SqlRunner, scopeParams } from "./runner.js";

interface AuditRow {
  audit_id: number;
  at: number;
  actor_kind: AuditEntry["actorKind"];
  actor_user_id: number | null;
  actor_username: string | null;
  source: string | null;
  request_id: string | null;
  action: string;
  outcome: AuditEntry["outcome"];
  target_type: string | null;
  target_id: string | null;
  org_id: number | null;
  details_json: string | null;
}

const toEntry = (r: AuditRow): AuditEntry => ({
  auditId: r.audit_id,
  at: r.at,
  actorKind: r.actor_kind,
  actorUserId: r.actor_user_id,
  actorUsername: r.actor_username,
  source: r.source,
  requestId: r.request_id,
  action: r.action,
  outcome: r.outcome,
  targetType: r.target_type,
  targetId: r.target_id,
  orgId: r.org_id,
  details: r.details_json === null ? null : (JSON.parse(r.details_json) as Record<string, unknown>),
});

const AUDIT_PAGE_WHERE =
  "SELECT a.* FROM audit_log a LEFT JOIN orgs o ON o.org_id = a.org_id WHERE ((a.org_id IS NULL AND @all = 1) OR (o.path >= @lo AND o.path < @hi AND (@scopeOrgId IS NULL OR a.org_id = @scopeOrgId))) AND (@action IS NULL OR a.action = @action) AND (@targetType IS NULL OR a.target_type = @targetType) AND (@targetId IS NULL OR a.target_id = @targetId) AND (@since IS NULL OR a.at >= @since) AND (@until IS NULL OR a.at <= @until)";
/** Two fixed statements rather than an interpolated ORDER BY: every SQL text here is a constant. */
const AUDIT_PAGE_ASC = AUDIT_PAGE_WHERE + " ORDER BY a.audit_id ASC LIMIT @limit OFFSET @offset";
const AUDIT_PAGE_DESC = AUDIT_PAGE_WHERE + " ORDER BY a.audit_id DESC LIMIT @limit OFFSET @offset";

/** Audit and meta queries on one connection. */
export class SqliteAuditQueries implements AuditReads, AuditWrites, MetaReads, MetaWrites {
  constructor(private readonly q: SqlRunner) {}

  async listAudit(filter: AuditFilter, page: Page): Promise<PageResult<AuditEntry>> {
    const p = {
      ...scopeParams(filter.scope),
      all: filter.scope.kind === "all" ? 1 : 0,
      action: filter.action ?? null,
      targetType: filter.targetType ?? null,
      targetId: filter.targetId ?? null,
      since: filter.since ?? null,
      until: filter.until ?? null,
    };
    // Entries without an org (system-wide actions) are visible only to all-org readers.
    const total = this.q.get<{ n: number }>(
      "SELECT count(*) AS n FROM audit_log a LEFT JOIN orgs o ON o.org_id = a.org_id WHERE ((a.org_id IS NULL AND @all = 1) OR (o.path >= @lo AND o.path < @hi AND (@scopeOrgId IS NULL OR a.org_id = @scopeOrgId))) AND (@action IS NULL OR a.action = @action) AND (@targetType IS NULL OR a.target_type = @targetType) AND (@targetId IS NULL OR a.target_id = @targetId) AND (@since IS NULL OR a.at >= @since) AND (@until IS NULL OR a.at <= @until)",
      p,
    );
    const rows = this.q.all<AuditRow>(filter.newestFirst === true ? AUDIT_PAGE_DESC : AUDIT_PAGE_ASC, {
      ...p,
      limit: page.limit,
      offset: page.offset,
    });
    return { total: total?.n ?? 0, items: rows.map(toEntry) };
  }

  async appendAudit(e: NewAuditEntry): Promise<void> {
    this.q.run(
      "INSERT INTO audit_log (at, actor_kind, actor_user_id, actor_username, source, request_id, action, outcome, target_type, target_id, org_id, details_json) VALUES (@at, @actorKind, @actorUserId, @actorUsername, @source, @requestId, @action, @outcome, @targetType, @targetId, @orgId, @details)",
      { ...e, details: e.details === null ? null : JSON.stringify(e.details) },
    );
  }

  async getMeta(key: string): Promise<string | undefined> {
    return this.q.get<{ value: string }>("SELECT value FROM authority_meta WHERE key = ?", key)?.value;
  }

  async setMeta(key: string, value: string): Promise<void> {
    this.q.run("INSERT INTO authority_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value);
  }
}
