/**
 * The agent daemon (`cairn agent serve`): keeps the authority link (config pushed and applied
 * without a restart, tokens renewed, status reported, restore orders served), watches the
 * selection, and runs backups on schedule:
 *
 * - a full scan at start and whenever `verifyScanIntervalMs` (daily) has passed since the last;
 * - between them, the watcher's coalesced paths, at most once per `frequencyMs`;
 * - only inside the run window (nothing is sent outside it: the send gate closes too);
 * - when asked over the local API (`cairn agent backup` while the daemon runs): right away, after
 *   any backup in progress, from the watcher's paths (a full scan before the first one, after a
 *   selection change, without watching, or after a watcher error).
 *
 * Time comes from the injected clock; {@link AgentHandle.tick} runs whatever is due now, so tests
 * drive the schedule without sleeping. A real timer calls it every `tickMs`.
 */
import { effectiveProxyOf } from "../config/org-proxy.js";
import pino, { type Logger } from "pino";
import { isAbsolute } from "node:path";
import { type AGENT_CHANNEL, CairnError, type Clock, DAY_MS, type ParamsOf, type DeviceConfig, isCairnError, MINUTE_MS, systemClock } from "@cairn/protocol";
import { bandwidthFor, type DirectArchive, exclusionsOf, localSelection, reportStatus, type RunBackupResult, runBackup } from "../agent-api.js";
import type { AuthorityClient } from "../auth/authority-client.js";
import { requiredKeyPolicy } from "../auth/key-policy.js";
import { connectAuthority, reportLocalSelection, syncConfig } from "../auth/registration.js";
import { acquireDaemonLock, acquireRunLock } from "../lock.js";
import { type NetworkExclusions, NetworkPolicy } from "../net/network-policy.js";
import { RateLimiter } from "../net/rate-limiter.js";
import type { ProgressEvent } from "../progress.js";
import { runArchiveRestore } from "../restore/run-restore.js";
import { effectiveSelection, mergeSelections, Selection, type SelectionSpec } from "../selection.js";
import { kvGet, openAgentDb } from "../state/agent-db.js";
import { ArchiveStore } from "../state/archive-store.js";
import { ensureDataDir, readCredentials } from "../state/credentials.js";
import { AGENT_VERSION } from "../version.js";
import { UpgradeManager } from "../upgrade/upgrade-manager.js";
import { deauthorizeLocal } from "./deauthorize.js";
import { startLocalApi } from "./local-api.js";
import { AgentMetrics, agentReadiness, listenAgentMetrics } from "./metrics.js";
import { earliestTokenExpiry, TokenRenewal } from "./token-renewal.js";
import { cpuShareFor, type Presence, presenceProbe } from "./presence.js";
import { inRunWindow } from "./run-window.js";
import { ChangeWatcher } from "./watcher.js";

/** Options of {@link startAgent}. */
export interface StartAgentOptions {
  dataDir: string;
  clock?: Clock;
  logger?: Logger;
  proxy?: string | null;
  /** Real-time interval of the scheduler timer (default 1000 ms; 0: no timer, call tick()). */
  tickMs?: number;
  /** Watch in real time (default: the settings' `watch`). */
  watch?: boolean;
  /** Whether the user is at the computer (default: the operating system's answer, cached); a seam for tests. */
  presence?: () => Presence;
  /** Engine mode (tests): back up these archives with this selection, no authority. */
  archives?: DirectArchive[];
  selection?: SelectionSpec;
  /** Settings for engine mode. */
  settings?: Partial<DeviceConfig["settings"]>;
  /** Serve the unix-socket API (default true). */
  localApi?: boolean;
  /** A plain-HTTP listener for /metrics, /healthz and /readyz (agent.toml `metrics.address`). */
  metricsAddress?: { host: string; port: number } | null;
  /** Self-upgrades (agent.toml `upgrade.*`); absent: offers are only logged. */
  upgrade?: { dir: string; enabled: boolean; packageKey: string | null; managed?: boolean } | null;
  /** Longest wait between attempts to reach the authority (default 60 s). */
  reconnectMaxDelayMs?: number;
  /** An upgrade is installed and current: the caller stops the daemon and restarts the process. */
  onRestart?: (version: string) => void;
}

/** A running agent. */
export interface AgentHandle {
  /** Runs what is due now (per the injected clock); resolves when it is done. */
  tick(): Promise<RunBackupResult | null>;
  /** Backs up now (full scan). */
  backupNow(): Promise<RunBackupResult>;
  /**
   * Backs up now for a caller that waits (`cairn agent backup` through the local API): after the
   * backup in progress, if any; only the watcher's paths when the watcher has seen every change
   * since the last full scan, else (or with `full`) a full scan. Resolves with the committed
   * version; rejects with the backup's error.
   */
  requestBackup(o?: { full?: boolean }): Promise<RunBackupResult>;
  /** Paths the watcher reported that are not backed up yet. */
  readonly pendingChanges: number;
  /** The last backup's result. */
  readonly lastResult: RunBackupResult | null;
  /** The effective settings now. */
  readonly settings: EffectiveSettings;
  /** Re-reads configuration and selection (after `config-changed` or `select`). */
  reload(): Promise<void>;
  /** Prometheus metrics of this daemon. */
  readonly metrics: AgentMetrics;
  /** `http://host:port/metrics` of the metrics listener, when one was asked for. */
  readonly metricsUrl: string | null;
  /** The upgrade handler (null without `upgrade`). */
  readonly upgrades: UpgradeManager | null;
  /** Whether the control link to the authority is up. */
  readonly authorityConnected: boolean;
  close(): Promise<void>;
}

/** What the scheduler uses. */
export interface EffectiveSettings {
  frequencyMs: number;
  verifyScanIntervalMs: number;
  watch: boolean;
  runWindow: DeviceConfig["settings"]["runWindow"];
  /** The bandwidth limit toward the first destination (each destination has its own: WAN or LAN). */
  bytesPerSec: number;
  /** CPU share of scheduled backups while the user is present. */
  cpuPercent: number;
  /** CPU share of scheduled backups while the user is away (presence.ts). */
  cpuAwayPercent: number;
  /** The Network tab's exclusions: no block is sent over these interfaces or Wi-Fi networks. */
  network: NetworkExclusions;
}

const DEFAULTS: EffectiveSettings = {
  frequencyMs: 15 * MINUTE_MS,
  verifyScanIntervalMs: DAY_MS,
  watch: true,
  runWindow: null,
  bytesPerSec: 0,
  cpuPercent: 100,
  cpuAwayPercent: 100,
  network: { excludedInterfaces: [], excludedWifi: [] },
};

/** The URL of the device's first destination in its stored configuration, if any. */
function firstDestinationUrl(dataDir: string): string | undefined {
  const db = openAgentDb(dataDir);
  try {
    return new ArchiveStore(db).list()[0]?.url;
  } finally {
    db.close();
  }
}

/** Starts the agent daemon; LOCKED (exit 11) when another daemon serves the same data folder. */
export async function startAgent(o: StartAgentOptions): Promise<AgentHandle> {
  ensureDataDir(o.dataDir);
  const unlock = acquireDaemonLock(o.dataDir);
  try {
    const handle = await startLockedAgent(o);
    const close = handle.close;
    let closing: Promise<void> | null = null;
    handle.close = () => {
      closing ??= close().finally(unlock);
      return closing;
    };
    return handle;
  } catch (err) {
    unlock();
    throw err;
  }
}

async function startLockedAgent(o: StartAgentOptions): Promise<AgentHandle> {
  const clock = o.clock ?? systemClock;
  const rootLogger = o.logger ?? pino({ level: "silent" });
  const logger = rootLogger.child({ component: "agent" });
  const watcher = new ChangeWatcher();
  let settings = DEFAULTS;
  /** The settings as the authority (or the caller) gave them, for the per-destination limits. */
  let given: Partial<DeviceConfig["settings"]> = {};
  const rateFor = (url: string): number => (given.wanBytesPerSec !== undefined ? bandwidthFor(given as DeviceConfig["settings"], url) : 0);
  // One limiter per storage node URL: the WAN limit for a node on the internet, the LAN limit for
  // one on a private address; their rates and the run-window gate follow the settings.
  const limiters = new Map<string, RateLimiter>();
  const limiterFor = (url: string): RateLimiter => {
    let l = limiters.get(url);
    if (!l) {
      l = new RateLimiter(rateFor(url), () => inRunWindow(settings.runWindow, clock.now()));
      limiters.set(url, l);
    }
    return l;
  };
  const network = new NetworkPolicy();
  let warnedKeyPolicy: string | null = null;
  const presence = o.presence ?? presenceProbe();
  let config: DeviceConfig | undefined;
  let client: AuthorityClient | null = null;
  let closed = false;
  let running: Promise<RunBackupResult | null> | null = null;
  let lastFull: number | null = null;
  let lastBackup: number | null = null;
  /** Scheduled backups that failed in a row, and when the schedule may try again (backoff). */
  let failures = 0;
  let retryAt = 0;
  /**
   * Destinations that failed while others committed: each waits out its own backoff (the others
   * keep their schedule), and its next run is a full scan, since the watcher's paths drained
   * meanwhile went only to the others.
   */
  const destBackoff = new Map<string, { failures: number; retryAt: number }>();
  const needsFull = new Set<string>();
  /** Archives seen without any version (each asks for one full scan). */
  const freshArchives = new Set<string>();
  /** Archives seen in results (so that a run with every one of them backing off is not started). */
  const knownArchives = new Set<string>();
  let lastResult: RunBackupResult | null = null;
  let progress: ProgressEvent | null = null;
  let restoring = 0;
  let watchedKey = "";
  const metrics = new AgentMetrics();
  const renewal = new TokenRenewal({ dataDir: o.dataDir, clock, logger });
  const upgrades = o.upgrade
    ? new UpgradeManager({
        dataDir: o.dataDir,
        dir: o.upgrade.dir,
        enabled: o.upgrade.enabled,
        managed: o.upgrade.managed ?? true,
        configuredKey: o.upgrade.packageKey,
        runningVersion: AGENT_VERSION,
        clock,
        logger,
        proxy: o.proxy ?? null,
        metrics,
        isBusy: () => running !== null || restoring > 0,
        onReady: (version) => {
          if (o.onRestart) o.onRestart(version);
          else logger.warn({ version }, "upgrade installed; restart the agent to run it");
        },
      })
    : null;

  const selectionNow = (): Selection => {
    if (o.archives) return new Selection(o.selection ?? { include: [], exclude: [], excludePatterns: [] });
    const db = openAgentDb(o.dataDir);
    try {
      const local = localSelection(db);
      const specs = new ArchiveStore(db).list().map((r) => effectiveSelection(config?.settings, r.destinationGuid, local).spec);
      return new Selection(mergeSelections(...specs, ...(specs.length === 0 ? [local] : [])));
    } finally {
      db.close();
    }
  };

  const apply = async (): Promise<void> => {
    if (!o.archives) {
      const db = openAgentDb(o.dataDir);
      try {
        config = kvGet<DeviceConfig>(db, "config");
        // a destination offered since the last scan: its new archive has nothing, and the
        // watcher's paths hold only what changed, so its first backup is a full scan
        for (const r of new ArchiveStore(db).list()) {
          if (r.lastSeq !== 0 || freshArchives.has(r.archiveGuid)) continue;
          freshArchives.add(r.archiveGuid);
          needsFull.add(r.archiveGuid);
        }
      } finally {
        db.close();
      }
    }
    const s = { ...(config?.settings ?? {}), ...(o.settings ?? {}) } as Partial<DeviceConfig["settings"]>;
    given = s;
    const firstUrl = o.archives?.[0]?.endpoint.url ?? firstDestinationUrl(o.dataDir) ?? "wss://127.0.0.1/";
    settings = {
      frequencyMs: s.frequencyMs ?? DEFAULTS.frequencyMs,
      verifyScanIntervalMs: s.verifyScanIntervalMs ?? DEFAULTS.verifyScanIntervalMs,
      watch: o.watch ?? s.watch ?? DEFAULTS.watch,
      runWindow: s.runWindow ?? null,
      bytesPerSec: rateFor(firstUrl),
      cpuPercent: s.cpuPresentPercent ?? 100,
      cpuAwayPercent: s.cpuAwayPercent ?? s.cpuPresentPercent ?? 100,
      network: exclusionsOf(s),
    };
    // a raised key policy needs this user's key protected under it (`cairn agent key-policy`)
    const required = requiredKeyPolicy(readCredentials(o.dataDir)?.keyPolicy, s.keyPolicy);
    if (required !== null && required !== warnedKeyPolicy)
      logger.warn({ required }, "the organization raised the key policy: protect this user's key with `cairn agent key-policy`");
    warnedKeyPolicy = required;
    for (const [url, l] of limiters) l.setRate(rateFor(url));
    network.set(settings.network);
    const sel = selectionNow();
    const key = `${settings.watch}|${JSON.stringify(sel.spec)}`;
    if (key !== watchedKey && !closed) {
      // another selection (new roots to walk, old ones to mark deleted) or watching switched: the
      // watcher's paths no longer cover every change, the next backup scans everything
      if (watchedKey !== "") lastFull = null;
      watchedKey = key;
      if (settings.watch) await watcher.watch(sel);
      else await watcher.close();
    }
  };

  /**
   * One backup: `paths` from the watcher, or null for a full scan; `cpuPercent` overrides the
   * settings' share (the present or the away one, as the user is at the computer or not).
   */
  const backup = async (
    paths: string[] | null,
    cpuPercent = cpuShareFor(presence(), { presentPercent: settings.cpuPercent, awayPercent: settings.cpuAwayPercent }),
    skipArchives: ReadonlySet<string> = new Set(),
  ): Promise<RunBackupResult> => {
    const release = acquireRunLock(o.dataDir);
    const started = performance.now();
    metrics.backupsRunning.set(1);
    metrics.backupCpuPercent.set(cpuPercent);
    try {
      if (client) {
        const db = openAgentDb(o.dataDir);
        await reportStatus(client, db, true).catch(() => undefined);
        db.close();
      }
      const r = await runBackup({
        dataDir: o.dataDir,
        clock,
        // runBackup names its component itself: the root logger, or every line says it twice
        logger: rootLogger,
        proxy: o.proxy ?? null,
        lock: false,
        limiterFor,
        network,
        cpuPercent,
        syncAuthority: false,
        progress: (p) => {
          progress = p;
        },
        ...(o.archives ? { archives: o.archives, selection: selectionNow().spec } : {}),
        ...(paths ? { paths } : {}),
        ...(skipArchives.size > 0 ? { skipArchives } : {}),
      });
      lastResult = r;
      failures = 0;
      retryAt = 0;
      const now = clock.now();
      for (const d of r.destinations) {
        knownArchives.add(d.archiveGuid);
        destBackoff.delete(d.archiveGuid);
        if (!paths) needsFull.delete(d.archiveGuid);
      }
      // a full scan served every archive that took part, and one that did not take part (no
      // key on this device, not offered any more) must not ask for a full scan at every tick
      if (!paths) for (const g of [...needsFull]) if (!skipArchives.has(g)) needsFull.delete(g);
      // the paths of this run went only to the archives that took part
      for (const g of skipArchives) needsFull.add(g);
      for (const f of r.failed) {
        knownArchives.add(f.archiveGuid);
        const b = destBackoff.get(f.archiveGuid) ?? { failures: 0, retryAt: 0 };
        b.failures++;
        const waitMs = backoffMs(b.failures, Math.random());
        b.retryAt = now + waitMs;
        destBackoff.set(f.archiveGuid, b);
        needsFull.add(f.archiveGuid);
        logger.error(
          { archiveGuid: f.archiveGuid, code: f.code, failures: b.failures, retryInMs: Math.round(waitMs) },
          "backup to this destination failed; the others go on",
        );
      }
      metrics.backups.inc({ result: r.errors > 0 || r.failed.length > 0 ? "partial" : "completed" });
      metrics.bytesUploaded.inc(r.uploadedBytes);
      metrics.filesChanged.inc(r.changedFiles);
      if (r.errors === 0) metrics.lastCompletedBackup.set(Date.parse(r.versionTime) / 1000);
      if (!paths) lastFull = clock.now();
      lastBackup = clock.now();
      if (client) {
        const db = openAgentDb(o.dataDir);
        await reportStatus(client, db).catch(() => undefined);
        db.close();
      }
      return r;
    } catch (err) {
      metrics.backups.inc({ result: "failed" });
      // the failure (kept per archive as its lastError) is news for the console: report it now;
      // a full disk under the data folder could not be kept, so it goes with the report itself
      if (client) {
        const db = openAgentDb(o.dataDir);
        const full = isCairnError(err, "LOCAL_DISK_FULL") ? { code: "LOCAL_DISK_FULL", message: (err as Error).message, at: clock.now() } : null;
        await reportStatus(client, db, false, false, full).catch(() => undefined);
        db.close();
      }
      throw err;
    } finally {
      metrics.backupsRunning.set(0);
      metrics.backupDuration.observe((performance.now() - started) / 1000);
      progress = null;
      release();
    }
  };

  const tick = async (): Promise<RunBackupResult | null> => {
    if (running !== null) return running;
    if (closed || upgrades?.holding || (!o.archives && !readCredentials(o.dataDir))) return null;
    void renewal.maybe(client);
    metrics.pendingChanges.set(watcher.pending);
    const now = clock.now();
    if (!inRunWindow(settings.runWindow, now)) return null;
    // after a failure (node full or down, token refused, rollback detected…) the schedule waits,
    // longer each time: retrying at every tick would rescan and reconnect every second
    if (now < retryAt) return null;
    const skip = new Set([...destBackoff].filter(([, b]) => b.retryAt > now).map(([g]) => g));
    if (skip.size > 0 && [...knownArchives].every((g) => skip.has(g))) return null;
    // a destination back from its backoff catches up with a full scan
    const catchUp = [...needsFull].some((g) => !skip.has(g));
    const full = lastFull === null || watcher.lost || catchUp || now - lastFull >= settings.verifyScanIntervalMs;
    const due = lastBackup === null || now - lastBackup >= settings.frequencyMs;
    if (!full && !(due && watcher.pending > 0)) return null;
    const lost = watcher.lost;
    const paths = full ? null : watcher.drain();
    if (full) {
      watcher.drain();
      watcher.lost = false;
    }
    running = backup(paths, undefined, skip).catch((err: unknown) => {
      if (paths) watcher.restore(paths);
      else watcher.lost ||= lost;
      if (isCairnError(err, "LOCKED")) return null;
      failures++;
      const waitMs = backoffMs(failures, Math.random());
      retryAt = clock.now() + waitMs;
      logger.error({ err, failures, retryInMs: Math.round(waitMs) }, "backup failed");
      lastBackup = clock.now();
      return null;
    });
    try {
      return await running;
    } finally {
      running = null;
    }
  };

  const requestBackup = async (full: boolean): Promise<RunBackupResult> => {
    if (closed) throw new CairnError("UNAVAILABLE", "the agent is stopping");
    if (upgrades?.holding) throw new CairnError("UNAVAILABLE", "the agent is restarting for an upgrade; back up again in a minute");
    // a backup in progress finishes first (it may have started before the change the caller made)
    while (running !== null) await running;
    const job = (async () => {
      await watcher.settle();
      const lost = watcher.lost;
      const watched = settings.watch && watcher.active && !lost;
      const paths = full || lastFull === null || !watched ? null : watcher.drain();
      if (paths === null) {
        watcher.drain();
        watcher.lost = false;
      }
      try {
        // someone waits for this one (as for `backup` without a daemon): the workers run at full speed
        return await backup(paths, 100);
      } catch (err) {
        if (paths) watcher.restore(paths);
        else watcher.lost ||= lost;
        throw err;
      }
    })();
    const mine = job.catch(() => null);
    running = mine;
    try {
      return await job;
    } finally {
      if (running === mine) running = null;
    }
  };

  const restoreOrder = (p: ParamsOf<(typeof AGENT_CHANNEL)["b"]["methods"], "restore-order">) => {
    if (upgrades?.holding) throw new CairnError("UNAVAILABLE", "the agent is restarting for an upgrade; order the restore again in a minute");
    // a target folder is absolute on this device (a relative one would land below the daemon's cwd)
    if (p.targetPath !== null && !isAbsolute(p.targetPath))
      throw new CairnError("BAD_REQUEST", `the restore folder must be an absolute path on this device, not ${JSON.stringify(p.targetPath.slice(0, 200))}`);
    if (p.targetPath !== null && (p.targetPath.includes("\0") || p.targetPath.split(/[\\/]/).includes("..")))
      throw new CairnError("BAD_REQUEST", `the restore folder must name a folder without ".." or NUL, not ${JSON.stringify(p.targetPath.slice(0, 200))}`);
    restoring++;
    metrics.restoresRunning.inc();
    const report = (state: "running" | "done" | "failed", r?: { files: number; bytes: number; errors: number }, message?: string) =>
      client
        ?.call("restore-status", {
          jobId: p.jobId,
          state,
          files: r?.files ?? 0,
          bytes: r?.bytes ?? 0,
          errors: r?.errors ?? 0,
          totalFiles: 0,
          totalBytes: 0,
          ...(message ? { message: message.slice(0, 2000) } : {}),
        })
        .catch(() => undefined);
    void (async () => {
      await report("running");
      try {
        // an order for one of this device's own archives: what it last committed there (T20)
        const db = openAgentDb(o.dataDir);
        let own: { lastSeq: number; lastManifestHash: Buffer | null } | undefined;
        try {
          own = new ArchiveStore(db).list().find((r) => r.archiveGuid === p.source.archiveGuid);
        } finally {
          db.close();
        }
        const r = await runArchiveRestore({
          endpoint: { archiveGuid: p.source.archiveGuid, url: p.source.server.url, fingerprint: p.source.server.fingerprint, token: p.source.token },
          archiveKey: p.source.archiveKey,
          clock,
          logger,
          agentVersion: AGENT_VERSION,
          proxy: effectiveProxyOf(o.proxy, o.dataDir),
          at: p.at,
          paths: p.paths,
          target: p.targetPath,
          existing: p.existing,
          fullPath: p.restoreFullPath,
          showDeleted: p.showDeleted,
          ...(p.permissions ? { permissions: p.permissions } : {}),
          ...(own ? { known: { seq: own.lastSeq, manifestHash: own.lastManifestHash } } : {}),
        });
        // a link is a file to the authority (its catalog counts every non-directory as one)
        const files = r.files + r.symlinks;
        const state = r.errors > 0 && files === 0 ? "failed" : "done";
        const note = [...r.warnings.map((w) => `${w.code}: ${w.message}`), ...(r.errors ? [r.errorList[0]?.message ?? ""] : [])].join("; ");
        await report(state, { files, bytes: r.bytes, errors: r.errors }, note || undefined);
        metrics.restores.inc({ result: state });
      } catch (err) {
        metrics.restores.inc({ result: "failed" });
        await report("failed", undefined, (err as Error).message);
      } finally {
        restoring--;
        metrics.restoresRunning.dec();
      }
    })();
    return { accepted: true };
  };

  /**
   * Fetches and applies the configuration after `config-changed`. A failed sync is tried again,
   * 2 s, 4 s, … up to 5 minutes later, while the link is up: a destination just offered may not
   * be reachable yet (a provider's node still being dialled), and the next push may never come.
   */
  let resyncTimer: NodeJS.Timeout | null = null;
  let resyncGeneration = 0;
  const resync = async (attempt: number): Promise<void> => {
    if (resyncTimer !== null) clearTimeout(resyncTimer);
    resyncTimer = null;
    const generation = ++resyncGeneration;
    const link = client;
    if (!link || closed) return;
    try {
      await syncConfig(o.dataDir, link, clock, logger);
    } catch (err) {
      const waitMs = Math.min(5 * MINUTE_MS, 2000 * 2 ** Math.min(attempt, 8));
      logger.warn({ err, retryInMs: waitMs }, "config sync failed");
      if (generation === resyncGeneration && !closed) {
        resyncTimer = setTimeout(() => {
          if (client === link) void resync(attempt + 1);
        }, waitMs);
        resyncTimer.unref();
      }
    }
    await apply();
  };

  const connectLoop = async (): Promise<void> => {
    let attempt = 0;
    while (!closed && !o.archives && readCredentials(o.dataDir)) {
      try {
        const c = await connectAuthority(
          o.dataDir,
          {
            handlers: {
              "restore-order": restoreOrder as never,
              "cancel-restore": () => ({}),
              ping: () => ({ agentVersion: AGENT_VERSION, backingUp: running !== null, restoring: restoring > 0 }),
            },
            events: {
              onConfigChanged: () => {
                void resync(0);
              },
              onUpgradeAvailable: (offer) => {
                if (upgrades) upgrades.offer(offer);
                else logger.info({ version: offer.version }, "upgrade offered; this agent does not install upgrades (no upgrade.dir)");
              },
              onDeauthorized: (reason) => {
                logger.warn({ reason }, "deauthorized: wiping credentials and keys");
                deauthorizeLocal(o.dataDir);
                client?.close();
              },
            },
          },
          o.proxy,
        );
        client = c;
        attempt = 0;
        metrics.authorityConnected.set(1);
        metrics.authorityReconnects.inc();
        await syncConfig(o.dataDir, c, clock, logger);
        renewal.synced();
        logger.info("connected to the authority");
        await upgrades?.pinFromAuthority().catch((err: unknown) => logger.warn({ err: (err as Error).message }, "package-signing key not fetched"));
        await apply();
        const db = openAgentDb(o.dataDir);
        await reportStatus(c, db).catch(() => undefined);
        db.close();
        await c.closed;
        client = null;
        metrics.authorityConnected.set(0);
      } catch (err) {
        client = null;
        metrics.authorityConnected.set(0);
        if (isCairnError(err) && (err.code === "UNAUTHORIZED" || err.code === "DEVICE_DEAUTHORIZED" || err.code === "TOKEN_REVOKED")) {
          logger.error({ err: err.message }, "the authority refused this device");
        } else logger.warn({ err: (err as Error).message }, "authority unreachable; retrying");
      }
      if (closed) break;
      attempt++;
      const maxDelay = o.reconnectMaxDelayMs ?? 60_000;
      await new Promise((r) => setTimeout(r, Math.min(maxDelay, 1000 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random() / 2)).unref?.());
    }
  };

  const readiness = () =>
    agentReadiness({
      registered: () => o.archives !== undefined || readCredentials(o.dataDir) !== undefined,
      authorityConnected: () => client !== null,
      tokenExpiry: () => {
        if (o.archives) return null;
        const exp = earliestTokenExpiry(o.dataDir);
        if (exp !== null) metrics.tokenExpiry.set(exp / 1000);
        return exp;
      },
      now: () => clock.now(),
    });

  metrics.onScrape(() => void readiness());
  const metricsServer = o.metricsAddress ? await listenAgentMetrics(metrics, readiness, o.metricsAddress.host, o.metricsAddress.port) : null;
  const metricsPort = (() => {
    const a = metricsServer?.address();
    return typeof a === "object" && a !== null ? a.port : null;
  })();
  await apply();
  const authorityLoop = connectLoop();
  const stopApi =
    o.localApi === false
      ? null
      : await startLocalApi(o.dataDir, {
          status: () => ({ backingUp: running !== null, restoring: restoring > 0, progress, pendingChanges: watcher.pending, lastResult }),
          reload: async () => {
            await apply();
            // the selection may have changed (`cairn agent select`): the device's settings show it
            const link = client;
            if (link) {
              const db = openAgentDb(o.dataDir);
              try {
                await reportLocalSelection(link, db, logger);
              } finally {
                db.close();
              }
            }
            return { ok: true };
          },
          backup: (body) => requestBackup(body.full === true),
          readiness: () => {
            const r = readiness();
            return { ready: r.status === "ok", body: r };
          },
          metrics: async () => ({ contentType: metrics.registry.contentType, text: await metrics.text() }),
        }).catch((err: unknown) => {
          logger.warn({ err }, "local API not available");
          return null;
        });
  const timer = (o.tickMs ?? 1000) > 0 ? setInterval(() => void tick(), o.tickMs ?? 1000) : null;
  timer?.unref();
  logger.info({ dataDir: o.dataDir, version: AGENT_VERSION, ...(metricsPort !== null ? { metricsPort } : {}) }, "agent started");

  return {
    tick,
    backupNow: async () => {
      if (running !== null) await running;
      lastFull = null;
      const r = await tick();
      if (!r) throw new CairnError("UNAVAILABLE", "the backup did not run (outside the run window, or it failed: see the log)");
      return r;
    },
    requestBackup: (r) => requestBackup(r?.full === true),
    get pendingChanges() {
      return watcher.pending;
    },
    get lastResult() {
      return lastResult;
    },
    get settings() {
      return settings;
    },
    reload: apply,
    metrics,
    metricsUrl: metricsPort !== null ? `http://${urlHost(o.metricsAddress?.host ?? "127.0.0.1")}:${metricsPort}/metrics` : null,
    upgrades,
    get authorityConnected() {
      return client !== null;
    },
    close: async () => {
      closed = true;
      upgrades?.close();
      if (timer) clearInterval(timer);
      if (resyncTimer !== null) clearTimeout(resyncTimer);
      await new Promise<void>((r) => (metricsServer ? metricsServer.close(() => r()) : r()));
      client?.close();
      if (running !== null) await running;
      await watcher.close();
      if (stopApi) await stopApi();
      await Promise.race([authorityLoop, new Promise((r) => setTimeout(r, 100))]);
    },
  };
}

/** First wait after a failed scheduled backup; it doubles with each failure in a row. */
export const BACKOFF_FIRST_MS = 30_000;
/** Longest wait between scheduled attempts after failures. */
export const BACKOFF_MAX_MS = 60 * 60_000;

/**
 * Wait before the next scheduled attempt after `failures` failed backups in a row: 30 s doubling
 * up to 1 h, spread ±10% by `random` (in [0, 1)) so that devices failing together (a node down)
 * do not all come back in the same second.
 */
export function backoffMs(failures: number, random: number): number {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.max(0, Math.min(failures - 1, 20)));
  return base * (0.9 + 0.2 * random);
}

/** A host as it goes into a URL: an IPv6 address in brackets. */
function urlHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}
