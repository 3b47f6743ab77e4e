/**
 * @packageDocumentation
 * `@cairn/storenode`: the storage node. It stores sealed blocks it cannot read, in archives (one
 * per device per destination), and the shape of each archive's versions; applies retention,
 * collects garbage, compacts and verifies; streams restores; and serves two kinds of authority:
 * its own (it dials it) and provider tenants (they dial it).
 *
 * Vocabulary: **store point** (a directory the node stores archives in), **namespace** (`own`
 * or a tenant id: the authority an archive belongs to), **pack** (a write-once file of blocks),
 * **session** (one writer's upload, resumable), **lease** (the one-writer lock, server time).
 *
 * A backup, as the node sees it:
 *  1. upgrade to `wss://N/v1/data` with a storage token: verified offline with the archive's
 *     namespace keys, destination and revocations checked, before any frame;
 *  2. `open` takes the writer lease (or resumes the session); `have` reports held blocks;
 *  3. `put` frames: SHA-256 checked, quota and free space checked, group-committed to a pack
 *     (temp → fsync → rename → fsync dir → index commit), then acknowledged;
 *  4. `stage-files`, then `commit`: every referenced block present, one SQLite transaction.
 * Not guaranteed: confidentiality of block sizes, counts and timing (RELIABILITY.md §5.9).
 *
 * Entry points: {@link initStorenode}, {@link startStorenode}, {@link createProviderKey}.
 */
import { hostname } from "node:os";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { join, resolve } from "node:path";
import { CairnError } from "@cairn/protocol";
import { ArchiveRegistry } from "./archive/registry.js";
import type { NodeContext } from "./context.js";
import { AuthorityDialler } from "./control/authority-link.js";
import { reportsFor } from "./control/handlers.js";
import { createCrashPoints } from "./crash.js";
import { Hub } from "./hub.js";
import type { OwnAuthority } from "./init.js";
import { addMaintainResult, emptyMaintainResult, type MaintainOptions, type MaintainResult, runMaintenance } from "./maintenance/maintenance.js";
import { scheduleMaintenance } from "./maintenance/schedule.js";
import { NodeMetrics } from "./metrics.js";
import { NodeDb, OWN_NS } from "./node-db.js";
import { resolveOptions, type StartStorenodeOptions } from "./options.js";
import { listenAdminSocket } from "./server/admin-socket.js";
import { NodeServer } from "./server/http-server.js";
import { SpaceMonitor } from "./space.js";
import { loadTls } from "./tls.js";

export { initStorenode, type InitStorenodeOptions, type InitStorenodeResult } from "./init.js";
export { createProviderKey, type CreateProviderKeyOptions, type ProviderKeyResult } from "./provider-key.js";
export type { StartStorenodeOptions } from "./options.js";
export type { MaintainResult } from "./maintenance/maintenance.js";
export { CRASH_POINTS, type CrashPointName } from "./crash.js";
export type { BlockStore } from "./blockstore/blockstore.js";
export type { StoreFs, StoreFile } from "./blockstore/store-fs.js";
export { OWN_NS } from "./node-db.js";
export { SERVE_CONFIG as STORENODE_SERVE_CONFIG } from "./serve-config.js";

/** A running node. */
export interface StorenodeHandle {
  /** The bound port. */
  port: number;
  /** The URL of the bound listener (`wss://<host>:<port>`; 127.0.0.1 when listening on all interfaces). */
  url: string;
  /** The URLs announced to authorities and put in provider keys. */
  urls: string[];
  /** SHA-256 fingerprint of the node's certificate. */
  fingerprint: string;
  serverGuid: string;
  /** URL of a separate metrics listener, when configured. */
  metricsUrl: string | null;
  /** Runs maintenance now on one namespace (default: the own) and archive (default: all). */
  maintain(opts?: { ns?: string; archiveGuid?: string | null } & Partial<MaintainOptions>): Promise<MaintainResult>;
  /** Runs maintenance on every namespace (the operator's `maintain` / `verify`). */
  maintainAll(o: { archiveGuid: string | null; verify: boolean; verifyOnly?: boolean }): Promise<MaintainResult>;
  /** Sends `report-archives` on every control link now. */
  report(): Promise<void>;
  /** Graceful shutdown: no new connections, in-flight writes finished, sockets closed with 1001. */
  close(): Promise<void>;
}

/** Starts a node on an initialized data directory. */
export async function startStorenode(options: StartStorenodeOptions): Promise<StorenodeHandle> {
  const opts = resolveOptions({ ...options, dataDir: resolve(options.dataDir) });
  const db = NodeDb.openInitialized(opts.dataDir);
  const serverGuid = db.getSetting<string>("serverGuid");
  if (!serverGuid) {
    db.close();
    throw new CairnError("CONFIG_INVALID", `${opts.dataDir} is not initialized (run storenode init)`);
  }
  if (opts.trustedAuthorityKeys) {
    const have = db.keys(OWN_NS);
    db.setKeys(OWN_NS, [...have.filter((k) => !opts.trustedAuthorityKeys?.some((t) => t.kid === k.kid)), ...opts.trustedAuthorityKeys]);
  }
  const crash = createCrashPoints(opts.crashAt);
  const metrics = new NodeMetrics();
  const registry = new ArchiveRegistry({
    db,
    clock: opts.clock,
    crash,
    logger: opts.logger,
    leaseTtlMs: opts.leaseTtlMs,
    maxBatchBytes: opts.maxBatchBytes,
    maxOpenArchives: opts.maxOpenArchives,
    ...(opts.fs ? { fs: opts.fs } : {}),
  });
  registry.sweep();
  const low = new Set<number>();
  let hubRef: Hub | null = null;
  const space = new SpaceMonitor(registry.storePoints, opts.reserveBytes, (sp, free) => {
    metrics.storePointFreeBytes.set({ store_point: sp.name }, free);
    // Tell every authority once when a store point crosses its reserve.
    const isLow = free <= opts.reserveBytes;
    if (isLow && !low.has(sp.id))
      for (const l of hubRef?.control ?? []) l.peer.emit("space-low", { storePointId: registry.storePointIdFor(l.ns, sp.id), freeBytes: free });
    if (isLow) low.add(sp.id);
    else low.delete(sp.id);
  });
  await space.refresh();
  space.start(10_000);
  let urls: string[] = [];
  let stopping = false;
  const hub = new Hub();
  hubRef = hub;
  const ctx: NodeContext = {
    opts,
    db,
    registry,
    hub,
    space,
    metrics,
    clock: opts.clock,
    logger: opts.logger,
    crash,
    tls: loadTls(opts.dataDir),
    serverGuid,
    name: db.getSetting<string>("name") ?? hostname(),
    urls: () => urls,
    get stopping() {
      return stopping;
    },
  };
  const server = new NodeServer(ctx);
  let port: number;
  try {
    port = await server.listen(opts.host, opts.port);
  } catch (err) {
    space.stop();
    db.close();
    const code = (err as NodeJS.ErrnoException).code;
    throw new CairnError("UNAVAILABLE", `cannot listen on ${opts.host}:${opts.port} (${code ?? "error"})`, { cause: err, details: { errno: code } });
  }
  const shownHost = opts.host === "0.0.0.0" || opts.host === "::" ? hostname() : opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  urls = [...(opts.urls ?? db.getSetting<string[]>("urls") ?? [`wss://${shownHost}:${port}`])];
  db.setSetting("servedUrls", urls);
  const metricsServer = opts.metrics ? await listenMetrics(ctx, opts.metrics.host, opts.metrics.port) : null;
  const stopSchedule = scheduleMaintenance(ctx);
  // Every namespace (own and tenants), for the operator's `maintain` / `verify`.
  const maintainAll = async (o: { archiveGuid: string | null; verify: boolean; verifyOnly?: boolean }): Promise<MaintainResult> => {
    const total = emptyMaintainResult();
    let found = false;
    for (const ns of [OWN_NS, ...db.tenants().map((t) => t.id)]) {
      if (o.archiveGuid !== null && !db.archive(ns, o.archiveGuid)) continue;
      found = true;
      addMaintainResult(total, await runMaintenance(ctx, ns, o.archiveGuid, { verify: o.verify || o.verifyOnly === true, verifyOnly: o.verifyOnly === true }));
    }
    if (o.archiveGuid !== null && !found) throw new CairnError("NOT_FOUND", `this node holds no archive ${o.archiveGuid}`);
    return total;
  };
  const adminServer = opts.adminSocket ? await listenAdminSocket(opts.dataDir, { maintainAll }) : null;
  const own = db.getSetting<OwnAuthority | null>("authority") ?? null;
  let dialler: AuthorityDialler | null = null;
  if (own && opts.connectAuthority) {
    dialler = new AuthorityDialler(ctx, own, readFileSync(join(opts.dataDir, "node-secret"), "utf8").trim());
    dialler.start();
  }
  // The line that tells a supervisor or a script the chosen port: printed at any level but silent.
  const announce = opts.logger.level === "silent" || opts.logger.isLevelEnabled("info") ? opts.logger : opts.logger.child({}, { level: "info" });
  announce.info({ port, url: urls[0], serverGuid }, "listening");

  let closing: Promise<void> | null = null;
  const close = async () => {
    stopping = true;
    stopSchedule();
    space.stop();
    const accepting = server.stopAccepting();
    await Promise.all([...ctx.hub.data].map((c) => c.shutdown().catch(() => c.close(1001, "server shutting down"))));
    for (const l of [...ctx.hub.control]) l.close(1001, "node shutting down");
    await dialler?.stop();
    await Promise.race([accepting, new Promise((r) => setTimeout(r, 2000).unref())]);
    server.terminateAll();
    await new Promise<void>((r) => (metricsServer ? metricsServer.close(() => r()) : r()));
    await new Promise<void>((r) => (adminServer ? adminServer.close(() => r()) : r()));
    await registry.closeAll();
    db.close();
    opts.logger.info("stopped");
  };
  const metricsAddr = metricsServer?.address();
  return {
    port,
    url: `wss://${opts.host === "0.0.0.0" ? "127.0.0.1" : opts.host === "::" ? "[::1]" : opts.host.includes(":") ? `[${opts.host}]` : opts.host}:${port}`,
    urls,
    fingerprint: ctx.tls.fingerprint,
    serverGuid,
    metricsUrl: metricsAddr && typeof metricsAddr === "object" ? `http://${opts.metrics?.host}:${metricsAddr.port}/metrics` : null,
    maintain: (o = {}) =>
      runMaintenance(ctx, o.ns ?? OWN_NS, o.archiveGuid ?? null, {
        verify: o.verify ?? false,
        ...(o.verifyOnly ? { verifyOnly: true } : {}),
        ...(o.afterMark ? { afterMark: o.afterMark } : {}),
      }),
    maintainAll,
    async report() {
      for (const l of [...ctx.hub.control]) await l.peer.call("report-archives", { archives: await reportsFor(ctx, l.ns) });
    },
    close() {
      closing ??= close();
      return closing;
    },
  };
}

/** A separate plain-HTTP listener for /metrics on an operator-chosen (admin) address. */
function listenMetrics(ctx: NodeContext, host: string, port: number): Promise<HttpServer> {
  const s = createHttpServer((req, res) => {
    if ((req.url ?? "").split("?")[0] !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    ctx.metrics.text().then(
      (t) => res.writeHead(200, { "content-type": ctx.metrics.registry.contentType }).end(t),
      () => res.writeHead(500).end(),
    );
  });
  return new Promise((resolveP, reject) => {
    s.once("error", reject);
    s.listen(port, host, () => resolveP(s));
  });
}
