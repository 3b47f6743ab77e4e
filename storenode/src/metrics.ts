/**
 * Prometheus metrics (prom-client), one registry per node instance so that several nodes can run
 * in one process (tests). Names follow ECOSYSTEM.md: `storenode_` prefix, base units, `_total`
 * counters.
 */
import { Counter, Gauge, Registry } from "prom-client";

/** The node's metrics. */
export class NodeMetrics {
  readonly registry = new Registry();
  readonly bytesReceived = new Counter({
    name: "storenode_bytes_received_total",
    help: "Bytes of sealed blocks received from agents",
    registers: [this.registry],
  });
  readonly blocksStored = new Counter({
    name: "storenode_blocks_stored_total",
    help: "Blocks made durable (new, not deduplicated)",
    registers: [this.registry],
  });
  readonly activeConnections = new Gauge({
    name: "storenode_active_connections",
    help: "Open WebSocket connections",
    labelNames: ["channel"] as const,
    registers: [this.registry],
  });
  readonly storePointFreeBytes = new Gauge({
    name: "storenode_store_point_free_bytes",
    help: "Free bytes of each store point's file system",
    labelNames: ["store_point"] as const,
    registers: [this.registry],
  });
  readonly damagedBlocks = new Counter({ name: "storenode_damaged_blocks_total", help: "Blocks that failed verification", registers: [this.registry] });

  constructor() {
    this.activeConnections.set({ channel: "data" }, 0);
    this.activeConnections.set({ channel: "tenant" }, 0);
    this.activeConnections.set({ channel: "authority" }, 0);
  }

  /** The text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
