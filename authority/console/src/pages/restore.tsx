/**
 * Restore files: device → point in time → browse files → download a zip or push to a device
 * (API.md §8 and §10). The device, destination and time live in the URL; the session, the
 * selection and the job in this screen.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError, errorMessage } from "../api/client.js";
import { getDevice, listDevices } from "../api/devices.js";
import {
  backupSetsOf,
  openSession,
  type PushTarget,
  type RestoreJob,
  type RestoreSession,
  type Selection,
  startPush,
  startZip,
  waitForJob,
  zipResult,
} from "../api/restore.js";
import type { Computer } from "../api/types.js";
import { saveBlob } from "../download.js";
import { count, dateTime } from "../format.js";
import { href, intParam, param, setQuery } from "../router.js";
import { useAsync } from "../ui/async.js";
import { Select, Switch, TextField } from "../ui/forms.js";
import { PAGE_SIZE } from "../ui/list-params.js";
import { ErrorState, Loading, notify } from "../ui/status.js";
import { Pager } from "../ui/table.js";
import { DeviceTable } from "./devices-list.js";
import { FileTree } from "./file-tree.js";
import { SearchBox } from "./orgs-list.js";

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

function RestoreTarget(p: {
  session: RestoreSession;
  device: Computer;
  backupSetId: string;
  files: Selection[];
  timestamp: number | null;
  showDeleted: boolean;
}) {
  const [how, setHow] = useState<"zip" | "push">("zip");
  const [target, setTarget] = useState<PushTarget>({
    acceptingGuid: p.device.guid,
    restorePath: "",
    originalLocation: false,
    existingFiles: "RENAME_ORIGINAL",
  });
  const targets = useAsync((s) => listDevices({ active: true, userUid: p.device.userUid, pgNum: 1, pgSize: 100 }, s), [p.device.userUid]);
  const [job, setJob] = useState<RestoreJob | null>(null);
  const [running, setRunning] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const abort = useRef<AbortController | null>(null);
  useEffect(() => () => abort.current?.abort(), []);
  const run = async () => {
    setRunning(true);
    setError(null);
    setJob(null);
    const ctl = new AbortController();
    abort.current = ctl;
    try {
      if (how === "zip") {
        const id = await startZip(p.session, p.backupSetId, p.files, p.timestamp, p.showDeleted);
        const j = await waitForJob(p.session, id, setJob, ctl.signal);
        if (j.status.toLowerCase() === "failed" || j.status.toLowerCase() === "canceled") throw new Error(`The restore ended: ${j.status}.`);
        saveBlob(await zipResult(p.session, id), `restore-${id}.zip`);
        notify("The zip file is downloaded.");
      } else {
        if (!target.originalLocation && !target.restorePath.trim()) throw new Error("Enter the folder to restore into, or choose the original location.");
        const id = await startPush(p.session, p.backupSetId, p.files, p.timestamp, p.showDeleted, target);
        const j = await waitForJob(p.session, id, setJob, ctl.signal);
        if (j.status.toLowerCase() === "failed" || j.status.toLowerCase() === "canceled") throw new Error(`The restore ended: ${j.status}.`);
        notify("The files are restored to the device.");
      }
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setRunning(false);
    }
  };
  const pct = job ? (job.done ? 100 : (job.percentComplete ?? 0)) : 0;
  return (
    <form
      class="card"
      aria-label="Restore target"
      onSubmit={(e) => {
        e.preventDefault();
        void run();
      }}
    >
      <p>
        {count(p.files.length)} selected: {p.files.map((f) => f.path).join(", ")}
      </p>
      <fieldset class="field">
        <legend>Restore to</legend>
        <label class="radio">
          <input type="radio" name="how" checked={how === "zip"} onChange={() => setHow("zip")} /> Download a zip file
        </label>
        <label class="radio">
          <input type="radio" name="how" checked={how === "push"} onChange={() => setHow("push")} data-testid="restore-push" /> Push to a device
        </label>
      </fieldset>
      {how === "zip" ? (
        <p class="hint">The web restore limit of the organization applies; large restores are better pushed to a device.</p>
      ) : (
        <>
          <Select
            label="Device to restore to"
            value={target.acceptingGuid}
            onChange={(v) => setTarget({ ...target, acceptingGuid: v })}
            options={(targets.data?.items ?? [p.device]).map((d) => ({
              value: d.guid,
              label: `${d.name}${d.guid === p.device.guid ? " (the same device)" : ""}`,
            }))}
          />
          <Switch label="Restore to the original location" checked={target.originalLocation} onChange={(v) => setTarget({ ...target, originalLocation: v })} />
          {!target.originalLocation && (
            <TextField
              label="Folder on the device"
              value={target.restorePath}
              onInput={(v) => setTarget({ ...target, restorePath: v })}
              hint="For example /home/ana/restored"
            />
          )}
          <Select
            label="Existing files"
            value={target.existingFiles}
            onChange={(v) => setTarget({ ...target, existingFiles: v })}
            options={[
              { value: "RENAME_ORIGINAL", label: "Keep them (rename the existing file)" },
              { value: "OVERWRITE_ORIGINAL", label: "Overwrite them" },
            ]}
          />
        </>
      )}
      {job && (
        <p>
          <progress class="progress" max={100} value={pct} aria-label="Restore progress" />{" "}
          <span data-testid="job-status">{job.done ? job.status : `${pct.toFixed(0)} %`}</span>
        </p>
      )}
      {error && (
        <p class="form-error" role="alert" data-testid="restore-error">
          {error}
        </p>
      )}
      <div class="actions" style={{ justifyContent: "flex-start" }}>
        <button type="submit" class="btn btn-primary" disabled={running} data-testid="start-restore">
          {running ? "Restoring…" : how === "zip" ? "Download zip" : "Push restore"}
        </button>
        <button type="button" class="btn" disabled={running} onClick={() => setQuery({ step: "files" })}>
          Back
        </button>
      </div>
    </form>
  );
}
