/**
 * The agent daemon's health and Prometheus metrics (prom-client, one registry per daemon so
 * several can run in one process in tests). Names follow the storage node's: `agent_` prefix,
 * base units, `_total` counters. The daemon listens on no TCP port by default: these answer on
 * the local API socket (`GET /healthz`, `/readyz`, `/metrics`) and, when `metrics.address` is
 * set, on a plain-HTTP listener at that address.
 */
import { createServer, type Server } from "node:http";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { AGENT_VERSION } from "../version.js";

/** What readiness is computed from (the daemon supplies it). */
export interface AgentReadinessSource {
  registered(): boolean;
  authorityConnected(): boolean;
  /** The earliest storage-token expiry (ms), null without archives. */
  tokenExpiry(): number | null;
  now(): number;
}

/** The /readyz document: ready when registered and no storage token has expired. */
export interface AgentReadiness {
  status: "ok" | "fail";
  checks: {
    registered: boolean;
    authority: "connected" | "away";
    tokens: { status: "ok" | "fail" | "none"; expiresAt: string | null };
  };
}

/** The daemon's metrics. */
export class AgentMetrics {
  readonly registry = new Registry();
  readonly backupsRunning = new Gauge({ name: "agent_backups_running", help: "Backups in progress (0 or 1)", registers: [this.registry] });
  readonly backupCpuPercent = new Gauge({
    name: "agent_backup_cpu_percent",
    help: "CPU share of the backup in progress or the last one: the present or the away share of the settings, 100 for one a user waits for",
    registers: [this.registry],
  });
  readonly backups = new Counter({
    name: "agent_backups_total",
    help: "Backups run by the daemon, by result (completed, partial: some files unreadable, failed)",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  readonly backupDuration = new Histogram({
    name: "agent_backup_duration_seconds",
    help: "Duration of the daemon's backups",
    buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600],
    registers: [this.registry],
  });
  readonly bytesUploaded = new Counter({ name: "agent_bytes_uploaded_total", help: "Sealed bytes acknowledged by storage nodes", registers: [this.registry] });
  readonly filesChanged = new Counter({ name: "agent_files_backed_up_total", help: "Files written into committed versions", registers: [this.registry] });
  readonly restoresRunning = new Gauge({ name: "agent_restores_running", help: "Push restores in progress", registers: [this.registry] });
  readonly restores = new Counter({
    name: "agent_restores_total",
    help: "Push restores ordered by the authority, by result",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  readonly authorityConnected = new Gauge({
    name: "agent_authority_connected",
    help: "1 while the control link to the authority is up",
    registers: [this.registry],
  });
  readonly authorityReconnects = new Counter({
    name: "agent_authority_connects_total",
    help: "Control links opened to the authority",
    registers: [this.registry],
  });
  readonly lastCompletedBackup = new Gauge({
    name: "agent_last_completed_backup_timestamp_seconds",
    help: "When the last complete backup committed (Unix time)",
    registers: [this.registry],
  });
  readonly tokenExpiry = new Gauge({
    name: "agent_storage_token_expiry_timestamp_seconds",
    help: "The earliest expiry of the stored storage tokens (Unix time): backups stop after it unless the authority renews them",
    registers: [this.registry],
  });
  readonly pendingChanges = new Gauge({ name: "agent_pending_changes", help: "Watched paths changed and not yet backed up", registers: [this.registry] });
  readonly upgrades = new Counter({
    name: "agent_upgrades_total",
    help: "Upgrade offers by outcome (installed, refused, failed, ignored)",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "agent_" });
    const info = new Gauge({ name: "agent_info", help: "The running agent's version", labelNames: ["version"] as const, registers: [this.registry] });
    info.set({ version: AGENT_VERSION }, 1);
    this.authorityConnected.set(0);
    this.backupsRunning.set(0);
    this.restoresRunning.set(0);
  }

  private readonly scrapeHooks: (() => void)[] = [];

  /** Runs `fn` before each scrape (gauges read from the data directory). */
  onScrape(fn: () => void): void {
    this.scrapeHooks.push(fn);
  }

  /** The text exposition. */
  text(): Promise<string> {
    for (const fn of this.scrapeHooks) fn();
    return this.registry.metrics();
  }
}

/** Evaluates readiness. */
export function agentReadiness(s: AgentReadinessSource): AgentReadiness {
  const exp = s.tokenExpiry();
  const tokens = exp === null ? ("none" as const) : exp > s.now() ? ("ok" as const) : ("fail" as const);
  const registered = s.registered();
  return {
    status: registered && tokens !== "fail" ? "ok" : "fail",
    checks: {
      registered,
      authority: s.authorityConnected() ? "connected" : "away",
      tokens: { status: tokens, expiresAt: exp === null ? null : new Date(exp).toISOString() },
    },
  };
}

/** A plain-HTTP listener for /metrics, /healthz and /readyz at an operator-chosen address. */
export function listenAgentMetrics(m: AgentMetrics, ready: () => AgentReadiness, host: string, port: number): Promise<Server> {
  const s = createServer((req, res) => {
    const path = (req.url ?? "").split("?")[0];
    const json = (status: number, body: unknown) => res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    if (req.method !== "GET") return json(405, { error: { code: "BAD_REQUEST", message: "only GET" } });
    if (path === "/healthz") return json(200, { status: "ok", version: AGENT_VERSION });
    if (path === "/readyz") {
      const r = ready();
      return json(r.status === "ok" ? 200 : 503, r);
    }
    if (path === "/metrics") {
      m.text().then(
        (t) => res.writeHead(200, { "content-type": m.registry.contentType }).end(t),
        () => res.writeHead(500).end(),
      );
      return;
    }
    json(404, { error: { code: "NOT_FOUND", message: "not found" } });
  });
  return new Promise((resolve, reject) => {
    s.once("error", reject);
    s.listen(port, host, () => {
      s.off("error", reject);
      resolve(s);
    });
  });
}
