/**
 * Everything the connection handlers, control handlers and maintenance share: the composition
 * root (`startStorenode`) builds one.
 */
import type { Clock } from "@cairn/protocol";
import type { Logger } from "pino";
import type { ArchiveRegistry } from "./archive/registry.js";
import type { CrashPoint } from "./crash.js";
import type { Hub } from "./hub.js";
import type { NodeMetrics } from "./metrics.js";
import type { NodeDb } from "./node-db.js";
import type { ResolvedOptions } from "./options.js";
import type { SpaceMonitor } from "./space.js";
import type { NodeTls } from "./tls.js";

/** Shared state of a running node. */
export interface NodeContext {
  readonly opts: ResolvedOptions;
  readonly db: NodeDb;
  readonly registry: ArchiveRegistry;
  readonly hub: Hub;
  readonly space: SpaceMonitor;
  readonly metrics: NodeMetrics;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly crash: CrashPoint;
  readonly tls: NodeTls;
  readonly serverGuid: string;
  readonly name: string;
  /** URLs agents and tenants reach this node at. */
  urls(): string[];
  /** True once shutdown began: no new work is accepted. */
  readonly stopping: boolean;
}
