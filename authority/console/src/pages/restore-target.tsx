/**
 * The last step of a restore: download a zip, write to the authority's file system, or push to a
 * device (API.md §8 and §10), with progress. Only the ways the session allows are offered.
 */
import { useEffect, useRef, useState } from "preact/hooks";
import { errorMessage } from "../api/client.js";
import { listDevices } from "../api/devices.js";
import {
  cancelJob,
  type PushTarget,
  type RestoreJob,
  type RestoreSession,
  type Selection,
  startPush,
  startZip,
  waitForJob,
  zipIsSameOrigin,
  zipPath,
  zipResult,
} from "../api/restore.js";
import type { Computer } from "../api/types.js";
import { saveBlob, saveUrl } from "../download.js";
import { count } from "../format.js";
import { setQuery } from "../router.js";
import { useAsync } from "../ui/async.js";
import { Select, Switch, TextField } from "../ui/forms.js";
import { notify } from "../ui/status.js";

/** Where to restore the selection to, and the running job. */
export function RestoreTarget(p: {
  session: RestoreSession;
  device: Computer;
  backupSetId: string;
  files: Selection[];
  timestamp: number | null;
  showDeleted: boolean;
}) {
  const [how, setHow] = useState<"zip" | "server" | "push">(p.session.zipAllowed ? "zip" : "push");
  const [serverFolder, setServerFolder] = useState<string | null>(null);
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
  const jobId = useRef<string | null>(null);
  useEffect(() => () => abort.current?.abort(), []);
  const run = async () => {
    setRunning(true);
    setError(null);
    setJob(null);
    setServerFolder(null);
    const ctl = new AbortController();
    abort.current = ctl;
    jobId.current = null;
    try {
      if (how === "zip") {
        const id = await startZip(p.session, p.backupSetId, p.files, p.timestamp, p.showDeleted);
        jobId.current = id;
        const j = await waitForJob(p.session, id, setJob, ctl.signal);
        if (j.status.toLowerCase() === "failed" || j.status.toLowerCase() === "canceled") throw new Error(`The restore ended: ${j.status}.`);
        if (zipIsSameOrigin(p.session)) {
          saveUrl(zipPath(id), `restore-${id}.zip`);
          notify("The zip file is downloading: see the browser's downloads.");
        } else {
          saveBlob(await zipResult(p.session, id), `restore-${id}.zip`);
          notify("The zip file is downloaded.");
        }
      } else if (how === "server") {
        const id = await startZip(p.session, p.backupSetId, p.files, p.timestamp, p.showDeleted, true);
        jobId.current = id;
        const j = await waitForJob(p.session, id, setJob, ctl.signal);
        if (j.status.toLowerCase() === "failed" || j.status.toLowerCase() === "canceled") throw new Error(`The restore ended: ${j.status}.`);
        setServerFolder(j.serverFolder ?? null);
        notify(`The files are restored on the authority's disk${j.serverFolder ? ` in ${j.serverFolder}` : ""}.`);
      } else {
        if (!target.originalLocation && !target.restorePath.trim()) throw new Error("Enter the folder to restore into, or choose the original location.");
        const id = await startPush(p.session, p.backupSetId, p.files, p.timestamp, p.showDeleted, target);
        jobId.current = id;
        const j = await waitForJob(p.session, id, setJob, ctl.signal);
        if (j.status.toLowerCase() === "failed" || j.status.toLowerCase() === "canceled") throw new Error(`The restore ended: ${j.status}.`);
        notify("The files are restored to the device.");
      }
    } catch (e) {
      if (!ctl.signal.aborted) setError(errorMessage(e));
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
        {p.session.zipAllowed && (
          <label class="radio">
            <input type="radio" name="how" checked={how === "zip"} onChange={() => setHow("zip")} /> Download a zip file
          </label>
        )}
        {p.session.serverAllowed && (
          <label class="radio">
            <input type="radio" name="how" checked={how === "server"} onChange={() => setHow("server")} data-testid="restore-server" /> Restore to the
            authority's file system
          </label>
        )}
        <label class="radio">
          <input type="radio" name="how" checked={how === "push"} onChange={() => setHow("push")} data-testid="restore-push" /> Push to a device
        </label>
        {!p.session.zipAllowed && (
          <p class="hint" data-testid="web-restore-off">
            {p.session.zipOff === "limit"
              ? `Your web restore limit is 0 MB, so zip downloads are off for you; ${p.session.serverAllowed ? "restore to the authority's file system or push" : "push"} the files to a device instead.`
              : "Zip and server file-system restores are turned off for this device's organization; push the files to a device instead."}
          </p>
        )}
      </fieldset>
      {how === "zip" ? (
        <p class="hint">The web restore limit of the organization applies; large restores are better pushed to a device.</p>
      ) : how === "server" ? (
        <p class="hint">The files are written into a new folder below the authority's restore folder, named after the restore job.</p>
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
      {serverFolder && (
        <p data-testid="server-folder">
          Restored into <code>{serverFolder}</code> on the authority.
        </p>
      )}
      {error && (
        <p class="form-error" role="alert" data-testid="restore-error">
          {error}
        </p>
      )}
      <div class="actions" style={{ justifyContent: "flex-start" }}>
        <button type="submit" class="btn btn-primary" disabled={running} data-testid="start-restore">
          {running ? "Restoring…" : how === "zip" ? "Download zip" : how === "server" ? "Restore to the server" : "Push restore"}
        </button>
        {running && how === "push" && (
          <button
            type="button"
            class="btn"
            data-testid="cancel-restore"
            onClick={() => {
              const id = jobId.current;
              abort.current?.abort();
              if (id)
                cancelJob(p.session, id).then(
                  () => notify("The restore is canceled."),
                  (e: unknown) => notify(errorMessage(e), "error"),
                );
            }}
          >
            Cancel restore
          </button>
        )}
        <button type="button" class="btn" disabled={running} onClick={() => setQuery({ step: "files" })}>
          Back
        </button>
      </div>
    </form>
  );
}
