/**
 * @packageDocumentation
 * `@cairn/agent`: the device agent as a library (the CLI in `cli.ts` is a thin layer over it).
 *
 * - {@link registerAgent}: register with an authority; credentials and keys go to the data dir.
 * - {@link startAgent}: the daemon (watcher, schedule, authority link, restore orders).
 * - {@link runBackup} / {@link runRestore}: one backup or restore now, with no daemon.
 * - {@link agentStatus}, {@link listVersions}, {@link changeSelection}, {@link listSelection}.
 * - {@link runArchiveBackup} / {@link runArchiveRestore}: the engines, given an archive endpoint,
 *   a storage token and the archive key (no authority needed).
 *
 * docs/agent.md describes the pipeline, the cache schema, restore safety and the CLI JSON shapes.
 */
export {
  type AgentStatus,
  agentStatus,
  changeSelection,
  type DirectArchive,
  listSelection,
  listVersions,
  type RunBackupOptions,
  type RunBackupResult,
  type RunRestoreOptions,
  runBackup,
  runRestore,
} from "./agent-api.js";
export { keyPolicyState, raiseKeyPolicy, requiredKeyPolicy } from "./auth/key-policy.js";
export { type RegisterOptions, type RegisterResult, registerAgent, syncConfig } from "./auth/registration.js";
export { type AgentHandle, type StartAgentOptions, startAgent } from "./daemon/agent-daemon.js";
export { deauthorizeLocal } from "./daemon/deauthorize.js";
export { callDaemon } from "./daemon/local-api.js";
export { inRunWindow, type RunWindow } from "./daemon/run-window.js";
export { type ArchiveEndpoint, DataSession } from "./net/data-session.js";
export { RateLimiter } from "./net/rate-limiter.js";
export type { ProgressEvent, ProgressSink } from "./progress.js";
export { type ArchiveRestoreOptions, type ArchiveRestoreResult, archiveFileHistory, runArchiveRestore } from "./restore/run-restore.js";
export { addExcludePatterns, addToSelection, effectiveSelection, removeFromSelection, Selection, type SelectionSpec } from "./selection.js";
export { type BackupRunOptions, type BackupSummary, runArchiveBackup } from "./upload/backup-run.js";
export { AGENT_VERSION } from "./version.js";
export { AGENT_CONFIG, type AgentConfig, resolveAgentConfig } from "./config/agent-config.js";
export { AgentMetrics } from "./daemon/metrics.js";
export { type UpgradeManagerOptions, type UpgradeOfferEvent, UpgradeManager } from "./upgrade/upgrade-manager.js";
export { readPinnedKey } from "./upgrade/package-key.js";
