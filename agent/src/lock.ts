/**
 * One backup or restore at a time per data directory, and one daemon: `run.lock` and
 * `daemon.lock` hold the owner's pid (protocol's pid lock). A lock whose pid no longer runs is
 * stale and taken over. Another live holder means LOCKED (exit 11).
 */
import { join } from "node:path";
import { acquirePidLock } from "@cairn/protocol";

/** Takes the run lock of a data directory; returns the release function. */
export function acquireRunLock(dataDir: string, what = "backup"): () => void {
  return acquirePidLock(join(dataDir, "run.lock"), `another ${what} or restore is running on this device`);
}

/**
 * Takes the daemon lock of a data directory (`daemon.lock`): one `cairn agent serve` per data
 * directory for its whole life, so that a second one exits 11 instead of taking the first one's
 * socket and running the same schedule against the same archives.
 */
export function acquireDaemonLock(dataDir: string): () => void {
  return acquirePidLock(join(dataDir, "daemon.lock"), "another agent daemon is serving this data folder");
}
