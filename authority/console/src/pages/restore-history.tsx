/**
 * Restore history of an organization and its children (seed 001 "Restore history" a–i): Export,
 * Operating System, User (with a warning when someone else restored), Restore To, # Files, Size,
 * Transfer rate, Restore date, Duration.
 */
import { listRestoreHistory } from "../api/archives.js";
import { errorMessage } from "../api/client.js";
import { getOrg, myOrg } from "../api/orgs.js";
import type { RestoreEvent } from "../api/types.js";
import { download } from "../download.js";
import { bytes, count, dateTime, duration, rate } from "../format.js";
import { href, intParam, setQuery } from "../router.js";
import { useAsync } from "../ui/async.js";
import { Select } from "../ui/forms.js";
import { PAGE_SIZE } from "../ui/list-params.js";
import { ErrorState, Loading, notify } from "../ui/status.js";
import { type Column, DataTable, Pager, Toolbar } from "../ui/table.js";
import { WarningIcon } from "../ui/icons.js";

const OS: Record<string, string> = { win: "Windows", mac: "macOS", linux: "Linux" };
const STATUS: Record<string, string> = { STARTED: "Running", COMPLETED: "Completed", FAILED: "Failed", CANCELED: "Canceled" };

const COLUMNS: Column<RestoreEvent>[] = [
  {
    id: "os",
    label: "Operating System",
    render: (e) => (e.acceptingComputerOsName ? (OS[e.acceptingComputerOsName] ?? e.acceptingComputerOsName) : e.restoreType === "WEB" ? "Web (zip)" : "—"),
  },
  {
    id: "user",
    label: "User",
    render: (e) => {
      const other = e.restoredByAnotherUser ?? (e.requestingUsername && e.sourceUsername && e.requestingUsername !== e.sourceUsername);
      return (
        <>
          {e.sourceUsername ?? "—"}
          {other && (
            <span class="badge badge-bad" title={`Restored by ${e.requestingUsername}`} style={{ marginLeft: "0.3rem" }}>
              <WarningIcon />
              <span class="sr-only">Warning: restored</span> by {e.requestingUsername}
            </span>
          )}
        </>
      );
    },
  },
  {
    id: "to",
    label: "Restore To",
    render: (e) => e.acceptingComputerName ?? (e.restoreType === "WEB" ? "Download (zip)" : e.restoreType === "SERVER" ? "Server file system" : "—"),
  },
  { id: "files", label: "# Files", numeric: true, render: (e) => count(e.numFiles) },
  { id: "size", label: "Size", numeric: true, nowrap: true, render: (e) => bytes(e.numBytes) },
  { id: "rate", label: "Transfer rate", numeric: true, nowrap: true, render: (e) => rate(e.transferRateBytesPerSec) },
  { id: "date", label: "Restore date", nowrap: true, render: (e) => dateTime(e.completedDate ?? e.eventDate) },
  { id: "dur", label: "Duration", numeric: true, nowrap: true, render: (e) => duration(e.durationMs) },
  { id: "status", label: "Status", render: (e) => STATUS[e.status] ?? e.status },
];

/** The screen; without `orgId`, the caller's own organization. */
export function RestoreHistory({ orgId }: { orgId?: number }) {
  const org = useAsync((s) => (orgId ? getOrg(orgId, s) : myOrg(s)), [orgId]);
  const page = intParam("page", 1);
  const days = intParam("days", 30);
  const list = useAsync(
    (s) => (org.data ? listRestoreHistory({ orgId: org.data.orgId, days, pgNum: page, pgSize: PAGE_SIZE }, s) : new Promise<never>(() => {})),
    [org.data?.orgId, days, page],
  );
  if (org.status === "error") return <ErrorState message={org.error} onRetry={org.reload} />;
  if (!org.data) return <Loading />;
  const o = org.data;
  return (
    <section aria-labelledby="rh-title">
      <p class="breadcrumbs">
        {orgId ? (
          <>
            <a href="#/orgs">Organizations</a> › <a href={href(`/orgs/${o.orgId}`)}>{o.orgName}</a>
          </>
        ) : (
          "Restores"
        )}
      </p>
      <h1 id="rh-title">Restore history: {o.orgName}</h1>
      <Toolbar>
        <button
          type="button"
          class="btn"
          data-testid="export-restores"
          onClick={() => {
            download("/api/v1/restore-history/export", "restore-history.csv", { query: { orgId: o.orgId, days, incChildOrgs: true } }).then(
              (n) => notify(`Exported ${n}.`),
              (e: unknown) => notify(`Export failed: ${errorMessage(e)}`, "error"),
            );
          }}
        >
          Export
        </button>
        <Select
          label="Period"
          value={String(days) as "7"}
          onChange={(v) => setQuery({ days: v, page: null })}
          options={[
            { value: "7", label: "Last 7 days" },
            { value: "30", label: "Last 30 days" },
            { value: "90", label: "Last 90 days" },
            { value: "365", label: "Last year" },
            { value: "36500", label: "All" },
          ].map((x) => ({ ...x, value: x.value as "7" }))}
        />
        <a class="btn" href="#/restore">
          Restore files
        </a>
      </Toolbar>
      <DataTable<RestoreEvent>
        caption={`Restores in ${o.orgName} and its child organizations`}
        columns={COLUMNS}
        rows={list.data?.items}
        status={list.status}
        error={list.error}
        onRetry={list.reload}
        rowKey={(e) => e.eventUid}
        testId={(e) => `restore-row-${e.eventUid}`}
        emptyText="No restores in this period."
      />
      <Pager page={page} pageSize={PAGE_SIZE} total={list.data?.totalCount} onPage={(n) => setQuery({ page: n })} label="Restore history" />
    </section>
  );
}
