/**
 * Restore jobs (API.md §8 steps 10–12, §10): zip (web) restores, server file-system restores
 * and push restores, each recorded in the restore history when created and when it ends.
 *
 * - **Zip.** Refused with 403 WEB_RESTORE_DISABLED when the source org's (possibly locked,
 *   inherited) switch is off, and with 400 WEB_RESTORE_LIMIT_EXCEEDED when the catalog size of
 *   the selection, together with the user's other open zips, passes the limit (the admin limit
 *   for callers holding `restore.all` over the device, else the user limit; 0 disables, -1 is
 *   unlimited); at most {@link MAX_OPEN_ZIPS} open at once per user. The job is ready at once:
 *   the zip is built while it downloads (`zip-writer.ts`), decrypting in memory only, with its
 *   exact length announced, and only the requesting user may fetch it, until it expires (24 h).
 * - **Server.** The same switch; written below the configured folder in the background.
 * - **Push.** `restore-order` to the receiving agent with the source archive's key for that job;
 *   CREATE_FAILED for an offline target or a bad combination; progress from `restore-status`.
 *
 * Every job ends `done: true` (done, failed or canceled), so py42 never polls forever.
 */
import { type ArchiveKeys, CairnError, type Clock, deriveArchiveKeys, isCairnError, newOpaqueId } from "@cairn/protocol";
import { authorize, type Principal } from "../auth/access.js";
import type { StoreWriter } from "../db/store.js";
import type { RestoreStatus as HistoryStatus, RestoreType } from "../db/operations-store.js";
import { deviceTarget } from "../devices/device-service.js";
import { wipe } from "./archive-keys.js";
import { type ByteMeter, fileStream } from "./block-reader.js";
import { auditEntry } from "../audit/audit.js";
import { type RestoreRecord, recordRestoreEnd, recordRestoreStart } from "./restore-history.js";
import { asPushRefusal, planPushRestore, planRestore, type RestorePlan, type SelectedPath, warningsText } from "./restore-plan.js";
import type { RestoreService } from "./restore-service.js";
import type { RestoreArchive, RestoreSession } from "./restore-sessions.js";
import { restoreToFolder } from "./server-restore.js";
import { WARNINGS_FILE } from "./zip-names.js";
import { clientWentAway, type ZipItem, zipLength } from "./zip-writer.js";

/** Open (created, not downloaded) zip jobs per user. */
export const MAX_OPEN_ZIPS = 3;
/** A zip stays downloadable this long (API.md §8). */
export const RESULT_TTL_MS = 24 * 60 * 60_000;
const MB = 1024 * 1024;

/** States of a job as py42 reads them. */
export type JobState = "working" | "done" | "failed" | "canceled";

/** One restore job. */
export interface RestoreJob {
  jobId: string;
  kind: RestoreType;
  userId: number;
  state: JobState;
  message: string | null;
  createdAt: number;
  expiresAt: number;
  archive: RestoreArchive;
  acceptingDeviceId: number | null;
  plan: RestorePlan;
  /** WEB and SERVER: a copy of the archive keys for this job alone. */
  keys: ArchiveKeys | null;
  limitBytes: number | null;
  expectedBytes: number;
  doneBytes: number;
  doneFiles: number;
  downloads: number;
  /** Files the last download left out: the storage node could not serve their blocks. */
  skipped: number;
  streaming: boolean;
  ended: boolean;
  record: RestoreRecord;
  abort: AbortController;
  folder?: string;
}

/** A called-back hook at job creation (legal hold records a Restore event). */
export type OnRestoreStart = (tx: StoreWriter, p: Principal, sourceUserId: number, at: number) => Promise<void>;

function selection(body: Record<string, unknown>): SelectedPath[] {
  const groups = body.restoreGroups;
  if (!Array.isArray(groups)) throw new CairnError("BAD_REQUEST", "restoreGroups is required", { details: { field: "restoreGroups" } });
  const out: SelectedPath[] = [];
  for (const g of groups as { files?: unknown }[]) {
    if (!Array.isArray(g?.files)) continue;
    for (const f of g.files as { path?: unknown; fileType?: unknown; selected?: unknown }[]) {
      if (f?.selected === false || typeof f?.path !== "string" || f.path === "" || f.path.length > 4096) continue;
      out.push({ path: f.path, fileType: String(f.fileType).toUpperCase() === "DIRECTORY" ? "DIRECTORY" : "FILE" });
    }
  }
  if (out.length === 0 || out.length > 10_000)
    throw new CairnError("BAD_REQUEST", "Select 1 to 10,000 files or folders", { details: { field: "restoreGroups" } });
  return out;
}

const timestampOf = (v: unknown): number | null => (typeof v === "number" && Number.isSafeInteger(v) && v > 0 ? v : null);

/** The jobs of one authority. */
export class RestoreJobs {
  private readonly jobs = new Map<string, RestoreJob>();
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly svc: RestoreService,
    private readonly clock: Clock,
    private readonly onStart: OnRestoreStart,
  ) {}

  private sweep(): void {
    const now = this.clock.now();
    for (const j of this.jobs.values()) {
      if (j.expiresAt <= now && !j.streaming && j.keys !== null) {
        wipe(null, j.keys);
        j.keys = null;
        if (!j.ended) void this.finish(j, "canceled", "the result expired");
      }
      if (j.expiresAt + RESULT_TTL_MS <= now) this.jobs.delete(j.jobId);
    }
  }

  /** Every job held now (metrics). */
  list(): readonly RestoreJob[] {
    return [...this.jobs.values()];
  }

  /** The caller's job (another user's is NOT_FOUND, like an unknown one: T28). */
  get(p: Principal, jobId: string): RestoreJob {
    this.sweep();
    const j = this.jobs.get(jobId);
    if (j === undefined || j.userId !== p.userId) throw new CairnError("NOT_FOUND", "No such restore job");
    return j;
  }

  private async begin(
    p: Principal,
    kind: RestoreType,
    s: RestoreSession,
    plan: RestorePlan,
    acceptingDeviceId: number | null,
    extra: Partial<RestoreJob>,
  ): Promise<RestoreJob> {
    const now = this.clock.now();
    const jobId = newOpaqueId();
    const record: RestoreRecord = {
      jobId,
      restoreType: kind,
      sourceDeviceId: s.archive.deviceId,
      acceptingDeviceId,
      sourceUserId: s.archive.userId,
      requestingUserId: p.userId,
      orgId: s.archive.orgId,
      startedAt: now,
    };
    const job: RestoreJob = {
      jobId,
      kind,
      userId: p.userId as number,
      state: "working",
      message: null,
      createdAt: now,
      expiresAt: now + (this.svc.o.resultTtlMs ?? RESULT_TTL_MS),
      archive: s.archive,
      acceptingDeviceId,
      plan,
      keys: null,
      limitBytes: null,
      expectedBytes: 0,
      doneBytes: 0,
      doneFiles: 0,
      downloads: 0,
      skipped: 0,
      streaming: false,
      ended: false,
      record,
      abort: new AbortController(),
      ...extra,
    };
    // in the map before the first await: concurrent requests see it (T37's parallel splitting)
    this.jobs.set(jobId, job);
    try {
      await this.svc.ctx.store.transaction(async (tx) => {
        await recordRestoreStart(tx, record, plan.files, plan.bytes);
        // who restored what, beside the restore history (which shows only the restores' figures)
        await tx.appendAudit(
          auditEntry(
            p,
            now,
            `restore.${kind.toLowerCase()}`,
            { type: "device", id: s.archive.deviceId, orgId: s.archive.orgId },
            { jobId, archiveGuid: s.archive.archiveGuid, acceptingDeviceId, files: plan.files, bytes: plan.bytes },
          ),
        );
        await this.onStart(tx, p, s.archive.userId, now);
      });
    } catch (err) {
      this.jobs.delete(jobId);
      throw err;
    }
    return job;
  }

  private async finish(j: RestoreJob, state: Exclude<JobState, "working">, message: string | null): Promise<void> {
    if (j.ended) return;
    j.ended = true;
    j.state = state;
    j.message = message;
    if (j.kind !== "WEB" || state !== "done") {
      wipe(null, j.keys);
      j.keys = null;
    }
    const status: Exclude<HistoryStatus, "STARTED"> = state === "done" ? "COMPLETED" : state === "failed" ? "FAILED" : "CANCELED";
    const files = state === "done" && j.kind === "WEB" ? j.plan.files : j.doneFiles;
    const bytes = state === "done" && j.kind === "WEB" ? j.plan.bytes : j.doneBytes;
    await this.svc.ctx.store
      .transaction((tx) => recordRestoreEnd(tx, j.record, status, files, bytes, this.clock.now()))
      .catch((err: unknown) => {
        this.svc.ctx.log.error({ err, jobId: j.jobId }, "could not record the end of a restore");
      });
  }

  private async checksFor(p: Principal, s: RestoreSession, body: Record<string, unknown>): Promise<void> {
    const src = body.sourceComputerGuid;
    if (src !== undefined && src !== null && String(src) !== s.archive.deviceGuid)
      throw new CairnError("BAD_REQUEST", "sourceComputerGuid is not the session's device");
    await this.svc.platform.assertRestoreAllowed(p, s.archive);
    await this.svc.assertSessionKeyPolicy(s);
  }

  /** `POST /api/v9/restore/web` (a zip, or `restoreToServer`). */
  async createWeb(p: Principal, body: Record<string, unknown>): Promise<RestoreJob> {
    const s = this.svc.session(p, String(body.webRestoreSessionId ?? ""));
    await this.checksFor(p, s, body);
    if (!(await this.svc.contentAllowed(s.archive.orgPath)))
      throw new CairnError("WEB_RESTORE_DISABLED", "WEB_RESTORE_DISABLED: zip and server restores are disabled for this organization");
    const showDeleted = body.showDeleted === true;
    const cat = await this.svc.sessions.catalog(s, timestampOf(body.timestamp), showDeleted);
    const plan = planRestore(cat, selection(body), { showDeleted, fullPath: body.restoreFullPath === true });
    const keys = deriveArchiveKeys(Buffer.from(s.archiveKey), s.archive.archiveGuid);
    if (body.restoreToServer === true) return this.startServer(p, s, plan, keys);
    this.sweep();
    const limitBytes = this.limitFor(p, s, plan, await this.limitMbFor(p, s));
    const job = await this.begin(p, "WEB", s, plan, null, { keys, limitBytes, state: "done" });
    job.expectedBytes = zipLength(this.zipItems(job));
    return job;
  }

  /** The web restore limit (MB) that applies to `p` on the session's device (0: zip restores disabled). */
  async limitMbFor(p: Principal, s: RestoreSession): Promise<number> {
    const a = s.archive;
    const q = (await this.svc.ctx.settings.resolveOrg({ path: a.orgPath })).values.quota;
    const admin = authorize(p, "restore.all", deviceTarget({ deviceId: a.deviceId, userId: a.userId, orgId: a.orgId }, { path: a.orgPath }));
    return admin ? q.webRestoreAdminLimitMb : q.webRestoreUserLimitMb;
  }

  /** Checks the plan against the limit and the user's open zips (T37); synchronous by design. */
  private limitFor(p: Principal, _s: RestoreSession, plan: RestorePlan, mb: number): number | null {
    const open = [...this.jobs.values()].filter((j) => j.userId === p.userId && j.kind === "WEB" && !j.ended);
    if (mb === 0) throw new CairnError("WEB_RESTORE_LIMIT_EXCEEDED", "WEB_RESTORE_LIMIT_EXCEEDED: zip restores are disabled for you here (limit 0)");
    if (mb > 0) {
      const limit = mb * MB;
      const pending = open.reduce((n, j) => n + j.plan.bytes, 0);
      if (plan.bytes > limit)
        throw new CairnError("WEB_RESTORE_LIMIT_EXCEEDED", `WEB_RESTORE_LIMIT_EXCEEDED: the selection (${plan.bytes} bytes) is over the ${mb} MB limit`);
      if (pending + plan.bytes > limit)
        throw new CairnError("WEB_RESTORE_LIMIT_EXCEEDED", `WEB_RESTORE_LIMIT_EXCEEDED: with your open zip restores this is over the ${mb} MB limit`);
    }
    if (open.length >= (this.svc.o.maxOpenZipsPerUser ?? MAX_OPEN_ZIPS))
      throw new CairnError("RATE_LIMITED", "Too many open zip restores: download or cancel one first");
    return mb > 0 ? mb * MB : null;
  }

  private async startServer(p: Principal, s: RestoreSession, plan: RestorePlan, keys: ArchiveKeys): Promise<RestoreJob> {
    const root = this.svc.o.serverRestoreDir;
    if (root === undefined) throw new CairnError("CREATE_FAILED", "CREATE_FAILED: this authority has no server restore folder");
    const job = await this.begin(p, "SERVER", s, plan, null, { keys });
    const src = this.svc.source;
    void restoreToFolder(
      src,
      s.archive.archiveGuid,
      keys,
      plan,
      root,
      job.jobId,
      warningsText(plan, job.jobId),
      (x) => {
        job.doneFiles = x.files;
        job.doneBytes = x.bytes;
      },
      job.abort.signal,
    )
      .then(async (folder) => {
        job.folder = folder;
        await this.finish(job, "done", null);
      })
      .catch(async (err: unknown) => {
        if (job.abort.signal.aborted) return;
        this.svc.ctx.log.warn({ err, jobId: job.jobId }, "server restore failed");
        await this.finish(job, "failed", isCairnError(err) ? err.message : "the restore failed");
      });
    return job;
  }

  /**
   * The paths of the plan's files with a block the storage node cannot serve (missing, or marked
   * damaged by a verification or an earlier failed read): asked before the first byte, without
   * reading any block (T07: the zip leaves them out and names them, the other files restore).
   */
  private async unservable(j: RestoreJob): Promise<Set<string>> {
    const files = j.plan.entries.filter(({ entry }) => entry.type === "file" && entry.blocks.length > 0).map(({ entry }) => entry);
    const ids = new Map<string, Buffer>();
    for (const e of files) for (let o = 0; o < e.blocks.length; o += 32) ids.set(e.blocks.toString("hex", o, o + 32), e.blocks.subarray(o, o + 32));
    if (ids.size === 0) return new Set();
    let missing: Set<string>;
    try {
      missing = await this.svc.source.missingBlocks(j.archive.archiveGuid, Buffer.concat([...ids.values()]));
    } catch (err) {
      // a node without the call (an older version): the zip goes as before, failing on a bad block
      this.svc.ctx.log.warn({ err, jobId: j.jobId }, "the storage node did not say which blocks it lacks");
      return new Set();
    }
    const bad = new Set<string>();
    if (missing.size === 0) return bad;
    for (const e of files) {
      for (let o = 0; o < e.blocks.length; o += 32) {
        if (!missing.has(e.blocks.toString("hex", o, o + 32))) continue;
        bad.add(e.path);
        break;
      }
    }
    return bad;
  }

  /** The zip's entries for a job, without the files in `skip` (named in the warnings file). */
  zipItems(j: RestoreJob, meter?: ByteMeter, skip: ReadonlySet<string> = new Set()): ZipItem[] {
    const kept = j.plan.entries.filter(({ entry }) => !skip.has(entry.path));
    const items: ZipItem[] = kept.map(({ entry, name }) =>
      entry.type === "dir"
        ? { kind: "dir", name, mtimeMs: entry.mtimeMs, mode: entry.mode }
        : {
            kind: "file",
            name,
            size: entry.size,
            mtimeMs: entry.mtimeMs,
            mode: entry.mode,
            open: () => fileStream(this.svc.source, j.archive.archiveGuid, j.keys as ArchiveKeys, entry, meter, j.abort.signal),
          },
    );
    const lost = [...skip].map((path) => `skipped ${JSON.stringify(path)}: its data is missing or damaged on the storage node`);
    const w = warningsText({ ...j.plan, warnings: [...j.plan.warnings, ...lost] }, j.jobId);
    if (w !== "") items.push({ kind: "text", name: WARNINGS_FILE, data: Buffer.from(w, "utf8"), mtimeMs: j.createdAt });
    return items;
  }

  /** What `GET /api/WebRestoreJobResult` streams (the caller writes it). */
  async download(p: Principal, jobId: string): Promise<{ job: RestoreJob; items: ZipItem[]; length: number }> {
    const j = this.get(p, jobId);
    // a client that asks again the moment it has the last byte of a download meets that stream
    // still ending (its socket flushing, the job being recorded): it waits a moment for it
    for (let i = 0; i < 40 && j.streaming; i++) await new Promise((r) => setTimeout(r, 50));
    const check = () => {
      if (j.kind !== "WEB") throw new CairnError("NOT_FOUND", "This job has no zip");
      if (j.state === "failed") throw new CairnError("RESTORE_FAILED", `RESTORE_FAILED: ${j.message ?? "the restore failed"}`);
      if (j.state !== "done" || j.keys === null) throw new CairnError("NOT_FOUND", "The restore was canceled or its result expired");
      if (j.streaming) throw new CairnError("CONFLICT", "This zip is being downloaded already");
    };
    check();
    j.streaming = true;
    let skip: Set<string>;
    try {
      skip = await this.unservable(j);
    } finally {
      j.streaming = false;
    }
    check();
    let streamed = 0;
    const meter: ByteMeter = {
      add: (n) => {
        streamed += n;
        j.doneBytes = streamed;
        if (j.limitBytes !== null && streamed > j.limitBytes)
          throw new CairnError("WEB_RESTORE_LIMIT_EXCEEDED", "the streamed content passed the web restore limit");
      },
    };
    const items = this.zipItems(j, meter, skip);
    j.streaming = true;
    j.doneBytes = 0;
    j.skipped = skip.size;
    return { job: j, items, length: zipLength(items) };
  }

  /** Records a download's outcome. */
  async downloaded(j: RestoreJob, ok: boolean, err?: unknown): Promise<void> {
    j.streaming = false;
    if (ok) {
      j.downloads++;
      j.doneFiles = j.plan.files - j.skipped;
      await this.finish(j, "done", null);
      return;
    }
    // the client going away (or a cancel) leaves the job as it is; a fault on our side fails it
    if (clientWentAway(err) || j.abort.signal.aborted) return;
    this.svc.ctx.log.warn({ err, jobId: j.jobId }, "zip restore failed while streaming");
    await this.finish(j, "failed", isCairnError(err) ? err.message : "the zip could not be built");
  }

  /** `DELETE /api/WebRestoreJob`: ends the job `canceled` (a push is told to stop). */
  async cancel(p: Principal, jobId: string): Promise<void> {
    const j = this.get(p, jobId);
    j.abort.abort(new CairnError("CANCELLED", "the restore was canceled"));
    if (!j.ended) {
      if (j.kind === "PUSH" && j.acceptingDeviceId !== null)
        await this.svc.platform.agents.call(j.acceptingDeviceId, "cancel-restore", { jobId: j.jobId }).catch(() => undefined);
      await this.finish(j, "canceled", "canceled by the user");
    } else if (j.kind === "WEB") {
      j.state = "canceled";
      j.message = "canceled by the user";
    }
    wipe(null, j.keys);
    j.keys = null;
  }

  /** `POST /api/v9/restore/push`. */
  async createPush(p: Principal, body: Record<string, unknown>): Promise<RestoreJob> {
    const s = this.svc.session(p, String(body.webRestoreSessionId ?? ""));
    await this.checksFor(p, s, body);
    const fail = (why: string) => new CairnError("CREATE_FAILED", `CREATE_FAILED: ${why}`);
    // §10: a refused combination is CREATE_FAILED (py42's Py42BadRestoreRequestError), an empty
    // selection included; a receiving device the caller cannot see stays 404, as every other
    // organization's id does (T24)
    const selected = asPushRefusal(() => selection(body));
    const target = await this.svc.deviceForRestore(p, String(body.acceptingComputerGuid ?? ""));
    const permissions = body.filePermissions ?? null;
    if (permissions !== null && permissions !== "CURRENT" && permissions !== "ORIGINAL") throw fail("filePermissions is CURRENT or ORIGINAL");
    const location = body.fileLocation ?? null;
    const restorePath = typeof body.restorePath === "string" ? body.restorePath : "";
    if (location !== null && location !== "TARGET_DIRECTORY" && location !== "ORIGINAL_LOCATION")
      throw fail("fileLocation is TARGET_DIRECTORY or ORIGINAL_LOCATION");
    const original = location === "ORIGINAL_LOCATION";
    if (original && restorePath !== "") throw fail("a restore to the original location takes no restorePath");
    // absolute on the receiving device's own system: a drive path only for a Windows device
    const windows = /^win/i.test(target.device.osName ?? "");
    if (!original && !(windows ? /^(\/|[A-Za-z]:[\\/])/ : /^\//).test(restorePath))
      throw fail(`restorePath must be an absolute folder on the receiving device (${windows ? "C:\\… or /…" : "/…"})`);
    // a folder the device can name as it is: no control characters, no ".." to climb out of it
    // (the device would create the folders before it), and within the device's path limit
    if (/[\u0000-\u001f]/.test(restorePath)) throw fail("restorePath holds a control character");
    if (restorePath.split(/[\\/]/).includes("..")) throw fail('restorePath must not contain ".."');
    if (restorePath.length > 4096) throw fail("restorePath is longer than 4096 characters");
    const existing = body.existingFiles ?? "RENAME_ORIGINAL";
    if (existing !== "RENAME_ORIGINAL" && existing !== "OVERWRITE_ORIGINAL") throw fail("existingFiles is RENAME_ORIGINAL or OVERWRITE_ORIGINAL");
    if (!this.svc.platform.agents.isConnected(target.device.deviceId)) throw fail("the receiving device is not connected");
    const at = timestampOf(body.timestamp);
    const showDeleted = body.showDeleted === true;
    const cat = await this.svc.sessions.catalog(s, at, showDeleted);
    // §10: a selection with nothing (restorable) in it is a bad combination, CREATE_FAILED
    const plan = planPushRestore(cat, selected, { showDeleted, fullPath: body.restoreFullPath === true });
    const access = await this.svc.platform.restoreAccess(s.archive.archiveGuid);
    this.ensureStatusListener();
    const job = await this.begin(p, "PUSH", s, plan, target.device.deviceId, {});
    try {
      const r = await this.svc.platform.agents.call(target.device.deviceId, "restore-order", {
        jobId: job.jobId,
        source: {
          deviceGuid: s.archive.deviceGuid,
          archiveGuid: s.archive.archiveGuid,
          userUid: s.archive.userUid,
          server: access.server,
          token: access.token,
          archiveKey: s.archiveKey,
        },
        at,
        paths: plan.paths,
        targetPath: original ? null : restorePath,
        existing: existing === "OVERWRITE_ORIGINAL" ? "overwrite" : "rename",
        restoreFullPath: body.restoreFullPath === true,
        showDeleted,
        ...(permissions === "CURRENT" ? { permissions: "current" as const } : {}),
      });
      if (!r.accepted) throw fail("the receiving device refused the restore");
    } catch (err) {
      await this.finish(job, "failed", "the receiving device did not take the restore");
      throw isCairnError(err, "CREATE_FAILED") ? err : fail("the receiving device is not connected");
    }
    return job;
  }

  private ensureStatusListener(): void {
    if (this.unsubscribe !== null) return;
    this.unsubscribe = this.svc.platform.agents.onRestoreStatus((r) => {
      const j = this.jobs.get(r.jobId);
      if (j === undefined || j.kind !== "PUSH" || j.acceptingDeviceId !== r.deviceId || j.ended) return;
      j.doneFiles = r.files;
      j.doneBytes = r.bytes;
      if (r.state === "running") return;
      void this.finish(j, r.state === "done" ? "done" : r.state === "canceled" ? "canceled" : "failed", r.message ?? null);
    });
  }

  /** The archive was purged: its jobs end and their keys are overwritten. */
  endArchive(archiveGuid: string): void {
    for (const j of this.jobs.values()) {
      if (j.archive.archiveGuid !== archiveGuid) continue;
      j.abort.abort(new CairnError("CANCELLED", "the archive was purged"));
      void this.finish(j, "canceled", "the archive was purged");
      wipe(null, j.keys);
      j.keys = null;
    }
  }

  /** Stops listening and wipes every job's keys (shutdown). */
  close(): void {
    this.unsubscribe?.();
    for (const j of this.jobs.values()) {
      j.abort.abort(new CairnError("CANCELLED", "the authority is stopping"));
      wipe(null, j.keys);
      j.keys = null;
    }
  }

  /** The job object of §8 step 11. */
  jobJson(j: RestoreJob): Record<string, unknown> {
    const total = j.kind === "WEB" ? j.expectedBytes : j.plan.bytes;
    const pct = j.ended || (j.kind === "WEB" && !j.streaming) ? 100 : total === 0 ? 0 : Math.min(99, Math.floor((j.doneBytes * 100) / total));
    return {
      jobId: j.jobId,
      done: j.state !== "working",
      status: j.state,
      percentComplete: pct,
      zipResult: j.kind === "WEB",
      restoreType: j.kind,
      bytesZipped: j.kind === "WEB" ? j.doneBytes : 0,
      expectedBytes: j.kind === "WEB" ? j.expectedBytes : null,
      numFiles: j.plan.files,
      numDirs: j.plan.dirs,
      numBytes: j.plan.bytes,
      filesDone: j.doneFiles,
      bytesDone: j.doneBytes,
      warnings: j.plan.warnings.length,
      creationDate: j.createdAt,
      expirationDate: j.expiresAt,
      canceled: j.state === "canceled",
      message: j.message,
      serverFolder: j.kind === "SERVER" ? (j.folder ?? null) : null,
    };
  }
}
