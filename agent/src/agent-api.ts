/**
 * The agent as a library: back up, restore, status, versions and the local selection, for one
 * data directory. Every function works with no daemon running (`cairn agent backup` is a cold
 * process in the benchmark) and takes the run lock where it reads or writes files.
 *
 * Two ways to name what to back up to:
 * - registered (the normal case): archives, tokens, keys and settings come from the authority,
 *   synced when it is reachable, cached otherwise;
 * - `archives` given (engine mode, tests and tools): endpoint, token and archive key directly.
 */
import { existsSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { effectiveProxy } from "./config/org-proxy.js";
import pino, { type Logger } from "pino";
import { CairnError, type Clock, type DeviceConfig, GUID_PATTERN, isCairnError, isoTime, systemClock } from "@cairn/protocol";
import { requiredKeyPolicy } from "./auth/key-policy.js";
import { backsUpTo, connectAuthority, syncConfig } from "./auth/registration.js";
import type { AuthorityClient } from "./auth/authority-client.js";
import { acquireRunLock } from "./lock.js";
import { asLocalDiskFull, isLocalDiskFull } from "./state/disk-full.js";
import type { ArchiveEndpoint } from "./net/data-session.js";
import { type NetworkExclusions, NetworkPolicy } from "./net/network-policy.js";
import { RateLimiter } from "./net/rate-limiter.js";
import type { ProgressSink } from "./progress.js";
import { archiveFileHistory, runArchiveRestore } from "./restore/run-restore.js";
import {
  addExcludePatterns,
  addToSelection,
  EMPTY_SELECTION,
  effectiveSelection,
  removeFromSelection,
  Selection,
  type SelectionSpec,
  selectionLocked,
} from "./selection.js";
import { type Db, kvGet, kvSet, openAgentDb } from "./state/agent-db.js";
import { ArchiveStore } from "./state/archive-store.js";
import { archiveKeyOf, ensureDataDir, readCredentials, requireCredentials } from "./state/credentials.js";
import { type BackupSummary, runArchiveBackup } from "./upload/backup-run.js";
import { AGENT_VERSION } from "./version.js";
import { inRunWindow, nextRunWindowOpen } from "./daemon/run-window.js";

/** Common options. */
export interface AgentCommonOptions {
  dataDir: string;
  clock?: Clock;
  logger?: Logger;
  /** HTTPS CONNECT proxy (the CLI passes `HTTPS_PROXY`). */
  proxy?: string | null;
}

/** An archive given directly (engine mode). */
export interface DirectArchive {
  endpoint: ArchiveEndpoint;
  archiveKey: Buffer;
  destinationGuid?: string;
  /** This device's last committed version of the archive (its own archives): restores warn of a rollback. */
  known?: { seq: number; manifestHash: Buffer | null };
}

/** Options of {@link runBackup}. */
export interface RunBackupOptions extends AgentCommonOptions {
  archives?: DirectArchive[];
  /** Selection for engine mode (default: the local selection). */
  selection?: SelectionSpec;
  /** Only these paths (watcher); full scan when absent. */
  paths?: Iterable<string>;
  progress?: ProgressSink;
  signal?: AbortSignal;
  workers?: number;
  cpuPercent?: number;
  limiter?: RateLimiter;
  /** The limiter for a destination's URL (the daemon's, whose rates change at run time); wins over `limiter`. */
  limiterFor?: (url: string) => RateLimiter;
  /** Network exclusions in force (default: those of the stored settings). */
  network?: NetworkPolicy;
  /** Talk to the authority first (default: when registered). */
  syncAuthority?: boolean;
  /** Hold the run lock (default true; the daemon takes it itself). */
  lock?: boolean;
  onSession?: Parameters<typeof runArchiveBackup>[0]["onSession"];
  /** How long to wait for a lease another session holds (default one lease; see {@link runArchiveBackup}). */
  leaseWaitMs?: number;
  /** Archives not to back up in this run (the daemon's: destinations waiting out a backoff). */
  skipArchives?: ReadonlySet<string>;
}

/** The result of {@link runBackup} (`backup --json` prints it as its summary). */
export interface RunBackupResult {
  versionTime: string;
  files: number;
  bytes: number;
  changedFiles: number;
  uploadedBytes: number;
  errors: number;
  destinations: BackupSummary[];
  /**
   * Destinations whose backup failed while others' succeeded (one node down must not stop the
   * others: that is what a second destination is for). When every destination fails, the backup
   * throws the first one's error instead.
   */
  failed: FailedDestination[];
}

/** A destination whose backup failed in a run that committed to others. */
export interface FailedDestination {
  archiveGuid: string;
  code: string;
  message: string;
}

/** The last failed backup of an archive, kept until one succeeds (`status`, `report-status`). */
export interface LastBackupError {
  code: string;
  message: string;
  at: number;
}

const lastErrorKey = (archiveGuid: string) => `lastError:${archiveGuid}`;

/** The archive's last backup error, or null when its last backup succeeded. */
export function lastBackupError(db: Db, archiveGuid: string): LastBackupError | null {
  return kvGet<LastBackupError | null>(db, lastErrorKey(archiveGuid)) ?? null;
}

function loggerOf(o: AgentCommonOptions): Logger {
  return (o.logger ?? pino({ level: "silent" })).child({ component: "agent" });
}

/** The local selection of a data directory. */
export function localSelection(db: Db): SelectionSpec {
  return kvGet<SelectionSpec>(db, "selection") ?? EMPTY_SELECTION;
}

async function trySync(o: AgentCommonOptions, logger: Logger, clock: Clock): Promise<AuthorityClient | null> {
  let client: AuthorityClient | null = null;
  try {
    client = await connectAuthority(o.dataDir, { timeoutMs: 5000 }, o.proxy);
    await syncConfig(o.dataDir, client, clock, logger);
    return client;
  } catch (err) {
    // say what happened: an authority that answered and refused is not "unreachable"
    const refused =
      isCairnError(err) && (err.code === "TOKEN_REVOKED" || err.code === "UNAUTHORIZED" || err.code === "TOKEN_EXPIRED" || err.code === "FORBIDDEN");
    logger.warn(
      { err: (err as Error).message, ...(isCairnError(err) ? { code: err.code } : {}) },
      refused
        ? "the authority refused this device's credentials; using the stored configuration and tokens"
        : "the authority is not reachable; using the stored configuration and tokens",
    );
    client?.close();
    return null;
  }
}

/**
 * Whether a storage node's URL is on the LAN: a loopback, private or link-local address (IPv4
 * 10/8, 172.16/12, 192.168/16, 169.254/16, 127/8; IPv6 ::1, fc00::/7, fe80::/10) or localhost.
 * A host name is the WAN, whatever it starts with.
 */
export function isLanUrl(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[(.*)\]$/, "$1").toLowerCase();
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  const family = isIP(host);
  if (family === 4) return /^(127\.|10\.|192\.168\.|169\.254\.|172\.(1[6-9]|2\d|3[01])\.)/.test(host);
  if (family === 6) return host === "::1" || /^f[cd][0-9a-f]{2}:/.test(host) || /^fe[89ab][0-9a-f]:/.test(host);
  return false;
}

/** Network limits of the current settings (LAN when the node is on a private or loopback address). */
export function bandwidthFor(settings: DeviceConfig["settings"] | undefined, url: string): number {
  if (!settings) return 0;
  return isLanUrl(url) ? settings.lanBytesPerSec : settings.wanBytesPerSec;
}

/** The Network tab's exclusion lists of the current settings (none when there are no settings). */
export function exclusionsOf(settings: Partial<DeviceConfig["settings"]> | undefined): NetworkExclusions {
  return { excludedInterfaces: settings?.excludedInterfaces ?? [], excludedWifi: settings?.excludedWifi ?? [] };
}

/** Whether chunks are compressed on the way to this node (the Network tab's WAN / LAN compression). */
export function compressionFor(settings: DeviceConfig["settings"] | undefined, url: string): "auto" | "never" {
  const mode = isLanUrl(url) ? settings?.lanCompression : settings?.wanCompression;
  return mode === "off" ? "never" : "auto";
}

/** Backs up now to every destination and returns when each version is committed. */
export async function runBackup(o: RunBackupOptions): Promise<RunBackupResult> {
  const clock = o.clock ?? systemClock;
  const logger = loggerOf(o);
  // a mistyped --data must not become a new, empty agent folder
  if (!o.archives) requireCredentials(o.dataDir);
  ensureDataDir(o.dataDir);
  const release = o.lock === false ? () => undefined : acquireRunLock(o.dataDir);
  let client: AuthorityClient | null = null;
  let sync: Promise<AuthorityClient | null> = Promise.resolve(null);
  const db = openAgentDb(o.dataDir);
  try {
    const jobs: Array<{ direct: DirectArchive; selection: Selection; settings: DeviceConfig["settings"] | undefined }> = [];
    if (o.archives) {
      const sel = new Selection(o.selection ?? localSelection(db));
      for (const a of o.archives) if (!o.skipArchives?.has(a.endpoint.archiveGuid)) jobs.push({ direct: a, selection: sel, settings: undefined });
    } else {
      const creds = requireCredentials(o.dataDir);
      const archives = new ArchiveStore(db);
      const soon = clock.now() + 60 * 60 * 1000;
      const needSync = archives.list().length === 0 || archives.list().some((a) => a.tokenExpiresAt < soon);
      sync = o.syncAuthority === false ? Promise.resolve(null) : trySync(o, logger, clock);
      if (needSync) client = await sync;
      else void sync.then((c) => (client = c));
      const config = kvGet<DeviceConfig>(db, "config");
      const wanted = config ? new Set(config.destinations.filter(backsUpTo).map((d) => d.destinationGuid)) : null;
      for (const row of archives.list()) {
        if (wanted && !wanted.has(row.destinationGuid)) continue;
        if (o.skipArchives?.has(row.archiveGuid)) continue;
        const key = archiveKeyOf(readCredentials(o.dataDir) ?? creds, row.archiveGuid);
        if (!key) {
          logger.warn({ archiveGuid: row.archiveGuid }, "no key for this archive on this device; skipped");
          continue;
        }
        jobs.push({
          direct: {
            endpoint: { archiveGuid: row.archiveGuid, url: row.url, fingerprint: row.fingerprint, token: row.token },
            archiveKey: key,
            destinationGuid: row.destinationGuid,
          },
          selection: o.selection ? new Selection(o.selection) : effectiveSelection(config?.settings, row.destinationGuid, localSelection(db)),
          settings: config?.settings,
        });
      }
    }
    if (jobs.length === 0)
      throw new CairnError(
        "NOT_FOUND",
        o.skipArchives?.size
          ? "every destination is waiting to be tried again"
          : "no destination to back up to (none offered, or the authority was never reached)",
      );
    const summaries: BackupSummary[] = [];
    const failed: Array<FailedDestination & { err: unknown }> = [];
    const retried = new Set<string>();
    for (const j of jobs) {
      const s = j.settings;
      const limiter =
        o.limiterFor?.(j.direct.endpoint.url) ??
        o.limiter ??
        new RateLimiter(bandwidthFor(s, j.direct.endpoint.url), () => inRunWindow(s?.runWindow ?? null, clock.now()));
      const network = o.network ?? new NetworkPolicy(exclusionsOf(s));
      const guid = j.direct.endpoint.archiveGuid;
      let summary: BackupSummary;
      try {
        summary = await runArchiveBackup({
          db,
          endpoint: j.direct.endpoint,
          archiveKey: j.direct.archiveKey,
          selection: j.selection,
          clock,
          logger,
          agentVersion: AGENT_VERSION,
          limiter,
          network,
          compress: compressionFor(s, j.direct.endpoint.url),
          proxy: o.proxy ?? null,
          ...(o.paths ? { paths: o.paths } : {}),
          ...(o.progress ? { progress: o.progress } : {}),
          ...(o.signal ? { signal: o.signal } : {}),
          ...(o.workers ? { workers: o.workers } : {}),
          ...(o.cpuPercent ? { cpuPercent: o.cpuPercent } : s ? { cpuPercent: s.cpuPresentPercent } : {}),
          ...(o.onSession ? { onSession: o.onSession } : {}),
          ...(o.leaseWaitMs !== undefined ? { leaseWaitMs: o.leaseWaitMs } : {}),
        });
      } catch (err) {
        // what stops every destination alike ends the run; a destination's own trouble (its node
        // down or full, its token refused, a rollback) does not keep the others from backing up
        const e = asLocalDiskFull(err, "backup");
        if (isCairnError(e, "CANCELLED") || isCairnError(e, "LOCAL_DISK_FULL") || isCairnError(e, "LOCKED")) throw e;
        // a node that moved (a new address or port) is unreachable at the old one until the
        // config sync, which runs beside this backup, brings the new one: once, it is tried there
        if (isCairnError(e, "UNAVAILABLE") && !o.archives && !retried.has(guid)) {
          retried.add(guid);
          await sync;
          const row = new ArchiveStore(db).get(guid);
          if (row && row.url !== j.direct.endpoint.url) {
            logger.info({ archiveGuid: guid, url: row.url }, "the storage node has a new address: trying it");
            jobs.push({ ...j, direct: { ...j.direct, endpoint: { ...j.direct.endpoint, url: row.url, fingerprint: row.fingerprint, token: row.token } } });
            continue;
          }
        }
        const code = isCairnError(e) ? e.code : "INTERNAL";
        const message = e instanceof Error ? e.message : String(e);
        kvSet(db, lastErrorKey(guid), { code, message: message.slice(0, 500), at: clock.now() } satisfies LastBackupError);
        logger.error({ err: e, archiveGuid: guid }, "backup to this destination failed");
        failed.push({ archiveGuid: guid, code, message, err: e });
        continue;
      }
      if (lastBackupError(db, guid)) kvSet(db, lastErrorKey(guid), null);
      summaries.push(summary);
    }
    // a failed destination is news for the administrators: wait for the authority link to tell them
    if (!client && failed.length > 0) client = await sync;
    if (client) await reportStatus(client, db).catch((err: unknown) => logger.warn({ err }, "report-status failed"));
    if (summaries.length === 0) {
      const first = failed[0] as FailedDestination & { err: unknown };
      if (failed.length === 1 || !isCairnError(first.err)) throw first.err;
      // every destination failed: the first one's code (and exit code), and each one named
      const all = failed.map((f) => `archive ${f.archiveGuid}: ${f.code}: ${f.message}`).join("; ");
      throw new CairnError(first.err.code, `every destination failed (${all})`, {
        cause: first.err,
        details: { failed: failed.map(({ err: _e, ...f }) => f) },
      });
    }
    const last = summaries.reduce((a, b) => (b.versionTime > a.versionTime ? b : a));
    return {
      versionTime: isoTime(last.versionTime),
      files: last.files,
      bytes: last.bytes,
      changedFiles: last.changedFiles,
      uploadedBytes: summaries.reduce((a, b) => a + b.uploadedBytes, 0),
      errors: Math.max(...summaries.map((x) => x.errors)),
      destinations: summaries,
      failed: failed.map(({ err: _err, ...f }) => f),
    };
  } catch (err) {
    throw asLocalDiskFull(err, "backup");
  } finally {
    (client as AuthorityClient | null)?.close();
    // A sync still under way when the run ended (it failed before the authority answered):
    // close its connection when it arrives, or the process would never exit.
    void sync.then((c) => c?.close());
    db.close();
    release();
  }
}

/** Sends every archive's figures to the authority. */
export async function reportStatus(
  client: AuthorityClient,
  db: Db,
  backingUp = false,
  restoring = false,
  /** An error of every archive that could not be stored (LOCAL_DISK_FULL: the database cannot grow). */
  unstored: LastBackupError | null = null,
): Promise<void> {
  const rows = new ArchiveStore(db).list();
  // `lastError` goes only to an authority that must hear of it (an error now, or the clearing of
  // one it was told of): an authority older than the field refuses a report that carries it, so a
  // device with nothing to report stays compatible with it
  const errors = new Map(rows.map((r) => [r.archiveGuid, lastBackupError(db, r.archiveGuid) ?? unstored]));
  const told = (g: string) => kvGet<boolean>(db, `${lastErrorKey(g)}:reported`) === true;
  await client.call("report-status", {
    agentVersion: AGENT_VERSION,
    destinations: rows.map((r) => ({
      destinationGuid: r.destinationGuid,
      archiveGuid: r.archiveGuid,
      selectedFiles: r.selectedFiles,
      selectedBytes: r.selectedBytes,
      todoFiles: r.todoFiles,
      todoBytes: r.todoBytes,
      lastBackup: r.lastBackup,
      lastCompletedBackup: r.lastCompletedBackup,
      backingUp,
      restoring,
      ...(errors.get(r.archiveGuid) || told(r.archiveGuid) ? { lastError: errors.get(r.archiveGuid) ?? null } : {}),
    })),
  });
  try {
    for (const [g, e] of errors) if ((e !== null) !== told(g)) kvSet(db, `${lastErrorKey(g)}:reported`, e !== null);
  } catch (err) {
    // a full disk: the flag is written at the next report
    if (!isLocalDiskFull(err)) throw err;
  }
}

/** Options of {@link runRestore}. */
export interface RunRestoreOptions extends AgentCommonOptions {
  /** Engine mode: restore from this archive. */
  archive?: DirectArchive;
  /** Registered mode: which archive (default: the first destination's). */
  archiveGuid?: string;
  at?: number | null;
  paths?: string[];
  target?: string | null;
  existing?: "overwrite" | "rename";
  fullPath?: boolean;
  progress?: ProgressSink;
  signal?: AbortSignal;
}

function pickArchive(o: AgentCommonOptions & { archive?: DirectArchive; archiveGuid?: string }, db: Db): DirectArchive {
  if (o.archive) return o.archive;
  const creds = requireCredentials(o.dataDir);
  const rows = new ArchiveStore(db).list();
  if (o.archiveGuid !== undefined && !GUID_PATTERN.test(o.archiveGuid))
    throw new CairnError(
      "USAGE",
      `--archive takes an archive guid (6 to 20 decimal digits, as \`cairn agent status\` lists them), not ${JSON.stringify(o.archiveGuid.slice(0, 100))}`,
    );
  // without --archive: the archive this device backed up to last (one still backed up), not the
  // first by name, which may be a destination left behind (in cold storage after a move)
  const newest = rows.filter((r) => r.lastSeq > 0).sort((a, b) => (b.lastBackup ?? 0) - (a.lastBackup ?? 0))[0];
  const row = o.archiveGuid ? rows.find((r) => r.archiveGuid === o.archiveGuid) : (newest ?? rows[0]);
  if (!row) {
    if (o.archiveGuid && rows.length > 0)
      throw new CairnError(
        "NOT_FOUND",
        `this device has no archive ${o.archiveGuid} (its archives: ${rows.map((r) => r.archiveGuid).join(", ")}; \`cairn agent status\` lists them)`,
      );
    throw new CairnError("NOT_FOUND", "this device has no archive yet");
  }
  const key = archiveKeyOf(creds, row.archiveGuid);
  if (!key) throw new CairnError("NOT_FOUND", `no key for archive ${row.archiveGuid} on this device`);
  return {
    endpoint: { archiveGuid: row.archiveGuid, url: row.url, fingerprint: row.fingerprint, token: row.token },
    archiveKey: key,
    destinationGuid: row.destinationGuid,
    known: { seq: row.lastSeq, manifestHash: row.lastManifestHash },
  };
}

/**
 * Restores files (see {@link runArchiveRestore}). A restore takes no run lock: it only reads the
 * archive and the device's local state, so a person restoring a lost file is not kept waiting
 * behind a backup that is running, paused outside its run window or on an excluded network.
 */
export async function runRestore(o: RunRestoreOptions): Promise<Awaited<ReturnType<typeof runArchiveRestore>>> {
  const clock = o.clock ?? systemClock;
  if (!o.archive) requireCredentials(o.dataDir);
  ensureDataDir(o.dataDir);
  const db = openAgentDb(o.dataDir);
  try {
    const a = pickArchive(o, db);
    return await runArchiveRestore({
      endpoint: a.endpoint,
      archiveKey: a.archiveKey,
      clock,
      logger: loggerOf(o),
      agentVersion: AGENT_VERSION,
      proxy: effectiveProxy(o.proxy, db),
      at: o.at ?? null,
      paths: o.paths ?? [],
      target: o.target ?? null,
      existing: o.existing ?? "overwrite",
      ...(o.fullPath !== undefined ? { fullPath: o.fullPath } : {}),
      ...(o.progress ? { progress: o.progress } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      ...(a.known ? { known: a.known } : {}),
    });
  } finally {
    db.close();
  }
}

/** `versions PATH`: every version of one file. */
export async function listVersions(
  o: AgentCommonOptions & { path: string; archive?: DirectArchive; archiveGuid?: string },
): Promise<Array<{ versionTime: string; size: number; deleted: boolean; seq: number }>> {
  const db = openAgentDb(o.dataDir);
  try {
    const a = pickArchive(o, db);
    const v = await archiveFileHistory({
      endpoint: a.endpoint,
      archiveKey: a.archiveKey,
      path: o.path,
      clock: o.clock ?? systemClock,
      logger: loggerOf(o),
      agentVersion: AGENT_VERSION,
      proxy: effectiveProxy(o.proxy, db),
    });
    return v.map((x) => ({ versionTime: isoTime(x.versionTime), size: x.size, deleted: x.deleted, seq: x.seq }));
  } finally {
    db.close();
  }
}

/** What `status` shows. */
export interface AgentStatus {
  registered: boolean;
  guid: string | null;
  userUid: string | null;
  orgUid: string | null;
  deviceName: string | null;
  username: string | null;
  keyPolicy: string | null;
  /** The stronger key policy the organization requires than this device's key is under (`cairn agent key-policy`), or null. */
  keyPolicyRequired: "password" | "custom" | null;
  visibility: "visible" | "hidden";
  selection: SelectionSpec;
  selectionLocked: boolean;
  destinations: Array<{
    destinationGuid: string;
    name: string;
    archiveGuid: string;
    lastBackup: string | null;
    lastCompletedBackup: string | null;
    selectedFiles: number;
    selectedBytes: number;
    todoFiles: number;
    todoBytes: number;
    tokenExpiresAt: string | null;
    /** The destination's last backup failure, null once a backup succeeds. */
    lastError: { code: string; message: string; at: string } | null;
  }>;
  selectedFiles: number;
  selectedBytes: number;
  todoFiles: number;
  todoBytes: number;
  offered: Array<{ destinationGuid: string; name: string; autoStart: boolean; optedIn: boolean }>;
}

/**
 * The organization's client visibility for this device (`hidden`: no status output, progress
 * or summaries on the device, DECISIONS.md); `visible` before the first configuration.
 */
export function deviceVisibility(dataDir: string): "visible" | "hidden" {
  if (!existsSync(join(dataDir, "agent.db"))) return "visible";
  const db = openAgentDb(dataDir);
  try {
    return kvGet<DeviceConfig>(db, "config")?.settings.visibility ?? "visible";
  } finally {
    db.close();
  }
}

/**
 * When this device's run window (the organization's setting, as last synced) is closed now:
 * the local time it opens next ("never this week" when it does not), else null.
 */
export function runWindowWait(dataDir: string, now = systemClock.now()): string | null {
  if (!existsSync(dataDir)) return null;
  const db = openAgentDb(dataDir);
  try {
    const w = kvGet<DeviceConfig>(db, "config")?.settings.runWindow ?? null;
    if (inRunWindow(w, now)) return null;
    const at = nextRunWindowOpen(w, now);
    return at === null ? "not in the next week" : `at ${new Date(at).toLocaleString()}`;
  } finally {
    db.close();
  }
}

/** The device's status from its local state (works without the daemon and the authority). */
export function agentStatus(o: AgentCommonOptions): AgentStatus {
  // Asking a folder that holds no agent its status says "not registered" and leaves no folder
  // behind (a mistyped --data must not become a new, empty agent).
  if (!existsSync(o.dataDir)) return unregisteredStatus();
  ensureDataDir(o.dataDir);
  const creds = readCredentials(o.dataDir);
  const db = openAgentDb(o.dataDir);
  try {
    const config = kvGet<DeviceConfig>(db, "config");
    const rows = new ArchiveStore(db).list();
    const dest = rows.map((r) => ({
      destinationGuid: r.destinationGuid,
      name: r.destinationName,
      archiveGuid: r.archiveGuid,
      lastBackup: r.lastBackup === null ? null : isoTime(r.lastBackup),
      lastCompletedBackup: r.lastCompletedBackup === null ? null : isoTime(r.lastCompletedBackup),
      selectedFiles: r.selectedFiles,
      selectedBytes: r.selectedBytes,
      todoFiles: r.todoFiles,
      todoBytes: r.todoBytes,
      tokenExpiresAt: r.tokenExpiresAt ? isoTime(r.tokenExpiresAt) : null,
      lastError: ((e) => (e ? { code: e.code, message: e.message, at: isoTime(e.at) } : null))(lastBackupError(db, r.archiveGuid)),
    }));
    const max = (k: "selectedFiles" | "selectedBytes" | "todoFiles" | "todoBytes") => dest.reduce((a, d) => Math.max(a, d[k]), 0);
    return {
      registered: creds !== undefined,
      guid: creds?.deviceGuid ?? null,
      userUid: creds?.userUid ?? null,
      // the org the authority last said (a user moved to another org), else the registration's
      orgUid: config?.org?.uid ?? creds?.orgUid ?? null,
      deviceName: creds?.deviceName ?? null,
      username: creds?.username ?? null,
      keyPolicy: creds?.keyPolicy ?? null,
      keyPolicyRequired: requiredKeyPolicy(creds?.keyPolicy, config?.settings.keyPolicy) as "password" | "custom" | null,
      visibility: config?.settings.visibility ?? "visible",
      selection: localSelection(db),
      selectionLocked: selectionLocked(config?.settings),
      destinations: dest,
      selectedFiles: max("selectedFiles"),
      selectedBytes: max("selectedBytes"),
      todoFiles: max("todoFiles"),
      todoBytes: max("todoBytes"),
      offered: (config?.destinations ?? []).map((d) => ({ destinationGuid: d.destinationGuid, name: d.name, autoStart: d.autoStart, optedIn: d.optedIn })),
    };
  } finally {
    db.close();
  }
}

function unregisteredStatus(): AgentStatus {
  return {
    registered: false,
    guid: null,
    userUid: null,
    orgUid: null,
    deviceName: null,
    username: null,
    keyPolicy: null,
    keyPolicyRequired: null,
    visibility: "visible",
    selection: EMPTY_SELECTION,
    selectionLocked: false,
    destinations: [],
    selectedFiles: 0,
    selectedBytes: 0,
    todoFiles: 0,
    todoBytes: 0,
    offered: [],
  };
}

/** Changes the local selection: `add`/`remove` paths or add `exclude` patterns; refused where locked. */
export function changeSelection(o: AgentCommonOptions & { op: "add" | "remove" | "exclude"; items: string[] }): SelectionSpec {
  ensureDataDir(o.dataDir);
  const db = openAgentDb(o.dataDir);
  try {
    const config = kvGet<DeviceConfig>(db, "config");
    if (selectionLocked(config?.settings)) throw new CairnError("SELECTION_LOCKED", "the organization locks the file selection on this device");
    const cur = localSelection(db);
    const next = o.op === "add" ? addToSelection(cur, o.items) : o.op === "remove" ? removeFromSelection(cur, o.items) : addExcludePatterns(cur, o.items);
    kvSet(db, "selection", next);
    return next;
  } finally {
    db.close();
  }
}

/** The effective selection of each destination (for `select list`). */
export function listSelection(o: AgentCommonOptions): { local: SelectionSpec; locked: boolean; effective: Record<string, SelectionSpec> } {
  const db = openAgentDb(o.dataDir);
  try {
    const config = kvGet<DeviceConfig>(db, "config");
    const local = localSelection(db);
    const effective: Record<string, SelectionSpec> = {};
    for (const r of new ArchiveStore(db).list()) effective[r.destinationGuid] = effectiveSelection(config?.settings, r.destinationGuid, local).spec;
    return { local, locked: selectionLocked(config?.settings), effective };
  } finally {
    db.close();
  }
}
