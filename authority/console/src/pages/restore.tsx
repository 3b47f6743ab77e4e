/**
 * Restore files: device → point in time → browse files → download a zip or push to a device
 * (API.md §8 and §10). The device, destination and time live in the URL; the session, the
 * selection and the job in this screen.
 */
import { useState } from "preact/hooks";
import { ApiError, errorMessage } from "../api/client.js";
import { getDevice, listDevices } from "../api/devices.js";
import { backupSetsOf, openSession, type RestoreSession, type Selection } from "../api/restore.js";
import { count, dateTime } from "../format.js";
import { href, intParam, param, setQuery } from "../router.js";
import { useAsync } from "../ui/async.js";
import { Select, Switch, TextField } from "../ui/forms.js";
import { PAGE_SIZE } from "../ui/list-params.js";
import { ErrorState, Loading } from "../ui/status.js";
import { Pager } from "../ui/table.js";
import { DeviceTable } from "./devices-list.js";
import { FileTree } from "./file-tree.js";
import { SearchBox } from "./orgs-list.js";
import { RestoreTarget } from "./restore-target.js";

const STEPS = ["Device", "Point in time", "Files", "Restore"];

function Steps({ current }: { current: number }) {
  return (
    <ol class="steps" aria-label="Restore steps">
      {STEPS.map((s, i) => (
        <li key={s} aria-current={i === current ? "step" : undefined}>
          {i + 1}. {s}
        </li>
      ))}
    </ol>
  );
}

/** The screen. */
export function RestorePage() {
  const deviceId = intParam("device", 0);
  return (
    <section aria-labelledby="restore-title">
      <h1 id="restore-title">Restore files</h1>
      {deviceId ? <RestoreFromDevice key={deviceId} deviceId={deviceId} /> : <PickDevice />}
    </section>
  );
}

function PickDevice() {
  const q = param("q");
  const page = intParam("page", 1);
  const list = useAsync((s) => listDevices({ active: true, q: q || undefined, pgNum: page, pgSize: PAGE_SIZE }, s), [q, page]);
  return (
    <>
      <Steps current={0} />
      <p>Choose the device whose backup you want to restore from.</p>
      <SearchBox value={q} label="Search devices" />
      <DeviceTable list={list} caption="Devices to restore from" onOpen={(c) => setQuery({ device: c.computerId, q: null, page: null })} />
      <Pager page={page} pageSize={PAGE_SIZE} total={list.data?.totalCount} onPage={(n) => setQuery({ page: n })} label="Devices" />
    </>
  );
}

function RestoreFromDevice({ deviceId }: { deviceId: number }) {
  const dev = useAsync((s) => getDevice(deviceId, s), [deviceId]);
  const [session, setSession] = useState<RestoreSession | null>(null);
  const [sets, setSets] = useState<{ backupSetId: string; name: string }[]>([]);
  const [setId, setSetId] = useState("1");
  const [selected, setSelected] = useState<ReadonlyMap<string, Selection>>(new Map());
  const [showDeleted, setShowDeleted] = useState(false);
  const [opening, setOpening] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [secret, setSecret] = useState<{ kind: "password" | "key"; value: string } | null>(null);
  const step = param("step") === "restore" && session && selected.size ? 3 : param("step") === "files" && session ? 2 : 1;
  if (dev.status === "error") return <ErrorState message={dev.error} onRetry={dev.reload} />;
  if (!dev.data) return <Loading />;
  const c = dev.data;
  const usage = c.backupUsage ?? [];
  const dest = param("dest") || usage[0]?.targetComputerGuid || "";
  const atText = param("at");
  const timestamp = atText ? new Date(atText).getTime() : null;
  const open = async () => {
    setOpening(true);
    setError(null);
    try {
      const s = await openSession(c.guid, dest, {
        privatePassword: secret?.kind === "password" ? secret.value : null,
        encryptionKey: secret?.kind === "key" ? secret.value : null,
      });
      const bs = await backupSetsOf(c.guid, dest).catch(() => [{ backupSetId: "1", name: "Backup set" }]);
      setSets(bs);
      setSetId(bs.some((b) => b.backupSetId === "1") ? "1" : (bs[0]?.backupSetId ?? "1"));
      setSession(s);
      setSelected(new Map());
      setQuery({ step: "files" });
    } catch (e) {
      if (e instanceof ApiError && e.code === "PRIVATE_PASSWORD_INVALID") setSecret({ kind: "password", value: secret?.value ?? "" });
      if (e instanceof ApiError && e.code === "CUSTOM_KEY_INVALID") setSecret({ kind: "key", value: secret?.value ?? "" });
      setError(errorMessage(e));
    } finally {
      setOpening(false);
    }
  };
  return (
    <>
      <Steps current={step} />
      <p>
        From <a href={href(`/devices/${c.computerId}`)}>{c.name}</a> ({c.username ?? `user ${c.userId}`}) ·{" "}
        <a href={href("/restore")} onClick={() => setSession(null)}>
          choose another device
        </a>
      </p>
      {step === 1 && (
        <form
          class="card"
          aria-label="Point in time"
          onSubmit={(e) => {
            e.preventDefault();
            void open();
          }}
        >
          {usage.length === 0 ? (
            <p class="muted" data-testid="no-backup">
              This device has no backup yet.
            </p>
          ) : (
            <>
              <Select
                label="Destination"
                value={dest}
                onChange={(v) => setQuery({ dest: v }, true)}
                options={usage.map((u) => ({
                  value: u.targetComputerGuid,
                  label: `${u.targetComputerName} (last completed backup ${dateTime(u.lastCompletedBackup)})`,
                }))}
              />
              <fieldset class="field">
                <legend>Restore files as they were</legend>
                <label class="radio">
                  <input type="radio" name="when" checked={!atText} onChange={() => setQuery({ at: null }, true)} /> At the latest backup
                </label>
                <label class="radio">
                  <input type="radio" name="when" checked={!!atText} onChange={() => setQuery({ at: new Date().toISOString().slice(0, 16) }, true)} /> At a date
                  and time
                </label>
                {atText && (
                  <label class="inline">
                    Date and time{" "}
                    <input
                      type="datetime-local"
                      value={atText}
                      onInput={(e) => setQuery({ at: e.currentTarget.value || null }, true)}
                      data-testid="restore-at"
                    />
                  </label>
                )}
              </fieldset>
              {secret && (
                <TextField
                  label={secret.kind === "password" ? "Archive password" : "Custom key"}
                  type="password"
                  value={secret.value}
                  onInput={(v) => setSecret({ ...secret, value: v })}
                  hint="This archive's key is not kept by the authority: it is used for this restore only and never stored."
                />
              )}
              {error && (
                <p class="form-error" role="alert">
                  {error}
                </p>
              )}
              <div class="actions" style={{ justifyContent: "flex-start" }}>
                <button type="submit" class="btn btn-primary" disabled={opening || !dest} data-testid="browse-files">
                  {opening ? "Opening the backup…" : "Browse files"}
                </button>
              </div>
            </>
          )}
        </form>
      )}
      {step === 2 && session && (
        <>
          <div class="toolbar">
            {sets.length > 1 && (
              <Select label="Backup set" value={setId} onChange={setSetId} options={sets.map((b) => ({ value: b.backupSetId, label: b.name }))} />
            )}
            <Switch label="Show deleted files" checked={showDeleted} onChange={setShowDeleted} />
            <span class="muted">{timestamp ? `As of ${dateTime(new Date(timestamp).toISOString())}` : "Latest versions"}</span>
          </div>
          <FileTree
            session={session}
            backupSetId={setId}
            timestamp={timestamp}
            showDeleted={showDeleted}
            selected={selected}
            onToggle={(s, on) => {
              const m = new Map(selected);
              if (on) {
                for (const k of m.keys()) if (k.startsWith(s.path.endsWith("/") ? s.path : `${s.path}/`)) m.delete(k);
                m.set(s.path, s);
              } else m.delete(s.path);
              setSelected(m);
            }}
          />
          <div class="form-footer">
            <span aria-live="polite" data-testid="selected-count">
              {count(selected.size)} selected
            </span>
            <button
              type="button"
              class="btn btn-primary"
              disabled={selected.size === 0}
              onClick={() => setQuery({ step: "restore" })}
              data-testid="continue-restore"
            >
              Continue
            </button>
            <button type="button" class="btn" onClick={() => setQuery({ step: null })}>
              Back
            </button>
          </div>
        </>
      )}
      {step === 3 && session && (
        <RestoreTarget session={session} device={c} backupSetId={setId} files={[...selected.values()]} timestamp={timestamp} showDeleted={showDeleted} />
      )}
    </>
  );
}
