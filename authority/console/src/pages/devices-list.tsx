/**
 * Devices list: filter by status, organization and user, search, sort, server paging. Each row
 * shows the last completed backup, % complete, selected and archive sizes, destinations and
 * alert state (OK / warning / critical).
 */
import { alertLevel, listDevices } from "../api/devices.js";
import type { Computer, Page } from "../api/types.js";
import { bytes, count, dateTime } from "../format.js";
import { href, navigate, param, setQuery } from "../router.js";
import { type AsyncResult, useAsync } from "../ui/async.js";
import { FilterChips, StatusFilter } from "../ui/filters.js";
import { listParams, PAGE_SIZE } from "../ui/list-params.js";
import { type Column, DataTable, Pager, type Sort, Toolbar } from "../ui/table.js";
import { SearchBox } from "./orgs-list.js";

/** Status and alert badges of a device. */
export function DeviceStatus({ c }: { c: Computer }) {
  const level = alertLevel(c);
  return (
    <>
      <span class={c.active ? "badge badge-ok" : "badge badge-off"}>{c.status}</span> {c.blocked && <span class="badge badge-bad">Blocked</span>}{" "}
      {c.active && level !== "ok" && (
        <span class={level === "critical" ? "badge badge-bad" : "badge badge-warn"}>{level === "critical" ? "Critical" : "Warning"}</span>
      )}
    </>
  );
}

function newestBackup(c: Computer): string | null {
  if (c.lastCompletedBackup) return c.lastCompletedBackup;
  const all = (c.backupUsage ?? []).map((b) => b.lastCompletedBackup).filter((x): x is string => !!x);
  return all.sort().at(-1) ?? null;
}

const sum = (c: Computer, k: "selectedBytes" | "archiveBytes") => (c.backupUsage ?? []).reduce((n, b) => n + (b[k] ?? 0), 0);

const COLUMNS: Column<Computer>[] = [
  { id: "name", label: "Name", sortKey: "name", nowrap: true, render: (c) => <a href={href(`/devices/${c.computerId}`)}>{c.name}</a> },
  { id: "user", label: "User", sortKey: "userId", render: (c) => <a href={href(`/users/${c.userId}`)}>{c.username ?? `user ${c.userId}`}</a> },
  { id: "org", label: "Organization", render: (c) => <a href={href(`/orgs/${c.orgId}`)}>{c.orgName ?? `org ${c.orgId}`}</a> },
  { id: "status", label: "Status", sortKey: "status", nowrap: true, render: (c) => <DeviceStatus c={c} /> },
  { id: "last", label: "Last completed backup", sortKey: "lastCompletedBackup", nowrap: true, render: (c) => dateTime(newestBackup(c)) },
  {
    id: "pct",
    label: "% complete",
    numeric: true,
    render: (c) => {
      const u = c.backupUsage ?? [];
      return u.length ? `${Math.min(...u.map((b) => b.percentComplete ?? 0)).toFixed(0)} %` : "—";
    },
  },
  { id: "sel", label: "Selected", numeric: true, nowrap: true, render: (c) => bytes(sum(c, "selectedBytes")) },
  { id: "arc", label: "Archive", numeric: true, nowrap: true, render: (c) => bytes(sum(c, "archiveBytes")) },
  { id: "dest", label: "Destinations", render: (c) => (c.backupUsage ?? []).map((b) => b.targetComputerName).join(", ") || "—" },
];

/** A table of devices (used by the list, user details and the restore flow). */
export function DeviceTable(p: {
  list: AsyncResult<Page<Computer>>;
  caption: string;
  sort?: Sort | null;
  onSort?: (k: string) => void;
  onOpen?: (c: Computer) => void;
  emptyText?: string;
}) {
  return (
    <DataTable<Computer>
      caption={p.caption}
      columns={COLUMNS}
      rows={p.list.data?.items}
      status={p.list.status}
      error={p.list.error}
      onRetry={p.list.reload}
      rowKey={(c) => c.computerId}
      testId={(c) => `device-row-${c.computerId}`}
      emptyText={p.emptyText ?? "No devices."}
      sort={p.sort ?? null}
      {...(p.onSort ? { onSort: p.onSort } : {})}
      onOpen={p.onOpen ?? ((c) => navigate(`/devices/${c.computerId}`))}
      rowClass={(c) => (c.active ? "" : "inactive")}
    />
  );
}

/** The devices screen. */
export function DevicesList() {
  const lp = listParams();
  const orgUid = param("orgUid");
  const userUid = param("userUid");
  const list = useAsync(
    (s) =>
      listDevices(
        {
          active: lp.status === "active",
          orgUid: orgUid || undefined,
          userUid: userUid || undefined,
          q: lp.q || undefined,
          pgNum: lp.page,
          pgSize: PAGE_SIZE,
          srtKey: lp.srtKey,
          srtDir: lp.srtDir,
        },
        s,
      ),
    [lp.status, orgUid, userUid, lp.q, lp.page, lp.srtKey, lp.srtDir],
  );
  const d = list.data;
  return (
    <section aria-labelledby="devices-title">
      <h1 id="devices-title">Devices</h1>
      <Toolbar>
        <StatusFilter value={lp.status} onApply={lp.setStatus} />
        {d && (d.warningCount !== undefined || d.criticalCount !== undefined) && (
          <span class="muted" data-testid="alert-counts">
            {count(d.warningCount ?? 0)} warning · {count(d.criticalCount ?? 0)} critical
          </span>
        )}
        <SearchBox value={lp.q} label="Search devices" />
      </Toolbar>
      <FilterChips
        chips={[
          lp.status === "deactivated" && { label: "Status: Deactivated", clear: () => lp.setStatus("active") },
          orgUid && { label: `Organization: ${param("org") || orgUid}`, clear: () => setQuery({ orgUid: null, org: null, page: null }) },
          userUid && { label: `User: ${param("user") || userUid}`, clear: () => setQuery({ userUid: null, user: null, page: null }) },
          lp.q && { label: `Contains “${lp.q}”`, clear: () => setQuery({ q: null, page: null }) },
        ]}
      />
      <DeviceTable
        list={list}
        caption={`${lp.status === "active" ? "Active" : "Deactivated"} devices`}
        sort={lp.sort}
        onSort={lp.onSort}
        emptyText={lp.q ? "No device matches." : lp.status === "deactivated" ? "No deactivated devices." : "No devices."}
      />
      <Pager page={lp.page} pageSize={PAGE_SIZE} total={d?.totalCount} onPage={lp.onPage} label="Devices" />
    </section>
  );
}
