/**
 * @packageDocumentation
 * `@cairn/authority`: the administrators' server. Organizations in a tree, users and roles,
 * inherited settings, the platform REST API (API.md, py42-compatible) and Cairn's own `/api/v1`
 * routes, over one HTTPS listener on which the device and storage parts add their WebSocket
 * control channels.
 *
 * Vocabulary: an **org** is a node of the tree (the top-level org has no parent); a **layer**
 * is what one org stores of its settings; **effective** settings are the layers merged top-down
 * (`settings/resolve.ts`); a **principal** is an authenticated caller, and `authorize()`
 * (`auth/access.ts`) is the one place that decides what it may see and change.
 *
 * Layout of a data directory (`init` makes it, `serve` uses it):
 * - `authority.db` (+ `-wal`, `-shm`): SQLite, WAL, synchronous=FULL;
 * - `keys/signing-keys.json`, `keys/escrow.key` (0600): token-signing keys and the escrow KEK,
 *   never in SQLite; `keys/tls.key` (0600) and `keys/tls.crt`: the certificate peers pin.
 *
 * Not guaranteed: reads are not snapshot-consistent across two calls; a crash loses nothing
 * committed, and nothing of a transaction in flight.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { CairnError, certFingerprint, type Clock, systemClock } from "@cairn/protocol";
import type { FastifyInstance } from "fastify";
import { type Logger, pino } from "pino";
import type { LoginThrottleOptions } from "./auth/login-throttle.js";
import type { Argon2Params } from "./auth/passwords.js";
import { bootstrapAuthority, META, newAuthorityGuid } from "./bootstrap.js";
import { type AuthorityContext, createContext } from "./context.js";
import { sealedStringCodec } from "./auth/secret-box.js";
import { openSqliteStore } from "./db/sqlite-store.js";
import type { Faults } from "./faults.js";
import { buildHttpServer, CORE_PLUGINS, type HttpPlugin, type ServedRoute } from "./http/server.js";
import { generateAuthorityKeys, KEY_FILES, keysDir, loadAuthorityKeys, saveAuthorityKeys, writeSecretFile } from "./keys/authority-keys.js";
import { createCertificate } from "./keys/tls.js";
import { type OperationsOptions, operationsPlugin } from "./operations-plugins.js";
import { agentUpgradePlugin } from "./ops/agent-upgrades.js";
import { healthPlugin, listenMetrics } from "./ops/health.js";

export type { Principal, Target } from "./auth/access.js";
export { authorize, canSee, requirePermission, scopeOf, SYSTEM_PRINCIPAL } from "./auth/access.js";
export type { AuthorityContext } from "./context.js";
export type { AuthorityStore, StoreReader, StoreWriter } from "./db/store.js";
export type { AuthorityEventMap } from "./events.js";
export type { ApiCall, ApiRouter, RouteDef } from "./http/api-router.js";
export { NO_CONTENT, SENT } from "./http/api-router.js";
export { CORE_PLUGINS, type HttpPlugin } from "./http/server.js";
export { type ResolvedSettings, resolveSettings, type SettingsLayer } from "./settings/resolve.js";
export { toDeviceSettings } from "./settings/device-settings.js";
export { LOG_REDACT_PATHS } from "./log.js";
export { createEnrollKey, type CreateEnrollKeyOptions, type CreateEnrollKeyResult } from "./storage/enroll-keys.js";
export type { DeviceStorageServices } from "./devices-storage.js";
export type { AgentLink, AgentRegistry, RestoreStatusReport } from "./ws/agent-registry.js";
export type { NodeLink, NodeRegistry } from "./ws/node-registry.js";
export { type Operations, type OperationsOptions, operationsOf } from "./operations-plugins.js";
export { AUTHORITY_SERVE_CONFIG } from "./serve-config.js";
export { type AgentPackage, addAgentPackage, listAgentPackages, packagePublicKey, removeAgentPackage } from "./ops/agent-packages.js";
export { agentUpgradesOf } from "./ops/agent-upgrades.js";
export { authorityMetricsOf, readiness } from "./ops/health.js";
export { type BackupAuthorityOptions, backupAuthority, type RestoreAuthorityOptions, restoreAuthority } from "./ops/authority-backup.js";

/** The database file in a data directory. */
export const DB_FILE = "authority.db";
/** The platform's port (seed 000: HTTPS on 4285). */
export const DEFAULT_PORT = 4285;

/** Options of {@link initAuthority}. */
export interface InitAuthorityOptions {
  dataDir: string;
  /** The primary administrator (default `admin`). */
  adminUsername?: string;
  /** Generated (and returned once) when absent. */
  adminPassword?: string;
  /** The primary administrator's email address (default: the username when it is one); the default report recipient. */
  adminEmail?: string;
  /** The top-level org's name (default `Cairn`). */
  orgName?: string;
  /** Host names the certificate is valid for, besides the loopback names. */
  hostnames?: readonly string[];
  clock?: Clock;
  logger?: Logger;
  /** argon2id cost (tests only). */
  argon2?: Argon2Params;
}

/** What {@link initAuthority} made. */
export interface InitAuthorityResult {
  orgUid: string;
  registrationKey: string;
  adminUsername: string;
  /** Only when it was generated: shown once, never stored in clear. */
  adminPassword?: string;
  certFingerprint: string;
  authorityGuid: string;
}

/** The orgs' registration keys are sealed in the database under the escrow KEK (T26, §6.10). */
const registrationKeyCodec = (kek: Buffer) => sealedStringCodec(kek, "registration-key");

/** Creates a new authority in `dataDir`; refuses one that is already initialized (CONFLICT). */
export async function initAuthority(opts: InitAuthorityOptions): Promise<InitAuthorityResult> {
  const clock = opts.clock ?? systemClock;
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  chmodSync(opts.dataDir, 0o700);
  const dbFile = join(opts.dataDir, DB_FILE);
  if (existsSync(dbFile)) {
    const probe = openSqliteStore({ file: dbFile, clock });
    const done = (await probe.getTopLevelOrg()) !== undefined;
    await probe.close();
    if (done) throw new CairnError("CONFLICT", `${opts.dataDir} already holds an initialized authority`);
  }
  const fresh = !existsSync(dbFile) && !existsSync(join(opts.dataDir, "keys"));
  let closed = false;
  const keys = generateAuthorityKeys();
  saveAuthorityKeys(opts.dataDir, { signing: [keys.signing], escrowKek: keys.escrowKek });
  const tls = await createCertificate(opts.hostnames ?? [], clock);
  const dir = keysDir(opts.dataDir);
  writeSecretFile(join(dir, KEY_FILES.tlsKey), tls.key);
  writeSecretFile(join(dir, KEY_FILES.tlsCert), tls.cert);
  chmodSync(join(dir, KEY_FILES.tlsCert), 0o644);
  const generated = opts.adminPassword === undefined ? randomBytes(18).toString("base64url") : undefined;
  const store = openSqliteStore({ file: dbFile, clock, registrationKeys: registrationKeyCodec(keys.escrowKek) });
  chmodSync(dbFile, 0o600);
  try {
    const authorityGuid = newAuthorityGuid();
    const ctx = createContext({
      store,
      clock,
      keys,
      authorityGuid,
      log: opts.logger ?? pino({ level: "silent" }),
      ...(opts.argon2 ? { argon2: opts.argon2 } : {}),
    });
    const adminUsername = opts.adminUsername ?? "admin";
    const { org } = await bootstrapAuthority(ctx, {
      orgName: opts.orgName ?? "Cairn",
      adminUsername,
      adminPassword: opts.adminPassword ?? (generated as string),
      ...(opts.adminEmail !== undefined ? { adminEmail: opts.adminEmail } : {}),
    });
    return {
      orgUid: org.orgUid,
      registrationKey: org.registrationKey,
      adminUsername,
      ...(generated !== undefined ? { adminPassword: generated } : {}),
      certFingerprint: tls.fingerprint,
      authorityGuid,
    };
  } catch (err) {
    // a refused first administrator (a bad email, a short password): nothing is left behind, so
    // the folder is as it was and `init` can simply be run again
    await store.close();
    closed = true;
    if (fresh) for (const f of [dbFile, `${dbFile}-wal`, `${dbFile}-shm`, dir]) rmSync(f, { recursive: true, force: true });
    throw err;
  } finally {
    if (!closed) await store.close();
  }
}

/** Options of {@link startAuthority}. */
export interface StartAuthorityOptions {
  dataDir: string;
  /** Address to bind (default 127.0.0.1; the command line's default is 0.0.0.0). */
  host?: string;
  /** Port (default 4285; 0 picks a free one). */
  port?: number;
  clock?: Clock;
  logger?: Logger;
  /** Route modules added after the core's (devices, storage, console…). */
  plugins?: readonly HttpPlugin[];
  /** Fault injection (tests: T04 crash points). */
  faults?: Faults;
  /** argon2id cost (tests only). */
  argon2?: Argon2Params;
  loginThrottle?: LoginThrottleOptions;
  /** Caps the database size in pages (T06; an operator's guard). */
  maxDbPages?: number;
  /** Cold storage, restores, legal hold and reports: schedules, SMTP, templates (issue 6). */
  operations?: OperationsOptions;
  /** A separate plain-HTTP listener for /metrics, /healthz and /readyz (then /metrics leaves the HTTPS port). */
  metrics?: { host: string; port: number };
  /** /readyz fails when the data directory's file system has less free space (default 64 MiB). */
  reserveBytes?: number;
}

/** A running authority. */
export interface RunningAuthority {
  port: number;
  /** `https://host:port` as bound. */
  url: string;
  /** SHA-256 fingerprint of the certificate (`AB:CD:…`). */
  fingerprint: string;
  /** The certificate (PEM), for clients that trust it directly. */
  certPem: string;
  app: FastifyInstance;
  ctx: AuthorityContext;
  /** Every route the server answers (method and path as registered). */
  routes: readonly ServedRoute[];
  /** `http://host:port/metrics` of the separate metrics listener, when configured. */
  metricsUrl: string | null;
  /** Stops listening, closes sockets (WebSockets with 1001), then the database. */
  close(): Promise<void>;
}

/** Opens the data directory and serves HTTPS. */
export async function startAuthority(opts: StartAuthorityOptions): Promise<RunningAuthority> {
  const clock = opts.clock ?? systemClock;
  const log = (opts.logger ?? pino({ level: "silent" })).child({ component: "authority" });
  const dbFile = join(opts.dataDir, DB_FILE);
  if (!existsSync(dbFile)) throw new CairnError("CONFIG_INVALID", `no authority in ${opts.dataDir}: run \`cairn authority init --data ${opts.dataDir}\` first`);
  const keys = loadAuthorityKeys(opts.dataDir);
  const dir = join(opts.dataDir, "keys");
  const tls = { key: readFileSync(join(dir, KEY_FILES.tlsKey), "utf8"), cert: readFileSync(join(dir, KEY_FILES.tlsCert), "utf8") };
  const store = openSqliteStore({
    file: dbFile,
    clock,
    registrationKeys: registrationKeyCodec(keys.escrowKek),
    ...(opts.maxDbPages !== undefined ? { maxPageCount: opts.maxDbPages } : {}),
  });
  try {
    const authorityGuid = await store.getMeta(META.authorityGuid);
    if (authorityGuid === undefined) throw new CairnError("CONFIG_INVALID", `the authority in ${opts.dataDir} was never initialized`);
    const ctx = createContext({
      store,
      clock,
      keys,
      authorityGuid,
      log,
      ...(opts.faults ? { faults: opts.faults } : {}),
      ...(opts.argon2 ? { argon2: opts.argon2 } : {}),
      ...(opts.loginThrottle ? { loginThrottle: opts.loginThrottle } : {}),
    });
    const health = { dataDir: opts.dataDir, reserveBytes: opts.reserveBytes ?? 64 * 1024 * 1024, metricsOnHttps: opts.metrics === undefined };
    const publicUrl = opts.operations?.restores?.publicUrl;
    const plugins = [
      healthPlugin(health),
      ...CORE_PLUGINS,
      operationsPlugin(opts.operations),
      agentUpgradePlugin({ dataDir: opts.dataDir, ...(publicUrl !== undefined ? { publicUrl } : {}) }),
      ...(opts.plugins ?? []),
    ];
    const { app, served } = await buildHttpServer({ ctx, tls, logger: log, plugins });
    const host = opts.host ?? "127.0.0.1";
    await app.listen({ host, port: opts.port ?? DEFAULT_PORT });
    const address = app.server.address();
    const port = typeof address === "object" && address !== null ? address.port : (opts.port ?? DEFAULT_PORT);
    const metricsServer = opts.metrics
      ? await listenMetrics(ctx, health, opts.metrics.host, opts.metrics.port).catch(async (err: unknown) => {
          await app.close();
          throw new CairnError("UNAVAILABLE", `cannot listen for metrics on ${opts.metrics?.host}:${opts.metrics?.port}: ${(err as Error).message}`, {
            cause: err,
          });
        })
      : null;
    const metricsAddress = metricsServer?.address();
    const metricsPort = typeof metricsAddress === "object" && metricsAddress !== null ? metricsAddress.port : null;
    // The line that tells a supervisor or a script the chosen port: printed at any level but silent.
    const announce = log.level === "silent" || log.isLevelEnabled("info") ? log : log.child({}, { level: "info" });
    announce.info({ port, host, ...(metricsPort !== null ? { metricsPort } : {}) }, "listening");
    const urlHost = host.includes(":") ? `[${host}]` : host === "0.0.0.0" ? "127.0.0.1" : host;
    let closed = false;
    return {
      port,
      url: `https://${urlHost}:${port}`,
      fingerprint: certFingerprint(tls.cert),
      certPem: tls.cert,
      app,
      ctx,
      routes: served,
      metricsUrl:
        metricsPort !== null ? `http://${opts.metrics?.host.includes(":") ? `[${opts.metrics.host}]` : opts.metrics?.host}:${metricsPort}/metrics` : null,
      async close() {
        if (closed) return;
        closed = true;
        await new Promise<void>((r) => (metricsServer ? metricsServer.close(() => r()) : r()));
        await app.close();
        await store.close();
        log.info("stopped");
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}
