/**
 * The audit log: every mutating call, who made it, on what, with what outcome; newest first (the
 * When column's header turns the order round), paged on the server.
 */
import { get } from "../api/client.js";
import { dateTime } from "../format.js";
import { intParam, param, setQuery } from "../router.js";
import { useAsync } from "../ui/async.js";
import { FilterChips } from "../ui/filters.js";
import { PAGE_SIZE } from "../ui/list-params.js";
import { type Column, DataTable, Pager } from "../ui/table.js";

/** One entry (Cairn route, docs/console.md). */
interface AuditEntry {
  auditId: number;
  at: string;
  actorUsername: string | null;
  action: string;
  outcome: string;
  targetType: string | null;
  targetId: string | null;
  orgId: number | null;
  details: Record<string, unknown> | null;
}

const COLUMNS: Column<AuditEntry>[] = [
  { id: "at", label: "When", nowrap: true, sortKey: "at", render: (e) => dateTime(e.at) },
  { id: "who", label: "Who", render: (e) => e.actorUsername ?? "system" },
  {
    id: "action",
    label: "Action",
    render: (e) => (
      <button type="button" class="btn-link btn" onClick={() => setQuery({ action: e.action, page: null })} aria-label={`Show only ${e.action}`}>
        {e.action}
      </button>
    ),
  },
  { id: "target", label: "Target", render: (e) => (e.targetType ? `${e.targetType} ${e.targetId ?? ""}` : "—") },
  { id: "outcome", label: "Outcome", render: (e) => <span class={e.outcome === "ok" ? "badge badge-ok" : "badge badge-bad"}>{e.outcome}</span> },
  { id: "details", label: "Details", render: (e) => (e.details ? <code class="details">{JSON.stringify(e.details)}</code> : "—") },
];

/** The screen. */
export function AuditLog() {
  const page = intParam("page", 1);
  const action = param("action");
  const dir = param("dir") === "asc" ? "asc" : "desc";
  const list = useAsync(
    async (s) => {
      const r = await get<{ totalCount: number; auditEntries: AuditEntry[] }>(
        "/api/v1/audit-log",
        { pgNum: page, pgSize: PAGE_SIZE, action: action || undefined, srtDir: dir },
        s,
      );
      return { totalCount: r.totalCount, items: r.auditEntries };
    },
    [page, action, dir],
  );
  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit log</h1>
      <FilterChips chips={[action && { label: `Action: ${action}`, clear: () => setQuery({ action: null, page: null }) }]} />
      <DataTable<AuditEntry>
        caption="Audit log entries"
        columns={COLUMNS}
        sort={{ key: "at", dir }}
        onSort={() => setQuery({ dir: dir === "desc" ? "asc" : null, page: null })}
        rows={list.data?.items}
        status={list.status}
        error={list.error}
        onRetry={list.reload}
        rowKey={(e) => e.auditId}
        testId={(e) => `audit-row-${e.auditId}`}
        emptyText="No entries."
      />
      <Pager page={page} pageSize={PAGE_SIZE} total={list.data?.totalCount} onPage={(n) => setQuery({ page: n })} label="Audit log" />
    </section>
  );
}
