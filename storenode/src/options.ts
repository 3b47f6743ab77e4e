/**
 * Options of `startStorenode` and every default with its reason, in one place.
 */
import { AUTH_DEADLINE_MS, type Clock, HEARTBEAT_INTERVAL_MS, LEASE_TTL_MS, type PublicKeyInfo, systemClock } from "@cairn/protocol";
import pino, { type Logger } from "pino";
import type { StoreFs } from "./blockstore/store-fs.js";

/** Options of `startStorenode` (all but `dataDir` optional). */
export interface StartStorenodeOptions {
  /** Data directory made by `initStorenode`. */
  dataDir: string;
  /** Address to listen on (default all interfaces). */
  host?: string;
  /** Port (default 443; 0 picks a free one). */
  port?: number;
  /** URLs to announce (default: those given at init, else `wss://<host>:<port>`). */
  urls?: readonly string[];
  clock?: Clock;
  logger?: Logger;
  /** The value of FAULT_CRASH_AT (`name[,hitCount]`), read by the command line. */
  crashAt?: string;
  /** File-system calls of the block stores (a failing disk in tests). */
  fs?: StoreFs;
  /** Token-signing keys added to the own namespace's trusted keys at start (standalone nodes, tests). */
  trustedAuthorityKeys?: readonly PublicKeyInfo[];
  heartbeatIntervalMs?: number;
  authDeadlineMs?: number;
  leaseTtlMs?: number;
  maxConnections?: number;
  maxConnectionsPerDevice?: number;
  /** Free bytes kept on each store point so maintenance and purge can always run. */
  reserveBytes?: number;
  /** A block unreferenced for less than this (server time since it was stored) is never collected. */
  gcGraceMs?: number;
  /** An upload session idle (and unleased) this long is ended and its protections dropped. */
  sessionMaxIdleMs?: number;
  maxBatchBytes?: number;
  /** Bytes a connection may have accepted but not yet made durable before its socket is paused. */
  maxInflightBytesPerConnection?: number;
  /** Cron expression for maintenance (prune, GC, compaction); null disables the schedule. */
  maintenanceSchedule?: string | null;
  /** Cron expression for maintenance with verification; null disables it. */
  verifySchedule?: string | null;
  /** How often each control link gets `report-archives`. */
  reportIntervalMs?: number;
  /** Serve /metrics on a separate listener instead of the main one. */
  metrics?: { host: string; port: number };
  /** Dial the own authority when enrolled (default true). */
  connectAuthority?: boolean;
  maxOpenArchives?: number;
  /** Serve the operator's admin API on `<data>/admin.sock` (default true). */
  adminSocket?: boolean;
}

/** Options with every default applied. */
export type ResolvedOptions = Required<Omit<StartStorenodeOptions, "urls" | "crashAt" | "fs" | "trustedAuthorityKeys" | "metrics" | "logger">> &
  Pick<StartStorenodeOptions, "urls" | "crashAt" | "fs" | "trustedAuthorityKeys" | "metrics"> & { logger: Logger };

const MIB = 1024 * 1024;

/** Applies the defaults. */
export function resolveOptions(o: StartStorenodeOptions): ResolvedOptions {
  return {
    ...o,
    dataDir: o.dataDir,
    // Storage nodes listen on 443 (DECISIONS.md "Ports"); tests pass 0.
    host: o.host ?? "0.0.0.0",
    port: o.port ?? 443,
    clock: o.clock ?? systemClock,
    logger: (o.logger ?? pino({ level: "silent" })).child({ component: "storenode" }),
    // docs/architecture.md: ping every 15 s, unauthenticated sockets closed after 10 s.
    heartbeatIntervalMs: o.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS,
    authDeadlineMs: o.authDeadlineMs ?? AUTH_DEADLINE_MS,
    // protocol limits.ts: a writer lease lasts 60 s of server time unless renewed.
    leaseTtlMs: o.leaseTtlMs ?? LEASE_TTL_MS,
    // T40: caps overall and per device token; a fleet node serves thousands of devices.
    maxConnections: o.maxConnections ?? 4096,
    maxConnectionsPerDevice: o.maxConnectionsPerDevice ?? 8,
    // Enough for a compaction pass over one 64 MiB pack and the SQLite journals, with margin.
    reserveBytes: o.reserveBytes ?? 256 * MIB,
    // RELIABILITY.md T13: "a grace period (e.g. 24 h since last reference)".
    gcGraceMs: o.gcGraceMs ?? 24 * 60 * 60 * 1000,
    // A laptop that was away for a week may still resume its session.
    sessionMaxIdleMs: o.sessionMaxIdleMs ?? 7 * 24 * 60 * 60 * 1000,
    // 32 MiB batches: at 250 MB/s about eight groups of fsyncs per second.
    maxBatchBytes: o.maxBatchBytes ?? 32 * MIB,
    // Above the agent's 48 MiB window, so a well-behaved agent is never paused.
    maxInflightBytesPerConnection: o.maxInflightBytesPerConnection ?? 64 * MIB,
    // Daily maintenance at 03:00, weekly verification on Sunday at 04:00 (node time).
    maintenanceSchedule: o.maintenanceSchedule === undefined ? "0 3 * * *" : o.maintenanceSchedule,
    verifySchedule: o.verifySchedule === undefined ? "0 4 * * 0" : o.verifySchedule,
    // docs/architecture.md: figures every minute and after each commit.
    reportIntervalMs: o.reportIntervalMs ?? 60_000,
    connectAuthority: o.connectAuthority ?? true,
    maxOpenArchives: o.maxOpenArchives ?? 256,
    // `cairn storenode maintain|verify` reach a running node through it; mode 0600.
    adminSocket: o.adminSocket ?? true,
  };
}
