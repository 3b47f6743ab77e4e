/**
 * Storage: Destinations (seed 000: "Add a new destination", the Provider box and the Provider
 * Key), Servers (add one with a one-time enroll key) and Store points (flags).
 */
import { useEffect, useState } from "preact/hooks";
import { errorMessage } from "../api/client.js";
import {
  createDestination,
  createEnrollKey,
  type Destination,
  type EnrollKey,
  listDestinations,
  listServers,
  listStorePoints,
  removeDestination,
  renameDestination,
  type Server,
  type StorePoint,
  setStorePointFlags,
} from "../api/storage.js";
import { bytes, count, dateTime } from "../format.js";
import { href, intParam, param, setQuery } from "../router.js";
import { useAsync } from "../ui/async.js";
import { Dialog } from "../ui/dialog.js";
import { FilterChips } from "../ui/filters.js";
import { Select, TextArea, TextField } from "../ui/forms.js";
import { PAGE_SIZE } from "../ui/list-params.js";
import { Menu } from "../ui/menu.js";
import { notify } from "../ui/status.js";
import { type Column, DataTable, Pager, Toolbar } from "../ui/table.js";

const used = (total?: number, free?: number) => (total === undefined || free === undefined ? "—" : `${bytes(total - free)} of ${bytes(total)}`);

/** Storage > Destinations. */
export function DestinationsPage() {
  const page = intParam("page", 1);
  const list = useAsync((s) => listDestinations(page, PAGE_SIZE, s), [page]);
  const [adding, setAdding] = useState(param("add") === "1");
  const [acting, setActing] = useState<{ kind: "rename" | "remove"; d: Destination } | null>(null);
  const columns: Column<Destination>[] = [
    { id: "name", label: "Name", render: (d) => d.destinationName },
    { id: "type", label: "Type", render: (d) => (d.type === "PROVIDER" ? "Provider" : "Own servers") },
    {
      id: "servers",
      label: "Servers",
      numeric: true,
      render: (d) => <a href={href("/storage/servers", { destinationId: d.destinationId })}>{count(d.serverCount ?? 0)}</a>,
    },
    { id: "sp", label: "Store points", numeric: true, render: (d) => count(d.storePointCount ?? 0) },
    { id: "arch", label: "Archives", numeric: true, render: (d) => `${count(d.archiveCount ?? 0)} (${bytes(d.archiveBytes ?? 0)})` },
    {
      id: "space",
      label: "Used",
      numeric: true,
      render: (d) => (d.quotaBytes == null ? used(d.totalBytes, d.freeBytes) : `${used(d.totalBytes, d.freeBytes)} quota`),
    },
    { id: "offer", label: "Offered system-wide", render: (d) => (d.offeredSystemWide ? (d.autoStart ? "Yes, auto-start" : "Yes") : "No") },
    { id: "guid", label: "GUID", render: (d) => <code>{d.guid}</code> },
    {
      id: "actions",
      label: "Actions",
      render: (d) => (
        <Menu
          label={`Actions for ${d.destinationName}`}
          text="Actions"
          testId={`destination-actions-${d.destinationId}`}
          items={[
            { id: "rename", label: "Rename", run: () => setActing({ kind: "rename", d }) },
            { id: "remove", label: "Remove destination", run: () => setActing({ kind: "remove", d }), danger: true },
          ]}
        />
      ),
    },
  ];
  return (
    <section aria-labelledby="dest-title">
      <h1 id="dest-title">Destinations</h1>
      <Toolbar>
        <button type="button" class="btn btn-primary" data-testid="add-destination" onClick={() => setAdding(true)}>
          Add a new destination
        </button>
        <a class="btn" href="#/settings/organization?tab=destinations">
          Offer destinations
        </a>
      </Toolbar>
      <DataTable<Destination>
        caption="Destinations"
        columns={columns}
        rows={list.data?.items}
        status={list.status}
        error={list.error}
        onRetry={list.reload}
        rowKey={(d) => d.destinationId}
        testId={(d) => `destination-row-${d.destinationId}`}
        emptyText="No destinations yet. Add one: your own storage servers, or a provider's with its provider key."
      />
      <Pager page={page} pageSize={PAGE_SIZE} total={list.data?.totalCount} onPage={(n) => setQuery({ page: n })} label="Destinations" />
      {adding && (
        <AddDestinationDialog
          onClose={() => {
            setAdding(false);
            if (param("add")) setQuery({ add: null }, true);
          }}
          onDone={list.reload}
        />
      )}
      {acting?.kind === "rename" && <RenameDestinationDialog d={acting.d} onClose={() => setActing(null)} onDone={list.reload} />}
      {acting?.kind === "remove" && <RemoveDestinationDialog d={acting.d} onClose={() => setActing(null)} onDone={list.reload} />}
    </section>
  );
}

function RenameDestinationDialog({ d, onClose, onDone }: { d: Destination; onClose: () => void; onDone: () => void }) {
  const [name, setName] = useState(d.destinationName);
  return (
    <Dialog
      title="Rename destination"
      submitLabel="Rename"
      testId="rename-destination-dialog"
      onClose={onClose}
      onSubmit={async () => {
        if (!name.trim()) throw new Error("Enter a name for the destination.");
        const r = await renameDestination(d.destinationId, name.trim());
        notify(`Renamed the destination to ${r.destinationName}.`);
        onDone();
      }}
    >
      <TextField label="Name" value={name} onInput={setName} required />
    </Dialog>
  );
}

/** Removing a destination is the cold-storage trigger of DECISIONS: typed confirmation first. */
function RemoveDestinationDialog({ d, onClose, onDone }: { d: Destination; onClose: () => void; onDone: () => void }) {
  const [typed, setTyped] = useState("");
  return (
    <Dialog
      title="Remove destination"
      submitLabel="Remove destination"
      danger
      testId="remove-destination-dialog"
      onClose={onClose}
      onSubmit={async () => {
        if (typed.trim() !== d.destinationName) throw new Error(`Type the destination's name, ${d.destinationName}, to confirm.`);
        await removeDestination(d.destinationId);
        notify(`Removed ${d.destinationName}: its archives are in cold storage.`);
        onDone();
      }}
    >
      <p>
        <strong>{d.destinationName}</strong> will be offered to no organization any more, and devices stop backing up to it. Its {count(d.archiveCount ?? 0)}{" "}
        archives ({bytes(d.archiveBytes ?? 0)}) move to cold storage: they can still be restored until their purge date, the cold-storage period of each
        archive's organization (Organizations › Cold storage). Its servers are disconnected.
      </p>
      <TextField label="Type the destination's name to confirm" value={typed} onInput={setTyped} required />
    </Dialog>
  );
}

function AddDestinationDialog({ onClose, onDone }: { onClose: () => void; onDone: () => void }) {
  const [name, setName] = useState("");
  const [provider, setProvider] = useState(false);
  const [key, setKey] = useState("");
  return (
    <Dialog
      title="Add a new destination"
      submitLabel="Create"
      testId="add-destination-dialog"
      onClose={onClose}
      onSubmit={async () => {
        if (!name.trim()) throw new Error("Enter a name for the destination.");
        if (provider && !key.trim()) throw new Error("Paste the provider key you received.");
        const d = await createDestination(name.trim(), provider ? key.trim() : null);
        notify(`Created destination ${d.destinationName}.`);
        onDone();
      }}
    >
      <TextField label="Name" value={name} onInput={setName} required hint="For example: Cloud storage." />
      <div class="field">
        <label class="inline">
          <input type="checkbox" checked={provider} onChange={(e) => setProvider(e.currentTarget.checked)} data-testid="provider-box" />
          Provider
        </label>
        <p class="hint">Check this for storage run by another operator, who gave you a provider key.</p>
      </div>
      {provider && <TextArea label="Provider Key" value={key} onInput={setKey} rows={4} hint="Paste the whole key." />}
      {!provider && <p class="hint">A destination of your own servers: add servers to it on the Servers screen with an enroll key.</p>}
    </Dialog>
  );
}

/** Storage > Servers. */
export function ServersPage() {
  const page = intParam("page", 1);
  const destinationId = intParam("destinationId", 0) || undefined;
  const list = useAsync((s) => listServers({ pgNum: page, pgSize: PAGE_SIZE, destinationId }, s), [page, destinationId]);
  const [adding, setAdding] = useState(false);
  const columns: Column<Server>[] = [
    { id: "name", label: "Name", render: (v) => v.serverName },
    { id: "dest", label: "Destination", render: (v) => v.destinationName },
    { id: "state", label: "Status", render: (v) => <span class={v.online ? "badge badge-ok" : "badge badge-off"}>{v.online ? "Online" : "Offline"}</span> },
    { id: "seen", label: "Last seen", nowrap: true, render: (v) => dateTime(v.lastSeen) },
    {
      id: "sp",
      label: "Store points",
      numeric: true,
      render: (v) => <a href={href("/storage/store-points", { serverId: v.serverId })}>{count(v.storePointCount ?? 0)}</a>,
    },
    { id: "space", label: "Used", numeric: true, render: (v) => used(v.totalBytes, v.freeBytes) },
    { id: "url", label: "Address", render: (v) => <code>{v.url}</code> },
  ];
  return (
    <section aria-labelledby="srv-title">
      <h1 id="srv-title">Servers</h1>
      <Toolbar>
        <button type="button" class="btn btn-primary" onClick={() => setAdding(true)} data-testid="add-server">
          Add a server
        </button>
      </Toolbar>
      <FilterChips
        chips={[
          destinationId && {
            label: `Destination: ${list.data?.items[0]?.destinationName ?? destinationId}`,
            clear: () => setQuery({ destinationId: null, page: null }),
          },
        ]}
      />
      <DataTable<Server>
        caption="Storage servers"
        columns={columns}
        rows={list.data?.items}
        status={list.status}
        error={list.error}
        onRetry={list.reload}
        rowKey={(v) => v.serverId}
        testId={(v) => `server-row-${v.serverId}`}
        emptyText="No storage servers yet. Add one with an enroll key."
      />
      <Pager page={page} pageSize={PAGE_SIZE} total={list.data?.totalCount} onPage={(n) => setQuery({ page: n })} label="Servers" />
      {adding && <EnrollDialog onClose={() => setAdding(false)} />}
    </section>
  );
}

function EnrollDialog({ onClose }: { onClose: () => void }) {
  const dests = useAsync((s) => listDestinations(1, 200, s), []);
  const own = (dests.data?.items ?? []).filter((d) => d.type !== "PROVIDER");
  const [dest, setDest] = useState("");
  const [key, setKey] = useState<EnrollKey | null>(null);
  const [error, setError] = useState<string | null>(null);
  const origin = window.location.origin;
  return (
    <Dialog title="Add a storage server" onClose={onClose} wide>
      {!key ? (
        <>
          <p>Create a one-time enroll key for the destination the new server will join, then run the command it shows on the server.</p>
          <Select
            label="Destination"
            value={dest}
            onChange={setDest}
            options={[
              { value: "", label: own.length ? "Choose a destination" : "No destination of your own servers yet" },
              ...own.map((d) => ({ value: String(d.destinationId), label: d.destinationName })),
            ]}
          />
          <button
            type="button"
            class="btn btn-primary"
            disabled={!dest}
            onClick={() => {
              setError(null);
              createEnrollKey(Number(dest)).then(setKey, (e: unknown) => setError(errorMessage(e)));
            }}
          >
            Create enroll key
          </button>
          {error && (
            <p class="form-error" role="alert">
              {error}
            </p>
          )}
        </>
      ) : (
        <>
          <p>Run this on the storage server (the key works once{key.expiresAt ? `, until ${dateTime(key.expiresAt)}` : ""}):</p>
          <pre class="mono" data-testid="enroll-command" style={{ whiteSpace: "pre-wrap", background: "#f4f6f8", padding: "0.6rem" }}>
            cairn storenode init --data /var/lib/cairn-storenode --authority {key.authorityUrl ?? origin} --authority-fingerprint{" "}
            {key.authorityFingerprint ?? "<the authority's certificate fingerprint>"} --enroll-key {key.enrollKey} --store-point /srv/cairn/sp1
          </pre>
          <p class="hint">
            Then start it with <code>cairn storenode serve --data DIR</code>; it appears here when it connects.
          </p>
        </>
      )}
    </Dialog>
  );
}

/** Storage > Store points. */
export function StorePointsPage() {
  const page = intParam("page", 1);
  const serverId = intParam("serverId", 0) || undefined;
  const list = useAsync((s) => listStorePoints({ pgNum: page, pgSize: PAGE_SIZE, serverId }, s), [page, serverId]);
  const [busy, setBusy] = useState(false);
  // The flags just set, shown until the list comes back with them (a checkbox does not snap back meanwhile).
  const [shown, setShown] = useState<ReadonlyMap<number, StorePoint>>(new Map());
  useEffect(() => setShown(new Map()), [list.data]);
  const flip = async (sp: StorePoint, change: Partial<StorePoint>) => {
    const next = { ...sp, ...change };
    setBusy(true);
    setShown((m) => new Map(m).set(sp.storePointId, next));
    try {
      await setStorePointFlags(sp.storePointId, { acceptingNew: next.acceptingNew, acceptingData: next.acceptingData });
      notify(
        `${sp.storePointName}: ${next.acceptingNew ? "accepts" : "takes no"} new archives, ${next.acceptingData ? "accepts data" : "serves restores only"}.`,
      );
      void list.reload();
    } catch (e) {
      setShown((m) => {
        const n = new Map(m);
        n.delete(sp.storePointId);
        return n;
      });
      notify(errorMessage(e), "error");
    } finally {
      setBusy(false);
    }
  };
  const columns: Column<StorePoint>[] = [
    { id: "name", label: "Name", render: (v) => v.storePointName },
    { id: "server", label: "Server", render: (v) => v.serverName },
    { id: "dest", label: "Destination", render: (v) => v.destinationName ?? "—" },
    { id: "arch", label: "Archives", numeric: true, render: (v) => count(v.archiveCount ?? 0) },
    { id: "space", label: "Used", numeric: true, render: (v) => used(v.totalBytes, v.freeBytes) },
    {
      id: "new",
      label: "Accepting new archives",
      render: (v) => (
        <input
          type="checkbox"
          aria-label={`${v.storePointName} accepts new archives`}
          checked={v.acceptingNew}
          disabled={busy}
          onChange={(e) => flip(v, { acceptingNew: e.currentTarget.checked })}
        />
      ),
    },
    {
      id: "data",
      label: "Accepting data",
      render: (v) => (
        <input
          type="checkbox"
          aria-label={`${v.storePointName} accepts data`}
          checked={v.acceptingData}
          disabled={busy}
          onChange={(e) => flip(v, { acceptingData: e.currentTarget.checked })}
        />
      ),
    },
  ];
  return (
    <section aria-labelledby="sp-title">
      <h1 id="sp-title">Store points</h1>
      <p class="muted">A store point that does not accept new archives gets no new placements; one that does not accept data serves restores only.</p>
      <FilterChips
        chips={[serverId && { label: `Server: ${list.data?.items[0]?.serverName ?? serverId}`, clear: () => setQuery({ serverId: null, page: null }) }]}
      />
      <DataTable<StorePoint>
        caption="Store points"
        columns={columns}
        rows={list.data?.items.map((v) => shown.get(v.storePointId) ?? v)}
        status={list.status}
        error={list.error}
        onRetry={list.reload}
        rowKey={(v) => v.storePointId}
        testId={(v) => `storepoint-row-${v.storePointId}`}
        emptyText="No store points yet: storage servers announce theirs when they connect."
      />
      <Pager page={page} pageSize={PAGE_SIZE} total={list.data?.totalCount} onPage={(n) => setQuery({ page: n })} label="Store points" />
    </section>
  );
}
