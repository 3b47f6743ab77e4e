/**
 * Cold storage of an organization and its children (seed 001 "Cold Storage" a–k): Export,
 * Select all, Change purge date, Purge archives; columns Type, Archive GUID, Organization, User,
 * Device Name, Hostname, Store point, Size, Purge Date.
 */
import { useState } from "preact/hooks";
import { listColdStorage, purgeNow, setPurgeDate } from "../api/archives.js";
import { errorMessage } from "../api/client.js";
import { getOrg, myOrg } from "../api/orgs.js";
import type { ColdStorageRow } from "../api/types.js";
import { download } from "../download.js";
import { bytes, count, counted, date } from "../format.js";
import { href, intParam, param, setQuery } from "../router.js";
import { useAsync } from "../ui/async.js";
import { Dialog } from "../ui/dialog.js";
import { TextField } from "../ui/forms.js";
import { PAGE_SIZE } from "../ui/list-params.js";
import { ErrorState, Loading, notify } from "../ui/status.js";
import { type Column, DataTable, Pager, type Sort, Toolbar } from "../ui/table.js";

const COLUMNS: Column<ColdStorageRow>[] = [
  { id: "type", label: "Type", sortKey: "archiveType", render: (r) => (r.archiveType === "BACKUP" ? "Backup" : r.archiveType) },
  { id: "guid", label: "Archive GUID", render: (r) => <code>{r.archiveGuid}</code> },
  { id: "org", label: "Organization", sortKey: "orgName", render: (r) => <a href={href(`/orgs/${r.orgId}`)}>{r.orgName}</a> },
  { id: "user", label: "User", render: (r) => <a href={href(`/users/${r.sourceUserId}`)}>{r.sourceUserUsername}</a> },
  { id: "device", label: "Device Name", render: (r) => r.sourceComputerName ?? "Not Available" },
  { id: "host", label: "Hostname", render: (r) => r.sourceComputerOsHostname ?? "Not Available" },
  { id: "sp", label: "Store point", sortKey: "mountPointName", render: (r) => r.storePointName ?? "—" },
  { id: "size", label: "Size", sortKey: "archiveBytes", numeric: true, nowrap: true, render: (r) => bytes(r.archiveBytes) },
  {
    id: "purge",
    label: "Purge Date",
    sortKey: "archiveHoldExpireDate",
    nowrap: true,
    render: (r) =>
      r.purgePending ? <span data-testid="purge-pending">Purged: waits for its storage node to delete the data</span> : date(r.archiveHoldExpireDate),
  },
];

/** The screen; without `orgId`, the caller's own organization. */
export function ColdStorage({ orgId }: { orgId?: number }) {
  const org = useAsync((s) => (orgId ? getOrg(orgId, s) : myOrg(s)), [orgId]);
  if (org.status === "error") return <ErrorState message={org.error} onRetry={org.reload} />;
  if (!org.data) return <Loading />;
  return <ColdList orgId={org.data.orgId} orgName={org.data.orgName} scoped={orgId !== undefined} />;
}

function ColdList({ orgId, orgName, scoped }: { orgId: number; orgName: string; scoped: boolean }) {
  const page = intParam("page", 1);
  const sort: Sort = { key: param("sort") || "archiveHoldExpireDate", dir: param("dir") === "desc" ? "desc" : "asc" };
  const list = useAsync(
    (s) => listColdStorage({ orgId, pgNum: page, pgSize: PAGE_SIZE, srtKey: sort.key, srtDir: sort.dir }, s),
    [orgId, page, sort.key, sort.dir],
  );
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const [allPages, setAllPages] = useState(false);
  const [open, setOpen] = useState<"date" | "purge" | null>(null);
  const rows = list.data?.items ?? [];
  const total = list.data?.totalCount ?? 0;
  const nSelected = allPages ? total : selected.size;
  /** The GUIDs an action applies to: every archive of the list when "all" was chosen. */
  const targets = async (): Promise<string[]> => {
    if (!allPages) return [...selected];
    const out: string[] = [];
    for (let p = 1; out.length < total; p++) {
      const r = await listColdStorage({ orgId, pgNum: p, pgSize: 1000, srtKey: sort.key, srtDir: sort.dir });
      out.push(...r.items.map((x) => x.archiveGuid));
      if (r.items.length < 1000) break;
    }
    return out;
  };
  const clear = () => {
    setSelected(new Set());
    setAllPages(false);
    void list.reload();
  };
  return (
    <section aria-labelledby="cold-title">
      <p class="breadcrumbs">
        {scoped ? (
          <>
            <a href="#/orgs">Organizations</a> › <a href={href(`/orgs/${orgId}`)}>{orgName}</a>
          </>
        ) : (
          "Restores"
        )}
      </p>
      <h1 id="cold-title">Cold storage: {orgName}</h1>
      <p class="muted">Archives of deactivated devices, users and organizations, and of destinations no longer offered, kept until their purge date.</p>
      <Toolbar>
        <button
          type="button"
          class="btn"
          data-testid="export-cold"
          onClick={() => {
            // Every archive of the list when all are selected (or none is): the server's whole list.
            (allPages || nSelected === 0 ? Promise.resolve(null) : targets())
              .then((guids) => download("/api/v1/cold-storage/export", "cold-storage.csv", { body: { orgId, incChildOrgs: true, archiveGuids: guids } }))
              .then(
                (n) => notify(`Exported ${n}.`),
                (e: unknown) => notify(`Export failed: ${errorMessage(e)}`, "error"),
              );
          }}
        >
          Export{nSelected ? ` ${count(nSelected)} selected` : ""}
        </button>
        <button type="button" class="btn" disabled={nSelected === 0} onClick={() => setOpen("date")} data-testid="change-purge-date">
          Change purge date
        </button>
        <button type="button" class="btn btn-danger" disabled={nSelected === 0} onClick={() => setOpen("purge")} data-testid="purge">
          Purge archives
        </button>
        <span class="muted" aria-live="polite">
          {nSelected ? `${count(nSelected)} selected` : ""}
        </span>
      </Toolbar>
      {selected.size === rows.length && rows.length > 0 && total > rows.length && !allPages && (
        <p class="bulk">
          {rows.length === 1 ? "The archive on this page is selected." : `All ${counted(rows.length, "archive")} on this page are selected.`}
          <button type="button" class="btn btn-small btn-link" onClick={() => setAllPages(true)}>
            Select all {counted(total, "archive")}
          </button>
        </p>
      )}
      {allPages && (
        <p class="bulk">
          {total === 1 ? "The archive is selected." : `All ${counted(total, "archive")} are selected.`}
          <button
            type="button"
            class="btn btn-small btn-link"
            onClick={() => {
              setAllPages(false);
              setSelected(new Set());
            }}
          >
            Clear selection
          </button>
        </p>
      )}
      <DataTable<ColdStorageRow>
        caption={`Archives in cold storage of ${orgName} and its child organizations`}
        columns={COLUMNS}
        rows={list.data?.items}
        status={list.status}
        error={list.error}
        onRetry={list.reload}
        rowKey={(r) => r.archiveGuid}
        testId={(r) => `cold-row-${r.archiveGuid}`}
        emptyText="No archives in cold storage."
        sort={sort}
        onSort={(k) => setQuery({ sort: k, dir: sort.key === k && sort.dir === "asc" ? "desc" : "asc", page: null })}
        selected={allPages ? new Set(rows.map((r) => r.archiveGuid)) : selected}
        rowLabel={(r) => `archive ${r.archiveGuid}`}
        onSelect={(r, on) => {
          // a purged archive waiting for its node has nothing left to change
          if (r.purgePending) return;
          setAllPages(false);
          const s = new Set(selected);
          if (on) s.add(r.archiveGuid);
          else s.delete(r.archiveGuid);
          setSelected(s);
        }}
        onSelectAll={(on) => {
          setAllPages(false);
          setSelected(on ? new Set(rows.filter((r) => !r.purgePending).map((r) => r.archiveGuid)) : new Set());
        }}
      />
      <Pager
        page={page}
        pageSize={PAGE_SIZE}
        total={list.data?.totalCount}
        onPage={(n) => {
          setSelected(new Set());
          setAllPages(false);
          setQuery({ page: n });
        }}
        label="Cold storage"
      />
      {open === "date" && <PurgeDateDialog n={nSelected} targets={targets} onClose={() => setOpen(null)} onDone={clear} />}
      {open === "purge" && (
        <Dialog
          title={`Purge ${counted(nSelected, "archive")}?`}
          submitLabel="Purge"
          danger
          testId="purge-dialog"
          onClose={() => setOpen(null)}
          onSubmit={async () => {
            const r = await purgeNow(await targets());
            notify(
              r.pending > 0
                ? `${counted(r.purged, "archive")} purged; ${count(r.pending)} ${r.pending === 1 ? "is" : "are"} deleted from their storage server when it reconnects.`
                : `${counted(r.purged, "archive")} purged.`,
            );
            clear();
          }}
        >
          <p>
            The archives' keys are destroyed at once, so nobody can restore from them any more, and their storage servers delete them. This cannot be undone.
          </p>
        </Dialog>
      )}
    </section>
  );
}

function PurgeDateDialog({ n, targets, onClose, onDone }: { n: number; targets: () => Promise<string[]>; onClose: () => void; onDone: () => void }) {
  const [value, setValue] = useState("");
  return (
    <Dialog
      title="Change purge date"
      testId="purge-date-dialog"
      onClose={onClose}
      onSubmit={async () => {
        if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) throw new Error("Choose a date.");
        const guids = await targets();
        for (const g of guids) await setPurgeDate(g, value);
        notify(`Purge date of ${counted(guids.length, "archive")} set to ${value}.`);
        onDone();
      }}
    >
      <p>
        {n === 1 ? "The selected archive" : `The ${count(n)} selected archives`} will be removed from their store points on this date. A past date purges them
        at the next run.
      </p>
      <TextField label="Purge date" type="date" value={value} onInput={setValue} required />
    </Dialog>
  );
}
