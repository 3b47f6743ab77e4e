/**
 * One backup at a time per data directory, and one daemon: `run.lock` and `daemon.lock` hold the
 * owner's pid, created with O_EXCL. Restores take neither: they only read. A lock whose pid no
 * longer runs is stale and taken over. Another live holder means LOCKED (exit 11).
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { CairnError } from "@cairn/protocol";

const held = new Set<string>();

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes the run lock of a data directory; returns the release function. */
export function acquireRunLock(dataDir: string): () => void {
  return acquirePidLock(join(dataDir, "run.lock"), "another backup is running on this device");
}

/**
 * Takes the daemon lock of a data directory (`daemon.lock`): one `cairn agent serve` per data
 * directory for its whole life, so that a second one exits 11 instead of taking the first one's
 * socket and running the same schedule against the same archives.
 */
export function acquireDaemonLock(dataDir: string): () => void {
  return acquirePidLock(join(dataDir, "daemon.lock"), "another agent daemon is serving this data folder");
}

/**
 * Takes the lock file `p` (O_EXCL, holding this pid); returns the release function. Also the
 * command line's lock of a daemon's data folder (`cairn storenode serve`, `cairn authority
 * serve`: `@cairn/agent/lock`), so that there is one implementation.
 */
export function acquirePidLock(p: string, message: string): () => void {
  if (held.has(p)) throw new CairnError("LOCKED", `${message} (in this process)`);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(p, "wx", 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      held.add(p);
      return () => {
        held.delete(p);
        rmSync(p, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      let pid = 0;
      try {
        pid = Number.parseInt(readFileSync(p, "utf8").trim(), 10);
      } catch {
        pid = 0;
      }
      if (pid !== process.pid && alive(pid)) throw new CairnError("LOCKED", `${message} (pid ${pid})`, { details: { pid } });
      if (pid === process.pid) throw new CairnError("LOCKED", `${message} (in this process)`);
      rmSync(p, { force: true });
    }
  }
  throw new CairnError("LOCKED", "could not take the run lock");
}
