/**
 * The authority's Prometheus metrics (prom-client), one registry per running authority so that
 * several can run in one process (tests). Names follow ECOSYSTEM.md and the storage node:
 * `authority_` prefix, base units, `_total` counters. Gauges of live state (connections,
 * backups running, restore jobs) are read from the registries when scraped.
 */
import type { Socket } from "node:net";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { AuthorityContext } from "../context.js";
import type { Operations } from "../operations-plugins.js";

/** The metrics of one authority. */
export class AuthorityMetrics {
  readonly registry = new Registry();
  private closedIn = 0;
  private closedOut = 0;
  private readonly sockets = new Set<Socket>();
  private operations: (() => Operations | undefined) | null = null;

  readonly requestDuration = new Histogram({
    name: "authority_http_request_duration_seconds",
    help: "HTTPS request latencies by route pattern, method and status class",
    labelNames: ["route", "method", "status"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly backupsCompleted = new Counter({
    name: "authority_backups_completed_total",
    help: "Backup versions committed on storage nodes (their archive-changed reports)",
    registers: [this.registry],
  });
  readonly purgeRuns = new Counter({
    name: "authority_purge_runs_total",
    help: "Cold-storage purge runs (scheduled and on demand)",
    labelNames: ["trigger"] as const,
    registers: [this.registry],
  });
  readonly archivesPurged = new Counter({
    name: "authority_archives_purged_total",
    help: "Archives purged from cold storage (keys shredded)",
    registers: [this.registry],
  });
  readonly upgradesOffered = new Counter({
    name: "authority_agent_upgrades_offered_total",
    help: "upgrade-available events sent to connected agents",
    registers: [this.registry],
  });

  constructor(ctx: AuthorityContext) {
    collectDefaultMetrics({ register: this.registry, prefix: "authority_" });
    const self = this;
    new Gauge({
      name: "authority_connections",
      help: "Live control connections: agents (devices with a link) and storage nodes",
      labelNames: ["peer"] as const,
      registers: [this.registry],
      collect() {
        this.set({ peer: "agent" }, ctx.agents.connectedDeviceIds().length);
        this.set({ peer: "node" }, ctx.nodes.all().length);
      },
    });
    new Gauge({
      name: "authority_backups_running",
      help: "Connected devices that report a backup in progress",
      registers: [this.registry],
      collect() {
        this.set(ctx.agents.connectedDeviceIds().filter((id) => ctx.agents.activityOf(id).backingUp).length);
      },
    });
    new Gauge({
      name: "authority_restores_running_on_agents",
      help: "Connected devices that report a restore in progress",
      registers: [this.registry],
      collect() {
        this.set(ctx.agents.connectedDeviceIds().filter((id) => ctx.agents.activityOf(id).restoring).length);
      },
    });
    new Gauge({
      name: "authority_restore_jobs",
      help: "Restore jobs (web, server, push) the authority holds, by kind and state",
      labelNames: ["kind", "state"] as const,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const j of self.operations?.()?.restoreJobs.list() ?? []) this.inc({ kind: j.kind, state: j.state });
      },
    });
    new Counter({
      name: "authority_bytes_received_total",
      help: "Bytes received on the HTTPS listener (TLS included)",
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(self.bytes().received);
      },
    });
    new Counter({
      name: "authority_bytes_sent_total",
      help: "Bytes sent on the HTTPS listener (TLS included)",
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(self.bytes().sent);
      },
    });
    ctx.events.on("backup-committed", () => this.backupsCompleted.inc());
    ctx.events.on("purge-run", (r) => {
      this.purgeRuns.inc({ trigger: r.trigger });
      this.archivesPurged.inc(r.purged);
    });
  }

  /** Counts the bytes of a raw (pre-TLS) socket of the listener. */
  track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once("close", () => {
      this.closedIn += socket.bytesRead;
      this.closedOut += socket.bytesWritten;
      this.sockets.delete(socket);
    });
  }

  /** Where restore jobs are read from (the operations plugin, once registered). */
  setOperations(fn: () => Operations | undefined): void {
    this.operations = fn;
  }

  private bytes(): { received: number; sent: number } {
    let received = this.closedIn;
    let sent = this.closedOut;
    for (const s of this.sockets) {
      received += s.bytesRead;
      sent += s.bytesWritten;
    }
    return { received, sent };
  }

  /** The text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
