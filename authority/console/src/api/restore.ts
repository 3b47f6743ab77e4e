/**
 * The web restore sequence of API.md §8 (zip download) and §10 (push to a device), as py42 runs
 * it: LoginToken and AuthToken for the storage hop, a data key token, a restore session, the
 * backup sets, the file tree, then a job that is polled until done.
 */
import { ApiError, del, fetchRaw, get, post, type RequestOptions } from "./client.js";

/** A node of the backup's file tree (§8 step 7). */
export interface TreeNode {
  id: string;
  path: string;
  filename: string;
  type: string;
  deleted: boolean;
  lastModified?: string | null;
  lastBackup?: string | null;
  size?: number;
}

/** A restore job's state (§8 step 11). */
export interface RestoreJob {
  jobId?: string;
  done: boolean;
  status: string;
  percentComplete?: number;
  bytesZipped?: number;
  /** Where a server file-system restore wrote its files, once done (Cairn). */
  serverFolder?: string | null;
}

/** An open restore session on the storage URL of one device and destination. */
export interface RestoreSession {
  deviceGuid: string;
  destinationGuid: string;
  serverUrl: string;
  token: string;
  sessionId: string;
  dataKeyToken: string;
  /** The device's organization allows zip (web) restores (Cairn's session field). */
  zipAllowed: boolean;
  /** Why not: the organization turned web restores off, or the caller's web restore limit is 0 MB. */
  zipOff: "organization" | "limit" | null;
  /** A restore to the authority's file system is possible: allowed, and the authority has a restore folder. */
  serverAllowed: boolean;
  /** The archive password or custom key the session was opened with (memory only; a push opens its own session with it). */
  secret: Secret;
}

/** What the session needs when the archive's key is not escrowed. */
export interface Secret {
  privatePassword: string | null;
  encryptionKey: string | null;
}

/** Options of a storage-step call: its origin and token; a 401 there ends the restore session, not the console session. */
function onStorage(s: Pick<RestoreSession, "serverUrl" | "token">): RequestOptions {
  return { origin: new URL(s.serverUrl).origin, headers: { Authorization: `token ${s.token}` }, allow401: true };
}

/** Steps 2–5: storage hop, data key token, restore session. */
export async function openSession(deviceGuid: string, destinationGuid: string, secret: Secret): Promise<RestoreSession> {
  const login = await post<{ serverUrl: string; loginToken: string }>("/api/LoginToken", { userId: "my", sourceGuid: deviceGuid, destinationGuid });
  const origin = new URL(login.serverUrl).origin;
  const pair = await post<string[]>("/api/AuthToken", undefined, { origin, headers: { Authorization: `login_token ${login.loginToken}` }, allow401: true });
  const token = pair.join("-");
  const { dataKeyToken } = await post<{ dataKeyToken: string }>("/api/DataKeyToken", { computerGuid: deviceGuid });
  const base = { serverUrl: login.serverUrl, token };
  const ses = await post<{ webRestoreSessionId: string; zipRestoreAllowed?: boolean; zipRestoreOff?: string | null; serverRestoreAllowed?: boolean }>(
    "/api/WebRestoreSession",
    { computerGuid: deviceGuid, dataKeyToken, privatePassword: secret.privatePassword, encryptionKey: secret.encryptionKey },
    onStorage(base),
  );
  return {
    deviceGuid,
    destinationGuid,
    serverUrl: login.serverUrl,
    token,
    sessionId: ses.webRestoreSessionId,
    dataKeyToken,
    zipAllowed: ses.zipRestoreAllowed !== false,
    zipOff: ses.zipRestoreOff === "limit" ? "limit" : ses.zipRestoreAllowed === false ? "organization" : null,
    serverAllowed: ses.serverRestoreAllowed === true,
    secret,
  };
}

/** Step 6: the backup sets of the device on that destination. */
export async function backupSetsOf(deviceGuid: string, destinationGuid: string): Promise<{ backupSetId: string; name: string }[]> {
  const r = await get<{ backupSets: { backupSetId: string; name: string }[] }>(`/c42api/v3/BackupSets/${deviceGuid}/${destinationGuid}`);
  return r.backupSets;
}

/** Step 7: the roots (no `fileId`) or the children of a directory, at `timestamp` (null: latest). */
export async function treeNodes(
  s: RestoreSession,
  backupSetId: string,
  fileId: string | null,
  timestamp: number | null,
  showDeleted: boolean,
  signal?: AbortSignal,
): Promise<TreeNode[]> {
  const r = await get<TreeNode[] | undefined>(
    "/api/WebRestoreTreeNode",
    { webRestoreSessionId: s.sessionId, guid: s.deviceGuid, backupSetId, showDeleted, fileId, timestamp },
    signal,
    onStorage(s),
  );
  return Array.isArray(r) ? r : [];
}

/** One selected path. */
export interface Selection {
  path: string;
  fileType: "FILE" | "DIRECTORY";
}

const groups = (backupSetId: string, files: Selection[]) => [
  { backupSetId, files: files.map((f) => ({ fileType: f.fileType, path: f.path, selected: true })) },
];
const counts = (files: Selection[]) => ({
  numFiles: files.filter((f) => f.fileType === "FILE").length || 1,
  numDirs: files.filter((f) => f.fileType === "DIRECTORY").length,
  numBytes: 1,
});

/** Step 10: a zip job, or with `toServer` a restore into the authority's restore folder. */
export async function startZip(
  s: RestoreSession,
  backupSetId: string,
  files: Selection[],
  timestamp: number | null,
  showDeleted: boolean,
  toServer = false,
): Promise<string> {
  const r = await post<{ jobId: string }>(
    "/api/v9/restore/web",
    {
      sourceComputerGuid: s.deviceGuid,
      webRestoreSessionId: s.sessionId,
      restoreGroups: groups(backupSetId, files),
      ...counts(files),
      expireJob: null,
      showDeleted,
      restoreFullPath: null,
      restoreToServer: toServer ? true : null,
      timestamp,
    },
    onStorage(s),
  );
  return r.jobId;
}

/** Step 11: the job's state. */
export function jobState(s: RestoreSession, jobId: string, signal?: AbortSignal): Promise<RestoreJob> {
  return get<RestoreJob>(`/api/WebRestoreJob/${encodeURIComponent(jobId)}`, undefined, signal, onStorage(s));
}

/** Polls until the job is done (every second); `onProgress` sees each state. */
export async function waitForJob(s: RestoreSession, jobId: string, onProgress: (j: RestoreJob) => void, signal: AbortSignal): Promise<RestoreJob> {
  for (;;) {
    const j = await jobState(s, jobId, signal);
    onProgress(j);
    if (j.done) return j;
    await new Promise((r) => setTimeout(r, 1000));
    if (signal.aborted) throw new ApiError(0, "CANCELED", "Canceled.");
  }
}

/** Step 12: the zip, read into memory (a storage URL of another origin, which the session cookie does not reach). */
export async function zipResult(s: RestoreSession, jobId: string): Promise<Blob> {
  const res = await fetchRaw("GET", zipPath(jobId), { ...onStorage(s), accept: "application/octet-stream" });
  return res.blob();
}

/** Where the zip of a job is. */
export const zipPath = (jobId: string) => `/api/WebRestoreJobResult/${encodeURIComponent(jobId)}`;

/**
 * Whether the browser can download the zip itself: the storage URL is the console's own origin
 * (API.md §9 "one URL for both roles"), which accepts the session cookie, so the zip streams to
 * disk instead of being held in memory.
 */
export const zipIsSameOrigin = (s: RestoreSession) => new URL(s.serverUrl).origin === window.location.origin;

/** Cancels a job (its keys are overwritten; a push tells the agent to stop). */
export async function cancelJob(s: RestoreSession, jobId: string): Promise<void> {
  await del<void>("/api/WebRestoreJob", { ...onStorage(s), body: { jobId } });
}

/** Where a push restore writes. */
export interface PushTarget {
  acceptingGuid: string;
  restorePath: string;
  originalLocation: boolean;
  existingFiles: "RENAME_ORIGINAL" | "OVERWRITE_ORIGINAL";
}

/** §10: pushes the selection to a device; answers the job id. */
export async function startPush(
  s: RestoreSession,
  backupSetId: string,
  files: Selection[],
  timestamp: number | null,
  showDeleted: boolean,
  t: PushTarget,
): Promise<string> {
  const connected = await get<{ serverUrl: string | null }>("/api/connectedServerUrl", { guid: t.acceptingGuid });
  if (!connected.serverUrl) throw new ApiError(400, "DEVICE_NOT_CONNECTED", "The receiving device is not connected to the authority right now.");
  const origin = new URL(connected.serverUrl).origin;
  const { dataKeyToken } = await post<{ dataKeyToken: string }>("/api/DataKeyToken", { computerGuid: s.deviceGuid });
  const ses = await post<{ webRestoreSessionId: string; zipRestoreAllowed?: boolean; serverRestoreAllowed?: boolean }>(
    "/api/WebRestoreSession",
    { computerGuid: s.deviceGuid, dataKeyToken, privatePassword: s.secret.privatePassword, encryptionKey: s.secret.encryptionKey },
    { origin },
  );
  const info = await get<{ nodeGuid: string }>("/api/WebRestoreInfo", { srcGuid: s.deviceGuid, destGuid: s.destinationGuid });
  const r = await post<{ jobId: string }>(
    "/api/v9/restore/push",
    {
      sourceComputerGuid: s.deviceGuid,
      acceptingComputerGuid: t.acceptingGuid,
      webRestoreSessionId: ses.webRestoreSessionId,
      targetNodeGuid: info.nodeGuid,
      restorePath: t.originalLocation ? "" : t.restorePath,
      restoreGroups: groups(backupSetId, files),
      numFiles: counts(files).numFiles,
      numBytes: 1,
      showDeleted,
      permitRestoreToDifferentOsVersion: t.originalLocation,
      filePermissions: null,
      restoreFullPath: null,
      fileLocation: t.originalLocation ? "ORIGINAL_LOCATION" : null,
      existingFiles: t.existingFiles,
      timestamp,
    },
    { origin },
  );
  return r.jobId;
}
